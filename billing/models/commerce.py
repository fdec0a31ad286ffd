"""Buying: coupons, carts, orders."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from billing.models.base import (
    BillingCycle,
    TenantModel,
    currency_column,
    money_column,
    public_id_column,
)
from billing.money import MoneyField


class DomainAction(models.TextChoices):
    REGISTER = "register", _("Registration")
    TRANSFER = "transfer", _("Transfer")


class Coupon(TenantModel):
    class Kind(models.TextChoices):
        PERCENT = "percent", _("Percentage")
        FIXED = "fixed", _("Fixed amount")

    class AppliesTo(models.TextChoices):
        FIRST_PERIOD = "first_period", _("First period only")
        RECURRING = "recurring", _("Every period")

    # Stored upper-case: codes are typed by people and compared without case.
    code = models.CharField(max_length=50)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    value = models.DecimalField(
        max_digits=14, decimal_places=4, help_text="Percent (10 = 10 %) or an amount."
    )
    currency = currency_column(blank=True, help_text="Of a fixed amount.")
    applies_to = models.CharField(
        max_length=16, choices=AppliesTo.choices, default=AppliesTo.FIRST_PERIOD
    )
    valid_from = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    max_uses = models.PositiveIntegerField(null=True, blank=True, help_text="Empty = no limit")
    max_uses_per_client = models.PositiveIntegerField(null=True, blank=True)
    plans = models.ManyToManyField(
        "billing.Plan", blank=True, related_name="coupons", help_text="Empty = every plan"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["code"], name="billing_coupon_code_key"),
            models.CheckConstraint(condition=models.Q(value__gt=0), name="billing_coupon_positive"),
            models.CheckConstraint(
                condition=~models.Q(kind="percent") | models.Q(value__lte=100),
                name="billing_coupon_percent_range",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class CouponRedemption(TenantModel):
    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="redemptions")
    client = models.ForeignKey(
        "billing.Client", on_delete=models.PROTECT, related_name="coupon_redemptions"
    )
    order = models.OneToOneField(
        "billing.Order", on_delete=models.PROTECT, related_name="coupon_redemption"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]


class Cart(TenantModel):
    """A visitor's (by session) or a client's basket, until checkout."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CHECKED_OUT = "checked_out", _("Checked out")

    public_id = public_id_column()
    client = models.ForeignKey(
        "billing.Client", on_delete=models.CASCADE, null=True, blank=True, related_name="carts"
    )
    # Only recorded: a cart is found again by its public id (kept in the session) or its
    # client, so the column needs no index.
    session_key = models.CharField(max_length=64, blank=True)
    coupon = models.ForeignKey(Coupon, on_delete=models.SET_NULL, null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Cart {self.public_id}"


class CartItem(TenantModel):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="items")
    plan = models.ForeignKey("billing.Plan", on_delete=models.CASCADE, related_name="+")
    cycle = models.CharField(max_length=16, choices=BillingCycle.choices)
    quantity = models.PositiveIntegerField(default=1)
    domain_name = models.CharField(max_length=253, blank=True)
    # A domain plan's item registers the name, or transfers it in with its auth code
    # (Fernet-encrypted: a secret of the client's, never shown again).
    domain_action = models.CharField(max_length=8, choices=DomainAction.choices, blank=True)
    domain_auth_code_encrypted = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["cart", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gte=1), name="billing_cartitem_quantity_positive"
            ),
        ]


class CartItemOption(TenantModel):
    # billing_cartitemoption_once (item, option) serves lookups by item.
    item = models.ForeignKey(
        CartItem, on_delete=models.CASCADE, related_name="options", db_index=False
    )
    option = models.ForeignKey("billing.ConfigurableOption", on_delete=models.CASCADE)
    choice = models.ForeignKey("billing.ConfigurableOptionChoice", on_delete=models.CASCADE)
    quantity = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "option"], name="billing_cartitemoption_once"),
        ]


class Order(TenantModel):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    public_id = public_id_column()
    client = models.ForeignKey("billing.Client", on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    currency = currency_column()
    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, null=True, blank=True)
    subtotal_amount = money_column()
    discount_amount = money_column()
    tax_total_amount = money_column()
    total_amount = money_column()
    invoice = models.OneToOneField(
        "billing.Invoice",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="order",
    )
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(auto_now_add=True)
    # The terms of service the buyer accepted at checkout, when and from where: the
    # evidence of the contract. Empty for orders placed where no one accepts terms (the
    # tenant has none, or staff and the API order for a client).
    terms_version = models.ForeignKey(
        "accounts.TermsVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    terms_accepted_at = models.DateTimeField(null=True, blank=True)
    terms_accepted_ip = models.GenericIPAddressField(null=True, blank=True)

    subtotal = MoneyField("subtotal_amount")
    discount = MoneyField("discount_amount")
    tax_total = MoneyField("tax_total_amount")
    total = MoneyField("total_amount")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"], name="billing_order_idempotency_key_key"
            ),
        ]

    def __str__(self) -> str:
        return f"Order {self.public_id}"


class OrderItem(TenantModel):
    """One line of an order, priced as at checkout: later catalogue changes don't
    reprice it."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    plan = models.ForeignKey("billing.Plan", on_delete=models.PROTECT, related_name="+")
    cycle = models.CharField(max_length=16, choices=BillingCycle.choices)
    quantity = models.PositiveIntegerField(default=1)
    domain_name = models.CharField(max_length=253, blank=True)
    domain_action = models.CharField(max_length=8, choices=DomainAction.choices, blank=True)
    domain_auth_code_encrypted = models.TextField(blank=True)
    description = models.CharField(max_length=500)
    currency = currency_column()
    # Per unit: the catalogue price of the plan and its options for one period, the
    # setup fees, the first period's discount and the price of every later period.
    price_amount = money_column()
    setup_fee_amount = money_column()
    discount_amount = money_column()
    recurring_amount = money_column()
    options = models.JSONField(default=list, blank=True)

    price = MoneyField("price_amount")
    setup_fee = MoneyField("setup_fee_amount")
    discount = MoneyField("discount_amount")
    recurring = MoneyField("recurring_amount")

    class Meta:
        ordering = ["order", "id"]
