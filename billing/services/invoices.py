"""Invoices: drafts, issue, payment state, cancellation.

A draft can be edited freely. ``invoice_issue`` makes it a legal document: it takes the
next number of the tenant's gapless sequence, snapshots the seller (the tenant itself)
and the buyer, fixes the tax and the due date, and books the total on the client's
ledger. From then on only payments, refunds and credit notes move it."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing.errors import BillingError
from billing.events import InvoiceEventKind, invoice_event_emit
from billing.models import (
    BillingSettings,
    Client,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    NumberSequence,
    Service,
)
from billing.money import MAX_AMOUNT, Money
from billing.numbering import document_number_next
from billing.selectors import (
    billing_settings_get,
    client_tax_decision,
    seller_tax_profile,
)
from billing.services._common import client_lock, invoice_lock, money_input, today
from billing.services.credit_notes import credit_note_issue
from billing.services.invoice_status import invoice_status_refresh
from billing.services.ledger import ledger_entry_append
from billing.services.parties import party_buyer, party_seller, tax_record
from billing.services.payments import credit_apply, credit_available
from billing.services.subscriptions import service_cancel
from billing.taxes import SupplyType, TaxDecision, legal_mentions, line_amounts

MAX_QUANTITY = Decimal(100000)
# Kinds whose unit price may be below zero: they reduce an invoice, never make it.
NEGATIVE_KINDS = {InvoiceLine.Kind.DISCOUNT, InvoiceLine.Kind.PRORATION}


def invoice_create(
    *,
    client: Client,
    notes: str = "",
    language: str | None = None,
) -> Invoice:
    """An empty draft for the client, in the tenant's currency and price convention."""
    settings = billing_settings_get()
    return Invoice.objects.create(
        client=client,
        currency=settings.currency,
        language=language or client.language or settings.default_language,
        prices_include_tax=settings.prices_include_tax,
        notes=notes,
    )


def _line_apply(line: InvoiceLine, decision: TaxDecision, prices_include_tax: bool) -> None:
    amounts = line_amounts(
        unit_price=line.unit_price,
        quantity=line.quantity,
        decision=decision,
        prices_include_tax=prices_include_tax,
    )
    line.tax_rate = decision.rate
    line.tax_name = decision.name
    line.vat_category = decision.category
    line.tax_rule = decision.rule
    line.net_amount = amounts.net.amount
    line.tax_amount = amounts.tax.amount
    line.total_amount = amounts.total.amount


def _lines_tax(
    invoice: Invoice,
    client: Client,
    lines: list[InvoiceLine],
    *,
    settings: BillingSettings,
    on_date: date,
) -> list[TaxDecision]:
    """Decides the tax of every line (each by what it sells) and applies it. The sale
    counted against the EU distance-sales threshold is the whole invoice."""
    seller = seller_tax_profile(settings=settings, on_date=on_date)
    sale = sum((line.unit_price_amount * line.quantity for line in lines), Decimal(0))
    decisions: dict[str, TaxDecision] = {}
    for line in lines:
        supply = line.supply_type or SupplyType.ELECTRONIC
        if supply not in decisions:
            decisions[supply] = client_tax_decision(
                client=client, supply=supply, on_date=on_date, sale_amount=sale, seller=seller
            )
        _line_apply(line, decisions[supply], invoice.prices_include_tax)
    return list(decisions.values())


def _totals_refresh(invoice: Invoice, decisions: list[TaxDecision]) -> None:
    lines = list(invoice.lines.all())
    invoice.subtotal_amount = sum((line.net_amount for line in lines), Decimal(0))
    invoice.tax_total_amount = sum((line.tax_amount for line in lines), Decimal(0))
    invoice.total_amount = invoice.subtotal_amount + invoice.tax_total_amount
    invoice.reverse_charge = any(decision.reverse_charge for decision in decisions)
    invoice.tax_note = legal_mentions(decisions, invoice.language)[:300]


@transaction.atomic
def invoice_line_add(
    *,
    invoice: Invoice,
    description: str,
    unit_price: Money,
    quantity: Decimal | int = 1,
    kind: str = InvoiceLine.Kind.OTHER,
    service: Service | None = None,
    period_start: date | None = None,
    period_end: date | None = None,
    supply_type: str = "",
) -> InvoiceLine:
    """``supply_type`` is what the line sells for VAT (billing.taxes.SupplyType): by
    default the tax category of the service's product, else an electronic service."""
    invoice = invoice_lock(invoice)
    if invoice.status != Invoice.Status.DRAFT:
        raise BillingError(f"{invoice} is issued; its lines cannot change.")
    if kind not in InvoiceLine.Kind.values:
        raise BillingError(f"“{kind}” is not a kind of invoice line.")
    description = (description or "").strip()
    if not description:
        raise BillingError("An invoice line needs a description.")
    price = money_input(
        unit_price,
        currency=invoice.currency,
        what="The unit price",
        allow_zero=True,
        allow_negative=kind in NEGATIVE_KINDS,
    )
    try:
        quantity = Decimal(quantity)
    except (TypeError, ArithmeticError, ValueError) as exc:
        raise BillingError(f"“{quantity}” is not a quantity.") from exc
    if isinstance(quantity, float) or not (0 < quantity < MAX_QUANTITY):
        raise BillingError(f"The quantity must be between 0 and {MAX_QUANTITY}.")
    if quantity != quantity.quantize(Decimal("0.01")):
        raise BillingError("Quantities have at most two decimals.")
    if abs(price.amount * quantity) >= MAX_AMOUNT:
        raise BillingError("The line amount is too large.")
    if period_start and period_end and period_end <= period_start:
        raise BillingError("A period must end after it starts.")
    if service is not None and service.client_id != invoice.client_id:
        raise BillingError("That service belongs to another client.")
    if not supply_type:
        supply_type = (
            service.plan.product.tax_category if service is not None else SupplyType.ELECTRONIC
        )
    if supply_type not in SupplyType.__members__.values():
        raise BillingError(f"“{supply_type}” is not a tax category.")
    position = invoice.lines.count() + 1
    line = InvoiceLine(
        invoice=invoice,
        position=position,
        kind=kind,
        description=description[:500],
        quantity=quantity,
        currency=invoice.currency,
        unit_price_amount=price.amount,
        service=service,
        period_start=period_start,
        period_end=period_end,
        supply_type=supply_type,
    )
    others = list(invoice.lines.all())
    decisions = _lines_tax(
        invoice,
        invoice.client,
        [*others, line],
        settings=billing_settings_get(),
        on_date=today(),
    )
    for other in others:
        other.save(update_fields=_TAX_FIELDS)
    line.save()
    _totals_refresh(invoice, decisions)
    invoice.save()
    return line


_TAX_FIELDS = [
    "tax_rate",
    "tax_name",
    "vat_category",
    "tax_rule",
    "net_amount",
    "tax_amount",
    "total_amount",
]


@transaction.atomic
def invoice_issue(
    *,
    invoice: Invoice,
    issue_date: date | None = None,
    location_evidence: dict[str, Any] | None = None,
) -> Invoice:
    """Numbers the draft, fixes its taxes and parties, and books it; pays it at once
    from account credit when the tenant says so. ``location_evidence`` is what the sale
    knew of where the buyer is (billing.geo), kept with the invoice."""
    client = client_lock(invoice.client)
    invoice = invoice_lock(invoice)
    if invoice.status != Invoice.Status.DRAFT:
        raise BillingError(f"{invoice} is already issued.")
    lines = list(invoice.lines.all())
    if not lines:
        raise BillingError("An invoice needs at least one line before it is issued.")
    settings = billing_settings_get()
    issue_date = issue_date or today()
    # Taxes as of the issue: the client may have changed country or VAT number since
    # the lines were added.
    decisions = _lines_tax(invoice, client, lines, settings=settings, on_date=issue_date)
    for line in lines:
        line.save(update_fields=_TAX_FIELDS)
    _totals_refresh(invoice, decisions)
    if invoice.total_amount < 0:
        raise BillingError("An invoice cannot total less than zero; issue a credit note instead.")

    number, year, sequence_number = document_number_next(
        document_type=NumberSequence.DocumentType.INVOICE, issue_date=issue_date, settings=settings
    )
    invoice.number = number
    invoice.sequence_year = year
    invoice.sequence_number = sequence_number
    invoice.issue_date = issue_date
    invoice.due_date = issue_date + timedelta(days=settings.payment_terms_days)
    invoice.issued_at = timezone.now()
    invoice.seller = party_seller(settings)
    invoice.buyer = {
        **party_buyer(client),
        "tax": tax_record(client, decisions, location_evidence),
    }
    invoice.status = Invoice.Status.ISSUED
    invoice.save()
    ledger_entry_append(
        client=client,
        kind=LedgerEntry.Kind.INVOICE_ISSUED,
        amount=invoice.total,
        invoice=invoice,
        description=f"Invoice {invoice.number}",
        idempotency_key=f"invoice-issued:{invoice.public_id}",
    )
    invoice_event_emit(kind=InvoiceEventKind.ISSUED, invoice_id=invoice.pk)
    if invoice.total_amount == 0:
        invoice_status_refresh(invoice=invoice)
    elif settings.credit_auto_apply:
        available = credit_available(client=client)
        if available.amount > 0:
            credit_apply(invoice=invoice, amount=min(available, invoice.amount_due))
            invoice.refresh_from_db()
    return invoice


@transaction.atomic
def invoice_mark_overdue(*, invoice: Invoice, on_date: date | None = None) -> Invoice:
    invoice = invoice_lock(invoice)
    return invoice_status_refresh(invoice=invoice, on_date=on_date)


@transaction.atomic
def invoice_cancel(*, invoice: Invoice, reason: str = "") -> Invoice:
    """A draft is simply dropped (its lines go, so their periods can be invoiced
    again). An issued invoice nobody paid is annulled by a full credit note, which keeps
    the numbering gapless. An invoice with payments must be refunded or credited first."""
    client_lock(invoice.client)
    invoice = invoice_lock(invoice)
    if invoice.status == Invoice.Status.CANCELLED:
        raise BillingError(f"{invoice} is already cancelled.")
    if invoice.status == Invoice.Status.DRAFT:
        pending = [line.service for line in invoice.lines.select_related("service")]
        invoice.lines.all().delete()
        invoice.status = Invoice.Status.CANCELLED
        invoice.cancelled_at = timezone.now()
        invoice.subtotal_amount = invoice.tax_total_amount = invoice.total_amount = 0
        invoice.save()
    else:
        if invoice.paid_amount > 0:
            raise BillingError(
                f"{invoice} has payments; refund them or issue a credit note instead."
            )
        pending = [
            line.service
            for line in invoice.lines.filter(kind=InvoiceLine.Kind.SERVICE).select_related(
                "service"
            )
        ]
        credit_note_issue(
            invoice=invoice, reason=reason or f"Cancellation of invoice {invoice.number}"
        )
        invoice.refresh_from_db()
    for service in pending:
        if service is not None and service.status == Service.Status.PENDING:
            service_cancel(service=service, reason=reason or "Order invoice cancelled")
    return invoice
