"""A client's service: what it bought, its cycle, and where it stands."""

from __future__ import annotations

from datetime import date

from django.db import models
from django.utils.translation import gettext_lazy as _

from billing.cycles import CYCLE_MONTHS, add_months
from billing.models.base import (
    BillingCycle,
    TenantModel,
    currency_column,
    money_column,
    public_id_column,
)
from billing.money import MoneyField


class Service(TenantModel):
    """A subscription. ``recurring_amount`` is what each renewal charges, in the
    tenant's price convention (net, or gross when prices include tax), coupons and
    options included; tax is computed when an invoice is made. ``next_due_date`` is the
    first day not yet paid for (None for a one-time purchase)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        TERMINATED = "terminated", _("Terminated")
        CANCELLED = "cancelled", _("Cancelled")

    public_id = public_id_column()
    # billing_service_client_idx (client, status) serves lookups by client.
    client = models.ForeignKey(
        "billing.Client", on_delete=models.PROTECT, related_name="services", db_index=False
    )
    plan = models.ForeignKey("billing.Plan", on_delete=models.PROTECT, related_name="services")
    order_item = models.ForeignKey(
        "billing.OrderItem",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="services",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    billing_cycle = models.CharField(max_length=16, choices=BillingCycle.choices)
    currency = currency_column()
    recurring_amount = money_column()
    domain_name = models.CharField(max_length=253, blank=True)
    label = models.CharField(max_length=200, blank=True)
    registration_date = models.DateField()
    next_due_date = models.DateField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    cancellation_reason = models.TextField(blank=True)
    suspension_reason = models.CharField(max_length=200, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    terminated_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    recurring = MoneyField("recurring_amount")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_due_date"], name="billing_service_due_idx"),
            models.Index(fields=["client", "status"], name="billing_service_client_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(recurring_amount__gte=0),
                name="billing_service_recurring_not_negative",
            ),
        ]

    def __str__(self) -> str:
        label = self.label or self.domain_name or self.plan.name
        return f"{label} ({self.get_status_display()})"

    @property
    def is_recurring(self) -> bool:
        return self.billing_cycle != BillingCycle.ONE_TIME

    @property
    def current_period_start(self) -> date | None:
        """The first day of the period that ends at ``next_due_date``."""
        if not self.is_recurring or self.next_due_date is None:
            return None
        return add_months(self.next_due_date, -CYCLE_MONTHS[self.billing_cycle])


class ServiceOption(TenantModel):
    # billing_serviceoption_once (service, option) serves lookups by service.
    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="options", db_index=False
    )
    option = models.ForeignKey("billing.ConfigurableOption", on_delete=models.PROTECT)
    choice = models.ForeignKey("billing.ConfigurableOptionChoice", on_delete=models.PROTECT)
    quantity = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["service", "option"], name="billing_serviceoption_once"
            ),
        ]


class ServiceMrrChange(TenantModel):
    """One change of a service's monthly recurring revenue (its cycle price divided by the
    cycle's months; nothing while pending, cancelled or terminated), written by the
    service that caused it. A service's current MRR is a column that is overwritten, so
    the month-by-month movement (new, expansion, contraction, churn) can only be read from
    this append-only record. ``on_date`` is the day the change counts in."""

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="mrr_changes")
    on_date = models.DateField()
    currency = currency_column()
    mrr_before_amount = money_column()
    mrr_after_amount = money_column()
    created_at = models.DateTimeField(auto_now_add=True)

    mrr_before = MoneyField("mrr_before_amount")
    mrr_after = MoneyField("mrr_after_amount")

    class Meta:
        ordering = ["on_date", "id"]
        indexes = [models.Index(fields=["on_date"], name="billing_mrrchange_date_idx")]

    def __str__(self) -> str:
        return f"{self.service_id}: {self.mrr_before_amount} → {self.mrr_after_amount}"
