"""The domain pages in a real browser (Chromium through Playwright) at phone width, in
Italian and Russian: the storefront's search with its premium and taken answers and the
transfer form, the client area's domain page and its one-time auth code, and the
console's Registered domains. Screenshots go to artifacts/portals/domains-<language>/."""

from __future__ import annotations

import shutil

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from billing import services
from tests.conftest import ROOT
from tests.portals.live import wsgi_server
from tests.resale.domain_flow import domain_world, local_service, order_and_pay_items
from tests.resale.flow import wait_for

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine"),
]

PHONE = {"width": 390, "height": 844}
HEADINGS = {
    "it": {"search": "Trasferisci un dominio da noi", "console": "Domini registrati"},
    "ru": {"search": "Перенесите домен к нам", "console": "Зарегистрированные домены"},
}


def _session(schema: str, host: str, user: User) -> str:
    browser = Client(HTTP_HOST=host)
    with schema_context(schema):
        browser.force_login(user)
    connection.set_schema_to_public()
    return browser.cookies["sessionid"].value


@pytest.mark.parametrize("language", ["it", "ru"])
def test_domain_pages_on_a_phone(language, tenant_factory, celery_worker_process, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    shots = ROOT / "artifacts" / "portals" / f"domains-{language}"
    shots.mkdir(parents=True, exist_ok=True)
    with domain_world(tenant_factory, "Domini Hosting") as dworld:
        name = f"negozio.{dworld.tld}"
        (service,) = order_and_pay_items(
            dworld,
            key=f"order-{language}",
            items=[{"plan": dworld.domain_plan, "cycle": "annual", "domain_name": name}],
        )
        wait_for(lambda: local_service(dworld, service).status == "active", what="activation")
        with schema_context(dworld.schema):
            client_user = User.objects.create_user(
                f"cliente-{language}@example.test", "Pass-word-123", kind=User.Kind.CLIENT
            )
            services.client_user_link(client=dworld.client, user=client_user)
            owner = User.objects.filter(kind=User.Kind.STAFF, role=User.Role.OWNER).first()
        connection.set_schema_to_public()
        client_session = _session(dworld.schema, dworld.host, client_user)
        owner_session = _session(dworld.schema, dworld.host, owner)

        with wsgi_server() as port, playwright.sync_playwright() as p:
            base = f"http://{dworld.host}:{port}"
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])

            def phone(session: str | None):
                context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
                cookies = [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language}]
                if session:
                    cookies.append({"name": "sessionid", "value": session})
                context.add_cookies([{**c, "domain": dworld.host, "path": "/"} for c in cookies])
                return context.new_page()

            def fits(page) -> None:
                # Nothing wider than the phone: no sideways scrolling of the page.
                width = page.evaluate("document.documentElement.scrollWidth")
                wide = page.evaluate(
                    "[...document.querySelectorAll('body *')].filter(e => "
                    "e.getBoundingClientRect().right > 391).slice(0, 5).map(e => "
                    "e.tagName + '.' + e.className + ':' + e.getBoundingClientRect().right)"
                )
                assert width <= PHONE["width"] + 1, f"{page.url} is {width}px wide: {wide}"

            page = phone(None)
            page.goto(f"{base}/domains/?q=gold.{dworld.tld}")
            assert HEADINGS[language]["search"] in page.content()
            # On a phone the results read as a list, one name under the other.
            fits(page)
            page.screenshot(path=str(shots / "01-search-premium.png"), full_page=True)
            page.goto(f"{base}/domains/?q=taken.{dworld.tld}")
            fits(page)
            page.screenshot(path=str(shots / "02-search-taken.png"), full_page=True)

            page = phone(client_session)
            page.goto(f"{base}/account/services/{service.public_id}/domain/")
            assert name in page.content() and "ns1.tessera.invalid" in page.content()
            fits(page)
            page.screenshot(path=str(shots / "03-client-domain.png"), full_page=True)
            page.locator("form[action$='/domain/auth-code/'] button").click()
            page.wait_for_load_state()
            fits(page)
            page.screenshot(path=str(shots / "04-auth-code.png"), full_page=True)

            page = phone(owner_session)
            page.goto(f"{base}/console/registered-domains/")
            assert HEADINGS[language]["console"] in page.content() and name in page.content()
            page.screenshot(path=str(shots / "05-console-domains.png"), full_page=True)
            browser.close()
