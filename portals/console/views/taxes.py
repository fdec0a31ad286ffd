"""The console's tax pages: how the tenant is registered for VAT (with this year's sales
to consumers elsewhere in the EU against the threshold), and its tax returns per quarter
on screen and as CSV."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from billing import selectors, tax_reports, vat_rates
from billing.errors import BillingError
from billing.services import billing_settings_update
from billing.taxes import EU_DISTANCE_SALES_THRESHOLD
from portals.common.access import console_page
from portals.console.forms import TaxReportForm, TaxSettingsForm

TAX_SETTINGS_FIELDS = list(TaxSettingsForm.base_fields)


@console_page(write="admin")
def taxes_view(request: HttpRequest) -> HttpResponse:
    current = selectors.billing_settings_get()
    initial = {name: getattr(current, name) for name in TAX_SETTINGS_FIELDS}
    form = TaxSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            billing_settings_update(**form.cleaned_data)
        except BillingError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Tax settings saved."))
            return redirect("console:taxes")
    today = date.today()
    sold = selectors.eu_distance_sales_total(year=today.year)
    return render(
        request,
        "console/taxes.html",
        {
            "form": form,
            "year": today.year,
            "distance_sales": sold,
            "threshold": EU_DISTANCE_SALES_THRESHOLD,
            "over_threshold": sold.amount > EU_DISTANCE_SALES_THRESHOLD,
            "rates_version": vat_rates.data_version(),
            "report_form": TaxReportForm(
                initial={"year": today.year, "quarter": str((today.month - 1) // 3 + 1)}
            ),
        },
        status=400 if form.errors else 200,
    )


@console_page
def tax_reports_view(request: HttpRequest) -> HttpResponse:
    today = date.today()
    form = TaxReportForm(
        request.GET or {"year": today.year, "quarter": str((today.month - 1) // 3 + 1)}
    )
    if not form.is_valid():
        return render(request, "console/tax_reports.html", {"form": form}, status=400)
    period = tax_reports.period_of(
        year=form.cleaned_data["year"], quarter=int(form.cleaned_data["quarter"])
    )
    report = request.GET.get("csv", "")
    if report:
        if report not in tax_reports.REPORTS:
            return render(request, "console/tax_reports.html", {"form": form}, status=400)
        response = HttpResponse(
            tax_reports.report_csv(report=report, period=period),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="{report}-{period}.csv"'
        return response
    return render(
        request,
        "console/tax_reports.html",
        {
            "form": form,
            "period": period,
            "oss": tax_reports.oss_return(period=period),
            "ec_sales": tax_reports.ec_sales_list(period=period),
            "domestic": tax_reports.domestic_vat(period=period),
            "query": f"year={period.year}&quarter={period.quarter}",
        },
    )
