"""Outgoing webhooks: the tenant's endpoints, the signed deliveries of billing events to
them, retries with backoff, and replays.

Signatures follow the Standard Webhooks scheme: ``webhook-id`` (the event id, the same
for every retry and replay, so a receiver can drop duplicates), ``webhook-timestamp``
(Unix seconds) and ``webhook-signature``: ``v1,`` + base64 of HMAC-SHA256 over
``"{id}.{timestamp}.{body}"`` keyed with the endpoint's secret (``whsec_`` + base64).
Receivers reject timestamps far from their clock, which stops replays of captured calls.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import random
import secrets
import socket
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.fernet import Fernet
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import WebhookDelivery, WebhookEndpoint
from api.webhook_events import EVENT_TYPES, PING
from audit.services import audit_record
from billing.errors import BillingError

logger = logging.getLogger(__name__)

SECRET_START = "whsec_"
# Seconds to wait before each retry; the attempt after the last one is the last.
RETRY_DELAYS_S = (1, 10, 60, 300, 1800, 3600, 3 * 3600, 6 * 3600)
MAX_ATTEMPTS = len(RETRY_DELAYS_S) + 1
TIMEOUT_S = 10.0
SIGNATURE_TOLERANCE_S = 300
USER_AGENT = "Tessera-Webhooks/1"
_PRIVATE_NAMES = ("localhost", ".localhost", ".local", ".internal", ".lan", ".home.arpa")


# --- secrets and signatures -----------------------------------------------------------


def _fernet() -> Fernet:
    return Fernet(settings.FIELD_ENCRYPTION_KEY.encode())


def secret_new() -> str:
    return SECRET_START + base64.b64encode(secrets.token_bytes(24)).decode()


def secret_of(endpoint: WebhookEndpoint) -> str:
    return _fernet().decrypt(endpoint.secret_encrypted.encode()).decode()


def webhook_signature(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_START))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def webhook_signature_verify(
    *,
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
    tolerance_s: int = SIGNATURE_TOLERANCE_S,
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = lowered.get("webhook-id", "")
    try:
        timestamp = int(lowered.get("webhook-timestamp", ""))
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance_s:
        return False
    expected = webhook_signature(
        secret=secret, message_id=message_id, timestamp=timestamp, body=body
    )
    offered = lowered.get("webhook-signature", "").split()
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)


# --- endpoints -------------------------------------------------------------------------


def _is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_global and not ip.is_multicast


def webhook_url_check(url: str, *, private_allowed: bool = False) -> str:
    """An http(s) URL that, unless allowed, does not aim at this installation's own
    network (a key holder must not reach internal services through our workers)."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BillingError("A webhook URL starts with https:// (or http://) and names a host.")
    if parts.username or parts.password:
        raise BillingError("A webhook URL cannot carry a user name or password.")
    if private_allowed:
        return url
    host = parts.hostname.lower().rstrip(".")
    if host == "localhost" or host.endswith(_PRIVATE_NAMES):
        raise BillingError("A webhook URL must point to a public host.")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return url
    if not _is_public_address(str(literal)):
        raise BillingError("A webhook URL must point to a public address.")
    return url


def _events_clean(events: Iterable[str]) -> list[str]:
    events = sorted(set(events))
    unknown = [event for event in events if event not in EVENT_TYPES]
    if unknown:
        raise BillingError(f"Unknown event types: {', '.join(unknown)}.")
    return events


@dataclass(frozen=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # returned once, to the creator


def _audit_fields(endpoint: WebhookEndpoint) -> dict[str, Any]:
    # Never the secret, encrypted or not.
    return {
        "url": endpoint.url,
        "events": endpoint.events,
        "description": endpoint.description,
        "is_active": endpoint.is_active,
    }


def _audit(action: str, endpoint: WebhookEndpoint, **values: Any) -> None:
    audit_record(
        action=action, object_type="webhook_endpoint", object_id=endpoint.public_id, **values
    )


@transaction.atomic
def webhook_endpoint_create(
    *,
    url: str,
    events: Iterable[str] = (),
    description: str = "",
    is_active: bool = True,
    private_network_allowed: bool = False,
) -> CreatedEndpoint:
    """A new endpoint with a fresh signing secret. ``private_network_allowed`` is for
    trusted callers only (an on-premises console, tests), never for an API key."""
    secret = secret_new()
    endpoint = WebhookEndpoint.objects.create(
        url=webhook_url_check(url, private_allowed=private_network_allowed),
        events=_events_clean(events),
        description=(description or "")[:200],
        is_active=is_active,
        secret_encrypted=_fernet().encrypt(secret.encode()).decode(),
        private_network_allowed=private_network_allowed,
    )
    _audit("webhook_endpoint.created", endpoint, after=_audit_fields(endpoint))
    return CreatedEndpoint(endpoint, secret)


@transaction.atomic
def webhook_endpoint_secret_rotate(*, endpoint: WebhookEndpoint) -> CreatedEndpoint:
    """A new signing secret, returned once; the old one stops at once. Deliveries still
    waiting for a retry are signed with the new secret when they go out."""
    secret = secret_new()
    endpoint.secret_encrypted = _fernet().encrypt(secret.encode()).decode()
    endpoint.save(update_fields=["secret_encrypted", "updated_at"])
    _audit("webhook_endpoint.secret_rotated", endpoint)
    return CreatedEndpoint(endpoint, secret)


@transaction.atomic
def webhook_endpoint_update(*, endpoint: WebhookEndpoint, **changes: Any) -> WebhookEndpoint:
    unknown = set(changes) - {"url", "events", "description", "is_active"}
    if unknown:
        raise BillingError(f"Unknown webhook endpoint fields: {', '.join(sorted(unknown))}.")
    if "url" in changes:
        changes["url"] = webhook_url_check(
            changes["url"], private_allowed=endpoint.private_network_allowed
        )
    if "events" in changes:
        changes["events"] = _events_clean(changes["events"])
    if "description" in changes:
        changes["description"] = (changes["description"] or "")[:200]
    before = _audit_fields(endpoint)
    for name, value in changes.items():
        setattr(endpoint, name, value)
    endpoint.save()
    after = _audit_fields(endpoint)
    if after != before:
        _audit("webhook_endpoint.updated", endpoint, before=before, after=after)
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Deletes the endpoint and its delivery log."""
    _audit("webhook_endpoint.deleted", endpoint, before=_audit_fields(endpoint))
    endpoint.delete()


# --- publishing and sending ------------------------------------------------------------


def _queue(delivery_id: int) -> None:
    # api.tasks imports this module; the task is looked up at call time.
    from api.tasks import webhook_delivery_send_task

    try:
        # Runs in this schema: tenant-schemas-celery puts the schema in the message.
        webhook_delivery_send_task.delay(delivery_id)
    except Exception:
        # A broker outage must not fail what caused the event; the delivery stays
        # pending in the log and can be replayed.
        logger.warning("Could not queue webhook delivery %s", delivery_id, exc_info=True)


def webhook_event_publish(
    *, event_type: str, data: dict, event_id: uuid.UUID | None = None
) -> list[WebhookDelivery]:
    """One delivery per active endpoint that takes this event type, each sent by a task
    once the caller's transaction commits. The same ``event_id`` twice reaches each
    endpoint once."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown webhook event type “{event_type}”.")
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(is_active=True)
        if not endpoint.events or event_type in endpoint.events
    ]
    if not endpoints:
        return []
    event_id = event_id or uuid.uuid4()
    payload = {
        "id": str(event_id),
        "type": event_type,
        "created_at": timezone.now().isoformat(),
        "data": data,
    }
    made = []
    for endpoint in endpoints:
        try:
            with transaction.atomic():
                delivery = WebhookDelivery.objects.create(
                    endpoint=endpoint,
                    event_id=event_id,
                    event_type=event_type,
                    payload=payload,
                    next_attempt_at=timezone.now(),
                )
        except IntegrityError:
            continue
        made.append(delivery)
        transaction.on_commit(lambda pk=delivery.pk: _queue(pk), robust=True)
    return made


def webhook_endpoint_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A ``ping`` event to one endpoint, to try it out."""
    event_id = uuid.uuid4()
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id=event_id,
        event_type=PING,
        payload={
            "id": str(event_id),
            "type": PING,
            "created_at": timezone.now().isoformat(),
            "data": {"endpoint": str(endpoint.public_id)},
        },
        next_attempt_at=timezone.now(),
    )
    transaction.on_commit(lambda: _queue(delivery.pk), robust=True)
    return delivery


@transaction.atomic
def webhook_delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Sends the same event (same id, same payload) to the same endpoint again, as a new
    entry in the log."""
    original = delivery.replay_of or delivery
    replay = WebhookDelivery.objects.create(
        endpoint=delivery.endpoint,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        payload=delivery.payload,
        replay_of=original,
        next_attempt_at=timezone.now(),
    )
    audit_record(
        action="webhook_delivery.replayed",
        object_type="webhook_delivery",
        object_id=replay.public_id,
        after={
            "endpoint": str(delivery.endpoint.public_id),
            "event_id": str(delivery.event_id),
            "event_type": delivery.event_type,
            "replay_of": str(original.public_id),
        },
    )
    transaction.on_commit(lambda: _queue(replay.pk), robust=True)
    return replay


def retry_delay(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure, with jitter so that an endpoint coming
    back up is not hit by every delayed delivery in the same second."""
    base = RETRY_DELAYS_S[min(attempts, len(RETRY_DELAYS_S)) - 1]
    return timedelta(seconds=base * (0.8 + random.random() * 0.4))


def _resolves_public(url: str) -> bool:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except OSError:
        # Unresolvable: the request will fail on its own and be retried.
        return True
    return all(_is_public_address(info[4][0].split("%")[0]) for info in infos)


def webhook_request(delivery: WebhookDelivery, *, secret: str) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one attempt."""
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    message_id = str(delivery.event_id)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhook_signature(
            secret=secret, message_id=message_id, timestamp=timestamp, body=body
        ),
        "Tessera-Event": delivery.event_type,
        "Tessera-Delivery": str(delivery.public_id),
    }
    return body, headers


def webhook_delivery_send(
    *, delivery_id: int, transport: httpx.BaseTransport | None = None
) -> WebhookDelivery | None:
    """One attempt of a pending delivery. Row-locked, so two workers never send it at
    once; a 2xx answer is success, anything else is retried with backoff until
    MAX_ATTEMPTS, after which the delivery is failed (and can still be replayed)."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .select_related("endpoint")
            .filter(pk=delivery_id, state=WebhookDelivery.State.PENDING)
            .first()
        )
        if delivery is None:
            return None
        endpoint = delivery.endpoint
        delivery.attempts += 1
        status_code, error, excerpt = None, "", ""
        if not endpoint.private_network_allowed and not _resolves_public(endpoint.url):
            error = "Refused: the endpoint's host resolves to a private address."
        else:
            body, headers = webhook_request(delivery, secret=secret_of(endpoint))
            try:
                with httpx.Client(timeout=TIMEOUT_S, transport=transport) as client:
                    response = client.post(endpoint.url, content=body, headers=headers)
                status_code = response.status_code
                excerpt = response.text[:2000]
                if not 200 <= status_code < 300:
                    error = f"The endpoint answered {status_code}."
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:2000]
        delivery.last_status_code = status_code
        delivery.last_error = error
        delivery.response_excerpt = excerpt
        if not error:
            delivery.state = WebhookDelivery.State.SUCCEEDED
            delivery.delivered_at = timezone.now()
            delivery.next_attempt_at = None
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.state = WebhookDelivery.State.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = timezone.now() + retry_delay(delivery.attempts)
        delivery.save()
        logger.info(
            "Webhook %s to %s in %s: attempt %s, %s",
            delivery.event_type,
            endpoint.url,
            connection.schema_name,
            delivery.attempts,
            error or delivery.state,
        )
        return delivery
