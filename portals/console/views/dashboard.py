"""The console's dashboard: revenue and MRR over the last year, overdue invoices,
counts of what needs attention and the balance at the provider."""

from __future__ import annotations

from decimal import Decimal

from babel.dates import format_date
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.selectors import billing_settings_get
from core.locale import babel_locale, number_format
from portals.common.access import console_page
from portals.common.charts import ChartPoint, bar_line_chart
from portals.console import selectors as console_selectors


def _axis_number(value: Decimal) -> str:
    # Small axes need their decimals (0.25); large ones read better without them.
    return number_format(value.quantize(Decimal("0.01")).normalize())


@console_page
def home(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    series = console_selectors.dashboard_series(today)
    locale = babel_locale()
    points = [
        ChartPoint(format_date(row.month, "MMM", locale=locale), row.revenue.amount, row.mrr.amount)
        for row in series
    ]
    chart = bar_line_chart(
        points,
        title=_("Revenue and MRR, last 12 months"),
        bar_name=_("Revenue"),
        line_name=_("MRR"),
        axis_format=_axis_number,
    )
    overdue = console_selectors.overdue_invoices(today)
    return render(
        request,
        "console/home.html",
        {
            "chart": chart,
            "series": series,
            "mrr": series[-1].mrr if series else None,
            "revenue": series[-1].revenue if series else None,
            "overdue": overdue[:10],
            "overdue_count": overdue.count(),
            "counts": console_selectors.dashboard_counts(),
            "balance": console_selectors.provider_balance(),
            "seller_country_missing": not billing_settings_get().country,
        },
    )
