"""The journey of the README, offline, against the stand-ins exactly as `make run` starts
them (``sandbox.launcher.standins_start`` with no outside credentials), in Chromium: a
visitor searches a domain on the storefront (the local RDAP answers), orders hosting,
pays by card on the local Stripe Checkout page, sees the service go active once a real
Celery worker has had the simulated panel create the account, opens the control panel
and lands on the simulated panel's own page. The tenant takes card payments the way the
demo tenants of `make run` do (``billing.demo.card_payments_seed``). Every request the
browser makes goes to this machine: anything else is aborted and fails the test.
Screenshots go to artifacts/portals/offline-journey/."""

from __future__ import annotations

import re
import shutil
import uuid
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from billing import services
from billing.demo import card_payments_seed
from billing.models import Invoice, Service
from provisioning.models import PlanMapping, ServerGroup
from provisioning.services import server_create
from resale.services import reseller_balance_topup
from sandbox.launcher import standins_start
from tests.billing.payments.conftest import StripeSettings
from tests.conftest import ROOT
from tests.portals.live import card_pay, live_shop_make, screenshot_saver, wsgi_server
from tests.provisioning.conftest import REDIS_URL
from tests.resale.factories import account_on, wholesale_catalogue
from tests.resale.flow import wait_for

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine"),
]

SHOTS = ROOT / "artifacts" / "portals" / "offline-journey"
LOCAL_HOSTS = ("127.0.0.1", "localhost")


_shot = screenshot_saver(SHOTS)


def _is_local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in LOCAL_HOSTS or host.endswith(".localhost") or url.startswith("data:")


def _resold_shop(tenant_factory):
    """A reseller whose Starter plan is bought from the provider and created on a
    simulated panel server, with a funded balance."""
    live = live_shop_make(tenant_factory, name="Offline Hosting")
    prefix = f"o{uuid.uuid4().hex[:6]}-"
    catalogue = wholesale_catalogue(code_prefix=prefix)
    account = account_on(live.tenant, catalogue["price_list"])
    reseller_balance_topup(
        account=account, amount="20.00", reference="seed", idempotency_key=f"seed-{prefix}"
    )
    group = ServerGroup.objects.create(name=f"sim-{prefix}", module="simulated")
    server_create(
        group=group,
        name=f"{prefix}node1",
        hostname=f"{prefix}node1.panel.test",
        port=443,
        extra={"latency_s": 0.0, "failure_rate": 0.0, "redis_url": REDIS_URL},
    )
    PlanMapping.objects.create(plan_code=catalogue["web-s"].code, group=group, package="web-s")
    with schema_context(live.tenant.schema_name):
        services.billing_settings_update(legal_name=f"{live.tenant.name} S.r.l.")
        starter = live.shop.starter
        starter.upstream_plan_ref = catalogue["web-s"].code
        starter.upstream_cycle = "monthly"
        starter.save(update_fields=["upstream_plan_ref", "upstream_cycle"])
    connection.set_schema_to_public()
    return live


def test_the_offline_journey_of_make_run_in_a_browser(
    tenant_factory, celery_worker_process, monkeypatch, tmp_path, settings
):
    expect = playwright.expect
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # As `make run` with no outside credentials: only the Redis the app uses is known.
    with standins_start({"REDIS_URL": REDIS_URL}, state_dir=tmp_path) as standins:
        env = standins.env
        stripe_settings = StripeSettings(monkeypatch)
        stripe_settings.set(
            STRIPE_API_BASE=env["STRIPE_API_BASE"],
            STRIPE_SECRET_KEY=env["STRIPE_SECRET_KEY"],
            STRIPE_WEBHOOK_SECRET=env["STRIPE_WEBHOOK_SECRET"],
            STRIPE_CONNECT_WEBHOOK_SECRET=env["STRIPE_CONNECT_WEBHOOK_SECRET"],
            STRIPE_MAX_NETWORK_RETRIES=0,
        )
        settings.RDAP_BOOTSTRAP_FILE = env["RDAP_BOOTSTRAP_FILE"]
        settings.SIMULATED_PANEL_URL = env["SIMULATED_PANEL_URL"]
        keys = dict(item.split("=", 1) for item in env["TESSERA_SANDBOX_STRIPE_KEYS"].split(","))
        try:
            live = _resold_shop(tenant_factory)
            with schema_context(live.schema):
                card_payments_seed(sandbox_key=keys["shop"], label="shop")
            connection.set_schema_to_public()
            _journey(live, env, expect)
        finally:
            stripe_settings.restore()


def _journey(live, env: dict[str, str], expect) -> None:
    email = "offline.client@example.test"
    outside: list[str] = []

    def local_only(route) -> None:
        if _is_local(route.request.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with wsgi_server() as port, playwright.sync_playwright() as p:
        base = f"http://{live.host}:{port}"
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.route("**/*", local_only)
        page = context.new_page()

        # 1. The domain search: the local RDAP says which names are free.
        page.goto(base + "/")
        page.fill("#home-domain", "offline-shop")
        page.keyboard.press("Enter")
        free = page.locator("tr", has_text="offline-shop.com")
        expect(free.locator("button")).to_be_visible()
        page.goto(base + "/domains/?q=example.com")
        taken = page.locator("tr", has_text="example.com").first
        expect(taken).to_be_visible()
        expect(taken.locator("button")).to_have_count(0)
        _shot(page, "01-domain-search")

        # 2. Order hosting, signing up at checkout.
        page.goto(f"{base}/store/plan/{live.shop.starter.public_id}/")
        page.locator('button[name="action"][value="add"]').click()
        page.goto(base + "/checkout/")
        signup = page.locator("form[novalidate]")
        signup.locator('[name="name"]').fill("Offline Client")
        signup.locator('[name="email"]').fill(email)
        signup.locator('[name="address_line1"]').fill("Via Garibaldi 3")
        signup.locator('[name="postal_code"]').fill("10121")
        signup.locator('[name="city"]').fill("Torino")
        signup.locator('[name="country"]').select_option("IT")
        signup.locator('[name="password"]').fill("a-long-and-unusual-passphrase")
        signup.locator('button[type="submit"]:not([value="quote"])').click()
        expect(page.locator("h1")).to_have_text("Thank you for your order")
        _shot(page, "02-order")

        # 3. Pay by card on the Stripe stand-in's hosted Checkout page.
        card_pay(
            page,
            stripe_url=env["STRIPE_API_BASE"],
            base=base,
            on_card_page=lambda: _shot(page, "03-checkout"),
        )
        with schema_context(live.schema):
            invoice = Invoice.objects.get(client__email=email, order__isnull=False)
            assert invoice.status == Invoice.Status.PAID
            service = Service.objects.get(client__email=email, plan=live.shop.starter)
        connection.set_schema_to_public()

        # 4. The order goes upstream through the worker; the simulated panel creates it.
        def active() -> bool:
            with schema_context(live.schema):
                return Service.objects.get(pk=service.pk).status == Service.Status.ACTIVE

        wait_for(active, timeout=120, interval=0.5, what="the service to go active")
        connection.set_schema_to_public()
        page.goto(f"{base}/account/services/{service.public_id}/")
        expect(page.locator(".badge.active").first).to_be_visible()
        _shot(page, "04-service-active")

        # 5. The control panel: the sign-on link lands on the simulated panel's page.
        page.locator('form[action$="/panel/"] button').click()
        panel = re.escape(env["SIMULATED_PANEL_URL"]) + r"/sso/"
        expect(page).to_have_url(re.compile(panel))
        expect(page.locator("h1")).to_have_text("Control panel")
        expect(page.locator("main")).to_contain_text("web-s")
        _shot(page, "05-control-panel")
        browser.close()
    assert outside == [], f"requests that left this machine: {outside}"
