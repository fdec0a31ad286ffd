"""What the provider tells each reseller about money: a monthly statement of the prepaid
balance, and a monthly wholesale invoice numbered in the provider's own sequence."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Sum

from billing import vies
from billing.cycles import add_months
from billing.money import Money, round_money
from billing.taxes import BuyerProfile, SellerProfile, SupplyType, legal_mentions, tax_decide
from resale.models import (
    BalanceEntry,
    ProviderNumberSequence,
    ResellerAccount,
    WholesaleInvoice,
)

CHARGED = [BalanceEntry.Kind.ORDER_DEBIT, BalanceEntry.Kind.RENEWAL_DEBIT, BalanceEntry.Kind.REFUND]


@dataclass
class Statement:
    account: ResellerAccount
    period_start: date
    period_end: date
    opening: Money
    closing: Money
    entries: list[BalanceEntry] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "currency": self.account.currency,
            "opening_balance": str(self.opening.amount),
            "closing_balance": str(self.closing.amount),
            "entries": [
                {
                    "date": e.created_at.date().isoformat(),
                    "kind": e.kind,
                    "description": e.description,
                    "amount": str(e.amount_value),
                }
                for e in self.entries
            ],
        }


def month_bounds(year: int, month: int) -> tuple[date, date]:
    start = date(year, month, 1)
    return start, add_months(start, 1)


def reseller_statement(*, account: ResellerAccount, year: int, month: int) -> Statement:
    start, end = month_bounds(year, month)
    entries = account.entries.all()
    opening = entries.filter(created_at__date__lt=start).aggregate(t=Sum("amount_value"))["t"]
    in_month = list(
        entries.filter(created_at__date__gte=start, created_at__date__lt=end).order_by(
            "created_at", "id"
        )
    )
    opening_money = Money(opening or Decimal(0), account.currency)
    closing = opening_money + Money(
        sum((e.amount_value for e in in_month), Decimal(0)), account.currency
    )
    return Statement(account, start, end, opening_money, closing, in_month)


def provider_party() -> dict:
    return {
        "name": settings.PROVIDER_LEGAL_NAME,
        "address_lines": [line for line in settings.PROVIDER_ADDRESS.split("\n") if line],
        "country": settings.PROVIDER_COUNTRY,
        "vat_number": settings.PROVIDER_VAT_NUMBER,
    }


def _number_next(issue_date: date) -> tuple[str, int, int]:
    ProviderNumberSequence.objects.get_or_create(year=issue_date.year)
    sequence = ProviderNumberSequence.objects.select_for_update().get(year=issue_date.year)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return f"W{issue_date.year}/{sequence.last_number:05d}", issue_date.year, sequence.last_number


def wholesale_tax_decision(*, account: ResellerAccount, on_date: date):
    """The provider's sale to the reseller, decided by the same engine as every tenant's
    sales: hosting resold is an electronic service, usually to a business elsewhere in
    the EU (reverse charge), once VIES confirms the reseller's VAT number."""
    provider_country = settings.PROVIDER_COUNTRY
    status, check = "none", None
    if account.vat_number:
        result = vies.vat_number_check(
            vat_number=account.vat_number,
            country=account.country,
            requester=settings.PROVIDER_VAT_NUMBER,
        )
        status = result.status
        check = {
            "vat_number": result.vat_number,
            "status": result.status,
            "request_date": result.request_date.isoformat() if result.request_date else "",
            "request_identifier": result.request_identifier,
            "fault": result.fault,
        }
    decision = tax_decide(
        seller=SellerProfile(
            country=provider_country,
            rules={provider_country: (Decimal(settings.PROVIDER_VAT_RATE), "VAT")},
        ),
        buyer=BuyerProfile(
            country=account.country or provider_country,
            vat_number=account.vat_number,
            vat_status=status,
        ),
        supply=SupplyType.ELECTRONIC,
        on_date=on_date,
    )
    return decision, check


@transaction.atomic
def wholesale_invoice_issue(
    *, account: ResellerAccount, year: int, month: int, issue_date: date | None = None
) -> WholesaleInvoice | None:
    """The month's wholesale invoice for one reseller; none when nothing was charged, and
    the same one when asked again."""
    start, end = month_bounds(year, month)
    existing = WholesaleInvoice.objects.filter(account=account, period_start=start).first()
    if existing is not None:
        return existing
    charged = list(
        account.entries.filter(
            kind__in=CHARGED, created_at__date__gte=start, created_at__date__lt=end
        ).order_by("created_at", "id")
    )
    # Debits are negative on the balance; on the invoice they are what the reseller owes.
    subtotal = -sum((e.amount_value for e in charged), Decimal(0))
    if not charged or subtotal <= 0:
        return None
    decision, vies_check = wholesale_tax_decision(account=account, on_date=issue_date or end)
    subtotal = round_money(subtotal, account.currency)
    tax = round_money(subtotal * decision.rate / 100, account.currency)
    issue_date = issue_date or end
    number, seq_year, seq_number = _number_next(issue_date)
    return WholesaleInvoice.objects.create(
        account=account,
        number=number,
        sequence_year=seq_year,
        sequence_number=seq_number,
        period_start=start,
        period_end=end,
        issue_date=issue_date,
        currency=account.currency,
        subtotal_amount=subtotal,
        tax_rate=decision.rate,
        tax_amount=tax,
        total_amount=subtotal + tax,
        reverse_charge=decision.reverse_charge,
        tax_note=legal_mentions([decision], "en")[:300],
        seller=provider_party(),
        buyer={
            "name": account.legal_name,
            "address_lines": account.address.splitlines(),
            "country": account.country,
            "vat_number": account.vat_number,
            "tax": {"decisions": [decision.record()], "vies": vies_check},
        },
        lines=[
            {
                "date": e.created_at.date().isoformat(),
                "description": e.description,
                "amount": str(-e.amount_value),
            }
            for e in charged
        ],
    )


def wholesale_invoices_issue_month(*, year: int, month: int) -> int:
    """Every reseller's invoice for the month. Only accounts charged in the month and not
    yet invoiced for it are visited (one query finds them), so resellers that bought
    nothing cost nothing however many there are."""
    start, end = month_bounds(year, month)
    charged = BalanceEntry.objects.filter(
        account=OuterRef("pk"), kind__in=CHARGED, created_at__date__gte=start
    ).filter(created_at__date__lt=end)
    invoiced = WholesaleInvoice.objects.filter(account=OuterRef("pk"), period_start=start)
    issued = 0
    for account in ResellerAccount.objects.filter(Exists(charged)).exclude(Exists(invoiced)):
        if wholesale_invoice_issue(account=account, year=year, month=month):
            issued += 1
    return issued
