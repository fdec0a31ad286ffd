"""A reseller's first day, in a real browser (Chromium through Playwright), as issue #20's
acceptance tells it: the reseller's staff sign in to the console, add a product of their
own with a plan and a price, and change an imported plan's price and Italian description;
a client on a phone, reading Italian, orders both in one cart with a full address, sees
the tax follow the country (Italy 22 %, a consumer in Germany 19 %: the seller is
registered for the One-Stop Shop), accepts the terms and pays by card on the local
Stripe's hosted page; the staff then find the payment in the payments received, the sale
in the revenue and tax reports, open the client area as the client (with the banner, and
back in one click) and read that session in the client's audit log. Everything is done
through the pages; screenshots go to the test's temporary folder."""

from __future__ import annotations

import re
import shutil
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from billing import services
from billing.models import Client, Invoice, Plan, Product
from resale.catalogue_import import Markup, wholesale_plans_import
from resale.services import reseller_balance_topup
from tests.conftest import PASSWORD
from tests.portals.live import (
    card_pay,
    card_shop_make,
    fits_the_screen,
    language_cookies,
    local_stripe,
    wsgi_server,
)
from tests.resale.factories import account_on, wholesale_catalogue

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine")

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
SHOP_KEY = "sk_test_sandbox_dayone"
EMAIL = "giulia.bianchi@example.test"
ITALIAN_DESCRIPTION = "Un sito piccolo, veloce e sicuro per iniziare."
# Web S (4.90 a month, edited) and Website care (19.90 a month, the reseller's own).
NET = "24,80\xa0€"


class Shots:
    """Numbered full-page screenshots of the story's steps."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.step = 0

    def __call__(self, page, name: str) -> Path:
        self.step += 1
        path = self.folder / f"{self.step:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


def _reseller(tenant_factory):
    """The checkout's test shop (OSS, terms of service, card payments on the local
    Stripe) as a reseller on the provider's price list that has imported the provider's
    Web S plan, with a funded balance for what it buys upstream."""
    live = card_shop_make(tenant_factory, "Delta Hosting", stripe_key=SHOP_KEY, label="dayone")
    prefix = f"d{uuid.uuid4().hex[:6]}-"
    catalogue = wholesale_catalogue(code_prefix=prefix)
    account = account_on(live.tenant, catalogue["price_list"])
    reseller_balance_topup(
        account=account, amount="50.00", reference="seed", idempotency_key=f"seed-{prefix}"
    )
    with schema_context(live.schema):
        # The test shop is built with another reseller's legal name; this one is itself.
        services.billing_settings_update(legal_name="Delta Hosting S.r.l.")
        (imported,) = wholesale_plans_import(
            tenant=live.tenant, codes=[f"{prefix}web-s"], markup=Markup()
        ).created
    connection.set_schema_to_public()
    return live, imported


def test_a_resellers_first_day_in_a_browser(tenant_factory, monkeypatch, tmp_path):
    expect = playwright.expect
    # Playwright's sync API runs an event loop in this thread; the test's own queries
    # between steps are plain synchronous ones all the same.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with local_stripe(monkeypatch, SHOP_KEY) as stripe:
        live, imported = _reseller(tenant_factory)
        _story(live, imported, stripe, expect, Shots(tmp_path))


def _story(live, imported, stripe, expect, shot) -> None:
    with wsgi_server() as port, playwright.sync_playwright() as p:
        base = f"http://{live.host}:{port}"
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        desk = browser.new_context(viewport=DESKTOP)
        console = desk.new_page()
        own_plan = _staff_edit_the_catalogue(console, base, live, imported, expect, shot)

        phone = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
        phone.add_cookies(language_cookies(live.host, "it"))
        page = phone.new_page()
        _client_orders_and_pays(page, base, imported, own_plan, stripe, expect, shot)
        phone.close()

        _staff_find_the_sale(console, base, live, expect, shot)
        desk.close()
        browser.close()


def _staff_edit_the_catalogue(console, base, live, imported, expect, shot) -> Plan:
    """Step 1: sign in; a product of the reseller's own with a plan and a price; the
    imported plan's price and Italian description."""
    console.goto(base + "/console/")
    console.fill('[name="username"]', live.owner_email)
    console.fill('[name="password"]', PASSWORD)
    console.locator('form:has([name="password"]) button[type="submit"]').click()
    expect(console.locator("h1")).to_have_text("Dashboard")

    console.goto(base + "/console/catalogue/")
    expect(console.locator("main")).to_contain_text("Web S")
    console.get_by_role("link", name="New product").click()
    form = console.locator("form.card")
    form.locator('[name="group"]').select_option(label="Hosting")
    form.locator('[name="type"]').select_option("other")
    form.locator('[name="name"]').fill("Website care")
    form.locator('[name="description"]').fill("We keep your site up to date.")
    form.locator('button[type="submit"]').click()
    expect(console.locator(".msg.success")).to_contain_text("The product is saved.")
    console.get_by_role("link", name="New plan").click()
    form = console.locator("form.card")
    form.locator('[name="name"]').fill("Care monthly")
    form.locator('[name="features"]').fill("Updates every week\nDaily backups")
    form.locator('[name="prices-0-cycle"]').select_option("monthly")
    form.locator('[name="prices-0-price"]').fill("19.90")
    form.locator('[name="prices-0-setup_fee"]').fill("0")
    shot(console, "console-own-plan")
    form.locator('button[type="submit"]').click()
    expect(console.locator(".msg.success")).to_contain_text("The plan is saved.")
    console.get_by_role("link", name="Back to the product").click()
    expect(console.locator("tr", has_text="Care monthly")).to_contain_text("€19.90")

    # The imported plan: a new monthly price (above what the provider charges).
    console.goto(base + "/console/catalogue/")
    console.get_by_role("link", name="Web S", exact=True).click()
    expect(console.locator("main")).to_contain_text("What the provider charges you")
    form = console.locator("form.card")
    monthly = form.locator(
        "table.prices tbody tr", has=console.locator('option[value="monthly"]:checked')
    )
    monthly.locator('input[name$="-price"]').fill("4.90")
    form.locator('button[type="submit"]').click()
    expect(console.locator(".msg.success")).to_contain_text("The plan is saved.")
    console.get_by_role("link", name="Back to the product").click()
    expect(console.locator("tr", has_text="Web S")).to_contain_text("€4.90")
    shot(console, "console-imported-plan-saved")

    # Its Italian description, on the translations form.
    console.goto(base + "/console/catalogue/")
    row = console.locator("tr", has_text="Web S")
    row.get_by_role("link", name="Web S", exact=True).click()
    console.get_by_role("link", name="Translations").click()
    console.locator('[name="it-description"]').fill(ITALIAN_DESCRIPTION)
    console.locator('button[type="submit"]', has_text="Save the translations").click()
    expect(console.locator(".msg.success")).to_be_visible()
    shot(console, "console-translations-saved")

    with schema_context(live.schema):
        own_plan = Plan.objects.get(name="Care monthly", product__name="Website care")
        assert own_plan.upstream_plan_ref == ""
        assert own_plan.prices.get(cycle="monthly").price_amount == Decimal("19.90")
        imported.refresh_from_db()
        assert str(imported.prices.get(cycle="monthly").price_amount) == "4.9000"
        assert imported.translations["it"]["description"] == ITALIAN_DESCRIPTION
    connection.set_schema_to_public()
    return own_plan


def _client_orders_and_pays(page, base, imported, own_plan, stripe, expect, shot) -> None:
    """Step 2: on a phone, in Italian: both plans in the cart, a full address, the tax
    following the country, the terms, the card."""
    page.goto(base + "/")
    assert page.locator("html").get_attribute("lang") == "it"
    expect(page.locator(".product-card", has_text="Website care")).to_be_visible()
    shot(page, "phone-storefront")
    page.goto(f"{base}/store/plan/{imported.public_id}/")
    main = page.locator("main")
    expect(main).to_contain_text(ITALIAN_DESCRIPTION)
    expect(main).to_contain_text("4,90\xa0€")
    assert fits_the_screen(page)
    shot(page, "phone-imported-plan")
    page.locator('button[name="action"][value="add"]').click()
    expect(page.locator("h1")).to_have_text("Il tuo carrello")

    page.goto(base + "/")
    page.locator(".product-card", has_text="Website care").get_by_role("link").first.click()
    page.locator(f'a[href="/store/plan/{own_plan.public_id}/"]').first.click()
    expect(page.locator("main")).to_contain_text("19,90\xa0€")
    page.locator('button[name="action"][value="add"]').click()
    expect(page.locator("h1")).to_have_text("Il tuo carrello")
    cart = page.locator("main")
    expect(cart).to_contain_text("Web S")
    expect(cart).to_contain_text("Care monthly")
    assert fits_the_screen(page)
    shot(page, "phone-cart")
    page.locator('a[href="/checkout/"]').first.click()

    form = page.locator("#checkout-form")
    form.locator('[name="name"]').fill("Giulia Bianchi")
    form.locator('[name="email"]').fill(EMAIL)
    form.locator('[name="password"]').fill("a-long-and-unusual-passphrase")
    form.locator('[name="address_line1"]').fill("Via Garibaldi 3")
    form.locator('[name="postal_code"]').fill("10121")
    form.locator('[name="city"]').fill("Torino")
    form.locator('[name="country"]').select_option("IT")
    summary = page.locator('#checkout-quote [data-quote="summary"] tfoot')
    expect(summary).to_contain_text("22 %")
    expect(summary).to_contain_text("30,26\xa0€")  # 24.80 + 5.46
    assert fits_the_screen(page)
    shot(page, "phone-checkout-italy")

    form.locator('[name="address_line1"]').fill("Unter den Linden 5")
    form.locator('[name="postal_code"]').fill("10117")
    form.locator('[name="city"]').fill("Berlin")
    form.locator('[name="country"]').select_option("DE")
    expect(summary).to_contain_text("19 %")
    expect(summary).not_to_contain_text("22 %")
    expect(summary).to_contain_text("29,51\xa0€")  # 24.80 + 4.71
    form.locator('[name="accept_terms"]').check()
    assert fits_the_screen(page)
    shot(page, "phone-checkout-germany")
    form.locator('button[type="submit"]:not([value="quote"])').click()
    expect(page.locator("h1")).to_have_text("Grazie per il tuo ordine")
    expect(page.locator("main")).to_contain_text("29,51\xa0€")
    assert fits_the_screen(page)
    shot(page, "phone-order")

    card_pay(page, stripe_url=stripe.url, base=base)
    # The invoice's amounts and totals are on the phone's screen, not beyond its edge.
    total = page.locator("table.invoice-lines tfoot tr", has_text="Totale").locator("td.num")
    expect(total).to_have_text("29,51\xa0€")
    box = total.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"]
    expect(page.locator("table.invoice-lines tbody")).to_contain_text("1 × 19,90\xa0€")
    assert fits_the_screen(page)
    shot(page, "phone-paid")


def _staff_find_the_sale(console, base, live, expect, shot) -> None:
    """Step 3: the payment and its invoice, the revenue and tax reports, the client area
    seen as the client and the audit log of that."""
    with schema_context(live.schema):
        client = Client.objects.get(email=EMAIL)
        invoice = Invoice.objects.get(client=client)
        assert invoice.status == Invoice.Status.PAID
        own_product = Product.objects.get(name="Website care")
        number = invoice.number
    connection.set_schema_to_public()

    console.goto(base + "/console/payments/received/")
    row = console.locator("tbody tr", has_text="Giulia Bianchi")
    expect(row).to_contain_text("€29.51")
    expect(row).to_contain_text(number)
    shot(console, "console-payments-received")
    row.get_by_role("link", name=number).click()
    expect(console.locator("h1")).to_contain_text(number)
    expect(console.locator("main")).to_contain_text("Berlin")

    console.goto(base + "/console/reports/revenue/")
    revenue = console.locator("table").first
    expect(revenue.locator("tr", has_text="Website care")).to_contain_text("€19.90")
    expect(revenue.locator("tr", has_text="Shared hosting")).to_contain_text("€4.90")
    expect(revenue.locator("tfoot")).to_contain_text("€24.80")
    shot(console, "console-revenue-report")
    console.locator(".report-tabs").get_by_role("link", name="Taxes by country and rate").click()
    taxed = console.locator("table").first
    germany = taxed.locator("tbody tr", has_text="DE")
    expect(germany).to_contain_text("19 %")
    expect(germany).to_contain_text("€24.80")
    expect(germany).to_contain_text("€4.71")
    shot(console, "console-tax-report")
    assert own_product.name == "Website care"

    # Login as client: the client area as Giulia sees it, with the banner, and back.
    console.goto(base + "/console/payments/received/")
    console.locator("tbody tr", has_text=number).get_by_role("link", name="Giulia Bianchi").click()
    console.get_by_role("button", name="See the client area as this client").click()
    banner = console.locator(".login-as")
    # Exactly as the client sees it: in the client's language, Italian.
    expect(banner).to_contain_text(f"Stai vedendo l'area clienti come {EMAIL}")
    expect(console.locator("main")).to_contain_text(number)
    shot(console, "client-area-as-client")
    banner.get_by_role("button", name="Torna alla console").click()
    expect(console).to_have_url(re.compile(rf"/console/clients/{client.public_id}/$"))
    expect(console.locator(".login-as")).to_have_count(0)
    audit = console.locator("#client-audit")
    expect(audit).to_contain_text("Login as client started")
    expect(audit).to_contain_text("Login as client ended")
    expect(audit).to_contain_text(f"{live.owner_email} as {EMAIL}")
    shot(console, "console-client-audit")
