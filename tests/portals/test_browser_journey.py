"""The order journey in a real browser (Chromium through Playwright) on a phone-sized
screen: domain search against the local RDAP server, a plan whose price updates live,
cart, sign-up at checkout with its errors, the confirmation, the invoice; then the
reseller's console on a desktop screen, where the transfer is recorded and found in the
payments received. Screenshots of every step go to
artifacts/portals/. Skipped where no Chromium is installed."""

from __future__ import annotations

import re
import shutil

import pytest

from tests.conftest import PASSWORD, ROOT
from tests.portals.live import fits_the_screen, live_shop_make, screenshot_saver, wsgi_server

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine")

SHOTS = ROOT / "artifacts" / "portals"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


_shot = screenshot_saver(SHOTS)


def test_order_journey_in_a_browser(tenant_factory, rdap_bootstrap):
    expect = playwright.expect
    live = live_shop_make(tenant_factory)
    with wsgi_server() as port, playwright.sync_playwright() as p:
        base = f"http://{live.host}:{port}"
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        phone = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
        page = phone.new_page()

        page.goto(base + "/")
        expect(page.locator("h1")).to_contain_text("Gamma Hosting")
        # Keyboard: the first Tab reaches the skip link, which moves focus to the content.
        page.keyboard.press("Tab")
        expect(page.locator(":focus")).to_have_text("Skip to content")
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        assert fits_the_screen(page)
        _shot(page, "01-home-phone")

        page.fill("#home-domain", "my-shop")
        page.keyboard.press("Enter")
        row = page.locator("tr", has_text="my-shop.com")
        expect(row).to_contain_text("Available")
        expect(page.locator("tr", has_text="my-shop.net")).to_contain_text("Available")
        _shot(page, "02-domain-search")
        row.get_by_role("button", name="Add my-shop.com to the cart").click()
        expect(page.locator(".msg.success")).to_contain_text("my-shop.com")

        page.goto(base + "/store/hosting/")
        page.get_by_role("link", name="Choose Web hosting – Starter").click()
        total = page.locator('[data-quote="total"]')
        expect(total).to_have_text("€12.20")
        page.get_by_label(re.compile("Annually")).check()
        expect(total).to_have_text("€128.10")  # 100 + 5 setup, 22 % VAT: from the server
        page.fill("input[name^=qty_]", "1")
        expect(total).to_have_text("€152.50")
        assert fits_the_screen(page)
        _shot(page, "03-plan-live-price")
        page.get_by_role("button", name="Add to cart").click()

        expect(page.locator("h1")).to_have_text("Your cart")
        expect(page.locator("main")).to_contain_text("my-shop.com")
        assert fits_the_screen(page)
        _shot(page, "04-cart")
        page.get_by_role("link", name="Checkout").click()

        page.get_by_label("Full name").fill("Giulia Bianchi")
        page.get_by_label("E-mail address").fill("giulia@example.test")
        page.get_by_label("Address:", exact=True).fill("Via Garibaldi 3")
        page.get_by_label("Postal code").fill("10121")
        page.get_by_label("City").fill("Torino")
        page.get_by_label("Country").select_option("IT")
        page.get_by_role("button", name="Create my account and place the order").click()
        password = page.get_by_label("Password")
        expect(password).to_have_attribute("aria-invalid", "true")
        _shot(page, "05-checkout-errors")
        password.fill("a-long-and-unusual-passphrase")
        password.press("Enter")

        expect(page.locator("h1")).to_have_text("Thank you for your order")
        expect(page.locator("main")).to_contain_text("IT60X0542811101000000123456")
        number = page.locator("main").inner_text().split("Invoice ", 1)[1].split()[0]
        assert fits_the_screen(page)
        _shot(page, "06-order-confirmation")
        page.get_by_role("link", name="View the invoice").click()
        expect(page.locator("h1")).to_have_text(f"Invoice {number}")
        _shot(page, "07-client-invoice")
        phone.close()

        desk = browser.new_context(viewport=DESKTOP)
        console = desk.new_page()
        console.goto(base + "/console/")
        console.get_by_label("E-mail address").fill(live.owner_email)
        console.get_by_label("Password").fill(PASSWORD)
        console.get_by_role("button", name="Log in").click()
        expect(console.locator("h1")).to_have_text("Dashboard")
        expect(console.locator("svg.chart")).to_be_visible()
        _shot(console, "08-console-dashboard")
        console.get_by_role("link", name="Invoices").click()
        expect(console.locator("main")).to_contain_text(number)
        expect(console.locator("main")).to_contain_text("Giulia Bianchi")
        _shot(console, "09-console-invoices")
        # The transfer arrives: recorded on the invoice, found in the payments received.
        console.get_by_role("link", name=number).click()
        console.get_by_label("Bank reference").fill("TRN-4471")
        console.get_by_role("button", name="Record payment").click()
        expect(console.locator(".msg.success")).to_contain_text("Payment recorded")
        console.get_by_role("link", name="Payments received").click()
        expect(console.locator("h1")).to_have_text("Payments received")
        row = console.locator("tr", has_text="TRN-4471")
        expect(row).to_contain_text("Giulia Bianchi")
        expect(row.get_by_role("link", name=number)).to_be_visible()
        _shot(console, "09b-console-payments-received")
        console.set_viewport_size(PHONE)
        assert fits_the_screen(console)
        _shot(console, "09c-console-payments-received-phone")
        console.set_viewport_size(DESKTOP)
        console.set_viewport_size(PHONE)
        console.goto(base + "/console/")
        assert fits_the_screen(console)
        _shot(console, "10-console-phone")
        desk.close()
        browser.close()
