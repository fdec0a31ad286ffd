"""Two-factor authentication required of the provider's staff on the provider console.

The reseller console checks this in ``portals.common.access.console_page``; the provider console
is the Django admin, whose views are Django's own, so the check sits here, for the views of
the ``admin`` namespace only."""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django_tenants.utils import get_public_schema_name

from accounts.two_factor import two_factor_setup_redirect

# A person who has to set two-factor up can still leave, or change a password first.
ADMIN_PAGES_ALWAYS_OPEN = frozenset(
    {"login", "logout", "password_change", "password_change_done", "jsi18n"}
)


class ProviderTwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if (
            match is None
            or connection.schema_name != get_public_schema_name()
            or "admin" not in match.namespaces
            or match.url_name in ADMIN_PAGES_ALWAYS_OPEN
        ):
            return None
        return two_factor_setup_redirect(request)
