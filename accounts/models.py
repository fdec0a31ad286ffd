"""People who log in. The table exists in every schema: provider staff live in ``public``,
a tenant's staff and its clients live in that tenant's schema, so an account of one tenant
simply does not exist on another tenant's host."""

from __future__ import annotations

import uuid
from datetime import date

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractBaseUser, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> User:
        fields.update(kind=User.Kind.STAFF, role=User.Role.OWNER, is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    class Kind(models.TextChoices):
        STAFF = "staff", _("Staff")
        CLIENT = "client", _("Client")

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        ADMIN = "admin", _("Administrator")
        BILLING = "billing", _("Billing")
        SUPPORT = "support", _("Support")
        READONLY = "readonly", _("Read-only")

    email = models.EmailField(_("e-mail address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=200, blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.CLIENT)
    role = models.CharField(max_length=16, choices=Role.choices, blank=True)
    language = models.CharField(max_length=8, blank=True)
    is_active = models.BooleanField(default=True)
    # Django admin access; provider and reseller consoles check ``kind`` and ``role``.
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def is_tenant_staff(self) -> bool:
        return self.kind == self.Kind.STAFF and self.is_active


# --- portal: branding and privacy requests (tenant schemas only) -------------------------
# These describe one tenant's site and clients, so they exist in tenant schemas and never
# in ``public`` (config.routers reads ``schema_placement``).


class Branding(models.Model):
    """How the tenant's storefront, client area and console look: one row per tenant
    schema. Validation of uploads and colours lives in accounts.branding."""

    schema_placement = "tenant"
    SINGLETON_ID = 1
    DEFAULT_COLOR = "#2f5d8a"

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID)
    company_name = models.CharField(_("company name"), max_length=200, blank=True)
    brand_color = models.CharField(_("brand colour"), max_length=7, default=DEFAULT_COLOR)
    logo = models.FileField(_("logo"), upload_to="branding/", blank=True)
    favicon = models.FileField(_("favicon"), upload_to="branding/", blank=True)
    legal_footer = models.TextField(_("legal footer"), blank=True)
    homepage_title = models.CharField(_("homepage title"), max_length=200, blank=True)
    homepage_text = models.TextField(_("homepage text"), blank=True)
    terms_text = models.TextField(_("terms of service"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("branding")
        verbose_name_plural = _("branding")
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="accounts_branding_single_row"),
        ]

    def __str__(self) -> str:
        return self.company_name or "Branding"


class TermsVersion(models.Model):
    """One published text of the tenant's terms of service. Saving different terms on the
    branding page publishes the next version; earlier versions are never changed (a
    trigger refuses it), so an order can always show the very text its client accepted."""

    schema_placement = "tenant"

    version = models.PositiveIntegerField(_("version"), unique=True)
    text = models.TextField(_("terms of service"))
    published_at = models.DateTimeField(_("published"), default=timezone.now)

    class Meta:
        ordering = ["-version"]
        verbose_name = _("terms of service version")
        verbose_name_plural = _("terms of service versions")

    def __str__(self) -> str:
        return f"Terms v{self.version}"

    @property
    def published_on(self) -> date:
        """The day of publication in the site's time zone: what a reader is told."""
        return timezone.localdate(self.published_at)


def _privacy_request_public_id():
    return uuid.uuid4()


class PrivacyRequest(models.Model):
    """A client's request for a copy of its data or for its erasure. Recorded here; the
    work itself is done by the data-protection tooling, which moves the status on."""

    schema_placement = "tenant"

    class Kind(models.TextChoices):
        EXPORT = "export", _("Data export")
        ERASURE = "erasure", _("Erasure")

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        IN_PROGRESS = "in_progress", _("In progress")
        COMPLETED = "completed", _("Completed")
        REFUSED = "refused", _("Refused")

    public_id = models.UUIDField(default=_privacy_request_public_id, unique=True, editable=False)
    client = models.ForeignKey(
        "billing.Client", on_delete=models.PROTECT, related_name="privacy_requests"
    )
    requested_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One open request of each kind per client: asking twice changes nothing.
            # OR rather than IN: a cloned schema must print the same index definition.
            models.UniqueConstraint(
                fields=["client", "kind"],
                condition=models.Q(status="received") | models.Q(status="in_progress"),
                name="accounts_privacyrequest_one_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.RECEIVED, self.Status.IN_PROGRESS)


# --- Tenant API access: keys, idempotency records, outgoing webhooks ---------------------
# Tenant schemas only (config.routers.SchemaPlacementRouter): a key, a stored response or a
# webhook of one tenant does not exist on another tenant's host. Services and the REST API
# that use these live in api.


class ApiKey(models.Model):
    """A credential for the tenant's REST API. Only the SHA-256 of the token is kept; the
    token is shown once, when the key is made (api.keys.api_key_create)."""

    schema_placement = "tenant"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    # The visible start of the token ("tsk_…"), to tell keys apart in lists and logs.
    prefix = models.CharField(max_length=32)
    token_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list, blank=True)
    # Addresses or networks (CIDR) the key may be used from; empty means anywhere.
    allowed_ips = models.JSONField(default=list, blank=True)
    # Requests per minute; empty means the platform default.
    rate_limit_per_minute = models.PositiveIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API key")
        constraints = [
            models.UniqueConstraint(fields=["prefix"], name="accounts_apikey_prefix_key")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class ApiIdempotencyRecord(models.Model):
    """The first response to a POST sent with an ``Idempotency-Key`` header, kept so that
    the same request sent again gets the same answer instead of acting twice."""

    schema_placement = "tenant"

    # accounts_idempotency_once (api_key, key) serves lookups by API key.
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+", db_index=False)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    # Empty while the first request is still running.
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="accounts_idempotency_once")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"


class WebhookEndpoint(models.Model):
    """A URL of the tenant's own systems that hears about billing events, signed with a
    secret only the tenant and Tessera know."""

    schema_placement = "tenant"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    # Event types it receives; empty means every type.
    events = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    # Encrypted at rest with FIELD_ENCRYPTION_KEY.
    secret_encrypted = models.TextField()
    # Only set by trusted code (the console, tests): the API never lets a key aim
    # deliveries at the installation's own network.
    private_network_allowed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event sent (or being sent) to one endpoint: the delivery log. A replay is a new
    delivery of the same event (same event id and payload)."""

    schema_placement = "tenant"

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.UUIDField(db_index=True)
    event_type = models.CharField(max_length=64)
    payload = models.JSONField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)
    # CASCADE: a log entry goes with its original (both go with their endpoint); SET_NULL
    # would briefly make a replay look like a second original.
    replay_of = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="replays"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # An event reaches an endpoint once, however often its cause is saved; replays
            # are the deliberate exception.
            models.UniqueConstraint(
                fields=["endpoint", "event_id"],
                condition=models.Q(replay_of__isnull=True),
                name="accounts_webhookdelivery_once",
            )
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.state})"


# --- Sign-in rules of a tenant's staff (tenant schemas only) -----------------------------


class SecuritySettings(models.Model):
    """How a tenant's staff must sign in: one row per tenant schema, changed by an owner
    only (accounts.two_factor.staff_two_factor_require_set). The provider's own staff follow
    ``PROVIDER_REQUIRE_2FA`` instead, which comes from the environment."""

    schema_placement = "tenant"
    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID)
    staff_two_factor_required = models.BooleanField(
        _("two-factor authentication required for staff"), default=False
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("security settings")
        verbose_name_plural = _("security settings")
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="accounts_security_single_row"),
        ]

    def __str__(self) -> str:
        return "Security settings"
