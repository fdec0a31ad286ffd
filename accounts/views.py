from __future__ import annotations

from allauth.account.utils import get_next_redirect_url, perform_login
from allauth.account.views import LoginView as AllauthLoginView
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode


class LoginView(AllauthLoginView):
    """The login page of every host, in the site's own look. allauth does the rest: the
    failed-login throttle, and the two-factor step for people who turned it on."""

    template_name = "accounts/login.html"


login_view = LoginView.as_view()


def admin_login(request: HttpRequest, extra_context=None) -> HttpResponse:
    """Stands in for the Django admin's own login form, which would let provider staff in
    with a password alone: the same form and the same two-factor step as /login/."""
    if request.user.is_authenticated:
        if not (request.user.is_active and request.user.is_staff):
            raise PermissionDenied
        return redirect(get_next_redirect_url(request) or reverse("admin:index"))
    return login_view(request)


def login_link(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """Logs a person in from a one-time link. The user is looked up in the schema of the
    host the link was opened on, so a link for one tenant is void on any other. A person
    with two-factor turned on is still asked for a code."""
    user_model = get_user_model()
    try:
        user = user_model.objects.get(pk=int(force_str(urlsafe_base64_decode(uidb64))))
    except (ValueError, TypeError, OverflowError, user_model.DoesNotExist):
        user = None
    if user is None or not user.is_active or not default_token_generator.check_token(user, token):
        return render(request, "accounts/login_link_invalid.html", status=400)
    target = reverse("console:home" if user.kind == user.Kind.STAFF else "home")
    return perform_login(request, user, redirect_url=target)
