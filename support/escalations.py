"""Escalating a ticket to the provider, the reseller's side.

Staff pick which of the ticket's messages to share and see exactly what will be sent
(``escalation_preview``): the text with the client's name, company, e-mail addresses,
phone, address and tax numbers replaced, under the ticket's subject; the provider's ticket
names the upstream service and the pseudonymous client reference the provider already
holds, nothing else. What is to be sent waits in an outbox (``EscalationSend``) written
in the same transaction as the escalation, and goes through the same upstream interface
as orders (``resale.upstreams``: this installation's provider or a remote one over the
resale API), each send with its idempotency key: an unreachable provider delays it,
a retry never doubles it.

The provider's answers come back (``escalation_pull``: asked by number, so each is added
once) as internal notes of the ticket, which staff may forward to the client under their
own brand; the status follows both ways (closing here closes there, the provider's status
is shown here).
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from audit.services import audit_record
from billing.models import Client
from resale.selectors import service_is_resold, service_upstream_ref
from resale.upstreams import UpstreamRejected, UpstreamUnavailable, upstream_for_current_tenant
from support.errors import SupportError
from support.models import Escalation, EscalationSend, Message, Ticket
from support.services import message_add

logger = logging.getLogger(__name__)

EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE_MIN_DIGITS = 6
SUBJECT_MAX = 200
Status = Escalation.Status
Kind = EscalationSend.Kind


def _client_words(ticket: Ticket) -> list[str]:
    """What would name the client, longest first (so a full name goes before its parts)."""
    values: list[str] = []
    client: Client | None = ticket.client
    if client is not None:
        values += [
            client.name,
            client.company_name,
            client.email,
            client.pec_email,
            client.phone,
            client.address_line1,
            client.address_line2,
            client.vat_number,
            client.tax_id,
        ]
        values += [
            link.user.full_name or ""
            for link in client.client_users.select_related("user")
            if link.user.full_name
        ]
        values += [link.user.email for link in client.client_users.select_related("user")]
    values += [ticket.guest_name, ticket.guest_email]
    words = {v.strip() for v in values if v and len(v.strip()) >= 3}
    # A first name or surname alone, as a signature writes it.
    for name in [client.name if client else "", ticket.guest_name]:
        words |= {part for part in re.split(r"[\s,]+", name or "") if len(part) >= 3}
    return sorted(words, key=len, reverse=True)


def scrub(text: str, *, ticket: Ticket) -> str:
    """The text with whatever names the client replaced, and every e-mail address."""
    for word in _client_words(ticket):
        text = re.sub(re.escape(word), "[client]", text, flags=re.IGNORECASE)
    return EMAIL_RE.sub("[e-mail]", text)


@dataclass(frozen=True)
class EscalationPreview:
    subject: str
    service_ref: str
    messages: list[str]


def _shareable(ticket: Ticket) -> None:
    if ticket.service_id is None or not service_is_resold(ticket.service):
        raise SupportError(
            _("Only a ticket about a resold service can go to the provider."),
            code="not_resold",
        )
    if Escalation.objects.filter(ticket=ticket).exists():
        raise SupportError(_("This ticket is already with the provider."), code="escalated")


def escalation_preview(
    *, ticket: Ticket, message_ids: list[int], subject: str = ""
) -> EscalationPreview:
    """Exactly what the provider will receive for this choice of messages."""
    _shareable(ticket)
    service_ref = service_upstream_ref(service=ticket.service)
    if not service_ref:
        raise SupportError(
            _("The provider has not set this service up yet; try again once it is active."),
            code="not_upstream",
        )
    chosen = list(Message.objects.filter(ticket=ticket, pk__in=message_ids).order_by("created_at"))
    if not chosen or len(chosen) != len(set(message_ids)):
        raise SupportError(_("Choose at least one message of this ticket."), code="messages")
    texts = [scrub(message.body, ticket=ticket) for message in chosen]
    subject = scrub((subject or ticket.subject).strip(), ticket=ticket)[:SUBJECT_MAX]
    return EscalationPreview(subject=subject, service_ref=service_ref, messages=texts)


def _queue_push(escalation: Escalation) -> None:
    # The task module imports this one; it is looked up when the commit happens.
    from support.tasks import escalation_push_task

    pk = escalation.pk
    transaction.on_commit(lambda: escalation_push_task.delay(pk))


@transaction.atomic
def ticket_escalate(
    *, ticket: Ticket, message_ids: list[int], subject: str = "", by: User | None = None
) -> Escalation:
    """Escalates the ticket with the chosen messages, as ``escalation_preview`` shows."""
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    preview = escalation_preview(ticket=ticket, message_ids=message_ids, subject=subject)
    escalation = Escalation.objects.create(
        ticket=ticket, service_ref=preview.service_ref, created_by=by
    )
    EscalationSend.objects.create(
        escalation=escalation,
        kind=Kind.OPEN,
        payload={
            "service_ref": preview.service_ref,
            "subject": preview.subject,
            "messages": preview.messages,
        },
        idempotency_key=f"esc-{uuid.uuid4().hex}",
    )
    message_add(
        ticket=ticket,
        body=_("Escalated to the provider with %(count)d message(s).")
        % {"count": len(preview.messages)},
        author_kind=Message.AuthorKind.SYSTEM,
        author_name=(by.full_name or by.email) if by else "",
        is_internal=True,
    )
    audit_record(
        action="ticket.escalated",
        object_type="ticket",
        object_id=ticket.public_id,
        after={"service": preview.service_ref, "messages": len(preview.messages)},
    )
    _queue_push(escalation)
    return escalation


@transaction.atomic
def escalation_message_send(*, escalation: Escalation, body: str, by: User | None = None) -> str:
    """A further message to the provider; returns the text as it will be sent."""
    escalation = Escalation.objects.select_for_update().get(pk=escalation.pk)
    if escalation.status == Status.FAILED:
        raise SupportError(_("The provider refused this escalation."), code="failed")
    text = scrub((body or "").strip(), ticket=escalation.ticket)
    if not text:
        raise SupportError(_("Write a message."), code="required")
    EscalationSend.objects.create(
        escalation=escalation,
        kind=Kind.MESSAGE,
        payload={"body": text},
        idempotency_key=f"esc-{uuid.uuid4().hex}",
    )
    escalation.status = Status.RESELLER_REPLY if escalation.upstream_ref else escalation.status
    escalation.save(update_fields=["status", "updated_at"])
    message_add(
        ticket=escalation.ticket,
        body=_("Sent to the provider:") + "\n\n" + text,
        author_kind=Message.AuthorKind.STAFF,
        author_user=by,
        is_internal=True,
    )
    _queue_push(escalation)
    return text


@transaction.atomic
def escalation_status_send(*, escalation: Escalation, status: str) -> Escalation:
    """Closes (or reopens) the provider's ticket from here."""
    if status not in (Status.OPEN, Status.CLOSED):
        raise SupportError(_("Unknown status."), code="status")
    escalation = Escalation.objects.select_for_update().get(pk=escalation.pk)
    if escalation.status == Status.FAILED:
        raise SupportError(_("The provider refused this escalation."), code="failed")
    EscalationSend.objects.create(
        escalation=escalation,
        kind=Kind.STATUS,
        payload={"status": status},
        idempotency_key=f"esc-{uuid.uuid4().hex}",
    )
    if escalation.upstream_ref:
        escalation.status = status
        escalation.save(update_fields=["status", "updated_at"])
    audit_record(
        action="ticket.escalation_status",
        object_type="ticket",
        object_id=escalation.ticket.public_id,
        after={"status": status},
    )
    _queue_push(escalation)
    return escalation


def escalation_push(*, escalation: Escalation) -> int:
    """Sends what waits, in order; stops at the first send the upstream cannot take now.
    Returns how many went through."""
    sent = 0
    upstream = upstream_for_current_tenant()
    while True:
        with transaction.atomic():
            locked = Escalation.objects.select_for_update().get(pk=escalation.pk)
            send = locked.sends.filter(state=EscalationSend.State.PENDING).order_by("id").first()
            if send is None:
                return sent
            if send.kind != Kind.OPEN and not locked.upstream_ref:
                return sent  # the opening has not gone through yet
            try:
                reply = _send(upstream, locked, send)
            except UpstreamUnavailable as exc:
                EscalationSend.objects.filter(pk=send.pk).update(
                    attempts=send.attempts + 1, last_error=str(exc)[:1000]
                )
                Escalation.objects.filter(pk=locked.pk).update(last_error=str(exc)[:1000])
                return sent
            except UpstreamRejected as exc:
                send.state, send.last_error = EscalationSend.State.FAILED, str(exc)[:1000]
                send.attempts += 1
                send.save(update_fields=["state", "last_error", "attempts"])
                locked.last_error = str(exc)[:1000]
                if send.kind == Kind.OPEN:
                    locked.status = Status.FAILED
                locked.save(update_fields=["status", "last_error", "updated_at"])
                message_add(
                    ticket=locked.ticket,
                    body=_("The provider refused the escalation: %(reason)s")
                    % {"reason": str(exc)},
                    author_kind=Message.AuthorKind.SYSTEM,
                    is_internal=True,
                )
                continue
            send.state, send.sent_at = EscalationSend.State.DONE, timezone.now()
            send.attempts += 1
            send.save(update_fields=["state", "sent_at", "attempts"])
            if send.kind == Kind.OPEN:
                locked.upstream_ref = reply["ref"]
                locked.status = reply.get("status") or Status.OPEN
            elif send.kind == Kind.STATUS:
                locked.status = reply.get("status") or locked.status
            locked.last_error = ""
            locked.save(update_fields=["upstream_ref", "status", "last_error", "updated_at"])
            sent += 1


def _send(upstream, escalation: Escalation, send: EscalationSend) -> dict:
    if send.kind == Kind.OPEN:
        return upstream.escalation_open(
            idempotency_key=send.idempotency_key,
            service_ref=send.payload["service_ref"],
            subject=send.payload["subject"],
            messages=list(send.payload["messages"]),
        )
    if send.kind == Kind.MESSAGE:
        return upstream.escalation_message(
            ref=escalation.upstream_ref,
            idempotency_key=send.idempotency_key,
            body=send.payload["body"],
        )
    return upstream.escalation_status(ref=escalation.upstream_ref, status=send.payload["status"])


def escalation_pull(*, escalation: Escalation) -> int:
    """Brings the provider's new answers in as internal notes and takes its status;
    returns how many answers were added."""
    if not escalation.upstream_ref:
        return 0
    upstream = upstream_for_current_tenant()
    try:
        view = upstream.escalation_get(ref=escalation.upstream_ref, after=escalation.last_seq)
    except (UpstreamUnavailable, UpstreamRejected) as exc:
        Escalation.objects.filter(pk=escalation.pk).update(last_error=str(exc)[:1000])
        return 0
    added = 0
    with transaction.atomic():
        locked = Escalation.objects.select_for_update().get(pk=escalation.pk)
        for item in view.get("messages", []):
            seq = int(item["seq"])
            if seq <= locked.last_seq:
                continue  # another pull took it meanwhile
            locked.last_seq = seq
            if item.get("author") != "provider":
                continue
            message_add(
                ticket=locked.ticket,
                body=str(item["body"]),
                author_kind=Message.AuthorKind.SYSTEM,
                author_name=_("Provider"),
                is_internal=True,
                message_id=answer_message_id(locked, seq),
            )
            added += 1
        if view.get("status") in Status.values and not locked.sends.filter(
            state=EscalationSend.State.PENDING, kind=Kind.STATUS
        ):
            locked.status = view["status"]
        locked.last_synced_at = timezone.now()
        locked.last_error = ""
        locked.save(update_fields=["last_seq", "status", "last_synced_at", "last_error"])
    return added


def answer_message_id(escalation: Escalation, seq: int) -> str:
    """The identity of the provider's answer number ``seq`` as a note of the ticket (in
    the reserved ``.invalid`` domain of RFC 2606: it is never an e-mail's)."""
    return f"<escalation.{escalation.upstream_ref}.{seq}@provider.invalid>"


def escalation_answers(*, escalation: Escalation) -> list[Message]:
    """The provider's answers, as notes of the ticket, newest first."""
    prefix = f"<escalation.{escalation.upstream_ref}."
    return list(
        escalation.ticket.messages.filter(
            author_kind=Message.AuthorKind.SYSTEM, message_id__startswith=prefix
        ).order_by("-created_at", "-id")
    )


def ticket_escalation_answers(*, ticket: Ticket) -> list[Message]:
    escalation = Escalation.objects.filter(ticket=ticket).exclude(upstream_ref="").first()
    return escalation_answers(escalation=escalation) if escalation else []


@transaction.atomic
def escalation_answer_forward(
    *, escalation: Escalation, answer: Message, body: str, by: User
) -> Message:
    """Sends the client a reply under the tenant's own brand, from a provider's answer
    staff may have edited."""
    if answer.pk not in {m.pk for m in escalation_answers(escalation=escalation)}:
        raise SupportError(_("That is not an answer of the provider."), code="answer")
    return message_add(
        ticket=escalation.ticket,
        body=body,
        author_kind=Message.AuthorKind.STAFF,
        author_user=by,
    )


def escalations_sync() -> int:
    """The periodic round of a tenant: sends what waits, fetches what the provider said."""
    added = 0
    waiting = Escalation.objects.filter(sends__state=EscalationSend.State.PENDING).distinct()
    for escalation in waiting:
        escalation_push(escalation=escalation)
    for escalation in Escalation.objects.exclude(upstream_ref="").exclude(status=Status.FAILED):
        added += escalation_pull(escalation=escalation)
    return added
