"""The console's list of payments received: filtered by method, client and day, with
their refunds, each linked to its invoice, and the same rows as CSV."""

from __future__ import annotations

import csv

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from billing.selectors import payment_list, payment_totals
from core.spreadsheet import spreadsheet_text
from portals.common.access import console_page
from portals.common.paging import paginate
from portals.console.forms_payments import PaymentFilterForm


@console_page
def payments_received(request: HttpRequest) -> HttpResponse:
    form = PaymentFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "console/payments_received.html", {"form": form}, status=400)
    data = form.cleaned_data
    payments = payment_list(
        method=data["method"],
        client_search=data["client"].strip(),
        received_from=data["received_from"],
        received_to=data["received_to"],
        refunded_only=data["refunded_only"],
    ).order_by("-received_at", "-id")
    if request.GET.get("format") == "csv":
        return _csv(payments)
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("format", None)
    return render(
        request,
        "console/payments_received.html",
        {
            "form": form,
            "page": paginate(request, payments.prefetch_related("refunds")),
            "totals": payment_totals(payments=payments),
            "query": query.urlencode(),
        },
    )


def _csv(payments) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="payments.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "received_at",
            "client",
            "client_email",
            "invoice",
            "method",
            "reference",
            "currency",
            "amount",
            "refunded",
            "net",
        ]
    )
    for payment in payments.iterator(chunk_size=500):
        writer.writerow(
            [
                payment.received_at.isoformat(timespec="seconds"),
                spreadsheet_text(payment.client.name),
                spreadsheet_text(payment.client.email),
                payment.invoice.number if payment.invoice_id and payment.invoice.number else "",
                payment.method,
                spreadsheet_text(payment.gateway_reference),
                payment.currency,
                str(payment.money.rounded().amount),
                str(payment.refunded.rounded().amount),
                str((payment.money - payment.refunded).rounded().amount),
            ]
        )
    return response
