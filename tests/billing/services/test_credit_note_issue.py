"""Credit notes: full and partial, on unpaid and paid invoices; and invoice_cancel."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import IntegrityError, connection, transaction

from billing import selectors, services
from billing.errors import BillingError, ImmutableRecordError
from billing.models import CreditNote, Invoice, Refund
from tests.billing.conftest import eur, invoice_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice(shop):
    # 100 + 22 VAT and 10 + 2.20 VAT
    return invoice_for(shop.client, ("VPS", eur(100)), ("Backup", eur(10)))


def test_full_credit_of_an_unpaid_invoice_cancels_it(shop, invoice):
    note = services.credit_note_issue(invoice=invoice, reason="Wrong product")
    assert note.number == f"CN-{date.today().year}/00001"
    assert note.total == invoice.total == eur("134.20")
    assert note.subtotal == eur(110) and note.tax_total == eur("24.20")
    assert note.lines.count() == 2
    assert note.seller["name"] == "Alfa Servizi Internet S.r.l."
    assert note.buyer == invoice.buyer
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.CANCELLED
    assert invoice.amount_due == eur(0)
    assert selectors.client_balance(client=shop.client) == eur(0)
    # Credit notes have their own sequence; invoices keep theirs.
    assert invoice_for(shop.client, ("X", eur(1))).number.endswith("/00002")


def test_partial_credit_of_an_unpaid_invoice_lowers_what_is_due(shop, invoice):
    line = invoice.lines.get(description="VPS")
    note = services.credit_note_issue(
        invoice=invoice,
        reason="Two days of downtime",
        lines=[services.CreditLine(invoice_line=line, amount=eur("12.20"))],
    )
    assert note.subtotal == eur(10) and note.tax_total == eur("2.20")
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.ISSUED
    assert invoice.amount_due == eur(122)
    # The rest of the line can still be credited, but not more.
    with pytest.raises(BillingError, match=r"At most 109\.80"):
        services.credit_note_issue(
            invoice=invoice,
            reason="Too much",
            lines=[services.CreditLine(invoice_line=line, amount=eur(110))],
        )
    services.credit_note_issue(
        invoice=invoice, reason="Rest", lines=[services.CreditLine(invoice_line=line)]
    )
    invoice.refresh_from_db()
    assert invoice.amount_due == eur("12.20")
    line_credits = sum(cl.total_amount for cl in line.credit_note_lines.all())
    assert line_credits == line.total_amount


def test_credit_of_a_paid_invoice_becomes_account_credit(shop, invoice):
    services.payment_record(
        invoice=invoice, amount=eur("134.20"), method="manual", idempotency_key="p"
    )
    note = services.credit_note_issue(invoice=invoice, reason="Refund requested")
    assert note.to_credit == eur("134.20")
    assert Refund.objects.get().to_credit
    invoice.refresh_from_db()
    assert invoice.paid == eur(0) and invoice.credited == eur("134.20")
    assert selectors.client_credit(client=shop.client) == eur("134.20")
    assert selectors.client_balance(client=shop.client) == eur("-134.20")
    # That credit pays the next invoice by itself.
    following = invoice_for(shop.client, ("VPS", eur(100)))
    assert following.status == Invoice.Status.PAID
    assert selectors.client_credit(client=shop.client) == eur("12.20")


def test_a_credit_note_never_changes(shop, invoice):
    note = services.credit_note_issue(invoice=invoice, reason="Wrong")
    note.reason = "Edited"
    with pytest.raises(ImmutableRecordError):
        note.save()
    with pytest.raises(ImmutableRecordError):
        CreditNote.objects.get(pk=note.pk).delete()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE billing_creditnote SET total_amount = 1 WHERE id = %s", [note.pk])


def test_bad_credit_notes_change_nothing(shop, invoice):
    other = invoice_for(shop.client, ("Other", eur(5)))
    with pytest.raises(BillingError, match="reason"):
        services.credit_note_issue(invoice=invoice, reason=" ")
    with pytest.raises(BillingError, match="not a line of"):
        services.credit_note_issue(
            invoice=invoice,
            reason="x",
            lines=[services.CreditLine(invoice_line=other.lines.get())],
        )
    with pytest.raises(BillingError, match="negative"):
        services.credit_note_issue(
            invoice=invoice,
            reason="x",
            lines=[services.CreditLine(invoice_line=invoice.lines.first(), amount=eur(-1))],
        )
    draft = invoice_for(shop.client, ("Draft", eur(5)), issue=False)
    with pytest.raises(BillingError, match="draft"):
        services.credit_note_issue(invoice=draft, reason="x")
    assert not CreditNote.objects.exists()
    services.credit_note_issue(invoice=invoice, reason="All")
    with pytest.raises(BillingError, match="Nothing is left"):
        services.credit_note_issue(invoice=invoice, reason="Again")


def test_cancel_a_draft_drops_it_without_a_number(shop):
    draft = invoice_for(shop.client, ("Hosting", eur(10)), issue=False)
    services.invoice_cancel(invoice=draft)
    draft.refresh_from_db()
    assert draft.status == Invoice.Status.CANCELLED and draft.number == ""
    assert not draft.lines.exists()
    assert not CreditNote.objects.exists()


def test_cancel_an_unpaid_order_invoice_cancels_its_pending_services(shop):
    cart = services.cart_create(client=shop.client)
    services.cart_item_add(cart=cart, plan=shop.starter, cycle="monthly")
    order = services.checkout_place(cart=cart, client=shop.client)
    invoice = services.invoice_cancel(invoice=order.invoice, reason="Changed my mind")
    assert invoice.status == Invoice.Status.CANCELLED
    assert CreditNote.objects.filter(invoice=invoice).count() == 1
    service = order.items.get().services.get()
    assert service.status == service.Status.CANCELLED


def test_cancel_refuses_an_invoice_with_payments(shop, invoice):
    services.payment_record(invoice=invoice, amount=eur(1), method="manual", idempotency_key="p")
    with pytest.raises(BillingError, match="has payments"):
        services.invoice_cancel(invoice=invoice)
    draft = invoice_for(shop.client, ("X", eur(1)), issue=False)
    services.invoice_cancel(invoice=draft)
    with pytest.raises(BillingError, match="already cancelled"):
        services.invoice_cancel(invoice=draft)
