"""Fixtures of the tenant API tests: a small shop in tenant A with one of everything the
API can address, API keys of A and B, and a client that speaks to a tenant's host."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client as HttpClient
from django_tenants.utils import schema_context

from api.keys import SCOPES, api_key_create
from api.webhooks import webhook_endpoint_create, webhook_event_publish
from billing import services
from billing.models import Client, Invoice, Order, Plan, Product, Service
from billing.money import Money
from support import services as support_services

ALL_SCOPES = sorted(SCOPES)


def eur(value: str | int) -> Money:
    return Money(Decimal(str(value)), "EUR")


class Api:
    """Requests to one tenant host with one key (or none)."""

    def __init__(self, host: str, token: str | None = None) -> None:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        self.http = HttpClient(HTTP_HOST=host, **headers)

    def call(self, method: str, path: str, body: Any = None, **headers: str):
        extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
        if method.upper() in ("POST", "PATCH", "PUT"):
            return getattr(self.http, method.lower())(
                path, json.dumps(body if body is not None else {}), "application/json", **extra
            )
        return getattr(self.http, method.lower())(path, **extra)

    def get(self, path: str, **headers: str):
        return self.call("GET", path, **headers)

    def post(self, path: str, body: Any = None, **headers: str):
        return self.call("POST", path, body, **headers)

    def patch(self, path: str, body: Any = None, **headers: str):
        return self.call("PATCH", path, body, **headers)

    def delete(self, path: str, **headers: str):
        return self.call("DELETE", path, **headers)


@dataclass
class Shop:
    """One of everything in tenant A, by model."""

    plan: Plan
    pro: Plan
    product: Product
    client: Client
    order: Order
    service: Service
    invoice: Invoice
    objects: dict[type, Any] = field(default_factory=dict)


def shop_build() -> Shop:
    """Run inside tenant A's schema."""
    from resale.models import UpstreamCommand

    services.billing_settings_update(
        legal_name="Alpha Hosting S.r.l.", country="IT", vat_number="IT01234567890"
    )
    services.tax_rule_set(country="IT", rate="22")
    group = services.product_group_create(name="Hosting")
    product = services.product_create(group=group, name="Web hosting", type="shared_hosting")
    plan = services.plan_create(
        product=product, name="Starter", prices={"monthly": eur("10.00"), "annual": eur(100)}
    )
    pro = services.plan_create(product=product, name="Pro", prices={"monthly": eur("30.00")})
    client = services.client_create(name="Mario Rossi", email="mario@example.test", country="IT")
    services.contact_create(client=client, name="Anna", email="anna@example.test")
    cart = services.cart_create(client=client)
    services.cart_item_add(cart=cart, plan=plan, cycle="monthly")
    order = services.checkout_place(cart=cart, client=client)
    invoice = order.invoice
    service = services.service_activate(service=Service.objects.get(order_item__order=order))
    payment = services.payment_record(
        invoice=invoice, amount=eur("5.00"), method="bank_transfer", idempotency_key="seed-pay"
    )
    credit_note = services.credit_note_issue(
        invoice=services.invoice_issue(
            invoice=_draft(client, "Setup help", eur("20.00")),
        ),
        reason="Goodwill",
    )
    command = UpstreamCommand.objects.create(
        idempotency_key="seed-command",
        action="suspend",
        service_ref=str(service.public_id),
        state=UpstreamCommand.State.FAILED,
        last_error="seeded",
    )
    endpoint = webhook_endpoint_create(url="https://hooks.example.com/tessera").endpoint
    delivery = webhook_event_publish(event_type="invoice.issued", data={"id": "x"})[0]
    department = support_services.department_save(name="API support")
    ticket = support_services.ticket_open(
        department=department, subject="API ticket", body="Seeded", client=client
    )
    shop = Shop(plan, pro, product, client, order, service, invoice)
    shop.objects = {
        type(ticket): ticket,
        Client: client,
        Product: product,
        Plan: plan,
        Order: order,
        Service: service,
        Invoice: invoice,
        type(payment): payment,
        type(credit_note): credit_note,
        UpstreamCommand: command,
        type(endpoint): endpoint,
        type(delivery): delivery,
    }
    return shop


def _draft(client: Client, description: str, price: Money) -> Invoice:
    invoice = services.invoice_create(client=client)
    services.invoice_line_add(invoice=invoice, description=description, unit_price=price)
    return invoice


def public_id_of(obj: Any) -> str:
    """The id the API shows for a row (upstream commands keep theirs as bare hex)."""
    import uuid

    value = obj.public_id
    return str(uuid.UUID(hex=value)) if isinstance(value, str) else str(value)


@pytest.fixture
def shop(db, tenant_a) -> Iterator[Shop]:
    with schema_context(tenant_a.schema):
        yield shop_build()


def make_key(world, scopes: list[str] | None = None, **kwargs: Any) -> str:
    with schema_context(world.schema):
        created = api_key_create(
            name=kwargs.pop("name", "test"),
            scopes=ALL_SCOPES if scopes is None else scopes,
            **kwargs,
        )
    return created.token


@pytest.fixture
def key_a(db, tenant_a) -> str:
    return make_key(tenant_a, rate_limit_per_minute=100000)


@pytest.fixture
def key_b(db, tenant_b) -> str:
    return make_key(tenant_b, rate_limit_per_minute=100000)


@pytest.fixture
def api_a(tenant_a, key_a) -> Api:
    return Api(tenant_a.host, key_a)
