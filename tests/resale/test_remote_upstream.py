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
from django.test import override_settings
from django_tenants.utils import schema_context

from billing.models import Service
from core.crypto import secret_encrypt
from resale.api import resale_credential_issue
from resale.models import UpstreamCommand, UpstreamLink, UpstreamService
from resale.outbox import upstream_commands_relay
from resale.services import reseller_balance
from resale.upstreams import RemoteUpstream
from tests.conftest import ROOT, _test_database_url
from tests.resale.flow import order_and_pay, resale_world_build, wait_for

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
