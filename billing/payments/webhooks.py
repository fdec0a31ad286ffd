"""Stripe webhooks: verified, processed exactly once, in any order.

Two endpoints, both ``/payments/stripe/webhook/``:

- on a tenant's host, for the events of the tenant's own Stripe account (its own keys,
  or an endpoint on its connected account), verified with the tenant's signing secret;
- on the platform host, for the platform's own account (reseller top-ups) and for
  Connect events of connected accounts, which are handled in the schema of the tenant
  the account belongs to (``resale.platform_payments``, which calls
  ``stripe_event_process`` here).

Deliveries follow Stripe's webhook documentation (https://docs.stripe.com/webhooks, events
of API version 2026-10-28.endive, https://docs.stripe.com/api/events/types). The signature
is checked on the raw body (``stripe_api.webhook_event_construct``: a bad signature,
another secret or a timestamp more than five minutes from now, before or after, is
refused), then the account and the live mode must be the tenant's. Each event id is
written to ``ProcessedWebhookEvent`` in the same transaction as its effect, so a
redelivery finds it and does nothing. Refunds and disputes are read from the event by the
Stripe gateway (amounts as ``Money``). Events do not carry the truth, they say where to
look: the handler reads the PaymentIntent's (or account's, or saved cards') current state
from Stripe and applies that, which leaves the same result whatever order the events come
in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction

from billing.errors import BillingError
from billing.models import Payment
from billing.models.gateway import (
    GatewayCustomer,
    PaymentAttempt,
    PaymentSettings,
    ProcessedWebhookEvent,
    SavedPaymentMethod,
)
from billing.money import Money
from billing.payments.flows import (
    META_ATTEMPT,
    consent_from_metadata,
    dispute_record,
    hosted_page_effect_prepare,
    payment_attempt_apply,
    payment_methods_apply,
    refund_from_gateway_apply,
)
from billing.payments.gateways import (
    GatewayConfigError,
    GatewayUnavailable,
    gateway_for,
)
from billing.payments.gateways.config import (
    payment_settings_get,
    stripe_connect_status_apply,
    stripe_livemode,
    stripe_webhook_secret,
)
from billing.payments.gateways.stripe import api as stripe_api
from billing.payments.gateways.stripe import gateway as stripe_gateway

logger = logging.getLogger(__name__)

GATEWAY = "stripe"

Effect = Callable[[], object]


class WebhookRefused(Exception):
    """The request is not a genuine event for this endpoint; nothing was changed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def event_verify(payload: bytes, signature: str, secrets: list[str]) -> stripe_api.WebhookEvent:
    """The event, if one of ``secrets`` signed exactly these bytes within five minutes
    of now."""
    if not signature:
        raise WebhookRefused("The Stripe-Signature header is missing.")
    for secret in secrets:
        if not secret:
            continue
        try:
            return stripe_api.webhook_event_construct(payload, signature, secret)
        except stripe_api.WebhookVerificationError:
            continue
    raise WebhookRefused("The signature does not match.")


# --- the tenant's endpoint -----------------------------------------------------------


def stripe_tenant_webhook(payload: bytes, signature: str) -> str:
    """Handles one delivery to a tenant's endpoint, in the tenant's schema."""
    row = payment_settings_get()
    secret = stripe_webhook_secret(row)
    if not secret or row.stripe_mode == PaymentSettings.StripeMode.DISABLED:
        raise WebhookRefused("This site takes no Stripe events.")
    event = event_verify(payload, signature, [secret])
    tenant_event_check(event, row)
    return stripe_event_process(event)


def tenant_event_check(event: stripe_api.WebhookEvent, row: PaymentSettings) -> None:
    if event.livemode != stripe_livemode(row):
        raise WebhookRefused("The event's live mode is not this site's.")
    if row.stripe_mode == PaymentSettings.StripeMode.OWN_KEYS:
        allowed = {None}
    else:
        # An endpoint on the connected account itself gets events without "account".
        allowed = {None, row.stripe_account_id} if row.stripe_account_id else set()
    if event.account not in allowed:
        raise WebhookRefused("The event is about another Stripe account.")


# --- processing ----------------------------------------------------------------------


def stripe_event_process(event: stripe_api.WebhookEvent) -> str:
    """Applies one verified event in the current tenant schema, at most once."""
    if ProcessedWebhookEvent.objects.filter(gateway=GATEWAY, event_id=event.id).exists():
        return "duplicate"
    # Reading Stripe happens before the transaction: no lock waits on the network.
    try:
        effect = _prepare(event)
    except GatewayConfigError as exc:
        # Stripe refuses to tell us about the object (not on this account): nothing a
        # redelivery would change.
        logger.error(
            "Stripe event %s (%s) refers to nothing readable: %s", event.id, event.type, exc
        )
        effect = None
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    ProcessedWebhookEvent.objects.create(
                        gateway=GATEWAY,
                        event_id=event.id,
                        type=event.type[:100],
                        account_ref=event.account or "",
                    )
            except IntegrityError:
                return "duplicate"
            if effect is not None:
                effect()
    except BillingError as exc:
        # Refused by billing for good (retrying the event would fail the same way):
        # remembered as processed so Stripe stops retrying, and logged for staff.
        logger.error("Stripe event %s (%s) could not be applied: %s", event.id, event.type, exc)
        ProcessedWebhookEvent.objects.get_or_create(
            gateway=GATEWAY,
            event_id=event.id,
            defaults={"type": event.type[:100], "account_ref": event.account or ""},
        )
        return "rejected"
    return "processed" if effect is not None else "ignored"


def _prepare(event: stripe_api.WebhookEvent) -> Effect | None:
    kind = event.type
    obj = event.data_object
    if kind.startswith("payment_intent."):
        return _intent_effect(obj.get("id"), obj.get("metadata") or {})
    if kind in ("charge.succeeded", "charge.failed", "charge.pending"):
        return _intent_effect(obj.get("payment_intent"), obj.get("metadata") or {})
    if kind in ("refund.created", "refund.updated", "charge.refund.updated"):
        return _refund_effect(event)
    if kind.startswith("charge.dispute."):
        return _dispute_effect(event)
    if kind == "setup_intent.succeeded":
        return _methods_effect(
            customer_ref=obj.get("customer"),
            autocharge_ref=obj.get("payment_method"),
            consent_at=consent_from_metadata(obj.get("metadata") or {}),
        )
    if kind.startswith("payment_method."):
        customer_ref = obj.get("customer") or (event.previous_attributes or {}).get("customer")
        if not customer_ref:
            method = SavedPaymentMethod.objects.filter(
                gateway=GATEWAY, method_ref=obj.get("id") or ""
            ).first()
            customer_ref = method.customer.customer_ref if method else None
        return _methods_effect(customer_ref=customer_ref)
    if kind == "account.updated":
        return _account_effect(obj.get("id"))
    if kind in _HOSTED_PAGE_EVENTS and obj.get("object") == "checkout.session":
        return hosted_page_effect_prepare(reference=obj.get("id") or "")
    return None


# A Checkout page finished (paid, saved a card, or the bank settled a delayed payment)
# or expired unpaid.
_HOSTED_PAGE_EVENTS = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
}

# What a tenant's own Stripe account must send to its endpoint, as the console tells it:
# the events ``_prepare`` acts on for an account of its own (``account.updated`` is a
# Connect event, delivered to the platform's endpoint).
TENANT_ENDPOINT_EVENTS = (
    *sorted(_HOSTED_PAGE_EVENTS),
    "payment_intent.succeeded",
    "payment_intent.processing",
    "payment_intent.requires_action",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "setup_intent.succeeded",
    "payment_method.attached",
    "payment_method.detached",
    "payment_method.updated",
    "payment_method.automatically_updated",
    "refund.created",
    "refund.updated",
    "charge.refund.updated",
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
)


def _intent_effect(intent_id: str | None, metadata: dict) -> Effect | None:
    if not intent_id:
        return None
    attempt = None
    if metadata.get(META_ATTEMPT):
        attempt = PaymentAttempt.objects.filter(public_id=metadata[META_ATTEMPT]).first()
    if attempt is None:
        attempt = PaymentAttempt.objects.filter(gateway=GATEWAY, intent_ref=intent_id).first()
    if attempt is None:
        return None
    if attempt.status in PaymentAttempt.FINAL_STATUSES and attempt.intent_ref == intent_id:
        # Settled for good: nothing this event could change, no need to ask Stripe.
        return lambda: attempt
    state = gateway_for(attempt.gateway).payment_finish(reference=intent_id)
    return lambda: payment_attempt_apply(attempt=attempt, state=state)


def _refund_effect(event: stripe_api.WebhookEvent) -> Effect | None:
    if event.object_type != "refund":
        return None
    try:
        refund = stripe_gateway.event_refund(event)
    except ValueError as exc:
        logger.error("Stripe event %s (%s) is unreadable: %s", event.id, event.type, exc)
        return None
    if not refund.payment_reference:
        return None
    payment = Payment.objects.filter(
        gateway=GATEWAY, gateway_reference=refund.payment_reference
    ).first()
    if payment is None:
        return None
    return lambda: refund_from_gateway_apply(
        payment=payment, refund=refund, reason="Refunded in the Stripe dashboard"
    )


def _dispute_effect(event: stripe_api.WebhookEvent) -> Effect | None:
    if event.object_type != "dispute":
        return None
    try:
        dispute = stripe_gateway.event_dispute(event)
    except ValueError as exc:
        logger.error("Stripe event %s (%s) is unreadable: %s", event.id, event.type, exc)
        return None
    amount = dispute.amount
    return lambda: dispute_record(
        gateway=GATEWAY,
        dispute_ref=dispute.reference,
        amount=amount if amount.amount >= 0 else Money.zero(amount.currency),
        status=dispute.status,
        reason=dispute.reason,
        charge_ref=dispute.charge_ref,
        intent_ref=dispute.payment_reference,
    )


def _methods_effect(
    *,
    customer_ref: str | None,
    autocharge_ref: str | None = None,
    consent_at: datetime | None = None,
) -> Effect | None:
    if not customer_ref:
        return None
    customer = GatewayCustomer.objects.filter(gateway=GATEWAY, customer_ref=customer_ref).first()
    if customer is None:
        return None
    listed = gateway_for(GATEWAY).methods_list(customer_ref=customer_ref)
    return lambda: payment_methods_apply(
        customer=customer, listed=listed, autocharge_ref=autocharge_ref, consent_at=consent_at
    )


def _account_effect(account_id: str | None) -> Effect | None:
    row = payment_settings_get()
    if not account_id or account_id != row.stripe_account_id or not settings.STRIPE_SECRET_KEY:
        return None
    try:
        account = stripe_api.account_retrieve(
            api_key=settings.STRIPE_SECRET_KEY, account=account_id
        )
    except stripe_api.PaymentTransientError as exc:
        raise GatewayUnavailable(exc.message) from exc
    except stripe_api.PaymentConfigError as exc:
        raise GatewayConfigError(exc.message) from exc
    return lambda: stripe_connect_status_apply(account)
