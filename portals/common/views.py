"""Views of both URLconfs that belong to no portal area: health, the platform's home page
and the login of tenant hosts. Caddy's on-demand TLS question is answered by the tenant
middleware (tenants.views)."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render

from accounts import views as accounts_views
from core.locale import localized


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
