"""Billing models, one module per area; every table lives in each tenant schema."""

from billing.models import gateway  # noqa: F401  (payment models, billing.models.gateway)
from billing.models.base import BillingCycle
from billing.models.catalogue import (
    ConfigurableOption,
    ConfigurableOptionChoice,
    ConfigurableOptionPrice,
    DomainPolicy,
    DomainPrice,
    Plan,
    PlanPrice,
    Product,
    ProductGroup,
    TaxRule,
)
from billing.models.clients import Client, ClientUser, Contact, VatNumberCheck
from billing.models.commerce import (
    Cart,
    CartItem,
    CartItemOption,
    Coupon,
    CouponRedemption,
    DomainAction,
    Order,
    OrderItem,
)
from billing.models.documents import (
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    Payment,
    Refund,
)
from billing.models.emails import EmailTemplate
from billing.models.ledger import LedgerEntry
from billing.models.settings import BillingSettings, NumberSequence
from billing.models.subscriptions import Service, ServiceMrrChange, ServiceOption

__all__ = [
    "BillingCycle",
    "BillingSettings",
    "Cart",
    "CartItem",
    "CartItemOption",
    "Client",
    "ClientUser",
    "ConfigurableOption",
    "ConfigurableOptionChoice",
    "ConfigurableOptionPrice",
    "Contact",
    "Coupon",
    "CouponRedemption",
    "CreditNote",
    "CreditNoteLine",
    "DomainAction",
    "DomainPolicy",
    "DomainPrice",
    "EmailTemplate",
    "Invoice",
    "InvoiceLine",
    "LedgerEntry",
    "NumberSequence",
    "Order",
    "OrderItem",
    "Payment",
    "Plan",
    "PlanPrice",
    "Product",
    "ProductGroup",
    "Refund",
    "Service",
    "ServiceMrrChange",
    "ServiceOption",
    "TaxRule",
    "VatNumberCheck",
]
