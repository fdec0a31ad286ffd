"""A reseller world with committed rows, for tests that go through a real Celery worker:
the provider's catalogue, price list, a simulated panel server, and a reseller tenant
whose storefront sells a plan bought upstream."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django_tenants.utils import schema_context

from billing import services
from billing.models import Client, Plan, Service
from billing.money import Money
from provisioning.models import PlanMapping, Server, ServerGroup
from provisioning.services import server_create
from resale.models import ResellerAccount, WholesalePlan
from resale.services import reseller_balance_topup
from tests.resale.factories import account_on, wholesale_catalogue


@dataclass
class ResaleWorld:
    schema: str
    account: ResellerAccount
    wholesale_plan: WholesalePlan
    server: Server
    plan: Plan
    client: Client


def resale_world_build(
    created, *, top_up: str = "10.00", latency_s: float = 0.0, failure_rate: float = 0.0
) -> ResaleWorld:
    prefix = f"r{uuid.uuid4().hex[:6]}-"
    catalogue = wholesale_catalogue(code_prefix=prefix)
    account = account_on(created.tenant, catalogue["price_list"])
    if Decimal(top_up):
        reseller_balance_topup(
            account=account, amount=top_up, reference="seed", idempotency_key=f"seed-{prefix}"
        )
    group = ServerGroup.objects.create(name=f"sim-{prefix}", module="simulated")
    server = server_create(
        group=group,
        name=f"{prefix}node1",
        hostname=f"{prefix}node1.panel.test",
        port=443,
        extra={"latency_s": latency_s, "failure_rate": failure_rate},
    )
    wholesale = catalogue["web-s"]
    PlanMapping.objects.create(plan_code=wholesale.code, group=group, package="web-s")
    schema = created.tenant.schema_name
    with schema_context(schema):
        services.billing_settings_update(
            legal_name=created.tenant.name,
            country="IT",
            vat_number="IT01234567890",
            renewal_lead_days=0,
            payment_terms_days=0,
            grace_days=2,
            termination_days=20,
            reminder_days=[],
        )
        services.tax_rule_set(country="IT", rate="22")
        group_ = services.product_group_create(name="Hosting")
        product = services.product_create(group=group_, name="Web", type="shared_hosting")
        plan = services.plan_create(
            product=product,
            name="Web Start",
            prices={"monthly": Money(Decimal("4.99"), "EUR")},
            upstream_plan_ref=wholesale.code,
            upstream_cycle="monthly",
        )
        client = services.client_create(
            name="Maria Bianchi", email="maria@client.test", country="IT"
        )
    connection.set_schema_to_public()
    return ResaleWorld(schema, account, wholesale, server, plan, client)


def order_and_pay(world: ResaleWorld, *, key: str, domain: str = "") -> Service:
    """A client orders on the storefront and pays the invoice by bank transfer."""
    with schema_context(world.schema):
        cart = services.cart_create(client=world.client)
        services.cart_item_add(cart=cart, plan=world.plan, cycle="monthly", domain_name=domain)
        order = services.checkout_place(cart=cart, client=world.client, idempotency_key=key)
        invoice = order.invoice
        services.payment_record(
            invoice=invoice,
            amount=invoice.amount_due,
            method="bank_transfer",
            idempotency_key=f"pay-{key}",
        )
        service = Service.objects.get(order_item__order=order)
    connection.set_schema_to_public()
    return service


def wait_for(
    predicate: Callable[[], object],
    *,
    timeout: float = 60.0,
    interval: float = 0.1,
    what: str = "condition",
    describe: Callable[[], object] | None = None,
) -> object:
    """``describe`` says what the world looked like when the wait ran out, so a timeout in
    CI tells where things stuck."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    state = f"; state: {describe()}" if describe is not None else ""
    raise AssertionError(f"Timed out after {timeout:.0f} s waiting for {what}{state}")


def service_status(world: ResaleWorld, service: Service) -> str:
    with schema_context(world.schema):
        return Service.objects.get(pk=service.pk).status
