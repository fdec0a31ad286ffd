"""The console's catalogue editing in a real browser (Chromium through Playwright) on a
phone, in Italian: a new group, an own product with a plan priced per cycle, the plan's
translations, an option's page; each page fits the screen, and the plan reaches the
storefront under its Italian name. Screenshots go to artifacts/portals/catalogue-*.png."""

from __future__ import annotations

import shutil

import pytest
from django.conf import settings

from tests.conftest import PASSWORD, ROOT
from tests.portals.live import live_shop_make, wsgi_server

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine")

SHOTS = ROOT / "artifacts" / "portals"
PHONE = {"width": 390, "height": 844}


def _fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def _shot(page, name: str) -> None:
    assert _fits_the_screen(page), f"{name} is wider than the phone"
    page.screenshot(path=str(SHOTS / f"catalogue-{name}-phone-it.png"), full_page=True)


def test_catalogue_editing_on_a_phone_in_italian(tenant_factory):
    expect = playwright.expect
    live = live_shop_make(tenant_factory, "Epsilon Hosting")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with wsgi_server() as port, playwright.sync_playwright() as p:
        base = f"http://{live.host}:{port}"
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport=PHONE, device_scale_factor=2)
        context.add_cookies(
            [
                {
                    "name": settings.LANGUAGE_COOKIE_NAME,
                    "value": "it",
                    "domain": live.host,
                    "path": "/",
                }
            ]
        )
        page = context.new_page()
        page.goto(base + "/console/catalogue/")
        page.fill('[name="username"]', live.owner_email)
        page.fill('[name="password"]', PASSWORD)
        page.locator('form:has([name="password"]) button[type="submit"]').click()
        expect(page.locator("h1")).to_have_text("Catalogo")
        _shot(page, "list")

        page.get_by_role("link", name="Gruppi di prodotti").click()
        page.get_by_label("Nome").fill("Servizi gestiti")
        page.get_by_role("button", name="Crea il gruppo").click()
        expect(page.locator(".msg.success")).to_contain_text("Servizi gestiti")
        _shot(page, "groups")

        page.goto(base + "/console/catalogue/products/new/")
        page.get_by_label("Gruppo di prodotti").select_option(label="Servizi gestiti")
        page.get_by_label("Nome").fill("Manutenzione siti")
        page.get_by_role("button", name="Salva il prodotto").click()
        expect(page.locator(".msg.success")).to_contain_text("Il prodotto è salvato.")
        _shot(page, "product")

        page.get_by_role("link", name="Nuovo piano").click()
        page.locator('[name="name"]').fill("Mensile")
        page.get_by_role("button", name="Salva il piano").click()
        # No price yet: the error is on the page, nothing is saved.
        expect(page.locator(".errorlist.nonfield")).to_contain_text("almeno un ciclo")
        _shot(page, "plan-error")
        page.locator('[name="prices-0-cycle"]').select_option("monthly")
        page.locator('[name="prices-0-price"]').fill("19,90")
        page.get_by_role("button", name="Salva il piano").click()
        expect(page.locator(".msg.success")).to_contain_text("Il piano è salvato.")
        _shot(page, "plan")

        page.get_by_role("link", name="Traduzioni").click()
        page.locator('[name="it-name"]').fill("Piano mensile")
        page.get_by_role("button", name="Salva le traduzioni").click()
        expect(page.locator(".msg.success")).to_contain_text("Le traduzioni sono salvate.")
        _shot(page, "translations")

        page.goto(base + "/console/catalogue/")
        page.get_by_role("link", name="Extra IP address").click()
        expect(page.locator("h1")).to_have_text("Extra IP address")
        _shot(page, "option")

        page.goto(base + "/")
        expect(page.locator("main")).to_contain_text("Manutenzione siti")
        page.get_by_role("link", name="Manutenzione siti").first.click()
        expect(page.locator("main")).to_contain_text("Piano mensile")
        context.close()
        browser.close()
