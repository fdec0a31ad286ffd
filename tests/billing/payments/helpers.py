"""Building blocks of the payment tests: a tenant collecting on its Connect account or
with its own keys, clients and issued invoices, and webhook deliveries signed with
Stripe's scheme by the local Stripe server."""

from __future__ import annotations

import http.client
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit

from django.core import mail
from django.test import Client as Browser
from django_tenants.utils import schema_context

from billing import services
from billing.models import Client, Invoice
from billing.money import Money
from billing.payments.gateways.config import (
    payment_platform_fee_set,
    payment_settings_update,
    stripe_connect_onboard_start,
    stripe_connect_refresh,
)
from sandbox.stripe import StripeServer
from tests.conftest import PROVIDER_CLEANUP_BEFORE

from .conftest import PLATFORM_KEY, WEBHOOK_SECRET, Platform, StripeSettings

WEBHOOK_PATH = "/payments/stripe/webhook/"

# Provider-side payment rows of a throw-away tenant go before its balance entries.
for _statement in (
    "DELETE FROM resale_resellertopup WHERE account_id IN ({accounts})",
    "DELETE FROM resale_resellerpaymentprofile WHERE account_id IN ({accounts})",
):
    if _statement not in PROVIDER_CLEANUP_BEFORE:
        PROVIDER_CLEANUP_BEFORE.append(_statement)
CONNECT_WEBHOOK_SECRET = "whsec_connect_0123456789abcdef"


def eur(value: str | int) -> Money:
    return Money(Decimal(str(value)), "EUR")


def platform_configure(stripe_settings: StripeSettings, settings) -> None:
    """The platform's keys and the URLconfs with the payment routes."""
    stripe_settings.set(
        STRIPE_SECRET_KEY=PLATFORM_KEY,
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STRIPE_CONNECT_WEBHOOK_SECRET=CONNECT_WEBHOOK_SECRET,
    )
    settings.ROOT_URLCONF = "tests.billing.payments.urls_tenant"
    settings.PUBLIC_SCHEMA_URLCONF = "tests.billing.payments.urls_public"


@dataclass
class Shop:
    """A tenant that takes card payments, as its webhook endpoint and Stripe see it."""

    world: object
    account: str  # the Stripe account its clients' money lands on
    webhook_secret: str
    api_key: str  # the key that reaches that account
    stripe_account_header: str | None  # Stripe-Account for direct charges, or None

    @property
    def schema(self) -> str:
        return self.world.schema

    def browser(self) -> Browser:
        return Browser(HTTP_HOST=self.world.host)


def shop_connect(
    world, server: StripeServer, platform: Platform, *, fee: str = "0", secret: str = ""
) -> Shop:
    """The tenant onboards a Stripe Connect account through the platform."""
    secret = secret or f"whsec_{world.schema}_tenant_secret"
    with schema_context(world.schema):
        link = stripe_connect_onboard_start(
            refresh_url=f"http://{world.host}/console/payments/refresh",
            return_url=f"http://{world.host}/console/payments/done",
            email=f"owner@{world.schema}.test",
        )
        status, location = browser_get(link.url)
        assert status == 302 and location.endswith("/console/payments/done")
        row = stripe_connect_refresh()
        assert row.stripe_charges_enabled
        payment_settings_update(stripe_webhook_secret=secret)
    if fee != "0":
        payment_platform_fee_set(tenant=world.tenant, percent=fee)
    return Shop(world, link.account_id, secret, platform.api_key, link.account_id)


def shop_own_keys(world, server: StripeServer, *, key: str = "", secret: str = "") -> Shop:
    """The tenant enters the keys of its own Stripe account."""
    key = key or f"sk_test_{world.schema}_own_account_key"
    secret = secret or f"whsec_{world.schema}_own_secret"
    account = server.register_key(key)
    with schema_context(world.schema):
        payment_settings_update(
            stripe_mode="own_keys", stripe_secret_key=key, stripe_webhook_secret=secret
        )
    return Shop(world, account, secret, key, None)


def client_make(name: str = "Ada Lovelace", email: str = "ada@example.test") -> Client:
    return services.client_create(name=name, email=email, country="IT")


def invoice_make(client: Client, amount: str = "100.00", **issue) -> Invoice:
    invoice = services.invoice_create(client=client)
    services.invoice_line_add(invoice=invoice, description="Web hosting", unit_price=eur(amount))
    return services.invoice_issue(invoice=invoice, **issue)


def deliver(
    browser: Browser,
    server: StripeServer,
    event: dict | str,
    secret: str,
    *,
    timestamp: int | None = None,
):
    body, signature = server.webhook_payload(event, secret, timestamp=timestamp)
    return browser.post(
        WEBHOOK_PATH, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )


def browser_get(url: str) -> tuple[int, str | None]:
    """A person opening a page of the local Stripe (3-D Secure, onboarding)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status, response.getheader("Location")


def links_in(message) -> list[str]:
    return re.findall(r"https?://\S+", message.body)


def outbox_subjects() -> list[str]:
    return [m.subject for m in mail.outbox]


def event_ids(server: StripeServer, account: str, since: int = 0) -> list[str]:
    return [e["id"] for e in server.events(account)[since:]]


def dump(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)
