"""PaymentIntents, SetupIntents, their charges and 3D Secure, in the local Stripe.

Follows Stripe's API reference, version 2026-10-28.endive: PaymentIntents
(https://docs.stripe.com/api/payment_intents?api-version=2026-10-28.endive), SetupIntents
(https://docs.stripe.com/api/setup_intents?api-version=2026-10-28.endive), Charges
(https://docs.stripe.com/api/charges/object?api-version=2026-10-28.endive), declines
(https://docs.stripe.com/declines/codes) and 3D Secure by redirect
(https://docs.stripe.com/payments/3d-secure/authentication-flow#manual-redirect): a card
that needs it sends the cardholder to ``/3ds/<intent id>`` on this server.

Since 2026-09-30.endive the caller may narrow the methods with
``allowed_payment_method_types``; ``payment_method_types`` is what the object reports.
This server simulates cards only.
"""

from __future__ import annotations

import copy
import re
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sandbox.stripe.base import (
    ChargeRecord,
    Context,
    Response,
    StripeApiError,
    bool_param,
    int_param,
    metadata_param,
    new_id,
    raise_if,
    redirect,
    required,
    simulated,
    token,
)
from sandbox.stripe.customers import CustomersApi

# Stripe's card networks take three-decimal currencies only in multiples of ten.
_THREE_DECIMAL = {"bhd", "jod", "kwd", "omr", "tnd"}


class IntentsApi(CustomersApi):
    ROUTES = (
        *CustomersApi.ROUTES,
        ("POST", "/v1/setup_intents", "_setup_intent_create"),
        ("GET", "/v1/setup_intents/{id}", "_setup_intent_retrieve"),
        ("POST", "/v1/setup_intents/{id}/confirm", "_setup_intent_confirm"),
        ("POST", "/v1/payment_intents", "_payment_intent_create"),
        ("GET", "/v1/payment_intents/{id}", "_payment_intent_retrieve"),
        ("POST", "/v1/payment_intents/{id}/confirm", "_payment_intent_confirm"),
    )
    PAGES = (*CustomersApi.PAGES, (r"/3ds/((?:pi|seti)_[A-Za-z0-9]+)", "_challenge_page"))

    def __init__(self) -> None:
        super().__init__()
        self._return_urls: dict[str, str | None] = {}

    def complete_3ds(self, intent_id: str, *, succeed: bool = True) -> dict[str, Any]:
        """The cardholder finishes (or fails) 3D Secure for a PaymentIntent or SetupIntent."""
        with self._lock:
            account = self._home[intent_id]
            intent = self._objects[account][intent_id]
            if intent["status"] != "requires_action":
                raise ValueError(f"{intent_id} is {intent['status']}, not requires_action.")
            ctx = self._ctx_of(intent_id)
            if intent["object"] == "payment_intent":
                if succeed:
                    self._pi_succeed(ctx, intent)
                else:
                    self._pi_fail(
                        ctx,
                        intent,
                        code="payment_intent_authentication_failure",
                        decline_code=None,
                        message="We are unable to authenticate your payment method. Please "
                        "choose a different payment method and try again.",
                        with_charge=False,
                    )
            elif succeed:
                self._si_succeed(ctx, intent)
            else:
                self._si_fail(
                    ctx,
                    intent,
                    code="setup_intent_authentication_failure",
                    decline_code=None,
                    message="We are unable to authenticate your payment method. Please "
                    "choose a different payment method and try again.",
                )
            return copy.deepcopy(intent)

    def complete_setup_intent(
        self, setup_intent_id: str, payment_method: str = "pm_card_visa"
    ) -> dict[str, Any]:
        """The browser confirms a SetupIntent with a card, as Stripe.js would."""
        with self._lock:
            account = self._home[setup_intent_id]
            ctx = self._ctx_of(setup_intent_id)
            intent = self._objects[account][setup_intent_id]
            intent["payment_method"] = self._resolve_pm(ctx, payment_method, intent["customer"])
            self._si_confirm(ctx, intent)
            return copy.deepcopy(intent)

    def _setup_intent_create(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        simulated(
            p,
            {
                "customer",
                "allowed_payment_method_types",
                "usage",
                "payment_method",
                "confirm",
                "return_url",
                "metadata",
                "description",
            },
        )
        customer = None
        if p.get("customer"):
            customer = self._find(ctx, p["customer"], "customer", param="customer", status=400)[
                "id"
            ]
        seti_id = new_id("seti")
        intent = {
            "id": seti_id,
            "object": "setup_intent",
            "client_secret": f"{seti_id}_secret_{token(20)}",
            "created": int(time.time()),
            "customer": customer,
            "description": p.get("description"),
            "last_setup_error": None,
            "livemode": False,
            "metadata": metadata_param(p),
            "next_action": None,
            "payment_method": None,
            "payment_method_types": method_types(p),
            "status": "requires_payment_method",
            "usage": p.get("usage") or "off_session",
        }
        if p.get("payment_method"):
            intent["payment_method"] = self._resolve_pm(ctx, p["payment_method"], customer)
            intent["status"] = "requires_confirmation"
        self._store(ctx.account, intent)
        self._return_urls[seti_id] = p.get("return_url")
        self._emit(ctx.account, "setup_intent.created", intent, ctx)
        if bool_param(p, "confirm"):
            raise_if(self._si_confirm(ctx, intent))
        return self._render(ctx, intent, p.get("expand"))

    def _setup_intent_retrieve(
        self, ctx: Context, p: dict[str, Any], seti_id: str
    ) -> dict[str, Any]:
        simulated(p, {"client_secret"})
        return self._render(ctx, self._find(ctx, seti_id, "setup_intent"), p.get("expand"))

    def _setup_intent_confirm(
        self, ctx: Context, p: dict[str, Any], seti_id: str
    ) -> dict[str, Any]:
        simulated(p, {"payment_method", "return_url"})
        intent = self._find(ctx, seti_id, "setup_intent")
        if p.get("payment_method"):
            intent["payment_method"] = self._resolve_pm(
                ctx, p["payment_method"], intent["customer"]
            )
        if p.get("return_url"):
            self._return_urls[seti_id] = p["return_url"]
        raise_if(self._si_confirm(ctx, intent))
        return self._render(ctx, intent, p.get("expand"))

    def _si_confirm(self, ctx: Context, intent: dict[str, Any]) -> StripeApiError | None:
        if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
            return _unexpected_state("SetupIntent", intent)
        if not intent["payment_method"]:
            return _missing_payment_method("SetupIntent")
        card = self._cards[intent["payment_method"]]
        if card.setup == "authenticate":
            intent["status"] = "requires_action"
            intent["next_action"] = self._redirect_action(intent)
            self._emit(ctx.account, "setup_intent.requires_action", intent, ctx)
            return None
        if card.setup == "decline":
            return self._si_fail(
                ctx, intent, code=card.code, decline_code=card.decline_code, message=card.message
            )
        self._si_succeed(ctx, intent)
        return None

    def _si_succeed(self, ctx: Context, intent: dict[str, Any]) -> None:
        if intent["customer"]:
            self._pm_attach(ctx, intent["payment_method"], intent["customer"])
        intent.update(status="succeeded", next_action=None, last_setup_error=None)
        self._emit(ctx.account, "setup_intent.succeeded", intent, ctx)

    def _si_fail(
        self,
        ctx: Context,
        intent: dict[str, Any],
        *,
        code: str,
        decline_code: str | None,
        message: str,
    ) -> StripeApiError:
        error = {
            "type": "card_error",
            "code": code,
            "decline_code": decline_code,
            "message": message,
        }
        intent.update(status="requires_payment_method", next_action=None, last_setup_error=error)
        self._emit(ctx.account, "setup_intent.setup_failed", intent, ctx)
        return StripeApiError(
            402,
            message,
            type="card_error",
            code=code,
            decline_code=decline_code,
            setup_intent=copy.deepcopy(intent),
        )

    # payment intents

    def _payment_intent_create(
        self, ctx: Context, p: dict[str, Any], intent_id: str | None = None
    ) -> dict[str, Any]:
        simulated(
            p,
            {
                "amount",
                "currency",
                "customer",
                "payment_method",
                "confirm",
                "off_session",
                "return_url",
                "application_fee_amount",
                "metadata",
                "description",
                "setup_future_usage",
                "allowed_payment_method_types",
                "automatic_payment_methods",
                "capture_method",
                "receipt_email",
                "statement_descriptor_suffix",
            },
        )
        amount = int_param(p, "amount")
        if amount is None:
            required(p, "amount")
        assert amount is not None
        if amount < 1:
            raise StripeApiError(
                400,
                "This value must be greater than or equal to 1.",
                code="parameter_invalid_integer",
                param="amount",
            )
        currency = str(required(p, "currency"))
        if not re.fullmatch(r"[a-z]{3}", currency):
            raise StripeApiError(400, f"Invalid currency: {currency}.", param="currency")
        if currency == "isk" and amount % 100:
            raise StripeApiError(
                400,
                "Invalid amount. Currency ISK has become effectively zero-decimal and charged "
                "amounts must be evenly divisible by 100.",
                code="invalid_charge_amount_no_decimal_compatible",
                param="amount",
            )
        if currency in _THREE_DECIMAL and amount % 10:
            raise StripeApiError(
                400,
                f"Amounts in {currency.upper()} must be rounded to the nearest ten minor units.",
                code="invalid_amount",
                param="amount",
            )
        fee = int_param(p, "application_fee_amount")
        if fee is not None:
            if ctx.account == ctx.platform:
                raise StripeApiError(
                    400,
                    "Can only apply an application_fee_amount when the PaymentIntent is "
                    "attempting a direct payment (using an OAuth key or Stripe-Account header) "
                    "or destination payment (using `transfer_data[destination]`).",
                    param="application_fee_amount",
                )
            if not 0 <= fee <= amount:
                raise StripeApiError(
                    400,
                    "The application fee cannot be more than the amount.",
                    param="application_fee_amount",
                )
        confirm = bool_param(p, "confirm")
        off_session = bool_param(p, "off_session")
        if off_session and not confirm:
            raise StripeApiError(
                400, "`off_session` can only be used when `confirm=true`.", param="off_session"
            )
        customer = None
        if p.get("customer"):
            customer = self._find(ctx, p["customer"], "customer", param="customer", status=400)[
                "id"
            ]
        pi_id = intent_id or new_id("pi")
        intent = {
            "id": pi_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "application_fee_amount": fee,
            "capture_method": "automatic",
            "client_secret": f"{pi_id}_secret_{token(20)}",
            "confirmation_method": "automatic",
            "created": int(time.time()),
            "currency": currency,
            "customer": customer,
            "description": p.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": metadata_param(p),
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": None,
            "payment_method_types": method_types(p),
            "setup_future_usage": p.get("setup_future_usage"),
            "status": "requires_payment_method",
        }
        if p.get("payment_method"):
            intent["payment_method"] = self._resolve_pm(ctx, p["payment_method"], customer)
            intent["status"] = "requires_confirmation"
        self._store(ctx.account, intent)
        self._return_urls[pi_id] = p.get("return_url")
        self._emit(ctx.account, "payment_intent.created", intent, ctx)
        if confirm:
            raise_if(self._pi_confirm(ctx, intent, off_session=off_session))
        return self._render(ctx, intent, p.get("expand"))

    def _payment_intent_retrieve(
        self, ctx: Context, p: dict[str, Any], pi_id: str
    ) -> dict[str, Any]:
        simulated(p, {"client_secret"})
        return self._render(ctx, self._find(ctx, pi_id, "payment_intent"), p.get("expand"))

    def _payment_intent_confirm(
        self, ctx: Context, p: dict[str, Any], pi_id: str
    ) -> dict[str, Any]:
        simulated(p, {"payment_method", "off_session", "return_url", "setup_future_usage"})
        intent = self._find(ctx, pi_id, "payment_intent")
        if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
            raise_if(_unexpected_state("PaymentIntent", intent))
        if p.get("payment_method"):
            intent["payment_method"] = self._resolve_pm(
                ctx, p["payment_method"], intent["customer"]
            )
        if p.get("return_url"):
            self._return_urls[pi_id] = p["return_url"]
        if p.get("setup_future_usage"):
            intent["setup_future_usage"] = p["setup_future_usage"]
        raise_if(self._pi_confirm(ctx, intent, off_session=bool_param(p, "off_session")))
        return self._render(ctx, intent, p.get("expand"))

    def _pi_confirm(
        self, ctx: Context, intent: dict[str, Any], *, off_session: bool
    ) -> StripeApiError | None:
        if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
            return _unexpected_state("PaymentIntent", intent)
        if not intent["payment_method"]:
            return _missing_payment_method("PaymentIntent")
        card = self._cards[intent["payment_method"]]
        if card.charge == "authenticate":
            if off_session:
                return self._pi_fail(
                    ctx,
                    intent,
                    code="authentication_required",
                    decline_code="authentication_required",
                    message="Your card was declined. This transaction requires authentication.",
                    with_charge=True,
                )
            intent["status"] = "requires_action"
            intent["next_action"] = self._redirect_action(intent)
            self._emit(ctx.account, "payment_intent.requires_action", intent, ctx)
            return None
        if card.charge == "decline":
            return self._pi_fail(
                ctx,
                intent,
                code=card.code,
                decline_code=card.decline_code,
                message=card.message,
                with_charge=True,
            )
        self._pi_succeed(ctx, intent)
        return None

    def _redirect_action(self, intent: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "redirect_to_url",
            "redirect_to_url": {
                "url": f"{self.url}/3ds/{intent['id']}",
                "return_url": self._return_urls.get(intent["id"]),
            },
        }

    def _new_charge(self, ctx: Context, intent: dict[str, Any], *, status: str) -> dict[str, Any]:
        succeeded = status == "succeeded"
        charge = self._store(
            ctx.account,
            {
                "id": new_id("ch"),
                "object": "charge",
                "amount": intent["amount"],
                "amount_captured": intent["amount"] if succeeded else 0,
                "amount_refunded": 0,
                "application_fee_amount": intent["application_fee_amount"],
                "billing_details": {"address": None, "email": None, "name": None, "phone": None},
                "captured": succeeded,
                "created": int(time.time()),
                "currency": intent["currency"],
                "customer": intent["customer"],
                "disputed": False,
                "livemode": False,
                "metadata": dict(intent["metadata"]),
                "paid": succeeded,
                "payment_intent": intent["id"],
                "payment_method": intent["payment_method"],
                "payment_method_details": self._card_details(ctx, intent["payment_method"]),
                "refunded": False,
                "status": status,
            },
        )
        self.charges.append(
            ChargeRecord(
                charge_id=charge["id"],
                payment_intent_id=intent["id"],
                account=ctx.account,
                platform=ctx.platform,
                amount=charge["amount"],
                currency=charge["currency"],
                status=status,
                application_fee_amount=intent["application_fee_amount"],
                customer=intent["customer"],
            )
        )
        intent["latest_charge"] = charge["id"]
        return charge

    def _card_details(self, ctx: Context, pm_id: str | None) -> dict[str, Any] | None:
        """The charge's copy of the card that paid, as Stripe's Charge object carries it."""
        pm = self._objects.get(ctx.account, {}).get(pm_id or "")
        if not pm or pm.get("type") != "card":
            return None
        card = pm["card"]
        return {
            "type": "card",
            "card": {
                key: card.get(key)
                for key in (
                    "brand",
                    "country",
                    "exp_month",
                    "exp_year",
                    "fingerprint",
                    "funding",
                    "last4",
                )
            },
        }

    def _pi_succeed(self, ctx: Context, intent: dict[str, Any]) -> None:
        charge = self._new_charge(ctx, intent, status="succeeded")
        if intent["setup_future_usage"] and intent["customer"]:
            self._pm_attach(ctx, intent["payment_method"], intent["customer"])
        intent.update(
            status="succeeded",
            amount_received=intent["amount"],
            next_action=None,
            last_payment_error=None,
        )
        self._emit(ctx.account, "charge.succeeded", charge, ctx)
        self._emit(ctx.account, "payment_intent.succeeded", intent, ctx)

    def _pi_fail(
        self,
        ctx: Context,
        intent: dict[str, Any],
        *,
        code: str,
        decline_code: str | None,
        message: str,
        with_charge: bool,
    ) -> StripeApiError:
        error: dict[str, Any] = {
            "type": "card_error",
            "code": code,
            "decline_code": decline_code,
            "message": message,
            "payment_method": copy.deepcopy(self._objects[ctx.account][intent["payment_method"]]),
        }
        extra: dict[str, Any] = {}
        if with_charge:
            charge = self._new_charge(ctx, intent, status="failed")
            error["charge"] = extra["charge"] = charge["id"]
            self._emit(ctx.account, "charge.failed", charge, ctx)
        intent.update(status="requires_payment_method", next_action=None, last_payment_error=error)
        self._emit(ctx.account, "payment_intent.payment_failed", intent, ctx)
        return StripeApiError(
            402,
            message,
            type="card_error",
            code=code,
            decline_code=decline_code,
            payment_intent=copy.deepcopy(intent),
            **extra,
        )

    def _challenge_page(
        self, match: re.Match[str], *, query: str, method: str, body: bytes
    ) -> Response | None:
        """The bank's 3D Secure page: ``?result=fail`` fails the challenge."""
        intent_id = match.group(1)
        if intent_id not in self._home:
            return None
        fail = dict(parse_qsl(query)).get("result") == "fail"
        try:
            intent = self.complete_3ds(intent_id, succeed=not fail)
        except ValueError as exc:
            return Response(409, str(exc).encode(), {"Content-Type": "text/plain"})
        return_url = self._return_urls.get(intent_id)
        if return_url:
            key = intent["object"]
            extra = urlencode(
                {
                    key: intent_id,
                    f"{key}_client_secret": intent["client_secret"],
                    "redirect_status": "failed" if fail else "succeeded",
                }
            )
            return redirect(return_url + ("&" if "?" in return_url else "?") + extra)
        return Response(200, b"<p>Authentication complete.</p>", {"Content-Type": "text/html"})


def method_types(params: dict[str, Any]) -> list[str]:
    """What the object reports in ``payment_method_types``: cards, the only method here,
    when the caller allows them (by default Stripe's dynamic methods include them)."""
    allowed = params.get("allowed_payment_method_types")
    if allowed and "card" not in allowed:
        raise StripeApiError(
            400,
            "The local Stripe simulates card payments only; allow `card` in "
            "allowed_payment_method_types.",
            param="allowed_payment_method_types",
        )
    return ["card"]


def _unexpected_state(label: str, intent: dict[str, Any]) -> StripeApiError:
    return StripeApiError(
        400,
        f"You cannot confirm this {label} because it has a status of {intent['status']}.",
        code=f"{intent['object']}_unexpected_state",
    )


def _missing_payment_method(label: str) -> StripeApiError:
    return StripeApiError(
        400,
        f"You cannot confirm this {label} because it's missing a payment method.",
        code=f"{'payment_intent' if label == 'PaymentIntent' else 'setup_intent'}_unexpected_state",
    )
