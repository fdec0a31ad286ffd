"""API keys: creation (the token is shown once), revocation, and the DRF authentication
that checks ``Authorization: Bearer tsk_…``.

A token is ``tsk_<prefix>_<secret>``. The prefix starts with a tag of the tenant that made
it, so a key of another tenant sent to this host is recognised as such without looking
anywhere but here: for that key nothing on this host exists, and every path answers 404
(the same answer a foreign object id gets). Only the SHA-256 of the token is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop
from django_tenants.utils import get_public_schema_name
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.settings import api_settings

from accounts.models import ApiKey
from audit.services import audit_record
from billing.errors import BillingError

TOKEN_START = "tsk_"
# Writing last_used_at on every request would turn each read into a write; a minute of
# precision is enough to tell a live key from a forgotten one.
LAST_USED_PRECISION = timedelta(minutes=1)

# Scope → what it allows. A ``:write`` scope includes its ``:read``. The descriptions stay
# English here (the API documents them); the console translates them when it shows them.
SCOPES: dict[str, str] = {
    "clients:read": gettext_noop("Read clients and their contacts."),
    "clients:write": gettext_noop("Create and change clients and contacts."),
    "catalogue:read": gettext_noop("Read products and plans."),
    "orders:read": gettext_noop("Read orders."),
    "orders:write": gettext_noop("Place orders."),
    "services:read": gettext_noop("Read services."),
    "services:write": gettext_noop(
        "Suspend, unsuspend, terminate services, change plans, open panels."
    ),
    "invoices:read": gettext_noop("Read invoices, credit notes and their PDFs."),
    "invoices:write": gettext_noop("Create and issue invoices, issue credit notes."),
    "payments:read": gettext_noop("Read payments."),
    "payments:write": gettext_noop("Record payments of invoices."),
    "resale:read": gettext_noop(
        "Read the balance and ledger at the provider and upstream commands."
    ),
    "resale:write": gettext_noop("Retry failed upstream commands."),
    "tickets:read": gettext_noop("Read support tickets, their messages and departments."),
    "tickets:write": gettext_noop(
        "Open support tickets, reply, add internal notes, change status, priority and assignee."
    ),
    "reports:read": gettext_noop(
        "Read the reports: revenue, taxes, receivables, MRR movement, top clients."
    ),
    "webhooks:read": gettext_noop("Read webhook endpoints and the delivery log."),
    "webhooks:write": gettext_noop("Manage webhook endpoints and replay deliveries."),
}


def scopes_granting(scope: str) -> set[str]:
    """The scopes any one of which allows ``scope``."""
    granting = {scope}
    if scope.endswith(":read"):
        granting.add(scope.removesuffix(":read") + ":write")
    return granting


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def tenant_tag(schema_name: str) -> str:
    """Six characters naming the tenant inside its tokens: stable, and saying nothing
    about which tenant it is."""
    return hashlib.sha256(f"tessera-api-key:{schema_name}".encode()).hexdigest()[:6]


def _networks_clean(values: Iterable[str]) -> list[str]:
    cleaned = []
    for value in values:
        try:
            cleaned.append(str(ipaddress.ip_network(str(value).strip(), strict=False)))
        except ValueError as exc:
            raise BillingError(f"“{value}” is not an IP address or network.") from exc
    return cleaned


def _scopes_clean(scopes: Iterable[str]) -> list[str]:
    scopes = sorted(set(scopes))
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        raise BillingError(f"Unknown scopes: {', '.join(unknown)}.")
    return scopes


def _audit_fields(key: ApiKey) -> dict[str, Any]:
    # Never the token nor its hash: the log is exported and read by people who must not
    # be able to use the key.
    return {
        "name": key.name,
        "prefix": key.prefix,
        "scopes": key.scopes,
        "allowed_ips": key.allowed_ips,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
    }


@dataclass(frozen=True)
class CreatedApiKey:
    key: ApiKey
    token: str  # shown once; only its hash is stored


@transaction.atomic
def api_key_create(
    *,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None = None,
    allowed_ips: Iterable[str] = (),
    rate_limit_per_minute: int | None = None,
    created_by: Any = None,
) -> CreatedApiKey:
    """A new key of the current tenant. The token in the result is the only copy."""
    if connection.schema_name == get_public_schema_name():
        raise BillingError("API keys belong to a tenant; this is the platform schema.")
    name = (name or "").strip()
    if not name:
        raise BillingError("An API key needs a name.")
    if expires_at is not None and expires_at <= timezone.now():
        raise BillingError("The expiry date is in the past.")
    if rate_limit_per_minute is not None and rate_limit_per_minute < 1:
        raise BillingError("A rate limit is at least one request a minute.")
    prefix = f"{TOKEN_START}{tenant_tag(connection.schema_name)}{secrets.token_hex(4)}"
    token = f"{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        name=name[:100],
        prefix=prefix,
        token_hash=token_hash(token),
        scopes=_scopes_clean(scopes),
        allowed_ips=_networks_clean(allowed_ips),
        rate_limit_per_minute=rate_limit_per_minute,
        expires_at=expires_at,
        created_by=created_by,
    )
    audit_record(
        action="api_key.created",
        object_type="api_key",
        object_id=key.public_id,
        after=_audit_fields(key),
    )
    return CreatedApiKey(key, token)


@transaction.atomic
def api_key_revoke(*, key: ApiKey) -> ApiKey:
    """Stops the key at once. Revoking a revoked key changes nothing and logs nothing."""
    key = ApiKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is None:
        before = _audit_fields(key)
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(
            action="api_key.revoked",
            object_type="api_key",
            object_id=key.public_id,
            before=before,
            after=_audit_fields(key),
        )
    return key


class ApiKeyUser:
    """Who ``request.user`` is for a request made with a key: the key, not a person."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False

    def __init__(self, key: ApiKey) -> None:
        self.key = key
        self.pk = None

    def __str__(self) -> str:
        return f"API key {self.key.prefix}"


def client_ip(request: Any) -> str:
    """The caller's address. Behind N proxies of ours (REST_FRAMEWORK NUM_PROXIES) it is
    the Nth address from the right of X-Forwarded-For; without, the socket's, because a
    header the caller wrote cannot be trusted for an allow-list."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = api_settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return remote


def _ip_allowed(key: ApiKey, address: str) -> bool:
    if not key.allowed_ips:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in key.allowed_ips)


class ApiKeyAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request) -> tuple[ApiKeyUser, ApiKey] | None:
        header = get_authorization_header(request).decode(errors="replace").strip()
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token.startswith(TOKEN_START):
            raise exceptions.AuthenticationFailed(
                "Send the key as “Authorization: Bearer tsk_…”.", code="invalid_key"
            )
        prefix, _, secret = token.partition("_")[2].partition("_")
        if not prefix or not secret:
            raise exceptions.AuthenticationFailed("This API key is not valid.", code="invalid_key")
        schema = connection.schema_name
        if schema == get_public_schema_name():
            return None
        if prefix[:6] != tenant_tag(schema):
            raise exceptions.NotFound("Not found.", code="not_found")
        key = ApiKey.objects.filter(prefix=f"{TOKEN_START}{prefix}").first()
        if key is None or not hmac.compare_digest(key.token_hash, token_hash(token)):
            raise exceptions.AuthenticationFailed("This API key is not valid.", code="invalid_key")
        now = timezone.now()
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API key was revoked.", code="key_revoked")
        if key.expires_at is not None and key.expires_at <= now:
            raise exceptions.AuthenticationFailed("This API key has expired.", code="key_expired")
        if not _ip_allowed(key, client_ip(request)):
            raise exceptions.PermissionDenied(
                "This API key may not be used from this address.", code="ip_not_allowed"
            )
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_PRECISION:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
        return ApiKeyUser(key), key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
