"""The console's settings page of tenant A: each action goes through its service."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import schema_context

from billing.models import TaxRule
from tenants.models import Tenant
from tenants.services import tenant_default_language_set
from tests.portals.conftest import staff_member

pytestmark = pytest.mark.django_db


def test_a_removed_tax_rule_stops_applying_but_stays(tenant_a, shop_a):
    with schema_context(tenant_a.schema):
        rule = TaxRule.objects.get(country="DE", is_active=True)
    browser = tenant_a.client(staff_member(tenant_a, "admin"))
    removed = browser.post("/console/settings/", {"action": "tax_remove", "rule": rule.pk})
    assert removed.status_code == 302
    with schema_context(tenant_a.schema):
        rule.refresh_from_db()
    assert rule.is_active is False
    again = browser.post("/console/settings/", {"action": "tax_remove", "rule": rule.pk})
    assert again.status_code == 404
    assert (
        browser.post("/console/settings/", {"action": "tax_remove", "rule": "x"}).status_code == 404
    )


def test_a_billing_staff_member_cannot_remove_a_tax_rule(tenant_a, shop_a):
    with schema_context(tenant_a.schema):
        rule = TaxRule.objects.get(country="DE", is_active=True)
    browser = tenant_a.client(staff_member(tenant_a, "billing"))
    refused = browser.post("/console/settings/", {"action": "tax_remove", "rule": rule.pk})
    assert refused.status_code == 403
    with schema_context(tenant_a.schema):
        assert TaxRule.objects.get(pk=rule.pk).is_active


def test_the_default_language_is_one_of_the_platform(tenant_a):
    with pytest.raises(ValidationError, match="not a language"):
        tenant_default_language_set(tenant=tenant_a.tenant, language="xx")
    assert Tenant.objects.get(pk=tenant_a.tenant.pk).default_language == "en"
    tenant_default_language_set(tenant=tenant_a.tenant, language="it")
    assert Tenant.objects.get(pk=tenant_a.tenant.pk).default_language == "it"
    tenant_default_language_set(tenant=tenant_a.tenant, language="en")
