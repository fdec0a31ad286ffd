"""Languages: the tenant's default, the visitor's choice, the client's own; money and
dates in the page's locale."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from billing import services
from tests.portals.conftest import eur

pytestmark = pytest.mark.django_db


@pytest.fixture
def italian_tenant(tenant_a):
    tenant_a.tenant.default_language = "it"
    tenant_a.tenant.save(update_fields=["default_language"])
    yield tenant_a
    # The row is rolled back with the test; the session-wide object must follow it.
    tenant_a.tenant.default_language = "en"


def test_english_by_default(tenant_a, shop_a):
    page = tenant_a.client().get("/store/hosting/").content.decode()
    assert '<html lang="en">' in page and "Choose" in page and "€10.00" in page


def test_tenant_default_italian_storefront(italian_tenant, shop_a):
    page = italian_tenant.client().get("/store/hosting/").content.decode()
    assert '<html lang="it">' in page
    assert "Scegli" in page and "Carrello" in page and "Domini" in page
    # Babel's Italian format: decimal comma, euro sign after the amount.
    assert "10,00\xa0€" in page
    assert "€10.00" not in page


def test_tenant_default_ignores_the_browser_language(italian_tenant, shop_a):
    page = (
        italian_tenant.client()
        .get("/store/hosting/", HTTP_ACCEPT_LANGUAGE="ru,en;q=0.5")
        .content.decode()
    )
    assert '<html lang="it">' in page


def test_russian_pages_and_money(tenant_a, shop_a):
    browser = tenant_a.client()
    response = browser.post("/language/", {"language": "ru", "next": "/store/hosting/"})
    assert response.status_code == 302 and response["Location"] == "/store/hosting/"
    page = browser.get("/store/hosting/").content.decode()
    assert '<html lang="ru">' in page
    assert "Выбрать" in page and "Корзина" in page
    assert "10,00\xa0€" in page
    price = browser.get(f"/store/plan/{shop_a.starter.public_id}/price/", {"cycle": "monthly"})
    assert price.json()["display"]["total"] == "12,20\xa0€"


def test_language_switch_refuses_other_hosts_and_unknown_languages(tenant_a):
    browser = tenant_a.client()
    response = browser.post("/language/", {"language": "xx", "next": "https://evil.example/"})
    assert response["Location"] == "/"
    assert "django_language" not in response.cookies


def test_client_language_wins_over_the_tenant_default(italian_tenant, shop_a):
    with schema_context(italian_tenant.schema):
        services.client_update(client=shop_a.client, language="ru")
        invoice = services.invoice_create(client=shop_a.client)
        services.invoice_line_add(invoice=invoice, description="Lavoro", unit_price=eur(1000))
        invoice = services.invoice_issue(invoice=invoice)
    page = (
        italian_tenant.client(italian_tenant.client_user).get("/account/invoices/").content.decode()
    )
    assert '<html lang="ru">' in page and "Счета" in page
    assert "1\xa0220,00\xa0€" in page  # Russian groups thousands with a no-break space


def test_console_in_italian(italian_tenant, shop_a):
    page = italian_tenant.client(italian_tenant.owner).get("/console/").content.decode()
    assert "Cruscotto" in page and "Incassi" in page and "Clienti" in page


def test_form_errors_are_translated(italian_tenant, shop_a):
    browser = italian_tenant.client()
    browser.post(f"/store/plan/{shop_a.pro.public_id}/", {"action": "add", "cycle": "monthly"})
    response = browser.post(
        "/checkout/", {"name": "Ada", "email": "ada@example.test", "country": "I1"}
    )
    body = response.content.decode()
    assert "opzione valida" in body  # no country is called I1
    assert "Campo obbligatorio." in body  # Django's own messages follow the page too
