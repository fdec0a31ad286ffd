"""Reads of the tenant API's own rows (API keys, webhook endpoints and their deliveries),
for the API and for the console's pages that manage them."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import ApiKey, WebhookDelivery, WebhookEndpoint


def api_key_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.select_related("created_by")


def webhook_endpoint_list() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.all()


def webhook_delivery_list(
    *, endpoint: WebhookEndpoint | None = None, newest_first: bool = False
) -> QuerySet[WebhookDelivery]:
    """The delivery log, replays linked to what they replay; oldest first unless asked."""
    deliveries = WebhookDelivery.objects.select_related("endpoint", "replay_of")
    if endpoint is not None:
        deliveries = deliveries.filter(endpoint=endpoint)
    return deliveries.order_by("-created_at", "-id") if newest_first else deliveries
