"""Forms of the console's support desk: the queue's filters, a reply, a ticket's
properties, assignment, merge and split, and the desk's settings."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from billing.models import Client
from portals.common import fields
from portals.common.support import AttachmentsField
from support.models import Department, Priority, Ticket


def _staff_choices() -> list[tuple[str, str]]:
    return [
        (str(u.pk), str(u))
        for u in User.objects.filter(kind=User.Kind.STAFF, is_active=True).order_by("email")
    ]


def _department_choices() -> list[tuple[str, str]]:
    return [(str(d.public_id), d.name) for d in Department.objects.all()]


class QueueFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    status = forms.ChoiceField(label=_("Status"), required=False)
    priority = forms.ChoiceField(label=_("Priority"), required=False)
    assignee = forms.ChoiceField(label=_("Assignee"), required=False)
    department = forms.ChoiceField(label=_("Department"), required=False)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)

    def __init__(self, *args, departments, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [
            ("active", _("Not closed")),
            ("", _("Any")),
            *Ticket.Status.choices,
        ]
        self.fields["priority"].choices = [("", _("Any")), *Priority.choices]
        self.fields["assignee"].choices = [
            ("", _("Anyone")),
            ("me", _("Me")),
            ("none", _("Nobody")),
            *_staff_choices(),
        ]
        self.fields["department"].choices = [
            ("", _("All")),
            *[(str(d.public_id), d.name) for d in departments],
        ]


class StaffReplyForm(forms.Form):
    canned = forms.ChoiceField(label=_("Canned reply"), required=False)
    body = forms.CharField(
        label=_("Message"), required=False, widget=forms.Textarea(attrs={"rows": 8})
    )
    internal = forms.BooleanField(
        label=_("Internal note (the client does not see it)"), required=False
    )
    attachments = AttachmentsField()

    def __init__(self, *args, canned_replies=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.canned_replies = {str(c.public_id): c for c in canned_replies}
        self.fields["canned"].choices = [("", "—")] + [
            (k, c.title) for k, c in self.canned_replies.items()
        ]
        # The page's script puts the text in the box on choice, to be edited before
        # sending; without script the server uses it when the box is left empty.
        self.fields["canned"].widget.attrs["data-canned"] = "1"

    def clean(self):
        data = super().clean()
        body = (data.get("body") or "").strip()
        canned = self.canned_replies.get(data.get("canned") or "")
        if not body and canned is not None:
            body = canned.body
        if not body:
            raise forms.ValidationError(_("Write a message or choose a canned reply."))
        data["body"] = body
        return data


class TicketUpdateForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Ticket.Status.choices)
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)
    department = forms.ChoiceField(label=_("Department"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = _department_choices()


class AssignForm(forms.Form):
    assignee = forms.ChoiceField(label=_("Assignee"), required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", _("Nobody")), *_staff_choices()]


class MergeForm(forms.Form):
    target = fields.IntegerField(
        label=_("Merge into ticket number"),
        min_value=1,
        help_text=_("This ticket's messages move there."),
    )


class SplitForm(forms.Form):
    subject = forms.CharField(label=_("Subject of the new ticket"), max_length=200)
    messages = forms.TypedMultipleChoiceField(coerce=int, required=True)

    def __init__(self, *args, ticket: Ticket, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["messages"].choices = [(m.pk, str(m.pk)) for m in ticket.messages.all()]


class DepartmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    email = forms.EmailField(
        label=_("E-mail address"),
        required=False,
        help_text=_("Replies to tickets of this department come back to this address."),
    )
    client_access = forms.ChoiceField(
        label=_("Who may open tickets"), choices=Department.ClientAccess.choices
    )
    allowed_clients = forms.ModelMultipleChoiceField(
        label=_("Selected clients"),
        required=False,
        queryset=None,
        help_text=_("Only for “Selected clients only”."),
    )
    allow_guests = forms.BooleanField(label=_("Guests may write by e-mail"), required=False)
    auto_close_days = fields.IntegerField(
        label=_("Close answered tickets after (days)"),
        required=False,
        min_value=1,
        max_value=365,
        help_text=_("Empty: answered tickets stay open until someone closes them."),
    )
    staff = forms.ModelMultipleChoiceField(
        label=_("Staff who see this department"),
        required=False,
        queryset=None,
        help_text=_("Nobody chosen: every staff member."),
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["allowed_clients"].queryset = Client.objects.order_by("name")
        self.fields["staff"].queryset = User.objects.filter(
            kind=User.Kind.STAFF, is_active=True
        ).order_by("email")


class CannedReplyForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=100)
    body = forms.CharField(label=_("Text"), widget=forms.Textarea(attrs={"rows": 8}))
    department = forms.ChoiceField(label=_("Department"), required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [("", _("Every department")), *_department_choices()]


class SlaForm(forms.Form):
    """One field per priority: the hours within which staff answer (empty: no clock)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for value, label in Priority.choices:
            self.fields[value] = fields.IntegerField(
                label=label, required=False, min_value=1, max_value=24 * 90
            )
