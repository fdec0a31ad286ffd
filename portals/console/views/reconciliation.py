"""The console's reconciliation page: what differs between what this site bills, what the
provider holds and what the servers report, and a button to check again now."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from portals.common.access import console_page
from resale.selectors import drift_items_for_tenant
from resale.tasks import reconciliation_run_task


@console_page(write="service")
def reconciliation(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        reconciliation_run_task.delay()
        messages.success(request, _("Reconciliation started; refresh this page in a minute."))
        return redirect("console:reconciliation")
    show_resolved = request.GET.get("resolved") == "1"
    items = drift_items_for_tenant(tenant_id=request.tenant.pk, include_resolved=show_resolved)
    for item in items:
        try:
            item.service_url = reverse("console:service", args=[uuid.UUID(item.service_ref)])
        except ValueError:
            item.service_url = ""  # a service only the provider holds
    return render(
        request,
        "console/reconciliation.html",
        {"items": items, "show_resolved": show_resolved},
    )
