"""Celery tasks of payments. Thin: the services do the work. Tenant tasks run in the
schema they were queued from (tenant-schemas-celery); the all-tenants entry points are
for Celery beat."""

from __future__ import annotations

import logging
from datetime import date

from celery import shared_task
from django.db import InterfaceError, OperationalError

from billing.models import Invoice
from tenants.tasks import task_queue_in_every_tenant

logger = logging.getLogger(__name__)

TRANSIENT = (OperationalError, InterfaceError)
RETRY = {"max_retries": 6, "retry_backoff": 5, "retry_backoff_max": 600, "retry_jitter": True}


@shared_task(autoretry_for=TRANSIENT, **RETRY)
def payments_autocharge_due_task(on_date: str | None = None) -> dict:
    # billing.payments.flows imports this module; looked up at call time.
    from billing.payments.flows import payments_autocharge_due

    run = payments_autocharge_due(date.fromisoformat(on_date) if on_date else None)
    return {
        "charged": run.charged,
        "failed": run.failed,
        "pending": run.pending,
        "retried": run.retried,
    }


@shared_task
def payments_autocharge_all_tenants() -> int:
    """Beat entry point: the auto-charge step in every active tenant's schema."""
    return task_queue_in_every_tenant(payments_autocharge_due_task)


@shared_task(autoretry_for=TRANSIENT, **RETRY)
def invoice_autocharge_task(invoice_id: int) -> str | None:
    """Charges a just-issued invoice (tenants that charge on issue)."""
    # billing.payments.flows imports this module; looked up at call time.
    from billing.payments.flows import invoice_autocharge

    invoice = Invoice.objects.filter(pk=invoice_id).first()
    if invoice is None:
        logger.error("Invoice %s to auto-charge not found", invoice_id)
        return None
    attempt = invoice_autocharge(invoice=invoice)
    return attempt.status if attempt else None
