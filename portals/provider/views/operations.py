"""Operations: one queue of what is failed, stuck or waiting for funds, with retry and
cancel; the servers with their module, load and a connection test."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core import locale
from portals.provider.access import JOBS, SERVERS, provider_can, provider_page
from portals.provider.forms import JobCancelForm
from provisioning.models import Server
from provisioning.modules.base import ModuleError
from provisioning.operations import servers_load
from provisioning.services import server_connection_test
from resale import operations
from resale.models import ResellerAccount
from resale.services import InsufficientFunds, ResaleError


def _state_labels() -> dict[str, str]:
    return {
        operations.FAILED: _("Failed"),
        operations.FAILING: _("Failing, retried"),
        operations.STUCK: _("Stuck"),
        operations.AWAITING_FUNDS: _("Awaiting funds"),
    }


@provider_page()
def queue(request: HttpRequest) -> HttpResponse:
    labels = _state_labels()
    state = request.GET.get("state", "")
    if state not in labels:
        state = ""
    items = operations.operations_queue(state=state)
    now = timezone.now()
    return render(
        request,
        "provider/operations.html",
        {
            "items": [(item, labels[item.state], now - item.since) for item in items],
            "state": state,
            "states": list(labels.items()),
            "cancel_form": JobCancelForm(),
            "can_act": provider_can(request.user, JOBS),
        },
    )


def _back() -> HttpResponse:
    return redirect("provider:operations")


@require_POST
@provider_page(write=JOBS)
def job_retry(request: HttpRequest, public_id: str) -> HttpResponse:
    try:
        operations.operations_job_retry(public_id=str(public_id))
    except InsufficientFunds as exc:
        messages.error(request, _(exc.message))
    except ResaleError as exc:
        if exc.code == "not_found":
            raise Http404 from exc
        messages.error(request, _(exc.message))
    else:
        messages.success(request, _("The job is queued again."))
    return _back()


@require_POST
@provider_page(write=JOBS)
def job_cancel(request: HttpRequest, public_id: str) -> HttpResponse:
    form = JobCancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why the job is cancelled."))
        return _back()
    try:
        refunded = operations.operations_job_cancel(
            public_id=str(public_id),
            reason=form.cleaned_data["reason"],
            cancelled_by=request.user.email,
        )
    except ResaleError as exc:
        if exc.code == "not_found":
            raise Http404 from exc
        messages.error(request, _(exc.message))
        return _back()
    if refunded:
        messages.success(
            request,
            _("The job is cancelled and %(amount)s refunded to the reseller.")
            % {"amount": locale.money_format(refunded)},
        )
    else:
        messages.success(request, _("The job is cancelled; nothing was left to refund."))
    return _back()


@require_POST
@provider_page(write=JOBS)
def command_retry(request: HttpRequest, account: str, public_id: str) -> HttpResponse:
    reseller = get_object_or_404(
        ResellerAccount.objects.select_related("tenant"), public_id=account
    )
    try:
        operations.operations_command_retry(account=reseller, public_id=public_id)
    except ResaleError as exc:
        if exc.code == "not_found":
            raise Http404 from exc
        messages.error(request, _(exc.message))
    else:
        messages.success(request, _("The command is sent again."))
    return _back()


@require_POST
@provider_page(write=JOBS)
def command_cancel(request: HttpRequest, account: str, public_id: str) -> HttpResponse:
    reseller = get_object_or_404(
        ResellerAccount.objects.select_related("tenant"), public_id=account
    )
    form = JobCancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why the command is cancelled."))
        return _back()
    try:
        refunded = operations.operations_command_cancel(
            account=reseller,
            public_id=public_id,
            reason=form.cleaned_data["reason"],
            cancelled_by=request.user.email,
        )
    except ResaleError as exc:
        if exc.code == "not_found":
            raise Http404 from exc
        messages.error(request, _(exc.message))
        return _back()
    if refunded:
        messages.success(
            request,
            _("The command is cancelled and %(amount)s refunded to the reseller.")
            % {"amount": locale.money_format(refunded)},
        )
    else:
        messages.success(request, _("The command is cancelled; nothing had been debited for it."))
    return _back()


@provider_page(write=SERVERS)
def servers(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        server_id = request.POST.get("server", "")
        server = get_object_or_404(Server, pk=int(server_id) if server_id.isdigit() else 0)
        try:
            answer = server_connection_test(server=server)
        except ModuleError as exc:
            messages.error(request, f"{server.name}: {exc}")
        else:
            messages.success(request, f"{server.name}: {answer}")
        return redirect("provider:servers")
    return render(
        request,
        "provider/servers.html",
        {"loads": servers_load(), "can_test": provider_can(request.user, SERVERS)},
    )
