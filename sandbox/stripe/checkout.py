"""Checkout Sessions of the local Stripe and the hosted page where a person pays.

Follows Stripe's API reference, version 2026-10-28.endive: Checkout Sessions
(https://docs.stripe.com/api/checkout/sessions?api-version=2026-10-28.endive), with
``allowed_payment_method_types`` instead of the removed ``payment_method_types``
(https://docs.stripe.com/changelog/endive/2026-09-30/remove-payment-method-types-checkout-sessions)
and, in setup mode, ``currency`` required unless the methods are given. The hosted page
(``/c/pay/<session id>``) takes Stripe's test card numbers
(https://docs.stripe.com/testing#cards); 3D Secure goes through ``/3ds/<id>`` as for any
PaymentIntent, then back to the page, which sends the browser to ``success_url``.
"""

from __future__ import annotations

import copy
import html
import re
import time
from typing import Any
from urllib.parse import parse_qsl

from sandbox.stripe.base import (
    Context,
    Response,
    StripeApiError,
    html_page,
    int_param,
    metadata_param,
    new_id,
    redirect,
    required,
    simulated,
    token,
)
from sandbox.stripe.intents import IntentsApi, method_types

# Card numbers typed on a hosted Checkout page, as Stripe's test cards.
TEST_CARD_NUMBERS: dict[str, str] = {
    "4242424242424242": "pm_card_visa",
    "5555555555554444": "pm_card_mastercard",
    "4000000000000002": "pm_card_chargeDeclined",
    "4000000000009995": "pm_card_chargeDeclinedInsufficientFunds",
    "4000000000000069": "pm_card_chargeDeclinedExpiredCard",
    "4000002760003184": "pm_card_authenticationRequired",
    "4000000000003220": "pm_card_threeDSecure2Required",
    "4000002500003155": "pm_card_authenticationRequiredOnSetup",
}
CHECKOUT_SESSION_TTL_S = 24 * 3600


CHECKOUT_SESSION_TTL_S = 24 * 3600


class CheckoutApi(IntentsApi):
    ROUTES = (
        *IntentsApi.ROUTES,
        ("POST", "/v1/checkout/sessions", "_checkout_session_create"),
        ("GET", "/v1/checkout/sessions/{id}", "_checkout_session_retrieve"),
        ("POST", "/v1/checkout/sessions/{id}/expire", "_checkout_session_expire"),
    )
    PAGES = (*IntentsApi.PAGES, (r"/c/pay/(cs_[A-Za-z0-9_]+)(/return)?", "_checkout_route"))

    def __init__(self) -> None:
        super().__init__()
        # Checkout Session id -> what it was created with but does not show (line items,
        # payment_intent_data, the page's last error).
        self._checkout: dict[str, dict[str, Any]] = {}

    def _checkout_route(
        self, match: re.Match[str], *, query: str, method: str, body: bytes
    ) -> Response | None:
        session_id = match.group(1)
        if session_id not in self._checkout:
            return None
        if match.group(2):
            return self._checkout_page_return(session_id)
        if method == "POST":
            return self._checkout_page_submit(session_id, body)
        return self._checkout_page(session_id)

    def _checkout_session_create(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        simulated(
            p,
            {
                "mode",
                "success_url",
                "cancel_url",
                "line_items",
                "customer",
                "customer_email",
                "client_reference_id",
                "currency",
                "locale",
                "metadata",
                "payment_intent_data",
                "setup_intent_data",
                "allowed_payment_method_types",
                "expires_at",
            },
        )
        mode = required(p, "mode")
        if mode not in ("payment", "setup"):
            raise StripeApiError(400, f"Invalid mode: {mode}", param="mode")
        success_url = str(required(p, "success_url"))
        for name in ("success_url", "cancel_url"):
            if p.get(name) and not re.match(r"https?://", str(p[name])):
                raise StripeApiError(400, "Not a valid URL", param=name)
        customer = None
        if p.get("customer"):
            customer = self._find(ctx, p["customer"], "customer", param="customer", status=400)
        session_id = f"cs_test_{token(58)}"
        now = int(time.time())
        session: dict[str, Any] = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": None,
            "amount_total": None,
            "automatic_tax": {
                "enabled": False,
                "liability": None,
                "provider": None,
                "status": None,
            },
            "cancel_url": p.get("cancel_url"),
            "client_reference_id": p.get("client_reference_id"),
            "created": now,
            "currency": None,
            "custom_fields": [],
            "custom_text": {
                "after_submit": None,
                "shipping_address": None,
                "submit": None,
                "terms_of_service_acceptance": None,
            },
            "customer": customer["id"] if customer else None,
            "customer_details": None,
            "customer_email": p.get("customer_email"),
            "expires_at": int_param(p, "expires_at", now + CHECKOUT_SESSION_TTL_S),
            "livemode": False,
            "locale": p.get("locale"),
            "metadata": metadata_param(p),
            "mode": mode,
            "payment_intent": None,
            "payment_method_types": method_types(p),
            "payment_status": "unpaid",
            "setup_intent": None,
            "shipping_options": [],
            "status": "open",
            "success_url": success_url,
            "url": f"{self.url}/c/pay/{session_id}",
        }
        private: dict[str, Any] = {"error": None}
        if mode == "payment":
            if p.get("setup_intent_data"):
                raise StripeApiError(
                    400,
                    "You can not pass `setup_intent_data` in `payment` mode.",
                    param="setup_intent_data",
                )
            items = p.get("line_items")
            if not isinstance(items, list) or not items:
                raise StripeApiError(
                    400,
                    "`line_items` is required in `payment` mode.",
                    code="parameter_missing",
                    param="line_items",
                )
            total, currency = 0, None
            for index, item in enumerate(items):
                price = item.get("price_data") if isinstance(item, dict) else None
                if not isinstance(price, dict):
                    raise StripeApiError(
                        400,
                        "Each line item needs `price_data` on this server.",
                        param=f"line_items[{index}][price_data]",
                    )
                unit = int_param(price, "unit_amount")
                quantity = int_param(item, "quantity", 1)
                line_currency = str(price.get("currency") or "")
                if unit is None or unit < 0 or quantity is None or quantity < 1:
                    raise StripeApiError(
                        400, "Invalid line item amount.", param=f"line_items[{index}]"
                    )
                if not re.fullmatch(r"[a-z]{3}", line_currency) or currency not in (
                    None,
                    line_currency,
                ):
                    raise StripeApiError(
                        400,
                        "All line items must share one valid currency.",
                        param=f"line_items[{index}][price_data][currency]",
                    )
                if not (price.get("product_data") or {}).get("name"):
                    raise StripeApiError(
                        400,
                        "Missing required param: line_items[0][price_data][product_data][name].",
                        code="parameter_missing",
                        param=f"line_items[{index}][price_data][product_data][name]",
                    )
                total += unit * quantity
                currency = line_currency
            if total < 1:
                raise StripeApiError(
                    400,
                    "The Checkout Session's total amount due must be at least 1.",
                    param="line_items",
                )
            intent_data = p.get("payment_intent_data") or {}
            fee = int_param(intent_data, "application_fee_amount")
            if fee is not None and (ctx.account == ctx.platform or not 0 <= fee <= total):
                raise StripeApiError(
                    400,
                    "Can only apply an application_fee_amount, at most the amount, to a direct "
                    "payment (using an OAuth key or Stripe-Account header).",
                    param="payment_intent_data[application_fee_amount]",
                )
            session.update(amount_subtotal=total, amount_total=total, currency=currency)
            private["lines"] = copy.deepcopy(items)
            private["intent_data"] = intent_data
        else:
            if p.get("line_items") or p.get("payment_intent_data"):
                raise StripeApiError(
                    400,
                    "You can not pass `line_items` or `payment_intent_data` in `setup` mode.",
                    param="line_items",
                )
            if not p.get("currency") and not p.get("allowed_payment_method_types"):
                raise StripeApiError(
                    400,
                    "Missing required param: currency. It is required in `setup` mode when "
                    "`allowed_payment_method_types` is not set.",
                    code="parameter_missing",
                    param="currency",
                )
            setup_data = p.get("setup_intent_data") or {}
            setup = self._setup_intent_create(
                ctx,
                {
                    "customer": session["customer"],
                    "metadata": setup_data.get("metadata") or {},
                    "description": setup_data.get("description"),
                    "allowed_payment_method_types": session["payment_method_types"],
                    "usage": "off_session",
                },
            )
            session["setup_intent"] = setup["id"]
            session["currency"] = p.get("currency")
        self._store(ctx.account, session)
        self._checkout[session_id] = private
        return self._render(ctx, session, p.get("expand"))

    def _checkout_session_retrieve(
        self, ctx: Context, p: dict[str, Any], session_id: str
    ) -> dict[str, Any]:
        simulated(p, set())
        session = self._find(ctx, session_id, "checkout.session")
        self._checkout_expire_if_due(ctx, session)
        return self._render(ctx, session, p.get("expand"))

    def _checkout_session_expire(
        self, ctx: Context, p: dict[str, Any], session_id: str
    ) -> dict[str, Any]:
        simulated(p, set())
        session = self._find(ctx, session_id, "checkout.session")
        if session["status"] != "open":
            raise StripeApiError(
                400,
                f'Only Checkout Sessions with a status in ["open"] can be expired. This '
                f'Checkout Session has a status of "{session["status"]}".',
            )
        self._checkout_expire(ctx, session)
        return self._render(ctx, session, p.get("expand"))

    def expire_checkout_session(self, session_id: str) -> dict[str, Any]:
        """Time passes: an open Checkout Session expires, as after its ``expires_at``."""
        with self._lock:
            ctx = self._ctx_of(session_id)
            session = self._objects[ctx.account][session_id]
            if session["status"] == "open":
                self._checkout_expire(ctx, session)
            return copy.deepcopy(session)

    def _checkout_expire_if_due(self, ctx: Context, session: dict[str, Any]) -> None:
        if session["status"] == "open" and session["expires_at"] <= time.time():
            self._checkout_expire(ctx, session)

    def _checkout_expire(self, ctx: Context, session: dict[str, Any]) -> None:
        intent_id = session["payment_intent"] or session["setup_intent"]
        intent = self._objects[ctx.account].get(intent_id) if intent_id else None
        if intent is not None and intent["status"] not in ("succeeded", "canceled"):
            intent.update(status="canceled", next_action=None)
            self._emit(ctx.account, f"{intent['object']}.canceled", intent, ctx)
        session.update(status="expired", url=None)
        self._emit(ctx.account, "checkout.session.expired", session, ctx)

    def _checkout_complete(self, ctx: Context, session: dict[str, Any]) -> Response:
        if session["status"] == "open":
            paid = session["mode"] == "payment"
            session.update(
                status="complete",
                payment_status="paid" if paid else "no_payment_required",
                url=None,
            )
            customer = (
                self._objects[ctx.account].get(session["customer"]) if session["customer"] else None
            )
            session["customer_details"] = {
                "email": (customer or {}).get("email") or session["customer_email"],
                "name": (customer or {}).get("name"),
            }
            self._emit(ctx.account, "checkout.session.completed", session, ctx)
        return redirect(
            session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"]), status=303
        )

    def _checkout_page(
        self, session_id: str, *, error: str | None = None, status: int = 200
    ) -> Response:
        ctx = self._ctx_of(session_id)
        session = self._objects[ctx.account][session_id]
        self._checkout_expire_if_due(ctx, session)
        if session["status"] == "complete":
            return redirect(
                session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id), status=303
            )
        if session["status"] == "expired":
            return html_page(410, "<h1>This page has expired</h1>")
        private = self._checkout[session_id]
        if session["mode"] == "payment":
            names = ", ".join(
                html.escape(str(line["price_data"]["product_data"]["name"]))
                for line in private["lines"]
            )
            amount = f"{session['amount_total']} {session['currency'].upper()} (minor units)"
            heading = f'<h1>Pay {names}</h1><p id="amount">{amount}</p>'
            button = "Pay"
        else:
            heading = "<h1>Save a card</h1>"
            button = "Save card"
        message = error or private["error"]
        alert = f'<p role="alert" class="error">{html.escape(message)}</p>' if message else ""
        back = (
            f'<p><a href="{html.escape(session["cancel_url"])}">Back</a></p>'
            if session["cancel_url"]
            else ""
        )
        page = (
            f"{heading}{alert}"
            f'<form method="post" action="/c/pay/{session_id}">'
            '<label>Card number <input name="cardnumber" inputmode="numeric"></label>'
            '<label>Expiry <input name="exp" placeholder="MM / YY"></label>'
            '<label>CVC <input name="cvc"></label>'
            f'<button type="submit">{button}</button></form>{back}'
        )
        return html_page(status, page)

    def _checkout_page_submit(self, session_id: str, body: bytes) -> Response:
        ctx = self._ctx_of(session_id)
        session = self._objects[ctx.account][session_id]
        self._checkout_expire_if_due(ctx, session)
        if session["status"] != "open":
            return self._checkout_page(session_id)
        form = dict(parse_qsl(body.decode(), keep_blank_values=True))
        number = re.sub(r"\D", "", form.get("cardnumber", ""))
        token = TEST_CARD_NUMBERS.get(number)
        if token is None:
            return self._checkout_page(session_id, error="Your card number is invalid.", status=400)
        private = self._checkout[session_id]
        private["error"] = None
        return_url = f"{self.url}/c/pay/{session_id}/return"
        try:
            if session["mode"] == "payment":
                intent = self._checkout_payment_confirm(ctx, session, token, return_url)
            else:
                intent = self._setup_intent_confirm(
                    ctx,
                    {"payment_method": token, "return_url": return_url},
                    session["setup_intent"],
                )
        except StripeApiError as exc:
            # Declined: Checkout keeps the page open and says why, nothing else changes.
            private["error"] = exc.error.get("message")
            return self._checkout_page(session_id, status=402)
        return self._checkout_after_confirm(ctx, session, intent)

    def _checkout_payment_confirm(
        self, ctx: Context, session: dict[str, Any], token: str, return_url: str
    ) -> dict[str, Any]:
        if session["payment_intent"]:
            # Another card after a refused one: the same PaymentIntent, confirmed again.
            return self._payment_intent_confirm(
                ctx, {"payment_method": token, "return_url": return_url}, session["payment_intent"]
            )
        data = self._checkout[session["id"]]["intent_data"]
        params: dict[str, Any] = {
            "amount": str(session["amount_total"]),
            "currency": session["currency"],
            "payment_method": token,
            "allowed_payment_method_types": session["payment_method_types"],
            "metadata": data.get("metadata") or {},
            "confirm": "true",
            "return_url": return_url,
        }
        for name in ("application_fee_amount", "setup_future_usage", "description"):
            if data.get(name) not in (None, ""):
                params[name] = data[name]
        if session["customer"]:
            params["customer"] = session["customer"]
        # Created by the page when the card is submitted, as in current API versions.
        intent_id = new_id("pi")
        try:
            intent = self._payment_intent_create(ctx, params, intent_id=intent_id)
        finally:
            if intent_id in self._home:
                session["payment_intent"] = intent_id
        return intent

    def _checkout_after_confirm(
        self, ctx: Context, session: dict[str, Any], intent: dict[str, Any]
    ) -> Response:
        if intent["status"] == "succeeded":
            return self._checkout_complete(ctx, session)
        if intent["status"] == "requires_action":
            return redirect(intent["next_action"]["redirect_to_url"]["url"], status=303)
        return self._checkout_page(session["id"])

    def _checkout_page_return(self, session_id: str) -> Response:
        """Back from 3D Secure: complete the session, or show the page with the refusal."""
        ctx = self._ctx_of(session_id)
        session = self._objects[ctx.account][session_id]
        intent_id = session["payment_intent"] or session["setup_intent"]
        intent = self._objects[ctx.account].get(intent_id) if intent_id else None
        if intent is None or session["status"] != "open":
            return self._checkout_page(session_id)
        error = intent.get("last_payment_error") or intent.get("last_setup_error")
        if intent["status"] != "succeeded" and error:
            self._checkout[session_id]["error"] = error.get("message")
        return self._checkout_after_confirm(ctx, session, intent)
