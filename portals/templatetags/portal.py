"""Template helpers of the portals: money and dates in the page's locale, query strings
for pagination."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django import template
from django.http import QueryDict

from billing.money import Money
from core import locale

register = template.Library()


@register.filter
def money(value: Money | None) -> str:
    return locale.money_format(value)


@register.filter
def ldate(value: date | datetime | None) -> str:
    return locale.date_format(value)


@register.simple_tag(takes_context=True)
def query_with(context: dict[str, Any], **changes: Any) -> str:
    """The current query string with some parameters replaced (for page links)."""
    request = context.get("request")
    query = request.GET.copy() if request is not None else QueryDict(mutable=True)
    for key, value in changes.items():
        query[key] = value
    return "?" + query.urlencode()
