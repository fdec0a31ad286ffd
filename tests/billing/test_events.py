from __future__ import annotations

import pytest

from billing import services
from billing.events import (
    InvoiceEvent,
    invoice_event_listeners,
    service_event_emit,
)
from tests.billing.conftest import eur, invoice_for

pytestmark = pytest.mark.django_db


def test_invoice_events_issued_and_paid(shop, django_capture_on_commit_callbacks):
    received: list[InvoiceEvent] = []
    invoice_event_listeners.append(received.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            invoice = invoice_for(shop.client, ("Hosting", eur(10)))
            services.payment_record(
                invoice=invoice, amount=invoice.total, method="manual", idempotency_key="k"
            )
    finally:
        invoice_event_listeners.remove(received.append)
    assert [(e.kind, e.invoice_id) for e in received] == [
        ("issued", invoice.pk),
        ("paid", invoice.pk),
    ]


def test_unknown_event_kinds_are_refused(in_tenant_a):
    with pytest.raises(ValueError, match="Unknown service event"):
        service_event_emit(kind="exploded", service_id=1)
