"""E-mail into the support desk: each department's mailbox is read over IMAP
(``support.imap``), each message parsed (``support.mail_parse``) and turned into a ticket
or a message of one through the desk's own services (``ticket_open``, ``message_add``).

Exactly once: every message is recorded by (mailbox, UIDVALIDITY, UID) in the same
transaction as its effect, before the effect is made, so a second reader blocks on the
unique row and then skips it, and a reader killed half-way leaves nothing behind and the
message is read again. A message that came back under a new UIDVALIDITY (a rebuilt mail
store) is recognised by its Message-ID.

Threading: the ticket's token in the reply address (``support+<token>@...``) first, then
the Message-IDs the mail answers (In-Reply-To, References); never the subject. The mail
must come from the ticket's own requester; anyone else writes a new ticket.

Never answered: automatic mail (RFC 3834 and the conventions it lists) becomes an
internal note on its ticket, or nothing; more mail from one sender than
``SUPPORT_INBOUND_SENDER_LIMIT`` within the window is kept but acts on nothing. Whatever
happens, the raw message is kept and what was wrong with it is flagged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import Client
from core.crypto import secret_decrypt, secret_encrypt
from support.attachments import AttachmentUpload, max_per_message, uploads_check
from support.errors import SupportError
from support.imap import ImapUnavailable, MailboxAccess, MailboxReader
from support.mail_parse import Flag, ParsedEmail, email_parse, reply_strip, reply_token
from support.models import Department, InboundEmail, Mailbox, Message, Ticket
from support.services import message_add, ticket_open

logger = logging.getLogger(__name__)

Outcome = InboundEmail.Outcome
FETCH_LOCK_S = 600
FLAG_ATTACHMENT_REFUSED = "attachment_refused"


@transaction.atomic
def mailbox_save(
    *,
    department: Department,
    host: str,
    port: int,
    security: str,
    username: str,
    password: str = "",
    folder: str = "INBOX",
    is_active: bool = True,
) -> Mailbox:
    """The department's mailbox settings; an empty password keeps the stored one."""
    if security not in Mailbox.Security.values:
        raise SupportError(_("Unknown connection security."), code="security")
    if not 0 < int(port) < 65536:
        raise SupportError(_("The port is a number from 1 to 65535."), code="port")
    host, username, folder = host.strip(), username.strip(), (folder or "INBOX").strip()
    if not host or not username:
        raise SupportError(_("The server and the user name are required."), code="required")
    mailbox = Mailbox.objects.filter(department=department).first() or Mailbox(
        department=department
    )
    moved = mailbox.pk is not None and (
        (mailbox.host, mailbox.username, mailbox.folder) != (host, username, folder)
    )
    mailbox.host, mailbox.port, mailbox.security = host, int(port), security
    mailbox.username, mailbox.folder, mailbox.is_active = username, folder, is_active
    if password:
        mailbox.password_encrypted = secret_encrypt(password)
    elif not mailbox.password_encrypted:
        raise SupportError(_("Enter the mailbox's password."), code="required")
    if moved:
        # Another mailbox: its UIDs mean nothing against what was read before.
        mailbox.uidvalidity, mailbox.last_uid = None, 0
    mailbox.last_error = ""
    mailbox.save()
    return mailbox


def _access(mailbox: Mailbox) -> MailboxAccess:
    return MailboxAccess(
        host=mailbox.host,
        port=mailbox.port,
        security=mailbox.security,
        username=mailbox.username,
        password=secret_decrypt(mailbox.password_encrypted),
        folder=mailbox.folder,
    )


@dataclass(frozen=True)
class FetchResult:
    read: int
    skipped: bool = False
    error: str = ""


def mailbox_fetch(*, mailbox: Mailbox) -> FetchResult:
    """Reads what arrived since the last run. One reader per mailbox at a time (a cache
    lock, keyed per schema); the database keeps it exact even if two ran."""
    lock = f"support:mailbox-fetch:{mailbox.pk}"
    if not cache.add(lock, "1", timeout=FETCH_LOCK_S):
        return FetchResult(0, skipped=True)
    try:
        return _fetch(mailbox)
    finally:
        cache.delete(lock)


def _fetch(mailbox: Mailbox) -> FetchResult:
    read = 0
    try:
        with MailboxReader(_access(mailbox)) as reader:
            validity = reader.uidvalidity()
            if mailbox.uidvalidity != validity:
                Mailbox.objects.filter(pk=mailbox.pk).update(uidvalidity=validity, last_uid=0)
                mailbox.uidvalidity, mailbox.last_uid = validity, 0
            uids = reader.uids_after(mailbox.last_uid, limit=settings.SUPPORT_INBOUND_BATCH)
            for fetched in reader.fetch(uids):
                inbound_email_process(
                    mailbox=mailbox, uidvalidity=validity, uid=fetched.uid, raw=fetched.raw
                )
                read += 1
    except ImapUnavailable as exc:
        Mailbox.objects.filter(pk=mailbox.pk).update(
            last_error=str(exc)[:1000], last_checked_at=timezone.now()
        )
        return FetchResult(read, error=str(exc))
    Mailbox.objects.filter(pk=mailbox.pk).update(last_error="", last_checked_at=timezone.now())
    return FetchResult(read)


def _sender_matches(ticket: Ticket, sender: str) -> bool:
    if ticket.client_id is None:
        return ticket.guest_email.lower() == sender
    if ticket.client.email.lower() == sender:
        return True
    return ticket.client.client_users.filter(user__email__iexact=sender).exists()


def _followed(ticket: Ticket) -> Ticket:
    seen = {ticket.pk}
    while ticket.merged_into_id is not None and ticket.merged_into_id not in seen:
        ticket = Ticket.objects.get(pk=ticket.merged_into_id)
        seen.add(ticket.pk)
    return ticket


def _thread_ticket(parsed: ParsedEmail, mailbox: Mailbox) -> Ticket | None:
    candidates: list[Ticket] = []
    token = reply_token(parsed.recipients, mailbox.department.email or "")
    if not token:
        # The department's address may have changed since the ticket's mail went out.
        for address in parsed.recipients:
            local = address.rpartition("@")[0]
            if "+" in local:
                token = local.partition("+")[2]
                break
    if token:
        by_token = Ticket.objects.filter(reply_token=token.lower()).first()
        if by_token is not None:
            candidates.append(by_token)
    if parsed.thread_ids:
        answered = {
            message.message_id: message.ticket
            for message in Message.objects.filter(message_id__in=parsed.thread_ids)
            .select_related("ticket")
            .order_by("id")
        }
        candidates += [answered[mid] for mid in parsed.thread_ids if mid in answered]
    for candidate in candidates:
        ticket = _followed(candidate)
        if _sender_matches(ticket, parsed.sender):
            return ticket
    return None


def _uploads(parsed: ParsedEmail, flags: list[str]) -> list[AttachmentUpload]:
    accepted: list[AttachmentUpload] = []
    for attachment in parsed.attachments:
        upload = AttachmentUpload(filename=attachment.filename, data=attachment.content)
        if len(accepted) >= max_per_message():
            break
        try:
            uploads_check([upload])
        except SupportError:
            if FLAG_ATTACHMENT_REFUSED not in flags:
                flags.append(FLAG_ATTACHMENT_REFUSED)
            continue
        accepted.append(upload)
    if len(parsed.attachments) > len(accepted) and FLAG_ATTACHMENT_REFUSED not in flags:
        flags.append(FLAG_ATTACHMENT_REFUSED)
    return accepted


def _body(parsed: ParsedEmail) -> str:
    text = reply_strip(parsed.text) if parsed.text.strip() else ""
    notes = []
    if Flag.OVERSIZE in parsed.flags:
        notes.append(_("This e-mail is too large to show; staff can download the original."))
    elif not text:
        notes.append(_("This e-mail has no readable text; staff can download the original."))
    if Flag.CHARSET in parsed.flags or Flag.MALFORMED in parsed.flags:
        notes.append(_("Parts of this e-mail could not be decoded; the original is kept."))
    return "\n\n".join([text, *(f"[{note}]" for note in notes)]).strip()


def _client_for(sender: str) -> Client | None:
    clients = list(Client.objects.filter(email__iexact=sender)[:2])
    if len(clients) == 1:
        return clients[0]
    linked = Client.objects.filter(client_users__user__email__iexact=sender).distinct()[:2]
    linked = list(linked)
    return linked[0] if len(linked) == 1 else None


@transaction.atomic
def inbound_email_process(
    *, mailbox: Mailbox, uidvalidity: int, uid: int, raw: bytes
) -> InboundEmail:
    """Records the message and acts on it, in one transaction; a message already
    recorded is returned untouched."""
    existing = InboundEmail.objects.filter(
        mailbox=mailbox, uidvalidity=uidvalidity, uid=uid
    ).first()
    if existing is not None:
        return existing
    parsed = email_parse(raw, max_bytes=settings.SUPPORT_INBOUND_MAX_BYTES)
    flags = list(parsed.flags)
    try:
        with transaction.atomic():
            record = InboundEmail.objects.create(
                mailbox=mailbox,
                uidvalidity=uidvalidity,
                uid=uid,
                raw=raw,
                size=len(raw),
                sender=parsed.sender[:254],
                subject=parsed.subject[:250],
                message_id=parsed.message_id[:255],
                outcome=Outcome.REFUSED,
                flags=flags,
            )
    except IntegrityError:
        # Another reader holds or recorded the same message: it is theirs.
        return InboundEmail.objects.get(mailbox=mailbox, uidvalidity=uidvalidity, uid=uid)
    Mailbox.objects.filter(pk=mailbox.pk, last_uid__lt=uid).update(last_uid=uid)
    outcome, reason, ticket = _act(mailbox=mailbox, parsed=parsed, record=record, flags=flags)
    record.outcome, record.reason, record.ticket, record.flags = (
        outcome,
        reason[:300],
        ticket,
        flags,
    )
    record.save(update_fields=["outcome", "reason", "ticket", "flags"])
    return record


def _act(
    *, mailbox: Mailbox, parsed: ParsedEmail, record: InboundEmail, flags: list[str]
) -> tuple[str, str, Ticket | None]:
    if parsed.message_id and (
        InboundEmail.objects.filter(mailbox=mailbox, message_id=parsed.message_id)
        .exclude(pk=record.pk)
        .exists()
    ):
        return Outcome.DUPLICATE, "message-id seen before", None
    if not parsed.sender:
        return Outcome.REFUSED, "no sender address", None
    window = timezone.now() - timedelta(seconds=settings.SUPPORT_INBOUND_SENDER_WINDOW_S)
    recent = InboundEmail.objects.filter(sender=parsed.sender, received_at__gte=window).count()
    if recent > settings.SUPPORT_INBOUND_SENDER_LIMIT:
        return Outcome.RATE_LIMITED, f"{recent} messages within the window", None
    ticket = _thread_ticket(parsed, mailbox)
    threading = {
        "message_id": parsed.message_id,
        "in_reply_to": (parsed.in_reply_to or [""])[0],
        "references": " ".join(parsed.references),
    }
    if parsed.automatic:
        if ticket is None:
            return Outcome.IGNORED_AUTOMATIC, parsed.automatic, None
        note = _("Automatic e-mail (%(reason)s) from %(sender)s:") % {
            "reason": parsed.automatic,
            "sender": parsed.sender,
        }
        message_add(
            ticket=ticket,
            body=f"{note}\n\n{_body(parsed)}".strip(),
            author_kind=Message.AuthorKind.SYSTEM,
            author_name=parsed.sender,
            author_email=parsed.sender,
            is_internal=True,
            source=Message.Source.EMAIL,
            **threading,
        )
        return Outcome.NOTE_ADDED, parsed.automatic, ticket
    uploads = _uploads(parsed, flags)
    body = _body(parsed)
    try:
        if ticket is not None:
            message_add(
                ticket=ticket,
                body=body,
                author_kind=(
                    Message.AuthorKind.CLIENT if ticket.client_id else Message.AuthorKind.GUEST
                ),
                author_name=parsed.sender_name,
                author_email=parsed.sender,
                source=Message.Source.EMAIL,
                attachments=uploads,
                **threading,
            )
            return Outcome.MESSAGE_ADDED, "", ticket
        department = mailbox.department
        client = _client_for(parsed.sender)
        if client is None and not department.allow_guests:
            return Outcome.REFUSED, "unknown sender; the department takes no guests", None
        opened = ticket_open(
            department=department,
            subject=parsed.subject or _("(no subject)"),
            body=body,
            client=client,
            guest_email="" if client else parsed.sender,
            guest_name="" if client else parsed.sender_name,
            source=Message.Source.EMAIL,
            attachments=uploads,
            **threading,
        )
    except SupportError as exc:
        return Outcome.REFUSED, str(exc), ticket
    return Outcome.TICKET_OPENED, "", opened


def mailboxes_fetch() -> int:
    """Every active mailbox of the current tenant; how many messages were read."""
    total = 0
    for mailbox in Mailbox.objects.filter(is_active=True, department__is_active=True):
        result = mailbox_fetch(mailbox=mailbox)
        if result.error:
            logger.warning("Mailbox %s: %s", mailbox.pk, result.error)
        total += result.read
    return total


@transaction.atomic
def inbound_emails_forget(*, client: Client) -> int:
    """For the client's erasure (call it before its e-mail address is replaced): empties
    the originals of the mail it sent or that landed on its tickets. The record of having
    read each message stays, without its content, so it is never read again."""
    addresses = {client.email.lower()} | {
        email.lower()
        for email in client.client_users.values_list("user__email", flat=True)
        if email
    }
    return InboundEmail.objects.filter(Q(ticket__client=client) | Q(sender__in=addresses)).update(
        raw=b"", sender="", subject="", reason=""
    )
