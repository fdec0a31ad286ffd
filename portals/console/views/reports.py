"""The console's reports: one page per report (revenue by product, taxes by country and
rate, receivables ageing, MRR movement, top clients), each with its chart, its table, a
period and its CSV. The figures are billing.reports'; this module only draws them."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from decimal import Decimal
from urllib.parse import urlencode

from babel.dates import format_date
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing import reports
from billing.money import Money
from billing.taxes import SALE_RULE_LABELS
from core.locale import babel_locale, number_format
from portals.common.access import capability_require, console_page
from portals.common.charts import ChartSeries, stacked_bar_chart
from portals.console.forms import ReportPeriodForm

# The tabs, in the order the page shows them.
REPORT_TITLES = {
    "revenue": gettext_lazy("Revenue by product"),
    "taxes": gettext_lazy("Taxes by country and rate"),
    "receivables": gettext_lazy("Receivables ageing"),
    "mrr": gettext_lazy("MRR movement"),
    "top-clients": gettext_lazy("Top clients"),
}
AGEING_LABELS = {
    "current": gettext_lazy("Not yet due"),
    "1_30": gettext_lazy("1–30 days"),
    "31_60": gettext_lazy("31–60 days"),
    "61_90": gettext_lazy("61–90 days"),
    "over_90": gettext_lazy("Over 90 days"),
}
# A chart of more products than this reads as noise: the rest are drawn as one.
CHART_PRODUCTS = 4

assert tuple(REPORT_TITLES) == reports.REPORTS
assert tuple(AGEING_LABELS) == tuple(key for key, _first, _last in reports.AGEING_BUCKETS)


def _axis(value: Decimal) -> str:
    # Small axes need their decimals (0.25); large ones read better without them.
    return number_format(value.quantize(Decimal("0.01")).normalize())


def _amounts(values: Iterable[Money]) -> list[Decimal]:
    return [value.amount for value in values]


def _month_labels(months) -> list[str]:
    locale = babel_locale()
    return [format_date(month, "MMM yy", locale=locale) for month in months]


class _Echo:
    """A file that hands back what is written to it, for streaming csv.writer's rows."""

    def write(self, value: str) -> str:
        return value


def _csv_response(rows: Iterator[list[str]], filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _revenue(period: reports.ReportPeriod) -> tuple[dict, SafeString]:
    revenue = reports.revenue_by_product(period=period)
    shown, rest = revenue.products[:CHART_PRODUCTS], revenue.products[CHART_PRODUCTS:]
    series = [ChartSeries(row.product or _("Other sales"), _amounts(row.months)) for row in shown]
    if rest:
        others = [
            sum((row.months[index].amount for row in rest), Decimal(0))
            for index in range(len(revenue.months))
        ]
        series.append(ChartSeries(_("Other products"), others))
    chart = stacked_bar_chart(
        _month_labels(revenue.months),
        series,
        title=_("Net revenue by product and month"),
        axis_format=_axis,
    )
    return {"revenue": revenue, "month_labels": _month_labels(revenue.months)}, chart


def _taxes(period: reports.ReportPeriod) -> tuple[dict, SafeString]:
    taxes = reports.taxes_by_country(period=period)
    countries = sorted(
        {row.country for row in taxes.taxed} | {row.country for row in taxes.untaxed}
    )
    taxed = {
        c: sum((r.net.amount for r in taxes.taxed if r.country == c), Decimal(0)) for c in countries
    }
    untaxed = {
        c: sum((r.net.amount for r in taxes.untaxed if r.country == c), Decimal(0))
        for c in countries
    }
    chart = stacked_bar_chart(
        [country or "—" for country in countries],
        [
            ChartSeries(_("Sales with VAT"), [taxed[c] for c in countries]),
            ChartSeries(_("Sales without VAT"), [untaxed[c] for c in countries]),
        ],
        title=_("Net sales by buyer country"),
        axis_format=_axis,
    )
    untaxed_rows = [(row, SALE_RULE_LABELS.get(row.rule, row.rule)) for row in taxes.untaxed]
    return {"taxes": taxes, "untaxed_rows": untaxed_rows}, chart


def _receivables(as_of) -> tuple[dict, SafeString]:
    ageing = reports.receivables_ageing(on_date=as_of)
    labels = [str(label) for label in AGEING_LABELS.values()]
    chart = stacked_bar_chart(
        labels,
        [ChartSeries(_("Open balance"), _amounts(ageing.totals))],
        title=_("Open balances by days past due"),
        axis_format=_axis,
    )
    return {"ageing": ageing, "bucket_labels": labels}, chart


def _mrr(period: reports.ReportPeriod) -> tuple[dict, SafeString]:
    months = reports.mrr_movement(period=period)
    chart = stacked_bar_chart(
        _month_labels([row.month for row in months]),
        [
            ChartSeries(_("New"), [row.new.amount for row in months]),
            ChartSeries(_("Expansion"), [row.expansion.amount for row in months]),
            ChartSeries(_("Contraction"), [-row.contraction.amount for row in months]),
            ChartSeries(_("Churned"), [-row.churned.amount for row in months]),
        ],
        title=_("MRR movement by month"),
        axis_format=_axis,
    )
    rows = list(zip(_month_labels([row.month for row in months]), months, strict=True))
    return {"mrr_rows": rows}, chart


def _top_clients(period: reports.ReportPeriod) -> tuple[dict, SafeString]:
    top = reports.top_clients(period=period)
    chart = stacked_bar_chart(
        [row.client for row in top],
        [ChartSeries(_("Net revenue"), [row.net.amount for row in top])],
        title=_("Top clients by net revenue"),
        axis_format=_axis,
    )
    return {"top": top}, chart


@console_page
def report_view(request: HttpRequest, report: str = "revenue") -> HttpResponse:
    if report not in REPORT_TITLES:
        raise Http404
    capability_require(request, "reports")
    today = timezone.localdate()
    form = ReportPeriodForm(request.GET or None, today=today)
    context = {
        "report": report,
        "title": REPORT_TITLES[report],
        "tabs": list(REPORT_TITLES.items()),
        "form": form,
        "today": today,
        # The tabs keep the period the user chose (its last day is the day receivables
        # are aged as of).
        "period_query": urlencode(
            {k: request.GET[k] for k in ("date_from", "date_to") if request.GET.get(k)}
        ),
    }
    as_of = today
    if form.is_bound and form.is_valid() and report == "receivables":
        try:
            as_of = reports.ageing_date(on_date=form.cleaned_data.get("date_to"), today=today)
        except reports.ReportPeriodError as exc:
            form.add_error("date_to", str(exc))
    context["as_of"] = as_of
    if request.GET and not form.is_valid():
        return render(request, "console/reports.html", context, status=400)
    period = form.period or reports.report_period(today=today)
    if request.GET.get("format") == "csv":
        rows = reports.report_csv_rows(report=report, period=period, as_of=as_of)
        suffix = as_of.isoformat() if report == "receivables" else str(period)
        return _csv_response(rows, f"{report}-{suffix}.csv")
    if report == "revenue":
        figures, chart = _revenue(period)
    elif report == "taxes":
        figures, chart = _taxes(period)
    elif report == "receivables":
        figures, chart = _receivables(as_of)
    elif report == "mrr":
        figures, chart = _mrr(period)
    else:
        figures, chart = _top_clients(period)
    query = request.GET.copy()
    query.pop("format", None)
    query["format"] = "csv"
    context.update(figures, period=period, chart=chart, csv_query=query.urlencode())
    return render(request, "console/reports.html", context)
