"""Paying an invoice by card on the tenant's own Stripe account: at once, after 3-D
Secure, declined; and where the money lands."""

from __future__ import annotations

import pytest
from django.core import mail
from django_tenants.utils import schema_context

from billing.models import Invoice, Payment
from billing.models.gateway import PaymentAttempt
from billing.payments.flows import invoice_pay_start, payment_attempt_sync
from billing.payments.gateways import GatewayConfigError
from billing.payments.gateways.config import payment_settings_get
from sandbox.stripe import StripeServer

from .helpers import (
    browser_get,
    client_make,
    deliver,
    invoice_make,
    links_in,
    platform_configure,
    shop_connect,
    shop_own_keys,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(tenant_a, stripe_server, platform, stripe_settings, settings):
    platform_configure(stripe_settings, settings)
    return shop_connect(tenant_a, stripe_server, platform, fee="2.50")


def test_card_payment_lands_on_the_tenants_connected_account(shop, stripe_server, platform):
    with schema_context(shop.schema):
        invoice = invoice_make(client_make(), "100.00")
        started = invoice_pay_start(invoice=invoice, method_ref="pm_card_visa")
        invoice.refresh_from_db()
        payment = Payment.objects.get(invoice=invoice)

    assert started.attempt.status == PaymentAttempt.Status.SUCCEEDED
    assert invoice.status == Invoice.Status.PAID
    assert payment.method == Payment.Method.GATEWAY
    assert payment.idempotency_key == payment.gateway_reference == started.attempt.intent_ref
    (charge,) = stripe_server.charges
    assert charge.account == shop.account != platform.account
    assert charge.application_fee_amount == 250, "2.50 % of 100.00 EUR"
    assert stripe_server.charges_on(platform.account) == []


def test_three_d_secure_waits_mails_the_link_then_the_webhook_pays(
    shop, stripe_server, django_capture_on_commit_callbacks
):
    with schema_context(shop.schema):
        client = client_make()
        invoice = invoice_make(client, "40.00")
        with django_capture_on_commit_callbacks(execute=True):
            started = invoice_pay_start(
                invoice=invoice, method_ref="pm_card_authenticationRequired"
            )
        invoice.refresh_from_db()
        assert not Payment.objects.exists()
    attempt = started.attempt
    assert attempt.status == PaymentAttempt.Status.REQUIRES_ACTION
    assert invoice.status == Invoice.Status.ISSUED
    (message,) = mail.outbox
    assert message.to == [client.email]
    assert invoice.number in message.subject
    (link,) = [url for url in links_in(message) if "/3ds/" in url]

    # The client opens the link from the e-mail and passes its bank's check.
    status, location = browser_get(link)
    assert status == 302 and f"/payments/return/{attempt.public_id}/" in location

    events = stripe_server.events(shop.account)
    succeeded = [e for e in events if e["type"] == "payment_intent.succeeded"]
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(shop.browser(), stripe_server, succeeded[0], shop.webhook_secret)
    assert response.status_code == 200 and response.json()["outcome"] == "processed"
    with schema_context(shop.schema):
        invoice.refresh_from_db()
        attempt.refresh_from_db()
        assert invoice.status == Invoice.Status.PAID
        assert attempt.status == PaymentAttempt.Status.SUCCEEDED
        assert Payment.objects.filter(invoice=invoice).count() == 1
    assert len(mail.outbox) == 1, "no second authentication e-mail"


def test_the_return_page_settles_the_payment_before_any_webhook(shop, stripe_server):
    with schema_context(shop.schema):
        invoice = invoice_make(client_make(), "40.00")
        attempt = invoice_pay_start(
            invoice=invoice, method_ref="pm_card_threeDSecure2Required"
        ).attempt
    stripe_server.complete_3ds(attempt.intent_ref)
    response = shop.browser().get(f"/payments/return/{attempt.public_id}/")
    assert response.status_code == 302
    assert response["Location"] == "/?payment=succeeded"
    with schema_context(shop.schema):
        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.PAID


def test_declined_card_leaves_the_invoice_open_with_the_banks_message(shop, stripe_server):
    with schema_context(shop.schema):
        invoice = invoice_make(client_make(), "40.00")
        attempt = invoice_pay_start(
            invoice=invoice, method_ref="pm_card_chargeDeclinedInsufficientFunds"
        ).attempt
        invoice.refresh_from_db()
        assert not Payment.objects.exists()
    assert attempt.status == PaymentAttempt.Status.FAILED
    assert attempt.error_message == "Your card has insufficient funds."
    assert attempt.error_code == "insufficient_funds"
    assert invoice.status == Invoice.Status.ISSUED


def test_a_retried_request_with_the_same_key_charges_once(shop, stripe_server):
    with schema_context(shop.schema):
        invoice = invoice_make(client_make(), "40.00")
        first = invoice_pay_start(invoice=invoice, method_ref="pm_card_visa", idempotency_key="k1")
        again = invoice_pay_start(invoice=invoice, method_ref="pm_card_visa", idempotency_key="k1")
        payments = Payment.objects.filter(invoice=invoice).count()
    assert first.attempt.pk == again.attempt.pk
    assert payments == 1
    assert len(stripe_server.charges) == 1


def test_own_keys_collect_on_the_tenants_own_account(
    tenant_b, stripe_server, platform, stripe_settings, settings
):
    platform_configure(stripe_settings, settings)
    shop = shop_own_keys(tenant_b, stripe_server)
    with schema_context(shop.schema):
        invoice = invoice_make(client_make(), "60.00")
        invoice_pay_start(invoice=invoice, method_ref="pm_card_mastercard")
        invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    (charge,) = stripe_server.charges
    assert charge.account == charge.platform == shop.account
    assert charge.application_fee_amount is None
    assert stripe_server.charges_on(platform.account) == []


def test_without_its_own_account_a_tenant_cannot_take_cards(
    tenant_a, stripe_server, platform, stripe_settings, settings
):
    """Nothing falls back to the platform's key: the money would land on the provider."""
    platform_configure(stripe_settings, settings)
    with schema_context(tenant_a.schema):
        invoice = invoice_make(client_make(), "40.00")
        with pytest.raises(GatewayConfigError):
            invoice_pay_start(invoice=invoice, method_ref="pm_card_visa")
    assert stripe_server.charges == []


def test_an_unfinished_onboarding_takes_no_payment(
    tenant_a, stripe_server, platform, stripe_settings, settings
):
    from billing.payments.gateways.config import stripe_connect_onboard_start

    platform_configure(stripe_settings, settings)
    with schema_context(tenant_a.schema):
        link = stripe_connect_onboard_start(
            refresh_url="http://alpha/r", return_url="http://alpha/d"
        )
        again = stripe_connect_onboard_start(
            refresh_url="http://alpha/r", return_url="http://alpha/d"
        )
        assert again.account_id == link.account_id, "one account per tenant"
        assert not payment_settings_get().stripe_charges_enabled
        invoice = invoice_make(client_make(), "40.00")
        with pytest.raises(GatewayConfigError, match="onboarding"):
            invoice_pay_start(invoice=invoice, method_ref="pm_card_visa")
    assert stripe_server.charges == []


def test_account_updated_webhook_enables_charges(
    tenant_a, stripe_server: StripeServer, platform, stripe_settings, settings
):
    from billing.payments.gateways.config import (
        payment_settings_update,
        stripe_connect_onboard_start,
    )

    from .helpers import CONNECT_WEBHOOK_SECRET

    platform_configure(stripe_settings, settings)
    with schema_context(tenant_a.schema):
        link = stripe_connect_onboard_start(refresh_url="http://a/r", return_url="http://a/d")
        payment_settings_update(stripe_webhook_secret="whsec_alpha")
    stripe_server.complete_onboarding(link.account_id)
    (event,) = stripe_server.events(link.account_id, "account.updated")
    # Connect events reach the platform's endpoint and are routed to the tenant.
    from django.test import Client

    platform_browser = Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    response = deliver(platform_browser, stripe_server, event, CONNECT_WEBHOOK_SECRET)
    assert response.status_code == 200, response.content
    with schema_context(tenant_a.schema):
        assert payment_settings_get().stripe_charges_enabled


def test_sync_after_return_is_harmless_when_already_paid(shop, stripe_server):
    with schema_context(shop.schema):
        invoice = invoice_make(client_make(), "40.00")
        attempt = invoice_pay_start(invoice=invoice, method_ref="pm_card_visa").attempt
        for _ in range(3):
            payment_attempt_sync(attempt=attempt)
        assert Payment.objects.filter(invoice=invoice).count() == 1
