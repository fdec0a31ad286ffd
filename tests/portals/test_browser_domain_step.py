"""The domain step of a hosting plan that requires a domain, in a real browser (Chromium
through Playwright) on a phone, in Italian: choosing the plan leads to the step, a taken
name is refused on the form, a free one goes into the cart with the hosting set up on it.
Screenshots go to artifacts/portals/domain-step-it/."""

from __future__ import annotations

import shutil

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from billing import services
from tests.conftest import ROOT
from tests.portals.live import wsgi_server
from tests.resale.domain_flow import domain_world

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine"),
]

PHONE = {"width": 390, "height": 844}


def test_domain_step_on_a_phone_in_italian(tenant_factory, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    shots = ROOT / "artifacts" / "portals" / "domain-step-it"
    shots.mkdir(parents=True, exist_ok=True)
    with domain_world(tenant_factory, "Hosting Con Dominio") as dworld:
        with schema_context(dworld.schema):
            services.plan_domain_policy_set(plan=dworld.world.plan, domain_policy="require")
        connection.set_schema_to_public()
        name = f"bottega.{dworld.tld}"
        with wsgi_server() as port, playwright.sync_playwright() as p:
            base = f"http://{dworld.host}:{port}"
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
            context.add_cookies(
                [
                    {
                        "name": settings.LANGUAGE_COOKIE_NAME,
                        "value": "it",
                        "domain": dworld.host,
                        "path": "/",
                    }
                ]
            )
            page = context.new_page()

            def fits() -> None:
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE["width"] + 1, f"{page.url} is {width}px wide"

            page.goto(f"{base}/store/plan/{dworld.world.plan.public_id}/")
            page.locator("button[name='action'][value='add']").click()
            page.wait_for_load_state()
            assert page.url.endswith("/domain/")
            content = page.content()
            assert "Scegli un dominio" in content and "Registra un nuovo dominio" in content
            assert "Usa un dominio che possiedo già" not in content
            fits()
            page.screenshot(path=str(shots / "01-step.png"), full_page=True)

            page.locator("input[name='choice'][value='register']").check()
            page.fill("input[name='domain']", f"taken.{dworld.tld}")
            page.locator("#domain-step button[type='submit']").click()
            page.wait_for_load_state()
            assert "non è disponibile per la registrazione" in page.content()
            fits()
            page.screenshot(path=str(shots / "02-taken.png"), full_page=True)

            page.locator("input[name='choice'][value='register']").check()
            page.fill("input[name='domain']", name)
            page.select_option("select[name='cycle']", "biennial")
            page.locator("#domain-step button[type='submit']").click()
            page.wait_for_load_state()
            assert page.url.endswith("/cart/")
            content = page.content()
            assert f"Dominio: {name}" in content and 'id="domain-missing"' not in content
            fits()
            page.screenshot(path=str(shots / "03-cart.png"), full_page=True)
            browser.close()
