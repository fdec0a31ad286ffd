"""Views of both URLconfs that belong to no portal area: health, the platform's home page,
Caddy's on-demand TLS question, and the login of tenant hosts."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render

from accounts import views as accounts_views
from tenants.locale import localized


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "schema": connection.schema_name})


# Where a person lands after logging in is accounts.adapters.AccountAdapter's choice.
login_view = localized(accounts_views.login_view)


def platform_home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.user.is_staff:
        return redirect("provider:home")
    return render(request, "tenants/platform_home.html")


def tls_ask(request: HttpRequest) -> HttpResponse:
    """Caddy's on-demand TLS asks here before getting a certificate for a host: yes only
    for a verified domain of an active tenant (or the platform itself)."""
    from tenants.models import Domain

    hostname = (request.GET.get("domain") or "").strip().lower().rstrip(".")
    domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
    allowed = bool(
        domain
        and domain.is_verified
        and (domain.tenant.schema_name == "public" or domain.tenant.is_active)
    )
    return HttpResponse("ok" if allowed else "unknown host", status=200 if allowed else 404)
