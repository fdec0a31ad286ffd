"""Login as client: staff with the ``login_as`` capability open the client area exactly as
one of the client's users sees it, with a banner and a one-click way back to the console.

Built on django-hijack's views (the session keeps who the staff member is; the user's
last login is left alone). What they add here: the user is chosen among the users of one
client of this tenant (a 404 otherwise, never another tenant's person), the console's own
checks (staff, two-factor) come first, and every start and end is in the audit log."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from hijack import signals
from hijack.views import AcquireUserView, ReleaseUserView

from accounts.models import User
from accounts.two_factor import two_factor_setup_redirect
from audit.services import audit_record
from billing.models import Client
from billing.number_input import NumberInputError, integer_parse
from billing.selectors import client_for_user
from portals.common.access import capability_require, is_staff_user


class ClientLoginAsView(AcquireUserView):
    """POST ``user_pk`` (one of the client's users) to open the client area as them."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_staff_user(request.user):
            return redirect(f"{reverse('login')}?next={request.get_full_path()}")
        setup = two_factor_setup_redirect(request)
        if setup is not None:
            return setup
        if request.method != "POST":
            client = get_object_or_404(Client, public_id=kwargs["public_id"])
            return redirect("console:client", public_id=client.public_id)
        capability_require(request, "login_as")
        return super().dispatch(request, *args, **kwargs)

    def get_object(self, queryset: Any = None) -> User:
        client = get_object_or_404(Client, public_id=self.kwargs["public_id"])
        try:
            pk = integer_parse(self.request.POST.get("user_pk", ""))
        except NumberInputError:
            raise Http404 from None
        return get_object_or_404(User, pk=pk, client_link__client=client)

    def get_success_url(self) -> str:
        return reverse("account:dashboard")


class BackToConsoleView(ReleaseUserView):
    """Ends a login as client and returns to the client's page in the console."""

    def get_success_url(self) -> str:
        return self.get_redirect_url() or reverse("console:clients")


def _audit_started(*, hijacker: User, hijacked: User, **kwargs: Any) -> None:
    client = client_for_user(user=hijacked)
    audit_record(
        action="client.login_as_started",
        object_type="client",
        object_id=client.public_id if client else "",
        after={"staff": hijacker.email, "as_user": hijacked.email},
    )


def _audit_ended(*, hijacker: User, hijacked: User, **kwargs: Any) -> None:
    client = client_for_user(user=hijacked)
    audit_record(
        action="client.login_as_ended",
        object_type="client",
        object_id=client.public_id if client else "",
        after={"staff": hijacker.email, "as_user": hijacked.email},
    )


def login_as_audit_connect() -> None:
    signals.hijack_started.connect(_audit_started, dispatch_uid="login_as_started")
    signals.hijack_ended.connect(_audit_ended, dispatch_uid="login_as_ended")
