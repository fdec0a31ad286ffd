"""Escalating a ticket to the provider from the console: choose the messages, see exactly
what the provider will receive, send it; then write to the provider, close or reopen its
ticket, and forward one of its answers to the client under the tenant's own brand. Every
write is a service of ``support.escalations``; another tenant's ticket is a 404."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from portals.common.access import console_page
from support import selectors
from support.errors import SupportError
from support.escalations import (
    escalation_answer_forward,
    escalation_answers,
    escalation_message_send,
    escalation_preview,
    escalation_status_send,
    ticket_escalate,
)
from support.models import Escalation, Message, Ticket


class EscalateForm(forms.Form):
    subject = forms.CharField(label=gettext_lazy("Subject for the provider"), max_length=200)
    messages = forms.MultipleChoiceField(
        label=gettext_lazy("Messages to share"), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, ticket: Ticket, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["messages"].choices = [
            (str(m.pk), _message_label(m)) for m in selectors.ticket_all_messages(ticket=ticket)
        ]


def _message_label(message: Message) -> str:
    when = date_format(localtime(message.created_at), "SHORT_DATETIME_FORMAT")
    who = message.author_name or message.get_author_kind_display()
    note = f" ({_('Internal note')})" if message.is_internal else ""
    excerpt = " ".join(message.body.split())
    excerpt = excerpt if len(excerpt) <= 90 else excerpt[:89] + "…"
    return f"{who}{note} · {when}: {excerpt}"


class ProviderMessageForm(forms.Form):
    body = forms.CharField(
        label=gettext_lazy("Message to the provider"),
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class ForwardForm(forms.Form):
    body = forms.CharField(
        label=gettext_lazy("Reply to the client"),
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=gettext_lazy("Sent under your own brand; edit it as you see fit."),
    )


def _ticket(request: HttpRequest, public_id) -> Ticket:
    ticket = selectors.staff_ticket_get(user=request.user, public_id=public_id)
    if ticket is None:
        raise Http404
    return ticket


def _escalation(ticket: Ticket) -> Escalation:
    escalation = Escalation.objects.filter(ticket=ticket).first()
    if escalation is None:
        raise Http404
    return escalation


def _back(ticket: Ticket) -> HttpResponse:
    return redirect("console:ticket", public_id=ticket.public_id)


@console_page(write="service")
def ticket_escalate_view(request: HttpRequest, public_id) -> HttpResponse:
    """GET: choose; POST "preview": see what goes; POST "send": send exactly that."""
    ticket = _ticket(request, public_id)
    if Escalation.objects.filter(ticket=ticket).exists():
        return _back(ticket)
    initial = {
        "subject": ticket.subject,
        "messages": [
            str(m.pk) for m in selectors.ticket_all_messages(ticket=ticket) if not m.is_internal
        ],
    }
    form = EscalateForm(request.POST or None, ticket=ticket, initial=initial)
    preview, problem = None, ""
    if request.method == "POST" and form.is_valid():
        chosen = [int(pk) for pk in form.cleaned_data["messages"]]
        subject = form.cleaned_data["subject"]
        try:
            if request.POST.get("action") == "send":
                ticket_escalate(ticket=ticket, message_ids=chosen, subject=subject, by=request.user)
                messages.success(request, _("The ticket is on its way to the provider."))
                return _back(ticket)
            preview = escalation_preview(ticket=ticket, message_ids=chosen, subject=subject)
        except SupportError as exc:
            problem = str(exc)
    elif request.method == "GET":
        try:
            escalation_preview(ticket=ticket, message_ids=[], subject=ticket.subject)
        except SupportError as exc:
            if exc.code != "messages":
                problem = str(exc)
    return render(
        request,
        "console/ticket_escalate.html",
        {"ticket": ticket, "form": form, "preview": preview, "problem": problem},
        status=400 if request.method == "POST" and (problem or not form.is_valid()) else 200,
    )


@require_POST
@console_page(write="service")
def escalation_message(request: HttpRequest, public_id) -> HttpResponse:
    ticket = _ticket(request, public_id)
    escalation = _escalation(ticket)
    form = ProviderMessageForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Write a message."))
        return _back(ticket)
    try:
        escalation_message_send(
            escalation=escalation, body=form.cleaned_data["body"], by=request.user
        )
    except SupportError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Your message is on its way to the provider."))
    return _back(ticket)


@require_POST
@console_page(write="service")
def escalation_status(request: HttpRequest, public_id) -> HttpResponse:
    ticket = _ticket(request, public_id)
    escalation = _escalation(ticket)
    try:
        escalation_status_send(escalation=escalation, status=request.POST.get("status", ""))
    except SupportError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The provider's ticket is updated."))
    return _back(ticket)


@console_page(write="service")
def escalation_forward(request: HttpRequest, public_id, message_id) -> HttpResponse:
    ticket = _ticket(request, public_id)
    escalation = _escalation(ticket)
    answer = next(
        (m for m in escalation_answers(escalation=escalation) if m.public_id == message_id),
        None,
    )
    if answer is None:
        raise Http404
    form = ForwardForm(request.POST or None, initial={"body": answer.body})
    if request.method == "POST" and form.is_valid():
        try:
            escalation_answer_forward(
                escalation=escalation,
                answer=answer,
                body=form.cleaned_data["body"],
                by=request.user,
            )
        except SupportError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Reply sent."))
            return _back(ticket)
    return render(
        request,
        "console/ticket_forward.html",
        {"ticket": ticket, "answer": answer, "form": form},
        status=400 if request.method == "POST" else 200,
    )
