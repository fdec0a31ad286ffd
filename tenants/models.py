from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin


class Tenant(TenantMixin):
    """A legal entity that sells on Tessera: the platform itself, the provider's retail
    brand, or a reseller. Each has its own PostgreSQL schema."""

    class Kind(models.TextChoices):
        PLATFORM = "platform", _("Platform")
        RETAIL = "retail", _("Retail brand")
        RESELLER = "reseller", _("Reseller")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")

    name = models.CharField(_("display name"), max_length=200)
    slug = models.SlugField(max_length=63, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.RESELLER)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    default_language = models.CharField(max_length=8, default="en")
    created_at = models.DateTimeField(auto_now_add=True)
    # The migrations the schema is at (tenants.deploys.code_migration_state), written in
    # the transaction that migrates it: a deploy skips every tenant already at the code's.
    migration_state = models.CharField(max_length=64, blank=True, default="", db_index=True)

    # Schemas are created explicitly by tenants.services.tenant_create, by cloning the
    # template, so that a save() never silently replays migrations.
    auto_create_schema = False
    auto_drop_schema = True

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def primary_domain(self) -> Domain | None:
        return self.domains.filter(is_primary=True).first()


def _verification_token() -> str:
    return secrets.token_urlsafe(24)


class Domain(DomainMixin):
    """A hostname that serves one tenant. Platform subdomains are verified from birth;
    a reseller's own domain is verified by a DNS TXT record before it may get a
    certificate or become primary."""

    is_verified = models.BooleanField(default=False)
    verification_token = models.CharField(max_length=64, default=_verification_token)
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_primary", "domain"]

    def __str__(self) -> str:
        return self.domain


class SchemaState(models.Model):
    """The migration state of a schema no tenant row describes: public and the template."""

    schema_name = models.CharField(max_length=63, unique=True)
    migration_state = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.schema_name} at {self.migration_state[:12]}"


class PooledSchema(models.Model):
    """A copy of the template waiting to become a tenant's schema (tenants.pool). It is
    good only while the template is at ``migration_state``."""

    schema_name = models.CharField(max_length=63, unique=True)
    migration_state = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.schema_name


class TenantDueWork(models.Model):
    """Public: that a tenant has periodic work of one kind due from ``due_at``. Written
    in the transaction that writes the tenant's own row needing the work (the tenant's
    schema and public share the connection), moved on or removed by the sweep once the
    work is done (``tenants.due_work``). A periodic sweep reads this table with one indexed
    query and visits only the tenants it names, so idle tenants cost nothing."""

    class Kind(models.TextChoices):
        OUTBOX = "outbox", _("Upstream commands to send or check")
        BILLING_RUN = "billing_run", _("Billing run")
        TICKETS_CLOSE = "tickets_close", _("Answered tickets to close")
        TICKETS_SLA = "tickets_sla", _("Ticket answers falling due")
        MAILBOXES = "mailboxes", _("Support mailboxes to read")
        ESCALATIONS = "escalations", _("Escalations to sync with the provider")
        # Only a fan-out's kind: which tenants reconcile is read from the provider's
        # tables (resale.tasks.reconciliation_due_schemas), never marked.
        RECONCILIATION = "reconciliation", _("Reconciliation with the provider")

    tenant = models.ForeignKey(
        Tenant,
        to_field="schema_name",
        db_column="schema_name",
        on_delete=models.CASCADE,
        related_name="due_work",
        # The (tenant, kind) index serves lookups by tenant.
        db_index=False,
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    due_at = models.DateTimeField()
    # A sweep that queued the tenant's task holds it until then; a task lost with its
    # worker leaves the row to the first sweep after that.
    leased_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        # Not unique per (tenant, kind): a mark only inserts, so that it never waits for
        # another transaction's mark (tenants.due_work); the settling folds the rows.
        indexes = [
            models.Index(fields=["kind", "due_at"], name="tenants_due_work_due_idx"),
            models.Index(fields=["tenant", "kind"], name="tenants_due_work_tenant_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.kind} from {self.due_at:%Y-%m-%d %H:%M:%S}"


class FanOutRun(models.Model):
    """Public: one fan-out of per-tenant work (the daily billing run), with its progress:
    how many tenants it found due, how many are done and how many failed."""

    kind = models.CharField(max_length=16, choices=TenantDueWork.Kind.choices)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    failed_schemas = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.started_at:%Y-%m-%d %H:%M}: {self.done}/{self.total}"
