"""How a tenant collects money through payment gateways: its gateway configuration, its
clients' customers and saved methods at the gateway, each attempt to collect an invoice,
the dunning of failed automatic charges, disputes, and the webhook events already
processed.

Secrets (a tenant's own API key, its webhook signing secret) are stored encrypted with
Fernet (``core.crypto``); nothing here holds a card number, only the brand
and last four digits a client needs to recognise a saved card."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

from billing.models.base import TenantModel, currency_column, money_column, public_id_column
from billing.money import MoneyField


def _default_dunning_days() -> list[int]:
    return [1, 3, 5]


class PaymentSettings(TenantModel):
    """One row per tenant schema: where the tenant's card payments land and how it
    collects. The money always lands on the tenant's own Stripe account, either a
    Connect account (direct charges, the platform optionally taking a fee) or an account
    whose keys the tenant entered itself; never on the provider's."""

    class StripeMode(models.TextChoices):
        DISABLED = "disabled", _("No card payments")
        CONNECT = "connect", _("Stripe Connect account")
        OWN_KEYS = "own_keys", _("Own Stripe API keys")

    class AutochargeWhen(models.TextChoices):
        ISSUE = "issue", _("As soon as the invoice is issued")
        DUE = "due", _("On the due date")

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID)
    stripe_mode = models.CharField(
        max_length=16, choices=StripeMode.choices, default=StripeMode.DISABLED
    )
    # The connected account (direct charges carry it as the Stripe-Account header).
    stripe_account_id = models.CharField(max_length=64, blank=True)
    stripe_charges_enabled = models.BooleanField(default=False)
    stripe_details_submitted = models.BooleanField(default=False)
    # Set by the provider only (billing.payments.gateways.config.payment_platform_fee_set).
    platform_fee_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    stripe_secret_key_encrypted = models.TextField(blank=True)
    stripe_publishable_key = models.CharField(max_length=255, blank=True)
    stripe_webhook_secret_encrypted = models.TextField(blank=True)
    bank_transfer_enabled = models.BooleanField(default=True)
    autocharge_when = models.CharField(
        max_length=8, choices=AutochargeWhen.choices, default=AutochargeWhen.DUE
    )
    dunning_days = ArrayField(
        models.PositiveSmallIntegerField(),
        default=_default_dunning_days,
        blank=True,
        help_text="Days after a failed automatic charge on which it is tried again.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("payment settings")
        verbose_name_plural = _("payment settings")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(id=1), name="billing_paymentsettings_single_row"
            ),
            models.CheckConstraint(
                condition=models.Q(platform_fee_percent__gte=0, platform_fee_percent__lt=100),
                name="billing_paymentsettings_fee_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Payment settings ({self.get_stripe_mode_display()})"


class GatewayCustomer(TenantModel):
    """A client as a customer at a gateway, on one gateway account: a tenant that moves
    from its own keys to Connect gets new customers there."""

    client = models.ForeignKey(
        "billing.Client", on_delete=models.PROTECT, related_name="gateway_customers"
    )
    gateway = models.CharField(max_length=32)
    account_ref = models.CharField(max_length=64, blank=True)
    customer_ref = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "account_ref", "client"], name="billing_gatewaycustomer_once"
            ),
            models.UniqueConstraint(
                fields=["gateway", "customer_ref"], name="billing_gatewaycustomer_ref_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gateway} {self.customer_ref}"


class SavedPaymentMethod(TenantModel):
    """A card the client saved at the gateway. ``autocharge`` is the client's consent to
    have its invoices charged to this card without being asked each time."""

    public_id = public_id_column()
    client = models.ForeignKey(
        "billing.Client", on_delete=models.PROTECT, related_name="saved_payment_methods"
    )
    customer = models.ForeignKey(GatewayCustomer, on_delete=models.PROTECT, related_name="methods")
    gateway = models.CharField(max_length=32)
    method_ref = models.CharField(max_length=255)
    kind = models.CharField(max_length=32, default="card")
    brand = models.CharField(max_length=32, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    autocharge = models.BooleanField(default=False)
    # When the client last chose for or against this card: a consent that reaches us
    # late (a webhook delivered out of order) never overrides a later choice.
    autocharge_decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "method_ref"], name="billing_savedpaymentmethod_ref_unique"
            ),
            # One card per client is used for automatic charges.
            models.UniqueConstraint(
                fields=["client"],
                condition=models.Q(autocharge=True, removed_at__isnull=True),
                name="billing_savedpaymentmethod_one_autocharge",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.brand or self.kind} •••• {self.last4}".strip()

    @property
    def is_active(self) -> bool:
        return self.removed_at is None


class PaymentAttempt(TenantModel):
    """One try to collect (part of) an invoice through a gateway: a checkout the client
    started, an automatic charge of a saved card, or a dunning retry. Its status follows
    the gateway's; once it succeeded, the money is a ``Payment``."""

    class Kind(models.TextChoices):
        CHECKOUT = "checkout", _("Paid by the client")
        AUTOCHARGE = "autocharge", _("Automatic charge")
        RETRY = "retry", _("Dunning retry")

    class Status(models.TextChoices):
        CREATED = "created", _("Created")
        PENDING = "pending", _("Waiting for the client")
        REQUIRES_ACTION = "requires_action", _("Waiting for authentication")
        PROCESSING = "processing", _("Processing")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELED = "canceled", _("Canceled")

    FINAL_STATUSES = (Status.SUCCEEDED, Status.CANCELED)

    public_id = public_id_column()
    # billing_attempt_invoice_idx (invoice, status) serves lookups by invoice.
    invoice = models.ForeignKey(
        "billing.Invoice", on_delete=models.PROTECT, related_name="payment_attempts", db_index=False
    )
    client = models.ForeignKey(
        "billing.Client", on_delete=models.PROTECT, related_name="payment_attempts"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CHECKOUT)
    gateway = models.CharField(max_length=32)
    account_ref = models.CharField(max_length=64, blank=True)
    intent_ref = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED)
    currency = currency_column()
    amount = money_column()
    method = models.ForeignKey(
        SavedPaymentMethod,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="attempts",
    )
    payment = models.ForeignKey(
        "billing.Payment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # A retried request (a double click, a second billing run) finds this row again.
    idempotency_key = models.CharField(max_length=150)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    action_url = models.URLField(max_length=2000, blank=True)
    action_notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    money = MoneyField("amount")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["invoice", "status"], name="billing_attempt_invoice_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"], name="billing_paymentattempt_idempotency_key_key"
            ),
            models.UniqueConstraint(
                fields=["gateway", "intent_ref"],
                condition=~models.Q(intent_ref=""),
                name="billing_paymentattempt_intent_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="billing_paymentattempt_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.money} ({self.status})"


class InvoiceDunning(TenantModel):
    """The collection of an invoice whose automatic charge failed: retried on the
    tenant's dunning days, the client told each time. Read as ``invoice.dunning``."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Retrying")
        RECOVERED = "recovered", _("Paid")
        EXHAUSTED = "exhausted", _("Retries exhausted")
        STOPPED = "stopped", _("Stopped")

    invoice = models.OneToOneField(
        "billing.Invoice", on_delete=models.PROTECT, related_name="dunning"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    started_on = models.DateField()
    failures = models.PositiveSmallIntegerField(default=0)
    next_attempt_on = models.DateField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_attempt_on"], name="billing_dunning_due_idx")
        ]

    def __str__(self) -> str:
        return f"Dunning of {self.invoice_id}: {self.status}"


class Dispute(TenantModel):
    """A chargeback the cardholder's bank opened on a payment."""

    public_id = public_id_column()
    gateway = models.CharField(max_length=32)
    dispute_ref = models.CharField(max_length=255)
    charge_ref = models.CharField(max_length=255, blank=True)
    intent_ref = models.CharField(max_length=255, blank=True)
    client = models.ForeignKey(
        "billing.Client", on_delete=models.PROTECT, null=True, blank=True, related_name="disputes"
    )
    invoice = models.ForeignKey(
        "billing.Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="disputes"
    )
    payment = models.ForeignKey(
        "billing.Payment", on_delete=models.PROTECT, null=True, blank=True, related_name="disputes"
    )
    currency = currency_column()
    amount = money_column()
    reason = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    money = MoneyField("amount")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "dispute_ref"], name="billing_dispute_ref_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"Dispute {self.dispute_ref} ({self.status})"


class ProcessedWebhookEvent(TenantModel):
    """A gateway event whose effect is committed: written in the same transaction as the
    effect, so a redelivered event finds it and does nothing."""

    gateway = models.CharField(max_length=32)
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    account_ref = models.CharField(max_length=64, blank=True)
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-processed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "event_id"], name="billing_processedwebhookevent_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gateway} {self.event_id} ({self.type})"
