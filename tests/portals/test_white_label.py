"""White label: no page of tenant A names the provider (settings.PLATFORM_NAME) or another
tenant. The test crawls every page reachable from the home page, the client area and the
console, as a visitor, a client and the owner, and also checks that none of them fails."""

from __future__ import annotations

import re
from collections import deque

import pytest
from django.conf import settings
from django_tenants.utils import schema_context

from accounts.models import PrivacyRequest
from api.keys import api_key_create
from api.webhooks import webhook_endpoint_create, webhook_endpoint_ping
from billing import services
from resale.models import UpstreamCommand
from tenants.domains import custom_domain_add
from tests.portals.conftest import eur

pytestmark = pytest.mark.django_db

HREF_RE = re.compile(r'href="(/[^"#]*)"')
# /api/ holds the API's reference page, a standalone document outside the portals' layout;
# the crawl stops at the link to it (see test_the_api_reference_does_not_name_the_platform).
SKIP = ("/brand/", "/logout/", "/login/link/", "/api/")
MAX_PAGES = 400


def _populate(world, shop) -> None:
    """One of everything a page can show: an order with its invoice and services, a
    payment, a credit note, a resold service with an upstream command, a data request."""
    with schema_context(world.schema):
        cart = services.cart_create(client=shop.client)
        services.cart_item_add(cart=cart, plan=shop.starter, cycle="monthly")
        services.cart_item_add(cart=cart, plan=shop.com, cycle="annual", domain_name="rossi.com")
        order = services.checkout_place(cart=cart, client=shop.client)
        services.payment_record(
            invoice=order.invoice, amount=eur(5), method="manual", idempotency_key="wl-1"
        )
        other = services.invoice_create(client=shop.client)
        services.invoice_line_add(invoice=other, description="Extra work", unit_price=eur(20))
        other = services.invoice_issue(invoice=other)
        services.credit_note_issue(invoice=other, reason="Goodwill")
        resold = services.plan_create(
            product=shop.starter.product,
            name="Resold",
            prices={"monthly": eur(9)},
            upstream_plan_ref="web-s",
        )
        service = services.service_create(
            client=shop.client, plan=resold, cycle="monthly", status="active"
        )
        UpstreamCommand.objects.create(
            action="create",
            service_ref=str(service.public_id),
            idempotency_key=f"create:{service.public_id}",
            state="failed",
            last_error="panel timeout",
        )
        PrivacyRequest.objects.create(client=shop.client, kind="export")
        api_key_create(name="Accounting sync", scopes=["clients:read"])
        endpoint = webhook_endpoint_create(url="https://hooks.example.com/billing").endpoint
        webhook_endpoint_ping(endpoint=endpoint)
    custom_domain_add(tenant=world.tenant, hostname=f"billing.{world.schema}-example.org")


def _crawl(browser, starts: list[str]) -> dict[str, str]:
    seen: dict[str, str] = {}
    queue = deque(starts)
    while queue and len(seen) < MAX_PAGES:
        path = queue.popleft()
        if path in seen or path.startswith(SKIP):
            continue
        response = browser.get(path)
        assert response.status_code < 500, path
        if response.status_code in (301, 302):
            location = response["Location"]
            if location.startswith("/"):
                queue.append(location)
            seen[path] = ""
            continue
        if response.get("Content-Type", "").startswith("text/html"):
            body = response.content.decode()
            seen[path] = body
            queue.extend(link.replace("&amp;", "&") for link in HREF_RE.findall(body))
        else:
            seen[path] = ""
    return seen


def test_no_page_of_tenant_a_names_the_provider_or_another_tenant(
    tenant_a, tenant_b, shop_a, shop_b, rdap_bootstrap
):
    _populate(tenant_a, shop_a)
    _populate(tenant_b, shop_b)
    forbidden = [settings.PLATFORM_NAME, tenant_b.tenant.name, tenant_b.host]
    browsers = {
        "visitor": tenant_a.client(),
        "client": tenant_a.client(tenant_a.client_user),
        "owner": tenant_a.client(tenant_a.owner),
    }
    starts = [
        "/",
        "/domains/?q=rossi",
        "/cart/",
        "/login/",
        "/account/",
        "/console/",
        "/console/catalogue/import/",
        "/does-not-exist/",
    ]
    crawled = 0
    for who, browser in browsers.items():
        pages = _crawl(browser, starts)
        crawled += len(pages)
        for path, body in pages.items():
            for name in forbidden:
                assert name not in body, f"{name!r} on {path} as {who}"
    # The crawl really went through the site, details pages included.
    assert crawled > 60


def test_the_api_reference_does_not_name_the_platform(tenant_a):
    browser = tenant_a.client()
    for path in ("/api/docs/", "/api/schema/", "/api/schema/?format=json", "/api/v1/clients/"):
        body = browser.get(path).content.decode()
        assert settings.PLATFORM_NAME not in body, path
    assert "Alpha Hosting API" in browser.get("/api/schema/").content.decode()
