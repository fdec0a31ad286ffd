"""Servers, provisioned services and provisioning jobs (public schema).

The provider's own infrastructure: groups of interchangeable servers driven by one
module, the accounts made on them, and a job per panel action. An account is known
only by a pseudonymous ``client_ref``: no client name or e-mail is stored here or
sent to a panel. Server credentials and initial account passwords are encrypted at
rest (``core.crypto``).
"""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.crypto import secret_decrypt, secret_encrypt
from provisioning.modules.base import MODULE_CHOICES, ServerConnection
from provisioning.registrars.base import REGISTRAR_CHOICES, get_registrar_class


class ServerGroup(models.Model):
    """Servers of one module among which new accounts are spread."""

    schema_placement = "public"

    class FillStrategy(models.TextChoices):
        LEAST_ACCOUNTS = "least_accounts", _("Least accounts first")
        FILL_IN_ORDER = "fill_in_order", _("Fill one server, then the next")

    name = models.CharField(max_length=100, unique=True)
    module = models.CharField(max_length=32, choices=MODULE_CHOICES)
    fill_strategy = models.CharField(
        max_length=16, choices=FillStrategy.choices, default=FillStrategy.LEAST_ACCOUNTS
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_module_display()})"


class Server(models.Model):
    schema_placement = "public"

    group = models.ForeignKey(ServerGroup, on_delete=models.PROTECT, related_name="servers")
    name = models.CharField(max_length=100, unique=True)
    hostname = models.CharField(max_length=253)
    port = models.PositiveIntegerField()
    use_tls = models.BooleanField(default=True)
    verify_tls = models.BooleanField(default=True)
    username = models.CharField(max_length=150, blank=True)
    # The API token or password, Fernet-encrypted; read and written through ``secret``.
    secret_encrypted = models.TextField(blank=True, editable=False)
    timeout_s = models.FloatField(default=30.0)
    # Module-specific settings that are not secret: node, cluster, storage, latency_s...
    extra = models.JSONField(default=dict, blank=True)
    capacity = models.PositiveIntegerField(
        default=0, help_text=_("Accounts this server may hold; 0 means no limit.")
    )
    position = models.PositiveIntegerField(
        default=0, help_text=_("Order in which “fill one server, then the next” uses it.")
    )
    is_active = models.BooleanField(
        default=True, help_text=_("Inactive servers get no new accounts.")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["group", "position", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def module(self) -> str:
        return self.group.module

    @property
    def secret(self) -> str:
        return secret_decrypt(self.secret_encrypted)

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = secret_encrypt(value)

    def connection(self) -> ServerConnection:
        return ServerConnection(
            hostname=self.hostname,
            port=self.port,
            use_tls=self.use_tls,
            username=self.username,
            secret=self.secret,
            verify_tls=self.verify_tls,
            timeout_s=self.timeout_s,
            extra=dict(self.extra or {}),
        )


class RegistrarAccount(models.Model):
    """The provider's account at a registry (EPP) or a registrar (reseller API), and the
    TLDs it serves. Its password or API key is encrypted like a server's."""

    schema_placement = "public"

    name = models.CharField(max_length=100, unique=True)
    # One of REGISTRAR_CHOICES, checked by the forms that write it: a new registrar module
    # needs no migration.
    module = models.CharField(max_length=32)
    hostname = models.CharField(max_length=253)
    port = models.PositiveIntegerField(default=700)
    use_tls = models.BooleanField(default=True)
    verify_tls = models.BooleanField(default=True)
    username = models.CharField(max_length=150, blank=True)
    # The EPP password or API key, Fernet-encrypted; read and written through ``secret``.
    secret_encrypted = models.TextField(blank=True, editable=False)
    timeout_s = models.FloatField(default=30.0)
    # Module settings that are not secret: the EPP client certificate path, a sandbox flag...
    extra = models.JSONField(default=dict, blank=True)
    is_default = models.BooleanField(
        default=False, help_text=_("Serves every TLD that no other account lists.")
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="provisioning_one_default_registrar",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.module_label})"

    @property
    def module_label(self) -> str:
        return dict(REGISTRAR_CHOICES).get(self.module, self.module)

    @property
    def secret(self) -> str:
        return secret_decrypt(self.secret_encrypted)

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = secret_encrypt(value)

    def connection(self) -> ServerConnection:
        return ServerConnection(
            hostname=self.hostname,
            port=self.port,
            use_tls=self.use_tls,
            username=self.username,
            secret=self.secret,
            verify_tls=self.verify_tls,
            timeout_s=self.timeout_s,
            extra=dict(self.extra or {}),
        )

    def clean(self) -> None:
        try:
            get_registrar_class(self.module)
        except ValueError:
            raise ValidationError({"module": _("Unknown registrar module.")}) from None


class RegistrarTld(models.Model):
    """One TLD and the account that registers it: a TLD has one registrar at a time."""

    schema_placement = "public"

    account = models.ForeignKey(RegistrarAccount, on_delete=models.CASCADE, related_name="tlds")
    tld = models.CharField(max_length=63, unique=True, help_text=_("Without the dot, as A-label."))

    class Meta:
        ordering = ["tld"]

    def __str__(self) -> str:
        return f".{self.tld} → {self.account.name}"


class PlanMapping(models.Model):
    """How a wholesale plan (by its code) is made: which server group and panel package."""

    schema_placement = "public"

    plan_code = models.SlugField(max_length=64, unique=True)
    group = models.ForeignKey(ServerGroup, on_delete=models.PROTECT, related_name="plan_mappings")
    package = models.CharField(
        max_length=100, help_text=_("The panel's package, plan or template.")
    )
    # ram_mb, disk_gb, cpu, ips, os...: passed to the module as AccountSpec.options.
    options = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["plan_code"]

    def __str__(self) -> str:
        return f"{self.plan_code} → {self.group.name}: {self.package}"


class ProvisionedService(models.Model):
    """One account on one server."""

    schema_placement = "public"

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        TERMINATED = "terminated", _("Terminated")
        FAILED = "failed", _("Failed")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    client_ref = models.CharField(max_length=64, help_text=_("Pseudonymous; never a name."))
    domain = models.CharField(max_length=253, blank=True)
    plan_code = models.CharField(max_length=64, blank=True)
    group = models.ForeignKey(
        ServerGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="services"
    )
    # Chosen when the create job first runs, so capacity is counted at that moment.
    server = models.ForeignKey(
        Server, null=True, blank=True, on_delete=models.PROTECT, related_name="services"
    )
    package = models.CharField(max_length=100, blank=True)
    options = models.JSONField(default=dict, blank=True)
    username = models.CharField(max_length=32)
    password_encrypted = models.TextField(blank=True, editable=False)
    remote_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # What the panel told us about the account, never a secret.
    details = models.JSONField(default=dict, blank=True)
    # resale.UpstreamService this account was made for (no foreign key: apps stay apart).
    upstream_service_id = models.BigIntegerField(null=True, blank=True, unique=True)
    last_job = models.ForeignKey(
        "ProvisioningJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["server", "status"])]

    def __str__(self) -> str:
        return f"{self.username} ({self.client_ref})"

    @property
    def password(self) -> str:
        return secret_decrypt(self.password_encrypted)

    @password.setter
    def password(self, value: str) -> None:
        self.password_encrypted = secret_encrypt(value)


class ProvisioningJob(models.Model):
    """One panel action for one service, retried until it succeeds or fails for good."""

    schema_placement = "public"

    class Action(models.TextChoices):
        CREATE = "create", _("Create")
        SUSPEND = "suspend", _("Suspend")
        UNSUSPEND = "unsuspend", _("Unsuspend")
        TERMINATE = "terminate", _("Terminate")
        CHANGE_PACKAGE = "change_package", _("Change package")
        CHANGE_OPTIONS = "change_options", _("Change options")

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    service = models.ForeignKey(ProvisionedService, on_delete=models.CASCADE, related_name="jobs")
    action = models.CharField(max_length=16, choices=Action.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    # package, reason, upstream_action: never a secret.
    params = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=8)
    # [{"at": iso time, "line": text}], with secrets masked before they are written.
    log = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    panel_message = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # While running, the job belongs to one worker until then; past it, a dead worker is
    # assumed and the relay queues the job again.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["state", "lease_expires_at"]),
            models.Index(fields=["service", "state"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.service} ({self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.SUCCEEDED, self.State.FAILED)
