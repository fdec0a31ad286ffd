"""Every call Tessera makes to Stripe, one function per API call.

The calls follow Stripe's API reference for API version 2026-10-28.endive
(https://docs.stripe.com/api?api-version=2026-10-28.endive), the version stripe-python
16.1.0 pins and sends: PaymentIntents and SetupIntents narrow their methods with
``allowed_payment_method_types``, Checkout Sessions too (``payment_method_types`` was
removed from all three, https://docs.stripe.com/changelog/endive/2026-09-30), and webhooks
are verified as https://docs.stripe.com/webhooks#verify-manually describes. The local
Stripe (``sandbox.stripe``) checks each call against the library's own parameter types,
so a library upgrade that changes a call fails the tests.

Nothing else in the application should import ``stripe``. Each function takes the secret key of the
Stripe account that collects the money and, for direct charges on a Connect account, the
connected account id (sent as the ``Stripe-Account`` header; ``None`` acts as the key's own
account). The functions return small frozen dataclasses, never ``StripeObject``s, and raise
one of three exceptions: ``PaymentDeclined`` (tell the client), ``PaymentTransientError``
(retry later, with the same idempotency key) and ``PaymentConfigError`` (a person has to fix
a key, a permission or our request).

Amounts cross this boundary as ``Decimal`` plus currency; integer minor units exist only
inside this module (``to_minor`` / ``from_minor``).

The API base address comes from the Django setting or environment variable
``STRIPE_API_BASE`` (tests point it at the local Stripe), the client timeout from
``STRIPE_TIMEOUT_S`` and the library's own retries from ``STRIPE_MAX_NETWORK_RETRIES``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Literal, TypeVar

import stripe
from babel.numbers import get_currency_precision

from billing.money import currency_validate

DEFAULT_API_BASE = "https://api.stripe.com"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_NETWORK_RETRIES = 2

# Metadata keys on every PaymentIntent: a webhook carries them back, so the handler can
# find the tenant schema and the invoice without a lookup table in the public schema.
META_INVOICE_ID = "invoice_id"
META_TENANT_SCHEMA = "tenant_schema"

# Stripe pages lists by at most 100 objects.
_LIST_PAGE_SIZE = 100

# Stripe keeps ISK two-decimal in its API for backwards compatibility although the króna
# has no minor unit any more: 5 ISK is sent as 500 and must be a multiple of 100.
_STRIPE_API_EXPONENT = {"ISK": 2}

_T = TypeVar("_T")


# --- errors ---------------------------------------------------------------------------


class PaymentError(Exception):
    """Base of the errors raised by this module."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        # Stripe support asks for the request id first.
        self.request_id = request_id


class PaymentDeclined(PaymentError):
    """The card was refused. ``message`` is Stripe's wording, written for the cardholder."""

    def __init__(
        self,
        message: str,
        *,
        decline_code: str | None = None,
        payment_intent_id: str | None = None,
        charge_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.decline_code = decline_code
        self.payment_intent_id = payment_intent_id
        self.charge_id = charge_id


class PaymentTransientError(PaymentError):
    """Stripe could not be reached or failed on its side: retry with the same idempotency key."""


class PaymentConfigError(PaymentError):
    """Wrong key, missing permission or a request Stripe refuses: retrying will not help."""


class WebhookVerificationError(Exception):
    """The webhook body or its Stripe-Signature header cannot be trusted."""


# --- minor units ----------------------------------------------------------------------


def _exponents(currency: str) -> tuple[str, int, int]:
    code = currency_validate(currency)
    precision = get_currency_precision(code)
    return code, precision, _STRIPE_API_EXPONENT.get(code, precision)


def to_minor(amount: Decimal, currency: str) -> int:
    """The integer amount Stripe expects: 10.50 EUR → 1050, 500 JPY → 500, 1.234 KWD → 1234.

    Refuses an amount with more decimals than the currency has, rather than round money
    silently: rounding is billing's decision, made once, before an amount gets here."""
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise TypeError(f"Amounts must be Decimal, not {type(amount).__name__}.")
    amount = Decimal(amount)
    if not amount.is_finite():
        raise ValueError(f"{amount} is not an amount.")
    code, precision, exponent = _exponents(currency)
    try:
        units = amount.scaleb(precision)
        exact = units == units.to_integral_value()
    except InvalidOperation as exc:
        raise ValueError(f"{amount} {code} is not an amount Stripe can take.") from exc
    if not exact:
        raise ValueError(
            f"{amount} {code} has more decimals than {code} allows ({precision}); "
            "round it before it is charged or refunded."
        )
    return int(units) * 10 ** (exponent - precision)


def from_minor(minor: int, currency: str) -> Decimal:
    """The Decimal amount for an integer amount from Stripe: 1050 EUR → Decimal('10.50')."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TypeError(f"Minor units must be an int, not {type(minor).__name__}.")
    _code, precision, exponent = _exponents(currency)
    amount = Decimal(minor).scaleb(-exponent)
    quantised = amount.quantize(Decimal(1).scaleb(-precision))
    # A legacy fractional ISK amount stays exact instead of being rounded away.
    return quantised if quantised == amount else amount


def _positive_minor(amount: Decimal, currency: str, what: str) -> int:
    minor = to_minor(amount, currency)
    if minor <= 0:
        raise ValueError(f"The {what} must be more than zero, not {amount} {currency}.")
    return minor


# --- results --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    email: str | None
    name: str | None
    metadata: dict[str, str]
    account: str | None


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    id: str
    type: str
    customer: str | None
    card_brand: str | None
    card_last4: str | None
    card_exp_month: int | None
    card_exp_year: int | None
    account: str | None


@dataclass(frozen=True, slots=True)
class SetupIntent:
    id: str
    status: str
    client_secret: str | None
    customer: str | None
    payment_method: str | None
    usage: str | None
    next_action_url: str | None
    last_error_message: str | None
    metadata: dict[str, str]
    account: str | None


@dataclass(frozen=True, slots=True)
class PaymentIntent:
    id: str
    status: str
    amount_minor: int
    amount_received_minor: int
    currency: str
    client_secret: str | None
    customer: str | None
    payment_method: str | None
    latest_charge: str | None
    # Only with 3D Secure by redirect (a return_url was given); otherwise the browser
    # completes authentication with Stripe.js and the client_secret.
    next_action_url: str | None
    last_payment_error_message: str | None
    last_payment_error_code: str | None
    last_payment_error_decline_code: str | None
    application_fee_amount_minor: int | None
    # From the expanded latest charge: None when it was not expanded or there is none.
    amount_refunded_minor: int | None
    # The issuing country of the card that paid (the charge's payment_method_details), one
    # piece of evidence of where a consumer is for EU VAT.
    card_country: str | None
    metadata: dict[str, str]
    account: str | None

    @property
    def amount(self) -> Decimal:
        return from_minor(self.amount_minor, self.currency)

    @property
    def amount_received(self) -> Decimal:
        return from_minor(self.amount_received_minor, self.currency)

    @property
    def amount_refunded(self) -> Decimal | None:
        if self.amount_refunded_minor is None:
            return None
        return from_minor(self.amount_refunded_minor, self.currency)

    @property
    def invoice_id(self) -> str | None:
        return self.metadata.get(META_INVOICE_ID)

    @property
    def tenant_schema(self) -> str | None:
        return self.metadata.get(META_TENANT_SCHEMA)

    @property
    def requires_action(self) -> bool:
        return self.status == "requires_action"

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


@dataclass(frozen=True, slots=True)
class Refund:
    id: str
    status: str
    amount_minor: int
    currency: str
    payment_intent: str | None
    charge: str | None
    reason: str | None
    failure_reason: str | None
    metadata: dict[str, str]
    account: str | None

    @property
    def amount(self) -> Decimal:
        return from_minor(self.amount_minor, self.currency)


@dataclass(frozen=True, slots=True)
class Dispute:
    """A cardholder's bank disputing a charge."""

    id: str
    status: str
    amount_minor: int
    currency: str
    reason: str | None
    charge: str | None
    payment_intent: str | None

    @property
    def amount(self) -> Decimal:
        return from_minor(self.amount_minor, self.currency)


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    """A Stripe-hosted payment page. ``payment_intent`` (mode "payment") exists once the
    cardholder submitted a card; ``setup_intent`` (mode "setup") from the start."""

    id: str
    mode: str
    status: str  # open | complete | expired
    payment_status: str  # unpaid | paid | no_payment_required
    url: str | None
    customer: str | None
    payment_intent: str | None
    setup_intent: str | None
    # From the expanded SetupIntent: the card it saved and the metadata it carries.
    setup_payment_method: str | None
    setup_metadata: dict[str, str]
    amount_total_minor: int | None
    currency: str | None
    metadata: dict[str, str]
    account: str | None

    @property
    def amount_total(self) -> Decimal | None:
        if self.amount_total_minor is None or not self.currency:
            return None
        return from_minor(self.amount_total_minor, self.currency)

    @property
    def complete(self) -> bool:
        return self.status == "complete"


@dataclass(frozen=True, slots=True)
class ConnectedAccount:
    id: str
    type: str | None
    country: str | None
    email: str | None
    default_currency: str | None
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    requirements_due: tuple[str, ...]
    metadata: dict[str, str]


@dataclass(frozen=True, slots=True)
class AccountLink:
    url: str
    created: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    id: str
    type: str
    created: int
    livemode: bool
    # The connected account the event happened on; None for the key's own account.
    account: str | None
    api_version: str | None
    data_object: dict[str, Any]
    previous_attributes: dict[str, Any] | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def object_type(self) -> str | None:
        return self.data_object.get("object")

    @property
    def object_id(self) -> str | None:
        return self.data_object.get("id")

    def payment_intent(self) -> PaymentIntent:
        """The PaymentIntent of a ``payment_intent.*`` event, as this module returns them."""
        if self.object_type != "payment_intent":
            raise ValueError(f"Event {self.id} ({self.type}) does not carry a PaymentIntent.")
        return _payment_intent(self.data_object, self.account)

    def refund(self) -> Refund:
        """The Refund of a ``refund.*`` event (or ``charge.refund.updated``)."""
        if self.object_type != "refund":
            raise ValueError(f"Event {self.id} ({self.type}) does not carry a Refund.")
        return _parsed(_refund, self.data_object, self.account)

    def dispute(self) -> Dispute:
        """The Dispute of a ``charge.dispute.*`` event."""
        if self.object_type != "dispute":
            raise ValueError(f"Event {self.id} ({self.type}) does not carry a Dispute.")
        return _parsed(_dispute, self.data_object)


# --- configuration and client ---------------------------------------------------------


def _setting(name: str) -> str | None:
    """A Django setting when Django is configured, else the environment variable."""
    try:
        from django.conf import settings
    except ImportError:  # pragma: no cover - Django is a dependency, but not required here
        settings = None
    if settings is not None and settings.configured:
        value = getattr(settings, name, None)
        if value not in (None, ""):
            return str(value)
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def api_base() -> str:
    """Where requests go: Stripe, or a local test server."""
    return (_setting("STRIPE_API_BASE") or DEFAULT_API_BASE).rstrip("/")


def _timeout_s() -> float:
    raw = _setting("STRIPE_TIMEOUT_S")
    return float(raw) if raw else DEFAULT_TIMEOUT_S


def _max_network_retries() -> int:
    raw = _setting("STRIPE_MAX_NETWORK_RETRIES")
    return int(raw) if raw else DEFAULT_MAX_NETWORK_RETRIES


@lru_cache(maxsize=8)
def _http_client(timeout_s: float) -> stripe.HTTPClient:
    # Shared so connection pools are reused across calls; requests is a dependency of stripe.
    return stripe.RequestsClient(timeout=timeout_s)


def _client(api_key: str) -> stripe.StripeClient:
    if not api_key:
        raise PaymentConfigError("No Stripe secret key is configured for this account.")
    base = api_base()
    return stripe.StripeClient(
        api_key,
        # Every address, so no call can slip past a test server to the real Stripe.
        base_addresses={"api": base, "connect": base, "files": base, "meter_events": base},
        max_network_retries=_max_network_retries(),
        http_client=_http_client(_timeout_s()),
    )


def _options(account: str | None, idempotency_key: str | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if account:
        options["stripe_account"] = account
    if idempotency_key:
        options["idempotency_key"] = idempotency_key
    return options


def _error_body(exc: stripe.StripeError) -> dict[str, Any]:
    body = exc.json_body if isinstance(exc.json_body, dict) else {}
    error = body.get("error")
    return error if isinstance(error, dict) else {}


@contextmanager
def _stripe_errors() -> Iterator[None]:
    """Translates the library's errors into the three this module promises."""
    try:
        yield
    except stripe.CardError as exc:
        error = _error_body(exc)
        intent = error.get("payment_intent")
        raise PaymentDeclined(
            exc.user_message or "Your card was declined.",
            code=exc.code,
            decline_code=error.get("decline_code"),
            payment_intent_id=intent.get("id") if isinstance(intent, dict) else None,
            charge_id=error.get("charge"),
            http_status=exc.http_status,
            request_id=exc.request_id,
        ) from exc
    except stripe.StripeError as exc:
        error = _error_body(exc)
        kwargs = {
            "code": exc.code or error.get("type"),
            "http_status": exc.http_status,
            "request_id": exc.request_id,
        }
        message = exc.user_message or str(exc) or type(exc).__name__
        status = exc.http_status
        transient = isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError) or (
            # 409: a concurrent request holds the same idempotency key or lock.
            isinstance(exc, stripe.APIError) and (status is None or status == 409 or status >= 500)
        )
        if transient:
            raise PaymentTransientError(message, **kwargs) from exc
        raise PaymentConfigError(message, **kwargs) from exc


def _metadata(values: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (values or {}).items()}


def _id(value: Any) -> str | None:
    """An id from a field that holds either an id or an expanded object."""
    if isinstance(value, dict):
        return value.get("id")
    return value


def _plain(obj: Any) -> dict[str, Any]:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


# --- parsing --------------------------------------------------------------------------


def _customer(data: dict[str, Any], account: str | None) -> Customer:
    return Customer(
        id=data["id"],
        email=data.get("email"),
        name=data.get("name"),
        metadata=_metadata(data.get("metadata")),
        account=account,
    )


def _payment_method(data: dict[str, Any], account: str | None) -> PaymentMethod:
    card = data.get("card") or {}
    return PaymentMethod(
        id=data["id"],
        type=data.get("type") or "card",
        customer=_id(data.get("customer")),
        card_brand=card.get("brand"),
        card_last4=card.get("last4"),
        card_exp_month=card.get("exp_month"),
        card_exp_year=card.get("exp_year"),
        account=account,
    )


def _next_action_url(data: dict[str, Any]) -> str | None:
    action = data.get("next_action") or {}
    if action.get("type") == "redirect_to_url":
        return (action.get("redirect_to_url") or {}).get("url")
    return None


def _setup_intent(data: dict[str, Any], account: str | None) -> SetupIntent:
    error = data.get("last_setup_error") or {}
    return SetupIntent(
        id=data["id"],
        status=data["status"],
        client_secret=data.get("client_secret"),
        customer=_id(data.get("customer")),
        payment_method=_id(data.get("payment_method")),
        usage=data.get("usage"),
        next_action_url=_next_action_url(data),
        last_error_message=error.get("message"),
        metadata=_metadata(data.get("metadata")),
        account=account,
    )


def _charge_card_country(charge: Any) -> str | None:
    if not isinstance(charge, dict):
        return None
    details = charge.get("payment_method_details") or {}
    country = (details.get("card") or {}).get("country") if details.get("type") == "card" else None
    return country.upper() if isinstance(country, str) and len(country) == 2 else None


def _payment_intent(data: dict[str, Any], account: str | None) -> PaymentIntent:
    error = data.get("last_payment_error") or {}
    charge = data.get("latest_charge")
    return PaymentIntent(
        id=data["id"],
        status=data["status"],
        amount_minor=int(data["amount"]),
        amount_received_minor=int(data.get("amount_received") or 0),
        currency=data["currency"].upper(),
        client_secret=data.get("client_secret"),
        customer=_id(data.get("customer")),
        payment_method=_id(data.get("payment_method")),
        latest_charge=_id(charge),
        next_action_url=_next_action_url(data),
        last_payment_error_message=error.get("message"),
        last_payment_error_code=error.get("code"),
        last_payment_error_decline_code=error.get("decline_code"),
        application_fee_amount_minor=data.get("application_fee_amount"),
        amount_refunded_minor=charge.get("amount_refunded") if isinstance(charge, dict) else None,
        card_country=_charge_card_country(charge),
        metadata=_metadata(data.get("metadata")),
        account=account,
    )


def _checkout_session(data: dict[str, Any], account: str | None) -> CheckoutSession:
    setup = data.get("setup_intent")
    setup = setup if isinstance(setup, dict) else {}
    currency = data.get("currency")
    return CheckoutSession(
        id=data["id"],
        mode=data.get("mode") or "payment",
        status=data.get("status") or "open",
        payment_status=data.get("payment_status") or "unpaid",
        url=data.get("url"),
        customer=_id(data.get("customer")),
        payment_intent=_id(data.get("payment_intent")),
        setup_intent=_id(data.get("setup_intent")),
        setup_payment_method=_id(setup.get("payment_method")),
        setup_metadata=_metadata(setup.get("metadata")),
        amount_total_minor=data.get("amount_total"),
        currency=currency.upper() if currency else None,
        metadata=_metadata(data.get("metadata")),
        account=account,
    )


def _refund(data: dict[str, Any], account: str | None) -> Refund:
    return Refund(
        id=data["id"],
        status=data["status"],
        amount_minor=int(data["amount"]),
        currency=data["currency"].upper(),
        payment_intent=_id(data.get("payment_intent")),
        charge=_id(data.get("charge")),
        reason=data.get("reason"),
        failure_reason=data.get("failure_reason"),
        metadata=_metadata(data.get("metadata")),
        account=account,
    )


def _dispute(data: dict[str, Any]) -> Dispute:
    return Dispute(
        id=data["id"],
        status=data["status"],
        amount_minor=int(data["amount"]),
        currency=data["currency"].upper(),
        reason=data.get("reason"),
        charge=_id(data.get("charge")),
        payment_intent=_id(data.get("payment_intent")),
    )


def _parsed(parse: Callable[..., _T], data: dict[str, Any], *args: Any) -> _T:
    """An event's object parsed, or ValueError: an event body is read, not trusted."""
    try:
        return parse(data, *args)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ValueError(f"The event's {data.get('object')} cannot be read: {exc!r}") from exc


def _account(data: dict[str, Any]) -> ConnectedAccount:
    requirements = data.get("requirements") or {}
    return ConnectedAccount(
        id=data["id"],
        type=data.get("type"),
        country=data.get("country"),
        email=data.get("email"),
        default_currency=(data.get("default_currency") or "").upper() or None,
        charges_enabled=bool(data.get("charges_enabled")),
        payouts_enabled=bool(data.get("payouts_enabled")),
        details_submitted=bool(data.get("details_submitted")),
        requirements_due=tuple(requirements.get("currently_due") or ()),
        metadata=_metadata(data.get("metadata")),
    )


# --- customers and payment methods ----------------------------------------------------


def customer_create(
    *,
    api_key: str,
    account: str | None,
    idempotency_key: str | None = None,
    email: str | None = None,
    name: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Customer:
    params: dict[str, Any] = {"metadata": _metadata(metadata)}
    if email:
        params["email"] = email
    if name:
        params["name"] = name
    with _stripe_errors():
        obj = _client(api_key).v1.customers.create(
            params=params, options=_options(account, idempotency_key)
        )
    return _customer(_plain(obj), account)


def payment_method_list(
    *,
    api_key: str,
    account: str | None,
    customer_id: str,
    type: str = "card",
) -> list[PaymentMethod]:
    """Every saved payment method of the customer, newest first."""
    with _stripe_errors():
        page = _client(api_key).v1.payment_methods.list(
            params={"customer": customer_id, "type": type, "limit": _LIST_PAGE_SIZE},
            options=_options(account),
        )
        return [_payment_method(_plain(pm), account) for pm in page.auto_paging_iter()]


def payment_method_detach(
    *,
    api_key: str,
    account: str | None,
    payment_method_id: str,
    idempotency_key: str | None = None,
) -> PaymentMethod:
    with _stripe_errors():
        obj = _client(api_key).v1.payment_methods.detach(
            payment_method_id, options=_options(account, idempotency_key)
        )
    return _payment_method(_plain(obj), account)


def setup_intent_create(
    *,
    api_key: str,
    account: str | None,
    idempotency_key: str | None = None,
    customer_id: str,
    usage: Literal["off_session", "on_session"] = "off_session",
    allowed_payment_method_types: Sequence[str] = ("card",),
    payment_method_id: str | None = None,
    confirm: bool = False,
    return_url: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> SetupIntent:
    """Saves a card for later off-session charges; the browser confirms it with the
    client_secret unless ``confirm`` is given with a payment method."""
    params: dict[str, Any] = {
        "customer": customer_id,
        "usage": usage,
        "allowed_payment_method_types": list(allowed_payment_method_types),
        "metadata": _metadata(metadata),
    }
    if payment_method_id:
        params["payment_method"] = payment_method_id
    if confirm:
        params["confirm"] = True
        if return_url:
            params["return_url"] = return_url
    with _stripe_errors():
        obj = _client(api_key).v1.setup_intents.create(
            params=params, options=_options(account, idempotency_key)
        )
    return _setup_intent(_plain(obj), account)


# --- payment intents ------------------------------------------------------------------


def payment_intent_create(
    *,
    api_key: str,
    account: str | None,
    idempotency_key: str,
    amount: Decimal,
    currency: str,
    invoice_id: str,
    tenant_schema: str,
    customer_id: str | None = None,
    payment_method_id: str | None = None,
    confirm: bool = False,
    off_session: bool = False,
    return_url: str | None = None,
    application_fee: Decimal | None = None,
    setup_future_usage: Literal["off_session", "on_session"] | None = None,
    description: str | None = None,
    allowed_payment_method_types: Sequence[str] = ("card",),
    metadata: Mapping[str, str] | None = None,
) -> PaymentIntent:
    """Creates (and with ``confirm`` charges) a PaymentIntent for an invoice.

    Automatic charge of a saved card: ``confirm=True, off_session=True`` with the
    customer and payment method. ``application_fee`` is the platform's cut of a direct
    charge and needs ``account``. A refused card raises ``PaymentDeclined``; a card that
    needs 3D Secure comes back with status ``requires_action`` (or, off session, is
    declined with code ``authentication_required``)."""
    code = currency_validate(currency)
    if off_session and not confirm:
        raise ValueError("An off-session payment must be confirmed when it is created.")
    if off_session and not (customer_id and payment_method_id):
        raise ValueError("An off-session payment needs the customer and a saved payment method.")
    params: dict[str, Any] = {
        # The charge of a confirmed intent names the card's country (tax evidence).
        "expand": ["latest_charge"],
        "amount": _positive_minor(amount, code, "amount"),
        "currency": code.lower(),
        "allowed_payment_method_types": list(allowed_payment_method_types),
        "metadata": {
            **_metadata(metadata),
            META_INVOICE_ID: str(invoice_id),
            META_TENANT_SCHEMA: tenant_schema,
        },
    }
    if application_fee is not None:
        if not account:
            raise ValueError(
                "A platform fee applies only to a direct charge on a connected account."
            )
        params["application_fee_amount"] = to_minor(application_fee, code)
    if customer_id:
        params["customer"] = customer_id
    if payment_method_id:
        params["payment_method"] = payment_method_id
    if description:
        params["description"] = description
    if setup_future_usage:
        params["setup_future_usage"] = setup_future_usage
    if confirm:
        params["confirm"] = True
        if off_session:
            params["off_session"] = True
        if return_url:
            params["return_url"] = return_url
    with _stripe_errors():
        obj = _client(api_key).v1.payment_intents.create(
            params=params, options=_options(account, idempotency_key)
        )
    return _payment_intent(_plain(obj), account)


def payment_intent_retrieve(
    *,
    api_key: str,
    account: str | None,
    payment_intent_id: str,
) -> PaymentIntent:
    """The current state, with the latest charge expanded for the refunded amount."""
    with _stripe_errors():
        obj = _client(api_key).v1.payment_intents.retrieve(
            payment_intent_id,
            params={"expand": ["latest_charge"]},
            options=_options(account),
        )
    return _payment_intent(_plain(obj), account)


def payment_intent_confirm(
    *,
    api_key: str,
    account: str | None,
    idempotency_key: str,
    payment_intent_id: str,
    payment_method_id: str | None = None,
    off_session: bool = False,
    return_url: str | None = None,
) -> PaymentIntent:
    """Charges an unconfirmed PaymentIntent, or retries a declined one with another card."""
    params: dict[str, Any] = {"expand": ["latest_charge"]}
    if payment_method_id:
        params["payment_method"] = payment_method_id
    if off_session:
        params["off_session"] = True
    if return_url:
        params["return_url"] = return_url
    with _stripe_errors():
        obj = _client(api_key).v1.payment_intents.confirm(
            payment_intent_id, params=params, options=_options(account, idempotency_key)
        )
    return _payment_intent(_plain(obj), account)


def refund_create(
    *,
    api_key: str,
    account: str | None,
    idempotency_key: str,
    payment_intent_id: str | None = None,
    charge_id: str | None = None,
    amount: Decimal | None = None,
    currency: str | None = None,
    reason: Literal["duplicate", "fraudulent", "requested_by_customer"] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Refund:
    """Refunds ``amount`` (in ``currency``) of a payment, or all that is left of it when
    ``amount`` is None. Refunding more than was captured raises ``PaymentConfigError``."""
    if (payment_intent_id is None) == (charge_id is None):
        raise ValueError("Refund either a payment intent or a charge.")
    params: dict[str, Any] = {"metadata": _metadata(metadata)}
    if payment_intent_id:
        params["payment_intent"] = payment_intent_id
    else:
        params["charge"] = charge_id
    if amount is not None:
        if not currency:
            raise ValueError("A partial refund needs the currency of the payment.")
        params["amount"] = _positive_minor(amount, currency, "refund")
    if reason:
        params["reason"] = reason
    with _stripe_errors():
        obj = _client(api_key).v1.refunds.create(
            params=params, options=_options(account, idempotency_key)
        )
    return _refund(_plain(obj), account)


# --- Checkout (the payment page Stripe hosts) ----------------------------------------


def checkout_session_create(
    *,
    api_key: str,
    account: str | None,
    idempotency_key: str,
    mode: Literal["payment", "setup"],
    success_url: str,
    cancel_url: str,
    customer_id: str | None = None,
    amount: Decimal | None = None,
    currency: str | None = None,
    item_name: str | None = None,
    invoice_id: str | None = None,
    tenant_schema: str | None = None,
    application_fee: Decimal | None = None,
    setup_future_usage: Literal["off_session", "on_session"] | None = None,
    description: str | None = None,
    locale: str | None = None,
    client_reference_id: str | None = None,
    intent_metadata: Mapping[str, str] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> CheckoutSession:
    """A hosted page where the cardholder pays ``amount`` (mode "payment", one line named
    ``item_name``) or saves a card (mode "setup"), then is sent to ``success_url``; Stripe
    puts the session id where ``success_url`` says ``{CHECKOUT_SESSION_ID}``.

    ``intent_metadata`` goes on the PaymentIntent or SetupIntent the page creates, so
    their webhooks carry it too; in payment mode it gets the invoice id and tenant schema
    like ``payment_intent_create``. ``application_fee`` is the platform's cut of a direct
    charge and needs ``account``."""
    params: dict[str, Any] = {
        "mode": mode,
        "success_url": success_url,
        "cancel_url": cancel_url,
        "allowed_payment_method_types": ["card"],
        "metadata": _metadata(metadata),
    }
    if customer_id:
        params["customer"] = customer_id
    if locale:
        params["locale"] = locale
    if client_reference_id:
        params["client_reference_id"] = client_reference_id
    if mode == "payment":
        if amount is None or not currency or not item_name:
            raise ValueError("A payment page needs an amount, its currency and an item name.")
        code = currency_validate(currency)
        params["line_items"] = [
            {
                "price_data": {
                    "currency": code.lower(),
                    "unit_amount": _positive_minor(amount, code, "amount"),
                    "product_data": {"name": item_name},
                },
                "quantity": 1,
            }
        ]
        intent: dict[str, Any] = {"metadata": _metadata(intent_metadata)}
        if invoice_id is not None:
            intent["metadata"][META_INVOICE_ID] = str(invoice_id)
        if tenant_schema is not None:
            intent["metadata"][META_TENANT_SCHEMA] = tenant_schema
        if application_fee is not None:
            if not account:
                raise ValueError(
                    "A platform fee applies only to a direct charge on a connected account."
                )
            intent["application_fee_amount"] = to_minor(application_fee, code)
        if setup_future_usage:
            intent["setup_future_usage"] = setup_future_usage
        if description:
            intent["description"] = description
        params["payment_intent_data"] = intent
    else:
        if amount is not None or application_fee is not None or setup_future_usage:
            raise ValueError("A page that saves a card charges nothing.")
        if currency:
            # Narrows the methods offered to those that work in the client's currency.
            params["currency"] = currency_validate(currency).lower()
        params["setup_intent_data"] = {"metadata": _metadata(intent_metadata)}
        if description:
            params["setup_intent_data"]["description"] = description
    with _stripe_errors():
        obj = _client(api_key).v1.checkout.sessions.create(
            params=params, options=_options(account, idempotency_key)
        )
    return _checkout_session(_plain(obj), account)


def checkout_session_retrieve(
    *,
    api_key: str,
    account: str | None,
    session_id: str,
) -> CheckoutSession:
    """The session now, with its SetupIntent expanded (the card a setup page saved)."""
    with _stripe_errors():
        obj = _client(api_key).v1.checkout.sessions.retrieve(
            session_id, params={"expand": ["setup_intent"]}, options=_options(account)
        )
    return _checkout_session(_plain(obj), account)


# --- Connect --------------------------------------------------------------------------
# These act as the platform: ``account`` names the connected account concerned, never
# a Stripe-Account header.


def account_create(
    *,
    api_key: str,
    idempotency_key: str | None = None,
    type: Literal["standard", "express"],
    country: str | None = None,
    email: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> ConnectedAccount:
    params: dict[str, Any] = {"type": type, "metadata": _metadata(metadata)}
    if country:
        params["country"] = country.upper()
    if email:
        params["email"] = email
    if type == "express":
        # Express accounts must request what they will do; a direct charge needs both.
        params["capabilities"] = {
            "card_payments": {"requested": True},
            "transfers": {"requested": True},
        }
    with _stripe_errors():
        obj = _client(api_key).v1.accounts.create(
            params=params, options=_options(None, idempotency_key)
        )
    return _account(_plain(obj))


def account_link_create(
    *,
    api_key: str,
    account: str,
    refresh_url: str,
    return_url: str,
    type: Literal["account_onboarding", "account_update"] = "account_onboarding",
    idempotency_key: str | None = None,
) -> AccountLink:
    """A single-use, short-lived URL where the reseller completes Stripe's onboarding."""
    params = {
        "account": account,
        "refresh_url": refresh_url,
        "return_url": return_url,
        "type": type,
    }
    with _stripe_errors():
        obj = _client(api_key).v1.account_links.create(
            params=params, options=_options(None, idempotency_key)
        )
    data = _plain(obj)
    return AccountLink(url=data["url"], created=data["created"], expires_at=data["expires_at"])


def account_retrieve(*, api_key: str, account: str) -> ConnectedAccount:
    with _stripe_errors():
        obj = _client(api_key).v1.accounts.retrieve(account, options=_options(None))
    return _account(_plain(obj))


def account_current_retrieve(*, api_key: str) -> ConnectedAccount:
    """The account ``api_key`` itself belongs to (``GET /v1/account``): the cheapest call
    that proves a tenant's own key is genuine and says whose account it opens."""
    with _stripe_errors():
        obj = _client(api_key).v1.accounts.retrieve_current(options=_options(None))
    return _account(_plain(obj))


# --- webhooks -------------------------------------------------------------------------


def _signed_at(sig_header: str) -> int:
    """The ``t=`` of a Stripe-Signature header the library has already accepted."""
    for item in sig_header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t":
            try:
                return int(value)
            except ValueError:
                break
    raise WebhookVerificationError("The Stripe-Signature header has no timestamp.")


def webhook_event_construct(
    payload: bytes, sig_header: str, secret: str, tolerance_s: int = 300
) -> WebhookEvent:
    """Verifies a webhook with Stripe's signature scheme and returns its event.

    ``payload`` must be the request body exactly as received: the signature covers
    the bytes, so a re-serialised body never verifies. The signed timestamp must lie
    within ``tolerance_s`` of now, either way: the library only refuses old ones, and a
    timestamp ahead of the clock would keep a captured delivery replayable for as long."""
    try:
        stripe.WebhookSignature.verify_header(payload, sig_header, secret, tolerance_s)
    except stripe.SignatureVerificationError as exc:
        raise WebhookVerificationError(str(exc)) from exc
    if _signed_at(sig_header) > time.time() + tolerance_s:
        raise WebhookVerificationError("Timestamp outside the tolerance zone (in the future).")
    try:
        data = json.loads(payload)
        obj = data["data"]["object"]
        event = WebhookEvent(
            id=data["id"],
            type=data["type"],
            created=int(data["created"]),
            livemode=bool(data.get("livemode")),
            account=data.get("account"),
            api_version=data.get("api_version"),
            data_object=obj,
            previous_attributes=data["data"].get("previous_attributes"),
            metadata=_metadata(obj.get("metadata")),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WebhookVerificationError("The webhook body is not a Stripe event.") from exc
    return event
