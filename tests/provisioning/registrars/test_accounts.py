"""Which registrar serves a TLD, and how the provider's registrar accounts keep secrets."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client, override_settings

from accounts.models import User
from provisioning.models import RegistrarAccount
from provisioning.registrars.accounts import (
    registrar_account_for_tld,
    registrar_account_test,
    registrar_account_tlds_set,
    registrar_for_tld,
)
from provisioning.registrars.base import Contact, ErrorKind, RegistryError, UnsupportedTldError
from provisioning.registrars.epp import EppRegistrar
from provisioning.registrars.simulated import SimulatedRegistrar
from sandbox.epp.server import EppServer

pytestmark = pytest.mark.django_db


def account(name: str, **fields) -> RegistrarAccount:
    row = RegistrarAccount(name=name, module="simulated", hostname=f"{name}.test", **fields)
    row.secret = "epp-Password-123"
    row.save()
    return row


@override_settings(EPP_HOST="")
def test_no_account_means_the_simulated_registrar_outside_production() -> None:
    with registrar_for_tld("com") as registrar:
        assert isinstance(registrar, SimulatedRegistrar)
    with override_settings(REGISTRAR_SIMULATED_FALLBACK=False), pytest.raises(UnsupportedTldError):
        registrar_for_tld("com")


@override_settings(EPP_HOST="")
def test_tlds_route_to_their_account_and_the_default_takes_the_rest() -> None:
    italy = account("italy")
    assert registrar_account_tlds_set(account=italy, tlds=["IT", ".eu", "рф"]) == [
        "eu",
        "it",
        "xn--p1ai",
    ]
    assert registrar_account_for_tld(".it") == italy
    assert registrar_account_for_tld("рф") == italy
    # Accounts exist now: a TLD none lists is not sold, not sent to the simulated registry.
    with pytest.raises(UnsupportedTldError) as unsupported:
        registrar_for_tld("com")
    assert unsupported.value.kind == ErrorKind.UNSUPPORTED and unsupported.value.tld == "com"
    world = account("world", is_default=True)
    assert registrar_account_for_tld("com") == world
    with registrar_for_tld("it") as registrar:
        assert registrar.connection.hostname == "italy.test"
    other = account("other")
    with pytest.raises(RegistryError, match=r"already serves: \.it"):
        registrar_account_tlds_set(account=other, tlds=["it", "de"])
    assert registrar_account_for_tld("de") == world  # nothing of the refused call stayed
    registrar_account_tlds_set(account=italy, tlds=["it"])
    assert registrar_account_for_tld("eu") == world
    italy.is_active = False
    italy.save()
    with pytest.raises(UnsupportedTldError):
        registrar_for_tld("it")


def test_the_secret_is_stored_encrypted() -> None:
    row = account("sealed")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret_encrypted FROM provisioning_registraraccount WHERE id = %s", [row.pk]
        )
        stored = cursor.fetchone()[0]
    assert "epp-Password-123" not in stored
    assert RegistrarAccount.objects.get(pk=row.pk).secret == "epp-Password-123"
    assert "epp-Password-123" not in repr(row.connection())


def test_connection_test() -> None:
    assert registrar_account_test(account=account("probe")).startswith("simulated registrar")


def test_the_settings_epp_registry_serves_when_no_account_is_configured() -> None:
    with (
        EppServer() as registry,
        override_settings(
            EPP_HOST="127.0.0.1",
            EPP_PORT=registry.port,
            EPP_USERNAME="tessera",
            EPP_PASSWORD="sandbox-pw",
            EPP_CAFILE=registry.cafile,
        ),
        registrar_for_tld("it") as registrar,
    ):
        assert isinstance(registrar, EppRegistrar)
        assert registrar.check_availability("nuovo-nome.it").available
    assert registry.invalid_frames == []


def test_the_admin_stores_the_secret_encrypted_and_routes_the_tlds(
    platform_client: Client,
) -> None:
    platform_client.force_login(User.objects.get(email="admin@platform.test"))
    form = {
        "name": "Registry EPP",
        "module": "epp",
        "hostname": "epp.registry.example",
        "port": "700",
        "use_tls": "on",
        "verify_tls": "on",
        "username": "tessera",
        "timeout_s": "30",
        "extra": "{}",
        "is_active": "on",
        "new_secret": "Epp-Secret-991",
        "tld_list": "com, .NET it",
    }
    response = platform_client.post("/admin/provisioning/registraraccount/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    account = RegistrarAccount.objects.get(name="Registry EPP")
    assert account.secret == "Epp-Secret-991"
    assert sorted(account.tlds.values_list("tld", flat=True)) == ["com", "it", "net"]
    page = platform_client.get(f"/admin/provisioning/registraraccount/{account.pk}/change/")
    body = page.content.decode()
    assert "Epp-Secret-991" not in body and account.secret_encrypted not in body
    # A TLD another account serves is refused with the reason, and nothing is saved.
    refused = platform_client.post(
        "/admin/provisioning/registraraccount/add/",
        {**form, "name": "Second", "new_secret": "", "tld_list": "it de"},
    )
    assert refused.status_code == 200
    assert "already serves: it" in refused.content.decode()
    assert not RegistrarAccount.objects.filter(name="Second").exists()
    # A module nobody wrote is refused too.
    unknown = platform_client.post(
        "/admin/provisioning/registraraccount/add/", {**form, "name": "X", "module": "nope"}
    )
    assert unknown.status_code == 200 and not RegistrarAccount.objects.filter(name="X").exists()


def test_an_epp_account_reaches_the_local_registry_for_its_tlds() -> None:
    with EppServer(tlds=("zztest",)) as registry:
        fields = registry.registrar_account_fields()
        password = fields.pop("password")
        row = RegistrarAccount(name="Local EPP", **fields)
        row.secret = password
        row.save()
        registrar_account_tlds_set(account=row, tlds=["zztest"])
        assert registrar_account_test(account=row).startswith("EPP Tessera EPP")
        with registrar_for_tld("zztest") as registrar:
            handle = registrar.contact_create(
                Contact(
                    name="Ada Verdi",
                    email="ada@example.org",
                    phone="+39.061234567",
                    street=("Via Po 2",),
                    city="Torino",
                    postcode="10100",
                    country_code="IT",
                )
            )
            info = registrar.register(
                "esempio.zztest", 1, ["ns1.host.example", "ns2.host.example"], handle
            )
        assert registry.domain("esempio.zztest")["registrant"] == handle == info.registrant
    assert registry.invalid_frames == []


def test_the_admin_connection_test_reaches_the_registry(platform_client: Client) -> None:
    platform_client.force_login(User.objects.get(email="admin@platform.test"))
    with EppServer() as registry:
        fields = registry.registrar_account_fields()
        good = RegistrarAccount(
            name="Reachable", **{k: v for k, v in fields.items() if k != "password"}
        )
        good.secret = fields["password"]
        good.save()
        bad = RegistrarAccount(
            name="Wrong password", **{k: v for k, v in fields.items() if k != "password"}
        )
        bad.secret = "not-the-password"
        bad.save()
        response = platform_client.post(
            "/admin/provisioning/registraraccount/",
            {"action": "test_connection", "_selected_action": [good.pk, bad.pk]},
            follow=True,
        )
    body = response.content.decode()
    assert "logged in as tessera" in body
    assert "login refused with 2200" in body and "not-the-password" not in body
