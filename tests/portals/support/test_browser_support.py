"""The support desk in a real browser (Chromium through Playwright), in Italian, on a
phone-sized screen: a client opens a ticket with an attachment, staff answer with a
canned reply, the client replies and closes the ticket. Screenshots of every step go to
artifacts/portals/support-it/."""

from __future__ import annotations

import shutil

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from support import services
from support.models import Ticket
from tests.conftest import PASSWORD, ROOT
from tests.portals.live import fits_the_screen, live_shop_make, screenshot_saver, wsgi_server
from tests.support.conftest import PNG

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine")

SHOTS = ROOT / "artifacts" / "portals" / "support-it"
PHONE = {"width": 390, "height": 844}


_shot = screenshot_saver(SHOTS)


def _log_in(page, email: str) -> None:
    page.get_by_label("Indirizzo e-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Accedi").click()


def test_support_journey_in_italian(tenant_factory):
    expect = playwright.expect
    live = live_shop_make(tenant_factory, name="Gamma Assistenza")
    live.tenant.default_language = "it"
    live.tenant.save(update_fields=["default_language"])
    with schema_context(live.schema):
        live.shop.client.language = "it"
        live.shop.client.save(update_fields=["language"])
        department = services.department_save(name="Assistenza tecnica")
        services.canned_reply_save(
            title="Servizio riavviato",
            body="Abbiamo riavviato il servizio: ora funziona di nuovo.",
            department=department,
        )
        client_email = live.shop.client.client_users.get().user.email
    connection.set_schema_to_public()

    with wsgi_server() as port, playwright.sync_playwright() as p:
        base = f"http://{live.host}:{port}"
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])

        # The client opens a ticket with a screenshot attached.
        phone = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
        client = phone.new_page()
        client.goto(base + "/account/support/")
        _log_in(client, client_email)
        expect(client.locator("h1")).to_have_text("Assistenza")
        client.get_by_role("link", name="Apri un ticket").click()
        client.get_by_label("Reparto").select_option(label="Assistenza tecnica")
        client.get_by_label("Oggetto").fill("Il sito non risponde")
        client.get_by_label("Messaggio").fill("Da stamattina il sito dà errore 500.")
        client.get_by_label("Allegati").set_input_files(
            [{"name": "errore.png", "mimeType": "image/png", "buffer": PNG}]
        )
        assert fits_the_screen(client)
        _shot(client, "01-client-new-ticket")
        client.get_by_role("button", name="Apri il ticket").click()
        expect(client.locator(".msg.success")).to_contain_text("Il tuo ticket è aperto")
        expect(client.locator(".thread")).to_contain_text("errore 500")
        attachment = client.get_by_role("link", name="errore.png")
        expect(attachment).to_be_visible()
        # Fetched by the page itself: the browser resolves the tenant's host.
        status, content_type, size = client.evaluate(
            """async (url) => {
                const response = await fetch(url);
                const body = await response.arrayBuffer();
                return [response.status, response.headers.get("content-type"), body.byteLength];
            }""",
            attachment.get_attribute("href"),
        )
        assert (status, content_type, size) == (200, "image/png", len(PNG))
        assert fits_the_screen(client)
        _shot(client, "02-client-ticket-open")
        ticket_url = client.url

        # Staff answer it with the canned reply, from a phone too.
        staff_context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
        staff = staff_context.new_page()
        staff.goto(base + "/console/support/")
        _log_in(staff, live.owner_email)
        expect(staff.locator("h1")).to_have_text("Assistenza")
        expect(staff.locator("main")).to_contain_text("Il sito non risponde")
        assert fits_the_screen(staff)
        _shot(staff, "03-staff-queue")
        staff.get_by_role("link", name="Il sito non risponde").click()
        staff.get_by_label("Risposta predefinita").select_option(label="Servizio riavviato")
        expect(staff.get_by_label("Messaggio")).to_have_value(
            "Abbiamo riavviato il servizio: ora funziona di nuovo."
        )
        _shot(staff, "04-staff-canned-reply")
        staff.get_by_role("button", name="Invia", exact=True).click()
        expect(staff.locator(".msg.success")).to_contain_text("Risposta inviata.")
        expect(staff.locator(".facts")).to_contain_text("Risposto")
        assert fits_the_screen(staff)
        _shot(staff, "05-staff-answered")

        # The client reads the answer, replies, and closes the ticket.
        client.goto(ticket_url)
        expect(client.locator(".thread")).to_contain_text("Abbiamo riavviato il servizio")
        client.get_by_label("La tua risposta").fill("Grazie, ora funziona.")
        client.get_by_role("button", name="Invia la risposta").click()
        expect(client.locator(".msg.success")).to_contain_text("La tua risposta è stata inviata.")
        expect(client.locator(".facts")).to_contain_text("Risposta del cliente")
        client.get_by_role("button", name="Chiudi il ticket").click()
        expect(client.locator(".facts")).to_contain_text("Chiuso")
        assert fits_the_screen(client)
        _shot(client, "06-client-closed")

        staff_context.close()
        phone.close()
        browser.close()

    with schema_context(live.schema):
        ticket = Ticket.objects.get(subject="Il sito non risponde")
        assert ticket.status == Ticket.Status.CLOSED
        assert list(ticket.messages.values_list("author_kind", flat=True)) == [
            "client",
            "staff",
            "client",
        ]
        assert ticket.attachments.get().content_type == "image/png"
