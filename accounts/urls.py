"""Account pages of every host, under /auth/: password reset by e-mail, confirming the
password before a sensitive change, two-factor authentication. allauth's own URL module is
not included whole: its sign-up and e-mail management pages have no place here (accounts
are made at checkout or by staff, and the address is the one the tenant bills)."""

from __future__ import annotations

from allauth.account import views as allauth_views
from django.urls import URLPattern, URLResolver, include, path, re_path

from core.locale import localized


def _localized(patterns: list) -> list:
    """The same routes, each shown in the page's language (core.locale)."""
    wrapped: list[URLPattern | URLResolver] = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            wrapped.append(
                URLResolver(
                    pattern.pattern,
                    _localized(pattern.url_patterns),
                    pattern.default_kwargs,
                    pattern.app_name,
                    pattern.namespace,
                )
            )
        else:
            wrapped.append(
                URLPattern(
                    pattern.pattern,
                    localized(pattern.callback),
                    pattern.default_args,
                    pattern.name,
                )
            )
    return wrapped


urlpatterns = _localized(
    [
        path("reauthenticate/", allauth_views.reauthenticate, name="account_reauthenticate"),
        path("inactive/", allauth_views.account_inactive, name="account_inactive"),
        path("password/reset/", allauth_views.password_reset, name="account_reset_password"),
        path(
            "password/reset/done/",
            allauth_views.password_reset_done,
            name="account_reset_password_done",
        ),
        re_path(
            r"^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$",
            allauth_views.password_reset_from_key,
            name="account_reset_password_from_key",
        ),
        path(
            "password/reset/key/done/",
            allauth_views.password_reset_from_key_done,
            name="account_reset_password_from_key_done",
        ),
        path("2fa/", include("allauth.mfa.urls")),
    ]
)
