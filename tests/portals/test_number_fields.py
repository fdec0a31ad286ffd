"""The console's money and quantity fields read ASCII digits only: full-width digits
("１２") were taken as 12, and "-0" as a price. Refused with the form's error, nothing
written."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from billing.models import BillingSettings, Invoice, TaxRule
from tests.portals.conftest import staff_member

pytestmark = pytest.mark.django_db


def _invoice_post(browser, shop, **fields: str):
    data = {
        "client": shop.client.pk,
        "description": "Digits test",
        "quantity": "1",
        "unit_price": "10.00",
        "issue": "on",
    }
    data.update(fields)
    return browser.post("/console/invoices/new/", data)


@pytest.mark.parametrize(
    "fields",
    [
        {"unit_price": "１２"},
        {"unit_price": "1２.50"},
        {"unit_price": "-0"},
        {"unit_price": "-0,00"},
        {"quantity": "３"},
        {"quantity": "-0"},
    ],
)
def test_a_new_invoice_refuses_other_digits_and_signed_zero(tenant_a, shop_a, fields):
    browser = tenant_a.client(staff_member(tenant_a, "billing"))
    response = _invoice_post(browser, shop_a, **fields)
    assert response.status_code == 400
    assert "digits 0-9" in response.content.decode() or "Zero has no sign" in (
        response.content.decode()
    )
    with schema_context(tenant_a.schema):
        assert not Invoice.objects.filter(lines__description="Digits test").exists()


def test_a_new_invoice_takes_ascii_digits_with_a_point_or_a_comma(tenant_a, shop_a):
    browser = tenant_a.client(staff_member(tenant_a, "billing"))
    assert _invoice_post(browser, shop_a, unit_price="12,50", quantity="2").status_code == 302
    with schema_context(tenant_a.schema):
        invoice = Invoice.objects.get(lines__description="Digits test")
        assert str(invoice.subtotal_amount) == "25.0000"


def test_a_tax_rate_and_the_payment_terms_refuse_full_width_digits(tenant_a):
    browser = tenant_a.client(tenant_a.owner)
    for rate in ("２２", "-0"):
        response = browser.post(
            "/console/settings/",
            {"action": "tax", "tax-country": "FR", "tax-name": "TVA", "tax-rate": rate},
        )
        assert response.status_code == 400
    with schema_context(tenant_a.schema):
        assert not TaxRule.objects.filter(country="FR").exists()
        terms = BillingSettings.objects.get().payment_terms_days
    form = browser.get("/console/settings/").context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(action="settings", payment_terms_days="１４", reminder_days="")
    response = browser.post("/console/settings/", data)
    assert response.status_code == 400
    assert "digits 0-9" in response.content.decode()
    with schema_context(tenant_a.schema):
        assert BillingSettings.objects.get().payment_terms_days == terms
