"""Two payments of one invoice at the same moment, in committed transactions."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from billing import services
from billing.errors import BillingError
from billing.models import Invoice, Payment
from tests.billing.conftest import eur
from tests.billing.live import run_together


@pytest.fixture
def live_invoice(tenant_factory):
    schema = tenant_factory(name="Paying Hosting").tenant.schema_name
    with schema_context(schema):
        services.billing_settings_update(country="IT")
        client = services.client_create(name="Ada", email="ada@example.test", country="IT")
        draft = services.invoice_create(client=client)
        # 40.98 + 22 % Italian VAT (9.02): 50.00 to pay.
        services.invoice_line_add(invoice=draft, description="Hosting", unit_price=eur("40.98"))
        invoice = services.invoice_issue(invoice=draft)
        assert invoice.total == eur(50)
    return schema, invoice


def _pay(invoice, key: str):
    return lambda: services.payment_record(
        invoice=invoice, amount=eur(50), method="gateway", idempotency_key=key
    )


def test_paying_twice_at_once_pays_once(live_invoice):
    schema, invoice = live_invoice
    results = run_together(schema, [_pay(invoice, f"click-{i}") for i in range(4)])
    paid = [r for r in results if isinstance(r, Payment)]
    refused = [r for r in results if isinstance(r, BillingError)]
    assert len(paid) == 1 and len(refused) == 3, results
    with schema_context(schema):
        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.PAID
        assert invoice.paid == eur(50)
        assert Payment.objects.count() == 1


def test_the_same_webhook_delivered_twice_at_once_records_one_payment(live_invoice):
    schema, invoice = live_invoice
    results = run_together(schema, [_pay(invoice, "evt_1"), _pay(invoice, "evt_1")])
    assert all(isinstance(r, Payment) for r in results), results
    assert results[0].pk == results[1].pk
    with schema_context(schema):
        assert Payment.objects.count() == 1
