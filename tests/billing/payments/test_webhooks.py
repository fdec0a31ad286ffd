"""Webhooks: refused unless genuine and meant for this endpoint, and exactly once in any
order: every event of a full scenario delivered three times, shuffled, leaves the state
one ordered delivery leaves."""

from __future__ import annotations

import random
import re
import threading
import time
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test import Client as Browser
from django_tenants.utils import schema_context

from billing.models import CreditNote, Invoice, LedgerEntry, Payment, Refund
from billing.models.gateway import (
    Dispute,
    InvoiceDunning,
    PaymentAttempt,
    ProcessedWebhookEvent,
    SavedPaymentMethod,
)
from billing.payments.flows import (
    invoice_autocharge,
    invoice_pay_start,
    payment_method_setup_start,
    payment_refund_through_gateway,
)
from billing.payments.gateways.stripe import api as stripe_api
from billing.selectors import client_balance, client_credit
from sandbox.stripe import webhook_signature_header

from .conftest import WEBHOOK_SECRET
from .helpers import (
    WEBHOOK_PATH,
    client_make,
    deliver,
    eur,
    invoice_make,
    platform_configure,
    shop_connect,
    shop_own_keys,
)


@pytest.fixture
def shops(db, tenant_a, tenant_b, stripe_server, platform, stripe_settings, settings):
    platform_configure(stripe_settings, settings)
    return shop_connect(tenant_a, stripe_server, platform), shop_own_keys(tenant_b, stripe_server)


def _authenticated_payment(shop, server):
    """An invoice whose 3-D Secure the client finished at Stripe: only the webhook tells."""
    with schema_context(shop.schema):
        invoice = invoice_make(client_make(), "40.00")
        attempt = invoice_pay_start(invoice=invoice, method_ref="pm_card_authenticationRequired")
    server.complete_3ds(attempt.attempt.intent_ref)
    (event,) = server.events(shop.account, "payment_intent.succeeded")
    return invoice, event


def _nothing_changed(shop, invoice) -> None:
    with schema_context(shop.schema):
        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.ISSUED
        assert not Payment.objects.exists()
        assert not ProcessedWebhookEvent.objects.exists()


# --- refused --------------------------------------------------------------------------


def test_bad_signature_is_refused(shops, stripe_server):
    shop, _other = shops
    invoice, event = _authenticated_payment(shop, stripe_server)
    body, signature = stripe_server.webhook_payload(event, shop.webhook_secret)
    tampered = body.replace(b'"amount": 4000', b'"amount": 4001')
    assert tampered != body
    for payload, header in [(tampered, signature), (body, "t=1,v1=deadbeef"), (body, "")]:
        response = shop.browser().post(
            WEBHOOK_PATH,
            data=payload,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=header,
        )
        assert response.status_code == 400
    _nothing_changed(shop, invoice)


@pytest.mark.parametrize("offset_s", [-600, 600])
def test_a_timestamp_outside_the_tolerance_either_way_is_refused(shops, stripe_server, offset_s):
    shop, _other = shops
    invoice, event = _authenticated_payment(shop, stripe_server)
    signed_at = int(time.time()) + offset_s
    response = deliver(
        shop.browser(), stripe_server, event, shop.webhook_secret, timestamp=signed_at
    )
    assert response.status_code == 400
    _nothing_changed(shop, invoice)


def test_another_tenants_secret_is_refused(shops, stripe_server):
    shop, other = shops
    invoice, event = _authenticated_payment(shop, stripe_server)
    # Signed with B's secret, sent to A: the signature does not verify.
    assert deliver(shop.browser(), stripe_server, event, other.webhook_secret).status_code == 400
    # Signed with B's secret, sent to B: verified, but about A's account.
    response = deliver(other.browser(), stripe_server, event, other.webhook_secret)
    assert response.status_code == 400
    # The platform's secret does not open a tenant's endpoint either.
    assert deliver(shop.browser(), stripe_server, event, WEBHOOK_SECRET).status_code == 400
    _nothing_changed(shop, invoice)
    with schema_context(other.schema):
        assert not ProcessedWebhookEvent.objects.exists()
    assert deliver(shop.browser(), stripe_server, event, shop.webhook_secret).status_code == 200


def test_an_event_of_the_other_mode_is_refused(shops, stripe_server):
    shop, _other = shops
    invoice, event = _authenticated_payment(shop, stripe_server)
    live = dict(event, livemode=True)
    assert deliver(shop.browser(), stripe_server, live, shop.webhook_secret).status_code == 400
    _nothing_changed(shop, invoice)


def test_the_platform_endpoint_wants_the_platforms_secret(shops, stripe_server, settings):
    shop, _other = shops
    invoice, event = _authenticated_payment(shop, stripe_server)
    platform = Browser(HTTP_HOST=settings.PLATFORM_DOMAIN)
    assert deliver(platform, stripe_server, event, shop.webhook_secret).status_code == 400
    _nothing_changed(shop, invoice)


def test_a_get_is_not_an_event(shops):
    shop, _other = shops
    assert shop.browser().get(WEBHOOK_PATH).status_code == 405


def test_a_connect_event_at_the_platform_reaches_the_tenant(shops, stripe_server, settings):
    from .helpers import CONNECT_WEBHOOK_SECRET

    shop, _other = shops
    invoice, event = _authenticated_payment(shop, stripe_server)
    platform = Browser(HTTP_HOST=settings.PLATFORM_DOMAIN)
    response = deliver(platform, stripe_server, event, CONNECT_WEBHOOK_SECRET)
    assert response.status_code == 200 and response.json()["outcome"] == "processed"
    with schema_context(shop.schema):
        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.PAID


# --- exactly once, in any order -------------------------------------------------------


def _scenario(shop, server, browser, *, live: bool, name: str, email: str):
    """A client's life with the shop: a card saved in the browser, a payment after 3-D
    Secure, a card payment, a refund by the shop, a refund in Stripe's dashboard, a
    dispute, a failed automatic charge. ``live`` delivers each event once, in order,
    as it happens; otherwise the events are returned for later."""
    account = shop.account
    start = len(server.events(account))
    delivered = start

    def flush() -> None:
        nonlocal delivered
        if live:
            for event in server.events(account)[delivered:]:
                response = deliver(browser, server, event, shop.webhook_secret)
                assert response.status_code == 200, response.content
        delivered = len(server.events(account))

    with schema_context(shop.schema):
        client = client_make(name, email)
        setup = payment_method_setup_start(client=client)
    server.complete_setup_intent(setup.reference, "pm_card_mastercard")
    flush()

    with schema_context(shop.schema):
        authenticated = invoice_make(client, "40.00")
        pending = invoice_pay_start(
            invoice=authenticated, method_ref="pm_card_authenticationRequired"
        )
    flush()
    server.complete_3ds(pending.attempt.intent_ref)
    flush()

    with schema_context(shop.schema):
        paid = invoice_make(client, "100.00")
        invoice_pay_start(invoice=paid, method_ref="pm_card_visa")
        payment = Payment.objects.get(invoice=paid)
    flush()
    with schema_context(shop.schema):
        payment_refund_through_gateway(
            payment=payment, amount=eur("25.00"), idempotency_key=f"r-{email}"
        )
    flush()
    stripe_api.refund_create(
        api_key=shop.api_key,
        account=shop.stripe_account_header,
        idempotency_key=f"dashboard-{email}",
        payment_intent_id=payment.gateway_reference,
        amount=Decimal("15.00"),
        currency="EUR",
    )
    flush()
    charge = next(c for c in server.charges if c.payment_intent_id == payment.gateway_reference)
    server.create_dispute(charge.charge_id, amount=2000, reason="product_not_received")
    flush()

    with schema_context(shop.schema):
        declined = invoice_make(client, "30.00")
        invoice_pay_start(invoice=declined, method_ref="pm_card_chargeDeclined")
        payment_method_setup_start(client=client, method_ref="pm_card_chargeCustomerFail")
        invoice_autocharge(invoice=declined, on_date=declined.due_date)
    flush()
    return client, [e["id"] for e in server.events(account)[start:]]


def _m(value) -> str:
    return f"{value:.2f}"


def _snapshot(client) -> dict:
    invoices = Invoice.objects.filter(client=client).order_by("total_amount")
    numbers = {invoice.number: f"#{position}" for position, invoice in enumerate(invoices)}

    def anonymous(text: str) -> str:
        for number, label in numbers.items():
            text = text.replace(number, label)
        return re.sub(r"(pi|ch|re|dp|pm|cus|seti)_[A-Za-z0-9]+", r"\1_*", text)

    mails = sorted(
        anonymous(m.subject) + " → " + ",".join(sorted(m.to)).replace(client.email, "client")
        for m in mail.outbox
        if client.email in m.to or any(number in m.subject for number in numbers)
    )
    return {
        "invoices": [
            (_m(i.total_amount), i.status, _m(i.paid_amount), _m(i.credited_amount))
            for i in invoices
        ],
        "payments": sorted(
            (_m(p.amount), p.method, _m(p.refunded_amount))
            for p in Payment.objects.filter(client=client)
        ),
        "refunds": sorted(
            (_m(r.amount), r.to_credit) for r in Refund.objects.filter(payment__client=client)
        ),
        "credit_notes": sorted(
            (_m(n.total_amount), _m(n.to_credit_amount))
            for n in CreditNote.objects.filter(client=client)
        ),
        "ledger": sorted(
            (e.kind, _m(e.amount), e.invoice_id is not None)
            for e in LedgerEntry.objects.filter(client=client)
        ),
        "balance": _m(client_balance(client=client).amount),
        "credit": _m(client_credit(client=client).amount),
        "cards": sorted(
            (m.brand, m.last4, m.autocharge, m.is_active)
            for m in SavedPaymentMethod.objects.filter(client=client)
        ),
        "attempts": sorted(
            (a.kind, a.status, _m(a.amount), a.error_code)
            for a in PaymentAttempt.objects.filter(client=client)
        ),
        "dunning": sorted(
            (d.status, d.failures, (d.next_attempt_on - d.started_on).days)
            for d in InvoiceDunning.objects.filter(invoice__client=client)
        ),
        "disputes": sorted(
            (_m(d.amount), d.status, d.reason, d.payment_id is not None)
            for d in Dispute.objects.filter(client=client)
        ),
        "mails": mails,
    }


def test_three_shuffled_deliveries_leave_what_one_ordered_delivery_leaves(
    shops, stripe_server, django_capture_on_commit_callbacks
):
    shop, _other = shops
    browser = shop.browser()
    with django_capture_on_commit_callbacks(execute=True):
        ordered_client, _ordered_events = _scenario(
            shop, stripe_server, browser, live=True, name="Ada", email="ada@example.test"
        )
    with django_capture_on_commit_callbacks(execute=True):
        shuffled_client, events = _scenario(
            shop, stripe_server, browser, live=False, name="Grace", email="grace@example.test"
        )
        deliveries = events * 3
        random.Random(20261122).shuffle(deliveries)
        outcomes = []
        for event_id in deliveries:
            response = deliver(browser, stripe_server, event_id, shop.webhook_secret)
            assert response.status_code == 200, response.content
            outcomes.append(response.json()["outcome"])

    assert outcomes.count("duplicate") == 2 * len(events)
    with schema_context(shop.schema):
        ordered = _snapshot(ordered_client)
        shuffled = _snapshot(shuffled_client)
        processed = list(
            ProcessedWebhookEvent.objects.filter(event_id__in=events).values_list(
                "event_id", flat=True
            )
        )
    assert sorted(processed) == sorted(events), "each event recorded exactly once"
    assert shuffled == ordered
    # The scenario is not trivial: every effect is in the snapshot.
    assert ordered["invoices"] == [
        ("30.00", "issued", "0.00", "0.00"),
        ("40.00", "paid", "40.00", "0.00"),
        ("100.00", "paid", "60.00", "40.00"),
    ]
    # Partial refunds of a paid invoice pass through account credit to the card.
    assert ordered["refunds"] == [("15.00", True), ("25.00", True)]
    assert ordered["credit"] == "0.00" and ordered["balance"] == "30.00", "the unpaid 30.00"
    assert ordered["cards"] == [
        ("mastercard", "4444", False, True),
        ("visa", "0341", True, True),
    ]
    assert ordered["disputes"] == [("20.00", "needs_response", "product_not_received", True)]
    assert ordered["dunning"] == [("active", 1, 1)]
    assert len(ordered["ledger"]) == 13


# --- concurrent deliveries ------------------------------------------------------------


@pytest.mark.usefixtures("live_db")
def test_concurrent_deliveries_of_one_event_pay_once(
    tenant_factory, stripe_server, platform, stripe_settings, settings
):
    from tests.conftest import TenantWorld

    platform_configure(stripe_settings, settings)
    created = tenant_factory("Gamma Hosting")
    world = TenantWorld(created.tenant, created.domain.domain, None, None, None)
    shop = shop_connect(world, stripe_server, platform)
    invoice, _event = _authenticated_payment(shop, stripe_server)
    events = [
        e
        for e in stripe_server.events(shop.account)
        if e["type"] in ("payment_intent.succeeded", "charge.succeeded")
    ]
    payloads = [stripe_server.webhook_payload(e, shop.webhook_secret) for e in events * 4]
    barrier = threading.Barrier(len(payloads))
    statuses: list[int] = []

    def post(body: bytes, signature: str) -> None:
        try:
            barrier.wait(timeout=10)
            response = Browser(HTTP_HOST=world.host).post(
                WEBHOOK_PATH,
                data=body,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=signature,
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=payload) for payload in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert statuses == [200] * len(payloads)
    with schema_context(shop.schema):
        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.PAID
        assert Payment.objects.filter(invoice=invoice).count() == 1
        assert ProcessedWebhookEvent.objects.filter(
            event_id__in=[e["id"] for e in events]
        ).count() == len(events)


def test_signature_helper_matches_stripes_scheme():
    """The test server signs as Stripe does, so the library's own check accepts it."""
    header = webhook_signature_header(b"{}", "whsec_x", 1700000000)
    assert header.startswith("t=1700000000,v1=") and len(header.split("v1=")[1]) == 64


def test_a_late_consent_never_overrides_a_later_choice(shops, stripe_server):
    """Two cards saved in the browser one after the other: whatever order their events
    arrive in, the card chosen last is the one charged automatically."""
    shop, _other = shops
    with schema_context(shop.schema):
        client = client_make()
        older = payment_method_setup_start(client=client)
        newer = payment_method_setup_start(client=client)
    stripe_server.complete_setup_intent(newer.reference, "pm_card_visa")
    stripe_server.complete_setup_intent(older.reference, "pm_card_mastercard")
    succeeded = stripe_server.events(shop.account, "setup_intent.succeeded")
    by_intent = {e["data"]["object"]["id"]: e for e in succeeded}
    for intent in (newer.reference, older.reference):
        deliver(shop.browser(), stripe_server, by_intent[intent], shop.webhook_secret)
    with schema_context(shop.schema):
        chosen = SavedPaymentMethod.objects.get(client=client, autocharge=True)
        assert chosen.brand == "visa"
        # The client's own later choice holds against any replayed consent too.
        from billing.payments.flows import payment_method_autocharge_set

        other = SavedPaymentMethod.objects.get(client=client, brand="mastercard")
        payment_method_autocharge_set(method=other, enabled=True)
        assert SavedPaymentMethod.objects.get(client=client, autocharge=True).brand == "mastercard"
