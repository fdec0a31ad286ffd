"""The language of a portal page and the locale-aware formatting of money and dates.

A page is shown in the language the visitor chose (the language cookie), else the
signed-in person's own language, else their client's, else the tenant's default. The
browser's Accept-Language is deliberately not consulted: a reseller picks the language its
site speaks to strangers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from functools import wraps
from typing import Any, Protocol

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

_BABEL_LOCALES = {"en": "en", "it": "it_IT", "ru": "ru_RU"}


class LocaleFormattable(Protocol):
    """An amount that writes itself for a Babel locale (billing.money.Money)."""

    def format(self, locale: str) -> str: ...


# Where a signed-in person's language is found besides their own account (a client's
# language is on its billing record): each returns a code or "" and is added by the app
# that knows it, in its AppConfig.ready, so this module needs none of them.
user_language_sources: list[Callable[[Any], str]] = []


def language_codes() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def language_normalize(value: str | None) -> str | None:
    """A supported language code for ``value`` ("it-IT" → "it"), or None."""
    code = (value or "").replace("_", "-").split("-")[0].strip().lower()
    return code if code in language_codes() else None


def language_for_request(request: HttpRequest) -> str:
    chosen = language_normalize(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))
    if chosen:
        return chosen
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        own = language_normalize(getattr(user, "language", ""))
        if own:
            return own
        for source in user_language_sources:
            own = language_normalize(source(user))
            if own:
                return own
    tenant = getattr(request, "tenant", None)
    return language_normalize(getattr(tenant, "default_language", "")) or settings.LANGUAGE_CODE


def localized(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Runs the view, and renders its response, in the page's language."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        language = language_for_request(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        return view(request, *args, **kwargs)

    return wrapper


def language_cookie_set(response: HttpResponse, language: str) -> HttpResponse:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        httponly=False,
    )
    return response


def babel_locale(language: str | None = None) -> str:
    code = language_normalize(language or translation.get_language()) or settings.LANGUAGE_CODE
    return _BABEL_LOCALES.get(code, code)


def money_format(value: LocaleFormattable | None, language: str | None = None) -> str:
    if value is None:
        return ""
    return value.format(babel_locale(language))


def date_format(
    value: date | datetime | None, language: str | None = None, *, format: str = "medium"
) -> str:
    """A date, or a moment in the site's time zone, as ``language`` writes it; ``format``
    is Babel's ("medium" on pages, "long" on documents)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_datetime(
            timezone.localtime(value), format=format, locale=babel_locale(language)
        )
    return format_date(value, format=format, locale=babel_locale(language))


def number_format(value: Decimal | int, language: str | None = None) -> str:
    return format_decimal(value, locale=babel_locale(language))
