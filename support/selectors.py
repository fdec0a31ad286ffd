"""Reads of the support desk: who may open tickets where, queues, a client's tickets."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from billing.models import Client, Service
from support.models import Attachment, CannedReply, Department, Message, Ticket


def department_open_allowed(*, department: Department, client: Client) -> bool:
    if not department.is_active:
        return False
    access = department.client_access
    if access == Department.ClientAccess.ALL:
        return True
    if access == Department.ClientAccess.WITH_SERVICE:
        return Service.objects.filter(client=client, status=Service.Status.ACTIVE).exists()
    return department.allowed_clients.filter(pk=client.pk).exists()


def departments_for_client(*, client: Client) -> list[Department]:
    return [
        d
        for d in Department.objects.filter(is_active=True)
        if department_open_allowed(department=d, client=client)
    ]


def departments_for_staff(*, user: User) -> QuerySet[Department]:
    """The departments whose queues ``user`` sees: those naming nobody, and those naming
    the user. Owners and administrators see every queue."""
    departments = Department.objects.all()
    if user.role in (User.Role.OWNER, User.Role.ADMIN):
        return departments
    return departments.filter(Q(staff__isnull=True) | Q(staff=user)).distinct()


def client_ticket_list(*, client: Client) -> QuerySet[Ticket]:
    return (
        Ticket.objects.filter(client=client, merged_into__isnull=True)
        .select_related("department", "service")
        .order_by("-last_message_at", "-id")
    )


def client_ticket_get(*, client: Client, public_id: str) -> Ticket | None:
    return (
        Ticket.objects.filter(client=client, public_id=public_id)
        .select_related("department", "service", "merged_into")
        .first()
    )


def ticket_public_messages(*, ticket: Ticket) -> QuerySet[Message]:
    return (
        ticket.messages.filter(is_internal=False)
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )


def ticket_all_messages(*, ticket: Ticket) -> QuerySet[Message]:
    return ticket.messages.prefetch_related("attachments").order_by("created_at", "id")


def client_attachment_get(*, client: Client, public_id: str) -> Attachment | None:
    """An attachment the client may download: on its own ticket, on a message it sees."""
    return (
        Attachment.objects.filter(
            public_id=public_id, ticket__client=client, message__is_internal=False
        )
        .select_related("ticket")
        .first()
    )


def staff_ticket_list(
    *,
    user: User,
    status: str = "",
    priority: str = "",
    assignee: str = "",
    department: str = "",
    query: str = "",
    overdue: bool = False,
) -> QuerySet[Ticket]:
    """The console's queue: the user's departments, filtered. ``status`` "active" means
    every status but closed; ``assignee`` is a user's id, "me" or "none"."""
    tickets = Ticket.objects.filter(
        department__in=departments_for_staff(user=user), merged_into__isnull=True
    ).select_related("department", "client", "assignee")
    if status == "active":
        tickets = tickets.exclude(status=Ticket.Status.CLOSED)
    elif status:
        tickets = tickets.filter(status=status)
    if priority:
        tickets = tickets.filter(priority=priority)
    if assignee == "me":
        tickets = tickets.filter(assignee=user)
    elif assignee == "none":
        tickets = tickets.filter(assignee__isnull=True)
    elif assignee.isdigit():
        tickets = tickets.filter(assignee_id=int(assignee))
    if department:
        tickets = tickets.filter(department__public_id=department)
    if overdue:
        tickets = tickets.filter(sla_due_at__lte=timezone.now())
    query = query.strip()
    if query:
        match = (
            Q(subject__icontains=query)
            | Q(client__name__icontains=query)
            | Q(client__company_name__icontains=query)
            | Q(client__email__icontains=query)
            | Q(guest_email__icontains=query)
            | Q(domain_name__icontains=query)
            | Q(messages__body__icontains=query)
        )
        if query.lstrip("#").isdigit():
            match |= Q(pk=int(query.lstrip("#")))
        tickets = tickets.filter(match).distinct()
    return tickets.order_by("-last_message_at", "-id")


def staff_ticket_get(*, user: User, public_id: str) -> Ticket | None:
    return (
        Ticket.objects.filter(department__in=departments_for_staff(user=user), public_id=public_id)
        .select_related("department", "client", "assignee", "service", "merged_into")
        .first()
    )


def staff_attachment_get(*, user: User, public_id: str) -> Attachment | None:
    return (
        Attachment.objects.filter(
            public_id=public_id, ticket__department__in=departments_for_staff(user=user)
        )
        .select_related("ticket")
        .first()
    )


def canned_replies_for(*, department: Department | None) -> QuerySet[CannedReply]:
    replies = CannedReply.objects.all()
    if department is not None:
        replies = replies.filter(Q(department__isnull=True) | Q(department=department))
    return replies.order_by("title", "id")


def ticket_is_overdue(ticket: Ticket) -> bool:
    return ticket.sla_due_at is not None and ticket.sla_due_at <= timezone.now()


def ticket_by_reply_token(*, token: str) -> Ticket | None:
    """The ticket an e-mail answers, by the token in its reply address."""
    token = (token or "").strip().lower()
    if not token or not token.isalnum():
        return None
    return Ticket.objects.filter(reply_token=token).first()


def department_open_counts(*, departments: list[Department]) -> dict[int, int]:
    """Tickets not closed per department id, for the queue tabs."""
    rows = (
        Ticket.objects.filter(department__in=departments, merged_into__isnull=True)
        .exclude(status=Ticket.Status.CLOSED)
        .values("department")
        .annotate(n=Count("id"))
    )
    return {row["department"]: row["n"] for row in rows}


def ticket_list() -> QuerySet[Ticket]:
    """Every ticket of the tenant (the API's list: a key acts for the whole tenant)."""
    return Ticket.objects.select_related(
        "department", "client", "service", "assignee", "merged_into"
    ).order_by("-last_message_at", "-id")
