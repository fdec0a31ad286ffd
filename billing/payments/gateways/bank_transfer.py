"""Bank transfer: the client pays into the tenant's bank account quoting the invoice's
payment reference; staff record the money when it shows up on the statement
(``billing.payments.flows.bank_transfer_record``, through ``payment_record``).

The reference is an ISO 11649 creditor reference ("RF" + two check digits + the invoice
number's letters and digits), which banks across SEPA carry through unchanged and which
catches a mistyped digit before a payment is booked against the wrong invoice."""

from __future__ import annotations

import re
from collections.abc import Mapping

from billing.money import Money
from billing.payments.gateways.base import (
    GatewayUnsupported,
    IntentStatus,
    PaymentGateway,
    PaymentRequest,
    PaymentState,
    RefundState,
)

_BODY_MAX = 21


def _numeric(text: str) -> int:
    # ISO 7064 MOD 97-10 over letters as 10..35.
    return int("".join(str(int(ch, 36)) for ch in text))


def reference_body(invoice_number: str) -> str:
    body = re.sub(r"[^0-9A-Za-z]", "", invoice_number).upper()
    if not body or len(body) > _BODY_MAX:
        raise ValueError(f"“{invoice_number}” cannot be made into a creditor reference.")
    return body


def creditor_reference(invoice_number: str) -> str:
    """``2026/00042`` → ``RF89202600042``."""
    body = reference_body(invoice_number)
    check = 98 - _numeric(body + "RF00") % 97
    return f"RF{check:02d}{body}"


def payment_reference(invoice_number: str) -> str:
    """The one reference an invoice is paid with, wherever it is shown (page, PDF,
    e-mail, bank instructions): its creditor reference, or the number itself when the
    number cannot become one (it is still what staff match the statement against)."""
    try:
        return creditor_reference(invoice_number)
    except ValueError:
        return invoice_number


def creditor_reference_parse(reference: str) -> str:
    """The body of a creditor reference as a person typed it; ValueError when its check
    digits do not match (a typo)."""
    compact = re.sub(r"\s", "", reference).upper()
    if not re.fullmatch(r"RF\d{2}[0-9A-Z]{1,21}", compact):
        raise ValueError(f"“{reference}” is not a creditor reference.")
    if _numeric(compact[4:] + compact[:4]) % 97 != 1:
        raise ValueError(f"“{reference}” has wrong check digits.")
    return compact[4:]


class BankTransferGateway(PaymentGateway):
    name = "bank_transfer"

    def __init__(self, *, account_holder: str = "", iban: str = "", bic: str = "") -> None:
        self.account_holder = account_holder
        self.iban = iban
        self.bic = bic

    def payment_start(self, request: PaymentRequest, *, idempotency_key: str) -> PaymentState:
        reference = request.metadata.get("payment_reference") or request.order_ref
        amount = request.amount.rounded()
        return PaymentState(
            reference=reference,
            status=IntentStatus.PENDING,
            amount=amount,
            amount_received=Money.zero(amount.currency),
            instructions={
                "account_holder": self.account_holder,
                "iban": self.iban,
                "bic": self.bic,
                "reference": reference,
                "amount": str(amount.amount),
                "currency": amount.currency,
            },
        )

    def payment_finish(self, *, reference: str) -> PaymentState:
        raise GatewayUnsupported(
            "A bank transfer is known only when staff find it on the bank statement."
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
        """Staff send the money back from the bank themselves; this only records that
        they did, under the reference of their outgoing transfer."""
        outgoing = (metadata or {}).get("bank_reference") or idempotency_key
        return RefundState(
            reference=outgoing,
            status="succeeded",
            amount=amount,
            payment_reference=payment_reference,
        )
