"""The desk's e-mails: to the client (its ticket was received, staff answered) and to
staff (a new ticket or a client's reply waits, an answer is overdue).

Each goes out under the tenant's brand and in the tenant's layout
(``billing.emails.email_render``; the client's two in the tenant's own text when it
wrote one, ``billing.email_templates``), in the addressee's language: the client's from its
billing record, a staff member's from its account, else the tenant's default. The
client's e-mails carry the ticket's reply address, ``<mailbox>+<reply token>@<domain>``
of the department's mailbox (or the tenant's sender), so an answer by e-mail finds its
ticket by the token (support.mail_parse), never by the subject. Each e-mail's own
Message-ID is kept on the message it carries, for ``In-Reply-To`` threading.

E-mails are sent from a worker once the change commits (``ticket_email_queue``); a
``NotificationSent`` row per e-mail makes a replayed or retried task send nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.utils import make_msgid

from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.urls import reverse

from accounts.models import User
from billing import documents
from billing.emails import (
    email_base_context,
    email_override_get,
    email_render,
    portal_url,
    seller_get,
)
from support import mail_parse
from support.events import TicketEvent, TicketEventKind, ticket_event_listeners
from support.models import Message, NotificationSent, Ticket

logger = logging.getLogger(__name__)

FOLDER = "support/emails"

# Kinds of e-mail, each with templates ``support/emails/<kind>_{subject,body}.txt``.
CLIENT_RECEIVED = "ticket_received"
CLIENT_ANSWERED = "ticket_answered"
STAFF_WAITING = "staff_ticket_waiting"
STAFF_OVERDUE = "staff_ticket_overdue"
KINDS = frozenset({CLIENT_RECEIVED, CLIENT_ANSWERED, STAFF_WAITING, STAFF_OVERDUE})

# Roles that answer tickets (portals.common.access: the "service" capability).
ANSWERING_ROLES = (User.Role.OWNER, User.Role.ADMIN, User.Role.SUPPORT)


def ticket_reply_address(ticket: Ticket, sender_address: str) -> str:
    """The address an answer to ``ticket`` goes to: the department's mailbox (or the
    tenant's sender) with the ticket's token after a ``+`` (RFC 5233 subaddressing)."""
    return mail_parse.reply_address(ticket.department.email or sender_address, ticket.reply_token)


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2] or "localhost"


def _ticket_url(ticket: Ticket, *, staff: bool) -> str:
    name = "console:ticket" if staff else "account:ticket"
    path = reverse(name, urlconf="config.urls", kwargs={"public_id": ticket.public_id})
    root = portal_url().rstrip("/")
    return f"{root}{path}" if root else path


def staff_recipients(ticket: Ticket, *, exclude: User | None = None) -> list[User]:
    """Who hears of a waiting ticket: its assignee; with none, the staff the department
    names, or, when it names nobody, every staff member who answers tickets."""
    if ticket.assignee_id and ticket.assignee.is_tenant_staff:
        people = [ticket.assignee]
    else:
        named = list(ticket.department.staff.filter(is_active=True, kind=User.Kind.STAFF))
        people = named or list(
            User.objects.filter(
                Q(role__in=ANSWERING_ROLES), kind=User.Kind.STAFF, is_active=True
            ).order_by("email")
        )
    return [p for p in people if exclude is None or p.pk != exclude.pk]


@dataclass(frozen=True)
class Outgoing:
    to: list[str]
    language: str
    name: str


def _client_outgoing(ticket: Ticket, seller) -> Outgoing | None:
    if ticket.client_id:
        client = ticket.client
        language = documents.document_language(client.language or seller.default_language)
        return Outgoing([client.email], language, client.display_name) if client.email else None
    if ticket.guest_email:
        return Outgoing(
            [ticket.guest_email], seller.default_language, ticket.guest_name or ticket.guest_email
        )
    return None


def _send(
    *,
    kind: str,
    ticket: Ticket,
    message: Message | None,
    outgoing: Outgoing,
    seller,
    context: dict,
    reply_to: str,
    headers: dict[str, str],
    message_id: str,
) -> EmailMultiAlternatives:
    base = email_base_context(seller, None)
    full = {
        **base,
        "client_name": outgoing.name,
        "ticket_number": ticket.number,
        "ticket_subject": ticket.subject,
        "department": ticket.department.name,
        **context,
    }
    # The client's e-mails in the tenant's own text when it wrote one (staff's are
    # the built-in text).
    override = (
        email_override_get(kind, outgoing.language)
        if kind in (CLIENT_RECEIVED, CLIENT_ANSWERED)
        else None
    )
    rendered = email_render(
        kind, full, language=outgoing.language, folder=FOLDER, override=override
    )
    email = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=seller.sender.header,
        to=outgoing.to,
        reply_to=[reply_to],
        headers={"Message-ID": message_id, "Content-Language": outgoing.language, **headers},
    )
    email.attach_alternative(rendered.html, "text/html")
    email.send()
    return email


def _thread_headers(ticket: Ticket, message: Message | None) -> dict[str, str]:
    """In-Reply-To / References: the ticket's messages that have a Message-ID, oldest
    first, so a mail client shows the ticket as one conversation."""
    ids = [
        m
        for m in ticket.messages.exclude(message_id="")
        .exclude(pk=message.pk if message else None)
        .filter(is_internal=False)
        .order_by("created_at", "id")
        .values_list("message_id", flat=True)
    ]
    if not ids:
        return {}
    return {"In-Reply-To": ids[-1], "References": " ".join(ids[-10:])}


def ticket_email_send(kind: str, ticket_id: int, message_id: int | None = None) -> bool:
    """Sends e-mail ``kind`` about the ticket (and the message it carries) unless it
    went out already. Returns whether something was sent."""
    if kind not in KINDS:
        raise ValueError(f"Unknown support e-mail “{kind}”.")
    ticket = (
        Ticket.objects.select_related("department", "client", "assignee")
        .filter(pk=ticket_id)
        .first()
    )
    if ticket is None:
        logger.error("Ticket %s not found in schema %s", ticket_id, connection.schema_name)
        return False
    message = ticket.messages.filter(pk=message_id).first() if message_id else None
    if message_id and message is None:
        # Moved to another ticket by a merge or split since: the news went stale.
        return False
    seller = seller_get()
    key = f"{kind}:{ticket.pk}:{message_id or ''}"
    if kind == STAFF_OVERDUE:
        # A ticket may fall overdue again after a later reply: once per deadline.
        if ticket.sla_due_at is None:
            return False
        key += f":{int(ticket.sla_due_at.timestamp())}"
    with transaction.atomic():
        try:
            with transaction.atomic():
                sent = NotificationSent.objects.create(key=key, ticket=ticket)
        except IntegrityError:
            return False
        recipients = _deliver(kind, ticket, message, seller)
        if not recipients:
            sent.delete()
            return False
        sent.recipients = recipients
        sent.save(update_fields=["recipients"])
    return True


def _deliver(kind: str, ticket: Ticket, message: Message | None, seller) -> list[str]:
    domain = _domain_of(seller.sender.address)
    if kind in (CLIENT_RECEIVED, CLIENT_ANSWERED):
        outgoing = _client_outgoing(ticket, seller)
        if outgoing is None:
            return []
        message_id = make_msgid(domain=domain)
        headers = _thread_headers(ticket, message)
        if kind == CLIENT_RECEIVED:
            # RFC 3834: an automatic answer to the client's message.
            headers["Auto-Submitted"] = "auto-replied"
        context = {
            "ticket_url": _ticket_url(ticket, staff=False),
            "message_body": message.body if message else "",
            "author_name": seller.name,
        }
        _send(
            kind=kind,
            ticket=ticket,
            message=message,
            outgoing=outgoing,
            seller=seller,
            context=context,
            reply_to=ticket_reply_address(ticket, seller.sender.address),
            headers=headers,
            message_id=message_id,
        )
        if kind == CLIENT_ANSWERED and message is not None and not message.message_id:
            # The staff answer is this e-mail: a reply quoting it threads back to it.
            Message.objects.filter(pk=message.pk).update(message_id=message_id)
        return outgoing.to
    author = message.author_user if message else None
    people = staff_recipients(ticket, exclude=author)
    sent: list[str] = []
    for person in people:
        language = documents.document_language(person.language or seller.default_language)
        outgoing = Outgoing([person.email], language, str(person))
        _send(
            kind=kind,
            ticket=ticket,
            message=message,
            outgoing=outgoing,
            seller=seller,
            context={
                "ticket_url": _ticket_url(ticket, staff=True),
                "message_body": message.body if message else "",
                "requester": ticket.requester_name,
                "priority": ticket.priority,
                "due": ticket.sla_due_at,
            },
            reply_to=seller.sender.address,
            headers={"Auto-Submitted": "auto-generated"},
            message_id=make_msgid(domain=domain),
        )
        sent.append(person.email)
    return sent


def ticket_email_queue(kind: str, ticket_id: int, message_id: int | None = None) -> None:
    """Sends ``kind`` from a worker once the current transaction commits."""
    # support.tasks imports this module; the task is looked up at call time.
    from support.tasks import ticket_email_task

    schema = connection.schema_name
    transaction.on_commit(
        lambda: ticket_email_task.apply_async(
            args=[kind, ticket_id, message_id], headers={"_schema_name": schema}
        )
    )


def on_ticket_event(event: TicketEvent) -> None:
    """Which e-mails each ticket event sends (a listener of support.events)."""
    message = (
        Message.objects.filter(pk=event.message_id).only("author_kind", "source").first()
        if event.message_id
        else None
    )
    if event.kind == TicketEventKind.OPENED and message is not None:
        if message.author_kind in (Message.AuthorKind.CLIENT, Message.AuthorKind.GUEST):
            ticket_email_queue(CLIENT_RECEIVED, event.ticket_id, event.message_id)
            ticket_email_queue(STAFF_WAITING, event.ticket_id, event.message_id)
        else:
            ticket_email_queue(CLIENT_ANSWERED, event.ticket_id, event.message_id)
    elif event.kind == TicketEventKind.CLIENT_REPLIED:
        ticket_email_queue(STAFF_WAITING, event.ticket_id, event.message_id)
    elif event.kind == TicketEventKind.STAFF_REPLIED:
        ticket_email_queue(CLIENT_ANSWERED, event.ticket_id, event.message_id)
    elif event.kind == TicketEventKind.SLA_OVERDUE:
        ticket_email_queue(STAFF_OVERDUE, event.ticket_id)


def listeners_register() -> None:
    if on_ticket_event not in ticket_event_listeners:
        ticket_event_listeners.append(on_ticket_event)
