"""A NUL character (``%00``) in a query parameter or in the path cannot be stored or
compared by PostgreSQL; every page that passes one to a query answered 500. It is bad
input: a clear 400 that changes nothing, on every host and in every portal."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from tests.api.conftest import make_key

pytestmark = pytest.mark.django_db

CONSOLE = [
    "/console/clients/?q=%00",
    "/console/clients/?q=ab%00cd",
    "/console/invoices/?status=%00",
    "/console/orders/?status=%00",
    "/console/services/?status=%00",
    "/console/invoices/new/?client=%00",
    "/console/upstream/?state=%00",
    "/console/clients/?page=%00",
    "/console/clients/?q%00=x",
]
CLIENT_AREA = [
    "/account/invoices/?page=%00",
    "/account/services/?page=%00",
    "/account/invoices/?payment=%00&session=%00",
]
STOREFRONT = [
    "/domains/?q=%00",
    "/?payment=%00",
    "/payments/return/%00/",
    "/store/hosting/?x=%00",
]
API = [
    "/api/v1/clients/?status=%00",
    "/api/v1/clients/?q=%00",
    "/api/v1/invoices/?status=%00",
    "/api/v1/orders/?ordering=%00",
    "/api/v1/services/?page=%00",
    "/api/v1/reseller/ledger/?kind=%00",
]


def _browser(host: str, user=None, schema: str = "public", **headers: str) -> Client:
    browser = Client(HTTP_HOST=host, raise_request_exception=False, **headers)
    if user is not None:
        with schema_context(schema):
            browser.force_login(user)
    return browser


def _assert_refused(browser: Client, urls: list[str]) -> None:
    for url in urls:
        response = browser.get(url)
        assert response.status_code == 400, (url, response.status_code)


def test_console_refuses_nul_characters(tenant_a):
    browser = _browser(tenant_a.host, tenant_a.owner, tenant_a.schema)
    _assert_refused(browser, CONSOLE)
    # The same pages still answer ordinary searches.
    assert browser.get("/console/clients/?q=mario").status_code == 200


def test_client_area_and_storefront_refuse_nul_characters(tenant_a, shop_a):
    browser = _browser(tenant_a.host, tenant_a.client_user, tenant_a.schema)
    _assert_refused(browser, CLIENT_AREA + STOREFRONT)


def test_api_refuses_nul_characters_with_a_problem_document(tenant_a):
    token = make_key(tenant_a, rate_limit_per_minute=100000)
    browser = _browser(tenant_a.host, HTTP_AUTHORIZATION=f"Bearer {token}")
    _assert_refused(browser, API)
    response = browser.get("/api/v1/clients/?q=%00")
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["status"] == 400


def test_provider_console_refuses_nul_characters(platform_client):
    from accounts.models import User

    admin = User.objects.get(email="admin@platform.test")
    browser = _browser(settings.PLATFORM_DOMAIN, admin)
    _assert_refused(
        browser, ["/admin/resale/reselleraccount/?q=%00", "/admin/provisioning/server/?q=%00"]
    )
