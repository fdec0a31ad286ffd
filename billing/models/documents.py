"""Invoices, credit notes, payments and refunds.

An issued invoice or credit note is a legal document: its number, parties, lines and
amounts never change again (``save`` refuses, and so does a trigger in the database).
Corrections are credit notes. What may still change on an issued invoice is its payment
state and its rendered PDF."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from billing.errors import ImmutableRecordError
from billing.models.base import (
    TenantModel,
    currency_column,
    money_column,
    public_id_column,
    rate_column,
)
from billing.money import MoneyField

# Columns an issued invoice keeps for ever; the trigger in migration 0002 lists the same.
INVOICE_FROZEN_FIELDS = (
    "client_id",
    "number",
    "sequence_year",
    "sequence_number",
    "currency",
    "language",
    "issue_date",
    "due_date",
    "issued_at",
    "subtotal_amount",
    "tax_total_amount",
    "total_amount",
    "prices_include_tax",
    "reverse_charge",
    "tax_note",
    "seller",
    "buyer",
    "notes",
)
CREDIT_NOTE_FROZEN_FIELDS = (
    "invoice_id",
    "client_id",
    "number",
    "sequence_year",
    "sequence_number",
    "currency",
    "language",
    "issue_date",
    "issued_at",
    "reason",
    "subtotal_amount",
    "tax_total_amount",
    "total_amount",
    "reverse_charge",
    "tax_note",
    "seller",
    "buyer",
)


class _FrozenOnceIssued(TenantModel):
    """Refuses to save changes to ``frozen_fields`` of a row that was loaded issued."""

    frozen_fields: tuple[str, ...] = ()

    class Meta:
        abstract = True

    def _is_issued(self) -> bool:
        raise NotImplementedError

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._frozen_snapshot = (
            {name: instance.__dict__.get(name) for name in cls.frozen_fields}
            if instance._is_issued()
            else None
        )
        return instance

    def save(self, *args: Any, **kwargs: Any) -> None:
        snapshot = getattr(self, "_frozen_snapshot", None)
        if snapshot is not None:
            changed = [n for n, v in snapshot.items() if self.__dict__.get(n) != v]
            if changed:
                raise ImmutableRecordError(
                    f"{self} is issued and cannot be edited ({', '.join(changed)}); "
                    "issue a credit note instead."
                )
        super().save(*args, **kwargs)
        if self._is_issued():
            self._frozen_snapshot = {n: self.__dict__.get(n) for n in self.frozen_fields}

    def delete(self, *args: Any, **kwargs: Any):
        if self._is_issued() or getattr(self, "_frozen_snapshot", None) is not None:
            raise ImmutableRecordError(f"{self} is issued and cannot be deleted.")
        return super().delete(*args, **kwargs)


class Invoice(_FrozenOnceIssued):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ISSUED = "issued", _("Issued")
        PARTIALLY_PAID = "partially_paid", _("Partially paid")
        PAID = "paid", _("Paid")
        OVERDUE = "overdue", _("Overdue")
        CANCELLED = "cancelled", _("Cancelled")

    # Issued and waiting for money.
    OPEN_STATUSES = (Status.ISSUED, Status.PARTIALLY_PAID, Status.OVERDUE)

    frozen_fields = INVOICE_FROZEN_FIELDS

    public_id = public_id_column()
    # billing_invoice_client_idx (client, status) serves lookups by client.
    client = models.ForeignKey(
        "billing.Client", on_delete=models.PROTECT, related_name="invoices", db_index=False
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    # Empty until issued; then unique and gapless (billing.numbering).
    number = models.CharField(max_length=64, blank=True)
    sequence_year = models.PositiveSmallIntegerField(null=True, blank=True)
    sequence_number = models.PositiveIntegerField(null=True, blank=True)
    currency = currency_column()
    language = models.CharField(max_length=8, default="en")
    issue_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    subtotal_amount = money_column(help_text="Sum of the lines' net amounts.")
    tax_total_amount = money_column()
    total_amount = money_column(help_text="What the client owes: subtotal + tax.")
    # Money received net of refunds, and the total of credit notes against the invoice.
    paid_amount = money_column()
    credited_amount = money_column()

    prices_include_tax = models.BooleanField(default=False)
    reverse_charge = models.BooleanField(default=False)
    tax_note = models.CharField(max_length=300, blank=True)
    # Snapshots taken at issue (billing.services.parties.party_seller/party_buyer):
    # {name, address_lines, country, vat_number, tax_id, email, ...}; the buyer's has the
    # tax engine's decision under "tax" (rule, reasons, VIES check, location evidence).
    seller = models.JSONField(default=dict, blank=True)
    buyer = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True)

    pdf_file = models.FileField(upload_to="invoices/", blank=True)
    pdf_template_hash = models.CharField(max_length=64, blank=True)
    reminder_count = models.PositiveSmallIntegerField(default=0)
    last_reminder_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    subtotal = MoneyField("subtotal_amount")
    tax_total = MoneyField("tax_total_amount")
    total = MoneyField("total_amount")
    paid = MoneyField("paid_amount")
    credited = MoneyField("credited_amount")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "due_date"], name="billing_invoice_due_idx"),
            models.Index(fields=["client", "status"], name="billing_invoice_client_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["number"],
                condition=~models.Q(number=""),
                name="billing_invoice_number_unique",
            ),
            models.CheckConstraint(
                # A draft dropped before issue is cancelled without ever getting a number.
                # Written without IN: a cloned schema must print the same definition.
                condition=models.Q(status="draft")
                | models.Q(status="cancelled")
                | ~models.Q(number=""),
                name="billing_invoice_issued_has_number",
            ),
            models.CheckConstraint(
                condition=models.Q(status="draft") | models.Q(total_amount__gte=0),
                name="billing_invoice_total_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(paid_amount__gte=0, credited_amount__gte=0)
                & models.Q(paid_amount__lte=models.F("total_amount") - models.F("credited_amount")),
                name="billing_invoice_settled_within_total",
            ),
        ]

    def __str__(self) -> str:
        return f"Invoice {self.number}" if self.number else f"Draft invoice {self.public_id}"

    def _is_issued(self) -> bool:
        return self.status != self.Status.DRAFT

    @property
    def amount_due(self):
        """What is still to be paid: total less payments and credit notes."""
        return self.total - self.credited - self.paid

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class InvoiceLine(TenantModel):
    class Kind(models.TextChoices):
        SERVICE = "service", _("New service, first period")
        RENEWAL = "renewal", _("Renewal")
        SETUP_FEE = "setup_fee", _("Setup fee")
        OPTION = "option", _("Option")
        DISCOUNT = "discount", _("Discount")
        PRORATION = "proration", _("Plan change")
        DOMAIN_RESTORE = "domain_restore", _("Domain restore")
        OTHER = "other", _("Other")

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.OTHER)
    description = models.CharField(max_length=500)
    quantity = models.DecimalField(max_digits=10, decimal_places=2, default=1)
    currency = currency_column()
    unit_price_amount = money_column(help_text="In the invoice's price convention.")
    tax_rate = rate_column()
    tax_name = models.CharField(max_length=50, blank=True)
    # The tax engine's decision for the line (billing.taxes): what is sold, the EN 16931
    # VAT category and the rule that gave them.
    supply_type = models.CharField(max_length=16, default="electronic")
    vat_category = models.CharField(max_length=2, blank=True)
    tax_rule = models.CharField(max_length=32, blank=True)
    net_amount = money_column()
    tax_amount = money_column()
    total_amount = money_column()
    service = models.ForeignKey(
        "billing.Service",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoice_lines",
    )
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True, help_text="First day not covered.")

    unit_price = MoneyField("unit_price_amount")
    net = MoneyField("net_amount")
    tax = MoneyField("tax_amount")
    total = MoneyField("total_amount")

    class Meta:
        ordering = ["invoice", "position", "id"]
        constraints = [
            # A service's period is charged once: the billing run may run twice, a
            # renewal is still invoiced once.
            models.UniqueConstraint(
                fields=["service", "period_start"],
                # OR rather than IN: a cloned schema must print the same index definition.
                condition=models.Q(kind="service") | models.Q(kind="renewal"),
                name="billing_invoiceline_one_charge_per_period",
            ),
        ]

    def __str__(self) -> str:
        return self.description

    def save(self, *args: Any, **kwargs: Any) -> None:
        self._refuse_if_issued()
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any):
        self._refuse_if_issued()
        return super().delete(*args, **kwargs)

    def _refuse_if_issued(self) -> None:
        status = Invoice.objects.filter(pk=self.invoice_id).values_list("status", flat=True)
        if status and status[0] != Invoice.Status.DRAFT:
            raise ImmutableRecordError("The lines of an issued invoice cannot change.")


class CreditNote(_FrozenOnceIssued):
    """A correction of an issued invoice, in full or in part. Issued when created."""

    frozen_fields = CREDIT_NOTE_FROZEN_FIELDS

    public_id = public_id_column()
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    client = models.ForeignKey(
        "billing.Client", on_delete=models.PROTECT, related_name="credit_notes"
    )
    number = models.CharField(max_length=64)
    sequence_year = models.PositiveSmallIntegerField()
    sequence_number = models.PositiveIntegerField()
    currency = currency_column()
    language = models.CharField(max_length=8, default="en")
    issue_date = models.DateField()
    issued_at = models.DateTimeField()
    reason = models.CharField(max_length=500, blank=True)
    subtotal_amount = money_column()
    tax_total_amount = money_column()
    total_amount = money_column()
    # The part that the invoice had already been paid for, moved to account credit.
    to_credit_amount = money_column()
    reverse_charge = models.BooleanField(default=False)
    tax_note = models.CharField(max_length=300, blank=True)
    seller = models.JSONField(default=dict, blank=True)
    buyer = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    pdf_file = models.FileField(upload_to="credit_notes/", blank=True)
    pdf_template_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    subtotal = MoneyField("subtotal_amount")
    tax_total = MoneyField("tax_total_amount")
    total = MoneyField("total_amount")
    to_credit = MoneyField("to_credit_amount")

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["number"], name="billing_creditnote_number_key"),
            models.UniqueConstraint(
                fields=["idempotency_key"], name="billing_creditnote_idempotency_key_key"
            ),
            models.CheckConstraint(
                condition=models.Q(total_amount__gt=0), name="billing_creditnote_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"Credit note {self.number}"

    def _is_issued(self) -> bool:
        return True


class CreditNoteLine(TenantModel):
    credit_note = models.ForeignKey(CreditNote, on_delete=models.CASCADE, related_name="lines")
    invoice_line = models.ForeignKey(
        InvoiceLine,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credit_note_lines",
    )
    position = models.PositiveSmallIntegerField(default=0)
    description = models.CharField(max_length=500)
    quantity = models.DecimalField(max_digits=10, decimal_places=2, default=1)
    currency = currency_column()
    unit_price_amount = money_column()
    tax_rate = rate_column()
    tax_name = models.CharField(max_length=50, blank=True)
    vat_category = models.CharField(max_length=2, blank=True)
    tax_rule = models.CharField(max_length=32, blank=True)
    net_amount = money_column()
    tax_amount = money_column()
    total_amount = money_column()

    unit_price = MoneyField("unit_price_amount")
    net = MoneyField("net_amount")
    tax = MoneyField("tax_amount")
    total = MoneyField("total_amount")

    class Meta:
        ordering = ["credit_note", "position", "id"]

    def __str__(self) -> str:
        return self.description


class Payment(TenantModel):
    """Money received from a client: for an invoice, or (without one) as account credit.
    ``method`` ``account_credit`` is credit the client already had, applied to an
    invoice."""

    class Method(models.TextChoices):
        MANUAL = "manual", _("Manual")
        BANK_TRANSFER = "bank_transfer", _("Bank transfer")
        GATEWAY = "gateway", _("Payment gateway")
        ACCOUNT_CREDIT = "account_credit", _("Account credit")

    public_id = public_id_column()
    client = models.ForeignKey("billing.Client", on_delete=models.PROTECT, related_name="payments")
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    method = models.CharField(max_length=16, choices=Method.choices)
    gateway = models.CharField(max_length=32, blank=True, help_text="e.g. stripe")
    gateway_reference = models.CharField(max_length=255, blank=True)
    currency = currency_column()
    amount = money_column()
    refunded_amount = money_column()
    received_at = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True)
    # The issuing country of the card that paid, when the gateway tells it: a second piece
    # of evidence of where a consumer is (EU VAT, Article 24f of Regulation 282/2011).
    card_country = models.CharField(max_length=2, blank=True)
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    money = MoneyField("amount")
    refunded = MoneyField("refunded_amount")

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="billing_payment_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(refunded_amount__gte=0, refunded_amount__lte=models.F("amount")),
                name="billing_payment_refund_within_amount",
            ),
            models.UniqueConstraint(
                fields=["gateway", "gateway_reference"],
                condition=~models.Q(gateway_reference=""),
                name="billing_payment_gateway_reference_unique",
            ),
            models.UniqueConstraint(
                fields=["idempotency_key"], name="billing_payment_idempotency_key_key"
            ),
        ]

    def __str__(self) -> str:
        return f"Payment {self.money} ({self.get_method_display()})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Only the refunded total moves after a payment is recorded.
        if not self._state.adding and kwargs.get("update_fields") != ["refunded_amount"]:
            raise ImmutableRecordError("A recorded payment cannot be edited; refund it instead.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any):
        raise ImmutableRecordError("A recorded payment cannot be deleted; refund it instead.")


class Refund(TenantModel):
    """Money given back from a payment: to the client's card or bank, or to its
    account credit."""

    public_id = public_id_column()
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    currency = currency_column()
    amount = money_column()
    to_credit = models.BooleanField(default=False)
    gateway_reference = models.CharField(max_length=255, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(auto_now_add=True)

    money = MoneyField("amount")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"], name="billing_refund_idempotency_key_key"
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="billing_refund_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"Refund {self.money}"
