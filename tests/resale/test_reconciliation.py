"""Reconciliation through the real worker: drift injected in the reseller's row, the
provider's row and on the server is found, reported in both consoles, the safe kinds
repaired by commands; a second run then finds nothing. Kinds that need a person stay
open, and running again neither doubles them nor repairs them."""

from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from accounts.models import User
from billing.models import Service, ServiceOption
from provisioning.models import ProvisionedService
from provisioning.modules.simulated import SimulatedModule
from resale.api import resale_credential_issue
from resale.models import DriftItem, UpstreamCommand, UpstreamService, WholesalePlan
from resale.reconciliation import reconciliation_run
from resale.services import reseller_balance, upstream_command_accept
from resale.tasks import reconciliation_run_all_task
from tests.resale.flow import order_and_pay, resale_world_build, service_status, wait_for

pytestmark = pytest.mark.worker


def _upstream(world, service) -> UpstreamService:
    with schema_context(world.schema):
        ref = UpstreamCommand.objects.get(
            service_ref=str(service.public_id), action="create"
        ).upstream_ref
    return UpstreamService.objects.get(public_id=ref)


def _run(world):
    with schema_context(world.schema):
        result = reconciliation_run()
    connection.set_schema_to_public()
    return result


def _settled(world) -> bool:
    with schema_context(world.schema):
        busy = UpstreamCommand.objects.exclude(state__in=["done", "failed"]).exists()
    connection.set_schema_to_public()
    return not busy


def test_drift_in_three_places_is_found_reported_and_repaired(
    tenant_factory, celery_worker_process
):
    created = tenant_factory("Drift Hosting")
    world = resale_world_build(created, top_up="50.00", with_options=True)
    billed, held, served = (
        order_and_pay(world, key=f"order-{n}", options={"ram": "+2 GB"}) for n in range(3)
    )
    for service in (billed, held, served):
        wait_for(lambda s=service: service_status(world, s) == "active", what="activation")
    assert _run(world).found == []

    # The reseller's row: the client's service now bills +4 GB, the provider holds +2 GB.
    with schema_context(world.schema):
        ram = world.options["ram"]
        ServiceOption.objects.filter(service=billed.pk, option=ram).update(
            choice=ram.choices.get(name="+4 GB")
        )
    # The provider's row: suspended at the reseller's word, while paid and active here.
    held_upstream = _upstream(world, held)
    UpstreamService.objects.filter(pk=held_upstream.pk).update(
        status="suspended", suspend_reason="reseller"
    )
    # The server: someone took RAM away from the account on the panel.
    served_upstream = _upstream(world, served)
    panel = ProvisionedService.objects.get(upstream_service_id=served_upstream.pk)
    SimulatedModule(world.server.connection()).change_options(
        panel.remote_id, "web-s", {"ram_mb": 512}
    )

    result = _run(world)
    found = {(f.service_ref, f.kind) for f in result.found}
    assert found == {
        (str(billed.public_id), "options"),
        (str(held.public_id), "suspended_upstream"),
        (str(served.public_id), "server_options"),
    }
    assert result.repaired == 3
    items = DriftItem.objects.filter(account=world.account, state="repairing")
    assert items.count() == 3

    # Both consoles show them; the provider's never names the client.
    provider = Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    provider.force_login(User.objects.get(email="admin@platform.test"))
    page = provider.get("/admin/resale/driftitem/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "server_options" in html or "Server resources differ" in html
    assert "Maria" not in html and "maria@client.test" not in html
    console = Client(HTTP_HOST=created.domain.domain)
    with schema_context(world.schema):
        console.force_login(User.objects.get(kind=User.Kind.STAFF, role=User.Role.OWNER))
    page = console.get("/console/reconciliation/")
    assert page.status_code == 200
    assert str(billed.public_id) in page.content.decode()
    connection.set_schema_to_public()

    wait_for(lambda: _settled(world), what="the repair commands")
    wait_for(
        lambda: (
            SimulatedModule(world.server.connection()).read_account(panel.remote_id).options
            == {"ram_mb": 1024 + 2048}
        ),
        what="the server's RAM",
    )
    assert UpstreamService.objects.get(pk=held_upstream.pk).status == "active"
    assert next(iter(_upstream(world, billed).options.values()))["choice"] == "4gb"

    second = _run(world)
    assert second.found == [] and second.repaired == 0
    assert not DriftItem.objects.filter(
        account=world.account, state__in=["open", "repairing"]
    ).exists()
    assert DriftItem.objects.filter(account=world.account, state="resolved").count() == 3

    # Bounded: more services in the batch, not one query more.
    with CaptureQueriesContext(connection) as three:
        assert _run(world).checked == 3
    more = [order_and_pay(world, key=f"more-{n}", options={"ram": "+2 GB"}) for n in range(3)]
    for service in more:
        wait_for(lambda s=service: service_status(world, s) == "active", what="activation")
    with CaptureQueriesContext(connection) as six:
        assert _run(world).checked == 6
    assert len(six.captured_queries) == len(three.captured_queries)


def test_kinds_for_a_person_stay_open_and_are_not_doubled(tenant_factory, celery_worker_process):
    world = resale_world_build(tenant_factory("Person Hosting"), top_up="50.00")
    service = order_and_pay(world, key="order-p")
    wait_for(lambda: service_status(world, service) == "active", what="activation")
    other = WholesalePlan.objects.create(
        code=f"{world.wholesale_plan.code}-x", name="Other", product_type="shared"
    )
    upstream = _upstream(world, service)
    UpstreamService.objects.filter(pk=upstream.pk).update(plan=other)

    for _ in range(2):
        result = _run(world)
        assert [(f.kind, f.repair) for f in result.found] == [("plan", "")]
        assert result.repaired == 0
    item = DriftItem.objects.get(account=world.account)
    assert item.state == "open" and item.upstream_service_id == upstream.pk
    with schema_context(world.schema):
        assert not UpstreamCommand.objects.exclude(action="create").exists()
        assert Service.objects.get(pk=service.pk).status == "active"


def test_the_retail_brand_buys_options_at_cost_and_is_reconciled_on_schedule(
    tenant_factory, celery_worker_process
):
    """The provider's own brand is a tenant like any other: its order with options goes
    through the same path at its (cost) price list, and the scheduled run covers it."""
    created = tenant_factory("Tessera Retail", kind="retail")
    world = resale_world_build(created, top_up="20.00", with_options=True)
    service = order_and_pay(world, key="retail-1", options={"ram": "+4 GB"})
    wait_for(lambda: service_status(world, service) == "active", what="activation")
    upstream = _upstream(world, service)
    assert reseller_balance(account=world.account).amount == Decimal("12.50")  # 2.50 + 5.00
    panel = ProvisionedService.objects.get(upstream_service_id=upstream.pk)
    module = SimulatedModule(world.server.connection())
    module.suspend(panel.remote_id)

    assert reconciliation_run_all_task() >= 1
    wait_for(
        lambda: DriftItem.objects.filter(
            account=world.account, kind="server_status", state="repairing"
        ).exists(),
        what="the scheduled run's finding",
    )
    wait_for(
        lambda: module.read_account(panel.remote_id).status == "active",
        what="the server unsuspended",
    )
    assert _run(world).found == []


def test_an_api_resellers_services_are_checked_against_the_servers(
    tenant_factory, celery_worker_process
):
    """A reseller that buys over the resale API bills on its own installation, which
    compares that with GET services/; here, at the provider, its services are not "not
    billed", and the servers are still checked and repaired."""
    world = resale_world_build(tenant_factory("API Hosting"), top_up="20.00")
    resale_credential_issue(account=world.account, name="their installation")
    ref = upstream_command_accept(
        account=world.account,
        idempotency_key="api-1",
        action="create",
        payload={"plan": world.wholesale_plan.code, "cycle": "monthly", "client_ref": "c-api"},
    ).response["service_ref"]
    wait_for(
        lambda: UpstreamService.objects.get(public_id=ref).status == "active", what="provisioning"
    )
    assert _run(world).found == []

    upstream = UpstreamService.objects.get(public_id=ref)
    panel = ProvisionedService.objects.get(upstream_service_id=upstream.pk)
    module = SimulatedModule(world.server.connection())
    module.change_options(panel.remote_id, "web-s", {"ram_mb": 512})
    result = _run(world)
    assert [(f.service_ref, f.kind, f.repair) for f in result.found] == [
        (f"upstream:{ref}", "server_options", "server:change_options")
    ]
    assert result.repaired == 1
    wait_for(
        lambda: module.read_account(panel.remote_id).options == {"ram_mb": 1024},
        what="the server's RAM",
    )
    assert _run(world).found == []
    assert DriftItem.objects.get(account=world.account).state == "resolved"
