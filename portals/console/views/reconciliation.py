"""The console's reconciliation page: what differs between what this site bills, what the
provider holds and what the servers report, and a button to check again now."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from core.ids import uuid_or_none
from portals.common.access import console_page
from resale.selectors import drift_items_for_current_tenant
from resale.tasks import reconciliation_run_task


@console_page(write="service")
def reconciliation(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        reconciliation_run_task.delay()
        messages.success(request, _("Reconciliation started; refresh this page in a minute."))
        return redirect("console:reconciliation")
    show_resolved = request.GET.get("resolved") == "1"
    items = drift_items_for_current_tenant(include_resolved=show_resolved)
    for item in items:
        service_id = uuid_or_none(item.service_ref)
        # A service only the provider holds has no page here.
        item.service_url = reverse("console:service", args=[service_id]) if service_id else ""
    return render(
        request,
        "console/reconciliation.html",
        {"items": items, "show_resolved": show_resolved},
    )
