"""The product's tax category, set in the console's catalogue: it decides the place of
supply of the next invoice (an exempt supply carries VAT category E), the change is
audited, and a value outside the list changes nothing."""

from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from audit.models import AuditEntry
from billing.models import Order, Product

pytestmark = pytest.mark.django_db


def _url(product) -> str:
    return f"/console/catalogue/products/{product.public_id}/tax-category/"


def test_staff_set_a_products_tax_category_and_the_next_invoice_follows_it(tenant_a, shop_a):
    product = shop_a.starter.product
    connection.set_schema_to_public()
    browser = tenant_a.client(tenant_a.owner)
    page = browser.get("/console/catalogue/").content.decode()
    assert _url(product) in page and '<option value="exempt">' in page

    done = browser.post(_url(product), {"tax_category": "exempt"}, follow=True)
    assert done.status_code == 200 and "Exempt from VAT" in done.content.decode()
    with schema_context(tenant_a.schema):
        product.refresh_from_db()
        assert product.tax_category == Product.TaxCategory.EXEMPT
        entry = AuditEntry.objects.get(action="product.tax_category_changed")
        assert (entry.before, entry.after) == (
            {"tax_category": "electronic"},
            {"tax_category": "exempt"},
        )

    shopper = tenant_a.client()
    shopper.post(f"/store/plan/{shop_a.starter.public_id}/", {"action": "add", "cycle": "monthly"})
    placed = shopper.post(
        "/checkout/",
        {
            "name": "Giulia Bianchi",
            "email": "giulia@example.test",
            "password": "a-long-and-unusual-passphrase",
            "address_line1": "Via Roma 1",
            "postal_code": "00100",
            "city": "Roma",
            "country": "IT",
        },
    )
    assert placed.status_code == 302
    with schema_context(tenant_a.schema):
        (line,) = Order.objects.get(client__email="giulia@example.test").invoice.lines.all()
        assert line.vat_category == "E" and line.tax_amount == 0


def test_a_category_outside_the_list_changes_nothing(tenant_a, shop_a):
    product = shop_a.starter.product
    connection.set_schema_to_public()
    browser = tenant_a.client(tenant_a.owner)
    page = browser.post(_url(product), {"tax_category": "zero-rated-please"}, follow=True)
    assert "Choose one of the tax categories in the list." in page.content.decode()
    with schema_context(tenant_a.schema):
        product.refresh_from_db()
        assert product.tax_category == Product.TaxCategory.ELECTRONIC
        assert not AuditEntry.objects.filter(action="product.tax_category_changed").exists()


def test_another_tenants_product_is_a_404(tenant_a, tenant_b, shop_a):
    connection.set_schema_to_public()
    response = tenant_b.client(tenant_b.owner).post(
        _url(shop_a.starter.product), {"tax_category": "exempt"}
    )
    assert response.status_code == 404
