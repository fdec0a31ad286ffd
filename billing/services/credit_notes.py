"""Credit notes: the only way to correct an issued invoice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing.errors import BillingError
from billing.models import (
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    NumberSequence,
)
from billing.money import Money, round_money
from billing.numbering import document_number_next
from billing.selectors import billing_settings_get
from billing.services._common import client_lock, invoice_lock, money_input, today
from billing.services.invoice_status import invoice_status_refresh
from billing.services.ledger import ledger_entry_append
from billing.services.parties import party_seller
from billing.services.payments import refund_book


@dataclass(frozen=True)
class CreditLine:
    """Part of an invoice line to credit: ``amount`` is gross (what the client paid for
    it); None credits whatever of the line is not credited yet."""

    invoice_line: InvoiceLine
    amount: Money | None = None


def _credited_so_far(line: InvoiceLine) -> tuple[Decimal, Decimal, Decimal]:
    sums = line.credit_note_lines.aggregate(
        net=Sum("net_amount"), tax=Sum("tax_amount"), total=Sum("total_amount")
    )
    return (sums["net"] or Decimal(0), sums["tax"] or Decimal(0), sums["total"] or Decimal(0))


@transaction.atomic
def credit_note_issue(
    *,
    invoice: Invoice,
    reason: str,
    lines: Sequence[CreditLine] | None = None,
    idempotency_key: str | None = None,
    issue_date: date | None = None,
) -> CreditNote:
    """Credits an issued invoice, in full (``lines`` None) or the given parts of its
    lines. What the client had not paid yet is no longer due; what it had paid becomes
    account credit (refund it from there with payment_refund if it wants its money)."""
    reason = (reason or "").strip()
    if not reason:
        raise BillingError("A credit note needs a reason.")
    client = client_lock(invoice.client)
    invoice = invoice_lock(invoice)
    if idempotency_key:
        existing = CreditNote.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.invoice_id != invoice.pk:
                raise BillingError("This idempotency key was already used for another credit.")
            return existing
    if invoice.status == Invoice.Status.DRAFT:
        raise BillingError(f"{invoice} is a draft; edit it instead of crediting it.")
    currency = invoice.currency

    planned: list[tuple[InvoiceLine, Decimal, Decimal, Decimal]] = []
    if lines is None:
        for line in invoice.lines.all():
            net, tax, total = _credited_so_far(line)
            if line.total_amount - total != 0 or line.net_amount - net != 0:
                planned.append(
                    (line, line.net_amount - net, line.tax_amount - tax, line.total_amount - total)
                )
    else:
        seen: set[int] = set()
        for wanted in lines:
            line = wanted.invoice_line
            if line.invoice_id != invoice.pk:
                raise BillingError(f"“{line}” is not a line of {invoice}.")
            if line.pk in seen:
                raise BillingError(f"“{line}” is listed twice.")
            seen.add(line.pk)
            net_done, _, total_done = _credited_so_far(line)
            remaining = line.total_amount - total_done
            if line.total_amount <= 0:
                raise BillingError(f"“{line}” does not charge anything to credit.")
            if wanted.amount is None:
                gross = remaining
            else:
                gross = money_input(wanted.amount, currency=currency, what="The credit").amount
            if gross <= 0 or gross > remaining:
                raise BillingError(
                    f"At most {Money(remaining, currency)} of “{line}” can still be credited."
                )
            if gross == remaining:
                # The last part takes exactly what is left, so line totals reconcile.
                net = line.net_amount - net_done
            else:
                net = round_money(gross * line.net_amount / line.total_amount, currency)
            planned.append((line, net, gross - net, gross))

    total = sum((p[3] for p in planned), Decimal(0))
    if total <= 0:
        raise BillingError(f"Nothing is left to credit on {invoice}.")
    if total > invoice.total_amount - invoice.credited_amount:
        raise BillingError(f"That is more than is left to credit on {invoice}.")

    settings = billing_settings_get()
    issue_date = issue_date or today()
    number, year, sequence_number = document_number_next(
        document_type=NumberSequence.DocumentType.CREDIT_NOTE,
        issue_date=issue_date,
        settings=settings,
    )
    unpaid = invoice.amount_due.amount
    to_credit = max(total - unpaid, Decimal(0))
    note = CreditNote.objects.create(
        invoice=invoice,
        client=client,
        number=number,
        sequence_year=year,
        sequence_number=sequence_number,
        currency=currency,
        language=invoice.language,
        issue_date=issue_date,
        issued_at=timezone.now(),
        reason=reason[:500],
        subtotal_amount=sum((p[1] for p in planned), Decimal(0)),
        tax_total_amount=sum((p[2] for p in planned), Decimal(0)),
        total_amount=total,
        to_credit_amount=to_credit,
        reverse_charge=invoice.reverse_charge,
        tax_note=invoice.tax_note,
        seller=party_seller(settings),
        buyer=invoice.buyer,
        idempotency_key=idempotency_key or None,
    )
    CreditNoteLine.objects.bulk_create(
        CreditNoteLine(
            credit_note=note,
            invoice_line=line,
            position=position,
            description=line.description,
            quantity=line.quantity if gross == line.total_amount else Decimal(1),
            currency=currency,
            unit_price_amount=(
                line.unit_price_amount
                if gross == line.total_amount
                else (gross if invoice.prices_include_tax else net)
            ),
            tax_rate=line.tax_rate,
            tax_name=line.tax_name,
            # A credit note follows the tax of the invoice it corrects.
            vat_category=line.vat_category,
            tax_rule=line.tax_rule,
            net_amount=net,
            tax_amount=tax,
            total_amount=gross,
        )
        for position, (line, net, tax, gross) in enumerate(planned, start=1)
    )
    ledger_entry_append(
        client=client,
        kind=LedgerEntry.Kind.CREDIT_NOTE,
        amount=Money(-total, currency),
        invoice=invoice,
        credit_note=note,
        description=f"Credit note {number} for invoice {invoice.number}",
        idempotency_key=f"credit-note:{note.public_id}",
    )
    if to_credit > 0:
        # Already paid: the money moves from the invoice to the client's credit, taken
        # from the latest payments first.
        left = to_credit
        payments = invoice.payments.select_for_update().order_by("-received_at", "-id")
        for payment in payments:
            refundable = payment.amount - payment.refunded_amount
            if refundable <= 0:
                continue
            part = min(refundable, left)
            refund_book(
                payment=payment,
                invoice=invoice,
                money=Money(part, currency),
                to_credit=True,
                reason=f"Credit note {number}",
                idempotency_key=None,
                credit_note=note,
            )
            left -= part
            if left == 0:
                break
        if left != 0:
            raise BillingError("The payments of this invoice do not cover the credit.")
        invoice.refresh_from_db()
    invoice.credited_amount += total
    invoice.save(update_fields=["credited_amount", "updated_at"])
    invoice_status_refresh(invoice=invoice)
    return note
