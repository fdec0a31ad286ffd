"""What billing writes into the audit log, connected once at start-up (BillingConfig.ready).

State changes arrive through the in-transaction listeners of billing.events, so an entry
commits or rolls back with its change. Payments, refunds and credit notes have no events
of their own; their rows are written once and never changed, so a post_save on creation
marks exactly one fact each."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save

from audit.services import audit_record
from billing.events import (
    InvoiceEvent,
    ServiceEvent,
    ServiceEventKind,
    invoice_event_tx_listeners,
    service_event_tx_listeners,
)
from billing.models import CreditNote, Invoice, Payment, Refund, Service
from billing.money import money_json


def on_service_event(event: ServiceEvent) -> None:
    service = Service.objects.filter(pk=event.service_id).first()
    payload = event.payload
    if event.kind == ServiceEventKind.PLAN_CHANGED:
        before = {"plan_id": payload.get("old_plan_id"), "cycle": payload.get("old_cycle")}
        after = {"plan_id": payload.get("new_plan_id"), "cycle": payload.get("new_cycle")}
        if service is not None:
            after["recurring"] = money_json(service.recurring_amount, service.currency)
    else:
        before = {"status": payload["previous_status"]} if "previous_status" in payload else None
        after = {"status": service.status if service is not None else None}
        extra = {k: v for k, v in payload.items() if k != "previous_status"}
        if extra:
            after["details"] = extra
    audit_record(
        action=f"service.{event.kind}",
        object_type="service",
        object_id=service.public_id if service is not None else event.service_id,
        before=before,
        after=after,
    )


_INVOICE_BEFORE = {"issued": "draft"}


def on_invoice_event(event: InvoiceEvent) -> None:
    invoice = Invoice.objects.filter(pk=event.invoice_id).first()
    if invoice is None:
        audit_record(
            action=f"invoice.{event.kind}", object_type="invoice", object_id=event.invoice_id
        )
        return
    before = {"status": _INVOICE_BEFORE[event.kind]} if event.kind in _INVOICE_BEFORE else None
    audit_record(
        action=f"invoice.{event.kind}",
        object_type="invoice",
        object_id=invoice.public_id,
        before=before,
        after={
            "status": invoice.status,
            "number": invoice.number,
            "client": str(invoice.client.public_id),
            "total": money_json(invoice.total_amount, invoice.currency),
            "paid": money_json(invoice.paid_amount, invoice.currency),
        },
    )


def on_payment_saved(
    sender: Any, instance: Payment, created: bool, raw: bool, **kwargs: Any
) -> None:
    if not created or raw:
        return
    credit = instance.method == Payment.Method.ACCOUNT_CREDIT
    invoice = instance.invoice
    audit_record(
        action="credit.applied" if credit else "payment.recorded",
        object_type="payment",
        object_id=instance.public_id,
        after={
            "amount": money_json(instance.amount, instance.currency),
            "method": instance.method,
            "gateway": instance.gateway,
            "gateway_reference": instance.gateway_reference,
            "client": str(instance.client.public_id),
            "invoice": invoice.number if invoice is not None else None,
        },
    )


def on_refund_saved(sender: Any, instance: Refund, created: bool, raw: bool, **kwargs: Any) -> None:
    if not created or raw:
        return
    payment = instance.payment
    audit_record(
        action="payment.refunded",
        object_type="refund",
        object_id=instance.public_id,
        before={"refunded": money_json(payment.refunded_amount, payment.currency)},
        after={
            "amount": money_json(instance.amount, instance.currency),
            "payment": str(payment.public_id),
            "to_credit": instance.to_credit,
            "reason": instance.reason,
        },
    )


def on_credit_note_saved(
    sender: Any, instance: CreditNote, created: bool, raw: bool, **kwargs: Any
) -> None:
    if not created or raw:
        return
    audit_record(
        action="credit_note.issued",
        object_type="credit_note",
        object_id=instance.public_id,
        after={
            "number": instance.number,
            "invoice": instance.invoice.number,
            "total": money_json(instance.total_amount, instance.currency),
            "reason": instance.reason,
        },
    )


def connect() -> None:
    if on_service_event not in service_event_tx_listeners:
        service_event_tx_listeners.append(on_service_event)
    if on_invoice_event not in invoice_event_tx_listeners:
        invoice_event_tx_listeners.append(on_invoice_event)
    post_save.connect(on_payment_saved, sender=Payment, dispatch_uid="audit.payment")
    post_save.connect(on_refund_saved, sender=Refund, dispatch_uid="audit.refund")
    post_save.connect(on_credit_note_saved, sender=CreditNote, dispatch_uid="audit.credit_note")
