"""Views of both URLconfs that belong to no portal area: health, the platform's home page
and the entry points of tenant hosts (the storefront's home page and the login). Caddy's
on-demand TLS question is answered by the tenant middleware (tenants.views)."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render

from portals.storefront import views as storefront_views


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "schema": connection.schema_name})


storefront_home = storefront_views.home
login_view = storefront_views.login_view


def platform_home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.user.is_staff:
        return redirect("admin:index")
    return render(request, "tenants/platform_home.html")
