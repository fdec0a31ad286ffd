"""Writes of the support desk: opening tickets, adding messages, changing status,
assigning, merging and splitting, and the settings pages' rows.

Every service is keyword-only and atomic; a refused request raises ``SupportError`` and
changes nothing. What happened is told to the layers above through ``support.events``
after the commit (webhooks, e-mail notifications); assignments, merges and splits are
also written to the audit log in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from audit.services import audit_record
from billing.models import Client, Service
from support import selectors
from support.attachments import AttachmentUpload, uploads_check
from support.errors import SupportError
from support.events import TicketEventKind, ticket_event_emit
from support.models import (
    Attachment,
    CannedReply,
    Department,
    Message,
    Priority,
    SlaPolicy,
    Ticket,
)

SUBJECT_MAX = 200
BODY_MAX = 100_000

Status = Ticket.Status
AuthorKind = Message.AuthorKind


def _text_clean(value: str, *, field: str, limit: int) -> str:
    value = (value or "").strip()
    if not value:
        raise SupportError(_("%(field)s cannot be empty.") % {"field": field}, code="required")
    if len(value) > limit:
        raise SupportError(
            _("%(field)s is longer than %(limit)d characters.") % {"field": field, "limit": limit},
            code="too_long",
        )
    return value


def sla_due_for(priority: str, start: datetime) -> datetime | None:
    """When staff owe an answer to a message of ``priority`` written at ``start``."""
    policy = SlaPolicy.objects.filter(priority=priority).first()
    if policy is None:
        return None
    return start + timedelta(hours=policy.response_hours)


def _attachments_store(
    *, ticket: Ticket, message: Message, uploads: Sequence[AttachmentUpload]
) -> list[Attachment]:
    checked = uploads_check(list(uploads))
    stored: list[Attachment] = []
    try:
        for upload in checked:
            attachment = Attachment(
                ticket=ticket,
                message=message,
                filename=upload.filename,
                content_type=upload.content_type,
                size=len(upload.data),
                sha256=upload.sha256,
            )
            attachment.file.save("upload", ContentFile(upload.data), save=False)
            stored.append(attachment)
            attachment.save()
    except Exception:
        # The rows roll back with the caller's transaction; the files would not.
        for attachment in stored:
            default_storage.delete(attachment.file.name)
        raise
    return stored


def _check_client_may_use(*, department: Department, client: Client) -> None:
    if not selectors.department_open_allowed(department=department, client=client):
        raise SupportError(
            _("You cannot open a ticket in this department."), code="department_refused"
        )


@transaction.atomic
def ticket_open(
    *,
    department: Department,
    subject: str,
    body: str,
    client: Client | None = None,
    guest_email: str = "",
    guest_name: str = "",
    author_user: User | None = None,
    opened_by_staff: bool = False,
    service: Service | None = None,
    domain_name: str = "",
    priority: str = Priority.MEDIUM,
    source: str = Message.Source.WEB,
    attachments: Sequence[AttachmentUpload] = (),
    message_id: str = "",
    in_reply_to: str = "",
    references: str = "",
) -> Ticket:
    """Opens a ticket with its first message. A client's ticket is checked against the
    department's rule (staff may open one for any client); a guest's needs a department
    that takes guests."""
    subject = _text_clean(subject, field=_("Subject"), limit=SUBJECT_MAX)
    body = _text_clean(body, field=_("Message"), limit=BODY_MAX)
    if priority not in Priority.values:
        raise SupportError(_("Unknown priority."), code="priority")
    if not department.is_active:
        raise SupportError(_("This department is closed."), code="department_inactive")
    if client is None:
        if not guest_email:
            raise SupportError(_("A ticket needs a client or an e-mail address."))
        if not opened_by_staff and not department.allow_guests:
            raise SupportError(
                _("This department answers only its clients."), code="guests_refused"
            )
    elif not opened_by_staff:
        _check_client_may_use(department=department, client=client)
    if service is not None and (client is None or service.client_id != client.pk):
        raise SupportError(_("That service is not the client's."), code="service")
    now = timezone.now()
    ticket = Ticket.objects.create(
        subject=subject,
        department=department,
        client=client,
        guest_email=guest_email if client is None else "",
        guest_name=guest_name if client is None else "",
        service=service,
        domain_name=(domain_name or (service.domain_name if service else ""))[:253],
        priority=priority,
        status=Status.OPEN,
        sla_due_at=sla_due_for(priority, now),
        last_message_at=now,
    )
    if opened_by_staff:
        kind = AuthorKind.STAFF
    else:
        kind = AuthorKind.CLIENT if client is not None else AuthorKind.GUEST
    message = Message.objects.create(
        ticket=ticket,
        author_kind=kind,
        author_user=author_user,
        author_name=_author_name(author_user, client, guest_name),
        author_email=_author_email(author_user, client, guest_email),
        body=body,
        source=source,
        message_id=message_id[:255],
        in_reply_to=in_reply_to[:255],
        references=references,
    )
    _attachments_store(ticket=ticket, message=message, uploads=attachments)
    if opened_by_staff:
        ticket.status = Status.ANSWERED
        ticket.answered_at = now
        ticket.sla_due_at = None
        ticket.save(update_fields=["status", "answered_at", "sla_due_at", "updated_at"])
    ticket_event_emit(kind=TicketEventKind.OPENED, ticket_id=ticket.pk, message_id=message.pk)
    return ticket


def _author_name(user: User | None, client: Client | None, guest_name: str) -> str:
    if user is not None:
        return (user.full_name or user.email)[:200]
    if client is not None:
        return client.display_name[:200]
    return guest_name[:200]


def _author_email(user: User | None, client: Client | None, guest_email: str) -> str:
    if user is not None:
        return user.email
    if client is not None:
        return client.email
    return guest_email


def _locked(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


@transaction.atomic
def message_add(
    *,
    ticket: Ticket,
    body: str,
    author_kind: str,
    author_user: User | None = None,
    author_name: str = "",
    author_email: str = "",
    is_internal: bool = False,
    source: str = Message.Source.WEB,
    attachments: Sequence[AttachmentUpload] = (),
    message_id: str = "",
    in_reply_to: str = "",
    references: str = "",
) -> Message:
    """Adds a message and moves the ticket on: a client's or guest's message reopens it
    as "customer reply" and starts the SLA clock; a staff answer marks it answered and
    stops the clock; an internal note (staff only) changes nothing the client sees."""
    body = _text_clean(body, field=_("Message"), limit=BODY_MAX)
    if author_kind not in AuthorKind.values:
        raise SupportError(_("Unknown author."), code="author")
    if is_internal and author_kind not in (AuthorKind.STAFF, AuthorKind.SYSTEM):
        raise SupportError(_("Only staff write internal notes."), code="internal")
    ticket = _locked(ticket)
    if ticket.merged_into_id is not None:
        raise SupportError(
            _("This ticket was merged into #%(number)d.") % {"number": ticket.merged_into_id},
            code="merged",
        )
    now = timezone.now()
    message = Message.objects.create(
        ticket=ticket,
        author_kind=author_kind,
        author_user=author_user,
        author_name=(author_name or _author_name(author_user, ticket.client, ticket.guest_name))[
            :200
        ],
        author_email=author_email
        or _author_email(author_user, ticket.client if author_kind == "client" else None, ""),
        body=body,
        is_internal=is_internal,
        source=source,
        message_id=message_id[:255],
        in_reply_to=in_reply_to[:255],
        references=references,
    )
    _attachments_store(ticket=ticket, message=message, uploads=attachments)
    fields = ["last_message_at", "updated_at"]
    ticket.last_message_at = now
    if is_internal:
        event = TicketEventKind.NOTE_ADDED
    elif author_kind in (AuthorKind.CLIENT, AuthorKind.GUEST):
        event = TicketEventKind.CLIENT_REPLIED
        ticket.status = Status.CUSTOMER_REPLY
        ticket.closed_at = None
        # The clock runs from the first unanswered message, not the latest.
        if ticket.sla_due_at is None:
            ticket.sla_due_at = sla_due_for(ticket.priority, now)
            ticket.sla_breached_at = None
        fields += ["status", "closed_at", "sla_due_at", "sla_breached_at"]
    else:
        event = TicketEventKind.STAFF_REPLIED
        ticket.status = Status.ANSWERED
        ticket.answered_at = now
        ticket.closed_at = None
        ticket.sla_due_at = None
        ticket.sla_breached_at = None
        fields += ["status", "answered_at", "closed_at", "sla_due_at", "sla_breached_at"]
    ticket.save(update_fields=fields)
    ticket_event_emit(kind=event, ticket_id=ticket.pk, message_id=message.pk)
    return message


@transaction.atomic
def ticket_status_set(*, ticket: Ticket, status: str) -> Ticket:
    if status not in Status.values:
        raise SupportError(_("Unknown status."), code="status")
    ticket = _locked(ticket)
    if ticket.status == status:
        return ticket
    before = ticket.status
    ticket.status = status
    ticket.closed_at = timezone.now() if status == Status.CLOSED else None
    fields = ["status", "closed_at", "updated_at"]
    if status in (Status.CLOSED, Status.ON_HOLD, Status.ANSWERED):
        # Nobody owes an answer to a closed, held or answered ticket.
        ticket.sla_due_at = None
        fields.append("sla_due_at")
    ticket.save(update_fields=fields)
    audit_record(
        action="support.ticket.status",
        object_type="support.ticket",
        object_id=ticket.public_id,
        before={"status": before},
        after={"status": status},
    )
    ticket_event_emit(
        kind=TicketEventKind.STATUS_CHANGED,
        ticket_id=ticket.pk,
        payload={"from": before, "to": status},
    )
    return ticket


def ticket_close(*, ticket: Ticket) -> Ticket:
    return ticket_status_set(ticket=ticket, status=Status.CLOSED)


@transaction.atomic
def ticket_priority_set(*, ticket: Ticket, priority: str) -> Ticket:
    if priority not in Priority.values:
        raise SupportError(_("Unknown priority."), code="priority")
    ticket = _locked(ticket)
    if ticket.priority == priority:
        return ticket
    ticket.priority = priority
    fields = ["priority", "updated_at"]
    if ticket.sla_due_at is not None:
        # The clock restarts from the first message still waiting for an answer.
        waiting = ticket.messages.filter(is_internal=False, author_kind__in=["client", "guest"])
        if ticket.answered_at is not None:
            waiting = waiting.filter(created_at__gt=ticket.answered_at)
        since = waiting.order_by("created_at").values_list("created_at", flat=True).first()
        ticket.sla_due_at = sla_due_for(priority, since or timezone.now())
        ticket.sla_breached_at = None
        fields += ["sla_due_at", "sla_breached_at"]
    ticket.save(update_fields=fields)
    return ticket


@transaction.atomic
def ticket_department_set(*, ticket: Ticket, department: Department) -> Ticket:
    ticket = _locked(ticket)
    ticket.department = department
    ticket.save(update_fields=["department", "updated_at"])
    return ticket


@transaction.atomic
def ticket_assign(*, ticket: Ticket, assignee: User | None) -> Ticket:
    """Gives the ticket to a staff member (None: to nobody)."""
    if assignee is not None and not assignee.is_tenant_staff:
        raise SupportError(_("Tickets are assigned to staff only."), code="assignee")
    ticket = _locked(ticket)
    before = ticket.assignee
    if before == assignee:
        return ticket
    ticket.assignee = assignee
    ticket.save(update_fields=["assignee", "updated_at"])
    audit_record(
        action="support.ticket.assign",
        object_type="support.ticket",
        object_id=ticket.public_id,
        before={"assignee": before.email if before else None},
        after={"assignee": assignee.email if assignee else None},
    )
    ticket_event_emit(
        kind=TicketEventKind.ASSIGNED,
        ticket_id=ticket.pk,
        payload={"assignee": assignee.email if assignee else None},
    )
    return ticket


_UNCHANGED = object()


@transaction.atomic
def ticket_update(
    *,
    ticket: Ticket,
    status: str | None = None,
    priority: str | None = None,
    department: Department | None = None,
    assignee: User | object | None = _UNCHANGED,
) -> Ticket:
    """Changes several properties at once: all of them, or none when one is refused."""
    if department is not None and department.pk != ticket.department_id:
        ticket = ticket_department_set(ticket=ticket, department=department)
    if assignee is not _UNCHANGED:
        ticket = ticket_assign(ticket=ticket, assignee=assignee)
    if priority is not None:
        ticket = ticket_priority_set(ticket=ticket, priority=priority)
    if status is not None:
        ticket = ticket_status_set(ticket=ticket, status=status)
    return ticket


@transaction.atomic
def ticket_merge(*, source: Ticket, target: Ticket) -> Ticket:
    """Moves every message and attachment of ``source`` into ``target`` and closes
    ``source`` pointing at it. Both must belong to the same requester."""
    if source.pk == target.pk:
        raise SupportError(_("A ticket cannot be merged into itself."), code="merge_self")
    first, second = sorted([source.pk, target.pk])
    locked = {t.pk: t for t in Ticket.objects.select_for_update().filter(pk__in=[first, second])}
    source, target = locked[source.pk], locked[target.pk]
    if source.merged_into_id or target.merged_into_id:
        raise SupportError(_("That ticket was already merged."), code="merged")
    if (source.client_id, source.guest_email if not source.client_id else "") != (
        target.client_id,
        target.guest_email if not target.client_id else "",
    ):
        raise SupportError(_("Only tickets of the same client can be merged."), code="merge_client")
    source_due = source.sla_due_at
    moved = source.messages.update(ticket=target)
    source.attachments.update(ticket=target)
    source.merged_into = target
    source.status = Status.CLOSED
    source.closed_at = timezone.now()
    source.sla_due_at = None
    source.save(update_fields=["merged_into", "status", "closed_at", "sla_due_at", "updated_at"])
    last = target.messages.order_by("-created_at").values_list("created_at", flat=True).first()
    target.last_message_at = last
    # The earlier of the two clocks is what the requester has waited for.
    dues = [d for d in (source_due, target.sla_due_at) if d is not None]
    target.sla_due_at = min(dues) if dues else None
    target.save(update_fields=["last_message_at", "sla_due_at", "updated_at"])
    audit_record(
        action="support.ticket.merge",
        object_type="support.ticket",
        object_id=target.public_id,
        before={"source": str(source.public_id), "source_number": source.pk},
        after={"target": str(target.public_id), "messages_moved": moved},
    )
    ticket_event_emit(
        kind=TicketEventKind.MERGED,
        ticket_id=target.pk,
        payload={"source": str(source.public_id)},
    )
    return target


@transaction.atomic
def ticket_split(*, ticket: Ticket, messages: Sequence[Message], subject: str) -> Ticket:
    """Moves the chosen messages (with their attachments) of ``ticket`` into a new
    ticket for the same requester, in the same department."""
    subject = _text_clean(subject, field=_("Subject"), limit=SUBJECT_MAX)
    ticket = _locked(ticket)
    ids = sorted({m.pk for m in messages})
    if not ids:
        raise SupportError(_("Choose the messages to move."), code="split_empty")
    chosen = ticket.messages.filter(pk__in=ids)
    if chosen.count() != len(ids):
        raise SupportError(_("Those messages are not in this ticket."), code="split_foreign")
    if ticket.messages.exclude(pk__in=ids).filter(is_internal=False).count() == 0:
        raise SupportError(_("At least one message must stay in the ticket."), code="split_all")
    now = timezone.now()
    new = Ticket.objects.create(
        subject=subject,
        department=ticket.department,
        client=ticket.client,
        guest_email=ticket.guest_email,
        guest_name=ticket.guest_name,
        service=ticket.service,
        domain_name=ticket.domain_name,
        priority=ticket.priority,
        status=Status.OPEN,
        assignee=ticket.assignee,
        sla_due_at=sla_due_for(ticket.priority, now),
        last_message_at=now,
    )
    Attachment.objects.filter(message__in=chosen).update(ticket=new)
    chosen.update(ticket=new)
    audit_record(
        action="support.ticket.split",
        object_type="support.ticket",
        object_id=ticket.public_id,
        before={"messages": ids},
        after={"new_ticket": str(new.public_id), "new_number": new.pk},
    )
    ticket_event_emit(
        kind=TicketEventKind.SPLIT, ticket_id=new.pk, payload={"from": str(ticket.public_id)}
    )
    return new


# --- sweeps (periodic, per tenant) ------------------------------------------------------


def tickets_auto_close(*, now: datetime | None = None) -> int:
    """Closes answered tickets whose department closes them after N quiet days."""
    now = now or timezone.now()
    closed = 0
    for department in Department.objects.filter(auto_close_days__isnull=False):
        cutoff = now - timedelta(days=department.auto_close_days)
        due = Ticket.objects.filter(
            department=department, status=Status.ANSWERED, answered_at__lte=cutoff
        ).values_list("pk", flat=True)
        for pk in list(due):
            with transaction.atomic():
                ticket = Ticket.objects.select_for_update().filter(pk=pk).first()
                # Looked at again under the lock: the client may have just answered.
                if (
                    ticket is None
                    or ticket.status != Status.ANSWERED
                    or ticket.answered_at is None
                    or ticket.answered_at > cutoff
                ):
                    continue
                ticket_status_set(ticket=ticket, status=Status.CLOSED)
                closed += 1
    return closed


def tickets_sla_overdue_mark(*, now: datetime | None = None) -> list[int]:
    """Marks each ticket whose answer is overdue, once, and tells the listeners (staff
    are alerted). Returns the ids marked."""
    now = now or timezone.now()
    marked: list[int] = []
    due = Ticket.objects.filter(sla_due_at__lte=now, sla_breached_at__isnull=True).values_list(
        "pk", flat=True
    )
    for pk in list(due):
        with transaction.atomic():
            updated = Ticket.objects.filter(
                pk=pk, sla_due_at__lte=now, sla_breached_at__isnull=True
            ).update(sla_breached_at=now)
            if updated:
                ticket_event_emit(kind=TicketEventKind.SLA_OVERDUE, ticket_id=pk)
                marked.append(pk)
    return marked


# --- settings: departments, canned replies, SLA -----------------------------------------


@transaction.atomic
def department_save(
    *,
    department: Department | None = None,
    name: str,
    email: str = "",
    client_access: str = Department.ClientAccess.ALL,
    allow_guests: bool = False,
    auto_close_days: int | None = None,
    is_active: bool = True,
    staff: Sequence[User] = (),
    allowed_clients: Sequence[Client] = (),
) -> Department:
    name = _text_clean(name, field=_("Name"), limit=100)
    if client_access not in Department.ClientAccess.values:
        raise SupportError(_("Unknown choice of clients."), code="client_access")
    if any(not user.is_tenant_staff for user in staff):
        raise SupportError(_("Only staff can see a department."), code="staff")
    department = department or Department()
    department.name = name
    department.email = (email or "").strip().lower()
    department.client_access = client_access
    department.allow_guests = allow_guests
    department.auto_close_days = auto_close_days
    department.is_active = is_active
    department.save()
    department.staff.set(staff)
    department.allowed_clients.set(allowed_clients)
    return department


@transaction.atomic
def canned_reply_save(
    *,
    canned: CannedReply | None = None,
    title: str,
    body: str,
    department: Department | None = None,
) -> CannedReply:
    canned = canned or CannedReply()
    canned.title = _text_clean(title, field=_("Title"), limit=100)
    canned.body = _text_clean(body, field=_("Text"), limit=BODY_MAX)
    canned.department = department
    canned.save()
    return canned


@transaction.atomic
def canned_reply_delete(*, canned: CannedReply) -> None:
    canned.delete()


@transaction.atomic
def sla_policy_set(*, priority: str, response_hours: int | None) -> SlaPolicy | None:
    """Sets the answer time of a priority; None removes its clock."""
    if priority not in Priority.values:
        raise SupportError(_("Unknown priority."), code="priority")
    if response_hours is None:
        SlaPolicy.objects.filter(priority=priority).delete()
        return None
    if not 1 <= response_hours <= 24 * 90:
        raise SupportError(_("The answer time is between 1 hour and 90 days."), code="sla_hours")
    policy, _created = SlaPolicy.objects.update_or_create(
        priority=priority, defaults={"response_hours": response_hours}
    )
    return policy


@transaction.atomic
def sla_policies_set(*, hours: dict[str, int | None]) -> None:
    """Sets the answer time of several priorities at once: all of them or none."""
    for priority, response_hours in hours.items():
        sla_policy_set(priority=priority, response_hours=response_hours)
