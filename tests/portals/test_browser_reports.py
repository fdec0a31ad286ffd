"""The console's reports in a real browser (Chromium through Playwright), in Italian, on
a phone and on a desktop: each report's chart, table and CSV link fit the screen (wide
tables scroll inside their frame), the tabs keep the period, and a period that ends before
it starts is a form error. Screenshots go to artifacts/portals/reports-*.png."""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from billing import services
from billing.cycles import add_months
from billing.models import Service
from tests.conftest import PASSWORD, ROOT
from tests.portals.conftest import eur
from tests.portals.live import fits_the_screen, language_cookies, live_shop_make, wsgi_server

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine")

SHOTS = ROOT / "artifacts" / "portals"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
TITLES = {
    "revenue": "Ricavi per prodotto",
    "taxes": "Imposte per paese e aliquota",
    "receivables": "Anzianità dei crediti",
    "mrr": "Variazioni dell'MRR",
    "top-clients": "Clienti principali",
}


def _a_season_of_sales(shop) -> None:
    """Sales over the last three months: hosting and a domain, a German company that
    reverse-charges, a credit note, unpaid invoices of several ages, an upgrade and a
    cancellation."""
    today = date.today()
    month = today.replace(day=1)
    company = services.client_create(
        name="Hans Weber",
        kind="company",
        company_name="Weber GmbH",
        email="hans@weber.test",
        country="DE",
        vat_number="DE136695976",
    )
    services.client_vat_number_verify(client=company, settings=shop.settings)
    started = add_months(month, -2)
    running = {"registration_date": started, "next_due_date": add_months(today, 1)}
    hosting = services.service_create(
        client=shop.client,
        plan=shop.starter,
        cycle="monthly",
        status=Service.Status.ACTIVE,
        **running,
    )
    domain = services.service_create(
        client=shop.client, plan=shop.com, cycle="annual", status=Service.Status.ACTIVE, **running
    )
    business = services.service_create(
        client=company, plan=shop.pro, cycle="monthly", status=Service.Status.ACTIVE, **running
    )
    for offset in (2, 1, 0):
        day = max(add_months(month, -offset) + timedelta(days=2), started)
        day = min(day, today)
        for client, service, amount in (
            (shop.client, hosting, 10),
            (company, business, 30),
        ):
            invoice = services.invoice_create(client=client)
            services.invoice_line_add(
                invoice=invoice,
                description=str(service.plan),
                unit_price=eur(amount),
                service=service,
            )
            services.invoice_issue(invoice=invoice, issue_date=day)
    invoice = services.invoice_create(client=shop.client)
    services.invoice_line_add(
        invoice=invoice, description=".com", unit_price=eur(12), service=domain
    )
    invoice = services.invoice_issue(invoice=invoice, issue_date=started)
    services.credit_note_issue(invoice=invoice, reason="Domain transferred away", issue_date=today)
    old = services.invoice_create(client=company)
    services.invoice_line_add(invoice=old, description="Migration", unit_price=eur(250))
    services.invoice_issue(invoice=old, issue_date=today - timedelta(days=120))
    services.service_change_plan(service=hosting, plan=shop.pro, on_date=today)
    services.service_cancel(service=domain, reason="Transferred away")


def test_the_reports_in_italian_on_a_phone_and_a_desktop(tenant_factory, vies):
    expect = playwright.expect
    live = live_shop_make(tenant_factory, "Report Hosting")
    with schema_context(live.schema):
        _a_season_of_sales(live.shop)
    connection.set_schema_to_public()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with wsgi_server() as port, playwright.sync_playwright() as p:
        base = f"http://{live.host}:{port}"
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        italian = language_cookies(live.host, "it")
        for width, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            context = browser.new_context(viewport=viewport)
            context.add_cookies(italian)
            page = context.new_page()
            page.goto(f"{base}/login/")
            page.fill('[name="username"]', live.owner_email)
            page.fill('[name="password"]', PASSWORD)
            page.locator('form:has([name="password"]) button[type="submit"]').click()
            page.goto(f"{base}/console/")
            page.locator(".console-nav").get_by_role("link", name="Report", exact=True).click()
            expect(page.locator("h2").first).to_have_text(TITLES["revenue"])
            for report, title in TITLES.items():
                page.locator(".report-tabs").get_by_role("link", name=title).click()
                expect(page.locator("h2").first).to_have_text(title)
                expect(page.locator("svg.chart")).to_be_visible()
                expect(page.get_by_role("link", name="Scarica CSV")).to_be_visible()
                assert page.locator(".table-wrap table").count() >= 1
                assert fits_the_screen(page), report
                page.screenshot(
                    path=str(SHOTS / f"reports-{report}-{width}-it.png"), full_page=True
                )
            # Receivables as of a day past: only what was issued by then, aged on that day.
            page.locator(".report-tabs").get_by_role("link", name=TITLES["receivables"]).click()
            day = date.today() - timedelta(days=100)
            page.fill('[name="date_to"]', day.isoformat())
            page.get_by_role("button", name="Mostra").click()
            expect(page.locator("main p.muted").first).to_contain_text(day.strftime("%Y"))
            expect(page.locator("table tbody tr")).to_have_count(1)
            expect(page.locator("table tbody tr")).to_contain_text("Weber GmbH")
            assert fits_the_screen(page)
            page.screenshot(
                path=str(SHOTS / f"reports-receivables-as-of-{width}-it.png"), full_page=True
            )
            taxes = page.locator(".report-tabs").get_by_role("link", name=TITLES["taxes"])
            taxes.click()
            expect(page.locator("main")).to_contain_text("Impresa UE: inversione contabile")
            # A period that ends before it starts: said in the form, the tabs untouched.
            page.goto(f"{base}/console/reports/revenue/")
            page.fill('[name="date_from"]', date.today().isoformat())
            page.fill('[name="date_to"]', (date.today() - timedelta(days=40)).isoformat())
            page.get_by_role("button", name="Mostra").click()
            expect(page.locator(".errorlist")).to_contain_text(
                "Il primo giorno viene dopo l'ultimo."
            )
            assert fits_the_screen(page)
            page.screenshot(path=str(SHOTS / f"reports-error-{width}-it.png"), full_page=True)
            # A good period is kept by the tabs.
            since = add_months(date.today().replace(day=1), -2).isoformat()
            page.fill('[name="date_from"]', since)
            page.fill('[name="date_to"]', date.today().isoformat())
            page.get_by_role("button", name="Mostra").click()
            page.locator(".report-tabs").get_by_role("link", name=TITLES["mrr"]).click()
            assert f"date_from={since}" in page.url
            expect(page.locator("table tbody tr")).to_have_count(3)
            context.close()
        browser.close()
