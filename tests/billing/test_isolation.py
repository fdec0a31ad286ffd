"""Tenant B's schema knows nothing of tenant A's billing."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from billing import selectors, services
from billing.models import BillingSettings, Client, Invoice, LedgerEntry, NumberSequence
from tests.billing.conftest import eur, invoice_for

pytestmark = pytest.mark.django_db


def test_b_does_not_see_a_invoices_clients_or_numbers(tenant_a, tenant_b):
    with schema_context(tenant_a.schema):
        services.billing_settings_update(country="IT")
        client = services.client_create(name="Ada", email="ada@example.test", country="IT")
        invoice = invoice_for(client, ("Hosting", eur(10)))
        assert invoice.seller["name"] == "Alpha Hosting"
    with schema_context(tenant_b.schema):
        assert not Invoice.objects.exists()
        assert not Client.objects.exists()
        assert not LedgerEntry.objects.exists()
        assert not Invoice.objects.filter(public_id=invoice.public_id).exists()
        assert not NumberSequence.objects.exists()
        # B numbers its own invoices from 1, in its own name.
        other = services.client_create(name="Bob", email="bob@example.test")
        own = invoice_for(other, ("Hosting", eur(10)))
        assert own.number == invoice.number
        assert own.seller["name"] == "Beta Web"
        assert selectors.billing_settings_get().legal_name == "Beta Web"
    with schema_context(tenant_a.schema):
        assert Invoice.objects.count() == 1
        assert BillingSettings.objects.get().legal_name == "Alpha Hosting"


def test_billing_tables_do_not_exist_in_public(db):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_name LIKE 'billing_%%'"
        )
        assert cursor.fetchone()[0] == 0
