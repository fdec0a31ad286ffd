"""Issuing an invoice: number, parties, taxes, due date; and nothing changes after."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from billing import selectors, services
from billing.errors import BillingError, ImmutableRecordError
from billing.models import Invoice, InvoiceLine, LedgerEntry, NumberSequence
from tests.billing.conftest import eur, invoice_for

pytestmark = pytest.mark.django_db


def test_issue_numbers_snapshots_and_books_the_invoice(shop):
    invoice = invoice_for(shop.client, ("Hosting", eur("10.00")), ("Backup", eur("2.50")))
    year = date.today().year
    assert invoice.status == Invoice.Status.ISSUED
    assert invoice.number == f"{year}/00001"
    assert invoice.issue_date == date.today()
    assert invoice.due_date == date.today() + timedelta(days=14)
    assert invoice.subtotal == eur("12.50")
    assert invoice.tax_total == eur("2.75")
    assert invoice.total == eur("15.25")
    assert invoice.seller["name"] == "Alfa Servizi Internet S.r.l."
    assert invoice.seller["vat_number"] == "IT01234567890"
    assert invoice.buyer["name"] == "Mario Rossi"
    assert invoice.buyer["country"] == "IT"
    entry = LedgerEntry.objects.get(invoice=invoice)
    assert entry.kind == LedgerEntry.Kind.INVOICE_ISSUED and entry.money == eur("15.25")
    assert selectors.client_balance(client=shop.client) == eur("15.25")


def test_the_seller_is_the_tenant_itself_by_default(in_tenant_a, tenant_a):
    client = services.client_create(name="Ada", email="ada@example.test")
    invoice = invoice_for(client, ("Hosting", eur(5)))
    assert invoice.seller["name"] == tenant_a.tenant.name == "Alpha Hosting"
    # A tenant that has not said where it is established charges no VAT, and says so.
    assert invoice.tax_total == eur(0)
    assert invoice.tax_note == "The seller is not registered for VAT"


def test_later_edits_do_not_change_issued_documents(shop):
    invoice = invoice_for(shop.client, ("Hosting", eur(10)))
    services.billing_settings_update(legal_name="Renamed S.p.A.", vat_number="IT999")
    services.client_update(client=shop.client, name="Mario Bianchi", country="FR")
    invoice.refresh_from_db()
    assert invoice.seller["name"] == "Alfa Servizi Internet S.r.l."
    assert invoice.buyer["name"] == "Mario Rossi"
    assert invoice.total == eur("12.20")
    later = invoice_for(shop.client, ("Hosting", eur(10)))
    assert later.seller["name"] == "Renamed S.p.A."
    assert later.buyer["name"] == "Mario Bianchi"


def test_an_issued_invoice_refuses_edits_in_python_and_in_the_database(shop):
    invoice = invoice_for(shop.client, ("Hosting", eur(10)))
    invoice.total_amount = Decimal("1.00")
    with pytest.raises(ImmutableRecordError):
        invoice.save()
    invoice.refresh_from_db()
    with pytest.raises(ImmutableRecordError):
        invoice.delete()
    line = invoice.lines.get()
    line.unit_price_amount = Decimal(1)
    with pytest.raises(ImmutableRecordError):
        line.save()
    with pytest.raises(BillingError):
        services.invoice_line_add(invoice=invoice, description="More", unit_price=eur(1))
    # Code that goes around the models meets the trigger.
    for statement in (
        "UPDATE billing_invoice SET total_amount = 1 WHERE id = %s",
        "UPDATE billing_invoice SET number = 'X' WHERE id = %s",
        "DELETE FROM billing_invoice WHERE id = %s",
        "UPDATE billing_invoiceline SET total_amount = 1 WHERE invoice_id = %s",
        "DELETE FROM billing_invoiceline WHERE invoice_id = %s",
    ):
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
            cur.execute(statement, [invoice.pk])
    # Payment state still moves.
    Invoice.objects.filter(pk=invoice.pk).update(pdf_template_hash="abc")
    invoice.refresh_from_db()
    assert invoice.pdf_template_hash == "abc" and invoice.total == eur("12.20")


def test_a_draft_can_change_freely(shop):
    draft = invoice_for(shop.client, ("Hosting", eur(10)), issue=False)
    line = draft.lines.get()
    line.description = "Hosting, corrected"
    line.save()
    draft.refresh_from_db()
    draft.notes = "Thanks"
    draft.save()
    assert draft.number == "" and draft.status == Invoice.Status.DRAFT


def test_reverse_charge_for_an_eu_business_in_another_country(shop):
    invoice = invoice_for(shop.business_de, ("VPS", eur("100.00")))
    assert invoice.tax_total == eur(0)
    assert invoice.total == eur("100.00")
    assert invoice.reverse_charge is True
    assert invoice.tax_note == "Reverse charge — Article 196 of Directive 2006/112/EC"
    assert invoice.lines.get().tax_rate == 0


def test_a_german_consumer_pays_german_vat(shop):
    consumer = services.client_create(name="Eva", email="eva@example.test", country="DE")
    invoice = invoice_for(consumer, ("VPS", eur("100.00")))
    assert invoice.tax_total == eur("19.00") and not invoice.reverse_charge


def test_a_business_in_the_sellers_own_country_pays_vat(shop):
    italian = services.client_create(
        name="Luca", email="luca@example.test", country="IT", vat_number="IT11111111111"
    )
    invoice = invoice_for(italian, ("VPS", eur("100.00")))
    assert invoice.tax_total == eur("22.00") and not invoice.reverse_charge


def test_a_tax_exempt_client_pays_no_tax(shop):
    invoice = invoice_for(shop.exempt, ("Hosting", eur("10.00")))
    assert invoice.total == eur("10.00")
    assert invoice.tax_note == "Exempt from VAT"


def test_tax_inclusive_prices_are_what_the_client_pays(shop):
    services.billing_settings_update(prices_include_tax=True)
    invoice = invoice_for(shop.client, ("Hosting", eur("12.20")), ("Domain", eur("9.99")))
    assert invoice.total == eur("22.19")
    assert invoice.subtotal == eur("18.19")  # 10.00 + 8.19 (9.99 / 1.22 = 8.1885...)
    assert invoice.tax_total == eur("4.00")
    # On tax-inclusive prices, a reverse-charged business pays the price less the
    # seller's domestic VAT.
    b2b = invoice_for(shop.business_de, ("Hosting", eur("12.20")))
    assert b2b.total == eur("10.00") and b2b.tax_total == eur(0)


def test_tax_summary_adds_up_per_rate(shop):
    invoice = invoice_for(shop.client, ("A", eur("0.05")), ("B", eur("0.05")), ("C", eur("0.05")))
    (row,) = selectors.invoice_tax_summary(invoice=invoice)
    assert row.rate == Decimal(22)
    assert row.net == invoice.subtotal and row.tax == invoice.tax_total
    assert invoice.total == invoice.subtotal + invoice.tax_total


@pytest.mark.parametrize(
    ("price", "quantity", "message"),
    [
        (eur("-5"), 1, "cannot be negative"),
        (eur("1000000000"), 1, "too large"),
        (eur("10.001"), 1, "decimals"),
        (eur("10"), 0, "quantity"),
        (eur("10"), Decimal("0.001"), "(?i)quantit"),
        (eur("600000"), 5000, "too large"),
    ],
)
def test_bad_lines_are_refused_and_change_nothing(shop, price, quantity, message):
    draft = invoice_for(shop.client, ("Hosting", eur(10)), issue=False)
    with pytest.raises(BillingError, match=message):
        services.invoice_line_add(
            invoice=draft, description="Bad", unit_price=price, quantity=quantity
        )
    assert draft.lines.count() == 1


def test_a_line_in_another_currency_is_refused(shop):
    from billing.money import Money

    draft = invoice_for(shop.client, ("Hosting", eur(10)), issue=False)
    with pytest.raises(BillingError, match="USD"):
        services.invoice_line_add(invoice=draft, description="X", unit_price=Money(1, "USD"))


def test_issuing_twice_or_empty_is_refused_and_takes_no_number(shop):
    invoice = invoice_for(shop.client, ("Hosting", eur(10)))
    with pytest.raises(BillingError, match="already issued"):
        services.invoice_issue(invoice=invoice)
    empty = services.invoice_create(client=shop.client)
    with pytest.raises(BillingError, match="at least one line"):
        services.invoice_issue(invoice=empty)
    sequence = NumberSequence.objects.get(document_type="invoice")
    assert sequence.last_number == 1
    assert invoice_for(shop.client, ("Hosting", eur(10))).number.endswith("/00002")


def test_a_renewal_period_is_invoiced_once(shop):
    service = services.service_create(client=shop.client, plan=shop.starter, cycle="monthly")
    first = services.invoice_create(client=shop.client)
    services.invoice_line_add(
        invoice=first,
        kind=InvoiceLine.Kind.RENEWAL,
        description="Renewal",
        unit_price=eur(10),
        service=service,
        period_start=service.next_due_date,
        period_end=service.next_due_date + timedelta(days=30),
    )
    second = services.invoice_create(client=shop.client)
    with pytest.raises(IntegrityError), transaction.atomic():
        services.invoice_line_add(
            invoice=second,
            kind=InvoiceLine.Kind.RENEWAL,
            description="Renewal again",
            unit_price=eur(10),
            service=service,
            period_start=service.next_due_date,
            period_end=service.next_due_date + timedelta(days=30),
        )


def test_custom_number_format_with_prefix_and_no_reset(shop):
    services.billing_settings_update(
        number_reset="never", invoice_number_format="{prefix}{seq}", number_prefix="ALF-"
    )
    assert invoice_for(shop.client, ("Hosting", eur(1))).number == "ALF-1"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"invoice_number_format": "{year}"}, "must contain {seq}"),
        ({"invoice_number_format": "{seq}"}, "must contain {year}"),
        ({"invoice_number_format": "{year}{seq}{client}"}, "not client"),
        ({"invoice_number_format": "{year}/{seq:05q}"}, "not a valid number format"),
        ({"currency": "XYZ"}, "ISO 4217"),
        ({"grace_days": 40, "termination_days": 30}, "Termination"),
        ({"colour": "red"}, "Unknown"),
    ],
)
def test_bad_settings_are_refused(shop, changes, message):
    with pytest.raises(BillingError, match=message):
        services.billing_settings_update(**changes)
    assert selectors.billing_settings_get().invoice_number_format == "{year}/{seq:05d}"


def test_currency_cannot_change_once_invoices_exist(shop):
    invoice_for(shop.client, ("Hosting", eur(1)))
    with pytest.raises(BillingError, match="currency cannot change"):
        services.billing_settings_update(currency="USD")
