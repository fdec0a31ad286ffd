from __future__ import annotations

import pytest

from billing import demo, selectors
from billing.models import Client, Invoice, LedgerEntry, Product, Service

pytestmark = pytest.mark.django_db


def test_seed_is_idempotent_and_sells_as_the_tenant(in_tenant_a, tenant_a):
    demo.seed(tenant_a.tenant)
    counts = [m.objects.count() for m in (Product, Client, Service, Invoice, LedgerEntry)]
    demo.seed(tenant_a.tenant)
    assert counts == [m.objects.count() for m in (Product, Client, Service, Invoice, LedgerEntry)]
    assert selectors.billing_settings_get().legal_name == "Alpha Hosting"
    assert {i.seller["name"] for i in Invoice.objects.all()} == {"Alpha Hosting"}
    assert Service.objects.filter(status=Service.Status.ACTIVE).count() == 3
    assert Invoice.objects.filter(status=Invoice.Status.PAID).exists()
    weber = Client.objects.get(company_name__startswith="Weber")
    assert Invoice.objects.filter(client=weber, reverse_charge=True).exists()
