"""The provider's dashboard: the business at a glance, from selectors only."""

from __future__ import annotations

from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_compact_decimal
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.locale import babel_locale, language_cookie_set, language_normalize
from portals.common.charts import ChartPoint, bar_line_chart
from portals.provider.access import ANY_STAFF, provider_page
from provisioning.operations import provisioning_failed_job_count, servers_near_capacity
from resale import provider_selectors as selectors
from resale.operations import upstream_command_health


def _axis_number(value: Decimal) -> str:
    return format_compact_decimal(value, locale=babel_locale())


@provider_page()
def home(request: HttpRequest) -> HttpResponse:
    currency = selectors.main_currency()
    series = selectors.wholesale_series(currency=currency)
    locale = babel_locale()
    chart = bar_line_chart(
        [
            ChartPoint(
                format_date(row.month, "MMM", locale=locale), row.revenue.amount, row.mrr.amount
            )
            for row in series
        ],
        title=_("Wholesale revenue and MRR, last 12 months"),
        bar_name=_("Revenue"),
        line_name=_("MRR"),
        axis_format=_axis_number,
    )
    orders = selectors.orders_per_day()
    orders_chart = bar_line_chart(
        [
            ChartPoint(format_date(day, "d MMM", locale=locale), Decimal(n), Decimal(0))
            for day, n in orders
        ],
        title=_("Orders per day, last 14 days"),
        bar_name=_("Orders"),
        line_name="",
        axis_format=_axis_number,
        height=200,
    )
    resellers = selectors.resellers_with_balances()
    health = upstream_command_health()
    return render(
        request,
        "provider/home.html",
        {
            "counts": selectors.reseller_counts(),
            "held": selectors.balances_held(),
            "mrr": selectors.wholesale_mrr(currency=currency),
            "revenue": series[-1].revenue,
            "chart": chart,
            "series": series,
            "orders_chart": orders_chart,
            "orders": orders,
            "top": selectors.top_resellers(currency=currency),
            "health": health,
            "oldest_age": timezone.now() - health.oldest if health.oldest else None,
            "failed_jobs": provisioning_failed_job_count(),
            "near_capacity": servers_near_capacity(),
            "low_balance": [row for row in resellers if row.below_threshold],
            "drift_open": selectors.drift_open_count(),
        },
    )


@require_POST
@provider_page(write=ANY_STAFF)
def language(request: HttpRequest) -> HttpResponse:
    """The console's language, kept in the language cookie."""
    code = language_normalize(request.POST.get("language"))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("provider:home")
    response = redirect(target)
    return language_cookie_set(response, code) if code else response
