from __future__ import annotations

from django.contrib import admin

from billing.models import Client, Invoice, LedgerEntry


def test_billing_stays_off_the_provider_console():
    # The provider console runs in the public schema, where a reseller's clients and
    # documents do not exist and must never be listed.
    for model in (Client, Invoice, LedgerEntry):
        assert model not in admin.site._registry
