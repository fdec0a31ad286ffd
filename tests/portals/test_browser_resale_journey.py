"""The whole journey of a reseller's client in a real browser (Chromium through
Playwright), in English, Italian and Russian, with everything real behind it: a new
client on reseller A's storefront searches a domain (local RDAP server), orders hosting,
signs up, pays with a test card on Stripe's hosted page (local Stripe server, the money
landing on A's own Stripe account), and sees the service go active once the order has
travelled upstream through a real Celery worker and the simulated panel created the
account; it opens the control panel. Then A's staff find the order and the invoice in
the console, and the provider's console shows the upstream service under a pseudonymous
reference only. No page of A's portal names the provider or another reseller.
Screenshots of every step go to artifacts/portals/journey-<language>/."""

from __future__ import annotations

import re
import shutil
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from babel.numbers import format_currency
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from billing import services
from billing.models import Invoice, Order, Service
from provisioning.models import PlanMapping, ServerGroup
from provisioning.services import server_create
from resale.models import UpstreamService
from resale.services import reseller_balance, reseller_balance_topup
from sandbox.stripe import StripeServer
from tests.billing.payments.conftest import PLATFORM_KEY, WEBHOOK_SECRET, Platform, StripeSettings
from tests.billing.payments.helpers import CONNECT_WEBHOOK_SECRET, shop_connect
from tests.conftest import PASSWORD, ROOT
from tests.portals.live import card_pay, live_shop_make, wsgi_server
from tests.resale.factories import account_on, wholesale_catalogue
from tests.resale.flow import wait_for

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine"),
]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

# What each language must show: headings of the journey's pages, in the tenant's language.
HEADINGS = {
    "en": {"order": "Thank you for your order", "console": "Dashboard"},
    "it": {"order": "Grazie per il tuo ordine", "console": "Cruscotto"},
    "ru": {"order": "Спасибо за заказ", "console": "Сводка"},
}


class Journey:
    """Screenshots and the white-label check of every page a step shows."""

    def __init__(self, language: str, forbidden: list[str]) -> None:
        self.shots = ROOT / "artifacts" / "portals" / f"journey-{language}"
        self.shots.mkdir(parents=True, exist_ok=True)
        self.forbidden = forbidden
        self.step = 0

    def shot(self, page, name: str, *, white_label: bool = True) -> Path:
        self.step += 1
        path = self.shots / f"{self.step:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if white_label:
            html = page.content()
            for word in self.forbidden:
                assert word not in html, f"{word!r} on {page.url} ({name})"
        return path


def _resold_shop(tenant_factory, language: str):
    """Reseller A's shop whose Starter hosting plan is bought from the provider, with a
    simulated panel server, a funded balance and A's own Stripe account connected."""
    live = live_shop_make(tenant_factory, name=f"Gamma Hosting {language.upper()}")
    live.tenant.default_language = language
    live.tenant.save(update_fields=["default_language"])
    prefix = f"j{uuid.uuid4().hex[:6]}-"
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
        extra={"latency_s": 0.0, "failure_rate": 0.0},
    )
    PlanMapping.objects.create(plan_code=catalogue["web-s"].code, group=group, package="web-s")
    with schema_context(live.tenant.schema_name):
        # The test shop is built with tenant A's legal name; this reseller is itself.
        services.billing_settings_update(legal_name=f"{live.tenant.name} S.r.l.")
        starter = live.shop.starter
        starter.upstream_plan_ref = catalogue["web-s"].code
        starter.upstream_cycle = "monthly"
        starter.save(update_fields=["upstream_plan_ref", "upstream_cycle"])
    connection.set_schema_to_public()
    return live, account


def _money(amount: str, language: str) -> str:
    return format_currency(Decimal(amount), "EUR", locale=language)


def _normal(text: str) -> str:
    # Locales put (narrow) no-break spaces in amounts; compare them as plain spaces.
    return re.sub(r"[\u00a0\u202f]", " ", text)


@pytest.mark.parametrize("language", ["en", "it", "ru"])
def test_a_client_orders_pays_and_opens_the_panel_in_a_browser(
    language, tenant_factory, celery_worker_process, rdap_bootstrap, monkeypatch
):
    expect = playwright.expect
    stripe_settings = StripeSettings(monkeypatch)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    # Playwright's sync API runs an event loop in this thread; the test's own queries
    # between steps are plain synchronous ones all the same.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with StripeServer() as stripe:
        stripe_settings.set(
            STRIPE_API_BASE=stripe.url,
            STRIPE_TIMEOUT_S=5,
            STRIPE_MAX_NETWORK_RETRIES=0,
            STRIPE_SECRET_KEY=PLATFORM_KEY,
            STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
            STRIPE_CONNECT_WEBHOOK_SECRET=CONNECT_WEBHOOK_SECRET,
        )
        try:
            platform = Platform(PLATFORM_KEY, stripe.register_key(PLATFORM_KEY))
            live, account = _resold_shop(tenant_factory, language)
            shop = shop_connect(live, stripe, platform)
            _journey(live, account, shop, stripe, platform.account, language, expect)
        finally:
            stripe_settings.restore()


def _journey(live, account, shop, stripe, platform_account, language, expect) -> None:
    schema = live.tenant.schema_name
    other_tenants = list(
        type(live.tenant).objects.exclude(pk=live.tenant.pk).values_list("name", flat=True)
    )
    journey = Journey(
        language, [settings.PLATFORM_NAME, settings.PROVIDER_LEGAL_NAME, *other_tenants]
    )
    email = f"giulia.{language}@example.test"
    with wsgi_server() as port, playwright.sync_playwright() as p:
        base = f"http://{live.host}:{port}"
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        phone = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
        page = phone.new_page()

        # 1. The storefront, in the tenant's language, and a domain search over RDAP.
        page.goto(base + "/")
        assert page.locator("html").get_attribute("lang") == language
        journey.shot(page, "home")
        page.fill("#home-domain", "giulia-shop")
        page.keyboard.press("Enter")
        row = page.locator("tr", has_text="giulia-shop.com")
        expect(row.locator("button")).to_be_visible()
        journey.shot(page, "domain-search")
        row.locator("button").click()

        # 2. The hosting plan: its live price is in the language's money format.
        page.goto(f"{base}/store/plan/{live.shop.starter.public_id}/")
        total = page.locator('[data-quote="total"]')
        expected = re.escape(_normal(_money("12.20", language))).replace(r"\ ", r"\s")
        expect(total).to_have_text(re.compile(expected))
        journey.shot(page, "plan")
        page.locator('button[name="action"][value="add"]').click()

        # 3. Checkout with sign-up.
        page.goto(base + "/checkout/")
        signup = page.locator("form[novalidate]")
        signup.locator('[name="name"]').fill("Giulia Bianchi")
        signup.locator('[name="email"]').fill(email)
        signup.locator('[name="address_line1"]').fill("Via Garibaldi 3")
        signup.locator('[name="postal_code"]').fill("10121")
        signup.locator('[name="city"]').fill("Torino")
        signup.locator('[name="country"]').select_option("IT")
        signup.locator('[name="password"]').fill("a-long-and-unusual-passphrase")
        journey.shot(page, "checkout")
        signup.locator('button[type="submit"]:not([value="quote"])').click()
        expect(page.locator("h1")).to_have_text(HEADINGS[language]["order"])
        journey.shot(page, "order-confirmation")

        # 4. Pay by card on the hosted payment page.
        card_pay(
            page,
            stripe_url=stripe.url,
            base=base,
            on_card_page=lambda: journey.shot(page, "stripe-checkout", white_label=False),
        )
        journey.shot(page, "invoice-paid")

        with schema_context(schema):
            invoice = Invoice.objects.get(client__email=email, order__isnull=False)
            order = Order.objects.get(invoice=invoice)
            service = Service.objects.get(client__email=email, plan=live.shop.starter)
            assert invoice.status == Invoice.Status.PAID
        connection.set_schema_to_public()
        (charge,) = stripe.charges
        assert charge.account == shop.account != platform_account
        assert stripe.charges_on(platform_account) == []

        # 5. Upstream through the worker: the provider creates it on the panel.
        def active() -> bool:
            with schema_context(schema):
                return Service.objects.get(pk=service.pk).status == Service.Status.ACTIVE

        wait_for(active, timeout=120, interval=0.5, what="the service to go active")
        connection.set_schema_to_public()
        page.goto(f"{base}/account/services/{service.public_id}/")
        expect(page.locator(".badge.active").first).to_be_visible()
        assert _normal(_money("10.00", language)) in _normal(page.locator("main").inner_text())
        journey.shot(page, "service-active")

        # 6. The control panel opens through a one-time single sign-on link.
        page.route(
            re.compile(r"https://[^/]*\.panel\.test/.*"),
            lambda route: route.fulfill(
                status=200, content_type="text/html", body="<h1>Control panel</h1>"
            ),
        )
        page.locator('form[action$="/panel/"] button').click()
        expect(page).to_have_url(re.compile(r"^https://[^/]*\.panel\.test/"))
        expect(page.locator("h1")).to_have_text("Control panel")
        journey.shot(page, "control-panel", white_label=False)
        phone.close()

        # 7. Reseller A's staff find the order and the invoice in the console.
        desk = browser.new_context(viewport=DESKTOP)
        console = desk.new_page()
        console.goto(base + "/console/")
        console.fill('[name="username"]', live.owner_email)
        console.fill('[name="password"]', PASSWORD)
        console.locator('form:has([name="password"]) button[type="submit"]').click()
        expect(console.locator("h1")).to_have_text(HEADINGS[language]["console"])
        journey.shot(console, "console-dashboard")
        console.goto(f"{base}/console/orders/{order.public_id}/")
        expect(console.locator("main")).to_contain_text("Giulia Bianchi")
        journey.shot(console, "console-order")
        console.goto(base + "/console/invoices/")
        expect(console.locator("main")).to_contain_text(invoice.number)
        journey.shot(console, "console-invoices")
        desk.close()

        # 8. The provider sees the upstream service under a pseudonym, and no client.
        provider = browser.new_context(viewport=DESKTOP).new_page()
        platform_base = f"http://{settings.PLATFORM_DOMAIN}:{port}"
        provider.goto(platform_base + "/admin/resale/upstreamservice/")
        provider.fill('[name="username"]', "admin@platform.test")
        provider.fill('[name="password"]', PASSWORD)
        provider.locator('form:has([name="password"]) button[type="submit"]').click()
        upstream = UpstreamService.objects.get(account=account)
        assert upstream.client_ref.startswith("c_")
        provider.goto(f"{platform_base}/admin/resale/upstreamservice/?q={upstream.client_ref}")
        listing = provider.locator("#result_list")
        expect(listing).to_contain_text(upstream.client_ref)
        text = provider.content()
        for personal in ("Giulia", "Bianchi", email):
            assert personal not in text
        journey.shot(provider, "provider-upstream-service", white_label=False)
        browser.close()

    # The reseller paid the provider exactly the wholesale price of the plan.
    assert reseller_balance(account=account).amount == Decimal("17.50")
