"""Who may open which portal page.

Every staff role reads the whole console but the reports; writes need a capability:

| capability | roles | covers |
|---|---|---|
| ``money`` | owner, admin, billing | invoices, credit notes, payments, clients' billing details |
| ``reports`` | owner, admin, billing, readonly | reading the reports (revenue, taxes, MRR) |
| ``service`` | owner, admin, support | service actions, the upstream command queue |
| ``admin`` | owner, admin | catalogue, branding, domains, staff, settings |
| ``owner`` | owner | whether staff must use two-factor authentication |
| ``login_as`` | owner, admin, billing, support | the client area as a client sees it |

Read-only staff read. The reports are the one page a support agent does not read: the
business's revenue is not a support matter.

A client sees only what belongs to its own client record; anything
else is a 404, never a 403, so that ids of other clients give nothing away.

When the tenant requires two-factor authentication, a staff member without it is sent from
every console page to the set-up page first (accounts.two_factor).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.two_factor import two_factor_setup_redirect
from billing.selectors import client_for_user
from core.locale import localized

OWNER, ADMIN, BILLING, SUPPORT, READONLY = "owner", "admin", "billing", "support", "readonly"

CAPABILITIES: dict[str, frozenset[str]] = {
    "view": frozenset({OWNER, ADMIN, BILLING, SUPPORT, READONLY}),
    "money": frozenset({OWNER, ADMIN, BILLING}),
    "reports": frozenset({OWNER, ADMIN, BILLING, READONLY}),
    "service": frozenset({OWNER, ADMIN, SUPPORT}),
    "admin": frozenset({OWNER, ADMIN}),
    "owner": frozenset({OWNER}),
    "login_as": frozenset({OWNER, ADMIN, BILLING, SUPPORT}),
}


def is_staff_user(user) -> bool:
    return bool(user.is_authenticated and getattr(user, "is_tenant_staff", False))


def user_can(user, capability: str) -> bool:
    if not is_staff_user(user):
        return False
    # A staff account without a role has never been given one: it only reads.
    role = user.role or READONLY
    return role in CAPABILITIES[capability]


def capability_require(request: HttpRequest, capability: str) -> None:
    if not user_can(request.user, capability):
        raise PermissionDenied


def capabilities_for(user) -> dict[str, bool]:
    return {name: user_can(user, name) for name in CAPABILITIES}


def may_login_as_client(*, hijacker, hijacked) -> bool:
    """Staff with the capability may open the client area as an active user of one of the
    tenant's clients, never as staff. Both users come from the schema of the host serving
    the request, so another tenant's people cannot even be named."""
    if hijacked is None or not getattr(hijacked, "is_active", False):
        return False
    if getattr(hijacked, "is_tenant_staff", True) or hijacked.pk == hijacker.pk:
        return False
    return user_can(hijacker, "login_as") and client_for_user(user=hijacked) is not None


def console_page(view: Callable[..., HttpResponse] | None = None, *, write: str | None = None):
    """A console page: this tenant's staff only (others go to the login page), with
    two-factor authentication when the tenant requires it. With ``write``, a POST needs
    that capability too."""

    def decorate(func: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(func)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not is_staff_user(request.user):
                return redirect_to_login(request.get_full_path())
            setup = two_factor_setup_redirect(request)
            if setup is not None:
                return setup
            if write and request.method == "POST":
                capability_require(request, write)
            request.console_can = capabilities_for(request.user)
            return func(request, *args, **kwargs)

        return localized(wrapper)

    return decorate(view) if view is not None else decorate


def client_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A client-area page: a signed-in client user acting for a client. The client is
    passed to the view as ``request.client``."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if is_staff_user(user):
            return redirect("console:home")
        client = client_for_user(user=user)
        if client is None:
            return render(request, "client_area/no_client.html", status=403)
        request.client = client
        return view(request, *args, **kwargs)

    return localized(wrapper)
