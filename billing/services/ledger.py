"""Appending to the client ledger (see billing.models.ledger for the sign convention)."""

from __future__ import annotations

from billing.models import Client, CreditNote, Invoice, LedgerEntry, Payment, Refund
from billing.money import Money


def ledger_entry_append(
    *,
    client: Client,
    kind: str,
    amount: Money,
    invoice: Invoice | None = None,
    payment: Payment | None = None,
    refund: Refund | None = None,
    credit_note: CreditNote | None = None,
    description: str = "",
    idempotency_key: str | None = None,
) -> LedgerEntry | None:
    """One more entry; nothing for a zero amount (it would change no balance)."""
    if amount.amount == 0:
        return None
    return LedgerEntry.objects.create(
        client=client,
        kind=kind,
        amount=amount.amount,
        currency=amount.currency,
        invoice=invoice,
        payment=payment,
        refund=refund,
        credit_note=credit_note,
        description=description[:500],
        idempotency_key=idempotency_key,
    )
