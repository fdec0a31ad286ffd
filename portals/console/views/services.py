"""The console's services: the list by status, a service's page and the actions staff
take on it (suspend, unsuspend, terminate, cancel)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from billing.errors import BillingError
from billing.models import Service
from billing.selectors import service_list
from billing.services import (
    service_cancel,
    service_manual_activate,
    service_suspend,
    service_terminate,
    service_unsuspend,
)
from portals.common.access import console_page
from portals.common.paging import paginate
from portals.console import selectors as console_selectors


@console_page
def services(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    rows = service_list(status=status if status in Service.Status.values else None)
    return render(
        request,
        "console/services.html",
        {"page": paginate(request, rows), "status": status, "statuses": Service.Status.choices},
    )


SERVICE_ACTIONS = {
    "activate": lambda service, reason: service_manual_activate(service=service),
    "suspend": lambda service, reason: service_suspend(service=service, reason=reason),
    "unsuspend": lambda service, reason: service_unsuspend(service=service),
    "terminate": lambda service, reason: service_terminate(service=service, reason=reason),
    "cancel": lambda service, reason: service_cancel(service=service, reason=reason),
    "cancel_at_end": lambda service, reason: service_cancel(
        service=service, at_period_end=True, reason=reason
    ),
}


@console_page(write="service")
def service_detail(request: HttpRequest, public_id) -> HttpResponse:
    service = get_object_or_404(service_list(), public_id=public_id)
    if request.method == "POST":
        action = SERVICE_ACTIONS.get(request.POST.get("action", ""))
        if action is None:
            messages.error(request, _("Unknown action."))
        else:
            try:
                action(service, request.POST.get("reason", "").strip()[:200])
            except BillingError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, _("Done."))
        return redirect("console:service", public_id=service.public_id)
    overview = console_selectors.service_overview(service=service)
    return render(
        request,
        "console/service.html",
        {
            "service": service,
            "options": overview.options,
            "commands": overview.commands,
            "lines": overview.lines,
        },
    )
