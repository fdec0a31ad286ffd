"""Refunds through the gateway, each with its credit note; refunds made in Stripe's
dashboard; disputes recorded and staff told."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django_tenants.utils import schema_context

from billing import services
from billing.models import CreditNote, Invoice, Payment, Refund
from billing.models.gateway import Dispute
from billing.payments.flows import (
    bank_transfer_record,
    invoice_for_payment_reference,
    invoice_pay_start,
    invoice_payment_reference,
    payment_refund_through_gateway,
)
from billing.payments.gateways.stripe import api as stripe_api
from billing.selectors import client_balance, client_credit, invoice_ledger_due

from .helpers import client_make, deliver, eur, invoice_make, platform_configure, shop_connect

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(tenant_a, stripe_server, platform, stripe_settings, settings):
    platform_configure(stripe_settings, settings)
    return shop_connect(tenant_a, stripe_server, platform)


def _paid_invoice(lines=(("Hosting", "60.00"), ("Domain", "40.00"))):
    client = client_make()
    invoice = services.invoice_create(client=client)
    for description, amount in lines:
        services.invoice_line_add(invoice=invoice, description=description, unit_price=eur(amount))
    invoice = services.invoice_issue(invoice=invoice)
    invoice_pay_start(invoice=invoice, method_ref="pm_card_visa")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    return client, invoice, Payment.objects.get(invoice=invoice)


def test_full_refund_goes_back_to_the_card_with_a_full_credit_note(shop, stripe_server):
    with schema_context(shop.schema):
        client, invoice, payment = _paid_invoice()
        refund = payment_refund_through_gateway(
            payment=payment, idempotency_key="r1", reason="Client cancelled"
        )
        invoice.refresh_from_db()
        (note,) = CreditNote.objects.filter(invoice=invoice)
        balance, credit = client_balance(client=client), client_credit(client=client)
    (charge,) = stripe_server.charges
    assert charge.amount_refunded == 10000
    assert refund.gateway_reference.startswith("re_") and refund.money == eur("100.00")
    assert note.total == eur("100.00") and note.to_credit.amount == 0
    assert invoice.status == Invoice.Status.CANCELLED
    assert (invoice.paid_amount, invoice.credited_amount) == (0, Decimal("100.00"))
    assert balance.amount == 0 and credit.amount == 0


def test_partial_refund_credits_the_lines_pro_rata(shop, stripe_server):
    with schema_context(shop.schema):
        client, invoice, payment = _paid_invoice()
        payment_refund_through_gateway(payment=payment, amount=eur("30.00"), idempotency_key="r1")
        invoice.refresh_from_db()
        (note,) = CreditNote.objects.filter(invoice=invoice)
        parts = sorted(line.total_amount for line in note.lines.all())
        due = invoice_ledger_due(invoice=invoice)
        credit = client_credit(client=client)
    assert stripe_server.charges[0].amount_refunded == 3000
    assert note.total == eur("30.00") and parts == [Decimal("12.00"), Decimal("18.00")]
    assert invoice.status == Invoice.Status.PAID
    assert (invoice.paid_amount, invoice.credited_amount) == (Decimal("70.00"), Decimal("30.00"))
    assert due.amount == 0 and credit.amount == 0


def test_the_same_refund_request_twice_refunds_once(shop, stripe_server):
    with schema_context(shop.schema):
        _client, invoice, payment = _paid_invoice()
        first = payment_refund_through_gateway(
            payment=payment, amount=eur("10.00"), idempotency_key="same"
        )
        payment.refresh_from_db()
        again = payment_refund_through_gateway(
            payment=payment, amount=eur("10.00"), idempotency_key="same"
        )
        assert first.pk == again.pk
        assert Refund.objects.filter(payment=payment).count() == 1
        assert CreditNote.objects.filter(invoice=invoice).count() == 1
    assert stripe_server.charges[0].amount_refunded == 1000


def test_refund_webhooks_after_our_own_refund_change_nothing(shop, stripe_server):
    with schema_context(shop.schema):
        _client, invoice, payment = _paid_invoice()
        mark = len(stripe_server.events(shop.account))
        payment_refund_through_gateway(payment=payment, amount=eur("25.00"), idempotency_key="r")
    for event in stripe_server.events(shop.account)[mark:] * 2:
        assert deliver(shop.browser(), stripe_server, event, shop.webhook_secret).status_code == 200
    with schema_context(shop.schema):
        assert Refund.objects.filter(payment=payment).count() == 1
        assert CreditNote.objects.filter(invoice=invoice).count() == 1


def test_a_refund_made_in_the_stripe_dashboard_is_booked_from_its_webhook(shop, stripe_server):
    with schema_context(shop.schema):
        _client, invoice, payment = _paid_invoice()
    mark = len(stripe_server.events(shop.account))
    stripe_api.refund_create(
        api_key=shop.api_key,
        account=shop.stripe_account_header,
        idempotency_key="dashboard-1",
        payment_intent_id=payment.gateway_reference,
        amount=Decimal("40.00"),
        currency="EUR",
    )
    for event in stripe_server.events(shop.account)[mark:]:
        assert deliver(shop.browser(), stripe_server, event, shop.webhook_secret).status_code == 200
    with schema_context(shop.schema):
        invoice.refresh_from_db()
        (refund,) = Refund.objects.filter(payment=payment)
        (note,) = CreditNote.objects.filter(invoice=invoice)
    assert refund.money == eur("40.00") and note.total == eur("40.00")
    assert invoice.status == Invoice.Status.PAID and invoice.paid_amount == Decimal("60.00")


def test_a_dispute_is_recorded_once_and_staff_are_told(
    shop, stripe_server, django_capture_on_commit_callbacks
):
    with schema_context(shop.schema):
        client, invoice, payment = _paid_invoice()
    mark = len(stripe_server.events(shop.account))
    stripe_server.create_dispute(stripe_server.charges[0].charge_id, reason="fraudulent")
    events = stripe_server.events(shop.account)[mark:]
    with django_capture_on_commit_callbacks(execute=True):
        for event in events * 3:
            deliver(shop.browser(), stripe_server, event, shop.webhook_secret)
    with schema_context(shop.schema):
        (dispute,) = Dispute.objects.all()
    assert (dispute.payment_id, dispute.invoice_id, dispute.client_id) == (
        payment.pk,
        invoice.pk,
        client.pk,
    )
    assert dispute.money == eur("100.00") and dispute.reason == "fraudulent"
    assert dispute.status == "needs_response"
    (message,) = mail.outbox
    assert shop.world.owner.email in message.to
    assert shop.world.readonly.email not in message.to
    assert invoice.number in message.subject


def test_bank_transfer_reference_record_and_refund(shop, stripe_server):
    with schema_context(shop.schema):
        client = client_make()
        invoice = invoice_make(client, "50.00")
        reference = invoice_payment_reference(invoice)
        assert reference.startswith("RF")
        assert invoice_for_payment_reference(reference.lower()).pk == invoice.pk
        typo = reference[:2] + ("00" if reference[2:4] != "00" else "01") + reference[4:]
        with pytest.raises(services.BillingError, match="check digits"):
            invoice_for_payment_reference(typo)
        payment = bank_transfer_record(invoice=invoice, amount=eur("50.00"), bank_reference="B-1")
        again = bank_transfer_record(invoice=invoice, amount=eur("50.00"), bank_reference="B-1")
        assert payment.pk == again.pk
        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.PAID
        with pytest.raises(services.BillingError, match="reference of the transfer"):
            payment_refund_through_gateway(payment=payment, idempotency_key="x")
        refund = payment_refund_through_gateway(
            payment=payment, idempotency_key="x", bank_reference="OUT-7"
        )
        invoice.refresh_from_db()
        assert refund.gateway_reference == "OUT-7"
        assert invoice.status == Invoice.Status.CANCELLED
        assert CreditNote.objects.filter(invoice=invoice).count() == 1
    assert stripe_server.charges == []


def test_a_partial_refund_does_not_pay_the_invoice_a_second_time(shop, stripe_server):
    """A renewal invoice that went from paid to due and back to paid would renew its
    service again (and send the upstream another renew): the refund never lets it."""
    from datetime import timedelta

    from billing.events import ServiceEventKind, service_event_tx_listeners
    from billing.models import InvoiceLine, Service

    seen: list[str] = []

    def listen(event) -> None:
        seen.append(event.kind)

    with schema_context(shop.schema):
        group = services.product_group_create(name="Hosting")
        product = services.product_create(group=group, name="Web", type="shared_hosting")
        plan = services.plan_create(product=product, name="S", prices={"monthly": eur("20.00")})
        client = client_make()
        service = services.service_create(
            client=client, plan=plan, cycle="monthly", status=Service.Status.ACTIVE
        )
        start = service.next_due_date
        invoice = services.invoice_create(client=client)
        services.invoice_line_add(
            invoice=invoice,
            description="Renewal",
            unit_price=eur("20.00"),
            kind=InvoiceLine.Kind.RENEWAL,
            service=service,
            period_start=start,
            period_end=start + timedelta(days=30),
        )
        invoice = services.invoice_issue(invoice=invoice)
        invoice_pay_start(invoice=invoice, method_ref="pm_card_visa")
        invoice.refresh_from_db()
        paid_at = invoice.paid_at
        payment = Payment.objects.get(invoice=invoice)
        service_event_tx_listeners.append(listen)
        try:
            payment_refund_through_gateway(
                payment=payment, amount=eur("5.00"), idempotency_key="part"
            )
        finally:
            service_event_tx_listeners.remove(listen)
        invoice.refresh_from_db()
    assert ServiceEventKind.RENEWED not in seen
    assert invoice.status == Invoice.Status.PAID and invoice.paid_at == paid_at
    assert (invoice.paid_amount, invoice.credited_amount) == (Decimal("15.00"), Decimal("5.00"))
