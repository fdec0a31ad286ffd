"""The console's support desk: queues per department with filters and search, a ticket
with its whole thread (internal notes included), and one small view per action (reply,
properties, assign, merge, split), plus the desk's settings (departments, canned
replies, SLA). Staff see the departments ``support.selectors.departments_for_staff``
gives them; a ticket outside them, or of another tenant, is a 404."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from accounts.models import User
from portals.common.access import console_page
from portals.common.paging import paginate
from portals.common.support import attachment_response
from portals.console.forms_support import (
    AssignForm,
    CannedReplyForm,
    DepartmentForm,
    MergeForm,
    QueueFilterForm,
    SlaForm,
    SplitForm,
    StaffReplyForm,
    TicketUpdateForm,
)
from support import selectors, services
from support.errors import SupportError
from support.escalations import ticket_escalation_answers
from support.models import CannedReply, Department, Message, SlaPolicy, Ticket


def _ticket(request: HttpRequest, public_id) -> Ticket:
    ticket = selectors.staff_ticket_get(user=request.user, public_id=public_id)
    if ticket is None:
        raise Http404
    return ticket


def _back(ticket: Ticket) -> HttpResponse:
    return redirect("console:ticket", public_id=ticket.public_id)


def _form_errors(request: HttpRequest, form) -> None:
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)


@console_page
def tickets(request: HttpRequest) -> HttpResponse:
    departments = list(selectors.departments_for_staff(user=request.user))
    data = request.GET.copy()
    data.setdefault("status", "active")
    form = QueueFilterForm(data, departments=departments)
    filters = form.cleaned_data if form.is_valid() else {"status": "active"}
    rows = selectors.staff_ticket_list(
        user=request.user,
        status=filters.get("status", ""),
        priority=filters.get("priority", ""),
        assignee=filters.get("assignee", ""),
        department=filters.get("department", ""),
        query=filters.get("q", ""),
        overdue=bool(filters.get("overdue")),
    )
    page = paginate(request, rows)
    for ticket in page.object_list:
        ticket.overdue = selectors.ticket_is_overdue(ticket)
    current = filters.get("department", "")
    counts = selectors.department_open_counts(departments=departments)
    tabs = [
        {
            "key": str(d.public_id),
            "name": d.name,
            "open": counts.get(d.pk, 0),
            "current": current == str(d.public_id),
        }
        for d in departments
    ]
    return render(
        request,
        "console/tickets.html",
        {"form": form, "page": page, "tabs": tabs, "current_department": current},
    )


@console_page
def ticket_detail(request: HttpRequest, public_id) -> HttpResponse:
    ticket = _ticket(request, public_id)
    canned = selectors.canned_replies_for(department=ticket.department)
    return render(
        request,
        "console/ticket.html",
        {
            "ticket": ticket,
            "thread": selectors.ticket_all_messages(ticket=ticket),
            "staff_view": True,
            "overdue": selectors.ticket_is_overdue(ticket),
            "reply_form": StaffReplyForm(canned_replies=canned),
            "canned_texts": {str(c.public_id): c.body for c in canned},
            "update_form": TicketUpdateForm(
                initial={
                    "status": ticket.status,
                    "priority": ticket.priority,
                    "department": str(ticket.department.public_id),
                }
            ),
            "assign_form": AssignForm(initial={"assignee": ticket.assignee_id or ""}),
            "merge_form": MergeForm(),
            "split_form": request.console_can["service"] and not ticket.merged_into_id,
            "can_write": request.console_can["service"],
            "escalation_answers": ticket_escalation_answers(ticket=ticket),
        },
    )


@console_page(write="service")
def ticket_reply(request: HttpRequest, public_id) -> HttpResponse:
    ticket = _ticket(request, public_id)
    if request.method != "POST":
        return _back(ticket)
    form = StaffReplyForm(
        request.POST,
        request.FILES,
        canned_replies=selectors.canned_replies_for(department=ticket.department),
    )
    if not form.is_valid():
        _form_errors(request, form)
        return _back(ticket)
    internal = form.cleaned_data["internal"]
    try:
        services.message_add(
            ticket=ticket,
            body=form.cleaned_data["body"],
            author_kind=Message.AuthorKind.STAFF,
            author_user=request.user,
            is_internal=internal,
            attachments=form.cleaned_data["attachments"],
        )
    except SupportError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Note added.") if internal else _("Reply sent."))
    return _back(ticket)


@console_page(write="service")
def ticket_update(request: HttpRequest, public_id) -> HttpResponse:
    ticket = _ticket(request, public_id)
    if request.method != "POST":
        return _back(ticket)
    form = TicketUpdateForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return _back(ticket)
    try:
        services.ticket_update(
            ticket=ticket,
            department=Department.objects.get(public_id=form.cleaned_data["department"]),
            priority=form.cleaned_data["priority"],
            status=form.cleaned_data["status"],
        )
    except SupportError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Ticket updated."))
    if selectors.staff_ticket_get(user=request.user, public_id=ticket.public_id) is None:
        # Moved to a department this staff member does not see.
        return redirect("console:tickets")
    return _back(ticket)


@console_page(write="service")
def ticket_assign(request: HttpRequest, public_id) -> HttpResponse:
    ticket = _ticket(request, public_id)
    if request.method != "POST":
        return _back(ticket)
    form = AssignForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return _back(ticket)
    chosen = form.cleaned_data["assignee"]
    assignee = User.objects.get(pk=int(chosen)) if chosen else None
    try:
        services.ticket_assign(ticket=ticket, assignee=assignee)
    except SupportError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Ticket assigned.") if assignee else _("Ticket unassigned."))
    return _back(ticket)


@console_page(write="service")
def ticket_merge(request: HttpRequest, public_id) -> HttpResponse:
    ticket = _ticket(request, public_id)
    if request.method != "POST":
        return _back(ticket)
    form = MergeForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return _back(ticket)
    target = (
        selectors.staff_ticket_list(user=request.user, status="")
        .filter(pk=form.cleaned_data["target"])
        .first()
    )
    if target is None:
        messages.error(request, _("There is no such ticket in your queues."))
        return _back(ticket)
    try:
        services.ticket_merge(source=ticket, target=target)
    except SupportError as exc:
        messages.error(request, str(exc))
        return _back(ticket)
    messages.success(request, _("Merged into ticket #%(number)d.") % {"number": target.number})
    return _back(target)


@console_page(write="service")
def ticket_split(request: HttpRequest, public_id) -> HttpResponse:
    ticket = _ticket(request, public_id)
    if request.method != "POST":
        return _back(ticket)
    form = SplitForm(request.POST, ticket=ticket)
    if not form.is_valid():
        _form_errors(request, form)
        return _back(ticket)
    try:
        new = services.ticket_split(
            ticket=ticket,
            messages=list(ticket.messages.filter(pk__in=form.cleaned_data["messages"])),
            subject=form.cleaned_data["subject"],
        )
    except SupportError as exc:
        messages.error(request, str(exc))
        return _back(ticket)
    messages.success(request, _("New ticket #%(number)d made.") % {"number": new.number})
    return _back(new)


@console_page
def attachment_download(request: HttpRequest, public_id) -> HttpResponse:
    return attachment_response(
        selectors.staff_attachment_get(user=request.user, public_id=public_id)
    )


# --- settings ------------------------------------------------------------------------------


@console_page(write="admin")
def support_settings(request: HttpRequest) -> HttpResponse:
    current = dict(SlaPolicy.objects.values_list("priority", "response_hours"))
    form = SlaForm(request.POST or None, initial=current)
    if request.method == "POST" and form.is_valid():
        try:
            services.sla_policies_set(hours=form.cleaned_data)
        except SupportError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Response times saved."))
            return redirect("console:support-settings")
    return render(
        request,
        "console/support_settings.html",
        {
            "sla_form": form,
            "departments": Department.objects.prefetch_related("staff"),
            "canned_replies": CannedReply.objects.select_related("department"),
        },
        status=400 if form.errors else 200,
    )


def _department_initial(department: Department) -> dict:
    return {
        "name": department.name,
        "email": department.email,
        "client_access": department.client_access,
        "allowed_clients": list(department.allowed_clients.all()),
        "allow_guests": department.allow_guests,
        "auto_close_days": department.auto_close_days,
        "staff": list(department.staff.all()),
        "is_active": department.is_active,
    }


@console_page(write="admin")
def department_edit(request: HttpRequest, public_id=None) -> HttpResponse:
    department = (
        get_object_or_404(Department, public_id=public_id) if public_id is not None else None
    )
    initial = _department_initial(department) if department else {"is_active": True}
    form = DepartmentForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.department_save(
                department=department,
                name=data["name"],
                email=data["email"],
                client_access=data["client_access"],
                allowed_clients=list(data["allowed_clients"]),
                allow_guests=data["allow_guests"],
                auto_close_days=data["auto_close_days"],
                staff=list(data["staff"]),
                is_active=data["is_active"],
            )
        except SupportError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Department saved."))
            return redirect("console:support-settings")
    return render(
        request,
        "console/support_form.html",
        {"form": form, "title": department.name if department else _("New department")},
        status=400 if form.errors else 200,
    )


@console_page(write="admin")
def canned_reply_edit(request: HttpRequest, public_id=None) -> HttpResponse:
    canned = get_object_or_404(CannedReply, public_id=public_id) if public_id is not None else None
    initial = (
        {
            "title": canned.title,
            "body": canned.body,
            "department": str(canned.department.public_id) if canned.department else "",
        }
        if canned
        else {}
    )
    form = CannedReplyForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if canned is not None and request.POST.get("delete"):
            services.canned_reply_delete(canned=canned)
            messages.success(request, _("Canned reply deleted."))
            return redirect("console:support-settings")
        if form.is_valid():
            chosen = form.cleaned_data["department"]
            try:
                services.canned_reply_save(
                    canned=canned,
                    title=form.cleaned_data["title"],
                    body=form.cleaned_data["body"],
                    department=Department.objects.get(public_id=chosen) if chosen else None,
                )
            except SupportError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Canned reply saved."))
                return redirect("console:support-settings")
    return render(
        request,
        "console/support_form.html",
        {
            "form": form,
            "title": canned.title if canned else _("New canned reply"),
            "can_delete": canned is not None,
        },
        status=400 if form.errors else 200,
    )
