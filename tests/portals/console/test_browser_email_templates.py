"""The E-mails editor in a real browser (Chromium through Playwright) on a phone, in
Italian: the list, a text refused with its message, the preview of a changed text in the
tenant's colour, and saving it. Every page fits the phone's width. Screenshots go to
artifacts/portals/emails/."""

from __future__ import annotations

import shutil

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from accounts.branding import branding_update
from accounts.models import User
from billing.models import EmailTemplate
from tests.conftest import PASSWORD, ROOT
from tests.portals.live import fits_the_screen, screenshot_saver, wsgi_server

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

PHONE = {"width": 390, "height": 844}
SHOTS = ROOT / "artifacts" / "portals" / "emails"


_shot = screenshot_saver(SHOTS)


def test_the_email_editor_on_a_phone_in_italian(tenant_factory, monkeypatch):
    assert CHROMIUM, "Chromium is needed (.ci/run installs it)"
    # Playwright's sync API runs an event loop in this thread; the test's own queries
    # between browser steps are still synchronous ones.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    created = tenant_factory("Posta Hosting")
    created.tenant.default_language = "it"
    created.tenant.save(update_fields=["default_language"])
    host = created.tenant.domains.first().domain
    schema = created.tenant.schema_name
    with schema_context(schema):
        owner = User.objects.filter(role=User.Role.OWNER).first()
        owner.set_password(PASSWORD)
        owner.save()
        branding_update(company_name="Posta Hosting", brand_color="#aa3300")
    connection.set_schema_to_public()
    expect = playwright.expect
    with wsgi_server() as port, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_context(viewport=PHONE).new_page()
        base = f"http://{host}:{port}"
        page.goto(f"{base}/login/")
        page.fill('[name="username"]', owner.email)
        page.fill('[name="password"]', PASSWORD)
        page.locator('form:has([name="password"]) button[type="submit"]').click()

        page.goto(f"{base}/console/emails/")
        expect(page.locator("h1")).to_have_text("E-mail")
        expect(page.locator("#email-templates")).to_contain_text("Fattura emessa")
        assert fits_the_screen(page)
        _shot(page, "1-list")

        page.goto(f"{base}/console/emails/invoice_issued/it/")
        expect(page.locator('[name="subject"]')).to_have_value(
            "Fattura {{ invoice_number }} da {{ seller_name }}"
        )
        expect(page.locator("#email-variables")).to_contain_text("{{ amount_due }}")
        assert fits_the_screen(page)
        _shot(page, "2-editor")

        page.fill('[name="body"]', "Ciao {{ settings.SECRET_KEY }}")
        page.get_by_role("button", name="Salva").click()
        expect(page.locator(".errorlist")).to_contain_text("settings.SECRET_KEY")
        assert fits_the_screen(page)
        _shot(page, "3-refused")

        page.fill('[name="body"]', "Ciao {{ client_name }}, ecco la fattura di {{ total }}.")
        page.get_by_role("button", name="Anteprima").click()
        frame = page.frame_locator("#email-preview iframe")
        expect(frame.locator("body")).to_contain_text("Ciao Giulia Bianchi, ecco la fattura di")
        assert "#aa3300" in (page.locator("#email-preview iframe").get_attribute("srcdoc") or "")
        assert fits_the_screen(page)
        _shot(page, "4-preview")
        # The e-mail itself, as the phone shows it in the frame.
        frame.locator("table").first.screenshot(path=str(SHOTS / "4-preview-email.png"))

        page.get_by_role("button", name="Salva").click()
        expect(page.locator(".badge.active")).to_have_text("Personalizzato")
        _shot(page, "5-saved")
        browser.close()

    with schema_context(schema):
        saved = EmailTemplate.objects.get(kind="invoice_issued", language="it")
        assert saved.body == "Ciao {{ client_name }}, ecco la fattura di {{ total }}."
