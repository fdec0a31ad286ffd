from __future__ import annotations

from decimal import Decimal

import pytest

from billing import demo, documents, selectors
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


def test_the_demos_irish_consumer_pays_irish_vat_with_both_addresses_and_the_rule(
    in_tenant_a, tenant_a, vies
):
    demo.seed(tenant_a.tenant)
    jane = Client.objects.get(email="jane.doe@example.com")
    invoice = Invoice.objects.get(client=jane)
    (line,) = invoice.lines.all()
    assert (line.tax_rate, line.vat_category, line.tax_rule) == (Decimal(23), "S", "eu_oss")
    assert invoice.tax_note == "VAT of Ireland, declared through the One-Stop Shop (OSS)"
    assert invoice.buyer["address_lines"][:3] == ["12 Grafton Street", "D02 Y006 Dublin", "IE"]
    assert invoice.seller["address_lines"][:2] == ["Via del Corso 1", "00186 Roma"]
    assert invoice.buyer["tax"]["location"]["ip_country"] == "IE"

    context = documents.invoice_document_context(invoice)
    assert "12 Grafton Street" in context.buyer.address_lines
    assert "Via del Corso 1" in context.seller.address_lines
    assert invoice.tax_note in context.notes
    assert "IVA" not in line.tax_name  # Ireland's VAT, not Italy's
