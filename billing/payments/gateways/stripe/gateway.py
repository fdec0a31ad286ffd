"""Stripe as a payment gateway, through ``billing.payments.gateways.stripe.api`` and nothing else.

One instance holds the credentials of one Stripe account: a connected account reached
with the platform's key (direct charges, optionally with the platform's fee,
https://docs.stripe.com/connect/direct-charges), a tenant's own key, or the platform's own
account (reseller top-ups). The objects behind the neutral types are those of Stripe's API
reference for version 2026-10-28.endive (https://docs.stripe.com/api?api-version=2026-10-28.endive);
the refunds and disputes that webhooks carry are read here too (``event_refund``,
``event_dispute``), so billing receives ``Money`` and never Stripe's minor units."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal

from billing.money import Money, round_money
from billing.payments.gateways.base import (
    DisputeState,
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
)
from billing.payments.gateways.stripe import api as stripe_api

# Metadata key that ties a Stripe object back to what it pays for.
META_ORDER_REF = "tessera_order"

_REFUND_REASONS = {"duplicate", "fraudulent", "requested_by_customer"}


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except stripe_api.PaymentTransientError as exc:
        raise GatewayUnavailable(exc.message, code=exc.code) from exc
    except stripe_api.PaymentConfigError as exc:
        raise GatewayConfigError(exc.message, code=exc.code) from exc


def intent_status(intent: stripe_api.PaymentIntent) -> IntentStatus:
    if intent.status == "succeeded":
        return IntentStatus.SUCCEEDED
    if intent.status == "requires_action":
        return IntentStatus.REQUIRES_ACTION
    if intent.status in ("processing", "requires_capture"):
        return IntentStatus.PROCESSING
    if intent.status == "canceled":
        return IntentStatus.CANCELED
    if intent.status == "requires_payment_method" and intent.last_payment_error_message:
        return IntentStatus.FAILED
    return IntentStatus.PENDING


def payment_state(intent: stripe_api.PaymentIntent) -> PaymentState:
    return PaymentState(
        reference=intent.id,
        status=intent_status(intent),
        amount=Money(intent.amount, intent.currency),
        amount_received=Money(intent.amount_received, intent.currency),
        client_secret=intent.client_secret,
        action_url=intent.next_action_url,
        error_code=intent.last_payment_error_decline_code or intent.last_payment_error_code,
        error_message=intent.last_payment_error_message,
        customer_ref=intent.customer,
        method_ref=intent.payment_method,
        charge_ref=intent.latest_charge,
        card_country=intent.card_country,
        metadata=dict(intent.metadata),
    )


class StripeGateway(PaymentGateway):
    name = "stripe"
    supports_saved_methods = True

    def __init__(
        self,
        *,
        api_key: str,
        account: str | None = None,
        platform_fee_percent: Decimal = Decimal(0),
    ) -> None:
        if not api_key:
            raise GatewayConfigError("No Stripe secret key is configured.")
        if platform_fee_percent and not account:
            raise GatewayConfigError("A platform fee applies to a connected account only.")
        self.api_key = api_key
        self.account = account or None
        self.platform_fee_percent = Decimal(platform_fee_percent or 0)

    @property
    def account_ref(self) -> str:
        return self.account or ""

    @property
    def livemode(self) -> bool:
        return self.api_key.startswith(("sk_live_", "rk_live_"))

    def _fee(self, amount: Money) -> Decimal | None:
        if not self.account or not self.platform_fee_percent:
            return None
        return round_money(amount.amount * self.platform_fee_percent / 100, amount.currency)

    def _create(self, request: PaymentRequest, idempotency_key: str) -> PaymentState:
        try:
            with _errors():
                intent = stripe_api.payment_intent_create(
                    api_key=self.api_key,
                    account=self.account,
                    idempotency_key=idempotency_key,
                    amount=request.amount.amount,
                    currency=request.amount.currency,
                    invoice_id=request.order_ref,
                    tenant_schema=request.schema,
                    customer_id=request.customer_ref,
                    payment_method_id=request.method_ref,
                    confirm=request.confirm,
                    off_session=request.off_session,
                    return_url=request.return_url if request.confirm else None,
                    application_fee=self._fee(request.amount),
                    setup_future_usage="off_session" if request.save_method else None,
                    description=request.description or None,
                    metadata={**request.metadata, META_ORDER_REF: request.order_ref},
                )
        except stripe_api.PaymentDeclined as exc:
            return self._declined(exc, request.amount)
        return payment_state(intent)

    def _declined(self, exc: stripe_api.PaymentDeclined, amount: Money) -> PaymentState:
        if not exc.payment_intent_id:
            raise GatewayConfigError(exc.message, code=exc.code) from exc
        return PaymentState(
            reference=exc.payment_intent_id,
            status=IntentStatus.FAILED,
            amount=amount,
            amount_received=Money.zero(amount.currency),
            error_code=exc.decline_code or exc.code,
            error_message=exc.message,
            charge_ref=exc.charge_id,
        )

    def payment_start(self, request: PaymentRequest, *, idempotency_key: str) -> PaymentState:
        return self._create(request, idempotency_key)

    def charge_saved(self, request: PaymentRequest, *, idempotency_key: str) -> PaymentState:
        if not (request.customer_ref and request.method_ref):
            raise GatewayConfigError("An automatic charge needs a saved card.")
        request = replace(request, confirm=True, off_session=True, return_url=None)
        return self._create(request, idempotency_key)

    def payment_finish(self, *, reference: str) -> PaymentState:
        with _errors():
            intent = stripe_api.payment_intent_retrieve(
                api_key=self.api_key, account=self.account, payment_intent_id=reference
            )
        return payment_state(intent)

    def payment_confirm(
        self,
        *,
        reference: str,
        idempotency_key: str,
        method_ref: str | None = None,
        return_url: str | None = None,
    ) -> PaymentState:
        try:
            with _errors():
                intent = stripe_api.payment_intent_confirm(
                    api_key=self.api_key,
                    account=self.account,
                    idempotency_key=idempotency_key,
                    payment_intent_id=reference,
                    payment_method_id=method_ref,
                    return_url=return_url,
                )
        except stripe_api.PaymentDeclined:
            # The intent records the refusal; read it back for amount and message.
            return self.payment_finish(reference=reference)
        return payment_state(intent)

    def hosted_payment_start(
        self,
        request: PaymentRequest,
        *,
        idempotency_key: str,
        success_url: str,
        cancel_url: str,
        locale: str | None = None,
    ) -> HostedPage:
        with _errors():
            session = stripe_api.checkout_session_create(
                api_key=self.api_key,
                account=self.account,
                idempotency_key=idempotency_key,
                mode="payment",
                success_url=success_url,
                cancel_url=cancel_url,
                customer_id=request.customer_ref,
                amount=request.amount.amount,
                currency=request.amount.currency,
                item_name=request.description or request.order_ref,
                invoice_id=request.order_ref,
                tenant_schema=request.schema,
                application_fee=self._fee(request.amount),
                setup_future_usage="off_session" if request.save_method else None,
                description=request.description or None,
                locale=locale,
                client_reference_id=request.order_ref,
                intent_metadata={**request.metadata, META_ORDER_REF: request.order_ref},
                metadata={**request.metadata, META_ORDER_REF: request.order_ref},
            )
        return hosted_page(session)

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
        with _errors():
            session = stripe_api.checkout_session_create(
                api_key=self.api_key,
                account=self.account,
                idempotency_key=idempotency_key,
                mode="setup",
                success_url=success_url,
                cancel_url=cancel_url,
                customer_id=customer_ref,
                locale=locale,
                intent_metadata=metadata,
                metadata=metadata,
            )
        return hosted_page(session)

    def hosted_page_get(self, *, reference: str) -> HostedPage:
        with _errors():
            session = stripe_api.checkout_session_retrieve(
                api_key=self.api_key, account=self.account, session_id=reference
            )
        return hosted_page(session)

    def customer_create(
        self,
        *,
        idempotency_key: str,
        email: str,
        name: str,
        metadata: Mapping[str, str],
    ) -> str:
        with _errors():
            customer = stripe_api.customer_create(
                api_key=self.api_key,
                account=self.account,
                idempotency_key=idempotency_key,
                email=email or None,
                name=name or None,
                metadata=metadata,
            )
        return customer.id

    def method_save_start(
        self,
        *,
        customer_ref: str,
        idempotency_key: str,
        method_ref: str | None = None,
        return_url: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> MethodSetup:
        try:
            with _errors():
                intent = stripe_api.setup_intent_create(
                    api_key=self.api_key,
                    account=self.account,
                    idempotency_key=idempotency_key,
                    customer_id=customer_ref,
                    payment_method_id=method_ref,
                    confirm=bool(method_ref),
                    return_url=return_url,
                    metadata=metadata,
                )
        except stripe_api.PaymentDeclined as exc:
            return MethodSetup(reference="", status=IntentStatus.FAILED, error_message=exc.message)
        if intent.status == "succeeded":
            status = IntentStatus.SUCCEEDED
        elif intent.status == "requires_action":
            status = IntentStatus.REQUIRES_ACTION
        elif intent.last_error_message:
            status = IntentStatus.FAILED
        else:
            status = IntentStatus.PENDING
        return MethodSetup(
            reference=intent.id,
            status=status,
            client_secret=intent.client_secret,
            action_url=intent.next_action_url,
            method_ref=intent.payment_method,
            error_message=intent.last_error_message,
        )

    def methods_list(self, *, customer_ref: str) -> list[StoredMethod]:
        with _errors():
            methods = stripe_api.payment_method_list(
                api_key=self.api_key, account=self.account, customer_id=customer_ref
            )
        return [
            StoredMethod(
                reference=m.id,
                kind=m.type,
                brand=m.card_brand or "",
                last4=m.card_last4 or "",
                exp_month=m.card_exp_month,
                exp_year=m.card_exp_year,
            )
            for m in methods
        ]

    def method_remove(self, *, method_ref: str, idempotency_key: str) -> None:
        with _errors():
            stripe_api.payment_method_detach(
                api_key=self.api_key,
                account=self.account,
                payment_method_id=method_ref,
                idempotency_key=idempotency_key,
            )

    def refund(
        self,
        *,
        payment_reference: str,
        amount: Money,
        idempotency_key: str,
        reason: str = "",
        metadata: Mapping[str, str] | None = None,
    ) -> RefundState:
        try:
            with _errors():
                refund = stripe_api.refund_create(
                    api_key=self.api_key,
                    account=self.account,
                    idempotency_key=idempotency_key,
                    payment_intent_id=payment_reference,
                    amount=amount.amount,
                    currency=amount.currency,
                    reason=reason if reason in _REFUND_REASONS else None,  # type: ignore[arg-type]
                    metadata=metadata,
                )
        except stripe_api.PaymentDeclined as exc:
            raise GatewayConfigError(exc.message, code=exc.code) from exc
        return refund_state(refund)


def hosted_page(session: stripe_api.CheckoutSession) -> HostedPage:
    return HostedPage(
        reference=session.id,
        mode=session.mode,
        complete=session.complete,
        expired=session.status == "expired",
        url=session.url,
        customer_ref=session.customer,
        payment_reference=session.payment_intent,
        method_ref=session.setup_payment_method,
        metadata=dict(session.metadata),
        setup_metadata=dict(session.setup_metadata),
    )


def refund_state(refund: stripe_api.Refund) -> RefundState:
    return RefundState(
        reference=refund.id,
        status=refund.status,
        amount=Money(refund.amount, refund.currency),
        payment_reference=refund.payment_intent,
        failure_reason=refund.failure_reason,
    )


def event_refund(event: stripe_api.WebhookEvent) -> RefundState:
    """The refund a ``refund.*`` event carries; ValueError when it carries none."""
    return refund_state(event.refund())


def event_dispute(event: stripe_api.WebhookEvent) -> DisputeState:
    """The dispute a ``charge.dispute.*`` event carries; ValueError when it carries none."""
    dispute = event.dispute()
    return DisputeState(
        reference=dispute.id,
        status=dispute.status,
        amount=Money(dispute.amount, dispute.currency),
        reason=dispute.reason or "",
        charge_ref=dispute.charge or "",
        payment_reference=dispute.payment_intent or "",
    )
