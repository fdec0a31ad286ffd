"""Customers and payment methods of the local Stripe, and the test cards they stand for.

Follows Stripe's API reference, version 2026-10-28.endive: Customers
(https://docs.stripe.com/api/customers?api-version=2026-10-28.endive), PaymentMethods
(https://docs.stripe.com/api/payment_methods?api-version=2026-10-28.endive) and the test
payment methods of https://docs.stripe.com/testing#cards (``pm_card_visa`` ...) and the
cards by issuing country of https://docs.stripe.com/testing#international-cards
(``pm_card_ie`` ...): using one creates a ``pm_`` object on the account, as Stripe does, whose
``card.country`` and whose charges' ``payment_method_details.card.country`` name the issuer's
country (``US`` for the brand cards).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from sandbox.stripe.base import (
    Context,
    StripeApiError,
    StripeServerBase,
    metadata_param,
    new_id,
    required,
    simulated,
)


@dataclass(frozen=True)
class TestCard:
    """What a test card does when it is saved (setup) and when it is charged."""

    __test__ = False  # not a pytest class

    brand: str
    last4: str
    setup: str  # "succeed" | "decline" | "authenticate"
    charge: str  # "succeed" | "decline" | "authenticate"
    code: str = "card_declined"
    decline_code: str | None = None
    message: str = "Your card was declined."
    country: str = "US"


TEST_CARDS: dict[str, TestCard] = {
    "pm_card_visa": TestCard("visa", "4242", "succeed", "succeed"),
    "pm_card_mastercard": TestCard("mastercard", "4444", "succeed", "succeed"),
    "pm_card_chargeDeclined": TestCard(
        "visa", "0002", "decline", "decline", decline_code="generic_decline"
    ),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard(
        "visa",
        "9995",
        "succeed",
        "decline",
        decline_code="insufficient_funds",
        message="Your card has insufficient funds.",
    ),
    "pm_card_chargeDeclinedExpiredCard": TestCard(
        "visa",
        "0069",
        "decline",
        "decline",
        code="expired_card",
        decline_code="expired_card",
        message="Your card has expired.",
    ),
    # Saves fine, then every charge fails: an auto-charge of a stored card that stopped working.
    "pm_card_chargeCustomerFail": TestCard(
        "visa", "0341", "succeed", "decline", decline_code="generic_decline"
    ),
    "pm_card_authenticationRequired": TestCard("visa", "3184", "authenticate", "authenticate"),
    "pm_card_threeDSecure2Required": TestCard("visa", "3220", "authenticate", "authenticate"),
    "pm_card_authenticationRequiredOnSetup": TestCard("visa", "3155", "authenticate", "succeed"),
    # Cards by issuing country (Stripe's "International cards" table).
    "pm_card_us": TestCard("visa", "4242", "succeed", "succeed", country="US"),
    "pm_card_ie": TestCard("visa", "0005", "succeed", "succeed", country="IE"),
    "pm_card_it": TestCard("visa", "0008", "succeed", "succeed", country="IT"),
    "pm_card_de": TestCard("visa", "0016", "succeed", "succeed", country="DE"),
    "pm_card_fr": TestCard("visa", "0003", "succeed", "succeed", country="FR"),
    "pm_card_gb": TestCard("visa", "0000", "succeed", "succeed", country="GB"),
}


class CustomersApi(StripeServerBase):
    ROUTES = (
        *StripeServerBase.ROUTES,
        ("POST", "/v1/customers", "_customer_create"),
        ("GET", "/v1/customers/{id}", "_customer_retrieve"),
        ("GET", "/v1/payment_methods", "_payment_method_list"),
        ("GET", "/v1/payment_methods/{id}", "_payment_method_retrieve"),
        ("POST", "/v1/payment_methods/{id}/attach", "_payment_method_attach"),
        ("POST", "/v1/payment_methods/{id}/detach", "_payment_method_detach"),
    )

    def __init__(self) -> None:
        super().__init__()
        self._cards: dict[str, TestCard] = {}

    def _customer_create(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        simulated(p, {"email", "name", "description", "metadata", "phone"})
        customer = self._store(
            ctx.account,
            {
                "id": new_id("cus", 14),
                "object": "customer",
                "created": int(time.time()),
                "description": p.get("description"),
                "email": p.get("email"),
                "invoice_settings": {"default_payment_method": None},
                "livemode": False,
                "metadata": metadata_param(p),
                "name": p.get("name"),
                "phone": p.get("phone"),
            },
        )
        self._emit(ctx.account, "customer.created", customer, ctx)
        return self._render(ctx, customer, p.get("expand"))

    def _customer_retrieve(
        self, ctx: Context, p: dict[str, Any], customer_id: str
    ) -> dict[str, Any]:
        simulated(p, set())
        return self._render(ctx, self._find(ctx, customer_id, "customer"), p.get("expand"))

    # payment methods

    def _resolve_pm(self, ctx: Context, ref: Any, customer: str | None) -> str:
        """A test-card token becomes a new PaymentMethod on the account, as on Stripe."""
        if isinstance(ref, str) and ref in TEST_CARDS:
            card = TEST_CARDS[ref]
            pm = self._store(
                ctx.account,
                {
                    "id": new_id("pm"),
                    "object": "payment_method",
                    "billing_details": {"address": None, "email": None, "name": None},
                    "card": {
                        "brand": card.brand,
                        "country": card.country,
                        "exp_month": 12,
                        "exp_year": time.gmtime().tm_year + 3,
                        "fingerprint": hashlib.sha256(ref.encode()).hexdigest()[:16],
                        "funding": "credit",
                        "last4": card.last4,
                    },
                    "created": int(time.time()),
                    "customer": None,
                    "livemode": False,
                    "metadata": {},
                    "type": "card",
                },
            )
            self._cards[pm["id"]] = card
            return pm["id"]
        pm = self._find(ctx, ref, "payment_method", param="payment_method", status=400)
        if customer and pm["customer"] and pm["customer"] != customer:
            raise StripeApiError(
                400,
                f"The provided PaymentMethod {pm['id']} is attached to another customer.",
                param="payment_method",
            )
        return pm["id"]

    def _pm_attach(self, ctx: Context, pm_id: str, customer_id: str) -> None:
        pm = self._objects[ctx.account][pm_id]
        if pm["customer"] != customer_id:
            pm["customer"] = customer_id
            self._emit(ctx.account, "payment_method.attached", pm, ctx)

    def _payment_method_list(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        simulated(p, {"customer", "type", "limit", "starting_after"})
        customer = self._find(
            ctx, required(p, "customer"), "customer", param="customer", status=400
        )
        wanted = p.get("type")
        items = [
            o
            for o in reversed(self._objects.get(ctx.account, {}).values())
            if o["object"] == "payment_method"
            and o["customer"] == customer["id"]
            and (wanted is None or o["type"] == wanted)
        ]
        return self._list(ctx, items, p, "/v1/payment_methods")

    def _payment_method_retrieve(
        self, ctx: Context, p: dict[str, Any], pm_id: str
    ) -> dict[str, Any]:
        simulated(p, set())
        return self._render(ctx, self._find(ctx, pm_id, "payment_method"), p.get("expand"))

    def _payment_method_attach(
        self, ctx: Context, p: dict[str, Any], pm_ref: str
    ) -> dict[str, Any]:
        simulated(p, {"customer"})
        customer = self._find(
            ctx, required(p, "customer"), "customer", param="customer", status=400
        )
        pm_id = self._resolve_pm(ctx, pm_ref, customer["id"])
        card = self._cards[pm_id]
        if card.setup == "decline":
            raise StripeApiError(
                402, card.message, type="card_error", code=card.code, decline_code=card.decline_code
            )
        self._pm_attach(ctx, pm_id, customer["id"])
        return self._render(ctx, self._objects[ctx.account][pm_id], p.get("expand"))

    def _payment_method_detach(self, ctx: Context, p: dict[str, Any], pm_id: str) -> dict[str, Any]:
        simulated(p, set())
        pm = self._find(ctx, pm_id, "payment_method")
        if pm["customer"] is None:
            raise StripeApiError(
                400,
                "The payment method you provided is not attached to a customer so detachment "
                "is impossible.",
                code="payment_method_unexpected_state",
            )
        pm["customer"] = None
        self._emit(ctx.account, "payment_method.detached", pm, ctx)
        return self._render(ctx, pm, p.get("expand"))
