"""The provider's support desk: resellers' escalations about the services they resell.
A ticket names the reseller, the upstream service and the pseudonymous client reference,
never the client; the provider answers the reseller, who decides what its client reads."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portals.common.paging import paginate
from portals.provider.access import DESK, provider_can, provider_page
from portals.provider.forms import EscalationReplyForm, EscalationStatusForm
from resale.escalations import escalation_provider_status_set, escalation_reply
from resale.models import ProviderTicket
from resale.provider_selectors import provider_ticket_detail, provider_ticket_list
from resale.services import ResaleError


@provider_page()
def desk(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in ProviderTicket.Status.values:
        status = ""
    return render(
        request,
        "provider/desk.html",
        {
            "page": paginate(request, provider_ticket_list(status=status)),
            "status": status,
            "statuses": ProviderTicket.Status.choices,
        },
    )


def _ticket(public_id: str) -> ProviderTicket:
    ticket = provider_ticket_detail(public_id=public_id)
    if ticket is None:
        raise Http404
    return ticket


@provider_page()
def desk_ticket(request: HttpRequest, public_id: str) -> HttpResponse:
    ticket = _ticket(public_id)
    return render(
        request,
        "provider/desk_ticket.html",
        {
            "ticket": ticket,
            "service": ticket.upstream_service,
            "reply_form": EscalationReplyForm(),
            "status_form": EscalationStatusForm(initial={"status": ticket.status}),
            "can_act": provider_can(request.user, DESK),
        },
    )


@require_POST
@provider_page(write=DESK)
def desk_reply(request: HttpRequest, public_id: str) -> HttpResponse:
    ticket = _ticket(public_id)
    form = EscalationReplyForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "provider/desk_ticket.html",
            {
                "ticket": ticket,
                "service": ticket.upstream_service,
                "reply_form": form,
                "status_form": EscalationStatusForm(initial={"status": ticket.status}),
                "can_act": True,
            },
            status=400,
        )
    try:
        escalation_reply(
            ticket=ticket,
            body=form.cleaned_data["body"],
            author_label=request.user.full_name or request.user.email,
        )
    except ResaleError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Your answer is on its way to the reseller."))
    return redirect("provider:desk-ticket", public_id=ticket.public_id)


@require_POST
@provider_page(write=DESK)
def desk_status(request: HttpRequest, public_id: str) -> HttpResponse:
    ticket = _ticket(public_id)
    form = EscalationStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a status."))
    else:
        escalation_provider_status_set(ticket=ticket, status=form.cleaned_data["status"])
        messages.success(request, _("The status is saved; the reseller sees it."))
    return redirect("provider:desk-ticket", public_id=ticket.public_id)
