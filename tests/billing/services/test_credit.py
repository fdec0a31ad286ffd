"""Account credit and refunds."""

from __future__ import annotations

import pytest

from billing import selectors, services
from billing.errors import BillingError
from billing.models import Invoice, LedgerEntry, Payment
from tests.billing.conftest import eur, invoice_for

pytestmark = pytest.mark.django_db


def test_added_credit_pays_invoices_when_applied(shop):
    services.billing_settings_update(credit_auto_apply=False)
    services.credit_add(
        client=shop.client, amount=eur(50), idempotency_key="top-up-1", payment_method="manual"
    )
    invoice = invoice_for(shop.client, ("Hosting", eur(100)))  # 122.00
    assert invoice.status == Invoice.Status.ISSUED
    payment = services.credit_apply(invoice=invoice)
    assert payment.method == Payment.Method.ACCOUNT_CREDIT and payment.money == eur(50)
    invoice.refresh_from_db()
    assert invoice.amount_due == eur(72)
    assert selectors.client_credit(client=shop.client) == eur(0)
    assert selectors.client_balance(client=shop.client) == eur(72)
    with pytest.raises(BillingError, match="no account credit"):
        services.credit_apply(invoice=invoice)


def test_credit_cannot_go_below_zero_nor_pay_more_than_due(shop):
    services.billing_settings_update(credit_auto_apply=False)
    services.credit_add(client=shop.client, amount=eur(500), idempotency_key="gift")
    invoice = invoice_for(shop.client, ("Hosting", eur(10)))
    with pytest.raises(BillingError, match="more than the"):
        services.credit_apply(invoice=invoice, amount=eur(100))
    other = invoice_for(shop.business_de, ("Hosting", eur(1000)))
    with pytest.raises(BillingError, match="less than"):
        services.credit_apply(invoice=other, amount=eur(600))
    assert selectors.client_credit(client=shop.client) == eur(500)


def test_the_same_credit_key_adds_once(shop):
    services.credit_add(client=shop.client, amount=eur(5), idempotency_key="k")
    services.credit_add(client=shop.client, amount=eur(5), idempotency_key="k")
    assert selectors.client_credit(client=shop.client) == eur(5)


def test_refund_of_a_paid_invoice_makes_it_due_again(shop):
    invoice = invoice_for(shop.client, ("Hosting", eur(100)))
    payment = services.payment_record(
        invoice=invoice, amount=eur(122), method="gateway", idempotency_key="p"
    )
    services.payment_refund(payment=payment, amount=eur(22), idempotency_key="r1")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PARTIALLY_PAID and invoice.amount_due == eur(22)
    assert selectors.client_balance(client=shop.client) == eur(22)
    with pytest.raises(BillingError, match=r"At most 100\.00"):
        services.payment_refund(payment=payment, amount=eur("100.01"), idempotency_key="r2")
    again = services.payment_refund(payment=payment, amount=eur(22), idempotency_key="r1")
    assert again.payment_id == payment.pk
    payment.refresh_from_db()
    assert payment.refunded == eur(22)


def test_refund_to_credit_keeps_the_money_on_the_account(shop):
    invoice = invoice_for(shop.client, ("Hosting", eur(100)))
    payment = services.payment_record(
        invoice=invoice, amount=eur(122), method="gateway", idempotency_key="p"
    )
    services.payment_refund(payment=payment, amount=eur(122), idempotency_key="r", to_credit=True)
    assert selectors.client_credit(client=shop.client) == eur(122)
    assert selectors.client_balance(client=shop.client) == eur(0)


def test_a_top_up_can_only_be_refunded_while_the_credit_is_there(shop):
    services.credit_add(
        client=shop.client, amount=eur(20), idempotency_key="t", payment_method="bank_transfer"
    )
    invoice_for(shop.client, ("Hosting", eur(10)))  # spends 12.20 of it
    top_up = Payment.objects.get(invoice__isnull=True)
    with pytest.raises(BillingError, match=r"Only 7\.80"):
        services.payment_refund(payment=top_up, amount=eur(20), idempotency_key="r")
    services.payment_refund(payment=top_up, amount=eur("7.80"), idempotency_key="r")
    assert selectors.client_credit(client=shop.client) == eur(0)


def test_ledger_entries_are_append_only(shop):
    from django.db import IntegrityError, connection, transaction

    from billing.errors import ImmutableRecordError

    services.credit_add(client=shop.client, amount=eur(5), idempotency_key="k")
    entry = LedgerEntry.objects.get()
    entry.amount = 0
    with pytest.raises(ImmutableRecordError):
        entry.save()
    with pytest.raises(ImmutableRecordError):
        entry.delete()
    for statement in (
        "UPDATE billing_ledgerentry SET amount = 1 WHERE id = %s",
        "DELETE FROM billing_ledgerentry WHERE id = %s",
    ):
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
            cur.execute(statement, [entry.pk])
    assert LedgerEntry.objects.get().money == -eur(5)
