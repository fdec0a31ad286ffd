"""Resale: the provider side lives in ``public`` (reseller accounts, wholesale price lists,
prepaid balances, upstream services); the tenant side (the outbox of upstream commands) in
each tenant schema. Each model says which with ``schema_placement`` (see config.routers).

Nothing here may hold an end client's personal data: the provider knows a reseller's
client only by a pseudonymous reference the reseller chose.
"""

from __future__ import annotations

import secrets
import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from billing.models.base import BillingCycle, currency_column, money_column
from billing.models.catalogue import DomainPolicy
from billing.money import MoneyField


def _public_id() -> str:
    return uuid.uuid4().hex


class PriceList(models.Model):
    """What resellers pay the provider. Each reseller account is on one list."""

    schema_placement = "public"

    name = models.CharField(max_length=100, unique=True)
    currency = currency_column(default="EUR")
    is_default = models.BooleanField(default=False)
    # The provider's own cost. Its retail brand buys only on such a list, so nothing a
    # reseller list adds on top (a markup, a surcharge) ever reaches the brand's debit.
    is_cost = models.BooleanField(
        default=False, help_text=_("What the provider's own retail brand pays: its cost.")
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.currency})"


class WholesalePlan(models.Model):
    """A plan the provider sells to resellers and provisions on its own servers."""

    schema_placement = "public"

    class ProductType(models.TextChoices):
        SHARED = "shared", _("Shared hosting")
        VPS = "vps", _("VPS")
        DEDICATED = "dedicated", _("Dedicated server")
        DOMAIN = "domain", _("Domain")
        LICENCE = "licence", _("Licence")
        OTHER = "other", _("Other")

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    product_type = models.CharField(max_length=16, choices=ProductType.choices)
    # The provisioning side: which module and panel package create this plan.
    module = models.CharField(max_length=32, default="simulated")
    package = models.CharField(max_length=100, blank=True)
    # Carried into a reseller's catalogue by the import: whether the plan's storefront
    # order asks the client for the hosting's domain.
    domain_policy = models.CharField(
        max_length=8, choices=DomainPolicy.choices, default=DomainPolicy.NONE
    )
    is_active = models.BooleanField(default=True, help_text=_("Withdrawn plans take no orders."))
    # Bumped on every change a reseller should hear about; imports remember the version.
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["product_type", "name"]

    def __str__(self) -> str:
        return self.name


class WholesalePrice(models.Model):
    schema_placement = "public"

    price_list = models.ForeignKey(PriceList, on_delete=models.CASCADE, related_name="prices")
    plan = models.ForeignKey(WholesalePlan, on_delete=models.CASCADE, related_name="prices")
    cycle = models.CharField(max_length=16, choices=BillingCycle.choices)
    price_amount = money_column()
    setup_fee_amount = money_column(default=Decimal("0"))
    currency = currency_column()

    price = MoneyField("price_amount")
    setup_fee = MoneyField("setup_fee_amount")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["price_list", "plan", "cycle"], name="resale_price_once_per_cycle"
            ),
            models.CheckConstraint(
                condition=models.Q(price_amount__gte=0, setup_fee_amount__gte=0),
                name="resale_price_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan} {self.cycle}: {self.price}"


class WholesaleOption(models.Model):
    """A configurable option the provider sells with its plans (extra RAM, disk, cores,
    IPv4 addresses, backups, a control-panel licence...). A ``select`` option takes one
    of its choices; a ``quantity`` option takes a number of its single choice's unit."""

    schema_placement = "public"

    class Kind(models.TextChoices):
        SELECT = "select", _("Pick one")
        QUANTITY = "quantity", _("Quantity")

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.SELECT)
    max_quantity = models.PositiveIntegerField(default=1)
    plans = models.ManyToManyField(WholesalePlan, blank=True, related_name="options")
    is_active = models.BooleanField(default=True, help_text=_("Withdrawn options take no orders."))
    # Bumped on every change a reseller should hear about, as for plans.
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WholesaleOptionChoice(models.Model):
    """One choice of an option and what the server module sets for it. ``settings`` are
    module knobs (``ram_mb``, ``disk_gb``, ``cpu``, ``ips``, ``backups``, ``addons``...)
    added on top of the plan's own; a quantity option's settings are per unit."""

    schema_placement = "public"

    option = models.ForeignKey(WholesaleOption, on_delete=models.CASCADE, related_name="choices")
    code = models.SlugField(max_length=64)
    name = models.CharField(max_length=200)
    settings = models.JSONField(default=dict, blank=True)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["option", "sort_order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["option", "code"], name="resale_option_choice_once")
        ]

    def __str__(self) -> str:
        return f"{self.option.name}: {self.name}"


class WholesaleOptionPrice(models.Model):
    """What one unit of a choice costs a reseller per cycle, on one price list."""

    schema_placement = "public"

    price_list = models.ForeignKey(
        PriceList, on_delete=models.CASCADE, related_name="option_prices"
    )
    choice = models.ForeignKey(
        WholesaleOptionChoice, on_delete=models.CASCADE, related_name="prices"
    )
    cycle = models.CharField(max_length=16, choices=BillingCycle.choices)
    price_amount = money_column()
    setup_fee_amount = money_column(default=Decimal("0"))
    currency = currency_column()

    price = MoneyField("price_amount")
    setup_fee = MoneyField("setup_fee_amount")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["price_list", "choice", "cycle"], name="resale_option_price_once_per_cycle"
            ),
            models.CheckConstraint(
                condition=models.Q(price_amount__gte=0, setup_fee_amount__gte=0),
                name="resale_option_price_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.choice} {self.cycle}: {self.price}"


class ResellerAccount(models.Model):
    """A tenant's account at the provider: its legal identity as the provider's customer,
    the currency it is invoiced in and how far its prepaid balance may go below zero."""

    schema_placement = "public"

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")

    public_id = models.CharField(max_length=32, unique=True, default=_public_id)
    tenant = models.OneToOneField(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="reseller_account"
    )
    legal_name = models.CharField(max_length=200)
    address = models.TextField(blank=True)
    country = models.CharField(max_length=2, blank=True)
    vat_number = models.CharField(max_length=32, blank=True)
    billing_email = models.EmailField(blank=True)
    currency = currency_column(default="EUR")
    price_list = models.ForeignKey(
        PriceList, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )
    credit_limit = money_column(default=Decimal("0"))
    low_balance_threshold = money_column(default=Decimal("50"))
    low_balance_alerted_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["legal_name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(credit_limit__gte=0), name="resale_credit_limit_not_negative"
            )
        ]

    def __str__(self) -> str:
        return self.legal_name


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ValidationError("Ledger entries are append-only; add a correcting entry.")

    def delete(self):
        raise ValidationError("Ledger entries are append-only; add a correcting entry.")


class BalanceEntry(models.Model):
    """One movement of a reseller's prepaid balance. Positive amounts add to the balance
    (top-ups, refunds), negative ones take from it (order and renewal debits). The
    balance is the sum of the entries; nothing is ever updated or deleted."""

    schema_placement = "public"

    class Kind(models.TextChoices):
        TOPUP = "topup", _("Top-up")
        ORDER_DEBIT = "order_debit", _("Order")
        RENEWAL_DEBIT = "renewal_debit", _("Renewal")
        REFUND = "refund", _("Refund")
        ADJUSTMENT = "adjustment", _("Adjustment")

    account = models.ForeignKey(ResellerAccount, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount_value = money_column()
    currency = currency_column()
    description = models.CharField(max_length=255)
    upstream_service = models.ForeignKey(
        "resale.UpstreamService",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="balance_entries",
    )
    upstream_domain = models.ForeignKey(
        "resale.UpstreamDomain",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="balance_entries",
    )
    # Makes a retried top-up, debit or renewal a no-op instead of a second movement.
    # NULL, not "", so that entries without a key don't collide on the unique constraint.
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    created_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    amount = MoneyField("amount_value")
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "idempotency_key"], name="resale_balance_entry_once"
            ),
        ]
        indexes = [models.Index(fields=["account", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("Ledger entries are append-only; add a correcting entry.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Ledger entries are append-only; add a correcting entry.")


class UpstreamService(models.Model):
    """A service the provider runs for a reseller's client, known only by the reseller's
    pseudonymous client reference."""

    schema_placement = "public"

    class Status(models.TextChoices):
        PROVISIONING = "provisioning", _("Provisioning")
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        TERMINATED = "terminated", _("Terminated")
        FAILED = "failed", _("Failed")

    class SuspendReason(models.TextChoices):
        NONE = "", _("None")
        RESELLER = "reseller", _("Suspended by the reseller")
        UNPAID = "unpaid", _("Reseller balance insufficient for renewal")

    public_id = models.CharField(max_length=32, unique=True, default=_public_id)
    account = models.ForeignKey(ResellerAccount, on_delete=models.PROTECT, related_name="services")
    plan = models.ForeignKey(WholesalePlan, on_delete=models.PROTECT, related_name="services")
    cycle = models.CharField(max_length=16, choices=BillingCycle.choices)
    client_ref = models.CharField(max_length=64, help_text=_("Pseudonymous; never a name."))
    domain = models.CharField(max_length=253, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROVISIONING)
    suspend_reason = models.CharField(max_length=16, choices=SuspendReason.choices, blank=True)
    price_amount = money_column()
    currency = currency_column()
    # The wholesale options the service carries: {option code: {"choice": choice code,
    # "quantity": n, "settings": {module knobs, already multiplied by the quantity}}}.
    options = models.JSONField(default=dict, blank=True)
    next_due_date = models.DateField(null=True, blank=True)
    # The row in provisioning that holds the panel account, once it exists.
    provisioned_service_id = models.BigIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    price = MoneyField("price_amount")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["account", "status"]),
            models.Index(fields=["status", "next_due_date"]),
        ]

    def __str__(self) -> str:
        return f"{self.plan.code} for {self.client_ref}"


class UpstreamRequest(models.Model):
    """The provider's memory of every command a reseller sent, by its idempotency key: the
    same key again returns the stored response and does nothing."""

    schema_placement = "public"

    account = models.ForeignKey(ResellerAccount, on_delete=models.CASCADE, related_name="requests")
    idempotency_key = models.CharField(max_length=128)
    action = models.CharField(max_length=32)
    request_hash = models.CharField(max_length=64)
    response = models.JSONField()
    upstream_service = models.ForeignKey(
        UpstreamService,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="requests",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "idempotency_key"], name="resale_request_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.idempotency_key}"


class DriftItem(models.Model):
    """One difference reconciliation found between what a reseller bills, what the
    provider holds and what the server reports. Safe kinds are repaired by a command;
    the rest wait for a person. Names only pseudonymous references, never a client."""

    schema_placement = "public"

    class Kind(models.TextChoices):
        MISSING_UPSTREAM = "missing_upstream", _("Billed but not held by the provider")
        UPSTREAM_TERMINATED = "upstream_terminated", _("Terminated at the provider")
        PLAN = "plan", _("Different plan")
        CYCLE = "cycle", _("Different billing cycle")
        OPTIONS = "options", _("Different options at the provider")
        SUSPENDED_UPSTREAM = "suspended_upstream", _("Suspended at the provider, active here")
        ACTIVE_UPSTREAM = "active_upstream", _("Active at the provider, suspended here")
        PAID_UNTIL = "paid_until", _("Provider paid-until behind")
        SERVER_MISSING = "server_missing", _("No account on the server")
        SERVER_STATUS = "server_status", _("Server status differs")
        SERVER_OPTIONS = "server_options", _("Server resources differ")
        NOT_BILLED = "not_billed", _("Held by the provider, not billed by the reseller")

    class State(models.TextChoices):
        OPEN = "open", _("Waiting for a person")
        REPAIRING = "repairing", _("Repair command sent")
        RESOLVED = "resolved", _("Resolved")

    account = models.ForeignKey(ResellerAccount, on_delete=models.CASCADE, related_name="drift")
    upstream_service = models.ForeignKey(
        UpstreamService, null=True, blank=True, on_delete=models.CASCADE, related_name="drift"
    )
    # The reseller's own service id (a random public id, not personal data).
    service_ref = models.CharField(max_length=64)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    expected = models.CharField(max_length=500, blank=True)
    found = models.CharField(max_length=500, blank=True)
    repair = models.CharField(max_length=32, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            # One live item per service and kind: a second run updates it, never doubles it.
            models.UniqueConstraint(
                fields=["account", "service_ref", "kind"],
                condition=~models.Q(state="resolved"),
                name="resale_drift_once_while_live",
            )
        ]
        indexes = [models.Index(fields=["account", "state"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.service_ref})"


class ResaleCredential(models.Model):
    """A credential the provider issues to a reseller's remote installation for the
    resale API. Only a hash is kept; the token is shown once."""

    schema_placement = "public"

    account = models.ForeignKey(
        ResellerAccount, on_delete=models.CASCADE, related_name="credentials"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    token_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @staticmethod
    def new_token() -> tuple[str, str]:
        prefix = secrets.token_hex(4)
        return prefix, f"tsr_{prefix}_{secrets.token_urlsafe(32)}"


# --- tenant side -------------------------------------------------------------------------


class ProviderNumberSequence(models.Model):
    """The provider's own gapless numbering of its wholesale invoices, per year."""

    schema_placement = "public"

    year = models.PositiveSmallIntegerField(unique=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


class WholesaleInvoice(models.Model):
    """The provider's invoice to a reseller for one month of wholesale usage (orders and
    renewals debited from the prepaid balance, less refunds). The seller is the provider,
    the buyer the reseller's legal identity; nobody else's name appears on it."""

    schema_placement = "public"

    account = models.ForeignKey(
        ResellerAccount, on_delete=models.PROTECT, related_name="wholesale_invoices"
    )
    number = models.CharField(max_length=32, unique=True)
    sequence_year = models.PositiveSmallIntegerField()
    sequence_number = models.PositiveIntegerField()
    period_start = models.DateField()
    period_end = models.DateField(help_text=_("First day not covered."))
    issue_date = models.DateField()
    currency = currency_column()
    subtotal_amount = money_column()
    tax_rate = models.DecimalField(max_digits=7, decimal_places=4, default=Decimal(0))
    tax_amount = money_column()
    total_amount = money_column()
    reverse_charge = models.BooleanField(default=False)
    tax_note = models.CharField(max_length=300, blank=True)
    seller = models.JSONField(default=dict)
    buyer = models.JSONField(default=dict)
    lines = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    subtotal = MoneyField("subtotal_amount")
    total = MoneyField("total_amount")

    class Meta:
        ordering = ["-issue_date", "-sequence_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "period_start"], name="resale_wholesale_invoice_once_per_period"
            ),
            models.UniqueConstraint(
                fields=["sequence_year", "sequence_number"],
                name="resale_wholesale_invoice_number_once",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class UpstreamLink(models.Model):
    """Where this tenant buys what it resells: the provider of this installation, or a
    remote Tessera installation over its resale API. One row per tenant schema."""

    schema_placement = "tenant"

    class Kind(models.TextChoices):
        LOCAL = "local", _("This installation's provider")
        REMOTE = "remote", _("A remote installation")

    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.LOCAL)
    base_url = models.URLField(blank=True)
    # Encrypted at rest; see resale.upstreams.
    token_encrypted = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.base_url or self.get_kind_display()


class RemoteDriftItem(models.Model):
    """A difference between what this tenant bills and what its remote provider (another
    installation, over the resale API) reports. Kept in the tenant's schema: the provider
    of this installation has no part in that relationship. Same kinds and states as
    ``DriftItem``; the remote provider reconciles its own servers."""

    schema_placement = "tenant"

    # This tenant's own service id, or "upstream:<ref>" for a service only the provider holds.
    service_ref = models.CharField(max_length=80)
    upstream_ref = models.CharField(max_length=64, blank=True)
    kind = models.CharField(max_length=24, choices=DriftItem.Kind.choices)
    state = models.CharField(
        max_length=16, choices=DriftItem.State.choices, default=DriftItem.State.OPEN
    )
    expected = models.CharField(max_length=500, blank=True)
    found = models.CharField(max_length=500, blank=True)
    repair = models.CharField(max_length=32, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["service_ref", "kind"],
                condition=~models.Q(state="resolved"),
                name="resale_remote_drift_once_while_live",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.service_ref})"


class UpstreamCommand(models.Model):
    """The outbox: a lifecycle change of a resold service, written in the same transaction
    as the change and sent upstream after commit. Never lost (the relay resends anything
    pending), never done twice (the upstream remembers the idempotency key)."""

    schema_placement = "tenant"

    class Action(models.TextChoices):
        CREATE = "create", _("Create")
        RENEW = "renew", _("Renew")
        SUSPEND = "suspend", _("Suspend")
        UNSUSPEND = "unsuspend", _("Unsuspend")
        TERMINATE = "terminate", _("Terminate")
        CHANGE_PLAN = "change_plan", _("Change plan")
        CHANGE_OPTIONS = "change_options", _("Change options")
        DOMAIN_REGISTER = "domain_register", _("Register domain")
        DOMAIN_TRANSFER = "domain_transfer", _("Transfer domain in")
        DOMAIN_RENEW = "domain_renew", _("Renew domain")
        DOMAIN_RESTORE = "domain_restore", _("Restore domain")

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        AWAITING_FUNDS = "awaiting_funds", _("Awaiting funds")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        # Stopped for good by the provider's staff, with the reason in ``last_error``.
        CANCELLED = "cancelled", _("Cancelled")

    public_id = models.CharField(max_length=32, default=_public_id)
    idempotency_key = models.CharField(max_length=128)
    action = models.CharField(max_length=16, choices=Action.choices)
    # The tenant's own service (billing) this command is about.
    service_ref = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=None, null=True, blank=True)
    last_error = models.TextField(blank=True)
    response = models.JSONField(default=dict, blank=True)
    upstream_ref = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["service_ref"], name="resale_command_service_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["public_id"], name="resale_upstreamcommand_public_id_key"
            ),
            models.UniqueConstraint(
                fields=["idempotency_key"], name="resale_upstreamcommand_idempotency_key_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.service_ref} ({self.state})"


# --- card payments at the provider (public) ------------------------------------------
# Reseller top-ups paid by card on the platform's own Stripe account, and the routing of
# Connect webhooks to the tenant a connected account belongs to. Services: resale.topups.


class ConnectedAccountRoute(models.Model):
    """Which tenant a Stripe Connect account belongs to: Connect events reach the
    platform's endpoint and are handled in that tenant's schema."""

    schema_placement = "public"

    account_id = models.CharField(max_length=64, unique=True)
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="stripe_accounts"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.account_id} → {self.tenant_id}"


class ResellerPaymentProfile(models.Model):
    """A reseller as a customer of the provider's Stripe account: its saved card and its
    automatic top-up rule (when the balance falls below the threshold, charge the card
    for the amount)."""

    schema_placement = "public"

    account = models.OneToOneField(
        ResellerAccount, on_delete=models.CASCADE, related_name="payment_profile"
    )
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    card_method_id = models.CharField(max_length=255, blank=True)
    card_brand = models.CharField(max_length=32, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    auto_topup_enabled = models.BooleanField(default=False)
    auto_topup_threshold = money_column(default=Decimal("0"))
    auto_topup_amount = money_column(default=Decimal("0"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(auto_topup_threshold__gte=0, auto_topup_amount__gte=0),
                name="resale_paymentprofile_amounts_not_negative",
            )
        ]

    def __str__(self) -> str:
        return f"Payment profile of {self.account_id}"


class ResellerTopUp(models.Model):
    """One card payment of a reseller into its prepaid balance. The balance moves once,
    when the payment succeeded, keyed by the PaymentIntent id."""

    schema_placement = "public"

    class Status(models.TextChoices):
        CREATED = "created", _("Created")
        PENDING = "pending", _("Waiting for the card")
        REQUIRES_ACTION = "requires_action", _("Waiting for authentication")
        PROCESSING = "processing", _("Processing")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELED = "canceled", _("Canceled")

    public_id = models.CharField(max_length=32, unique=True, default=_public_id)
    account = models.ForeignKey(ResellerAccount, on_delete=models.PROTECT, related_name="topups")
    amount_value = money_column()
    currency = currency_column()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED)
    automatic = models.BooleanField(default=False)
    intent_id = models.CharField(max_length=255, blank=True)
    idempotency_key = models.CharField(max_length=150, unique=True)
    error_message = models.CharField(max_length=500, blank=True)
    action_url = models.URLField(max_length=2000, blank=True)
    balance_entry = models.ForeignKey(
        BalanceEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    amount = MoneyField("amount_value")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["intent_id"],
                condition=~models.Q(intent_id=""),
                name="resale_topup_intent_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(amount_value__gt=0), name="resale_topup_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"Top-up {self.amount} ({self.status})"


class PlatformWebhookEvent(models.Model):
    """A Stripe event of the platform's own account whose effect is committed, written in
    the same transaction as the effect."""

    schema_placement = "public"

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    processed_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.event_id} ({self.type})"


class ProviderTicket(models.Model):
    """A reseller's escalation at the provider's desk: about one upstream service, naming
    the client only by the reseller's pseudonymous reference. Its text is what the
    reseller chose to share, after it saw exactly what would be sent."""

    schema_placement = "public"

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ANSWERED = "answered", _("Answered")
        RESELLER_REPLY = "reseller_reply", _("Reseller reply")
        CLOSED = "closed", _("Closed")

    public_id = models.CharField(max_length=32, unique=True, default=_public_id)
    account = models.ForeignKey(
        ResellerAccount, on_delete=models.PROTECT, related_name="provider_tickets"
    )
    upstream_service = models.ForeignKey(
        UpstreamService, on_delete=models.PROTECT, related_name="provider_tickets"
    )
    client_ref = models.CharField(max_length=64, help_text=_("Pseudonymous; never a name."))
    subject = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    idempotency_key = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "idempotency_key"], name="resale_provider_ticket_once"
            )
        ]
        indexes = [models.Index(fields=["status", "updated_at"])]

    def __str__(self) -> str:
        return f"{self.public_id[:8]} {self.subject}"


class ProviderTicketMessage(models.Model):
    """One message of an escalation, numbered within its ticket so that each side asks
    only for what came after the last one it has."""

    schema_placement = "public"

    class Author(models.TextChoices):
        RESELLER = "reseller", _("Reseller")
        PROVIDER = "provider", _("Provider")

    ticket = models.ForeignKey(ProviderTicket, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveIntegerField()
    author = models.CharField(max_length=8, choices=Author.choices)
    # Provider staff's name on the provider's replies; empty on the reseller's.
    author_label = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    # The reseller's key for a message it sent, so a retried send adds it once.
    idempotency_key = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["seq"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "seq"], name="resale_ptm_seq_once"),
            models.UniqueConstraint(
                fields=["ticket", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="resale_ptm_key_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id}#{self.seq} {self.author}"


# --- domains (provider side, public) -------------------------------------------------------
# The provider resells domain registrations through its registrar accounts. Services:
# resale.domains; the registrar modules: provisioning.registrars.


class WholesaleTld(models.Model):
    """A TLD the provider sells to resellers. Which registrar account registers it is
    provisioning's business (``provisioning.registrars.accounts``)."""

    schema_placement = "public"

    tld = models.CharField(max_length=63, unique=True, help_text=_("As an A-label: com, xn--p1ai."))
    is_active = models.BooleanField(default=True, help_text=_("Withdrawn TLDs take no orders."))
    # Bumped on every change a reseller should hear about, as for plans.
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tld"]

    def __str__(self) -> str:
        return f".{self.tld}"


class WholesaleTldPrice(models.Model):
    """What a reseller on a price list pays per year to register, transfer in, renew or
    restore (from redemption; a one-off fee, not per year) a name under the TLD."""

    schema_placement = "public"

    price_list = models.ForeignKey(PriceList, on_delete=models.CASCADE, related_name="tld_prices")
    tld = models.ForeignKey(WholesaleTld, on_delete=models.CASCADE, related_name="prices")
    currency = currency_column()
    register_amount = money_column()
    transfer_amount = money_column()
    renew_amount = money_column()
    restore_amount = money_column()

    register = MoneyField("register_amount")
    transfer = MoneyField("transfer_amount")
    renew = MoneyField("renew_amount")
    restore = MoneyField("restore_amount")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["price_list", "tld"], name="resale_tld_price_once"),
            models.CheckConstraint(
                condition=models.Q(
                    register_amount__gte=0,
                    transfer_amount__gte=0,
                    renew_amount__gte=0,
                    restore_amount__gte=0,
                ),
                name="resale_tld_price_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tld} on {self.price_list}"


class RegistrantHandle(models.Model):
    """The registrar's contact handle of one reseller client at one registrar. Only the
    handle is kept: the contact data itself passed through in memory."""

    schema_placement = "public"

    account = models.ForeignKey(
        ResellerAccount, on_delete=models.CASCADE, related_name="registrant_handles"
    )
    client_ref = models.CharField(max_length=64)
    # The registrar account ("module@host") the handle belongs to.
    registrar = models.CharField(max_length=100)
    handle = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "client_ref", "registrar"], name="resale_registrant_once"
            )
        ]

    def __str__(self) -> str:
        return self.handle


class UpstreamDomain(models.Model):
    """A domain the provider holds at a registrar for a reseller's client, known by the
    pseudonymous client reference and the registrar's contact handle only.

    ``operation`` is the registrar work still to do (register, transfer, renew,
    restore) with its own attempt bookkeeping, so a lost task or a killed worker delays
    it but never loses or repeats it (the relay picks up whatever is due)."""

    schema_placement = "public"

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PENDING_TRANSFER = "pending_transfer", _("Transfer pending")
        ACTIVE = "active", _("Active")
        EXPIRED = "expired", _("Expired")
        REDEMPTION = "redemption", _("Redemption period")
        TRANSFERRED_AWAY = "transferred_away", _("Transferred away")
        FAILED = "failed", _("Failed")

    class Operation(models.TextChoices):
        NONE = "", _("None")
        REGISTER = "register", _("Register")
        TRANSFER = "transfer", _("Transfer in")
        RENEW = "renew", _("Renew")
        RESTORE = "restore", _("Restore")

    public_id = models.CharField(max_length=32, unique=True, default=_public_id)
    account = models.ForeignKey(ResellerAccount, on_delete=models.PROTECT, related_name="domains")
    tld = models.ForeignKey(WholesaleTld, on_delete=models.PROTECT, related_name="domains")
    domain = models.CharField(max_length=253)
    client_ref = models.CharField(max_length=64, help_text=_("Pseudonymous; never a name."))
    registrant_handle = models.CharField(max_length=64, blank=True)
    registrar = models.CharField(max_length=100, blank=True)
    remote_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    expires_on = models.DateField(null=True, blank=True)
    nameservers = models.JSONField(default=list, blank=True)
    locked = models.BooleanField(default=True)
    operation = models.CharField(max_length=16, choices=Operation.choices, blank=True)
    operation_years = models.PositiveSmallIntegerField(default=1)
    # The expiry the pending renewal extends: the registry's expiry when it was accepted.
    operation_from_expiry = models.DateField(null=True, blank=True)
    operation_key = models.CharField(max_length=160, blank=True)
    operation_attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A transfer's auth code until the registry has the request, Fernet-encrypted.
    auth_code_encrypted = models.TextField(blank=True)
    last_error = models.TextField(blank=True)
    # Why the last operation failed, as a stable code (``resale.domains.failure_code``):
    # the reseller's installation words it in its client's language, whether it hears
    # of the failure pushed or asks for it (a remote installation, a push lost).
    failure_code = models.CharField(max_length=64, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["domain"]
        constraints = [
            # One live holding of a name at a time.
            models.UniqueConstraint(
                fields=["domain"],
                condition=~models.Q(status__in=["failed", "transferred_away"]),
                name="resale_domain_once_while_held",
            )
        ]
        indexes = [
            models.Index(fields=["account", "status"]),
            models.Index(fields=["operation", "next_attempt_at"]),
        ]

    def __str__(self) -> str:
        return self.domain


class ResoldDomain(models.Model):
    """The tenant's view of a domain the provider holds for one of its services: the
    registry's status and expiry as last reported (the registry's expiry is the truth)."""

    schema_placement = "tenant"

    # The tenant's own service (billing) that sells the domain.
    service_ref = models.CharField(max_length=64, unique=True)
    upstream_ref = models.CharField(max_length=64, blank=True)
    domain = models.CharField(max_length=253)
    status = models.CharField(max_length=20, default="pending")
    expires_on = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    def get_status_label(self) -> str:
        """The status as the provider's domain record names it, translated."""
        try:
            return str(UpstreamDomain.Status(self.status).label)
        except ValueError:
            return self.status
