"""Recording payments: amounts, states, idempotency."""

from __future__ import annotations

import pytest

from billing import selectors, services
from billing.errors import BillingError
from billing.models import Invoice, LedgerEntry, Payment
from billing.money import Money
from tests.billing.conftest import eur, invoice_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice(shop):
    return invoice_for(shop.client, ("Hosting", eur("100.00")))  # 122.00


def test_partial_then_full_payment(shop, invoice):
    services.payment_record(
        invoice=invoice, amount=eur("22.00"), method="bank_transfer", idempotency_key="p1"
    )
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PARTIALLY_PAID
    assert invoice.amount_due == eur("100.00")
    services.payment_record(
        invoice=invoice, amount=eur("100.00"), method="manual", idempotency_key="p2"
    )
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID and invoice.paid_at is not None
    assert selectors.client_balance(client=shop.client) == eur(0)


def test_the_same_idempotency_key_pays_once(shop, invoice):
    first = services.payment_record(
        invoice=invoice, amount=eur("50.00"), method="gateway", idempotency_key="pi_123"
    )
    again = services.payment_record(
        invoice=invoice, amount=eur("50.00"), method="gateway", idempotency_key="pi_123"
    )
    assert again.pk == first.pk
    assert Payment.objects.count() == 1
    invoice.refresh_from_db()
    assert invoice.paid == eur("50.00")
    with pytest.raises(BillingError, match="already used"):
        services.payment_record(
            invoice=invoice, amount=eur("10.00"), method="gateway", idempotency_key="pi_123"
        )


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (eur("0"), "more than zero"),
        (eur("-10"), "negative"),
        (eur("122.01"), "more than the"),
        (eur("1000000000"), "too large"),
        (eur("1.005"), "decimals"),
        (Money(10, "USD"), "USD"),
        ("abc", "not an amount"),
    ],
)
def test_bad_amounts_are_refused_and_change_nothing(shop, invoice, amount, message):
    entries = LedgerEntry.objects.count()
    with pytest.raises(BillingError, match=message):
        services.payment_record(
            invoice=invoice, amount=amount, method="manual", idempotency_key="bad"
        )
    invoice.refresh_from_db()
    assert invoice.paid == eur(0) and invoice.status == Invoice.Status.ISSUED
    assert LedgerEntry.objects.count() == entries
    assert not Payment.objects.exists()


def test_floats_never_reach_money(shop, invoice):
    with pytest.raises(BillingError, match="float"):
        services.payment_record(invoice=invoice, amount=10.5, method="manual", idempotency_key="f")


def test_unknown_method_and_missing_key_are_refused(shop, invoice):
    with pytest.raises(BillingError, match="not a payment method"):
        services.payment_record(invoice=invoice, amount=eur(1), method="cash", idempotency_key="k")
    with pytest.raises(BillingError, match="idempotency key"):
        services.payment_record(invoice=invoice, amount=eur(1), method="manual", idempotency_key="")


def test_a_cancelled_invoice_cannot_be_paid(shop, invoice):
    services.invoice_cancel(invoice=invoice, reason="Ordered by mistake")
    with pytest.raises(BillingError, match="cancelled"):
        services.payment_record(
            invoice=invoice, amount=eur(1), method="manual", idempotency_key="late"
        )


def test_a_draft_or_paid_invoice_cannot_be_paid(shop, invoice):
    draft = invoice_for(shop.client, ("Hosting", eur(1)), issue=False)
    with pytest.raises(BillingError, match="draft"):
        services.payment_record(invoice=draft, amount=eur(1), method="manual", idempotency_key="d")
    services.payment_record(invoice=invoice, amount=eur(122), method="manual", idempotency_key="a")
    with pytest.raises(BillingError, match="already paid"):
        services.payment_record(
            invoice=invoice, amount=eur(1), method="manual", idempotency_key="b"
        )


def test_a_payment_is_never_edited(shop, invoice):
    from billing.errors import ImmutableRecordError

    payment = services.payment_record(
        invoice=invoice, amount=eur(10), method="manual", idempotency_key="x"
    )
    payment.amount = 100
    with pytest.raises(ImmutableRecordError):
        payment.save()
    with pytest.raises(ImmutableRecordError):
        payment.delete()


def test_an_overdue_invoice_can_be_paid(shop, invoice):
    from datetime import timedelta

    services.invoice_mark_overdue(invoice=invoice, on_date=invoice.due_date + timedelta(days=1))
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OVERDUE
    services.payment_record(invoice=invoice, amount=eur(122), method="manual", idempotency_key="o")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
