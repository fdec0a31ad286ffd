"""Celery tasks of the tenant API. Each runs in the schema it was queued from."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from accounts.models import WebhookDelivery
from api.webhooks import webhook_delivery_send


@shared_task(bind=True, acks_late=True, max_retries=None)
def webhook_delivery_send_task(self, delivery_id: int) -> str | None:
    """Sends one delivery; while it is still pending after a failure, the task comes back
    when the backoff says (the count of attempts lives on the row, not in Celery)."""
    delivery = webhook_delivery_send(delivery_id=delivery_id)
    if delivery is None:
        return None
    if delivery.state == WebhookDelivery.State.PENDING and delivery.next_attempt_at:
        wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
        raise self.retry(countdown=max(0.0, wait))
    return delivery.state
