"""The provider runs the business from its console, in a real browser (Chromium through
Playwright) with a real Celery worker behind it: it logs in, publishes a wholesale plan
with an option, creates a reseller from the form with an opening balance; the reseller's
admin accepts the invitation, imports the plan and sells it with the option (a client
orders on the storefront, the admin records the bank transfer); the order travels
upstream, the provider's panel creates the account, and the provider's dashboard and the
reseller's page show the order, the debit and the new MRR. Screenshots go to
artifacts/portals/provider-console/."""

from __future__ import annotations

import re
import shutil
import uuid
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django_tenants.utils import schema_context

from billing import services
from billing.models import Plan, Service
from provisioning.models import PlanMapping, ServerGroup
from provisioning.services import server_create
from resale.models import PriceList, ResellerAccount, UpstreamService
from resale.services import reseller_balance
from tests.conftest import PASSWORD, ROOT, provider_rows_delete, tenant_drop
from tests.portals.live import fits_the_screen, screenshot_saver, wsgi_server
from tests.resale.flow import wait_for

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine"),
]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
SHOTS = ROOT / "artifacts" / "portals" / "provider-console"


_shot = screenshot_saver(SHOTS)


def _normal(text: str) -> str:
    return re.sub(r"[\u00a0\u202f]", " ", text)


def _on_port(link: str, port: int) -> str:
    parts = urlsplit(link)
    return f"http://{parts.hostname}:{port}{parts.path}"


@pytest.fixture
def provider_world(live_db):
    """A simulated panel server that runs the plan the provider is about to publish, and
    the price list the new reseller is put on. Drops the reseller the test creates."""
    label = f"p{uuid.uuid4().hex[:8]}"
    group = ServerGroup.objects.create(name=f"sim-{label}", module="simulated")
    server_create(group=group, name=f"{label}-node", hostname=f"{label}-node.panel.test", port=443)
    PlanMapping.objects.create(plan_code=f"{label}-web", group=group, package="web")
    price_list = PriceList.objects.create(name=f"Journey {label}", currency="EUR")
    yield label, price_list
    connection.set_schema_to_public()
    for account in ResellerAccount.objects.filter(price_list=price_list).select_related("tenant"):
        provider_rows_delete(account.tenant)
        tenant_drop(account.tenant)


def test_the_provider_runs_the_business_from_its_console(
    provider_world, celery_worker_process, monkeypatch
):
    expect = playwright.expect
    label, price_list = provider_world
    plan_code = f"{label}-web"
    host = f"{label}.{settings.PLATFORM_DOMAIN}"
    admin_email = f"boss@{label}.test"
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    # Playwright's sync API runs an event loop in this thread; the test's own queries
    # between steps are plain synchronous ones all the same.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with wsgi_server() as port, playwright.sync_playwright() as p:
        platform = f"http://{settings.PLATFORM_DOMAIN}:{port}"
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        provider = browser.new_context(viewport=DESKTOP).new_page()

        # 1. The provider logs in and lands on its dashboard.
        provider.goto(platform + "/provider/")
        provider.fill('[name="username"]', "admin@platform.test")
        provider.fill('[name="password"]', PASSWORD)
        provider.locator('form:has([name="password"]) button[type="submit"]').click()
        expect(provider.locator("h1")).to_have_text("Dashboard")

        # 2. It publishes a wholesale plan: module from the registry, price per cycle.
        provider.goto(platform + "/provider/catalogue/new/")
        provider.fill("#id_code", plan_code)
        provider.fill("#id_name", "Web Journey")
        provider.select_option("#id_product_type", "shared")
        provider.select_option("#id_module", "simulated")
        provider.fill("#id_package", "web")
        provider.select_option("#id_prices-0-price_list", str(price_list.pk))
        provider.select_option("#id_prices-0-cycle", "monthly")
        provider.fill("#id_prices-0-price", "6")
        provider.locator('button[type="submit"]', has_text="Save the plan").click()
        expect(provider.locator(".msg.success")).to_be_visible()
        # The preview of the reseller's import: 6.00 + 30 %, up to .99.
        expect(provider.locator("main")).to_contain_text("€7.99")
        plan_url = provider.url

        # ...with an option, made on the plan's page: a choice, the RAM it adds on the
        # server, then its wholesale price once the choice exists.
        provider.locator("a", has_text="New option").click()
        provider.fill("#id_code", f"{label}-ram")
        provider.fill("#id_name", "Extra RAM")
        provider.select_option("#id_kind", "select")
        provider.fill("#id_choices-0-code", "2gb")
        provider.fill("#id_choices-0-name", "+2 GB")
        provider.fill("#id_choices-0-ram_mb", "2048")
        provider.locator('button[type="submit"]', has_text="Save the option").click()
        expect(provider.locator(".msg.success")).to_be_visible()
        provider.select_option("#id_prices-0-choice", "2gb")
        provider.select_option("#id_prices-0-price_list", str(price_list.pk))
        provider.select_option("#id_prices-0-cycle", "monthly")
        provider.fill("#id_prices-0-price", "2")
        provider.locator('button[type="submit"]', has_text="Save the option").click()
        expect(provider.locator(".msg.success")).to_be_visible()
        _shot(provider, "01-option")
        provider_option_path = urlsplit(provider.url).path
        provider.goto(plan_url)
        main = provider.locator("main")
        expect(main).to_contain_text("RAM (MB): 2048")
        # The option in the import preview, marked up as the plan: 2.00 + 30 %, up to .99.
        expect(main).to_contain_text("Extra RAM: +2 GB")
        expect(main).to_contain_text("€2.99")
        _shot(provider, "01-plan")

        # 3. It creates a reseller from the form, with an opening balance.
        provider.goto(platform + "/provider/resellers/new/")
        provider.fill("#id_name", "Omega Hosting")
        provider.fill("#id_legal_name", "Omega Hosting S.r.l.")
        provider.fill("#id_country", "IT")
        provider.fill("#id_vat_number", "IT55566677788")
        provider.fill("#id_hostname", host)
        provider.fill("#id_admin_email", admin_email)
        provider.select_option("#id_price_list", str(price_list.pk))
        provider.fill("#id_opening_balance", "50")
        provider.locator('button[type="submit"]', has_text="Create the reseller").click()
        expect(provider.locator("h1")).to_contain_text("Omega Hosting S.r.l.")
        expect(provider.locator(".stats")).to_contain_text("€50.00")
        account = ResellerAccount.objects.get(tenant__domains__domain=host)
        schema = account.tenant.schema_name

        # 4. The reseller's admin accepts the invitation and imports the plan.
        invitation = next(m for m in mail.outbox if m.to == [admin_email])
        link = re.search(r"http\S+/login/link/\S+/", invitation.body).group(0)
        desk = browser.new_context(viewport=DESKTOP)
        reseller = desk.new_page()
        reseller.goto(_on_port(link, port))
        expect(reseller.locator("h1")).to_have_text("Dashboard")
        with schema_context(schema):
            # What a reseller fills in on its settings page before it invoices anyone.
            services.billing_settings_update(
                legal_name="Omega Hosting S.r.l.", country="IT", address_line1="Via Po 1"
            )
        connection.set_schema_to_public()
        base = f"http://{host}:{port}"
        reseller.goto(base + "/console/catalogue/import/")
        reseller.check(f"#plan-{plan_code}")
        reseller.locator('button[value="import"]').click()
        expect(reseller.locator(".msg.success")).to_be_visible()
        with schema_context(schema):
            plan = Plan.objects.get(upstream_plan_ref=plan_code)
        connection.set_schema_to_public()

        # 5. It sells it: a client orders on the storefront...
        phone = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
        client = phone.new_page()
        client.goto(f"{base}/store/plan/{plan.public_id}/")
        # The client takes the provider's option, resold with the plan.
        client.locator('select[name^="option_"]').select_option(index=1)
        client.locator('button[name="action"][value="add"]').click()
        client.goto(base + "/checkout/")
        signup = client.locator("form[novalidate]")
        signup.locator('[name="name"]').fill("Ottavia Ferri")
        signup.locator('[name="email"]').fill(f"ottavia@{label}.test")
        signup.locator('[name="address_line1"]').fill("Via Garibaldi 3")
        signup.locator('[name="postal_code"]').fill("10121")
        signup.locator('[name="city"]').fill("Torino")
        signup.locator('[name="country"]').select_option("IT")
        signup.locator('[name="password"]').fill("a-long-and-unusual-passphrase")
        signup.locator('button[type="submit"]:not([value="quote"])').click()
        expect(client.locator("h1")).to_have_text("Thank you for your order")
        phone.close()
        # ...and the admin records the client's bank transfer.
        with schema_context(schema):
            service = Service.objects.get(client__email=f"ottavia@{label}.test")
            invoice = service.order_item.order.invoice
        connection.set_schema_to_public()
        reseller.goto(f"{base}/console/invoices/{invoice.public_id}/")
        reseller.select_option("#id_payment-method", "bank_transfer")
        reseller.fill("#id_payment-reference", f"TRN-{label}")
        reseller.locator('button[type="submit"]', has_text="Record payment").click()
        expect(reseller.locator(".msg.success")).to_be_visible()

        def active() -> bool:
            with schema_context(schema):
                return Service.objects.get(pk=service.pk).status == Service.Status.ACTIVE

        wait_for(active, timeout=120, interval=0.5, what="the service to go active")
        connection.set_schema_to_public()
        desk.close()
        upstream = UpstreamService.objects.get(account=account)
        assert upstream.status == UpstreamService.Status.ACTIVE
        # The plan and its option at wholesale: 6.00 + 2.00.
        assert reseller_balance(account=account).amount == Decimal("42")
        assert upstream.options[f"{label}-ram"]["choice"] == "2gb"

        # 6. The provider's dashboard shows the order, the debit and the new MRR.
        provider.goto(platform + "/provider/")
        stats = _normal(provider.locator(".stats").inner_text())
        assert "Wholesale MRR\n€8.00" in stats or "€8.00" in stats
        assert "Revenue this month" in stats
        main = _normal(provider.locator("main").inner_text())
        assert "Omega Hosting S.r.l." in main  # among the top resellers
        _shot(provider, "02-dashboard")
        phone_view = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
        phone_page = phone_view.new_page()
        phone_page.context.add_cookies(provider.context.cookies())
        phone_page.goto(platform + "/provider/")
        _shot(phone_page, "03-dashboard-phone")
        assert fits_the_screen(phone_page), "the dashboard scrolls sideways on a phone"

        # 7. The reseller's page: the debit in its ledger, the service, its MRR.
        provider.goto(f"{platform}/provider/resellers/{account.public_id}/")
        page_text = _normal(provider.locator("main").inner_text())
        assert "€42.00" in page_text  # the balance after the debit
        assert "-€8.00" in page_text  # the order's debit, the option included
        assert "Web Journey" in page_text
        assert upstream.client_ref in page_text
        # The client is known by a pseudonym only.
        for personal in ("Ottavia", "Ferri", f"ottavia@{label}.test"):
            assert personal not in provider.content()
        _shot(provider, "04-reseller")
        phone_page.goto(f"{platform}/provider/resellers/{account.public_id}/")
        _shot(phone_page, "05-reseller-phone")
        assert fits_the_screen(phone_page), "the reseller's page scrolls sideways on a phone"
        # The other pages work on a phone too.
        for name, path in (
            ("06-option-phone", provider_option_path),
            ("07-operations-phone", "/provider/operations/"),
            ("08-drift-phone", "/provider/drift/"),
        ):
            phone_page.goto(platform + path)
            _shot(phone_page, name)
            assert fits_the_screen(phone_page), f"{path} scrolls sideways on a phone"
        browser.close()
