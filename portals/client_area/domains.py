"""The client area's domain page (``/account/services/<id>/domain/``): the registry's
record of a domain the client bought (status, expiry, nameservers, lock, glue records,
DNSSEC, the registrant) and one form per change, each sent to the registrar now through
the provider. The auth code is made anew when asked for, shown once and never stored."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from billing.errors import BillingError
from billing.models import Service
from billing.selectors import service_list
from billing.services import service_auto_renew_set
from portals.client_area.forms import (
    AutoRenewForm,
    DnssecForm,
    GlueHostForm,
    LockForm,
    NameserversForm,
    TransferRetryForm,
)
from portals.common.access import client_page
from resale.domain_portal import (
    AUTH_CODE_REFUSED,
    DomainRefused,
    domain_manage,
    domain_restore_order,
    domain_restore_quote,
    domain_transfer_failed,
    domain_transfer_retry,
    resold_domain_get,
)
from resale.selectors import service_is_resold_domain


def _domain_service(request: HttpRequest, public_id) -> Service:
    service = get_object_or_404(
        service_list(client=request.client).select_related("plan"), public_id=public_id
    )
    if not service_is_resold_domain(service):
        raise Http404
    return service


def _refusal(request: HttpRequest, exc: DomainRefused) -> None:
    if exc.unreachable:
        messages.error(request, _("The registrar cannot be reached right now; try again shortly."))
    else:
        messages.error(
            request, _("The registry refused the change: %(reason)s") % {"reason": exc.message}
        )


@client_page
def domain_detail(request: HttpRequest, public_id) -> HttpResponse:
    service = _domain_service(request, public_id)
    record, registry, error = resold_domain_get(service=service), {}, ""
    if record is not None and record.status == "active":
        try:
            registry = domain_manage(service=service, operation="info")
        except DomainRefused as exc:
            error = exc.message
        record = resold_domain_get(service=service)
    nameservers = "\n".join(registry.get("nameservers", []))
    failed = domain_transfer_failed(service=service)
    return render(
        request,
        "client_area/domain.html",
        {
            "service": service,
            "record": record,
            "registry": registry,
            "registry_error": error,
            "manageable": bool(registry) and service.status == Service.Status.ACTIVE,
            "nameservers_form": NameserversForm(initial={"nameservers": nameservers}),
            "lock_form": LockForm(initial={"locked": "0" if registry.get("locked") else "1"}),
            "host_form": GlueHostForm(),
            "dnssec_form": DnssecForm(
                initial={
                    "ds_records": "\n".join(
                        f"{d['key_tag']} {d['algorithm']} {d['digest_type']} {d['digest']}"
                        for d in registry.get("ds_records", [])
                    )
                }
            ),
            "renew_form": AutoRenewForm(
                initial={"renews": "1" if service.cancel_at_period_end else "0"}
            ),
            "transfer_failure": _transfer_failure(service, failed) if failed else "",
            "restore": domain_restore_quote(service=service)
            if record is not None and record.status == "redemption"
            else None,
            "transfer_form": TransferRetryForm() if failed else None,
        },
    )


def _transfer_failure(service: Service, failed) -> str:
    """Why the transfer in did not happen, in the reader's language."""
    code = (failed.response or {}).get("error_code", "")
    if code == AUTH_CODE_REFUSED:
        return _(
            "The registry refused the auth code of %(domain)s, so the transfer did not "
            "happen. Ask your current registrar for a new code and send it below: the "
            "transfer goes again on the order you paid."
        ) % {"domain": service.domain_name}
    return _(
        "The registry refused the transfer of %(domain)s. Check with your current "
        "registrar that the domain is unlocked, then send its auth code below."
    ) % {"domain": service.domain_name}


@require_POST
@client_page
def domain_restore(request: HttpRequest, public_id) -> HttpResponse:
    """The client restores its domain from redemption: the restore invoice, to pay now;
    paying it sends the restore to the registry."""
    service = _domain_service(request, public_id)
    try:
        invoice = domain_restore_order(service=service)
    except DomainRefused as exc:
        messages.error(request, exc.message)
        return redirect("account:domain", public_id=service.public_id)
    messages.success(
        request,
        _("Pay this invoice and %(domain)s is restored at the registry.")
        % {"domain": service.domain_name},
    )
    return redirect("account:invoice", public_id=invoice.public_id)


@require_POST
@client_page
def domain_transfer_again(request: HttpRequest, public_id) -> HttpResponse:
    """A refused transfer in, sent again with a new auth code."""
    service = _domain_service(request, public_id)
    form = TransferRetryForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for message in errors:
                messages.error(request, message)
        return redirect("account:domain", public_id=service.public_id)
    try:
        domain_transfer_retry(service=service, auth_code=form.cleaned_data["auth_code"])
    except DomainRefused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("The transfer of %(domain)s is sent again with the new auth code.")
            % {"domain": service.domain_name},
        )
    return redirect("account:domain", public_id=service.public_id)


# Each change: its form, and the registrar operation with its parameters.
_CHANGES: dict[str, tuple[type[forms.Form], str, Callable[[dict], dict], Promise]] = {
    "nameservers": (
        NameserversForm,
        "nameservers",
        lambda data: {"nameservers": data["nameservers"]},
        gettext_lazy("The nameservers are changed."),
    ),
    "lock": (
        LockForm,
        "lock",
        lambda data: {"locked": data["locked"]},
        gettext_lazy("The transfer lock is changed."),
    ),
    "host": (
        GlueHostForm,
        "host",
        lambda data: {"name": data["name"], "addresses": data["addresses"]},
        gettext_lazy("The glue record is created."),
    ),
    "dnssec": (
        DnssecForm,
        "dnssec",
        lambda data: {"ds_records": data["ds_records"]},
        gettext_lazy("The DNSSEC records are changed."),
    ),
}


@require_POST
@client_page
def domain_change(request: HttpRequest, public_id, change: str) -> HttpResponse:
    service = _domain_service(request, public_id)
    if change not in _CHANGES:
        raise Http404
    form_class, operation, params, done = _CHANGES[change]
    form = form_class(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for message in errors:
                messages.error(request, message)
        return redirect("account:domain", public_id=service.public_id)
    try:
        domain_manage(service=service, operation=operation, params=params(form.cleaned_data))
    except DomainRefused as exc:
        _refusal(request, exc)
    else:
        messages.success(request, done)
    return redirect("account:domain", public_id=service.public_id)


@require_POST
@client_page
def domain_contact(request: HttpRequest, public_id) -> HttpResponse:
    """The registrant at the registry takes the client's details as they are now."""
    service = _domain_service(request, public_id)
    try:
        domain_manage(service=service, operation="contact")
    except DomainRefused as exc:
        _refusal(request, exc)
    else:
        messages.success(request, _("The registrant's details at the registry are updated."))
    return redirect("account:domain", public_id=service.public_id)


@require_POST
@client_page
def domain_auto_renew(request: HttpRequest, public_id) -> HttpResponse:
    service = _domain_service(request, public_id)
    form = AutoRenewForm(request.POST)
    if form.is_valid():
        try:
            service_auto_renew_set(service=service, renews=form.cleaned_data["renews"])
        except BillingError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Auto-renew is changed."))
    return redirect("account:domain", public_id=service.public_id)


@require_POST
@client_page
def domain_auth_code(request: HttpRequest, public_id) -> HttpResponse:
    """A new auth code for moving the domain away, shown this once."""
    service = _domain_service(request, public_id)
    try:
        result = domain_manage(service=service, operation="auth_code")
    except DomainRefused as exc:
        _refusal(request, exc)
        return redirect("account:domain", public_id=service.public_id)
    response = render(
        request,
        "client_area/domain_auth_code.html",
        {"service": service, "auth_code": result.get("auth_code", "")},
    )
    response["Cache-Control"] = "no-store"
    return response
