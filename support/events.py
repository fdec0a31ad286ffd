"""What happens to tickets, told to the layers above after the change commits.

The API's webhooks and the e-mail notifications listen here; support never imports them.
A listener takes a ``TicketEvent`` and runs in the schema the event came from, once the
change is durable. A failing listener is logged and does not stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django_tenants.utils import schema_context

logger = logging.getLogger(__name__)


class TicketEventKind:
    OPENED = "ticket.opened"
    CLIENT_REPLIED = "ticket.client_replied"
    STAFF_REPLIED = "ticket.staff_replied"
    NOTE_ADDED = "ticket.note_added"
    STATUS_CHANGED = "ticket.status_changed"
    ASSIGNED = "ticket.assigned"
    MERGED = "ticket.merged"
    SPLIT = "ticket.split"
    SLA_OVERDUE = "ticket.sla_overdue"

    ALL = frozenset(
        {
            OPENED,
            CLIENT_REPLIED,
            STAFF_REPLIED,
            NOTE_ADDED,
            STATUS_CHANGED,
            ASSIGNED,
            MERGED,
            SPLIT,
            SLA_OVERDUE,
        }
    )


@dataclass(frozen=True)
class TicketEvent:
    kind: str
    tenant_schema: str
    ticket_id: int
    message_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)


TicketEventListener = Callable[[TicketEvent], None]

ticket_event_listeners: list[TicketEventListener] = []


def _deliver(event: TicketEvent) -> None:
    with schema_context(event.tenant_schema):
        for listener in list(ticket_event_listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("Ticket event listener %r failed on %r", listener, event)


def ticket_event_emit(
    *,
    kind: str,
    ticket_id: int,
    message_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> TicketEvent:
    if kind not in TicketEventKind.ALL:
        raise ValueError(f"Unknown ticket event “{kind}”.")
    event = TicketEvent(
        kind=kind,
        tenant_schema=connection.schema_name,
        ticket_id=ticket_id,
        message_id=message_id,
        payload=dict(payload or {}),
    )
    transaction.on_commit(lambda: _deliver(event))
    return event
