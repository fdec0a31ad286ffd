"""Which registrar serves a TLD, and how the provider's registrar accounts keep secrets."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings

from provisioning.models import RegistrarAccount
from provisioning.registrars.accounts import (
    registrar_account_for_tld,
    registrar_account_test,
    registrar_account_tlds_set,
    registrar_for_tld,
)
from provisioning.registrars.base import ErrorKind, RegistryError, UnsupportedTldError
from provisioning.registrars.simulated import SimulatedRegistrar

pytestmark = pytest.mark.django_db


def account(name: str, **fields) -> RegistrarAccount:
    row = RegistrarAccount(name=name, module="simulated", hostname=f"{name}.test", **fields)
    row.secret = "epp-Password-123"
    row.save()
    return row


def test_no_account_means_the_simulated_registrar_outside_production() -> None:
    with registrar_for_tld("com") as registrar:
        assert isinstance(registrar, SimulatedRegistrar)
    with override_settings(REGISTRAR_SIMULATED_FALLBACK=False), pytest.raises(UnsupportedTldError):
        registrar_for_tld("com")


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
