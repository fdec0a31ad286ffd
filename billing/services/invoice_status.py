"""The state of an issued invoice, derived from what it was paid and credited, and what a
newly paid invoice sets off (the order completes, renewed services run on, services
suspended for non-payment come back)."""

from __future__ import annotations

from datetime import date

from django.utils import timezone

from billing.events import InvoiceEventKind, invoice_event_emit
from billing.models import Invoice, InvoiceLine, Service
from billing.services._common import today
from billing.services.subscriptions import service_renew, service_unsuspend

# The reason the billing run gives when it suspends for non-payment; paying lifts it.
SUSPENSION_OVERDUE = "overdue"


def invoice_status_refresh(*, invoice: Invoice, on_date: date | None = None) -> Invoice:
    """Derives the status of an issued invoice from what it was paid and credited, and
    runs what a newly paid invoice sets off. The caller holds the invoice lock."""
    if invoice.status == Invoice.Status.DRAFT:
        return invoice
    previous = invoice.status
    due = invoice.amount_due.amount
    on_date = on_date or today()
    if due == 0:
        if invoice.paid_amount == 0 and invoice.credited_amount > 0:
            status = Invoice.Status.CANCELLED
        else:
            status = Invoice.Status.PAID
    elif invoice.due_date and invoice.due_date < on_date:
        status = Invoice.Status.OVERDUE
    elif invoice.paid_amount > 0:
        status = Invoice.Status.PARTIALLY_PAID
    else:
        status = Invoice.Status.ISSUED
    if status == previous:
        return invoice
    invoice.status = status
    if status == Invoice.Status.PAID:
        invoice.paid_at = timezone.now()
    if status == Invoice.Status.CANCELLED and invoice.cancelled_at is None:
        invoice.cancelled_at = timezone.now()
    invoice.save(update_fields=["status", "paid_at", "cancelled_at", "updated_at"])
    if status == Invoice.Status.PAID:
        _invoice_paid_effects(invoice)
    if status == Invoice.Status.CANCELLED:
        invoice_event_emit(kind=InvoiceEventKind.CANCELLED, invoice_id=invoice.pk)
    return invoice


def _invoice_paid_effects(invoice: Invoice) -> None:
    if hasattr(invoice, "order") and invoice.order.status == invoice.order.Status.PENDING:
        order = invoice.order
        order.status = order.Status.COMPLETED
        order.save(update_fields=["status"])
    renewal_lines = invoice.lines.filter(
        kind=InvoiceLine.Kind.RENEWAL, service__isnull=False, period_end__isnull=False
    ).select_related("service")
    for line in renewal_lines:
        service = Service.objects.select_for_update().get(pk=line.service_id)
        service_renew(service=service, period_end=line.period_end)
        if service.status == Service.Status.SUSPENDED and service.suspension_reason == (
            SUSPENSION_OVERDUE
        ):
            still_overdue = (
                InvoiceLine.objects.filter(service=service, invoice__status=Invoice.Status.OVERDUE)
                .exclude(invoice=invoice)
                .exists()
            )
            if not still_overdue:
                service_unsuspend(service=service)
    invoice_event_emit(kind=InvoiceEventKind.PAID, invoice_id=invoice.pk)
