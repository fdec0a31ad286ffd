"""The client ledger: every change of what a client owes, or of its account credit, is
one row appended here. Nothing updates or deletes a row (``save``/``delete`` refuse and a
database trigger refuses too). Balances are sums (billing.selectors).

Sign: positive = the client owes more. An entry that names an invoice moves what is due
on that invoice; one that names no invoice moves the client's account credit (adding
credit is negative: the client owes less). Moving money between the two (applying credit
to an invoice, a credit note on an already paid invoice) is a pair of entries that adds
up to zero."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from billing.errors import ImmutableRecordError
from billing.models.base import TenantModel, currency_column, money_column
from billing.money import MoneyField


class LedgerEntry(TenantModel):
    class Kind(models.TextChoices):
        INVOICE_ISSUED = "invoice_issued", _("Invoice issued")
        PAYMENT = "payment", _("Payment")
        REFUND = "refund", _("Refund")
        CREDIT_ADDED = "credit_added", _("Credit added")
        CREDIT_APPLIED = "credit_applied", _("Credit applied")
        CREDIT_NOTE = "credit_note", _("Credit note")
        ADJUSTMENT = "adjustment", _("Adjustment")

    # billing_ledger_client_idx (client, created_at) serves lookups by client.
    client = models.ForeignKey(
        "billing.Client", on_delete=models.PROTECT, related_name="ledger_entries", db_index=False
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    currency = currency_column()
    amount = money_column(default=None)
    invoice = models.ForeignKey(
        "billing.Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    payment = models.ForeignKey(
        "billing.Payment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    refund = models.ForeignKey(
        "billing.Refund", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    credit_note = models.ForeignKey(
        "billing.CreditNote", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    description = models.CharField(max_length=500, blank=True)
    # Writing the same fact twice (a retried webhook, a double click) hits this.
    idempotency_key = models.CharField(max_length=150, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    money = MoneyField("amount")

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = _("ledger entries")
        indexes = [
            models.Index(fields=["client", "created_at"], name="billing_ledger_client_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"], name="billing_ledgerentry_idempotency_key_key"
            ),
            models.CheckConstraint(
                condition=~models.Q(amount=0), name="billing_ledgerentry_not_zero"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.money}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableRecordError("Ledger entries are append-only; add a correcting entry.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any):
        raise ImmutableRecordError("Ledger entries are append-only; add a correcting entry.")
