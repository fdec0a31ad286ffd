"""The API's amounts and quantities are decimal strings of ASCII digits: "１２" was read
as 12 and "-0" taken as a price. A 400 problem document naming the field; nothing made."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from billing.models import Invoice

pytestmark = pytest.mark.django_db


def _invoice(shop, **line: str) -> dict:
    return {
        "client": str(shop.client.public_id),
        "lines": [{"description": "Digits test", "unit_price": "10.00", **line}],
    }


@pytest.mark.parametrize(
    "line, field",
    [
        ({"unit_price": "１２"}, "unit_price"),
        ({"unit_price": "1２.50"}, "unit_price"),
        ({"unit_price": "-0"}, "unit_price"),
        ({"unit_price": "-0.00"}, "unit_price"),
        ({"quantity": "２"}, "quantity"),
        ({"quantity": "١"}, "quantity"),
    ],
)
def test_invoice_lines_refuse_other_digits_and_signed_zero(api_a, shop, tenant_a, line, field):
    response = api_a.post("/api/v1/invoices/", _invoice(shop, **line))
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [f"lines.0.{field}"]
    with schema_context(tenant_a.schema):
        assert not Invoice.objects.filter(lines__description="Digits test").exists()


def test_ascii_amounts_still_work(api_a, shop):
    response = api_a.post("/api/v1/invoices/", _invoice(shop, quantity="2"))
    assert response.status_code == 201, response.content


def test_a_payment_amount_refuses_full_width_digits(api_a, shop, tenant_a):
    with schema_context(tenant_a.schema):
        before = shop.invoice.payments.count()
    response = api_a.post(
        f"/api/v1/invoices/{shop.invoice.public_id}/pay/",
        {"method": "bank_transfer", "amount": "１０"},
    )
    assert response.status_code == 400, response.content
    assert [e["field"] for e in response.json()["errors"]] == ["amount"]
    with schema_context(tenant_a.schema):
        assert shop.invoice.payments.count() == before
