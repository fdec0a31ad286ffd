"""A department's mailbox in the console: the IMAP server it is read from (the password
is stored encrypted and never shown again), when it was last read and what went wrong,
and the latest messages read with what became of each; the original of any message,
flagged ones included, can be downloaded. Another tenant's department is a 404."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portals.common.access import console_page
from support import selectors
from support.errors import SupportError
from support.inbound import mailbox_save
from support.models import Department, InboundEmail, Mailbox

RECENT = 50


class MailboxForm(forms.Form):
    host = forms.CharField(label=gettext_lazy("IMAP server"), max_length=253)
    port = forms.IntegerField(label=gettext_lazy("Port"), min_value=1, max_value=65535)
    security = forms.ChoiceField(
        label=gettext_lazy("Connection security"), choices=Mailbox.Security.choices
    )
    username = forms.CharField(label=gettext_lazy("User name"), max_length=200)
    password = forms.CharField(
        label=gettext_lazy("Password"),
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False),
        help_text=gettext_lazy("Stored encrypted. Leave empty to keep the stored one."),
    )
    folder = forms.CharField(label=gettext_lazy("Folder"), max_length=200, initial="INBOX")
    is_active = forms.BooleanField(
        label=gettext_lazy("Read this mailbox every minute"), required=False, initial=True
    )


@console_page(write="admin")
def department_mailbox(request: HttpRequest, public_id) -> HttpResponse:
    department = get_object_or_404(Department, public_id=public_id)
    mailbox = Mailbox.objects.filter(department=department).first()
    initial = (
        {
            "host": mailbox.host,
            "port": mailbox.port,
            "security": mailbox.security,
            "username": mailbox.username,
            "folder": mailbox.folder,
            "is_active": mailbox.is_active,
        }
        if mailbox
        else {"port": 993, "security": Mailbox.Security.SSL, "folder": "INBOX", "is_active": True}
    )
    form = MailboxForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            mailbox_save(department=department, **form.cleaned_data)
        except SupportError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Mailbox saved."))
            return redirect("console:department-mailbox", public_id=department.public_id)
    recent = (
        InboundEmail.objects.filter(mailbox=mailbox)
        .select_related("ticket")
        .defer("raw")
        .order_by("-received_at", "-id")[:RECENT]
        if mailbox
        else []
    )
    return render(
        request,
        "console/department_mailbox.html",
        {"department": department, "mailbox": mailbox, "form": form, "recent": recent},
        status=400 if form.errors else 200,
    )


@console_page
def inbound_email_raw(request: HttpRequest, public_id) -> HttpResponse:
    """The message exactly as it arrived, for staff who see its department."""
    record = (
        InboundEmail.objects.filter(
            public_id=public_id,
            mailbox__department__in=selectors.departments_for_staff(user=request.user),
        )
        .select_related("mailbox")
        .first()
    )
    if record is None:
        raise Http404
    response = HttpResponse(bytes(record.raw), content_type="message/rfc822")
    response["Content-Disposition"] = f'attachment; filename="message-{record.public_id}.eml"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
