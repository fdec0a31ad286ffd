"""Reseller top-ups by card, on the provider's own Stripe account (public schema).

A reseller pays a PaymentIntent on the platform account; once it succeeded its amount
is added to the prepaid balance with ``reseller_balance_topup``, keyed by the
PaymentIntent id, so the reseller's return, the webhook and any redelivery add it once.
That service releases the commands waiting for funds after commit.

A reseller may save a card and ask for automatic top-ups: when its balance is below its
threshold, the card is charged off-session for the chosen amount, one top-up at a time.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from billing.models.base import money_column
from billing.money import Money, amount_validate
from billing.payments.emails import plain_email_send
from billing.payments.gateways import (
    GatewayConfigError,
    GatewayUnavailable,
    HostedPage,
    IntentStatus,
    MethodSetup,
    PaymentRequest,
    PaymentState,
    StoredMethod,
)
from billing.payments.gateways.config import stripe_gateway_for_platform
from billing.payments.gateways.stripe import api as stripe_api
from resale.models import (
    BalanceEntry,
    PlatformWebhookEvent,
    ResellerAccount,
    ResellerPaymentProfile,
    ResellerTopUp,
)
from resale.services import ResaleError, reseller_balance, reseller_balance_topup

logger = logging.getLogger(__name__)

META_TOPUP = "tessera_topup"
META_RESELLER = "tessera_reseller"
# A failed automatic top-up is not tried again for this long: a dead card is not
# hammered every time the balance is checked.
AUTO_TOPUP_BACKOFF = timedelta(hours=24)
T = ResellerTopUp.Status
_IN_FLIGHT = [T.CREATED, T.PENDING, T.PROCESSING, T.REQUIRES_ACTION]


def reseller_payment_profile_get(*, account: ResellerAccount) -> ResellerPaymentProfile:
    profile, _created = ResellerPaymentProfile.objects.get_or_create(account=account)
    return profile


def _customer_ensure(account: ResellerAccount) -> str:
    profile = reseller_payment_profile_get(account=account)
    if profile.stripe_customer_id:
        return profile.stripe_customer_id
    gateway = stripe_gateway_for_platform()
    customer_id = gateway.customer_create(
        idempotency_key=f"reseller-customer:{account.public_id}",
        email=account.billing_email,
        name=account.legal_name,
        metadata={META_RESELLER: account.public_id},
    )
    ResellerPaymentProfile.objects.filter(pk=profile.pk, stripe_customer_id="").update(
        stripe_customer_id=customer_id
    )
    profile.refresh_from_db()
    return profile.stripe_customer_id


# --- top-ups --------------------------------------------------------------------------


@dataclass(frozen=True)
class TopUpStart:
    topup: ResellerTopUp
    client_secret: str | None


def reseller_topup_start(
    *,
    account: ResellerAccount,
    amount: Any,
    method_ref: str | None = None,
    use_saved_card: bool = False,
    save_card: bool = False,
    return_url: str | None = None,
    idempotency_key: str | None = None,
) -> TopUpStart:
    """The reseller tops up its balance by card. With a card (from the browser, or the
    saved one) it is charged at once; it may need 3-D Secure (``action_url``)."""
    try:
        money = amount_validate(amount, account.currency)
    except (TypeError, ValueError) as exc:
        raise ResaleError(str(exc)) from exc
    if money.amount <= 0:
        raise ResaleError("A top-up must be more than zero.")
    gateway = stripe_gateway_for_platform()
    profile = reseller_payment_profile_get(account=account)
    if use_saved_card:
        if not profile.card_method_id:
            raise ResaleError("No card is saved for top-ups.")
        method_ref = profile.card_method_id
    customer_ref = _customer_ensure(account) if (save_card or use_saved_card) else None
    topup, _created = ResellerTopUp.objects.get_or_create(
        idempotency_key=idempotency_key or f"topup:{uuid.uuid4()}",
        defaults={"account": account, "currency": money.currency, "amount_value": money.amount},
    )
    if topup.account_id != account.pk or topup.amount != money:
        raise ResaleError("This idempotency key was already used for another top-up.")
    if topup.intent_id:
        return TopUpStart(reseller_topup_sync(topup=topup), None)
    state = gateway.payment_start(
        PaymentRequest(
            amount=money,
            order_ref=f"topup:{topup.public_id}",
            schema=get_public_schema_name(),
            description=f"Balance top-up {account.legal_name}",
            customer_ref=customer_ref,
            method_ref=method_ref,
            confirm=bool(method_ref),
            save_method=save_card,
            return_url=return_url,
            metadata={META_TOPUP: topup.public_id, META_RESELLER: account.public_id},
        ),
        idempotency_key=f"topup:{topup.public_id}",
    )
    topup = reseller_topup_apply(topup=topup, state=state)
    if save_card and topup.status == T.SUCCEEDED:
        reseller_card_sync(account=account, method_ref=state.method_ref)
    return TopUpStart(topup, state.client_secret)


def reseller_topup_checkout_start(
    *,
    account: ResellerAccount,
    amount: Any,
    return_url: str,
    item_name: str,
    save_card: bool = False,
    locale: str | None = None,
) -> tuple[ResellerTopUp, str]:
    """The reseller tops up on Stripe's payment page, on the provider's own account. Its
    browser comes back to ``return_url`` with ``topup`` and the page's ``session`` (or
    ``cancelled=1``); the return or the platform's webhook, whichever comes first, adds
    the money to the balance, once. Returns the top-up and the page's address."""
    try:
        money = amount_validate(amount, account.currency)
    except (TypeError, ValueError) as exc:
        raise ResaleError(str(exc)) from exc
    if money.amount <= 0:
        raise ResaleError("A top-up must be more than zero.")
    gateway = stripe_gateway_for_platform()
    customer_ref = _customer_ensure(account) if save_card else None
    topup = ResellerTopUp.objects.create(
        account=account,
        currency=money.currency,
        amount_value=money.amount,
        idempotency_key=f"topup-page:{uuid.uuid4()}",
    )
    separator = "&" if "?" in return_url else "?"
    back = f"{return_url}{separator}topup={topup.public_id}"
    page = gateway.hosted_payment_start(
        PaymentRequest(
            amount=money,
            order_ref=f"topup:{topup.public_id}",
            schema=get_public_schema_name(),
            description=item_name,
            customer_ref=customer_ref,
            save_method=save_card,
            metadata={META_TOPUP: topup.public_id, META_RESELLER: account.public_id},
        ),
        idempotency_key=f"topup-page:{topup.public_id}",
        # Stripe puts the page's id where the address says {CHECKOUT_SESSION_ID}.
        success_url=f"{back}&session={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{back}&cancelled=1",
        locale=locale,
    )
    if not page.url:
        raise GatewayConfigError("The payment page has no address.")
    ResellerTopUp.objects.filter(pk=topup.pk, status=T.CREATED).update(status=T.PENDING)
    topup.refresh_from_db()
    return topup, page.url


def reseller_topup_checkout_finish(*, topup: ResellerTopUp, reference: str) -> ResellerTopUp:
    """The reseller is back from Stripe's page ``reference``: its payment is applied now."""
    gateway = stripe_gateway_for_platform()
    page = gateway.hosted_page_get(reference=reference)
    if page.mode != "payment" or page.metadata.get(META_TOPUP) != topup.public_id:
        raise ResaleError("That payment page is not this top-up's.")
    return _topup_page_effect(topup=topup, page=page)()


def _topup_page_effect(*, topup: ResellerTopUp, page: HostedPage) -> Callable[[], ResellerTopUp]:
    """Reads what the page did from Stripe now; the returned function applies it (in
    the webhook's transaction, or at once on the reseller's return)."""
    gateway = stripe_gateway_for_platform()
    state = (
        gateway.payment_finish(reference=page.payment_reference) if page.payment_reference else None
    )
    listed = None
    if state is not None and state.succeeded and page.customer_ref:
        # The reseller asked to keep the card for the next top-ups.
        listed = gateway.methods_list(customer_ref=page.customer_ref)

    def apply() -> ResellerTopUp:
        if state is not None:
            applied = reseller_topup_apply(topup=topup, state=state)
            if listed is not None and applied.status == T.SUCCEEDED:
                reseller_card_apply(
                    account=applied.account, listed=listed, method_ref=state.method_ref
                )
            return applied
        if page.expired:
            ResellerTopUp.objects.filter(pk=topup.pk, intent_id="", status__in=_IN_FLIGHT).update(
                status=T.CANCELED, completed_at=timezone.now()
            )
        return ResellerTopUp.objects.get(pk=topup.pk)

    return apply


def reseller_topup_sync(*, topup: ResellerTopUp) -> ResellerTopUp:
    """Reads the top-up's payment from Stripe and applies it."""
    if not topup.intent_id:
        return topup
    state = stripe_gateway_for_platform().payment_finish(reference=topup.intent_id)
    return reseller_topup_apply(topup=topup, state=state)


_STATUS = {
    IntentStatus.PENDING: T.PENDING,
    IntentStatus.REQUIRES_ACTION: T.REQUIRES_ACTION,
    IntentStatus.PROCESSING: T.PROCESSING,
    IntentStatus.FAILED: T.FAILED,
    IntentStatus.CANCELED: T.CANCELED,
}


def reseller_topup_apply(*, topup: ResellerTopUp, state: PaymentState) -> ResellerTopUp:
    """Brings the top-up to ``state``; the balance moves once, when it succeeded."""
    failed_now = False
    with transaction.atomic():
        topup = ResellerTopUp.objects.select_for_update().select_related("account").get(pk=topup.pk)
        if topup.intent_id and topup.intent_id != state.reference:
            raise ResaleError(f"{state.reference} is not the payment of this top-up.")
        topup.intent_id = state.reference
        if topup.status != T.SUCCEEDED:
            if state.status == IntentStatus.SUCCEEDED:
                received = state.amount_received
                entry = reseller_balance_topup(
                    account=topup.account,
                    amount=received.amount,
                    reference=f"card {state.reference}",
                    idempotency_key=state.reference,
                    created_by="stripe",
                )
                topup.balance_entry = entry
                topup.status = T.SUCCEEDED
                topup.completed_at = timezone.now()
                topup.error_message = topup.action_url = ""
            else:
                new = _STATUS[state.status]
                failed_now = new == T.FAILED and topup.status != T.FAILED
                topup.status = new
                topup.action_url = (state.action_url or "")[:2000]
                topup.error_message = (state.error_message or "")[:500]
        topup.save()
    if failed_now and topup.automatic:
        _auto_topup_failed_email(topup)
    return topup


# --- the saved card -------------------------------------------------------------------


def reseller_card_setup_start(
    *, account: ResellerAccount, method_ref: str | None = None, return_url: str | None = None
) -> MethodSetup:
    """Saves a card for top-ups; the browser finishes it unless ``method_ref`` is given."""
    gateway = stripe_gateway_for_platform()
    customer_ref = _customer_ensure(account)
    setup = gateway.method_save_start(
        customer_ref=customer_ref,
        idempotency_key=f"reseller-setup:{uuid.uuid4()}",
        method_ref=method_ref,
        return_url=return_url,
        metadata={META_RESELLER: account.public_id},
    )
    if setup.status == IntentStatus.SUCCEEDED:
        reseller_card_sync(account=account, method_ref=setup.method_ref)
    return setup


def reseller_card_sync(
    *, account: ResellerAccount, method_ref: str | None = None
) -> ResellerPaymentProfile:
    """Takes ``method_ref`` (or, when the current card is gone, the newest card Stripe
    lists) as the top-up card."""
    profile = reseller_payment_profile_get(account=account)
    if not profile.stripe_customer_id:
        return profile
    listed = stripe_gateway_for_platform().methods_list(customer_ref=profile.stripe_customer_id)
    return reseller_card_apply(account=account, listed=listed, method_ref=method_ref)


def reseller_card_apply(
    *, account: ResellerAccount, listed: list[StoredMethod], method_ref: str | None = None
) -> ResellerPaymentProfile:
    chosen = next((m for m in listed if m.reference == method_ref), None)
    with transaction.atomic():
        profile = ResellerPaymentProfile.objects.select_for_update().get(
            pk=reseller_payment_profile_get(account=account).pk
        )
        if chosen is None and not any(m.reference == profile.card_method_id for m in listed):
            chosen = listed[0] if listed else None
        if chosen is not None:
            profile.card_method_id = chosen.reference
            profile.card_brand = chosen.brand
            profile.card_last4 = chosen.last4
        elif not listed:
            profile.card_method_id = profile.card_brand = profile.card_last4 = ""
            profile.auto_topup_enabled = False
        profile.save()
        return profile


# --- automatic top-ups ----------------------------------------------------------------


def reseller_auto_topup_configure(
    *, account: ResellerAccount, enabled: bool, threshold: Any = None, amount: Any = None
) -> ResellerPaymentProfile:
    with transaction.atomic():
        profile = ResellerPaymentProfile.objects.select_for_update().get(
            pk=reseller_payment_profile_get(account=account).pk
        )
        try:
            if threshold is not None:
                profile.auto_topup_threshold = amount_validate(threshold, account.currency).amount
            if amount is not None:
                profile.auto_topup_amount = amount_validate(amount, account.currency).amount
        except (TypeError, ValueError) as exc:
            raise ResaleError(str(exc)) from exc
        if enabled and not profile.card_method_id:
            raise ResaleError("Save a card before turning automatic top-ups on.")
        if enabled and profile.auto_topup_amount <= 0:
            raise ResaleError("An automatic top-up needs an amount.")
        profile.auto_topup_enabled = enabled
        profile.save()
        return profile


def reseller_auto_topup_check(*, account: ResellerAccount) -> ResellerTopUp | None:
    """Charges the saved card when the balance is below the reseller's threshold and no
    automatic top-up is under way or failed lately. Returns the top-up, if any."""
    with transaction.atomic():
        profile = (
            ResellerPaymentProfile.objects.select_for_update()
            .filter(account=account, auto_topup_enabled=True)
            .exclude(card_method_id="")
            .first()
        )
        if profile is None:
            return None
        threshold = Money(profile.auto_topup_threshold, account.currency)
        if not reseller_balance(account=account) < threshold:
            return None
        recent = ResellerTopUp.objects.filter(account=account, automatic=True).filter(
            status__in=_IN_FLIGHT
        ) | ResellerTopUp.objects.filter(
            account=account,
            automatic=True,
            status=T.FAILED,
            created_at__gte=timezone.now() - AUTO_TOPUP_BACKOFF,
        )
        if recent.exists():
            return None
        topup = ResellerTopUp.objects.create(
            account=account,
            currency=account.currency,
            amount_value=profile.auto_topup_amount,
            automatic=True,
            idempotency_key=f"auto-topup:{account.public_id}:{uuid.uuid4()}",
        )
        customer_ref, method_ref = profile.stripe_customer_id, profile.card_method_id
    try:
        state = stripe_gateway_for_platform().charge_saved(
            PaymentRequest(
                amount=topup.amount,
                order_ref=f"topup:{topup.public_id}",
                schema=get_public_schema_name(),
                description=f"Automatic top-up {account.legal_name}",
                customer_ref=customer_ref,
                method_ref=method_ref,
                metadata={META_TOPUP: topup.public_id, META_RESELLER: account.public_id},
            ),
            idempotency_key=f"topup:{topup.public_id}",
        )
    except GatewayUnavailable:
        # Left "created": the retry below repeats the same idempotent call.
        logger.warning("Automatic top-up %s postponed: Stripe unavailable", topup.public_id)
        return topup
    return reseller_topup_apply(topup=topup, state=state)


def reseller_auto_topups_run() -> int:
    """Periodic safety net: every account with automatic top-ups whose balance is low,
    and every automatic top-up left half-done by an outage."""
    count = 0
    for topup in ResellerTopUp.objects.filter(automatic=True, status=T.CREATED, intent_id=""):
        _auto_topup_resume(topup)
    # Only the accounts below their threshold, found by one query, are visited (the check
    # asks again under the profile's lock): a thousand resellers with money cost nothing.
    balance = (
        BalanceEntry.objects.filter(account=OuterRef("pk"))
        .order_by()
        .values("account")
        .annotate(total=Sum("amount_value"))
        .values("total")
    )
    accounts = (
        ResellerAccount.objects.filter(
            payment_profile__auto_topup_enabled=True, status=ResellerAccount.Status.ACTIVE
        )
        .exclude(payment_profile__card_method_id="")
        .annotate(
            balance=Coalesce(Subquery(balance), Value(Decimal(0)), output_field=money_column())
        )
        .filter(balance__lt=F("payment_profile__auto_topup_threshold"))
    )
    for account in accounts:
        try:
            if reseller_auto_topup_check(account=account) is not None:
                count += 1
        except GatewayConfigError as exc:
            logger.error("Automatic top-ups stopped: %s", exc.message)
            break
    return count


def _auto_topup_resume(topup: ResellerTopUp) -> None:
    profile = reseller_payment_profile_get(account=topup.account)
    if not profile.card_method_id:
        ResellerTopUp.objects.filter(pk=topup.pk).update(status=T.CANCELED)
        return
    try:
        state = stripe_gateway_for_platform().charge_saved(
            PaymentRequest(
                amount=topup.amount,
                order_ref=f"topup:{topup.public_id}",
                schema=get_public_schema_name(),
                customer_ref=profile.stripe_customer_id,
                method_ref=profile.card_method_id,
                metadata={META_TOPUP: topup.public_id, META_RESELLER: topup.account.public_id},
            ),
            idempotency_key=f"topup:{topup.public_id}",
        )
    except GatewayUnavailable:
        return
    reseller_topup_apply(topup=topup, state=state)


def _auto_topup_failed_email(topup: ResellerTopUp) -> None:
    account = topup.account

    def send() -> None:
        plain_email_send(
            to=[account.billing_email],
            subject="Your automatic top-up failed",
            body=(
                f"We could not charge {topup.amount} to your saved card for your prepaid "
                f"balance: {topup.error_message or 'the card was declined'}.\n"
                "Orders and renewals wait while the balance cannot cover them. Top up by "
                "hand or save another card in your console."
            ),
            from_name=settings.PLATFORM_NAME,
        )

    transaction.on_commit(send, robust=True)


# --- the platform's webhook -----------------------------------------------------------


def platform_event_process(event: stripe_api.WebhookEvent) -> str:
    """An event of the platform's own account, at most once: top-ups and saved cards."""
    if PlatformWebhookEvent.objects.filter(event_id=event.id).exists():
        return "duplicate"
    effect = _prepare(event)
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    PlatformWebhookEvent.objects.create(event_id=event.id, type=event.type[:100])
            except IntegrityError:
                return "duplicate"
            if effect is not None:
                effect()
    except ResaleError as exc:
        # Refused for good (a currency the account is not kept in): retrying the event
        # would fail the same way, so it is remembered and logged for the provider.
        logger.error("Stripe event %s (%s) could not be applied: %s", event.id, event.type, exc)
        PlatformWebhookEvent.objects.get_or_create(
            event_id=event.id, defaults={"type": event.type[:100]}
        )
        return "rejected"
    return "processed" if effect is not None else "ignored"


# A Checkout page of a top-up finished (paid, or settled later) or expired unpaid.
_PAGE_EVENTS = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
}


def _prepare(event: stripe_api.WebhookEvent):
    obj = event.data_object
    metadata = obj.get("metadata") or {}
    if event.type.startswith(("payment_intent.", "charge.succeeded", "charge.failed")):
        intent_id = obj.get("id") if obj.get("object") == "payment_intent" else None
        intent_id = intent_id or obj.get("payment_intent")
        topup = None
        if metadata.get(META_TOPUP):
            topup = ResellerTopUp.objects.filter(public_id=metadata[META_TOPUP]).first()
        if topup is None and intent_id:
            topup = ResellerTopUp.objects.filter(intent_id=intent_id).first()
        if topup is None or not intent_id:
            return None
        state = stripe_gateway_for_platform().payment_finish(reference=intent_id)
        return lambda: reseller_topup_apply(topup=topup, state=state)
    if event.type in _PAGE_EVENTS and metadata.get(META_TOPUP):
        topup = ResellerTopUp.objects.filter(public_id=metadata[META_TOPUP]).first()
        if topup is None or not obj.get("id"):
            return None
        page = stripe_gateway_for_platform().hosted_page_get(reference=obj["id"])
        if page.metadata.get(META_TOPUP) != topup.public_id:
            return None
        return _topup_page_effect(topup=topup, page=page)
    if event.type == "setup_intent.succeeded" and metadata.get(META_RESELLER):
        account = ResellerAccount.objects.filter(public_id=metadata[META_RESELLER]).first()
        if account is None:
            return None
        profile = reseller_payment_profile_get(account=account)
        if not profile.stripe_customer_id:
            return None
        method_ref = obj.get("payment_method")
        listed = stripe_gateway_for_platform().methods_list(customer_ref=profile.stripe_customer_id)
        return lambda: reseller_card_apply(account=account, listed=listed, method_ref=method_ref)
    return None
