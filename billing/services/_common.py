"""Small helpers the billing services share."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils import timezone

from billing.errors import BillingError
from billing.models import Client, Invoice, Service
from billing.money import Money, amount_validate


def money_input(
    value: Money | Any,
    *,
    currency: str,
    what: str = "The amount",
    allow_zero: bool = False,
    allow_negative: bool = False,
) -> Money:
    """An amount that came from a caller, checked: in the tenant's currency, a number,
    not absurd, no more decimals than the currency has, and positive unless allowed."""
    if isinstance(value, Money):
        if value.currency != currency:
            raise BillingError(f"{what} is in {value.currency}; this account bills in {currency}.")
        value = value.amount
    try:
        money = amount_validate(value, currency, allow_negative=allow_negative)
    except (TypeError, ValueError) as exc:
        raise BillingError(f"{what}: {exc}") from exc
    if money.amount == 0 and not allow_zero:
        raise BillingError(f"{what} must be more than zero.")
    return money


def today() -> date:
    return timezone.localdate()


def client_lock(client: Client) -> Client:
    """Serialises changes of one client's account credit. Take it before any invoice
    lock, always in this order, so two services never wait on each other."""
    return Client.objects.select_for_update().get(pk=client.pk)


def invoice_lock(invoice: Invoice) -> Invoice:
    return Invoice.objects.select_for_update().get(pk=invoice.pk)


def service_lock(service: Service) -> Service:
    return Service.objects.select_for_update().select_related("plan").get(pk=service.pk)
