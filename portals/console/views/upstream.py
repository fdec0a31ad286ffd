"""The console's upstream queue: the commands sent to the provider, by state, and the
retry of a failed one."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from portals.common.access import console_page
from portals.common.paging import paginate
from portals.console import selectors as console_selectors
from resale.models import UpstreamCommand
from resale.outbox import upstream_command_retry
from resale.selectors import upstream_command_list


@console_page(write="service")
def upstream(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        command = get_object_or_404(UpstreamCommand, public_id=request.POST.get("command", ""))
        if command.state != UpstreamCommand.State.FAILED:
            messages.error(request, _("Only a failed command can be retried."))
        else:
            upstream_command_retry(command=command)
            messages.success(request, _("The command is queued again."))
        return redirect(f"{request.path}?{request.GET.urlencode()}")
    state = request.GET.get("state", "")
    rows = upstream_command_list(
        state=state if state in UpstreamCommand.State.values else None, newest_first=True
    )
    page = paginate(request, rows)
    for command in page.object_list:
        try:
            command.service_url = reverse("console:service", args=[uuid.UUID(command.service_ref)])
        except ValueError:
            command.service_url = ""
    return render(
        request,
        "console/upstream.html",
        {
            "page": page,
            "state": state,
            "states": UpstreamCommand.State.choices,
            "balance": console_selectors.provider_balance(),
        },
    )
