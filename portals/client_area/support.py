"""The client's tickets in the client area (``/account/support/``): the list, opening a
ticket (on one of its services if it likes), reading and answering, closing, and its
attachments. Every lookup is bounded by the signed-in client: another client's ticket or
file is a 404."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from billing.models import Client, Service
from billing.selectors import service_list
from core.ids import uuid_or_none
from portals.common.access import client_page
from portals.common.paging import paginate
from portals.common.support import AttachmentsField, attachment_response
from support import selectors, services
from support.errors import SupportError
from support.models import Message, Priority, Ticket


class TicketOpenForm(forms.Form):
    department = forms.ChoiceField(label=gettext_lazy("Department"))
    service = forms.ChoiceField(label=gettext_lazy("Service"), required=False)
    priority = forms.ChoiceField(
        label=gettext_lazy("Priority"), choices=Priority.choices, initial=Priority.MEDIUM
    )
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=200)
    body = forms.CharField(label=gettext_lazy("Message"), widget=forms.Textarea(attrs={"rows": 8}))
    attachments = AttachmentsField()

    def __init__(self, *args, client: Client, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.departments = {
            str(d.public_id): d for d in selectors.departments_for_client(client=client)
        }
        self.fields["department"].choices = [(k, d.name) for k, d in self.departments.items()]
        self.services = {
            str(s.public_id): s
            for s in service_list(client=client).exclude(
                status__in=[Service.Status.CANCELLED, Service.Status.TERMINATED]
            )
        }
        self.fields["service"].choices = [("", _("None"))] + [
            (k, f"{s.plan}{' · ' + s.domain_name if s.domain_name else ''}")
            for k, s in self.services.items()
        ]


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=gettext_lazy("Your reply"), widget=forms.Textarea(attrs={"rows": 6})
    )
    attachments = AttachmentsField()


def _ticket(request: HttpRequest, public_id) -> Ticket:
    ticket = selectors.client_ticket_get(client=request.client, public_id=public_id)
    if ticket is None:
        raise Http404
    return ticket


@client_page
def tickets(request: HttpRequest) -> HttpResponse:
    page = paginate(request, selectors.client_ticket_list(client=request.client))
    return render(request, "client_area/tickets.html", {"page": page})


@client_page
def ticket_new(request: HttpRequest) -> HttpResponse:
    client = request.client
    initial = {}
    wanted = uuid_or_none(request.GET.get("service"))
    if wanted:
        initial["service"] = wanted
    form = TicketOpenForm(
        request.POST or None, request.FILES or None, client=client, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            ticket = services.ticket_open(
                department=form.departments[data["department"]],
                subject=data["subject"],
                body=data["body"],
                client=client,
                author_user=request.user,
                service=form.services.get(data["service"] or ""),
                priority=data["priority"],
                attachments=data["attachments"],
            )
        except SupportError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, _("Your ticket is open. We will answer you here and by e-mail.")
            )
            return redirect("account:ticket", public_id=ticket.public_id)
    return render(
        request,
        "client_area/ticket_new.html",
        {"form": form, "no_department": not form.departments},
    )


@client_page
def ticket_detail(request: HttpRequest, public_id) -> HttpResponse:
    ticket = _ticket(request, public_id)
    form = ReplyForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.message_add(
                ticket=ticket,
                body=form.cleaned_data["body"],
                author_kind=Message.AuthorKind.CLIENT,
                author_user=request.user,
                attachments=form.cleaned_data["attachments"],
            )
        except SupportError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Your reply was sent."))
            return redirect("account:ticket", public_id=ticket.public_id)
    return render(
        request,
        "client_area/ticket.html",
        {
            "ticket": ticket,
            "thread": selectors.ticket_public_messages(ticket=ticket),
            "form": form,
        },
    )


@require_POST
@client_page
def ticket_close(request: HttpRequest, public_id) -> HttpResponse:
    ticket = _ticket(request, public_id)
    if ticket.merged_into_id is None:
        services.ticket_close(ticket=ticket)
        messages.success(request, _("The ticket is closed. Write again any time to reopen it."))
    return redirect("account:ticket", public_id=ticket.public_id)


@client_page
def attachment_download(request: HttpRequest, public_id) -> HttpResponse:
    return attachment_response(
        selectors.client_attachment_get(client=request.client, public_id=public_id)
    )
