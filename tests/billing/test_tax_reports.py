"""The tax returns: the OSS return per member state and rate, the EC sales list per
buyer VAT number, domestic VAT by rate; credit notes count in their own quarter; on the
console's page and as CSV, for the tenant's own invoices only."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from billing import services, tax_reports
from tests.billing.conftest import eur, shop_build

pytestmark = pytest.mark.django_db
Q1 = tax_reports.period_of(year=2026, quarter=1)


def _sell(client, amount, on: date):
    invoice = services.invoice_create(client=client)
    services.invoice_line_add(invoice=invoice, description="Hosting", unit_price=eur(amount))
    return services.invoice_issue(invoice=invoice, issue_date=on)


def _quarter_of_sales(shop):
    services.billing_settings_update(oss_registered=True)
    irish = services.client_create(name="Jane Doe", email="jane@example.test", country="IE")
    french = services.client_create(name="Jean Dupont", email="jean@example.test", country="FR")
    _sell(irish, 100, date(2026, 1, 10))
    _sell(irish, 50, date(2026, 3, 31))
    _sell(french, 200, date(2026, 2, 1))
    _sell(irish, 1000, date(2026, 4, 1))  # the next quarter
    _sell(shop.business_de, 300, date(2026, 2, 2))
    _sell(shop.client, 10, date(2026, 2, 3))
    refunded = _sell(shop.client, 20, date(2026, 3, 1))
    services.credit_note_issue(invoice=refunded, reason="Refund", issue_date=date(2026, 3, 2))
    # Credited in the next quarter: it counts there, not here.
    late = _sell(irish, 10, date(2026, 3, 3))
    services.credit_note_issue(invoice=late, reason="Refund", issue_date=date(2026, 4, 2))


def test_the_oss_return_ec_sales_list_and_domestic_vat(shop, vies):
    _quarter_of_sales(shop)

    oss = [
        (r.country, r.rate, r.net.amount, r.tax.amount) for r in tax_reports.oss_return(period=Q1)
    ]
    assert oss == [
        ("FR", Decimal(20), Decimal("200.00"), Decimal("40.00")),
        ("IE", Decimal(23), Decimal("160.00"), Decimal("36.80")),
    ]
    assert tax_reports.oss_return(period=tax_reports.period_of(year=2026, quarter=2))[0].net == (
        eur("990.00")
    )
    ec = [(r.vat_number, r.country, r.net.amount) for r in tax_reports.ec_sales_list(period=Q1)]
    assert ec == [("DE136695976", "DE", Decimal("300.00"))]
    # 10 + 20 sold at home, 20 credited: 10 net, 2.20 VAT.
    domestic = tax_reports.domestic_vat(period=Q1)
    assert [(r.rate, r.net.amount, r.tax.amount) for r in domestic] == [
        (Decimal(22), Decimal("10.00"), Decimal("2.20"))
    ]

    rows = list(csv.reader(io.StringIO(tax_reports.report_csv(report="oss", period=Q1))))
    assert rows[0] == ["period", "member_state", "rate", "net", "vat", "currency"]
    assert rows[1:] == [
        ["2026-Q1", "FR", "20", "200.00", "40.00", "EUR"],
        ["2026-Q1", "IE", "23", "160.00", "36.80", "EUR"],
    ]


def test_the_console_shows_the_returns_and_their_csv(tenant_a, tenant_b, vies):
    with schema_context(tenant_a.schema):
        _quarter_of_sales(shop_build())
    console = tenant_a.client(tenant_a.owner)
    page = console.get("/console/taxes/reports/", {"year": 2026, "quarter": 1})
    body = page.content.decode()
    assert page.status_code == 200
    assert "DE136695976" in body and "IE" in body
    download = console.get(
        "/console/taxes/reports/", {"year": 2026, "quarter": 1, "csv": "ec_sales"}
    )
    assert download["Content-Type"].startswith("text/csv")
    assert "DE136695976" in download.content.decode()
    assert console.get("/console/taxes/reports/", {"year": 2026, "quarter": 9}).status_code == 400
    # Tenant B's console reports tenant B's sales: none.
    other = tenant_b.client(tenant_b.owner).get(
        "/console/taxes/reports/", {"year": 2026, "quarter": 1, "csv": "ec_sales"}
    )
    assert "DE136695976" not in other.content.decode()


def test_the_taxes_page_shows_the_years_distance_sales_and_saves_the_registration(tenant_a, vies):
    with schema_context(tenant_a.schema):
        shop = shop_build(oss_under_threshold=True)
        irish = services.client_create(name="Jane Doe", email="jane@example.test", country="IE")
        invoice = _sell(irish, 100, date.today())
        # Under the threshold: the seller's own VAT.
        assert invoice.lines.get().tax_rate == 22
        assert shop.settings.oss_under_threshold
    console = tenant_a.client(tenant_a.owner)
    page = console.get("/console/taxes/").content.decode()
    assert "€100.00" in page and "10000" in page
    saved = console.post(
        "/console/taxes/",
        {
            "country": "IT",
            "vat_registered": "on",
            "oss_registered": "on",
            "vies_unavailable": "wait",
            "domestic_reverse_charge": ["physical"],
            "fatturapa_regime": "RF01",
        },
    )
    assert saved.status_code == 302
    with schema_context(tenant_a.schema):
        settings = services.billing_settings_update()
        assert settings.oss_registered and not settings.oss_under_threshold
        assert settings.vies_unavailable == "wait"
        assert settings.domestic_reverse_charge == ["physical"]
    # Read-only staff see the page but cannot change it.
    readonly = tenant_a.client(tenant_a.readonly)
    assert readonly.get("/console/taxes/").status_code == 200
    assert readonly.post("/console/taxes/", {"fatturapa_regime": "RF19"}).status_code == 403
