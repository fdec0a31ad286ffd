"""The ledger under random sequences of operations: whatever a client, staff and the
gateway do, in whatever order, the books stay consistent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from billing import selectors, services
from billing.errors import BillingError
from billing.models import Invoice, LedgerEntry, Payment
from billing.money import Money
from tests.billing.conftest import eur, shop_build

OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "issue",
                "pay",
                "pay_full",
                "refund",
                "refund_to_credit",
                "credit_note",
                "credit_note_full",
                "add_credit",
                "apply_credit",
                "cancel",
            ]
        ),
        st.integers(min_value=1, max_value=30000),  # cents
        st.integers(min_value=0, max_value=10),  # which invoice or payment
    ),
    min_size=1,
    max_size=25,
)


class Rollback(Exception):
    pass


def _apply(shop, operation: str, cents: int, pick: int, counter: list[int]) -> None:
    client = shop.client
    amount = Money(Decimal(cents) / 100, "EUR")
    invoices = list(Invoice.objects.filter(client=client).order_by("pk"))
    invoice = invoices[pick % len(invoices)] if invoices else None
    counter[0] += 1
    key = f"op-{counter[0]}"
    if operation == "issue":
        draft = services.invoice_create(client=client)
        services.invoice_line_add(invoice=draft, description="Hosting", unit_price=amount)
        if pick % 3 == 0:
            services.invoice_line_add(
                invoice=draft, description="Discount", unit_price=-eur("0.01"), kind="discount"
            )
        services.invoice_issue(invoice=draft)
    elif operation == "pay" and invoice is not None:
        services.payment_record(
            invoice=invoice, amount=amount, method="manual", idempotency_key=key
        )
    elif operation == "pay_full" and invoice is not None:
        invoice.refresh_from_db()
        services.payment_record(
            invoice=invoice, amount=invoice.amount_due, method="gateway", idempotency_key=key
        )
    elif operation in {"refund", "refund_to_credit"}:
        payments = list(Payment.objects.filter(client=client).order_by("pk"))
        if payments:
            services.payment_refund(
                payment=payments[pick % len(payments)],
                amount=amount,
                idempotency_key=key,
                to_credit=operation == "refund_to_credit",
            )
    elif operation == "credit_note" and invoice is not None:
        line = invoice.lines.order_by("pk").first()
        services.credit_note_issue(
            invoice=invoice,
            reason="Partial correction",
            lines=[services.CreditLine(invoice_line=line, amount=amount)],
        )
    elif operation == "credit_note_full" and invoice is not None:
        services.credit_note_issue(invoice=invoice, reason="Full correction")
    elif operation == "add_credit":
        services.credit_add(client=client, amount=amount, idempotency_key=key)
    elif operation == "apply_credit" and invoice is not None:
        services.credit_apply(invoice=invoice)
    elif operation == "cancel" and invoice is not None:
        services.invoice_cancel(invoice=invoice)


def _check(shop, seen: dict[int, tuple]) -> None:
    client = shop.client
    entries = list(LedgerEntry.objects.filter(client=client).order_by("pk"))
    # Entries never change once written.
    for entry in entries:
        row = (entry.kind, entry.amount, entry.invoice_id, entry.payment_id)
        assert seen.setdefault(entry.pk, row) == row
    assert len(seen) == len(entries), "no entry ever disappears"

    balance = selectors.client_balance(client=client)
    credit = selectors.client_credit(client=client)
    assert balance.amount == sum((e.amount for e in entries), Decimal(0))
    assert credit.amount >= 0, "account credit never goes negative"

    due_total = Decimal(0)
    for invoice in Invoice.objects.filter(client=client):
        assert invoice.status != Invoice.Status.DRAFT
        assert 0 <= invoice.paid_amount <= invoice.total_amount - invoice.credited_amount
        assert invoice.credited_amount <= invoice.total_amount
        payments = invoice.payments.all()
        assert invoice.paid_amount == sum(
            (p.amount - p.refunded_amount for p in payments), Decimal(0)
        )
        assert invoice.credited_amount == sum(
            (c.total_amount for c in invoice.credit_notes.all()), Decimal(0)
        )
        assert selectors.invoice_ledger_due(invoice=invoice) == invoice.amount_due
        due_total += invoice.amount_due.amount
        expected = {
            True: {Invoice.Status.PAID, Invoice.Status.CANCELLED},
            False: {Invoice.Status.ISSUED, Invoice.Status.PARTIALLY_PAID, Invoice.Status.OVERDUE},
        }[invoice.amount_due.amount == 0]
        assert invoice.status in expected
    for payment in Payment.objects.filter(client=client):
        assert 0 <= payment.refunded_amount <= payment.amount
    # What the client owes overall is what its invoices still ask for, less its credit.
    assert balance.amount == due_total - credit.amount


@pytest.mark.django_db
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=OPERATIONS)
def test_random_operations_keep_the_books_consistent(in_tenant_a, operations):
    try:
        with transaction.atomic():
            shop = shop_build()
            seen: dict[int, tuple] = {}
            counter = [0]
            for operation, cents, pick in operations:
                try:
                    with transaction.atomic():
                        _apply(shop, operation, cents, pick, counter)
                    event(f"{operation} done")
                except BillingError:
                    # A refused operation changes nothing; the invariants below say so.
                    event(f"{operation} refused")
                _check(shop, seen)
            raise Rollback
    except Rollback:
        pass
