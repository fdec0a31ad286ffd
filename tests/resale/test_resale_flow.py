"""The resale flow end to end, through a real Celery worker and Redis: order on a
reseller storefront → paid → created upstream → provisioned by the simulated module →
active with a control-panel link; overdue → suspended upstream; paid → unsuspended;
terminated → removed upstream; the reseller's balance moved by exactly the wholesale
prices."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from billing import services
from billing.billing_run import billing_run
from billing.models import Invoice, Service
from provisioning.modules.simulated import SimulatedModule
from resale.models import UpstreamCommand, UpstreamService
from resale.services import reseller_balance
from resale.upstreams import LocalUpstream
from tests.resale.flow import order_and_pay, resale_world_build, service_status, wait_for

pytestmark = pytest.mark.worker


def _panel_accounts(world) -> list[dict]:
    return SimulatedModule(world.server.connection()).all_accounts()


def _upstream(world, service) -> UpstreamService:
    with schema_context(world.schema):
        ref = UpstreamCommand.objects.get(
            service_ref=str(service.public_id), action="create"
        ).upstream_ref
    return UpstreamService.objects.get(public_id=ref)


def test_order_to_termination_through_the_worker(tenant_factory, celery_worker_process):
    created = tenant_factory("Flow Hosting")
    world = resale_world_build(created, top_up="10.00")
    service = order_and_pay(world, key="order-1", domain="maria-shop.example")

    wait_for(lambda: service_status(world, service) == "active", what="activation")
    upstream = _upstream(world, service)
    assert upstream.status == UpstreamService.Status.ACTIVE
    assert upstream.client_ref.startswith("c_")
    accounts = _panel_accounts(world)
    assert len(accounts) == 1 and accounts[0]["status"] == "active"
    assert reseller_balance(account=world.account).amount == Decimal("7.50")
    sso = LocalUpstream(world.schema).sso_url(service_ref=upstream.public_id)
    assert sso.startswith("https://")

    with schema_context(world.schema):
        local = Service.objects.get(pk=service.pk)
        due = local.next_due_date
        billing_run(run_date=due)
        billing_run(run_date=due + timedelta(days=1))
        billing_run(run_date=due + timedelta(days=2))
        assert Service.objects.get(pk=service.pk).status == Service.Status.SUSPENDED
    wait_for(lambda: _panel_accounts(world)[0]["status"] == "suspended", what="suspension")

    with schema_context(world.schema):
        renewal = Invoice.objects.filter(
            lines__service_id=service.pk, status=Invoice.Status.OVERDUE
        ).get()
        services.payment_record(
            invoice=renewal,
            amount=renewal.amount_due,
            method="bank_transfer",
            idempotency_key="pay-renewal",
        )
        assert Service.objects.get(pk=service.pk).status == Service.Status.ACTIVE
    wait_for(lambda: _panel_accounts(world)[0]["status"] == "active", what="unsuspension")
    wait_for(
        lambda: reseller_balance(account=world.account).amount == Decimal("5.00"),
        what="the renewal debit",
    )

    with schema_context(world.schema):
        services.service_terminate(service=Service.objects.get(pk=service.pk), reason="client left")
    wait_for(lambda: _panel_accounts(world) == [], what="removal from the panel")
    upstream.refresh_from_db()
    assert upstream.status == UpstreamService.Status.TERMINATED
    assert reseller_balance(account=world.account).amount == Decimal("5.00")

    def all_done() -> bool:
        with schema_context(world.schema):
            return set(UpstreamCommand.objects.values_list("state", flat=True)) == {"done"}

    wait_for(all_done, what="every upstream command done")
    with schema_context(world.schema):
        actions = list(UpstreamCommand.objects.order_by("pk").values_list("action", flat=True))
    assert actions == ["create", "suspend", "renew", "unsuspend", "terminate"]
