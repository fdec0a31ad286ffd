"""A resale chain across installations: the reseller's installation sends its commands
over the resale REST API to a provider installation running in another process, and
learns the outcome by asking it."""

import os
import socket
import subprocess
import sys
import time
from decimal import Decimal

import httpx
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from django_tenants.utils import schema_context

from accounts.models import User
from billing.models import Service, ServiceOption
from core.crypto import secret_encrypt
from resale.api import resale_credential_issue
from resale.models import (
    DriftItem,
    RemoteDriftItem,
    UpstreamCommand,
    UpstreamLink,
    UpstreamService,
)
from resale.outbox import upstream_commands_relay
from resale.reconciliation import reconciliation_run
from resale.services import reseller_balance
from resale.upstreams import RemoteUpstream
from tests.conftest import ROOT, _test_database_url
from tests.resale.flow import order_and_pay, resale_world_build, service_status, wait_for

pytestmark = pytest.mark.worker


@pytest.fixture
def provider_installation(live_db, celery_worker_process):
    """The provider's installation: its own web server process on a port of its own."""
    from config.celery import app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(
        os.environ,
        DATABASE_URL=_test_database_url(),
        DJANGO_SETTINGS_MODULE="config.settings.test",
        CELERY_QUEUE=app.conf.task_default_queue,
    )
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://{settings.PLATFORM_DOMAIN}:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(
                f"http://127.0.0.1:{port}/healthz",
                headers={"Host": settings.PLATFORM_DOMAIN},
                timeout=1,
            )
            break
        except httpx.HTTPError:
            time.sleep(0.3)
    yield base_url
    process.terminate()
    process.wait(timeout=20)


def test_commands_travel_over_the_resale_api(tenant_factory, provider_installation):
    # The provider installation knows the reseller as one of its customers...
    at_provider = tenant_factory("Chain Reseller at the provider")
    world = resale_world_build(at_provider, top_up="10.00")
    _, token = resale_credential_issue(account=world.account, name="chain")
    # ...and the reseller's own installation, whose storefront sells the plan, buys it
    # over the API rather than from this installation's provider side.
    with schema_context(world.schema):
        UpstreamLink.objects.create(
            kind=UpstreamLink.Kind.REMOTE,
            base_url=provider_installation,
            token_encrypted=secret_encrypt(token),
        )

    service = order_and_pay(world, key="chain-1", domain="chain.example")

    def active() -> bool:
        with override_settings(RESALE_SENT_RECHECK_S=0), schema_context(world.schema):
            upstream_commands_relay()
            return Service.objects.get(pk=service.pk).status == Service.Status.ACTIVE

    wait_for(active, timeout=120, interval=0.5, what="activation over the remote upstream")
    with schema_context(world.schema):
        command = UpstreamCommand.objects.get(action="create")
    assert command.state == UpstreamCommand.State.DONE
    upstream = UpstreamService.objects.get(public_id=command.upstream_ref)
    assert upstream.status == UpstreamService.Status.ACTIVE
    assert reseller_balance(account=world.account).amount == Decimal("7.50")

    remote = RemoteUpstream(provider_installation, token)
    assert remote.balance()["balance"] == "7.5000"
    assert remote.sso_url(service_ref=upstream.public_id).startswith("https://")
    bad = RemoteUpstream(provider_installation, token[:-3] + "xyz")
    with pytest.raises(Exception, match="not valid"):
        bad.balance()


def _remote_world(tenant_factory, provider_installation, name: str):
    at_provider = tenant_factory(name)
    world = resale_world_build(at_provider, top_up="60.00", with_options=True)
    _, token = resale_credential_issue(account=world.account, name="chain")
    with schema_context(world.schema):
        UpstreamLink.objects.create(
            kind=UpstreamLink.Kind.REMOTE,
            base_url=provider_installation,
            token_encrypted=secret_encrypt(token),
        )
    return at_provider, world, token


def _relay_until_settled(world) -> None:
    def settled() -> bool:
        with override_settings(RESALE_SENT_RECHECK_S=0), schema_context(world.schema):
            upstream_commands_relay()
            return not UpstreamCommand.objects.exclude(state__in=["done", "failed"]).exists()

    wait_for(settled, timeout=120, interval=0.5, what="the commands over the remote upstream")


def _reconcile(world):
    with schema_context(world.schema):
        result = reconciliation_run()
    connection.set_schema_to_public()
    return result


def test_reconciliation_over_the_resale_api(tenant_factory, provider_installation):
    """A tenant that buys from another installation compares what it bills with what that
    provider reports through the resale API, keeps the drift in its own schema, repairs
    the safe kinds by commands sent over the API, and a second run finds nothing."""
    at_provider, world, token = _remote_world(
        tenant_factory, provider_installation, "Remote Drift Reseller"
    )
    billed, held = (
        order_and_pay(world, key=f"remote-{n}", options={"ram": "+2 GB", "ipv4": ("Address", 2)})
        for n in range(2)
    )
    _relay_until_settled(world)
    for service in (billed, held):
        assert service_status(world, service) == "active"
    assert _reconcile(world).found == []

    # The provider reports the options it holds, by their codes, and nothing personal.
    remote = RemoteUpstream(provider_installation, token)
    page = remote.services(limit=1)
    assert len(page["results"]) == 1 and page["next"]
    reported = page["results"][0]
    assert sorted(o["option"].split("-", 1)[1] for o in reported["options"]) == ["ipv4", "ram"]
    assert "Maria" not in str(reported) and "client_ref" not in reported

    # The reseller's row bills +4 GB; the provider suspended one at the reseller's word;
    # and the provider runs a service the reseller bills nobody for.
    with schema_context(world.schema):
        ram = world.options["ram"]
        ServiceOption.objects.filter(service=billed.pk, option=ram).update(
            choice=ram.choices.get(name="+4 GB")
        )
    held_ref = _upstream_ref(world, held)
    UpstreamService.objects.filter(public_id=held_ref).update(
        status="suspended", suspend_reason="reseller"
    )
    stray = UpstreamService.objects.create(
        account=world.account,
        plan=world.wholesale_plan,
        cycle="monthly",
        client_ref="stray",
        status=UpstreamService.Status.ACTIVE,
    )
    debits_before = _debits(world)

    result = _reconcile(world)
    assert {(f.service_ref, f.kind, f.repair) for f in result.found} == {
        (str(billed.public_id), "options", "change_options"),
        (str(held.public_id), "suspended_upstream", "unsuspend"),
        (f"upstream:{stray.public_id}", "not_billed", ""),
    }
    assert result.repaired == 2
    with schema_context(world.schema):
        items = {(i.kind, i.state) for i in RemoteDriftItem.objects.all()}
    assert items == {
        ("options", "repairing"),
        ("suspended_upstream", "repairing"),
        ("not_billed", "open"),
    }
    # Kept by the tenant: the provider of this installation is not part of it.
    assert not DriftItem.objects.filter(account=world.account).exists()
    console = Client(HTTP_HOST=at_provider.domain.domain)
    with schema_context(world.schema):
        console.force_login(User.objects.get(kind=User.Kind.STAFF, role=User.Role.OWNER))
    page = console.get("/console/reconciliation/")
    connection.set_schema_to_public()
    assert page.status_code == 200
    assert str(billed.public_id) in page.content.decode()

    # The same run again repairs nothing twice while the repairs travel.
    again = _reconcile(world)
    assert again.repaired <= 2
    _relay_until_settled(world)
    assert UpstreamService.objects.get(public_id=held_ref).status == "active"
    options = UpstreamService.objects.get(public_id=_upstream_ref(world, billed)).options
    assert {code.split("-", 1)[1]: o["choice"] for code, o in options.items()} == {
        "ram": "4gb",
        "ipv4": "ip",
    }
    # The upgrade to +4 GB was debited at the provider (prorated), once.
    assert _debits(world) < debits_before

    # A person ends the service nobody bills; the next run finds nothing.
    UpstreamService.objects.filter(pk=stray.pk).update(status="terminated")
    second = _reconcile(world)
    assert second.found == [] and second.repaired == 0
    with schema_context(world.schema):
        assert not RemoteDriftItem.objects.exclude(state="resolved").exists()
        assert RemoteDriftItem.objects.filter(state="resolved").count() == 3
    connection.set_schema_to_public()


def test_an_unreachable_remote_provider_changes_nothing(tenant_factory, provider_installation):
    _at_provider, world, _token = _remote_world(
        tenant_factory, provider_installation, "Remote Down Reseller"
    )
    service = order_and_pay(world, key="down-1", options={"ram": "+2 GB"})
    _relay_until_settled(world)
    with schema_context(world.schema):
        ServiceOption.objects.filter(service=service.pk).delete()
        UpstreamLink.objects.update(base_url="http://127.0.0.1:9")
    result = _reconcile(world)
    assert result.found == [] and result.checked == 0
    with schema_context(world.schema):
        assert not RemoteDriftItem.objects.exists()
        assert UpstreamCommand.objects.exclude(action="create").count() == 0
    connection.set_schema_to_public()


def _upstream_ref(world, service) -> str:
    with schema_context(world.schema):
        return UpstreamCommand.objects.get(
            service_ref=str(service.public_id), action="create"
        ).upstream_ref


def _debits(world) -> Decimal:
    return reseller_balance(account=world.account).amount
