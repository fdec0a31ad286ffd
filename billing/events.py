"""Domain events of the billing core, delivered to listeners after the transaction that
caused them commits.

A listener is a plain callable taking the event. It runs in the tenant schema the event
came from, once the change it describes is durable: a rolled-back change never reaches
it. The resale capability registers one that writes an upstream command for each
service event. A failing listener is logged and does not stop the others.

    from billing.events import service_event_listeners

    def on_service_event(event: ServiceEvent) -> None: ...
    service_event_listeners.append(on_service_event)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django_tenants.utils import schema_context

logger = logging.getLogger(__name__)


class ServiceEventKind:
    ACTIVATED = "activated"
    SUSPENDED = "suspended"
    UNSUSPENDED = "unsuspended"
    TERMINATED = "terminated"
    RENEWED = "renewed"
    PLAN_CHANGED = "plan_changed"
    OPTIONS_CHANGED = "options_changed"
    CANCELLED = "cancelled"

    ALL = frozenset(
        {
            ACTIVATED,
            SUSPENDED,
            UNSUSPENDED,
            TERMINATED,
            RENEWED,
            PLAN_CHANGED,
            OPTIONS_CHANGED,
            CANCELLED,
        }
    )


class InvoiceEventKind:
    ISSUED = "issued"
    PAID = "paid"
    CANCELLED = "cancelled"

    ALL = frozenset({ISSUED, PAID, CANCELLED})


class OrderEventKind:
    PLACED = "placed"

    ALL = frozenset({PLACED})


class ClientEventKind:
    # A client signed itself up: a new client with the login that acts for it.
    SIGNED_UP = "signed_up"

    ALL = frozenset({SIGNED_UP})


@dataclass(frozen=True)
class ServiceEvent:
    kind: str
    tenant_schema: str
    service_id: int
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InvoiceEvent:
    kind: str
    tenant_schema: str
    invoice_id: int
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OrderEvent:
    kind: str
    tenant_schema: str
    order_id: int
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClientEvent:
    kind: str
    tenant_schema: str
    client_id: int
    payload: dict[str, Any] = field(default_factory=dict)


ServiceEventListener = Callable[[ServiceEvent], None]
InvoiceEventListener = Callable[[InvoiceEvent], None]

service_event_listeners: list[ServiceEventListener] = []
invoice_event_listeners: list[InvoiceEventListener] = []
order_event_listeners: list[Callable[[OrderEvent], None]] = []
client_event_listeners: list[Callable[[ClientEvent], None]] = []
# Listeners that must write in the same transaction as the change (the resale outbox:
# a command is never lost between a commit and a listener). They run at emit time; an
# exception in one rolls the change back with it.
service_event_tx_listeners: list[ServiceEventListener] = []
invoice_event_tx_listeners: list[InvoiceEventListener] = []


def _deliver(
    event: ServiceEvent | InvoiceEvent | OrderEvent | ClientEvent, listeners: list
) -> None:
    with schema_context(event.tenant_schema):
        # A copy: a listener may register or remove listeners.
        for listener in list(listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("Billing event listener %r failed on %r", listener, event)


def _publish(
    event: ServiceEvent | InvoiceEvent | OrderEvent | ClientEvent,
    tx_listeners: list,
    listeners: list,
) -> None:
    """Runs the in-transaction listeners now and queues the others for the commit."""
    for listener in list(tx_listeners):
        listener(event)
    transaction.on_commit(lambda: _deliver(event, listeners))


def service_event_emit(
    *, kind: str, service_id: int, payload: dict[str, Any] | None = None
) -> ServiceEvent:
    if kind not in ServiceEventKind.ALL:
        raise ValueError(f"Unknown service event “{kind}”.")
    event = ServiceEvent(
        kind=kind,
        tenant_schema=connection.schema_name,
        service_id=service_id,
        payload=dict(payload or {}),
    )
    _publish(event, service_event_tx_listeners, service_event_listeners)
    return event


def invoice_event_emit(
    *, kind: str, invoice_id: int, payload: dict[str, Any] | None = None
) -> InvoiceEvent:
    if kind not in InvoiceEventKind.ALL:
        raise ValueError(f"Unknown invoice event “{kind}”.")
    event = InvoiceEvent(
        kind=kind,
        tenant_schema=connection.schema_name,
        invoice_id=invoice_id,
        payload=dict(payload or {}),
    )
    _publish(event, invoice_event_tx_listeners, invoice_event_listeners)
    return event


def order_event_emit(*, kind: str, order_id: int) -> OrderEvent:
    """An order was placed (the client's confirmation e-mail follows it)."""
    if kind not in OrderEventKind.ALL:
        raise ValueError(f"Unknown order event “{kind}”.")
    event = OrderEvent(kind=kind, tenant_schema=connection.schema_name, order_id=order_id)
    _publish(event, [], order_event_listeners)
    return event


def client_event_emit(*, kind: str, client_id: int) -> ClientEvent:
    """A client account came to be (the client's welcome e-mail follows it). The sign-up
    lives above billing (portals); the event lets billing's e-mails hear of it without
    billing importing the portals."""
    if kind not in ClientEventKind.ALL:
        raise ValueError(f"Unknown client event “{kind}”.")
    event = ClientEvent(kind=kind, tenant_schema=connection.schema_name, client_id=client_id)
    _publish(event, [], client_event_listeners)
    return event
