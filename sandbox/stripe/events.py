"""Events of the local Stripe: the Events API and signed webhook deliveries.

Follows Stripe's API reference, version 2026-10-28.endive: Events
(https://docs.stripe.com/api/events?api-version=2026-10-28.endive), and the signature
scheme of https://docs.stripe.com/webhooks#verify-manually. Every state change is
recorded as an event on the account it happened on (``StripeServerBase._emit``); the
server does not deliver them itself: a test hands ``webhook_payload`` to the app.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from sandbox.stripe.base import (
    Context,
    StripeApiError,
    StripeServerBase,
    simulated,
    webhook_signature_header,
)


class EventsApi(StripeServerBase):
    ROUTES = (
        *StripeServerBase.ROUTES,
        ("GET", "/v1/events", "_event_list"),
        ("GET", "/v1/events/{id}", "_event_retrieve"),
    )

    def events(self, account: str, type: str | None = None) -> list[dict[str, Any]]:
        """The events of one account, oldest first."""
        with self._lock:
            return [
                copy.deepcopy(e)
                for e in self._events.get(account, [])
                if type is None or e["type"] == type
            ]

    def event(self, event_id: str) -> dict[str, Any]:
        with self._lock:
            for events in self._events.values():
                for event in events:
                    if event["id"] == event_id:
                        return copy.deepcopy(event)
        raise KeyError(event_id)

    def webhook_payload(
        self, event: dict[str, Any] | str, secret: str, *, timestamp: int | None = None
    ) -> tuple[bytes, str]:
        """``(body, Stripe-Signature header)`` for delivering an event to an endpoint."""
        if isinstance(event, str):
            event = self.event(event)
        payload = json.dumps(event, indent=2).encode()
        return payload, webhook_signature_header(payload, secret, timestamp)

    def _event_list(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        simulated(p, {"type", "limit", "starting_after"})
        events = [
            e
            for e in reversed(self._events.get(ctx.account, []))
            if not p.get("type") or e["type"] == p["type"]
        ]
        return self._list(ctx, events, p, "/v1/events")

    def _event_retrieve(self, ctx: Context, p: dict[str, Any], event_id: str) -> dict[str, Any]:
        simulated(p, set())
        for event in self._events.get(ctx.account, []):
            if event["id"] == event_id:
                return copy.deepcopy(event)
        raise StripeApiError(
            404, f"No such event: '{event_id}'", code="resource_missing", param="id"
        )
