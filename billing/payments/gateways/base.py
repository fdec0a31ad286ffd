"""The interface every payment gateway implements.

A gateway only talks to the payment provider: it starts and finishes payments, saves and
charges payment methods and refunds, and answers in the neutral types below. It never
writes billing rows; ``billing.payments.flows`` turns its answers into payments, refunds
and credit notes. So adding a provider (PayPal, GoCardless ...) means one module here
and a ``gateway_register`` call, and nothing in billing changes.

Errors: a refused card is not an exception, it is a ``PaymentState`` with status
``FAILED`` and the provider's message for the client. ``GatewayUnavailable`` means try
again later with the same idempotency key; ``GatewayConfigError`` means a person has to
fix a key, an account or the request; ``GatewayUnsupported`` that this gateway cannot do
that at all (a bank transfer cannot be charged off-session).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from billing.money import Money


class GatewayError(Exception):
    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class GatewayUnavailable(GatewayError):
    """The provider could not be reached or failed on its side."""


class GatewayConfigError(GatewayError):
    """Missing or wrong credentials, an account that cannot take payments, or a request
    the provider refuses."""


class GatewayUnsupported(GatewayError):
    """This gateway has no such operation."""


class IntentStatus(StrEnum):
    PENDING = "pending"  # waiting for the client to enter or confirm a method
    REQUIRES_ACTION = "requires_action"  # waiting for 3-D Secure or a redirect
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the last try was refused; the client may try again
    CANCELED = "canceled"


@dataclass(frozen=True)
class PaymentRequest:
    """What to collect. ``order_ref`` names what is paid (an invoice id, a top-up) and
    ``schema`` the tenant schema it belongs to; both travel with the payment so that an
    event about it can be traced back."""

    amount: Money
    order_ref: str
    schema: str
    description: str = ""
    customer_ref: str | None = None
    method_ref: str | None = None
    confirm: bool = False
    off_session: bool = False
    save_method: bool = False
    return_url: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentState:
    """A payment as the provider sees it now."""

    reference: str
    status: IntentStatus
    amount: Money
    amount_received: Money
    client_secret: str | None = None
    action_url: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    customer_ref: str | None = None
    method_ref: str | None = None
    charge_ref: str | None = None
    # ISO country of the card's issuer, when the gateway tells it (EU VAT location evidence).
    card_country: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    # Shown to the client when the gateway needs it to act by itself (bank details).
    instructions: Mapping[str, str] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.status == IntentStatus.SUCCEEDED


@dataclass(frozen=True)
class MethodSetup:
    """Saving a method: the browser finishes it with ``client_secret`` unless a method
    was given and it is done already."""

    reference: str
    status: IntentStatus
    client_secret: str | None = None
    action_url: str | None = None
    method_ref: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class HostedPage:
    """A page the provider hosts where the client pays or saves a card without our pages
    ever seeing the card. The browser is sent to ``url`` and comes back to the success
    or cancel address it was given. ``payment_reference`` is the payment it made (once
    the client submitted a card), ``method_ref`` the method a setup page saved."""

    reference: str
    mode: str  # payment | setup
    complete: bool
    expired: bool
    url: str | None = None
    customer_ref: str | None = None
    payment_reference: str | None = None
    method_ref: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    # The metadata of what the page set up (consent to automatic charges, say).
    setup_metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredMethod:
    """A saved method as the client may see it: never more than brand, last four and
    expiry."""

    reference: str
    kind: str
    brand: str
    last4: str
    exp_month: int | None = None
    exp_year: int | None = None


@dataclass(frozen=True)
class RefundState:
    reference: str
    status: str  # pending | succeeded | failed | canceled
    amount: Money
    payment_reference: str | None
    failure_reason: str | None = None

    @property
    def went_through(self) -> bool:
        return self.status in ("pending", "succeeded")


@dataclass(frozen=True)
class DisputeState:
    """A chargeback as the provider reports it."""

    reference: str
    status: str
    amount: Money
    reason: str = ""
    charge_ref: str = ""
    payment_reference: str = ""


class PaymentGateway(ABC):
    """One payment provider, with the credentials of one account."""

    name: ClassVar[str]
    supports_saved_methods: ClassVar[bool] = False

    @property
    def account_ref(self) -> str:
        """The provider account the money lands on (for customers saved per account)."""
        return ""

    @abstractmethod
    def payment_start(self, request: PaymentRequest, *, idempotency_key: str) -> PaymentState:
        """Creates a payment and, with ``request.confirm``, tries it at once (off-session
        with a saved method when ``request.off_session``)."""

    @abstractmethod
    def payment_finish(self, *, reference: str) -> PaymentState:
        """The current state of a payment, after the client came back or an event."""

    def payment_confirm(
        self,
        *,
        reference: str,
        idempotency_key: str,
        method_ref: str | None = None,
        return_url: str | None = None,
    ) -> PaymentState:
        """Tries an existing payment again, possibly with another method."""
        raise GatewayUnsupported(f"{self.name} cannot confirm a payment.")

    def customer_create(
        self,
        *,
        idempotency_key: str,
        email: str,
        name: str,
        metadata: Mapping[str, str],
    ) -> str:
        raise GatewayUnsupported(f"{self.name} has no customers.")

    def method_save_start(
        self,
        *,
        customer_ref: str,
        idempotency_key: str,
        method_ref: str | None = None,
        return_url: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> MethodSetup:
        raise GatewayUnsupported(f"{self.name} cannot save payment methods.")

    def methods_list(self, *, customer_ref: str) -> list[StoredMethod]:
        raise GatewayUnsupported(f"{self.name} cannot save payment methods.")

    def method_remove(self, *, method_ref: str, idempotency_key: str) -> None:
        raise GatewayUnsupported(f"{self.name} cannot save payment methods.")

    def charge_saved(self, request: PaymentRequest, *, idempotency_key: str) -> PaymentState:
        """Charges a saved method without the client present."""
        raise GatewayUnsupported(f"{self.name} cannot charge a saved method.")

    def hosted_payment_start(
        self,
        request: PaymentRequest,
        *,
        idempotency_key: str,
        success_url: str,
        cancel_url: str,
        locale: str | None = None,
    ) -> HostedPage:
        """A page of the provider's where the client pays ``request.amount``."""
        raise GatewayUnsupported(f"{self.name} has no payment page.")

    def hosted_setup_start(
        self,
        *,
        customer_ref: str,
        idempotency_key: str,
        success_url: str,
        cancel_url: str,
        locale: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> HostedPage:
        """A page of the provider's where the client saves a method for later."""
        raise GatewayUnsupported(f"{self.name} has no payment page.")

    def hosted_page_get(self, *, reference: str) -> HostedPage:
        """A hosted page as it is now (after the browser came back, or an event)."""
        raise GatewayUnsupported(f"{self.name} has no payment page.")

    @abstractmethod
    def refund(
        self,
        *,
        payment_reference: str,
        amount: Money,
        idempotency_key: str,
        reason: str = "",
        metadata: Mapping[str, str] | None = None,
    ) -> RefundState:
        """Gives ``amount`` of a payment back to where it came from."""
