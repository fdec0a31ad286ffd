"""Staff change a service's options from the console, prorated like the client's own
change: an upgrade is invoiced, a downgrade becomes account credit, and a resold
option change goes upstream as a ``change_options`` command."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from billing.errors import BillingError
from billing.models import Service
from billing.services import service_change_options
from portals.common.access import console_page
from portals.common.options import option_rows_for, options_picked


@console_page(write="service")
def service_options(request: HttpRequest, public_id) -> HttpResponse:
    service = get_object_or_404(
        Service.objects.select_related("plan", "client"), public_id=public_id
    )
    rows = option_rows_for(service)
    error = ""
    if request.method == "POST":
        try:
            change = service_change_options(
                service=service, options=options_picked(request.POST, rows)
            )
        except (BillingError, ValueError) as exc:
            error = str(exc)
        else:
            if change.invoice is not None:
                messages.success(request, _("Options changed; the difference is invoiced."))
            else:
                messages.success(request, _("Options changed."))
            return redirect("console:service", public_id=service.public_id)
    return render(
        request,
        "console/service_options.html",
        {"service": service, "option_rows": rows, "error": error},
        status=400 if error else 200,
    )
