"""Who may open which page of the provider console, by provider staff role
(``accounts.roles``): every provider staff member reads every page; a write needs the
Django permission the role grants (billing staff move money and edit the catalogue,
support staff run servers and jobs, owners and administrators do everything). Anyone else,
a reseller's staff included (their accounts do not exist in the public schema), is asked
to log in."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from accounts.roles import is_provider_staff
from accounts.two_factor import two_factor_setup_redirect
from core.locale import localized

# What each kind of write needs.
MONEY = "resale.add_balanceentry"
RESELLERS = "resale.change_reselleraccount"
CATALOGUE = "resale.change_wholesaleplan"
JOBS = "provisioning.change_provisioningjob"
SERVERS = "provisioning.change_server"
# Answering resellers' escalations (support staff, owners and administrators).
DESK = "resale.change_providerticket"
ANY_STAFF = ""


def provider_can(user, perm: str) -> bool:
    return is_provider_staff(user) and user.has_perm(perm)


def provider_page(write: str | None = None) -> Callable:
    """The page is for provider staff; a POST needs the permission ``write`` (``ANY_STAFF``:
    none beyond being staff; None: the page takes no POST)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not is_provider_staff(request.user):
                return redirect_to_login(request.get_full_path())
            setup = two_factor_setup_redirect(request)
            if setup is not None:
                return setup
            if request.method == "POST" and (
                write is None or (write and not request.user.has_perm(write))
            ):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return localized(wrapper)

    return decorator
