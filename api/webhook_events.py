"""The event types a webhook endpoint can receive, and the payload each one carries."""

from __future__ import annotations

import json
from typing import Any

from rest_framework.renderers import JSONRenderer

from billing.events import InvoiceEventKind, ServiceEventKind
from billing.models import Invoice, Service
from billing.money import round_money
from support.events import TicketEventKind
from support.models import Ticket

INVOICE_EVENT_TYPES = {
    InvoiceEventKind.ISSUED: "invoice.issued",
    InvoiceEventKind.PAID: "invoice.paid",
    InvoiceEventKind.CANCELLED: "invoice.cancelled",
}
SERVICE_EVENT_TYPES = {
    ServiceEventKind.ACTIVATED: "service.activated",
    ServiceEventKind.SUSPENDED: "service.suspended",
    ServiceEventKind.UNSUSPENDED: "service.unsuspended",
    ServiceEventKind.TERMINATED: "service.terminated",
    ServiceEventKind.CANCELLED: "service.cancelled",
}
# The support desk's events keep their own names ("ticket.opened", ...).
TICKET_EVENT_TYPES = {kind: kind for kind in TicketEventKind.ALL}
PAYMENT_FAILED = "payment.failed"
PING = "ping"

EVENT_TYPES = frozenset(
    {
        *INVOICE_EVENT_TYPES.values(),
        *SERVICE_EVENT_TYPES.values(),
        *TICKET_EVENT_TYPES.values(),
        PAYMENT_FAILED,
        PING,
    }
)


def json_safe(data: Any) -> Any:
    """What a serializer rendered, as plain JSON values (for a JSONField and a body)."""
    return json.loads(JSONRenderer().render(data))


def invoice_event_data(invoice_id: int) -> dict | None:
    # api.serializers imports this module; the serializer is looked up at call time.
    from api.serializers import InvoiceSerializer

    invoice = (
        Invoice.objects.select_related("client")
        .prefetch_related("lines__service")
        .filter(pk=invoice_id)
        .first()
    )
    return json_safe(InvoiceSerializer(invoice).data) if invoice else None


def service_event_data(service_id: int) -> dict | None:
    # api.serializers imports this module; the serializer is looked up at call time.
    from api.serializers import ServiceSerializer

    service = Service.objects.select_related("client", "plan").filter(pk=service_id).first()
    return json_safe(ServiceSerializer(service).data) if service else None


def payment_failed_data(attempt: Any) -> dict:
    return {
        "id": str(attempt.public_id),
        "invoice": str(attempt.invoice.public_id),
        "client": str(attempt.client.public_id),
        "kind": attempt.kind,
        "gateway": attempt.gateway,
        "currency": attempt.currency,
        "amount": str(round_money(attempt.amount, attempt.currency)),
        "error_code": attempt.error_code,
        "error_message": attempt.error_message,
        "created_at": attempt.created_at.isoformat() if attempt.created_at else None,
    }


def ticket_event_data(ticket_id: int, message_id: int | None) -> dict | None:
    """The ticket as the API shows it, with the message the event is about (if any)."""
    # api.serializers imports this module; the serializers are looked up at call time.
    from api.serializers import TicketMessageSerializer, TicketSerializer

    ticket = (
        Ticket.objects.select_related("department", "client", "service", "assignee")
        .filter(pk=ticket_id)
        .first()
    )
    if ticket is None:
        return None
    data = json_safe(TicketSerializer(ticket).data)
    message = ticket.messages.filter(pk=message_id).first() if message_id else None
    data["message"] = json_safe(TicketMessageSerializer(message).data) if message else None
    return data
