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
from billing.models import Client, ConfigurableOption, Plan, Service
from billing.money import Money
from provisioning.models import PlanMapping, Server, ServerGroup
from provisioning.services import server_create
from resale.models import PriceList, ResellerAccount, WholesalePlan
from resale.services import reseller_balance_topup
from tenants.models import Tenant
from tests.resale.factories import account_on, wholesale_catalogue, wholesale_options


@dataclass
class ResaleWorld:
    schema: str
    account: ResellerAccount
    wholesale_plan: WholesalePlan
    server: Server
    plan: Plan
    client: Client
    # Tenant options by name: "ram" and "ipv4" resold, "support" the reseller's own.
    options: dict[str, ConfigurableOption] | None = None


def resale_world_build(
    created,
    *,
    top_up: str = "10.00",
    latency_s: float = 0.0,
    failure_rate: float = 0.0,
    with_options: bool = False,
) -> ResaleWorld:
    prefix = f"r{uuid.uuid4().hex[:6]}-"
    catalogue = wholesale_catalogue(code_prefix=prefix)
    if created.tenant.kind == Tenant.Kind.RETAIL:
        # The provider's retail brand buys at cost: the world's list is the provider's cost.
        PriceList.objects.filter(pk=catalogue["price_list"].pk).update(is_cost=True)
        catalogue["price_list"].is_cost = True
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
    PlanMapping.objects.create(
        plan_code=wholesale.code, group=group, package="web-s", options={"ram_mb": 1024}
    )
    if with_options:
        wholesale_options(price_list=catalogue["price_list"], plans=[wholesale], code_prefix=prefix)
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
        options = _tenant_options(plan, prefix) if with_options else None
    connection.set_schema_to_public()
    return ResaleWorld(schema, account, wholesale, server, plan, client, options)


def _tenant_options(plan: Plan, prefix: str) -> dict[str, ConfigurableOption]:
    """The reseller's catalogue: the provider's RAM and IPv4 options resold with a markup,
    and a support plan of its own that the provider knows nothing about."""
    eur = lambda amount: Money(Decimal(amount), "EUR")  # noqa: E731
    ram = services.configurable_option_create(
        name="Extra RAM",
        choices={"+2 GB": {"monthly": eur("4.00")}, "+4 GB": {"monthly": eur("7.00")}},
        plans=[plan],
        upstream_option_ref=f"{prefix}ram",
        upstream_choice_refs={"+2 GB": "2gb", "+4 GB": "4gb"},
    )
    ipv4 = services.configurable_option_create(
        name="IPv4 addresses",
        kind="quantity",
        max_quantity=4,
        choices={"Address": {"monthly": eur("2.00")}},
        plans=[plan],
        upstream_option_ref=f"{prefix}ipv4",
        upstream_choice_refs={"Address": "ip"},
    )
    support = services.configurable_option_create(
        name="Priority support", choices={"Yes": {"monthly": eur("9.00")}}, plans=[plan]
    )
    return {"ram": ram, "ipv4": ipv4, "support": support}


def order_and_pay(
    world: ResaleWorld, *, key: str, domain: str = "", options: dict | None = None
) -> Service:
    """A client orders on the storefront and pays the invoice by bank transfer.
    ``options`` maps an option name of ``world.options`` to a choice name, or to
    (choice name, quantity)."""
    with schema_context(world.schema):
        cart = services.cart_create(client=world.client)
        picked = {}
        for name, value in (options or {}).items():
            option = world.options[name]
            choice_name, quantity = value if isinstance(value, tuple) else (value, 1)
            picked[option] = (option.choices.get(name=choice_name), quantity)
        services.cart_item_add(
            cart=cart, plan=world.plan, cycle="monthly", domain_name=domain, options=picked
        )
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
    # A bound on liveness, not a speed goal: the suite's one worker may still be busy with
    # earlier tests' work when a wait starts.
    timeout: float = 180.0,
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
