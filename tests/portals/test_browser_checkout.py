"""The checkout that sells, in a real browser (Chromium through Playwright) on a phone,
in Italian: a visitor opens the storefront, adds a plan, checks out with a full
address, sees the tax change from Italy's to Germany's as the country changes (an
Italian seller registered for the One-Stop Shop), accepts the terms of service, places
the order and pays by card on the local Stripe's hosted page; the reseller's console
then shows the version of the terms accepted with the order. Screenshots go to
artifacts/portals/checkout/."""

from __future__ import annotations

import shutil
from decimal import Decimal

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from billing.models import Invoice, Order
from tests.conftest import PASSWORD, ROOT
from tests.portals.live import (
    card_pay,
    card_shop_make,
    fits_the_screen,
    language_cookies,
    local_stripe,
    screenshot_saver,
    wsgi_server,
)

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine")

SHOTS = ROOT / "artifacts" / "portals" / "checkout"
PHONE = {"width": 390, "height": 844}
SHOP_KEY = "sk_test_sandbox_epsilon"
EMAIL = "giulia.bianchi@example.test"


_shot = screenshot_saver(SHOTS)


def test_a_client_checks_out_sees_the_tax_follow_the_country_accepts_the_terms_and_pays(
    tenant_factory, monkeypatch
):
    expect = playwright.expect
    # The test reads the database between browser steps, inside Playwright's event loop.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with local_stripe(monkeypatch, SHOP_KEY) as stripe:
        live = card_shop_make(
            tenant_factory, "Epsilon Hosting", stripe_key=SHOP_KEY, label="epsilon"
        )
        _journey(live, stripe, expect)


def _journey(live, stripe, expect) -> None:
    with wsgi_server() as port, playwright.sync_playwright() as p:
        base = f"http://{live.host}:{port}"
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        italian = language_cookies(live.host, "it")
        phone = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
        phone.add_cookies(italian)
        page = phone.new_page()

        # 1. The storefront, the plan, the cart.
        page.goto(base + "/")
        page.locator(".product-card", has_text="Web hosting").get_by_role("link").first.click()
        page.locator(f'a[href="/store/plan/{live.shop.starter.public_id}/"]').first.click()
        page.locator('button[name="action"][value="add"]').click()
        expect(page.locator("h1")).to_have_text("Il tuo carrello")
        page.locator('a[href="/checkout/"]').first.click()

        # 2. Checkout with a full address in Italy: Italian VAT.
        form = page.locator("#checkout-form")
        form.locator('[name="name"]').fill("Giulia Bianchi")
        form.locator('[name="email"]').fill(EMAIL)
        form.locator('[name="password"]').fill("a-long-and-unusual-passphrase")
        form.locator('[name="address_line1"]').fill("Via Garibaldi 3")
        form.locator('[name="postal_code"]').fill("10121")
        form.locator('[name="city"]').fill("Torino")
        summary = page.locator('#checkout-quote [data-quote="summary"] tfoot')
        form.locator('[name="country"]').select_option("IT")
        expect(summary).to_contain_text("22 %")
        expect(summary).to_contain_text("12,20\xa0€")
        assert fits_the_screen(page)
        _shot(page, "01-checkout-italy")

        # 3. A consumer in Germany: the page asks the server again and shows German VAT.
        form.locator('[name="address_line1"]').fill("Unter den Linden 5")
        form.locator('[name="city"]').fill("Berlin")
        form.locator('[name="postal_code"]').fill("10117")
        form.locator('[name="country"]').select_option("DE")
        expect(summary).to_contain_text("19 %")
        expect(summary).to_contain_text("11,90\xa0€")
        expect(summary).not_to_contain_text("22 %")
        _shot(page, "02-checkout-germany")

        # 4. The order waits for the terms; accepted, it is placed.
        place = form.locator('button[type="submit"]:not([value="quote"])')
        place.click()
        terms_box = form.locator('[name="accept_terms"]')
        expect(terms_box).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#terms-acceptance")).to_contain_text(
            "Accetta le condizioni di servizio"
        )
        expect(summary).to_contain_text("19 %")  # the page shown again keeps Germany's tax
        assert fits_the_screen(page)
        _shot(page, "03-checkout-terms-required")
        form.locator('[name="password"]').fill("a-long-and-unusual-passphrase")
        terms_box.check()
        expect(page.locator("#terms-acceptance")).to_contain_text("versione 1")
        form.locator('button[type="submit"]:not([value="quote"])').click()
        expect(page.locator("h1")).to_have_text("Grazie per il tuo ordine")
        expect(page.locator("main")).to_contain_text("11,90\xa0€")
        assert fits_the_screen(page)
        _shot(page, "04-order")

        # 5. Pay by card on the Stripe stand-in's hosted page.
        card_pay(
            page, stripe_url=stripe.url, base=base, on_card_page=lambda: _shot(page, "05-card")
        )
        assert fits_the_screen(page)
        _shot(page, "06-paid")
        with schema_context(live.schema):
            order = Order.objects.select_related("invoice", "terms_version").get(
                client__email=EMAIL
            )
            assert order.invoice.status == Invoice.Status.PAID
            assert order.invoice.total_amount == order.total_amount
            assert order.total_amount == Decimal("11.90")
            (line,) = order.invoice.lines.all()
            assert line.tax_rate == 19 and order.invoice.buyer["address"]["city"] == "Berlin"
            assert order.terms_version.version == 1 and order.terms_accepted_ip == "127.0.0.1"
        connection.set_schema_to_public()
        phone.close()

        # 6. The reseller's console, on a phone too: the order names the terms accepted.
        staff = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
        staff.add_cookies(italian)
        console = staff.new_page()
        console.goto(f"{base}/console/orders/{order.public_id}/")
        console.locator('[name="username"]').fill(live.owner_email)
        console.locator('[name="password"]').fill(PASSWORD)
        console.get_by_role("button", name="Accedi").click()
        terms = console.locator("#order-terms")
        expect(terms).to_contain_text("Versione 1")
        expect(terms).to_contain_text("accettata il")
        expect(terms).to_contain_text("127.0.0.1")
        assert fits_the_screen(console)
        _shot(console, "07-console-order")
        staff.close()
        browser.close()
