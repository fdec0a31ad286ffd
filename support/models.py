"""The support desk of a tenant: departments, tickets, their messages and attachments,
canned replies and the response time promised per priority.

Every table here lives in each tenant schema (``schema_placement``, see config.routers):
a reseller answers its own clients under its own brand and no other tenant ever sees a
ticket. The provider's side of an escalation lives elsewhere and names the client only
by its pseudonymous reference.
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


def _public_id() -> uuid.UUID:
    return uuid.uuid4()


def reply_token_new() -> str:
    # Lower-case letters and digits only: the token travels in the local part of a reply
    # address (support+<token>@...), which mail servers may fold to lower case.
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(20))


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


# Most urgent first: queues sort by this.
PRIORITY_RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.MEDIUM: 2, Priority.LOW: 3}


class Department(models.Model):
    """Where tickets go: a queue of its own, with its own mailbox and its own rule on
    which clients may write to it."""

    schema_placement = "tenant"

    class ClientAccess(models.TextChoices):
        ALL = "all", _("Every client")
        WITH_SERVICE = "with_service", _("Clients with an active service")
        SELECTED = "selected", _("Selected clients only")

    public_id = models.UUIDField(default=_public_id, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=100)
    email = models.EmailField(_("e-mail address"), blank=True)
    # No one named: every staff member sees the queue.
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="support_departments"
    )
    client_access = models.CharField(
        _("who may open tickets"),
        max_length=16,
        choices=ClientAccess.choices,
        default=ClientAccess.ALL,
    )
    allowed_clients = models.ManyToManyField(
        "billing.Client", blank=True, related_name="support_departments"
    )
    allow_guests = models.BooleanField(_("guests may write by e-mail"), default=False)
    # None: answered tickets stay open until someone closes them.
    auto_close_days = models.PositiveSmallIntegerField(
        _("close answered tickets after (days)"), null=True, blank=True
    )
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sort_order", "name", "id"]

    def __str__(self) -> str:
        return self.name


class Ticket(models.Model):
    schema_placement = "tenant"

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ANSWERED = "answered", _("Answered")
        CUSTOMER_REPLY = "customer_reply", _("Customer reply")
        ON_HOLD = "on_hold", _("On hold")
        CLOSED = "closed", _("Closed")

    public_id = models.UUIDField(default=_public_id, unique=True, editable=False)
    subject = models.CharField(_("subject"), max_length=200)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="tickets")
    # A guest's ticket has no client, only the address it came from.
    client = models.ForeignKey(
        "billing.Client",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="support_tickets",
    )
    guest_email = models.EmailField(blank=True)
    guest_name = models.CharField(max_length=200, blank=True)
    service = models.ForeignKey(
        "billing.Service",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="support_tickets",
    )
    domain_name = models.CharField(_("domain"), max_length=253, blank=True)
    priority = models.CharField(
        _("priority"), max_length=8, choices=Priority.choices, default=Priority.MEDIUM
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.OPEN
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
    )
    # Carried in the reply address of every e-mail about the ticket: an answer finds its
    # ticket by it, never by the subject.
    reply_token = models.CharField(max_length=32, unique=True, default=reply_token_new)
    # When staff owe the next answer (the SLA of the priority); None while nobody waits.
    sla_due_at = models.DateTimeField(null=True, blank=True)
    # Set once the overdue sweep has alerted staff, so they hear of it once.
    sla_breached_at = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="merged_tickets"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        indexes = [
            models.Index(fields=["status", "department"], name="support_ticket_queue_idx"),
            models.Index(
                fields=["sla_due_at"],
                name="support_ticket_sla_idx",
                condition=Q(sla_due_at__isnull=False, sla_breached_at__isnull=True),
            ),
            models.Index(
                fields=["answered_at"],
                name="support_ticket_answered_idx",
                condition=Q(status="answered"),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    @property
    def number(self) -> int:
        return self.pk

    @property
    def requester_email(self) -> str:
        return self.client.email if self.client_id else self.guest_email

    @property
    def requester_name(self) -> str:
        return self.client.display_name if self.client_id else (self.guest_name or self.guest_email)

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.CLOSED


class Message(models.Model):
    schema_placement = "tenant"

    class AuthorKind(models.TextChoices):
        CLIENT = "client", _("Client")
        STAFF = "staff", _("Staff")
        GUEST = "guest", _("Guest")
        SYSTEM = "system", _("System")

    class Source(models.TextChoices):
        WEB = "web", _("Web")
        EMAIL = "email", _("E-mail")
        API = "api", _("API")

    public_id = models.UUIDField(default=_public_id, unique=True, editable=False)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author_kind = models.CharField(max_length=8, choices=AuthorKind.choices)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    author_name = models.CharField(max_length=200, blank=True)
    author_email = models.EmailField(blank=True)
    body = models.TextField()
    # Staff only: never shown to the client, never e-mailed to it.
    is_internal = models.BooleanField(_("internal note"), default=False)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.WEB)
    # E-mail threading: the Message-ID this message went out (or came in) with, and what
    # it answered.
    message_id = models.CharField(max_length=255, blank=True, db_index=True)
    in_reply_to = models.CharField(max_length=255, blank=True)
    references = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.author_kind} {self.created_at:%Y-%m-%d %H:%M}"


def attachment_path(instance: Attachment, filename: str) -> str:
    # The default storage prefixes the schema (MULTITENANT_RELATIVE_MEDIA_ROOT), so the
    # file sits under the tenant's own folder; the name on disk is never the client's.
    return f"support/{instance.ticket.public_id}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    schema_placement = "tenant"

    public_id = models.UUIDField(default=_public_id, unique=True, editable=False)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=255)
    filename = models.CharField(max_length=200)
    # Read from the bytes (support.attachments.content_type_sniff), never the sender's.
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.filename


class CannedReply(models.Model):
    schema_placement = "tenant"

    public_id = models.UUIDField(default=_public_id, unique=True, editable=False)
    title = models.CharField(_("title"), max_length=100)
    body = models.TextField(_("text"))
    # None: offered in every department.
    department = models.ForeignKey(
        Department,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="canned_replies",
        verbose_name=_("department"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]
        verbose_name_plural = _("canned replies")

    def __str__(self) -> str:
        return self.title


class SlaPolicy(models.Model):
    """How soon staff answer a ticket of one priority. A priority without a row has no
    clock."""

    schema_placement = "tenant"

    priority = models.CharField(max_length=8, choices=Priority.choices, unique=True)
    response_hours = models.PositiveSmallIntegerField(_("answer within (hours)"))

    class Meta:
        ordering = ["priority"]

    def __str__(self) -> str:
        return f"{self.priority}: {self.response_hours} h"


class Mailbox(models.Model):
    """A department's IMAP mailbox, read periodically (``support.inbound``). What was read
    is remembered here by UIDVALIDITY and the highest UID (RFC 3501 2.3.1.1), never by
    flags on the server; the password is stored encrypted (``core.crypto``)."""

    schema_placement = "tenant"

    class Security(models.TextChoices):
        SSL = "ssl", _("TLS (IMAPS, port 993)")
        STARTTLS = "starttls", _("STARTTLS (port 143)")
        PLAIN = "plain", _("None (local servers only)")

    department = models.OneToOneField(Department, on_delete=models.CASCADE, related_name="mailbox")
    host = models.CharField(_("IMAP server"), max_length=253)
    port = models.PositiveIntegerField(_("port"), default=993)
    security = models.CharField(
        _("connection security"), max_length=8, choices=Security.choices, default=Security.SSL
    )
    username = models.CharField(_("user name"), max_length=200)
    password_encrypted = models.TextField(blank=True)
    folder = models.CharField(_("folder"), max_length=200, default="INBOX")
    is_active = models.BooleanField(_("read this mailbox"), default=True)
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.username}@{self.host}"


class InboundEmail(models.Model):
    """One message read from a mailbox, kept whole (its raw bytes) whatever became of it:
    the unique (mailbox, UIDVALIDITY, UID) makes each message processed exactly once."""

    schema_placement = "tenant"

    class Outcome(models.TextChoices):
        TICKET_OPENED = "ticket_opened", _("Opened a ticket")
        MESSAGE_ADDED = "message_added", _("Added to a ticket")
        NOTE_ADDED = "note_added", _("Automatic message noted on a ticket")
        IGNORED_AUTOMATIC = "ignored_automatic", _("Automatic message, not answered")
        REFUSED = "refused", _("Refused")
        RATE_LIMITED = "rate_limited", _("Too many messages from this sender")
        DUPLICATE = "duplicate", _("Already received")

    public_id = models.UUIDField(default=_public_id, unique=True, editable=False)
    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="messages")
    uidvalidity = models.BigIntegerField()
    uid = models.BigIntegerField()
    raw = models.BinaryField()
    size = models.PositiveIntegerField()
    sender = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=250, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    # What was wrong with it (support.mail_parse.Flag), and why it went where it went.
    flags = models.JSONField(default=list, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    ticket = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbound_emails"
    )
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["mailbox", "uidvalidity", "uid"], name="support_inbound_once"
            )
        ]
        indexes = [
            models.Index(fields=["sender", "received_at"], name="support_inbound_sender_idx"),
            models.Index(fields=["message_id"], name="support_inbound_msgid_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.mailbox_id}:{self.uidvalidity}:{self.uid} {self.outcome}"


class Escalation(models.Model):
    """A ticket escalated to the provider through the upstream interface
    (``resale.upstreams``): what the provider's ticket is called there, its status as the
    provider last said, and the number of the last message fetched from it."""

    schema_placement = "tenant"

    class Status(models.TextChoices):
        PENDING = "pending", _("Being sent")
        OPEN = "open", _("Open")
        ANSWERED = "answered", _("Answered by the provider")
        RESELLER_REPLY = "reseller_reply", _("Waiting for the provider")
        CLOSED = "closed", _("Closed")
        FAILED = "failed", _("Refused by the provider")

    public_id = models.UUIDField(default=_public_id, unique=True, editable=False)
    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="escalation")
    service_ref = models.CharField(max_length=64)
    upstream_ref = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    last_seq = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_error = models.TextField(blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.ticket_id} → {self.upstream_ref or 'pending'}"


class EscalationSend(models.Model):
    """The outbox of an escalation: what still has to reach the provider (the opening with
    the shared messages, a further message, a status), each with its idempotency key, so
    an unreachable provider delays it and a retry never sends it twice."""

    schema_placement = "tenant"

    class Kind(models.TextChoices):
        OPEN = "open", _("Open")
        MESSAGE = "message", _("Message")
        STATUS = "status", _("Status")

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="sends")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    payload = models.JSONField(default=dict)
    idempotency_key = models.CharField(max_length=64, unique=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["state"], name="support_escsend_pending_idx", condition=Q(state="pending")
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.state}"


class NotificationSent(models.Model):
    """One e-mail of the desk that went out, by a key naming what it was about (kind,
    ticket, message): a task delivered twice, or retried after a crash, finds its key
    and sends nothing again."""

    schema_placement = "tenant"

    key = models.CharField(max_length=100, unique=True)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    recipients = models.JSONField(default=list)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sent_at", "id"]

    def __str__(self) -> str:
        return self.key
