"""The one request tenancy answers itself: Caddy's on-demand TLS question."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from tenants.models import Domain


def tls_ask(request: HttpRequest) -> HttpResponse:
    """Caddy's on-demand TLS asks here before getting a certificate for a host: yes only
    for a verified domain of an active tenant (or the platform itself)."""
    hostname = (request.GET.get("domain") or "").strip().lower().rstrip(".")
    domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
    allowed = bool(
        domain
        and domain.is_verified
        and (domain.tenant.schema_name == "public" or domain.tenant.is_active)
    )
    return HttpResponse("ok" if allowed else "unknown host", status=200 if allowed else 404)
