"""Billing and support events → webhook deliveries. ``connect`` is called once from
``BillingConfig.ready``; listeners run after the change they describe has committed, in
the schema of the tenant it happened in."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import connection, transaction
from django.db.models.signals import post_save
from django_tenants.utils import get_public_schema_name, schema_context

from api import webhook_events
from api.webhooks import webhook_event_publish
from billing.events import (
    InvoiceEvent,
    ServiceEvent,
    invoice_event_listeners,
    service_event_listeners,
)
from billing.models.gateway import PaymentAttempt
from support.events import TicketEvent, ticket_event_listeners

logger = logging.getLogger(__name__)

# Deterministic ids for events that have no event object of their own: a row saved
# twice in the same state is still one event.
EVENT_NAMESPACE = uuid.UUID("6f1c9f7e-6a37-4b7e-9d0a-3c2b4f1e8a51")


def on_invoice_event(event: InvoiceEvent) -> None:
    event_type = webhook_events.INVOICE_EVENT_TYPES.get(event.kind)
    if event_type is None:
        return
    data = webhook_events.invoice_event_data(event.invoice_id)
    if data is not None:
        webhook_event_publish(event_type=event_type, data=data)


def on_service_event(event: ServiceEvent) -> None:
    event_type = webhook_events.SERVICE_EVENT_TYPES.get(event.kind)
    if event_type is None:
        return
    data = webhook_events.service_event_data(event.service_id)
    if data is not None:
        webhook_event_publish(event_type=event_type, data=data)


def on_ticket_event(event: TicketEvent) -> None:
    event_type = webhook_events.TICKET_EVENT_TYPES.get(event.kind)
    if event_type is None:
        return
    data = webhook_events.ticket_event_data(event.ticket_id, event.message_id)
    if data is None:
        return
    # One id per fact (this message, this change): a replayed event reaches each
    # endpoint once.
    fact = f"{event.kind}:{event.tenant_schema}:{event.ticket_id}:{event.message_id or ''}"
    if event.message_id is None:
        fact += f":{data.get('updated_at')}"
    webhook_event_publish(
        event_type=event_type, data=data, event_id=uuid.uuid5(EVENT_NAMESPACE, fact)
    )


def on_payment_attempt_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A failed payment attempt becomes ``payment.failed``. The billing core has no
    payment event to listen to, so this watches the attempt rows themselves."""
    if instance.status != instance.Status.FAILED:
        return
    schema = connection.schema_name
    if schema == get_public_schema_name():
        return
    attempt_id = instance.pk

    def publish() -> None:
        try:
            with schema_context(schema):
                attempt = (
                    PaymentAttempt.objects.select_related("invoice", "client")
                    .filter(pk=attempt_id, status=PaymentAttempt.Status.FAILED)
                    .first()
                )
                if attempt is None:
                    return
                webhook_event_publish(
                    event_type=webhook_events.PAYMENT_FAILED,
                    data=webhook_events.payment_failed_data(attempt),
                    event_id=uuid.uuid5(EVENT_NAMESPACE, f"payment.failed:{attempt.public_id}"),
                )
        except Exception:
            logger.exception("payment.failed webhook for attempt %s not published", attempt_id)

    transaction.on_commit(publish)


def connect() -> None:
    """Subscribes the webhooks to billing's events (idempotent)."""

    if on_invoice_event not in invoice_event_listeners:
        invoice_event_listeners.append(on_invoice_event)
    if on_service_event not in service_event_listeners:
        service_event_listeners.append(on_service_event)
    if on_ticket_event not in ticket_event_listeners:
        ticket_event_listeners.append(on_ticket_event)
    post_save.connect(
        on_payment_attempt_saved,
        sender=PaymentAttempt,
        dispatch_uid="api.payment_failed_webhook",
    )
    # Registers the delivery task with Celery: autodiscovery only finds ``<app>.tasks``.
