"""``Idempotency-Key`` on POST: the first response to a key is kept in the tenant's schema,
per API key. The same key with the same request gets that response again (marked
``Idempotent-Replayed: true``) and nothing runs twice; the same key with a different
request is a 422; a key whose first request is still running is a 409."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from accounts.models import ApiIdempotencyRecord, ApiKey
from api.errors import ProblemError

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# A key is remembered this long; after it, the same key starts afresh.
RETENTION = timedelta(hours=24)
# A first request that has not finished after this long is taken to have died with its
# worker; the next request with the key runs instead of waiting for ever.
ABANDONED_AFTER = timedelta(minutes=2)
# Replayed as they were: the headers that say what the first response was.
KEPT_HEADERS = ("Location", "Retry-After")


class IdempotentReplay(Exception):
    """Not an error: carries a stored response past the view's handler."""

    def __init__(self, response: Response) -> None:
        self.response = response


def request_fingerprint(*, method: str, path: str, data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def _key_check(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ProblemError(
            400,
            f"An {HEADER} is 1 to {MAX_KEY_LENGTH} printable characters.",
            "idempotency_key_invalid",
        )
    return key


def idempotency_begin(
    *, api_key: ApiKey, key: str, method: str, path: str, data: Any
) -> ApiIdempotencyRecord | Response:
    """Claims ``key`` for this request, or returns the response to replay. Raises a
    ProblemError when the key is in use by another request."""
    key = _key_check(key)
    fingerprint = request_fingerprint(method=method, path=path, data=data)
    now = timezone.now()
    for _ in range(2):
        try:
            with transaction.atomic():
                return ApiIdempotencyRecord.objects.create(
                    api_key=api_key, key=key, method=method, path=path[:500],
                    request_hash=fingerprint,
                )  # fmt: skip
        except IntegrityError:
            pass
        existing = ApiIdempotencyRecord.objects.filter(api_key=api_key, key=key).first()
        if existing is None:
            continue
        if existing.created_at < now - RETENTION:
            existing.delete()
            continue
        if existing.request_hash != fingerprint:
            raise ProblemError(
                422,
                f"This {HEADER} was already used for a different request.",
                "idempotency_key_reused",
            )
        if existing.status_code is None:
            taken_over = ApiIdempotencyRecord.objects.filter(
                pk=existing.pk, status_code__isnull=True, created_at__lt=now - ABANDONED_AFTER
            ).update(created_at=now)
            if taken_over:
                existing.created_at = now
                return existing
            raise ProblemError(
                409,
                f"A request with this {HEADER} is still being processed; retry shortly.",
                "idempotency_key_in_progress",
            )
        headers = dict(existing.response_headers or {})
        content_type = headers.pop("Content-Type", None)
        headers["Idempotent-Replayed"] = "true"
        return Response(
            existing.response_body,
            status=existing.status_code,
            headers=headers,
            content_type=content_type,
        )
    raise ProblemError(409, f"This {HEADER} is being used concurrently.", "idempotency_conflict")


def idempotency_complete(*, record: ApiIdempotencyRecord, response: Response) -> None:
    """Keeps the response for replays. A server error is not kept: the request may be
    retried with the same key and run again."""
    if response.status_code >= 500:
        idempotency_abandon(record=record)
        return
    body = None
    if getattr(response, "data", None) is not None:
        body = json.loads(JSONRenderer().render(response.data))
    headers = {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}
    # Not the header: it is only set when the response is rendered, after this.
    if getattr(response, "content_type", None):
        headers["Content-Type"] = response.content_type
    ApiIdempotencyRecord.objects.filter(pk=record.pk).update(
        status_code=response.status_code,
        response_body=body,
        response_headers=headers,
        completed_at=timezone.now(),
    )


def idempotency_abandon(*, record: ApiIdempotencyRecord) -> None:
    ApiIdempotencyRecord.objects.filter(pk=record.pk, status_code__isnull=True).delete()


def idempotency_records_purge(*, older_than: timedelta = RETENTION) -> int:
    """Drops records past their retention (for a periodic task)."""
    deleted, _ = ApiIdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - older_than
    ).delete()
    return deleted
