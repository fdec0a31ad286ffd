from __future__ import annotations

from django.contrib import admin

from billing.admin import tenant_billing_admin
from billing.models import Invoice, LedgerEntry


def test_billing_stays_off_the_provider_console():
    assert Invoice not in admin.site._registry
    assert LedgerEntry not in admin.site._registry
    assert Invoice in tenant_billing_admin._registry
