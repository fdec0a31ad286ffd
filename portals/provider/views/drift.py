"""Drift: what reconciliation found between what resellers bill, what the provider holds
and what the servers report, with "run reconciliation now" for one reseller or all, the
repair of a safe item and the resolution of any item by hand."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from portals.common.paging import paginate
from portals.provider.access import JOBS, provider_can, provider_page
from portals.provider.forms import ReasonForm
from resale import drift as services
from resale.models import DriftItem, ResellerAccount
from resale.provider_selectors import drift_items_open
from resale.services import ResaleError


@provider_page()
def drift(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    if kind not in DriftItem.Kind.values:
        kind = ""
    resellers = ResellerAccount.objects.order_by("legal_name")
    reseller = resellers.filter(public_id=request.GET.get("reseller", "")).first()
    page = paginate(request, drift_items_open(kind=kind, account=reseller))
    return render(
        request,
        "provider/drift.html",
        {
            "page": page,
            "kind": kind,
            "kinds": DriftItem.Kind.choices,
            "reseller": reseller,
            "resellers": resellers,
            "resolve_form": ReasonForm(),
            "can_act": provider_can(request.user, JOBS),
        },
    )


def _back(request: HttpRequest) -> HttpResponse:
    """Back to the list as it was filtered; nowhere else."""
    target = request.POST.get("next", "")
    if target.startswith("/provider/drift/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    ):
        return redirect(target)
    return redirect("provider:drift")


@require_POST
@provider_page(write=JOBS)
def drift_run(request: HttpRequest) -> HttpResponse:
    public_id = request.POST.get("reseller", "")
    account = None
    if public_id:
        account = get_object_or_404(ResellerAccount, public_id=public_id)
    count = services.reconciliation_queue(account=account)
    messages.success(
        request,
        ngettext(
            "Reconciliation is queued for %(count)d reseller; refresh this page in a minute.",
            "Reconciliation is queued for %(count)d resellers; refresh this page in a minute.",
            count,
        )
        % {"count": count},
    )
    return _back(request)


@require_POST
@provider_page(write=JOBS)
def drift_repair(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.drift_item_repair(item_id=pk)
    except ResaleError as exc:
        if exc.code == "not_found":
            raise Http404 from exc
        messages.error(request, _(exc.message))
    else:
        messages.success(request, _("The repair is sent; the next reconciliation shows it done."))
    return _back(request)


@require_POST
@provider_page(write=JOBS)
def drift_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say how the difference was resolved."))
        return _back(request)
    try:
        services.drift_item_resolve(item_id=pk, reason=form.cleaned_data["reason"])
    except ResaleError as exc:
        if exc.code == "not_found":
            raise Http404 from exc
        messages.error(request, _(exc.message))
    else:
        messages.success(request, _("The item is resolved."))
    return _back(request)
