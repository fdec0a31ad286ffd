"""The reports (billing.reports) from real invoices, credit notes, payments and services:
revenue by product and month, taxes by country and rate with the reverse-charged sales
apart, receivables ageing, MRR movement and top clients; their CSV; the console's pages
and the API giving the same figures; another tenant's sales never counted; bad periods
refused with a form error or a 400."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from importlib import import_module

import pytest
from django.apps import apps
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from billing import reports, services
from billing.cycles import add_months
from billing.models import Invoice, Service, ServiceMrrChange
from billing.money import Money
from billing.services.credit_notes import CreditLine
from tests.api.conftest import Api, make_key
from tests.billing.conftest import Shop, eur, shop_build

pytestmark = pytest.mark.django_db

Q1 = reports.ReportPeriod(date(2026, 1, 1), date(2026, 3, 31))
ACTIVE = Service.Status.ACTIVE


def _service(client, plan, cycle="monthly", **kwargs) -> Service:
    return services.service_create(client=client, plan=plan, cycle=cycle, **kwargs)


def _issue(client, lines, on: date) -> Invoice:
    invoice = services.invoice_create(client=client)
    for description, amount, service in lines:
        services.invoice_line_add(
            invoice=invoice, description=description, unit_price=eur(amount), service=service
        )
    return services.invoice_issue(invoice=invoice, issue_date=on)


@dataclass
class Quarter:
    january: Invoice
    february_b2b: Invoice


def _quarter_of_sales(shop: Shop) -> Quarter:
    """Mario (Italy, 22 %) and Weber GmbH (Germany, reverse charge) buy in 2026-Q1."""
    hosting = _service(shop.client, shop.starter, status=ACTIVE)
    vps = _service(shop.client, shop.vps, status=ACTIVE)
    b2b = _service(shop.business_de, shop.starter, "annual", status=ACTIVE)
    january = _issue(shop.client, [("Starter", 10, hosting), ("VPS S", 20, vps)], date(2026, 1, 10))
    february_b2b = _issue(shop.business_de, [("Starter, one year", 100, b2b)], date(2026, 2, 5))
    _issue(shop.client, [("Migration work", 50, None)], date(2026, 2, 20))
    # The VPS is credited in March: it counts there, against the VPS.
    vps_line = january.lines.get(service=vps)
    services.credit_note_issue(
        invoice=january,
        reason="VPS never delivered",
        lines=[CreditLine(vps_line)],
        issue_date=date(2026, 3, 3),
    )
    # Outside the quarter, and a draft: neither counts.
    _issue(shop.client, [("Starter", 10, hosting)], date(2026, 4, 1))
    draft = services.invoice_create(client=shop.client)
    services.invoice_line_add(invoice=draft, description="Draft", unit_price=eur(999))
    return Quarter(january, february_b2b)


def _other_tenant_sells(tenant_b) -> None:
    with schema_context(tenant_b.schema):
        other = shop_build()
        _issue(other.client, [("Elsewhere", 777, None)], date(2026, 2, 1))
        _issue(other.business_de, [("Elsewhere", 555, None)], date(2026, 2, 1))


def test_revenue_by_product_and_month_counts_credit_notes_in_their_month(shop, vies, tenant_b):
    _quarter_of_sales(shop)
    _other_tenant_sells(tenant_b)

    revenue = reports.revenue_by_product(period=Q1)

    assert revenue.months == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    by_product = {row.product: [m.amount for m in row.months] for row in revenue.products}
    assert by_product == {
        "Web hosting": [Decimal("10.00"), Decimal("100.00"), Decimal("0.00")],
        "": [Decimal("0.00"), Decimal("50.00"), Decimal("0.00")],  # a line of no service
        "VPS": [Decimal("20.00"), Decimal("0.00"), Decimal("-20.00")],
    }
    assert [row.product for row in revenue.products] == ["Web hosting", "", "VPS"]
    assert [m.amount for m in revenue.totals] == [Decimal(30), Decimal(150), Decimal(-20)]
    assert revenue.total == eur("160.00")


def test_taxes_by_country_and_rate_keep_the_reverse_charged_sale_apart(shop, vies, tenant_b):
    _quarter_of_sales(shop)
    _other_tenant_sells(tenant_b)

    taxes = reports.taxes_by_country(period=Q1)

    # 10 + 20 + 50 sold at home, 20 credited: 60 net, 13.20 VAT.
    assert [(r.country, r.rate, r.net.amount, r.tax.amount) for r in taxes.taxed] == [
        ("IT", Decimal(22), Decimal("60.00"), Decimal("13.20"))
    ]
    assert [(r.country, r.rule, r.net.amount) for r in taxes.untaxed] == [
        ("DE", "eu_reverse_charge", Decimal("100.00"))
    ]
    assert (taxes.net, taxes.tax, taxes.untaxed_net) == (eur(60), eur("13.20"), eur(100))


def test_top_clients_rank_by_net_revenue_less_credit_notes(shop, vies, tenant_b):
    _quarter_of_sales(shop)
    _other_tenant_sells(tenant_b)

    top = reports.top_clients(period=Q1)

    assert [(row.client, row.net.amount, row.invoices) for row in top] == [
        ("Weber GmbH", Decimal("100.00"), 1),
        ("Mario Rossi", Decimal("60.00"), 2),
    ]
    assert top[0].client_id == str(shop.business_de.public_id)
    assert reports.top_clients(period=Q1, limit=1) == top[:1]


def _overdue_by(shop: Shop, days_late: int, amount: int, today: date) -> Invoice:
    terms = shop.settings.payment_terms_days
    return _issue(
        shop.exempt, [("Hosting", amount, None)], today - timedelta(days=terms + days_late)
    )


def test_receivables_ageing_puts_each_open_balance_in_its_bucket(shop, vies, tenant_b):
    today = date.today()
    _overdue_by(shop, -3, 100, today)  # due in three days: current
    partly_paid = _overdue_by(shop, 10, 200, today)
    _overdue_by(shop, 45, 300, today)
    _overdue_by(shop, 75, 400, today)
    _overdue_by(shop, 120, 500, today)
    services.payment_record(
        invoice=partly_paid, amount=eur(50), method="bank_transfer", idempotency_key="part"
    )
    paid = _overdue_by(shop, 50, 70, today)
    services.payment_record(
        invoice=paid, amount=eur(70), method="bank_transfer", idempotency_key="all"
    )
    credited = _overdue_by(shop, 20, 80, today)
    services.credit_note_issue(invoice=credited, reason="Cancelled order")
    mario = _issue(shop.client, [("Hosting", 10, None)], today - timedelta(days=400))
    with schema_context(tenant_b.schema):
        other = shop_build()
        _issue(other.client, [("Elsewhere", 999, None)], today - timedelta(days=100))

    ageing = reports.receivables_ageing(on_date=today)

    charity, late_mario = ageing.clients
    assert charity.client == "Charity"
    assert [m.amount for m in charity.buckets] == [
        Decimal(100),
        Decimal(150),
        Decimal(300),
        Decimal(400),
        Decimal(500),
    ]
    assert charity.total == eur(1450) and charity.invoices == 5
    assert late_mario.client_id == str(shop.client.public_id)
    assert late_mario.buckets[-1] == mario.total == eur("12.20")
    assert [m.amount for m in ageing.totals] == [
        Decimal(100),
        Decimal(150),
        Decimal(300),
        Decimal(400),
        Decimal("512.20"),
    ]
    assert ageing.total == eur("1462.20")


def _days_ago(today: date, days: int) -> datetime:
    return timezone.make_aware(datetime.combine(today - timedelta(days=days), time(12)))


def _past_and_present(shop: Shop, today: date) -> None:
    """Four invoices whose balances moved after a day twenty days ago (settled late,
    credited, refunded) and one issued after it."""
    paid_late = _overdue_by(shop, 40, 100, today)  # due 40 days ago
    services.payment_record(
        invoice=paid_late,
        amount=eur(100),
        method="bank_transfer",
        idempotency_key="paid-late",
        received_at=_days_ago(today, 10),
    )
    credited = _overdue_by(shop, 40, 200, today)
    services.credit_note_issue(
        invoice=credited, reason="Cancelled order", issue_date=today - timedelta(days=5)
    )
    _issue(shop.exempt, [("Hosting", 50, None)], today - timedelta(days=3))  # not due yet
    refunded = _overdue_by(shop, 5, 70, today)  # due 5 days ago
    payment = services.payment_record(
        invoice=refunded,
        amount=eur(70),
        method="bank_transfer",
        idempotency_key="paid-then-refunded",
        received_at=_days_ago(today, 1),
    )
    services.payment_refund(payment=payment, amount=eur(70), idempotency_key="refunded-today")


def test_receivables_are_aged_as_of_a_past_day_as_they_stood_then(shop, vies):
    today = date.today()
    _past_and_present(shop, today)

    then = reports.receivables_ageing(on_date=today - timedelta(days=20))
    # Twenty days ago: the two invoices due 40 days earlier were 20 days late, nothing
    # paid or credited yet; the others were not issued.
    assert [m.amount for m in then.totals] == [0, 300, 0, 0, 0]
    assert then.clients[0].invoices == 2

    week = reports.receivables_ageing(on_date=today - timedelta(days=7))
    # A week ago: the first was paid, the second 33 days late (credited two days later),
    # the third issued and not yet due, the last not issued.
    assert [m.amount for m in week.totals] == [70, 0, 200, 0, 0]

    yesterday = reports.receivables_ageing(on_date=today - timedelta(days=1))
    # Yesterday: the third paid (its refund is today's), the last current.
    assert [m.amount for m in yesterday.totals] == [50, 0, 0, 0, 0]

    now = reports.receivables_ageing(on_date=today)
    assert [m.amount for m in now.totals] == [50, 70, 0, 0, 0]
    # Today's ageing is the invoices' own balances.
    open_now = Invoice.objects.filter(status__in=Invoice.OPEN_STATUSES)
    assert now.total == sum((i.amount_due for i in open_now), eur(0))

    with pytest.raises(reports.ReportPeriodError):
        reports.ageing_date(on_date=today + timedelta(days=1), today=today)
    assert reports.ageing_date(on_date=None, today=today) == today


def test_ageing_buckets_edges():
    assert [reports.ageing_bucket(days) for days in (-5, 0, 1, 30, 31, 60, 61, 90, 91, 900)] == [
        0,
        0,
        1,
        1,
        2,
        2,
        3,
        3,
        4,
        4,
    ]


@dataclass
class Movements:
    last_month: date
    this_month: date


def _a_month_of_movements(shop: Shop, today: date) -> Movements:
    """Three services running since last month; this month one is upgraded, one
    downgraded, one (the German client's only one) cancelled, and a new one starts."""
    this_month = today.replace(day=1)
    last_month = add_months(this_month, -1)
    running = {"registration_date": last_month, "next_due_date": add_months(today, 1)}
    upgraded = _service(shop.client, shop.starter, status=ACTIVE, **running)  # 10
    downgraded = _service(shop.client, shop.pro, status=ACTIVE, **running)  # 30
    cancelled = _service(shop.business_de, shop.starter, "annual", status=ACTIVE, **running)
    services.service_change_plan(service=upgraded, plan=shop.pro, on_date=today)  # 10 → 30
    services.service_change_plan(service=downgraded, plan=shop.starter, on_date=today)  # 30 → 10
    services.service_cancel(service=cancelled, reason="Moved away")  # 100 / 12 = 8.33
    started = _service(shop.exempt, shop.vps)
    services.service_activate(service=started)  # 20
    # A suspension is not churn, and a pending service earns nothing yet.
    services.service_suspend(service=started, reason="Unpaid")
    _service(shop.client, shop.vps)
    return Movements(last_month, this_month)


def test_mrr_movement_new_expansion_contraction_and_churn(shop, vies, tenant_b):
    today = date.today()
    moved = _a_month_of_movements(shop, today)
    with schema_context(tenant_b.schema):
        other = shop_build()
        _service(other.client, other.pro, status=ACTIVE)

    period = reports.report_period(date_from=moved.last_month, today=today)
    last, this = reports.mrr_movement(period=period)

    assert (last.month, this.month) == (moved.last_month, moved.this_month)
    assert (last.opening, last.new, last.closing) == (eur(0), eur("48.33"), eur("48.33"))
    assert (last.services_lost, last.clients_lost) == (0, 0)
    assert this.opening == eur("48.33")
    assert (this.new, this.expansion, this.contraction, this.churned) == (
        eur(20),
        eur(20),
        eur(20),
        eur("8.33"),
    )
    assert this.net == eur("11.67")
    assert this.closing == eur(60)
    assert (this.services_lost, this.clients_lost) == (1, 1)


def test_a_report_period_is_checked():
    today = date(2026, 5, 17)
    default = reports.report_period(today=today)
    assert (default.start, default.last) == (date(2025, 6, 1), today)
    assert len(default.months) == 12
    with pytest.raises(reports.ReportPeriodError):
        reports.report_period(date_from=date(2026, 5, 2), date_to=date(2026, 5, 1), today=today)
    with pytest.raises(reports.ReportPeriodError):
        reports.report_period(date_from=date(2020, 1, 1), date_to=date(2026, 1, 1), today=today)


def _csv(report: str, period=Q1, today=None) -> list[list[str]]:
    rows = reports.report_csv_rows(report=report, period=period, as_of=today or date.today())
    return list(rows)


def test_the_csv_of_each_report(shop, vies):
    _quarter_of_sales(shop)

    revenue = _csv("revenue")
    assert revenue[0] == ["month", "product_id", "product", "net", "currency"]
    assert [str(shop.hosting.public_id), "Web hosting"] == revenue[1][1:3]
    assert [revenue[2][0], *revenue[2][3:]] == ["2026-02", "100.00", "EUR"]
    vps = str(shop.vps.product.public_id)
    assert revenue[-1] == ["2026-03", vps, "VPS", "-20.00", "EUR"]
    assert _csv("taxes") == [
        ["section", "country", "rate", "rule", "net", "vat", "currency"],
        ["taxed", "IT", "22", "", "60.00", "13.20", "EUR"],
        ["untaxed", "DE", "0", "eu_reverse_charge", "100.00", "0", "EUR"],
    ]
    top = _csv("top-clients")
    assert top[1] == ["1", str(shop.business_de.public_id), "Weber GmbH", "100.00", "1", "EUR"]
    assert _csv("mrr")[0][-1] == "currency"
    assert _csv("receivables")[0][2:7] == [
        "days_current",
        "days_1_30",
        "days_31_60",
        "days_61_90",
        "days_over_90",
    ]
    with pytest.raises(ValueError):
        _csv("nonsense")


def test_the_record_of_mrr_changes_is_appended_only_when_mrr_changes(shop):
    service = _service(shop.client, shop.starter)
    assert not service.mrr_changes.exists()  # pending: earns nothing
    services.service_activate(service=service)
    services.service_suspend(service=service)
    services.service_unsuspend(service=service)
    services.service_terminate(service=service)
    assert [(c.mrr_before, c.mrr_after) for c in service.mrr_changes.order_by("id")] == [
        (Money.zero("EUR"), eur(10)),
        (eur(10), Money.zero("EUR")),
    ]


# --- the console's pages -------------------------------------------------------------------


def test_the_console_pages_show_the_figures_and_stream_the_csv(tenant_a, tenant_b, vies):
    with schema_context(tenant_a.schema):
        shop = shop_build()
        _quarter_of_sales(shop)
    _other_tenant_sells(tenant_b)
    console = tenant_a.client(tenant_a.owner)
    q1 = {"date_from": "2026-01-01", "date_to": "2026-03-31"}

    revenue = console.get("/console/reports/revenue/", q1)
    body = revenue.content.decode()
    assert revenue.status_code == 200
    assert "<svg" in body and "Web hosting" in body and "€160.00" in body
    assert 'href="/console/reports/taxes/?date_from=2026-01-01&amp;date_to=2026-03-31"' in body
    taxes = console.get("/console/reports/taxes/", q1).content.decode()
    assert "€13.20" in taxes and "EU business: reverse charge" in taxes and "€100.00" in taxes
    assert "€777.00" not in taxes  # tenant B's sale
    top = console.get("/console/reports/top-clients/", q1).content.decode()
    assert top.index("Weber GmbH") < top.index("Mario Rossi")
    for report in ("receivables", "mrr"):
        assert console.get(f"/console/reports/{report}/").status_code == 200
    # Receivables as of the period's last day: the tabs carry it, the page says it, and
    # the CSV is named by it; a day to come is a form error.
    tab = "/console/reports/receivables/?date_from=2026-01-01&amp;date_to=2026-03-31"
    assert f'href="{tab}"' in body
    as_of = console.get("/console/reports/receivables/", {"date_to": "2026-03-31"})
    assert as_of.status_code == 200
    assert "Open invoices as of Mar 31, 2026" in as_of.content.decode()
    download = console.get(
        "/console/reports/receivables/", {"date_to": "2026-03-31", "format": "csv"}
    )
    assert download["Content-Disposition"] == 'attachment; filename="receivables-2026-03-31.csv"'
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    ahead = console.get("/console/reports/receivables/", {"date_to": tomorrow})
    assert ahead.status_code == 400
    assert "Receivables can be aged as of today or an earlier day." in ahead.content.decode()
    assert console.get("/console/reports/").status_code == 200  # revenue, last 12 months

    download = console.get("/console/reports/taxes/", {**q1, "format": "csv"})
    assert download.status_code == 200 and download.streaming
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert download["Content-Disposition"] == (
        'attachment; filename="taxes-2026-01-01_2026-03-31.csv"'
    )
    text = b"".join(download.streaming_content).decode()
    assert list(csv.reader(io.StringIO(text))) == _console_csv(tenant_a, "taxes")
    other = tenant_b.client(tenant_b.owner).get("/console/reports/taxes/", {**q1, "format": "csv"})
    assert "100.00" not in b"".join(other.streaming_content).decode()


def _console_csv(world, report: str) -> list[list[str]]:
    with schema_context(world.schema):
        return _csv(report)


@pytest.mark.parametrize(
    "query",
    [
        {"date_from": "2026-02-30"},
        {"date_from": "yesterday"},
        {"date_from": "2026-03-01", "date_to": "2026-02-01"},
        {"date_from": "2010-01-01", "date_to": "2026-01-01"},
        {"date_from": "2026-13-01", "format": "csv"},
    ],
)
def test_a_bad_period_is_a_form_error_not_a_crash(tenant_a, query):
    page = tenant_a.client(tenant_a.owner).get("/console/reports/revenue/", query)
    assert page.status_code == 400
    assert page["Content-Type"].startswith("text/html")
    assert 'class="errorlist' in page.content.decode()


def test_who_reads_the_reports(tenant_a):
    with schema_context(tenant_a.schema):
        support = User.objects.create_user(
            "support-reports@alpha.test", "x", kind=User.Kind.STAFF, role=User.Role.SUPPORT
        )
    assert tenant_a.client(tenant_a.readonly).get("/console/reports/mrr/").status_code == 200
    page = tenant_a.client(support).get("/console/reports/mrr/")
    assert page.status_code == 403
    assert "/console/reports/" not in tenant_a.client(support).get("/console/").content.decode()
    assert tenant_a.client().get("/console/reports/mrr/").status_code == 302
    assert tenant_a.client(tenant_a.owner).get("/console/reports/nonsense/").status_code == 404


# --- the API -------------------------------------------------------------------------------


def _amounts_of(values) -> list[str]:
    return [str(value.amount) for value in values]


def test_the_api_gives_the_selectors_figures(tenant_a, tenant_b, vies):
    with schema_context(tenant_a.schema):
        shop = shop_build()
        _quarter_of_sales(shop)
        _overdue_by(shop, 45, 300, date.today())
        _a_month_of_movements(shop, date.today())
    _other_tenant_sells(tenant_b)
    api = Api(tenant_a.host, make_key(tenant_a, ["reports:read"]))
    q1 = "?date_from=2026-01-01&date_to=2026-03-31"

    revenue = api.get(f"/api/v1/reports/revenue/{q1}")
    assert revenue.status_code == 200, revenue.content
    body = revenue.json()
    with schema_context(tenant_a.schema):
        expected = reports.revenue_by_product(period=Q1)
        taxes = reports.taxes_by_country(period=Q1)
        top = reports.top_clients(period=Q1)
        ageing = reports.receivables_ageing(on_date=date.today())
        mrr_period = reports.report_period(today=date.today())
        mrr = reports.mrr_movement(period=mrr_period)
    assert (body["currency"], body["date_from"], body["date_to"]) == (
        "EUR",
        "2026-01-01",
        "2026-03-31",
    )
    assert body["months"] == ["2026-01-01", "2026-02-01", "2026-03-01"]
    assert [(p["product_id"], p["product"], p["months"], p["total"]) for p in body["products"]] == [
        (p.product_id, p.product, _amounts_of(p.months), str(p.total.amount))
        for p in expected.products
    ]
    assert body["totals"] == ["30.00", "150.00", "-20.00"] == _amounts_of(expected.totals)
    assert body["total"] == "160.00"

    body = api.get(f"/api/v1/reports/taxes/{q1}").json()
    assert body["taxed"] == [{"country": "IT", "rate": "22", "net": "60.00", "tax": "13.20"}]
    assert body["untaxed"] == [{"country": "DE", "rule": "eu_reverse_charge", "net": "100.00"}]
    assert (body["net"], body["tax"], body["untaxed_net"]) == (
        str(taxes.net.rounded().amount),
        str(taxes.tax.rounded().amount),
        "100.00",
    )

    body = api.get(f"/api/v1/reports/top-clients/{q1}&limit=1").json()
    assert body["clients"] == [
        {"client_id": top[0].client_id, "client": "Weber GmbH", "invoices": 1, "net": "100.00"}
    ]

    body = api.get("/api/v1/reports/receivables/?on_date=2026-03-31").json()
    with schema_context(tenant_a.schema):
        at_quarter_end = reports.receivables_ageing(on_date=date(2026, 3, 31))
    assert body["on_date"] == "2026-03-31"
    assert body["total"] == str(at_quarter_end.total.amount)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    ahead = api.get(f"/api/v1/reports/receivables/?on_date={tomorrow}")
    assert ahead.status_code == 400 and ahead.json()["errors"][0]["field"] == "on_date"

    body = api.get("/api/v1/reports/receivables/").json()
    assert body["on_date"] == date.today().isoformat()
    assert [row["total"] for row in body["clients"]] == [
        str(r.total.amount) for r in ageing.clients
    ]
    assert body["totals"]["days_31_60"] == str(ageing.totals[2].amount) == "300.00"
    assert body["clients"][0]["buckets"]["days_31_60"] == "300.00"

    body = api.get("/api/v1/reports/mrr/").json()
    assert len(body["months"]) == 12
    assert [
        (m["month"], m["closing"], m["churned"], m["clients_lost"]) for m in body["months"]
    ] == [
        (m.month.isoformat(), str(m.closing.amount), str(m.churned.amount), m.clients_lost)
        for m in mrr
    ]
    # The month's movements close at 60.00; the quarter's three services add 38.33.
    assert body["months"][-1]["closing"] == "98.33"

    # Tenant B's key reads tenant B's figures only.
    other = Api(tenant_b.host, make_key(tenant_b, ["reports:read"]))
    assert other.get(f"/api/v1/reports/revenue/{q1}").json()["total"] == "1332.00"


def test_the_api_refuses_bad_periods_and_keys_without_the_scope(tenant_a):
    api = Api(tenant_a.host, make_key(tenant_a, ["reports:read"]))
    for query in (
        "date_from=2026-02-30",
        "date_from=2026-03-01&date_to=2026-02-01",
        "date_from=1999-12-31",
        "date_to=9999-12-31",
        "date_from=2010-01-01&date_to=2026-01-01",
    ):
        answer = api.get(f"/api/v1/reports/revenue/?{query}")
        assert answer.status_code == 400, query
        assert answer["Content-Type"] == "application/problem+json"
    assert api.get("/api/v1/reports/top-clients/?limit=0").status_code == 400
    without = Api(tenant_a.host, make_key(tenant_a, ["invoices:read"]))
    assert without.get("/api/v1/reports/mrr/").status_code == 403
    assert Api(tenant_a.host).get("/api/v1/reports/mrr/").status_code == 401


def test_the_migration_starts_the_record_for_the_services_that_exist(shop):
    """What billing 0016 writes for services made before the record existed: a running
    service earns from its activation, a cancelled one earned until it stopped, a pending
    one and a one-time purchase earn nothing."""
    migration = import_module("billing.migrations.0016_service_mrr_changes")
    running = _service(shop.client, shop.starter, "annual")
    services.service_activate(service=running)
    stopped = _service(shop.business_de, shop.pro, status=ACTIVE)
    services.service_cancel(service=stopped)
    pending = _service(shop.client, shop.vps)
    ServiceMrrChange.objects.all().delete()  # as before the record existed

    migration.backfill(apps, None)

    rows = {
        (c.service_id, c.mrr_before.amount, c.mrr_after.amount)
        for c in ServiceMrrChange.objects.all()
    }
    assert rows == {
        (running.pk, Decimal(0), Decimal("8.33")),
        (stopped.pk, Decimal(0), Decimal(30)),
        (stopped.pk, Decimal(30), Decimal(0)),
    }
    assert not pending.mrr_changes.exists()
    period = reports.report_period(today=date.today())
    assert reports.mrr_movement(period=period)[-1].closing == eur("8.33")
