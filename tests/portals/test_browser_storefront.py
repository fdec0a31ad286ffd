"""The storefront's catalogue in a real browser (Chromium through Playwright), on a phone
and on a desktop, in Italian: product cards with their "from" price, the plan
comparison, and the language select that applies itself (and, without script, its
button). Screenshots go to artifacts/portals/storefront-*.png."""

from __future__ import annotations

import shutil

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from tests.conftest import ROOT
from tests.portals.live import fits_the_screen, language_cookies, live_shop_make, wsgi_server

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine")

SHOTS = ROOT / "artifacts" / "portals"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def test_catalogue_cards_comparison_and_language_select(tenant_factory):
    expect = playwright.expect
    live = live_shop_make(tenant_factory, "Delta Hosting")
    with schema_context(live.schema):
        from billing import services

        product = live.shop.starter.product
        product.description = "Fast sites on SSD storage, with e-mail and daily backups."
        product.save(update_fields=["description"])
        services.catalogue_translation_set(
            item=product,
            language="it",
            name="Hosting web",
            description="Siti veloci su dischi SSD, con e-mail e backup giornalieri.",
        )
        services.catalogue_translation_set(
            item=live.shop.starter,
            language="it",
            name="Base",
            features=["Spazio: 10 GB SSD", "Siti web: 1", "Certificato TLS"],
        )
        services.catalogue_translation_set(
            item=live.shop.pro,
            language="it",
            name="Professionale",
            features=["Spazio: 50 GB SSD", "Siti web: illimitati", "Certificato TLS"],
        )
    connection.set_schema_to_public()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with wsgi_server() as port, playwright.sync_playwright() as p:
        base = f"http://{live.host}:{port}"
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        italian = language_cookies(live.host, "it")
        for width, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            context = browser.new_context(
                viewport=viewport, device_scale_factor=2 if width == "phone" else 1
            )
            context.add_cookies(italian)
            page = context.new_page()
            page.goto(base + "/")
            card = page.locator(".product-card", has_text="Hosting web")
            expect(card).to_contain_text("da 8,33 € al mese")
            expect(card).to_contain_text("Siti veloci su dischi SSD")
            expect(card).to_contain_text("Siti web: 1")
            assert fits_the_screen(page)
            page.screenshot(path=str(SHOTS / f"storefront-home-{width}-it.png"), full_page=True)

            card.get_by_role("link").click()
            table = page.locator("table.compare")
            expect(table.locator("thead")).to_contain_text("Base")
            expect(table.locator("tr", has_text="Siti web")).to_contain_text("illimitati")
            expect(table.locator("tr", has_text="Mensile")).to_contain_text("30,00 €")
            assert fits_the_screen(page), "the table scrolls inside itself"
            page.screenshot(path=str(SHOTS / f"storefront-plans-{width}-it.png"), full_page=True)
            context.close()

        # The select applies the language by itself; its button is only for no script.
        context = browser.new_context(viewport=PHONE)
        context.add_cookies(italian)
        page = context.new_page()
        page.goto(base + "/store/hosting/")
        expect(page.locator("#site-language-go")).to_be_hidden()
        with page.expect_navigation():
            page.select_option("#site-language", "ru")
        expect(page.locator("html")).to_have_attribute("lang", "ru")
        assert page.url.endswith("/store/hosting/")
        expect(page.locator("table.compare")).to_contain_text("Ежемесячно")
        # No Russian name was written: the tenant's own names are shown.
        expect(page.locator("h2").first).to_have_text("Web hosting")
        page.screenshot(path=str(SHOTS / "storefront-plans-phone-ru.png"), full_page=True)
        context.close()

        context = browser.new_context(viewport=PHONE, java_script_enabled=False)
        context.add_cookies(italian)
        page = context.new_page()
        page.goto(base + "/")
        button = page.locator("#site-language-go")
        expect(button).to_be_visible()
        page.select_option("#site-language", "en")
        button.click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        context.close()
        browser.close()
