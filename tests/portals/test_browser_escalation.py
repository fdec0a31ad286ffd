"""Escalation in a real browser (Chromium through Playwright), on a phone: the reseller's
owner, whose console speaks Italian, escalates a client's ticket, checks the preview and
sends it; the provider answers from its desk; the owner forwards the answer to the
client. Every page fits the phone's width and none of the provider's shows the client.
Screenshots go to artifacts/portals/escalation/."""

from __future__ import annotations

import shutil

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import User
from resale.models import ProviderTicket
from support.models import Message
from tests.conftest import PASSWORD, ROOT
from tests.portals.live import fits_the_screen, screenshot_saver, wsgi_server
from tests.resale.flow import order_and_pay, resale_world_build, service_status, wait_for
from tests.support.test_escalation_flow import NEEDLES, _client_ticket

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.worker]

PHONE = {"width": 390, "height": 844}
SHOTS = ROOT / "artifacts" / "portals" / "escalation"


_shot = screenshot_saver(SHOTS)


def test_escalation_on_a_phone_in_italian(tenant_factory, celery_worker_process, monkeypatch):
    assert CHROMIUM, "Chromium is needed (.ci/run installs it)"
    # Playwright's sync API runs an event loop in this thread; the test's own queries
    # between browser steps are still synchronous ones.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    created = tenant_factory("Telefono Hosting")
    created.tenant.default_language = "it"
    created.tenant.save(update_fields=["default_language"])
    host = created.tenant.domains.first().domain
    world = resale_world_build(created, top_up="10.00")
    service = order_and_pay(world, key="phone-esc", domain="phone-esc.example")
    wait_for(lambda: service_status(world, service) == "active", what="activation")
    ticket = _client_ticket(world, service)
    with schema_context(world.schema):
        owner = User.objects.filter(role=User.Role.OWNER).first()
        owner.set_password(PASSWORD)
        owner.save()
    connection.set_schema_to_public()
    expect = playwright.expect
    with wsgi_server() as port, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        console = browser.new_context(viewport=PHONE).new_page()
        base = f"http://{host}:{port}"
        console.goto(f"{base}/login/")
        console.fill('[name="username"]', owner.email)
        console.fill('[name="password"]', PASSWORD)
        console.locator('form:has([name="password"]) button[type="submit"]').click()
        console.goto(f"{base}/console/support/{ticket.public_id}/")
        console.get_by_role("link", name="Inoltra al fornitore").click()
        expect(console.locator("h1")).to_have_text("Inoltra al fornitore")
        assert fits_the_screen(console)
        _shot(console, "1-choose")
        console.get_by_role("button", name="Anteprima di ciò che sarà inviato").click()
        expect(console.locator("#preview-title")).to_have_text("Cosa riceverà il fornitore")
        preview = console.locator(".thread").inner_text().lower()
        assert "502" in preview and not [n for n in NEEDLES if n in preview]
        assert fits_the_screen(console)
        _shot(console, "2-preview")
        console.get_by_role("button", name="Invia al fornitore").click()
        expect(console.locator("#escalation-title")).to_have_text("Presso il fornitore")
        _shot(console, "3-sent")

        def at_provider():
            connection.set_schema_to_public()
            return ProviderTicket.objects.filter(account=world.account).first()

        provider_ticket = wait_for(at_provider, what="the provider's ticket")
        platform = f"http://{settings.PLATFORM_DOMAIN}:{port}"
        provider = browser.new_context(viewport=PHONE).new_page()
        provider.goto(platform + "/provider/desk/")
        provider.fill('[name="username"]', "admin@platform.test")
        provider.fill('[name="password"]', PASSWORD)
        provider.locator('form:has([name="password"]) button[type="submit"]').click()
        provider.goto(platform + "/provider/desk/")
        assert fits_the_screen(provider)
        _shot(provider, "4-provider-desk")
        provider.get_by_role("link", name=provider_ticket.subject).click()
        shown = provider.content().lower()
        assert not [n for n in NEEDLES if n in shown]
        provider.fill("#id_body", "Disk replaced; the site is back.")
        provider.get_by_role("button", name="Send answer").click()
        expect(provider.locator(".msg.success")).to_be_visible()
        assert fits_the_screen(provider)
        _shot(provider, "5-provider-answered")

        def answered() -> bool:
            with schema_context(world.schema):
                return Message.objects.filter(
                    ticket=ticket, body="Disk replaced; the site is back."
                ).exists()

        wait_for(answered, what="the answer in the reseller's ticket")
        connection.set_schema_to_public()
        console.reload()
        console.locator("#escalation-title ~ ul a").first.click()
        expect(console.locator("h1")).to_have_text("Inoltra al cliente")
        assert fits_the_screen(console)
        _shot(console, "6-forward")
        console.get_by_role("button", name="Invia").click()
        expect(console.locator("h1")).to_contain_text(ticket.subject)
        _shot(console, "7-forwarded")
        browser.close()
    with schema_context(world.schema):
        reply = Message.objects.filter(ticket=ticket).order_by("id").last()
        assert (reply.author_kind, reply.is_internal) == ("staff", False)
        assert reply.body == "Disk replaced; the site is back."
