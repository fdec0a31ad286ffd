"""Charges, refunds and disputes of the local Stripe.

Follows Stripe's API reference, version 2026-10-28.endive: Charges
(https://docs.stripe.com/api/charges?api-version=2026-10-28.endive), Refunds
(https://docs.stripe.com/api/refunds?api-version=2026-10-28.endive) and Disputes
(https://docs.stripe.com/api/disputes/object?api-version=2026-10-28.endive); a dispute is
opened by the test (``create_dispute``), as a cardholder's bank would.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from sandbox.stripe.base import (
    Context,
    StripeApiError,
    StripeServerBase,
    int_param,
    metadata_param,
    new_id,
    simulated,
)


class RefundsApi(StripeServerBase):
    ROUTES = (
        *StripeServerBase.ROUTES,
        ("GET", "/v1/charges/{id}", "_charge_retrieve"),
        ("POST", "/v1/refunds", "_refund_create"),
        ("GET", "/v1/refunds/{id}", "_refund_retrieve"),
    )

    def create_dispute(
        self, charge_id: str, *, reason: str = "fraudulent", amount: int | None = None
    ) -> dict[str, Any]:
        """The cardholder's bank opens a dispute on a charge."""
        with self._lock:
            account = self._home[charge_id]
            charge = self._objects[account][charge_id]
            dispute = {
                "id": new_id("dp"),
                "object": "dispute",
                "amount": charge["amount"] if amount is None else amount,
                "charge": charge_id,
                "created": int(time.time()),
                "currency": charge["currency"],
                "balance_transactions": [],
                "enhanced_eligibility_types": [],
                "evidence": {},
                "evidence_details": {
                    "due_by": int(time.time()) + 7 * 24 * 3600,
                    "has_evidence": False,
                    "past_due": False,
                    "submission_count": 0,
                },
                "is_charge_refundable": False,
                "livemode": False,
                "metadata": {},
                "payment_intent": charge["payment_intent"],
                "reason": reason,
                "status": "needs_response",
            }
            self._store(account, dispute)
            charge["disputed"] = True
            self._emit(account, "charge.dispute.created", dispute)
            return copy.deepcopy(dispute)

    def _charge_retrieve(self, ctx: Context, p: dict[str, Any], charge_id: str) -> dict[str, Any]:
        simulated(p, set())
        return self._render(ctx, self._find(ctx, charge_id, "charge"), p.get("expand"))

    def _refund_create(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        simulated(
            p,
            {"payment_intent", "charge", "amount", "reason", "metadata", "refund_application_fee"},
        )
        if p.get("payment_intent"):
            intent = self._find(
                ctx, p["payment_intent"], "payment_intent", param="payment_intent", status=400
            )
            charge_id = intent["latest_charge"] if intent["status"] == "succeeded" else None
            if charge_id is None:
                raise StripeApiError(
                    400,
                    f"This PaymentIntent ({intent['id']}) does not have a successful charge "
                    "to refund.",
                    code="charge_not_refundable",
                    param="payment_intent",
                )
            charge = self._objects[ctx.account][charge_id]
        elif p.get("charge"):
            charge = self._find(ctx, p["charge"], "charge", param="charge", status=400)
        else:
            raise StripeApiError(
                400,
                "One of the following params should be provided for this request: "
                "payment_intent or charge.",
                code="parameter_missing",
            )
        if charge["status"] != "succeeded":
            raise StripeApiError(
                400, f"Charge {charge['id']} did not succeed.", code="charge_not_refundable"
            )
        remaining = charge["amount_captured"] - charge["amount_refunded"]
        if remaining <= 0:
            raise StripeApiError(
                400,
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = int_param(p, "amount", remaining)
        assert amount is not None
        if amount < 1:
            raise StripeApiError(
                400, "This value must be greater than or equal to 1.", param="amount"
            )
        if amount > remaining:
            raise StripeApiError(
                400,
                f"Refund amount ({amount} {charge['currency']}) is greater than unrefunded "
                f"amount on charge ({remaining} {charge['currency']})",
                param="amount",
            )
        refund = self._store(
            ctx.account,
            {
                "id": new_id("re"),
                "object": "refund",
                "amount": amount,
                "charge": charge["id"],
                "created": int(time.time()),
                "currency": charge["currency"],
                "failure_reason": None,
                "metadata": metadata_param(p),
                "payment_intent": charge["payment_intent"],
                "reason": p.get("reason"),
                "status": "succeeded",
            },
        )
        previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount_captured"]
        for record in self.charges:
            if record.charge_id == charge["id"]:
                record.amount_refunded = charge["amount_refunded"]
        self._emit(ctx.account, "refund.created", refund, ctx)
        self._emit(ctx.account, "charge.refunded", charge, ctx, previous=previous)
        return self._render(ctx, refund, p.get("expand"))

    def _refund_retrieve(self, ctx: Context, p: dict[str, Any], refund_id: str) -> dict[str, Any]:
        simulated(p, set())
        return self._render(ctx, self._find(ctx, refund_id, "refund"), p.get("expand"))
