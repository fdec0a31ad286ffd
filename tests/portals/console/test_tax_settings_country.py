"""A seller registered for VAT is registered in a country: the console's tax settings
refuse "registered" without one, and until the country is set the dashboard says what the
invoices do meanwhile (no VAT, "not registered for VAT")."""

from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from billing.selectors import billing_settings_get

pytestmark = pytest.mark.django_db

TAX_FORM = {
    "vies_unavailable": "consumer",
    "fatturapa_regime": "RF01",
}


def test_registered_without_a_country_is_refused_and_the_dashboard_warns(tenant_a):
    connection.set_schema_to_public()
    browser = tenant_a.client(tenant_a.owner)
    home = browser.get("/console/").content.decode()
    assert "Your country of establishment is not set" in home
    assert '<option value="IE">Ireland</option>' in browser.get("/console/taxes/").content.decode()

    refused = browser.post("/console/taxes/", {**TAX_FORM, "vat_registered": "on", "country": ""})
    assert refused.status_code == 400
    assert "A seller registered for VAT is registered in a country" in refused.content.decode()
    with schema_context(tenant_a.schema):
        assert billing_settings_get().country == ""

    saved = browser.post("/console/taxes/", {**TAX_FORM, "vat_registered": "on", "country": "IE"})
    assert saved.status_code == 302
    with schema_context(tenant_a.schema):
        settings = billing_settings_get()
        assert (settings.country, settings.vat_registered) == ("IE", True)
    home = browser.get("/console/").content.decode()
    assert "Your country of establishment is not set" not in home
