"""Drift repaired from the provider console with everything real behind it (a Celery
worker, the simulated panel): reconciliation runs without repairing, the provider sends
the repair of each safe item from the Drift page (a command in the reseller's outbox, or a
panel job), the repairs go through, and the next run finds nothing."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from provisioning.models import ProvisionedService
from provisioning.modules.simulated import SimulatedModule
from resale.models import DriftItem, UpstreamCommand, UpstreamService
from resale.reconciliation import reconciliation_run
from tests.resale.flow import order_and_pay, resale_world_build, service_status, wait_for

pytestmark = pytest.mark.worker


def _upstream(world, service) -> UpstreamService:
    with schema_context(world.schema):
        ref = UpstreamCommand.objects.get(
            service_ref=str(service.public_id), action="create"
        ).upstream_ref
    return UpstreamService.objects.get(public_id=ref)


def _run(world, *, repair: bool):
    with schema_context(world.schema):
        result = reconciliation_run(repair=repair)
    connection.set_schema_to_public()
    return result


def test_the_provider_repairs_drift_from_its_console(tenant_factory, celery_worker_process):
    world = resale_world_build(tenant_factory("Drift Desk Hosting"), top_up="50.00")
    held, served = (order_and_pay(world, key=f"drift-{n}") for n in range(2))
    for service in (held, served):
        wait_for(lambda s=service: service_status(world, s) == "active", what="activation")
    # The provider's row: suspended at the reseller's word, while paid and active there.
    held_upstream = _upstream(world, held)
    UpstreamService.objects.filter(pk=held_upstream.pk).update(
        status="suspended", suspend_reason="reseller"
    )
    # The server: someone took RAM away from the account on the panel.
    panel = ProvisionedService.objects.get(upstream_service_id=_upstream(world, served).pk)
    module = SimulatedModule(world.server.connection())
    module.change_options(panel.remote_id, "web-s", {"ram_mb": 512})

    found = _run(world, repair=False)
    assert {(f.service_ref, f.kind) for f in found.found} == {
        (str(held.public_id), "suspended_upstream"),
        (str(served.public_id), "server_options"),
    }
    provider = Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    provider.force_login(User.objects.get(email="admin@platform.test"))
    page = provider.get(f"/provider/drift/?reseller={world.account.public_id}").content.decode()
    assert "Suspended at the provider, active here" in page
    assert "Server resources differ" in page
    for personal in ("Maria", "Bianchi", "maria@client.test"):
        assert personal not in page

    items = DriftItem.objects.filter(account=world.account, state="open")
    for item in items:
        response = provider.post(f"/provider/drift/{item.pk}/repair/", follow=True)
        assert "The repair is sent" in response.content.decode()
        # A double click sends nothing more.
        again = provider.post(f"/provider/drift/{item.pk}/repair/", follow=True)
        assert "already on its way" in again.content.decode()
    with schema_context(world.schema):
        unsuspends = UpstreamCommand.objects.filter(
            service_ref=str(held.public_id), action="unsuspend"
        )
        assert unsuspends.count() == 1
    connection.set_schema_to_public()

    wait_for(
        lambda: UpstreamService.objects.get(pk=held_upstream.pk).status == "active",
        what="the unsuspend command",
    )
    wait_for(
        lambda: module.read_account(panel.remote_id).options.get("ram_mb") == 1024,
        what="the server's RAM",
    )

    def settled() -> bool:
        with schema_context(world.schema):
            return not UpstreamCommand.objects.exclude(state="done").exists()

    wait_for(settled, what="every command done")
    connection.set_schema_to_public()
    assert _run(world, repair=False).found == []
    assert not DriftItem.objects.filter(
        account=world.account, state__in=["open", "repairing"]
    ).exists()
