"""The console's clients: the list, a new client, a client's page with its billing
details, and the data-protection work on it (export, erasure, requests)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from accounts.models import PrivacyRequest
from billing.errors import BillingError
from billing.gdpr import client_data_export
from billing.models import Client
from billing.selectors import billing_settings_get, client_list
from billing.services import client_details_save, client_vat_number_confirm
from core.ids import uuid_or_none
from portals.client_area.services import client_erasure_carry_out, privacy_request_close
from portals.common.access import capability_require, console_page
from portals.common.paging import paginate
from portals.console import selectors as console_selectors
from portals.console.forms import ClientForm


@console_page
def clients(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    rows = client_list(search=query)
    return render(
        request, "console/clients.html", {"page": paginate(request, rows), "query": query}
    )


@console_page(write="money")
def client_new(request: HttpRequest) -> HttpResponse:
    form = ClientForm(
        request.POST if request.method == "POST" else None,
        initial={"language": request.tenant.default_language},
    )
    if request.method == "POST" and form.is_valid():
        try:
            client = client_details_save(**form.cleaned_data)
        except BillingError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Client created."))
            return redirect("console:client", public_id=client.public_id)
    return render(
        request,
        "console/client_form.html",
        {"form": form, "client": None},
        status=400 if form.errors else 200,
    )


@console_page(write="money")
def client_detail(request: HttpRequest, public_id) -> HttpResponse:
    client = get_object_or_404(Client, public_id=public_id)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    if action.startswith("privacy_") or action == "erase":
        return _client_privacy(request, client, action)
    form = ClientForm(
        request.POST if request.method == "POST" else None,
        initial={name: getattr(client, name) for name in ClientForm.base_fields},
    )
    if request.method == "POST" and form.is_valid():
        try:
            client = client_details_save(client=client, **form.cleaned_data)
        except BillingError as exc:
            form.add_error(None, str(exc))
        else:
            client_vat_number_confirm(client=client, settings=billing_settings_get())
            messages.success(request, _("Client saved."))
            return redirect("console:client", public_id=client.public_id)
    overview = console_selectors.client_overview(client=client)
    return render(
        request,
        "console/client.html",
        {
            "client": client,
            "form": form,
            "services": overview.services,
            "invoices": overview.invoices,
            "amount_due": overview.amount_due,
            "credit": overview.credit,
            "privacy_requests": overview.privacy_requests,
            "users": overview.users,
            "audit": overview.audit,
        },
        status=400 if form.errors else 200,
    )


def _client_privacy(request: HttpRequest, client: Client, action: str) -> HttpResponse:
    """Data-protection work on a client: personal data is the owners' and admins' to
    hand out or erase."""
    capability_require(request, "admin")
    try:
        if action == "erase":
            if request.POST.get("confirm") != client.email:
                raise ValidationError(_("Type the client's e-mail address to confirm."))
            client_erasure_carry_out(client=client)
            messages.success(request, _("The client's personal data has been erased."))
        else:
            item = get_object_or_404(
                PrivacyRequest,
                client=client,
                public_id=uuid_or_none(request.POST.get("request", "")),
            )
            status = "completed" if action == "privacy_complete" else "refused"
            privacy_request_close(privacy_request=item, status=status)
            messages.success(request, _("Request closed."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("console:client", public_id=client.public_id)


@console_page
def client_export(request: HttpRequest, public_id) -> HttpResponse:
    """The client's data as billing.gdpr packs it (a zip), for an export request."""
    capability_require(request, "admin")
    client = get_object_or_404(Client, public_id=public_id)
    response = HttpResponse(client_data_export(client), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="client-{client.public_id}.zip"'
    return response
