"""Client payments through gateways, in the tenant's schema: paying an invoice, saving a
card, charging it automatically, refunds (each with its credit note) and disputes.

Every flow has the same shape: the row that remembers the request is committed first,
the gateway is called outside any transaction (a slow provider never holds a lock), and
its answer is applied in one transaction under the attempt's lock. Applying is
idempotent and keyed by the provider's own ids (a PaymentIntent id is the payment's
idempotency key, a refund id the refund's), so the flow, the client's return and every
webhook delivery may apply the same answer in any order, any number of times, and the
money moves once.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db import connection, transaction
from django.db.models import Exists, F, Max, OuterRef, Q, Sum
from django.utils import timezone

from billing.emails import portal_url
from billing.errors import BillingError
from billing.events import InvoiceEventKind, invoice_event_listeners
from billing.models import Client, CreditNote, Invoice, LedgerEntry, Payment, Refund
from billing.models.gateway import (
    Dispute,
    GatewayCustomer,
    PaymentAttempt,
    PaymentSettings,
    SavedPaymentMethod,
)
from billing.money import Money
from billing.payments import dunning
from billing.payments import emails as payment_emails
from billing.payments.gateways import (
    GatewayConfigError,
    GatewayUnavailable,
    HostedPage,
    IntentStatus,
    MethodSetup,
    PaymentGateway,
    PaymentRequest,
    PaymentState,
    RefundState,
    StoredMethod,
    gateway_for,
)
from billing.payments.gateways.bank_transfer import (
    creditor_reference,
    creditor_reference_parse,
    payment_reference,
)
from billing.payments.gateways.config import payment_settings_get
from billing.payments.tasks import invoice_autocharge_task
from billing.services import (
    CreditLine,
    credit_add,
    credit_note_issue,
    ledger_entry_append,
    payment_record,
    payment_refund,
)
from core.ids import uuid_or_none

logger = logging.getLogger(__name__)

# Metadata keys on gateway objects, read back by the webhooks.
META_ATTEMPT = "tessera_attempt"
META_CLIENT = "tessera_client"
META_AUTOCHARGE = "tessera_autocharge"
META_CONSENT_AT = "tessera_consent_at"

RETURN_PATH = "payments/return/{reference}/"
# A checkout the client is still authenticating keeps the automatic charge away this long.
CHECKOUT_HOLD = timedelta(hours=24)

A = PaymentAttempt.Status


def _schema() -> str:
    return connection.schema_name


def _today() -> date:
    return timezone.localdate()


def payment_return_url(reference: str) -> str:
    """Where the client's browser comes back after authenticating with its bank."""

    base = portal_url()
    return f"{base.rstrip('/')}/{RETURN_PATH.format(reference=reference)}" if base else ""


def _card_gateway(name: str = "stripe") -> PaymentGateway:
    gateway = gateway_for(name)
    row = payment_settings_get()
    if (
        name == "stripe"
        and row.stripe_mode == PaymentSettings.StripeMode.CONNECT
        and not row.stripe_charges_enabled
    ):
        raise GatewayConfigError(
            "The Stripe account of this site cannot take payments yet: finish onboarding."
        )
    return gateway


def _open_amount(invoice: Invoice) -> Money:
    if not invoice.is_open:
        raise BillingError(f"{invoice} is not waiting for a payment.")
    due = invoice.amount_due
    if due.amount <= 0:
        raise BillingError(f"{invoice} is already paid.")
    return due


# --- customers and saved cards --------------------------------------------------------


def gateway_customer_ensure(*, client: Client, gateway: PaymentGateway) -> GatewayCustomer:
    """The client's customer at the gateway account, created there on first use."""
    found = GatewayCustomer.objects.filter(
        gateway=gateway.name, account_ref=gateway.account_ref, client=client
    ).first()
    if found is not None:
        return found
    reference = gateway.customer_create(
        # Stable per client and account: a retry finds the customer the first call made.
        idempotency_key=f"customer:{_schema()}:{client.public_id}:{gateway.account_ref}",
        email=client.email,
        name=client.display_name,
        metadata={META_CLIENT: str(client.public_id), "tenant_schema": _schema()},
    )
    customer, _created = GatewayCustomer.objects.get_or_create(
        gateway=gateway.name,
        account_ref=gateway.account_ref,
        client=client,
        defaults={"customer_ref": reference},
    )
    return customer


def payment_method_setup_start(
    *,
    client: Client,
    method_ref: str | None = None,
    autocharge: bool = True,
    return_url: str | None = None,
    gateway_name: str = "stripe",
) -> MethodSetup:
    """Starts saving a card for the client. The browser finishes it with the returned
    client secret, or, given ``method_ref``, it is tried at once. ``autocharge`` is the
    client's consent to automatic charges of this card, given now."""
    gateway = _card_gateway(gateway_name)
    customer = gateway_customer_ensure(client=client, gateway=gateway)
    consent_at = timezone.now()
    metadata = {META_CLIENT: str(client.public_id), "tenant_schema": _schema()}
    if autocharge:
        metadata |= {META_AUTOCHARGE: "1", META_CONSENT_AT: consent_at.isoformat()}
    setup = gateway.method_save_start(
        customer_ref=customer.customer_ref,
        idempotency_key=f"setup:{uuid.uuid4()}",
        method_ref=method_ref,
        return_url=return_url,
        metadata=metadata,
    )
    if setup.status == IntentStatus.SUCCEEDED:
        payment_methods_sync(
            customer=customer,
            autocharge_ref=setup.method_ref if autocharge else None,
            consent_at=consent_at,
        )
    return setup


def consent_from_metadata(metadata: dict) -> datetime | None:
    """The moment the client consented to automatic charges, as the setup recorded it."""
    if metadata.get(META_AUTOCHARGE) != "1":
        return None
    try:
        return datetime.fromisoformat(metadata.get(META_CONSENT_AT, ""))
    except ValueError:
        return None


def payment_methods_sync(
    *,
    customer: GatewayCustomer,
    autocharge_ref: str | None = None,
    consent_at: datetime | None = None,
) -> list[SavedPaymentMethod]:
    """Makes the client's saved methods what the gateway lists now: new ones are added
    (brand and last four only), detached ones marked removed."""
    gateway = gateway_for(customer.gateway)
    listed = gateway.methods_list(customer_ref=customer.customer_ref)
    return payment_methods_apply(
        customer=customer, listed=listed, autocharge_ref=autocharge_ref, consent_at=consent_at
    )


@transaction.atomic
def payment_methods_apply(
    *,
    customer: GatewayCustomer,
    listed: list[StoredMethod],
    autocharge_ref: str | None = None,
    consent_at: datetime | None = None,
) -> list[SavedPaymentMethod]:
    Client.objects.select_for_update().get(pk=customer.client_id)
    now = timezone.now()
    seen: set[str] = set()
    for method in listed:
        seen.add(method.reference)
        row = SavedPaymentMethod.objects.filter(
            gateway=customer.gateway, method_ref=method.reference
        ).first()
        if row is None:
            SavedPaymentMethod.objects.create(
                client_id=customer.client_id,
                customer=customer,
                gateway=customer.gateway,
                method_ref=method.reference,
                kind=method.kind,
                brand=method.brand,
                last4=method.last4,
            )
        elif row.removed_at is not None:
            row.removed_at = None
            row.save(update_fields=["removed_at"])
    SavedPaymentMethod.objects.filter(customer=customer, removed_at__isnull=True).exclude(
        method_ref__in=seen
    ).update(removed_at=now, autocharge=False)
    if autocharge_ref and consent_at and autocharge_ref in seen:
        chosen = SavedPaymentMethod.objects.get(gateway=customer.gateway, method_ref=autocharge_ref)
        _autocharge_decide(chosen, True, consent_at)
    return list(SavedPaymentMethod.objects.filter(customer=customer, removed_at__isnull=True))


def _autocharge_decide(method: SavedPaymentMethod, enabled: bool, at: datetime) -> bool:
    """Applies the client's choice made at ``at`` unless it already made a later one.
    The caller holds the client lock."""
    latest = SavedPaymentMethod.objects.filter(client_id=method.client_id).aggregate(
        latest=Max("autocharge_decided_at")
    )["latest"]
    if latest is not None and at <= latest:
        return False
    if enabled:
        SavedPaymentMethod.objects.filter(client_id=method.client_id, autocharge=True).exclude(
            pk=method.pk
        ).update(autocharge=False)
    SavedPaymentMethod.objects.filter(pk=method.pk).update(
        autocharge=enabled, autocharge_decided_at=at
    )
    method.autocharge, method.autocharge_decided_at = enabled, at
    return True


@transaction.atomic
def payment_method_autocharge_set(*, method: SavedPaymentMethod, enabled: bool) -> None:
    """The client's consent to have its invoices charged to this card automatically
    (it moves from any other card)."""
    Client.objects.select_for_update().get(pk=method.client_id)
    method = SavedPaymentMethod.objects.get(pk=method.pk)
    if enabled and not method.is_active:
        raise BillingError("This card was removed.")
    _autocharge_decide(method, enabled, timezone.now())


def payment_method_remove(*, method: SavedPaymentMethod) -> None:
    """Detaches the card at the gateway and forgets it here."""
    if method.is_active:
        gateway = gateway_for(method.gateway)
        gateway.method_remove(
            method_ref=method.method_ref, idempotency_key=f"detach:{method.public_id}"
        )
    SavedPaymentMethod.objects.filter(pk=method.pk).update(
        removed_at=timezone.now(), autocharge=False
    )


def payment_methods_expiry(*, client: Client) -> dict[str, tuple[int, int]]:
    """When each of the client's saved cards expires, as the gateway says now. Not kept
    here: a saved card is stored as brand and last four only."""
    gateway = _card_gateway()
    found: dict[str, tuple[int, int]] = {}
    customers = GatewayCustomer.objects.filter(
        client=client, gateway=gateway.name, account_ref=gateway.account_ref
    )
    for customer in customers:
        for method in gateway.methods_list(customer_ref=customer.customer_ref):
            if method.exp_month and method.exp_year:
                found[method.reference] = (method.exp_month, method.exp_year)
    return found


def autocharge_method(client: Client | int) -> SavedPaymentMethod | None:
    client_id = client.pk if isinstance(client, Client) else client
    return (
        SavedPaymentMethod.objects.select_related("customer")
        .filter(client_id=client_id, autocharge=True, removed_at__isnull=True)
        .first()
    )


# --- paying an invoice ----------------------------------------------------------------


@dataclass(frozen=True)
class CheckoutStart:
    """What the client's page needs: the attempt and, for a card the browser confirms,
    the client secret; for a bank transfer, the instructions."""

    attempt: PaymentAttempt | None
    client_secret: str | None = None
    instructions: dict[str, str] = field(default_factory=dict)


def invoice_payment_reference(invoice: Invoice) -> str:
    """The reference a client quotes on a bank transfer for this invoice."""
    return payment_reference(invoice.number)


def invoice_pay_start(
    *,
    invoice: Invoice,
    gateway_name: str = "stripe",
    method_ref: str | None = None,
    saved_method: SavedPaymentMethod | None = None,
    save_method: bool = False,
    idempotency_key: str | None = None,
    return_url: str | None = None,
) -> CheckoutStart:
    """The client pays what is due on the invoice. With a card (``method_ref`` from
    the browser, or a saved one) the payment is tried at once: it succeeds, fails with
    the bank's message, or waits for 3-D Secure (the client is e-mailed the link). With
    neither, the browser confirms it with the returned client secret."""
    due = _open_amount(invoice)
    if gateway_name == "bank_transfer":
        gateway = gateway_for(gateway_name)
        reference = invoice_payment_reference(invoice)
        state = gateway.payment_start(
            PaymentRequest(
                amount=due,
                order_ref=str(invoice.public_id),
                schema=_schema(),
                metadata={"payment_reference": reference},
            ),
            idempotency_key=reference,
        )
        return CheckoutStart(attempt=None, instructions=dict(state.instructions))

    gateway = _card_gateway(gateway_name)
    if saved_method is not None:
        if saved_method.client_id != invoice.client_id or not saved_method.is_active:
            raise BillingError("That card cannot pay this invoice.")
        method_ref = saved_method.method_ref
    customer = None
    if save_method or saved_method is not None:
        customer = gateway_customer_ensure(client=invoice.client, gateway=gateway)
    key = idempotency_key or f"checkout:{uuid.uuid4()}"
    attempt, created = PaymentAttempt.objects.get_or_create(
        idempotency_key=key,
        defaults={
            "invoice": invoice,
            "client_id": invoice.client_id,
            "kind": PaymentAttempt.Kind.CHECKOUT,
            "gateway": gateway.name,
            "account_ref": gateway.account_ref,
            "currency": due.currency,
            "amount": due.amount,
            "method": saved_method,
        },
    )
    if attempt.invoice_id != invoice.pk:
        raise BillingError("This idempotency key was already used for another payment.")
    if not created and attempt.intent_ref:
        state = gateway.payment_finish(reference=attempt.intent_ref)
        return CheckoutStart(
            attempt=payment_attempt_apply(attempt=attempt, state=state),
            client_secret=state.client_secret,
        )
    request = PaymentRequest(
        amount=attempt.money,
        order_ref=str(invoice.public_id),
        schema=_schema(),
        description=f"Invoice {invoice.number}",
        customer_ref=customer.customer_ref if customer else None,
        method_ref=method_ref,
        confirm=bool(method_ref),
        save_method=save_method,
        return_url=return_url or payment_return_url(str(attempt.public_id)) or None,
        metadata={META_ATTEMPT: str(attempt.public_id)},
    )
    state = gateway.payment_start(request, idempotency_key=f"attempt:{attempt.public_id}")
    attempt = payment_attempt_apply(attempt=attempt, state=state)
    return CheckoutStart(attempt=attempt, client_secret=state.client_secret)


# --- paying on the provider's hosted page ---------------------------------------------


def card_payments_available() -> bool:
    """Whether this site's clients can pay by card now (without asking the gateway)."""
    row = payment_settings_get()
    if row.stripe_mode == PaymentSettings.StripeMode.CONNECT:
        return bool(row.stripe_account_id and row.stripe_charges_enabled)
    return row.stripe_mode == PaymentSettings.StripeMode.OWN_KEYS


@dataclass(frozen=True)
class HostedCheckout:
    """Where to send the client's browser: the gateway's own payment page."""

    attempt: PaymentAttempt | None
    url: str
    reference: str


# Stripe puts the page's id where the address says {CHECKOUT_SESSION_ID}, unencoded.
_SESSION_PARAM = "&session={CHECKOUT_SESSION_ID}"


def _with_query(url: str, **params: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


def invoice_checkout_start(
    *,
    invoice: Invoice,
    return_url: str,
    item_name: str,
    save_method: bool = False,
    locale: str | None = None,
    idempotency_key: str | None = None,
    gateway_name: str = "stripe",
) -> HostedCheckout:
    """The client pays what is due on the invoice on the gateway's page. Its browser
    comes back to ``return_url`` with ``attempt`` and the page's ``session`` in the
    query (or ``attempt`` and ``cancelled=1`` when it gave up); the attempt is settled by
    ``invoice_checkout_finish`` or by the gateway's webhook, whichever comes first, and
    the money is booked once."""
    due = _open_amount(invoice)
    gateway = _card_gateway(gateway_name)
    customer = None
    if save_method:
        customer = gateway_customer_ensure(client=invoice.client, gateway=gateway)
    attempt, _created = PaymentAttempt.objects.get_or_create(
        idempotency_key=idempotency_key or f"hosted:{uuid.uuid4()}",
        defaults={
            "invoice": invoice,
            "client_id": invoice.client_id,
            "kind": PaymentAttempt.Kind.CHECKOUT,
            "gateway": gateway.name,
            "account_ref": gateway.account_ref,
            "currency": due.currency,
            "amount": due.amount,
            # The gateway's page asks for 3-D Secure itself: no e-mail with a link.
            "action_notified_at": timezone.now(),
        },
    )
    if attempt.invoice_id != invoice.pk:
        raise BillingError("This idempotency key was already used for another payment.")
    page = gateway.hosted_payment_start(
        PaymentRequest(
            amount=attempt.money,
            order_ref=str(invoice.public_id),
            schema=_schema(),
            description=item_name,
            customer_ref=customer.customer_ref if customer else None,
            save_method=save_method,
            metadata={META_ATTEMPT: str(attempt.public_id)},
        ),
        # Per attempt: a retried request gets the same page back, not a second one.
        idempotency_key=f"hosted-attempt:{attempt.public_id}",
        success_url=_with_query(return_url, attempt=str(attempt.public_id)) + _SESSION_PARAM,
        cancel_url=_with_query(return_url, attempt=str(attempt.public_id), cancelled="1"),
        locale=locale,
    )
    if not page.url:
        raise GatewayConfigError("The payment page has no address.")
    PaymentAttempt.objects.filter(pk=attempt.pk, status=A.CREATED).update(
        status=A.PENDING, updated_at=timezone.now()
    )
    attempt.refresh_from_db()
    return HostedCheckout(attempt=attempt, url=page.url, reference=page.reference)


def invoice_checkout_finish(*, attempt: PaymentAttempt, reference: str) -> PaymentAttempt:
    """The client's browser is back from the gateway's page ``reference``: its payment is
    read from the gateway and applied now, so the invoice page that follows shows it
    whether or not the webhook came first."""
    gateway = gateway_for(attempt.gateway)
    page = gateway.hosted_page_get(reference=reference)
    if page.mode != "payment" or page.metadata.get(META_ATTEMPT) != str(attempt.public_id):
        raise BillingError("That payment page is not this payment's.")
    return _hosted_payment_apply(attempt=attempt, page=page, gateway=gateway)


def _hosted_payment_apply(
    *, attempt: PaymentAttempt, page: HostedPage, gateway: PaymentGateway
) -> PaymentAttempt:
    if page.customer_ref:
        # The client asked to keep the card: it shows among its saved cards at once.
        customer = GatewayCustomer.objects.filter(
            gateway=gateway.name, customer_ref=page.customer_ref, client_id=attempt.client_id
        ).first()
        if customer is not None and page.complete:
            payment_methods_sync(customer=customer)
    if page.payment_reference:
        state = gateway.payment_finish(reference=page.payment_reference)
        return payment_attempt_apply(attempt=attempt, state=state)
    if page.expired:
        return invoice_checkout_expire(attempt=attempt)
    return attempt


def invoice_checkout_expire(*, attempt: PaymentAttempt) -> PaymentAttempt:
    """The gateway's page expired before the client paid anything on it."""
    PaymentAttempt.objects.filter(
        pk=attempt.pk, intent_ref="", status__in=[A.CREATED, A.PENDING]
    ).update(status=A.CANCELED, completed_at=timezone.now(), updated_at=timezone.now())
    attempt.refresh_from_db()
    return attempt


def hosted_page_effect_prepare(*, reference: str, gateway_name: str = "stripe") -> Any:
    """What a webhook about a finished or expired hosted page changes here: the attempt it
    paid, or the card it saved. Reads the gateway now (outside any transaction) and
    returns the change to apply inside one, or None."""
    gateway = gateway_for(gateway_name)
    page = gateway.hosted_page_get(reference=reference)
    if page.mode == "payment":
        attempt = PaymentAttempt.objects.filter(
            public_id=uuid_or_none(page.metadata.get(META_ATTEMPT))
        ).first()
        if attempt is None:
            return None
        state = (
            gateway.payment_finish(reference=page.payment_reference)
            if page.payment_reference
            else None
        )
        if state is not None:
            return lambda: payment_attempt_apply(attempt=attempt, state=state)
        if page.expired:
            return lambda: invoice_checkout_expire(attempt=attempt)
        return None
    if not (page.complete and page.customer_ref):
        return None
    customer = GatewayCustomer.objects.filter(
        gateway=gateway.name, customer_ref=page.customer_ref
    ).first()
    if customer is None:
        return None
    listed = gateway.methods_list(customer_ref=page.customer_ref)
    consent_at = consent_from_metadata(dict(page.setup_metadata))
    return lambda: payment_methods_apply(
        customer=customer,
        listed=listed,
        autocharge_ref=page.method_ref if consent_at else None,
        consent_at=consent_at,
    )


def payment_method_checkout_start(
    *,
    client: Client,
    return_url: str,
    autocharge: bool = False,
    locale: str | None = None,
    gateway_name: str = "stripe",
) -> HostedCheckout:
    """The client saves a card on the gateway's page. Its browser comes back to
    ``return_url`` with ``session`` in the query (or ``cancelled=1``). ``autocharge`` is
    its consent, given now, to have its invoices charged to that card."""
    gateway = _card_gateway(gateway_name)
    customer = gateway_customer_ensure(client=client, gateway=gateway)
    metadata = {META_CLIENT: str(client.public_id), "tenant_schema": _schema()}
    if autocharge:
        metadata |= {META_AUTOCHARGE: "1", META_CONSENT_AT: timezone.now().isoformat()}
    page = gateway.hosted_setup_start(
        customer_ref=customer.customer_ref,
        idempotency_key=f"hosted-setup:{uuid.uuid4()}",
        # Stripe puts the page's id where the address says {CHECKOUT_SESSION_ID}.
        success_url=_with_query(return_url, saved="1") + _SESSION_PARAM,
        cancel_url=_with_query(return_url, cancelled="1"),
        locale=locale,
        metadata=metadata,
    )
    if not page.url:
        raise GatewayConfigError("The payment page has no address.")
    return HostedCheckout(attempt=None, url=page.url, reference=page.reference)


def payment_method_checkout_finish(
    *, client: Client, reference: str, gateway_name: str = "stripe"
) -> SavedPaymentMethod | None:
    """The client is back from saving a card: the card it saved, now listed here, or None
    when the page was not completed."""
    gateway = gateway_for(gateway_name)
    page = gateway.hosted_page_get(reference=reference)
    if page.mode != "setup" or page.metadata.get(META_CLIENT) != str(client.public_id):
        raise BillingError("That payment page is not yours.")
    customer = GatewayCustomer.objects.filter(
        gateway=gateway.name, customer_ref=page.customer_ref or "", client=client
    ).first()
    if customer is None or not page.complete or not page.method_ref:
        return None
    consent_at = consent_from_metadata(dict(page.setup_metadata))
    payment_methods_sync(
        customer=customer,
        autocharge_ref=page.method_ref if consent_at else None,
        consent_at=consent_at,
    )
    return SavedPaymentMethod.objects.filter(
        gateway=gateway.name, method_ref=page.method_ref, client=client
    ).first()


def payment_attempt_sync(*, attempt: PaymentAttempt) -> PaymentAttempt:
    """Reads the payment's current state from the gateway and applies it (after the
    client came back from its bank, or when an event says something changed)."""
    if not attempt.intent_ref:
        return attempt
    gateway = gateway_for(attempt.gateway)
    state = gateway.payment_finish(reference=attempt.intent_ref)
    return payment_attempt_apply(attempt=attempt, state=state)


def payment_attempt_apply(
    *, attempt: PaymentAttempt, state: PaymentState, on_date: date | None = None
) -> PaymentAttempt:
    """Brings the attempt to ``state``. A succeeded attempt never changes again and its
    money is recorded once; a failed automatic charge enters dunning once."""
    on_date = on_date or _today()
    with transaction.atomic():
        # Client before invoice, as every billing service locks them.
        Client.objects.select_for_update().get(pk=attempt.client_id)
        attempt = PaymentAttempt.objects.select_for_update().get(pk=attempt.pk)
        if attempt.intent_ref and attempt.intent_ref != state.reference:
            raise BillingError(f"{state.reference} is not the payment of this attempt.")
        attempt.intent_ref = state.reference
        if attempt.status == A.SUCCEEDED:
            attempt.save(update_fields=["intent_ref", "updated_at"])
            return attempt
        previous = attempt.status
        if state.status == IntentStatus.SUCCEEDED:
            attempt.payment = _payment_book(attempt, state)
            attempt.status = A.SUCCEEDED
            attempt.completed_at = timezone.now()
            attempt.action_url = ""
            attempt.error_code = attempt.error_message = ""
            dunning.dunning_payment_settled(invoice_id=attempt.invoice_id)
        elif state.status == IntentStatus.FAILED:
            attempt.status = A.FAILED
            attempt.error_code = (state.error_code or "")[:64]
            attempt.error_message = (state.error_message or "")[:500]
            attempt.action_url = ""
            attempt.completed_at = timezone.now()
            if previous != A.FAILED and attempt.kind != PaymentAttempt.Kind.CHECKOUT:
                dunning.dunning_failure_register(attempt=attempt, on_date=on_date)
        elif state.status == IntentStatus.REQUIRES_ACTION:
            attempt.status = A.REQUIRES_ACTION
            attempt.action_url = (state.action_url or "")[:2000]
            if attempt.action_notified_at is None and attempt.kind == PaymentAttempt.Kind.CHECKOUT:
                attempt.action_notified_at = timezone.now()
                _action_email(attempt)
        elif state.status == IntentStatus.PROCESSING:
            if previous in (A.CREATED, A.PENDING, A.REQUIRES_ACTION):
                attempt.status = A.PROCESSING
        elif state.status == IntentStatus.PENDING:
            if previous == A.CREATED:
                attempt.status = A.PENDING
        elif state.status == IntentStatus.CANCELED:
            attempt.status = A.CANCELED
            attempt.completed_at = timezone.now()
        attempt.save()
        return attempt


def _payment_book(attempt: PaymentAttempt, state: PaymentState) -> Payment:
    """Records the money received. What the invoice no longer needs (paid meanwhile by
    transfer or credit) becomes account credit and staff are told: received money is
    never dropped."""
    key = state.reference
    existing = Payment.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    received = state.amount_received
    if received.amount <= 0:
        received = state.amount
    invoice = Invoice.objects.get(pk=attempt.invoice_id)
    due = invoice.amount_due if invoice.is_open else Money.zero(invoice.currency)
    to_invoice = min(due, received) if due.amount > 0 else Money.zero(received.currency)
    payment = None
    if to_invoice.amount > 0:
        payment = payment_record(
            invoice=invoice,
            amount=to_invoice,
            method=Payment.Method.GATEWAY,
            idempotency_key=key,
            gateway=attempt.gateway,
            gateway_reference=key,
            note=f"{attempt.get_kind_display()} {attempt.public_id}",
            card_country=state.card_country or "",
        )
    rest = received - to_invoice
    if rest.amount > 0:
        entry = credit_add(
            client=attempt.client,
            amount=rest,
            idempotency_key=f"{key}:credit",
            description=f"Card payment {key} not needed by invoice {invoice.number}",
            payment_method=Payment.Method.GATEWAY,
            gateway=attempt.gateway,
            gateway_reference=f"{key}:credit",
        )
        payment = payment or entry.payment
        _unapplied_email(attempt, invoice, received, rest, key)
    if payment is None:
        raise BillingError(f"{key} received nothing to record.")
    return payment


def _action_email(attempt: PaymentAttempt) -> None:
    invoice = attempt.invoice
    link = attempt.action_url or payment_return_url(str(attempt.public_id))

    def context(language: str) -> dict[str, Any]:
        return {
            "invoice_number": invoice.number,
            "amount": payment_emails.money_text(attempt.money, language),
            "action_url": link,
        }

    client = attempt.client
    payment_emails.after_commit(
        lambda: payment_emails.client_email_send(
            "payment_action_required", client=client, context=context
        )
    )


def _unapplied_email(
    attempt: PaymentAttempt, invoice: Invoice, received: Money, rest: Money, key: str
) -> None:
    context = {
        "client": attempt.client.display_name,
        "invoice_number": invoice.number,
        "amount": str(received),
        "credit": str(rest),
        "payment_reference": key,
    }
    payment_emails.after_commit(
        lambda: payment_emails.staff_email_send("payment_unapplied", context=context)
    )


# --- automatic charges ----------------------------------------------------------------


def invoice_autocharge(
    *,
    invoice: Invoice,
    on_date: date | None = None,
    kind: str = PaymentAttempt.Kind.AUTOCHARGE,
    idempotency_key: str | None = None,
) -> PaymentAttempt | None:
    """Charges the invoice to the card the client chose for automatic payments. Once per
    invoice (per dunning round for a retry), however often it is called. None when the
    client has no such card or nothing is due."""
    on_date = on_date or _today()
    method = autocharge_method(invoice.client_id)
    if method is None or not invoice.is_open or invoice.amount_due.amount <= 0:
        return None
    key = idempotency_key or f"autocharge:{invoice.public_id}"
    gateway = _card_gateway(method.gateway)
    if method.customer.account_ref != gateway.account_ref:
        logger.warning("Card %s belongs to another Stripe account; not charged", method.pk)
        return None
    attempt, _created = PaymentAttempt.objects.get_or_create(
        idempotency_key=key,
        defaults={
            "invoice": invoice,
            "client_id": invoice.client_id,
            "kind": kind,
            "gateway": gateway.name,
            "account_ref": gateway.account_ref,
            "currency": invoice.currency,
            "amount": invoice.amount_due.amount,
            "method": method,
        },
    )
    if attempt.status != A.CREATED:
        return attempt
    request = PaymentRequest(
        amount=attempt.money,
        order_ref=str(invoice.public_id),
        schema=_schema(),
        description=f"Invoice {invoice.number}",
        customer_ref=method.customer.customer_ref,
        method_ref=(attempt.method or method).method_ref,
        metadata={META_ATTEMPT: str(attempt.public_id)},
    )
    try:
        state = gateway.charge_saved(request, idempotency_key=f"attempt:{attempt.public_id}")
    except GatewayUnavailable as exc:
        # Stays "created": the next run repeats the same call, which Stripe answers once.
        PaymentAttempt.objects.filter(pk=attempt.pk).update(error_message=exc.message[:500])
        logger.warning("Automatic charge of %s postponed: %s", invoice, exc.message)
        return attempt
    return payment_attempt_apply(attempt=attempt, state=state, on_date=on_date)


@dataclass
class AutochargeRun:
    charged: int = 0
    failed: int = 0
    pending: int = 0
    retried: int = 0
    attempts: list[int] = field(default_factory=list, repr=False)

    def count(self, attempt: PaymentAttempt | None, *, retry: bool = False) -> None:
        if attempt is None:
            return
        self.attempts.append(attempt.pk)
        if retry:
            self.retried += 1
        if attempt.status == A.SUCCEEDED:
            self.charged += 1
        elif attempt.status == A.FAILED:
            self.failed += 1
        else:
            self.pending += 1


def invoices_due_for_autocharge(*, on_date: date):
    """Open invoices of clients who chose automatic payment, on the tenant's moment
    (issue or due date), not charged automatically yet, and not being paid by the
    client right now."""
    row = payment_settings_get()
    has_card = SavedPaymentMethod.objects.filter(
        client=OuterRef("client"), autocharge=True, removed_at__isnull=True
    )
    charged = PaymentAttempt.objects.filter(
        invoice=OuterRef("pk"), kind=PaymentAttempt.Kind.AUTOCHARGE
    ).exclude(status=A.CREATED)
    in_checkout = PaymentAttempt.objects.filter(
        invoice=OuterRef("pk"),
        status__in=[A.REQUIRES_ACTION, A.PROCESSING],
        updated_at__gte=timezone.now() - CHECKOUT_HOLD,
    )
    moment = (
        Q(issue_date__lte=on_date)
        if row.autocharge_when == PaymentSettings.AutochargeWhen.ISSUE
        else Q(due_date__lte=on_date)
    )
    return (
        Invoice.objects.filter(moment, status__in=Invoice.OPEN_STATUSES)
        .filter(Exists(has_card))
        .exclude(Exists(charged))
        .exclude(Exists(in_checkout))
        .filter(dunning__isnull=True)
        .order_by("due_date", "pk")
    )


def payments_autocharge_due(on_date: date | None = None) -> AutochargeRun:
    """The billing run's payment step for the current tenant: charges what is due to the
    chosen cards, then the dunning retries due. Safe to run twice on the same day."""
    on_date = on_date or _today()
    run = AutochargeRun()
    row = payment_settings_get()
    if row.stripe_mode == PaymentSettings.StripeMode.DISABLED:
        return run
    for invoice in invoices_due_for_autocharge(on_date=on_date).select_related("client"):
        try:
            run.count(invoice_autocharge(invoice=invoice, on_date=on_date))
        except GatewayConfigError as exc:
            logger.error("Automatic charges stopped in %s: %s", _schema(), exc.message)
            return run
    try:
        retried = dunning.dunning_retries_due(on_date=on_date)
    except GatewayConfigError as exc:
        logger.error("Dunning retries stopped in %s: %s", _schema(), exc.message)
        return run
    for attempt in retried:
        run.count(attempt, retry=True)
    return run


# --- refunds --------------------------------------------------------------------------


def _credit_lines(invoice: Invoice, amount: Money) -> list[CreditLine] | None:
    """Spreads ``amount`` over the invoice's lines by what is left to credit on each;
    None when it is everything left (credit the invoice in full)."""
    if amount.amount >= invoice.total_amount - invoice.credited_amount:
        return None
    lines = []
    weights = []
    for line in invoice.lines.all():
        credited = line.credit_note_lines.aggregate(total=Sum("total_amount"))["total"] or 0
        left = line.total_amount - credited
        if left > 0:
            lines.append(line)
            weights.append(left)
    if not lines:
        return None
    parts = amount.allocate(weights)
    return [
        CreditLine(invoice_line=line, amount=part)
        for line, part in zip(lines, parts, strict=True)
        if part.amount > 0
    ]


def refund_from_gateway_apply(
    *, payment: Payment, refund: RefundState, reason: str = ""
) -> Refund | None:
    """Books a refund the gateway made, once per refund id: the payment gives the money
    back and, for an invoice, a credit note annuls that much of it, so what the client
    owes does not change. Refunds made in the provider's dashboard arrive here through
    their webhook; ours through ``payment_refund_through_gateway``."""
    if not refund.went_through:
        return None
    key = f"gateway-refund:{payment.gateway}:{refund.reference}"[:100]
    note_key = f"gateway-refund-cn:{payment.gateway}:{refund.reference}"[:100]
    reason = reason or f"Refund {refund.reference}"
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=payment.client_id)
        existing = Refund.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
        note = CreditNote.objects.filter(idempotency_key=note_key).first()
        if note is not None:
            return _note_refund(note)
        payment = Payment.objects.get(pk=payment.pk)
        invoice = Invoice.objects.get(pk=payment.invoice_id) if payment.invoice_id else None
        if invoice is not None and _refund_keeps_invoice_paid(invoice, payment, refund.amount):
            # Refunding first would make the paid invoice due and then paid again, and
            # "paid" sets things off (renewals, upstream commands). So the credit note
            # comes first: it moves the amount from the invoice to account credit, and
            # from there it goes back to the card.
            note = credit_note_issue(
                invoice=invoice,
                reason=reason,
                lines=_credit_lines(invoice, refund.amount),
                idempotency_key=note_key,
            )
            moved = _note_refund(note)
            ledger_entry_append(
                client=client,
                kind=LedgerEntry.Kind.REFUND,
                amount=refund.amount,
                payment=payment,
                refund=moved,
                credit_note=note,
                description=f"Refund {refund.reference} paid back to the card",
                idempotency_key=f"gateway-refund-out:{payment.gateway}:{refund.reference}"[:150],
            )
            return moved
        booked = payment_refund(
            payment=payment,
            amount=refund.amount,
            idempotency_key=key,
            reason=reason,
            gateway_reference=refund.reference,
        )
        if invoice is not None:
            invoice.refresh_from_db()
            amount = min(refund.amount, invoice.total - invoice.credited)
            if amount.amount > 0:
                credit_note_issue(
                    invoice=invoice,
                    reason=reason,
                    lines=_credit_lines(invoice, amount),
                    idempotency_key=note_key,
                )
        return booked


def _refund_keeps_invoice_paid(invoice: Invoice, payment: Payment, amount: Money) -> bool:
    """A part of a paid invoice, taken from this payment: the credit note would move it
    from this very payment (it takes the latest payments first)."""
    if invoice.status != Invoice.Status.PAID or amount >= invoice.paid:
        return False
    first = (
        invoice.payments.filter(amount__gt=F("refunded_amount"))
        .order_by("-received_at", "-id")
        .first()
    )
    return (
        first is not None and first.pk == payment.pk and amount <= payment.money - payment.refunded
    )


def _note_refund(note: CreditNote) -> Refund:
    entry = LedgerEntry.objects.select_related("refund").get(
        credit_note=note, kind=LedgerEntry.Kind.REFUND, invoice__isnull=False
    )
    return entry.refund


def payment_refund_through_gateway(
    *,
    payment: Payment,
    idempotency_key: str,
    amount: Money | None = None,
    reason: str = "",
    bank_reference: str = "",
) -> Refund:
    """Gives (part of) a payment back through the gateway it came from, with a credit
    note for the invoice. The same idempotency key again makes no second refund.
    ``bank_reference`` is the outgoing transfer of a bank-transfer refund staff made."""
    if payment.method == Payment.Method.BANK_TRANSFER:
        gateway_name = "bank_transfer"
    elif payment.method == Payment.Method.GATEWAY and payment.gateway:
        gateway_name = payment.gateway
    else:
        raise BillingError("Only card and bank-transfer payments are refunded this way.")
    refundable = payment.money - payment.refunded
    money = amount if amount is not None else refundable
    if money.amount <= 0 or money > refundable:
        raise BillingError(f"At most {refundable} of this payment can still be refunded.")
    if gateway_name == "bank_transfer" and not bank_reference:
        raise BillingError("Give the reference of the transfer that sent the money back.")
    gateway = gateway_for(gateway_name)
    state = gateway.refund(
        payment_reference=payment.gateway_reference,
        amount=money,
        idempotency_key=f"refund:{_schema()}:{idempotency_key}",
        reason="requested_by_customer",
        metadata={"tenant_schema": _schema(), "bank_reference": bank_reference},
    )
    if not state.went_through:
        raise BillingError(f"The refund was refused: {state.failure_reason or state.status}.")
    booked = refund_from_gateway_apply(payment=payment, refund=state, reason=reason)
    assert booked is not None
    return booked


# --- bank transfers -------------------------------------------------------------------


def invoice_for_payment_reference(reference: str) -> Invoice:
    """The open invoice a bank transfer's reference names."""
    try:
        body = creditor_reference_parse(reference)
    except ValueError as exc:
        raise BillingError(str(exc)) from exc
    for invoice in Invoice.objects.filter(status__in=Invoice.OPEN_STATUSES).only("pk", "number"):
        if creditor_reference(invoice.number)[4:] == body:
            return Invoice.objects.get(pk=invoice.pk)
    raise BillingError(f"No open invoice has the reference “{reference}”.")


def bank_transfer_record(
    *,
    invoice: Invoice,
    amount: Money,
    bank_reference: str,
    received_at: Any = None,
    recorded_by: Any = None,
) -> Payment:
    """Staff record a transfer found on the bank statement; ``bank_reference`` is the
    bank's id of that transfer, so recording the same line twice books it once."""
    bank_reference = (bank_reference or "").strip()
    if not bank_reference:
        raise BillingError("Give the bank's reference of the transfer.")
    return payment_record(
        invoice=invoice,
        amount=amount,
        method=Payment.Method.BANK_TRANSFER,
        idempotency_key=f"bank:{bank_reference}"[:100],
        gateway="bank_transfer",
        gateway_reference=bank_reference,
        received_at=received_at,
        created_by=recorded_by,
    )


# --- disputes -------------------------------------------------------------------------

_DISPUTE_RANK = {
    "warning_needs_response": 1,
    "needs_response": 1,
    "warning_under_review": 2,
    "under_review": 2,
    "warning_closed": 3,
    "won": 3,
    "lost": 3,
    "charge_refunded": 3,
    "prevented": 3,
}


def dispute_record(
    *,
    gateway: str,
    dispute_ref: str,
    amount: Money,
    status: str,
    reason: str = "",
    charge_ref: str = "",
    intent_ref: str = "",
) -> Dispute:
    """Records a dispute, or moves its status forward (never back: events may come in
    any order). Staff are e-mailed when it is first seen."""
    with transaction.atomic():
        found = (
            Dispute.objects.select_for_update()
            .filter(gateway=gateway, dispute_ref=dispute_ref)
            .first()
        )
        if found is not None:
            if _DISPUTE_RANK.get(status, 0) > _DISPUTE_RANK.get(found.status, 0):
                found.status = status
                found.save(update_fields=["status", "updated_at"])
            return found
        payment = (
            Payment.objects.select_related("invoice", "client")
            .filter(gateway=gateway, gateway_reference=intent_ref)
            .first()
            if intent_ref
            else None
        )
        dispute = Dispute.objects.create(
            gateway=gateway,
            dispute_ref=dispute_ref,
            charge_ref=charge_ref,
            intent_ref=intent_ref,
            client=payment.client if payment else None,
            invoice=payment.invoice if payment else None,
            payment=payment,
            currency=amount.currency,
            amount=amount.amount,
            reason=reason[:64],
            status=status,
        )
        context = {
            "amount": str(amount),
            "reason": reason or "unknown",
            "payment_reference": intent_ref or charge_ref,
            "client": payment.client.display_name if payment else "",
            "invoice_number": payment.invoice.number if payment and payment.invoice else "",
            "dispute_reference": dispute_ref,
            "status": status,
        }
        payment_emails.after_commit(
            lambda: payment_emails.staff_email_send("dispute_opened", context=context)
        )
        return dispute


# --- what the invoice shows -----------------------------------------------------------


@dataclass(frozen=True)
class InvoicePaymentState:
    status: str
    amount_due: Money
    dunning_status: str | None
    next_attempt_on: date | None
    dunning_failures: int
    last_error: str
    waiting_for_authentication: bool


def invoice_payment_state(*, invoice: Invoice) -> InvoicePaymentState:
    """The invoice's collection as staff and the client see it."""
    dunning_row = getattr(invoice, "dunning", None) if invoice.pk else None
    latest = invoice.payment_attempts.order_by("-created_at", "-id").first()
    return InvoicePaymentState(
        status=invoice.status,
        amount_due=invoice.amount_due,
        dunning_status=dunning_row.status if dunning_row else None,
        next_attempt_on=dunning_row.next_attempt_on if dunning_row else None,
        dunning_failures=dunning_row.failures if dunning_row else 0,
        last_error=(dunning_row.last_error if dunning_row else "")
        or (latest.error_message if latest else ""),
        waiting_for_authentication=bool(latest and latest.status == A.REQUIRES_ACTION),
    )


# --- events of the billing core -------------------------------------------------------


def on_invoice_event(event: Any) -> None:
    """An invoice just issued is charged at once when the tenant charges on issue."""

    if event.kind != InvoiceEventKind.ISSUED:
        return
    row = payment_settings_get()
    if row.stripe_mode == PaymentSettings.StripeMode.DISABLED:
        return
    if row.autocharge_when != PaymentSettings.AutochargeWhen.ISSUE:
        return
    invoice = Invoice.objects.filter(pk=event.invoice_id).only("client_id").first()
    if invoice is None or autocharge_method(invoice.client_id) is None:
        return

    invoice_autocharge_task.apply_async(
        args=[event.invoice_id], headers={"_schema_name": event.tenant_schema}
    )


def payment_listeners_connect() -> None:
    """Subscribes the payment flows to the billing core's events (idempotent)."""

    if on_invoice_event not in invoice_event_listeners:
        invoice_event_listeners.append(on_invoice_event)
