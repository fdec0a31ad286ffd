"""Wholesale options through the real worker: an order with two resold options and one of
the reseller's own reaches the provider and the server with exactly the resold two, and
the reseller is debited the wholesale plan plus options; an upgrade mid-cycle and a
downgrade are prorated on both sides and set the server's resources again."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from billing import services
from billing.models import InvoiceLine, Service
from billing.money import Money
from billing.selectors import client_credit
from provisioning.modules.simulated import SimulatedModule
from resale.models import BalanceEntry, UpstreamCommand, UpstreamService
from resale.services import reseller_balance
from tests.resale.flow import order_and_pay, resale_world_build, service_status, wait_for

pytestmark = pytest.mark.worker


def _panel(world) -> list[dict]:
    return SimulatedModule(world.server.connection()).all_accounts()


def _upstream(world, service) -> UpstreamService:
    with schema_context(world.schema):
        ref = UpstreamCommand.objects.get(
            service_ref=str(service.public_id), action="create"
        ).upstream_ref
    return UpstreamService.objects.get(public_id=ref)


def _command_done(world, service, action: str) -> bool:
    with schema_context(world.schema):
        return UpstreamCommand.objects.filter(
            service_ref=str(service.public_id), action=action, state="done"
        ).exists()


def _mid_cycle(world, service, upstream, *, days_left: int) -> tuple[int, int]:
    """Moves both sides' paid period so that ``days_left`` of it remain today; returns
    (days left, days in the period) as both sides will count them."""
    today = timezone.localdate()
    due = today + timedelta(days=days_left)
    with schema_context(world.schema):
        Service.objects.filter(pk=service.pk).update(next_due_date=due)
        start = Service.objects.get(pk=service.pk).current_period_start
    UpstreamService.objects.filter(pk=upstream.pk).update(next_due_date=due)
    return days_left, (due - start).days


def test_order_with_two_options_reaches_provider_and_server(tenant_factory, celery_worker_process):
    world = resale_world_build(tenant_factory("Options Hosting"), top_up="20.00", with_options=True)
    service = order_and_pay(
        world,
        key="order-opt",
        options={"ram": "+2 GB", "ipv4": ("Address", 2), "support": "Yes"},
    )
    wait_for(lambda: service_status(world, service) == "active", what="activation")

    upstream = _upstream(world, service)
    prefix = world.wholesale_plan.code.removesuffix("web-s")
    assert {code: (o["choice"], o["quantity"]) for code, o in upstream.options.items()} == {
        f"{prefix}ram": ("2gb", 1),
        f"{prefix}ipv4": ("ip", 2),
    }
    # The reseller's own support plan never left its schema.
    with schema_context(world.schema):
        create = UpstreamCommand.objects.get(service_ref=str(service.public_id), action="create")
    assert "support" not in str(create.payload).lower()
    assert len(create.payload["options"]) == 2
    # Plan 2.50 + RAM 3.00 + two addresses at 1.50.
    debit = BalanceEntry.objects.get(account=world.account, kind="order_debit")
    assert debit.amount == Money(Decimal("-8.50"), "EUR")
    assert reseller_balance(account=world.account).amount == Decimal("11.50")
    (account,) = _panel(world)
    # The plan's 1024 MB plus the option's 2048.
    assert account["options"]["ram_mb"] == 3072
    assert account["options"]["ips"] == 2


def test_upgrade_and_downgrade_mid_cycle_prorated_on_both_sides(
    tenant_factory, celery_worker_process
):
    world = resale_world_build(tenant_factory("Upgrade Hosting"), top_up="20.00", with_options=True)
    service = order_and_pay(world, key="order-up", options={"ram": "+2 GB"})
    wait_for(lambda: service_status(world, service) == "active", what="activation")
    upstream = _upstream(world, service)
    left, total = _mid_cycle(world, service, upstream, days_left=10)
    balance_before = reseller_balance(account=world.account)

    with schema_context(world.schema):
        ram = world.options["ram"]
        change = services.service_change_options(
            service=Service.objects.get(pk=service.pk),
            options={ram: ram.choices.get(name="+4 GB")},
        )
        # The client: plan with +4 GB for the days left, less the unused plan with +2 GB.
        local = Service.objects.get(pk=service.pk)
        assert local.recurring_amount == Decimal("11.99")  # 4.99 + 7.00
        expected_charge = Money.of(Decimal("11.99") * left / total, "EUR")
        expected_credit = Money.of(Decimal("8.99") * left / total, "EUR")
        assert change.charge == expected_charge and change.credit == expected_credit
        lines = change.invoice.lines.filter(kind=InvoiceLine.Kind.PRORATION)
        assert (
            sum(line.unit_price_amount for line in lines)
            == (expected_charge - expected_credit).amount
        )
    wait_for(lambda: _command_done(world, service, "change_options"), what="the change")
    upstream.refresh_from_db()
    assert next(iter(upstream.options.values()))["choice"] == "4gb"
    # The reseller: (5.00 − 3.00) for the days left.
    upgrade = Money.of(Decimal("2.00") * left / total, "EUR")
    assert reseller_balance(account=world.account) == balance_before - upgrade
    wait_for(lambda: _panel(world)[0]["options"]["ram_mb"] == 1024 + 4096, what="the new RAM")

    balance_before = reseller_balance(account=world.account)
    with schema_context(world.schema):
        downgrade = services.service_change_options(
            service=Service.objects.get(pk=service.pk),
            options={ram: ram.choices.get(name="+2 GB")},
        )
        assert downgrade.invoice is None and downgrade.credited.amount > 0
        assert client_credit(client=world.client) == downgrade.credited
    wait_for(
        lambda: _count_done(world, service, "change_options") == 2,
        what="the downgrade",
    )
    refund = BalanceEntry.objects.filter(account=world.account, kind="refund").get()
    assert refund.amount == upgrade
    assert reseller_balance(account=world.account) == balance_before + upgrade
    wait_for(lambda: _panel(world)[0]["options"]["ram_mb"] == 1024 + 2048, what="the RAM back")


def _count_done(world, service, action: str) -> int:
    with schema_context(world.schema):
        return UpstreamCommand.objects.filter(
            service_ref=str(service.public_id), action=action, state="done"
        ).count()


def test_changing_only_the_resellers_own_add_on_sends_nothing(
    tenant_factory, celery_worker_process
):
    world = resale_world_build(
        tenant_factory("Own Addon Hosting"), top_up="20.00", with_options=True
    )
    service = order_and_pay(world, key="order-own", options={"ram": "+2 GB"})
    wait_for(lambda: service_status(world, service) == "active", what="activation")
    with schema_context(world.schema):
        support = world.options["support"]
        services.service_change_options(
            service=Service.objects.get(pk=service.pk),
            options={support: support.choices.get()},
        )
        assert not UpstreamCommand.objects.filter(action="change_options").exists()
