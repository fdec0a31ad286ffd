"""The provider's support desk for resellers' escalations (public schema).

A reseller escalates a ticket about a service it resells; the provider's ticket names
the upstream service and the reseller's pseudonymous client reference, and holds only
the text the reseller chose to send. Both sides number the messages (``seq``), so the
reseller asks for what came after the last one it has and a retried call adds nothing
twice: an escalation and each of the reseller's messages carry an idempotency key.

The same functions serve this installation's resellers (``resale.upstreams.LocalUpstream``)
and remote installations (the resale API's ``escalations/`` endpoints). When the provider
answers or changes the status, ``escalation_changed_listeners`` hear of it after the
commit, so a tenant of this installation fetches the answer at once instead of waiting
for its next periodic pull.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from audit.services import audit_record
from resale.models import ProviderTicket, ProviderTicketMessage, ResellerAccount
from resale.selectors import upstream_service_get
from resale.services import ResaleError

logger = logging.getLogger(__name__)

SUBJECT_MAX = 200
BODY_MAX = 20_000
MESSAGES_MAX = 50

Status = ProviderTicket.Status
Author = ProviderTicketMessage.Author

# Called with (tenant schema, provider ticket public id) after the provider answered or
# changed the status of a ticket; support fills it in its AppConfig.ready.
escalation_changed_listeners: list[Callable[[str, str], None]] = []


def _clean(value: str, *, what: str, limit: int) -> str:
    value = (value or "").strip()
    if not value:
        raise ResaleError(f"The {what} is empty.", code="invalid")
    if len(value) > limit:
        raise ResaleError(f"The {what} is longer than {limit} characters.", code="invalid")
    if "\x00" in value:
        raise ResaleError(f"The {what} contains a NUL character.", code="invalid")
    return value


def _public(func):
    """Provider rows live in public whatever schema the caller had selected."""

    def wrapper(*args, **kwargs):
        if connection.schema_name == get_public_schema_name():
            return func(*args, **kwargs)
        with schema_context(get_public_schema_name()):
            return func(*args, **kwargs)

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


def _next_seq(ticket: ProviderTicket) -> int:
    return (ticket.messages.aggregate(top=Max("seq"))["top"] or 0) + 1


def _notify(ticket: ProviderTicket) -> None:
    schema = ticket.account.tenant.schema_name
    ref = ticket.public_id

    def deliver() -> None:
        for listener in list(escalation_changed_listeners):
            try:
                listener(schema, ref)
            except Exception:
                logger.exception("Escalation listener %r failed on %s", listener, ref)

    transaction.on_commit(deliver)


def provider_ticket_get(*, account: ResellerAccount, ticket_ref: str) -> ProviderTicket:
    ticket = ProviderTicket.objects.filter(account=account, public_id=ticket_ref).first()
    if ticket is None:
        raise ResaleError(f"No escalation “{ticket_ref}” on your account.", code="not_found")
    return ticket


@_public
@transaction.atomic
def escalation_accept(
    *,
    account: ResellerAccount,
    idempotency_key: str,
    service_ref: str,
    subject: str,
    messages: Sequence[str],
) -> ProviderTicket:
    """Opens the provider's ticket with the messages the reseller shares. The same key
    again returns the first ticket and adds nothing."""
    if not idempotency_key or len(idempotency_key) > 128:
        raise ResaleError("An idempotency key of 1-128 characters is required.", code="invalid")
    existing = ProviderTicket.objects.filter(
        account=account, idempotency_key=idempotency_key
    ).first()
    if existing is not None:
        if existing.upstream_service.public_id != service_ref:
            raise ResaleError(
                "This idempotency key opened an escalation about another service.",
                code="idempotency_conflict",
            )
        return existing
    subject = _clean(subject, what="subject", limit=SUBJECT_MAX)
    if not messages:
        raise ResaleError("Share at least one message.", code="invalid")
    if len(messages) > MESSAGES_MAX:
        raise ResaleError(f"Share at most {MESSAGES_MAX} messages.", code="invalid")
    bodies = [_clean(body, what="message", limit=BODY_MAX) for body in messages]
    service = upstream_service_get(account=account, service_ref=service_ref)
    try:
        with transaction.atomic():
            ticket = ProviderTicket.objects.create(
                account=account,
                upstream_service=service,
                client_ref=service.client_ref,
                subject=subject,
                idempotency_key=idempotency_key,
            )
    except IntegrityError:
        # The same key raced in from a second delivery: the first one won.
        return ProviderTicket.objects.get(account=account, idempotency_key=idempotency_key)
    ProviderTicketMessage.objects.bulk_create(
        ProviderTicketMessage(ticket=ticket, seq=seq, author=Author.RESELLER, body=body)
        for seq, body in enumerate(bodies, start=1)
    )
    audit_record(
        action="escalation.received",
        object_type="provider_ticket",
        object_id=ticket.public_id,
        after={
            "reseller": account.public_id,
            "service": service.public_id,
            "client_ref": service.client_ref,
            "messages": len(bodies),
        },
    )
    return ticket


@_public
@transaction.atomic
def escalation_message_accept(
    *, account: ResellerAccount, ticket_ref: str, idempotency_key: str, body: str
) -> ProviderTicketMessage:
    """A further message from the reseller; reopens a closed ticket."""
    if not idempotency_key or len(idempotency_key) > 128:
        raise ResaleError("An idempotency key of 1-128 characters is required.", code="invalid")
    ticket = provider_ticket_get(account=account, ticket_ref=ticket_ref)
    ticket = ProviderTicket.objects.select_for_update().get(pk=ticket.pk)
    existing = ticket.messages.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    body = _clean(body, what="message", limit=BODY_MAX)
    message = ProviderTicketMessage.objects.create(
        ticket=ticket,
        seq=_next_seq(ticket),
        author=Author.RESELLER,
        body=body,
        idempotency_key=idempotency_key,
    )
    ticket.status = Status.RESELLER_REPLY
    ticket.closed_at = None
    ticket.save(update_fields=["status", "closed_at", "updated_at"])
    return message


@_public
@transaction.atomic
def escalation_reseller_status_set(
    *, account: ResellerAccount, ticket_ref: str, status: str
) -> ProviderTicket:
    """The reseller closes its escalation (its ticket was solved) or reopens it."""
    if status not in (Status.OPEN, Status.CLOSED):
        raise ResaleError("A reseller may set an escalation open or closed.", code="invalid")
    ticket = provider_ticket_get(account=account, ticket_ref=ticket_ref)
    return _status_set(ticket=ticket, status=status, by="reseller")


def _status_set(*, ticket: ProviderTicket, status: str, by: str) -> ProviderTicket:
    ticket = ProviderTicket.objects.select_for_update().get(pk=ticket.pk)
    if ticket.status == status:
        return ticket
    before = ticket.status
    ticket.status = status
    ticket.closed_at = timezone.now() if status == Status.CLOSED else None
    ticket.save(update_fields=["status", "closed_at", "updated_at"])
    audit_record(
        action="escalation.status_changed",
        object_type="provider_ticket",
        object_id=ticket.public_id,
        before={"status": before},
        after={"status": status, "by": by},
    )
    return ticket


@_public
@transaction.atomic
def escalation_reply(
    *, ticket: ProviderTicket, body: str, author_label: str
) -> ProviderTicketMessage:
    """The provider's answer; the reseller's ticket gets it as an internal note."""
    ticket = ProviderTicket.objects.select_for_update().get(pk=ticket.pk)
    body = _clean(body, what="message", limit=BODY_MAX)
    message = ProviderTicketMessage.objects.create(
        ticket=ticket,
        seq=_next_seq(ticket),
        author=Author.PROVIDER,
        author_label=author_label[:200],
        body=body,
    )
    ticket.status = Status.ANSWERED
    ticket.closed_at = None
    ticket.save(update_fields=["status", "closed_at", "updated_at"])
    audit_record(
        action="escalation.replied",
        object_type="provider_ticket",
        object_id=ticket.public_id,
        after={"seq": message.seq},
    )
    _notify(ticket)
    return message


@_public
@transaction.atomic
def escalation_provider_status_set(*, ticket: ProviderTicket, status: str) -> ProviderTicket:
    if status not in Status.values:
        raise ResaleError("Unknown status.", code="invalid")
    ticket = _status_set(ticket=ticket, status=status, by="provider")
    _notify(ticket)
    return ticket


@_public
def escalation_view(*, account: ResellerAccount, ticket_ref: str, after: int = 0) -> dict:
    """What the reseller may know of its escalation: the status and every message after
    number ``after``."""
    ticket = provider_ticket_get(account=account, ticket_ref=ticket_ref)
    return {
        "ref": ticket.public_id,
        "service_ref": ticket.upstream_service.public_id,
        "subject": ticket.subject,
        "status": ticket.status,
        "messages": [
            {
                "seq": message.seq,
                "author": message.author,
                "author_label": message.author_label,
                "body": message.body,
                "created_at": message.created_at.isoformat(),
            }
            for message in ticket.messages.filter(seq__gt=max(after, 0)).order_by("seq")
        ],
    }
