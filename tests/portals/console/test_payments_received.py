"""The console's list of payments received: filters by method, client and day, refunds
shown with their payment, a link to each invoice, the same rows as CSV; bad filters are
a 400 that says why; tenant B's staff never see tenant A's payments."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from django.utils import timezone
from django_tenants.utils import schema_context

from billing import services
from billing.models import Payment
from tests.portals.conftest import eur, staff_member

URL = "/console/payments/received/"


def _paid(client, amount: str, method: str, key: str, days_ago: int = 0) -> Payment:
    invoice = services.invoice_create(client=client)
    services.invoice_line_add(invoice=invoice, description=f"Work {key}", unit_price=eur(amount))
    invoice = services.invoice_issue(invoice=invoice)
    return services.payment_record(
        invoice=invoice,
        amount=invoice.amount_due,
        method=method,
        idempotency_key=key,
        gateway_reference=f"=HYPERLINK({key})" if method == "bank_transfer" else "",
        received_at=timezone.now() - timedelta(days=days_ago),
    )


def _world(tenant_a, shop_a):
    with schema_context(tenant_a.schema):
        other = services.client_create(name="Luca Verdi", email="luca@verdi.test", country="IT")
        card = _paid(shop_a.client, "20.00", "manual", "pay-card", days_ago=40)
        bank = _paid(other, "35.00", "bank_transfer", "pay-bank")
        services.payment_refund(
            payment=card, amount=eur("5.00"), idempotency_key="refund-1", to_credit=True
        )
    return card, bank


def test_lists_filters_refunds_and_invoice_links(tenant_a, shop_a):
    card, bank = _world(tenant_a, shop_a)
    browser = tenant_a.client(staff_member(tenant_a, "readonly"))
    page = browser.get(URL).content.decode()
    assert card.invoice.number in page and bank.invoice.number in page
    assert f"/console/invoices/{card.invoice.public_id}/" in page
    assert "to account credit" in page  # the refund, under its payment

    only_bank = browser.get(URL, {"method": "bank_transfer"}).content.decode()
    assert bank.invoice.number in only_bank and card.invoice.number not in only_bank
    by_client = browser.get(URL, {"client": "verdi"}).content.decode()
    assert bank.invoice.number in by_client and card.invoice.number not in by_client
    today = timezone.localdate()
    recent = browser.get(
        URL, {"received_from": str(today - timedelta(days=7)), "received_to": str(today)}
    ).content.decode()
    assert bank.invoice.number in recent and card.invoice.number not in recent
    refunded = browser.get(URL, {"refunded_only": "on"}).content.decode()
    assert card.invoice.number in refunded and bank.invoice.number not in refunded


def test_csv_has_the_filtered_rows_and_no_formulas(tenant_a, shop_a):
    card, bank = _world(tenant_a, shop_a)
    response = tenant_a.client(tenant_a.owner).get(
        URL, {"method": "bank_transfer", "format": "csv"}
    )
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["invoice"] for row in rows] == [bank.invoice.number]
    assert rows[0]["amount"] == str(bank.money.rounded().amount) and rows[0]["refunded"] == "0.00"
    assert rows[0]["reference"].startswith("'=")  # read as text by a spreadsheet
    everything = tenant_a.client(tenant_a.owner).get(URL, {"format": "csv"}).content.decode()
    card_row = next(
        row
        for row in csv.DictReader(io.StringIO(everything))
        if row["invoice"] == card.invoice.number
    )
    net = (card.money - eur("5.00")).rounded().amount
    assert (card_row["refunded"], card_row["net"]) == ("5.00", str(net))


def test_bad_filters_are_a_400_that_says_why(tenant_a, shop_a):
    browser = tenant_a.client(tenant_a.owner)
    for query in (
        {"received_from": "2026-12-10", "received_to": "2026-12-01"},
        {"received_from": "yesterday"},
        {"method": "cheque"},
    ):
        response = browser.get(URL, query)
        assert response.status_code == 400, query
        assert 'class="errorlist' in response.content.decode(), query
    page = browser.get(URL, {"received_from": "2026-12-10", "received_to": "2026-12-01"})
    assert "The first day comes after the last." in page.content.decode()


def test_another_tenants_staff_see_none_of_them(tenant_a, shop_a, tenant_b):
    card, _bank = _world(tenant_a, shop_a)
    page = tenant_b.client(tenant_b.owner).get(URL).content.decode()
    assert card.invoice.number not in page and "Luca Verdi" not in page
