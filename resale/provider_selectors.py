"""What the provider's console reads about its resellers: their state and balances,
wholesale revenue and MRR by month, orders per day, the ledger of one reseller. All of it
from the public schema; a reseller's end clients are never part of it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Case, Count, DecimalField, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone

from billing.cycles import CYCLE_MONTHS, add_months
from billing.money import Money
from resale.models import (
    BalanceEntry,
    DriftItem,
    ProviderTicket,
    ResellerAccount,
    UpstreamService,
)

# Entries that are the provider's wholesale revenue (debits count positive, refunds back).
REVENUE_KINDS = (
    BalanceEntry.Kind.ORDER_DEBIT,
    BalanceEntry.Kind.RENEWAL_DEBIT,
    BalanceEntry.Kind.REFUND,
)
RUNNING = (UpstreamService.Status.ACTIVE, UpstreamService.Status.SUSPENDED)


def main_currency() -> str:
    """The currency most resellers are kept in: the one the dashboard's figures use."""
    counts = Counter(ResellerAccount.objects.values_list("currency", flat=True))
    return counts.most_common(1)[0][0] if counts else "EUR"


@dataclass(frozen=True)
class ResellerRow:
    account: ResellerAccount
    balance: Money
    below_threshold: bool

    @property
    def credit_limit(self) -> Money:
        return Money(self.account.credit_limit, self.account.currency)


def resellers_with_balances(*, query: str = "", status: str = "") -> list[ResellerRow]:
    accounts = ResellerAccount.objects.select_related("tenant", "price_list").annotate(
        balance_total=Sum("entries__amount_value")
    )
    if query:
        accounts = accounts.filter(
            Q(legal_name__icontains=query)
            | Q(tenant__name__icontains=query)
            | Q(tenant__domains__domain__icontains=query)
        ).distinct()
    if status in ResellerAccount.Status.values:
        accounts = accounts.filter(status=status)
    rows = []
    for account in accounts.order_by("legal_name"):
        balance = Money(account.balance_total or Decimal(0), account.currency)
        threshold = Money(account.low_balance_threshold, account.currency)
        rows.append(ResellerRow(account, balance, balance < threshold))
    return rows


def balances_held() -> list[Money]:
    """The prepaid balances the provider holds, one total per currency."""
    totals = (
        BalanceEntry.objects.values("currency")
        .annotate(total=Sum("amount_value"))
        .order_by("currency")
    )
    return [Money(row["total"] or Decimal(0), row["currency"]) for row in totals]


def _monthly_price() -> Case:
    return Case(
        *[
            When(cycle=cycle, then=F("price_amount") / Value(Decimal(months)))
            for cycle, months in CYCLE_MONTHS.items()
        ],
        default=Value(Decimal(0)),
        output_field=DecimalField(max_digits=18, decimal_places=6),
    )


def _aware(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def wholesale_mrr(*, currency: str, account: ResellerAccount | None = None) -> Money:
    """What the running upstream services bring in per month, at wholesale prices."""
    services = UpstreamService.objects.filter(status__in=RUNNING, currency=currency)
    if account is not None:
        services = services.filter(account=account)
    total = services.aggregate(mrr=Sum(_monthly_price()))["mrr"] or Decimal(0)
    return Money(total, currency).rounded()


@dataclass(frozen=True)
class MonthFigures:
    month: date
    revenue: Money
    mrr: Money


def wholesale_series(
    *, currency: str, today: date | None = None, count: int = 12
) -> list[MonthFigures]:
    """Revenue (debits less refunds) per month, and the MRR of the services that were
    running at each month's end: created by then and not failed or terminated by then."""
    today = today or timezone.localdate()
    first = today.replace(day=1)
    months = [add_months(first, -offset) for offset in range(count - 1, -1, -1)]
    revenue = dict(
        BalanceEntry.objects.filter(
            kind__in=REVENUE_KINDS, currency=currency, created_at__gte=_aware(months[0])
        )
        .annotate(month=TruncMonth("created_at"))
        .values("month")
        .annotate(total=Sum("amount_value"))
        .values_list("month", "total")
    )
    revenue = {
        (key.date() if isinstance(key, datetime) else key): -value for key, value in revenue.items()
    }
    series = []
    for month in months:
        end = _aware(add_months(month, 1))
        running = (
            UpstreamService.objects.filter(currency=currency, created_at__lt=end)
            .exclude(cycle="one_time")
            .exclude(
                Q(status__in=[UpstreamService.Status.TERMINATED, UpstreamService.Status.FAILED])
                & Q(updated_at__lt=end)
            )
            .exclude(status=UpstreamService.Status.PROVISIONING)
        )
        mrr = running.aggregate(mrr=Sum(_monthly_price()))["mrr"] or Decimal(0)
        series.append(
            MonthFigures(
                month,
                Money(revenue.get(month, Decimal(0)), currency).rounded(),
                Money(mrr, currency).rounded(),
            )
        )
    return series


def top_resellers(*, currency: str, days: int = 30, limit: int = 5) -> list[tuple]:
    """The resellers that bought most in the last ``days`` days: (account, revenue)."""
    since = timezone.now() - timedelta(days=days)
    rows = (
        BalanceEntry.objects.filter(
            kind__in=REVENUE_KINDS, currency=currency, created_at__gte=since
        )
        .values("account")
        .annotate(total=Sum("amount_value"))
        .order_by("total")[:limit]
    )
    accounts = ResellerAccount.objects.in_bulk([row["account"] for row in rows])
    return [
        (accounts[row["account"]], Money(-row["total"], currency).rounded())
        for row in rows
        if row["total"] < 0
    ]


def orders_per_day(*, days: int = 14, today: date | None = None) -> list[tuple[date, int]]:
    today = today or timezone.localdate()
    start = today - timedelta(days=days - 1)
    counts = dict(
        UpstreamService.objects.filter(created_at__gte=_aware(start))
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    return [
        (start + timedelta(days=i), counts.get(start + timedelta(days=i), 0)) for i in range(days)
    ]


def reseller_counts() -> dict[str, int]:
    counts = Counter(ResellerAccount.objects.values_list("status", flat=True))
    return {
        "total": sum(counts.values()),
        "active": counts.get(ResellerAccount.Status.ACTIVE, 0),
        "suspended": counts.get(ResellerAccount.Status.SUSPENDED, 0),
    }


def reseller_ledger(
    *,
    account: ResellerAccount,
    kind: str = "",
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[BalanceEntry]:
    entries = account.entries.select_related("upstream_service__plan").order_by(
        "-created_at", "-id"
    )
    if kind in BalanceEntry.Kind.values:
        entries = entries.filter(kind=kind)
    if since:
        entries = entries.filter(created_at__gte=_aware(since))
    if until:
        entries = entries.filter(created_at__lt=_aware(until + timedelta(days=1)))
    return entries


def reversed_entry_ids(*, account: ResellerAccount) -> set[int]:
    keys = account.entries.filter(idempotency_key__startswith="reversal:").values_list(
        "idempotency_key", flat=True
    )
    return {int(key.split(":", 1)[1]) for key in keys if key.split(":", 1)[1].isdigit()}


def provider_ticket_list(*, status: str = "") -> QuerySet[ProviderTicket]:
    """The provider's desk: resellers' escalations, those waiting for the provider first."""
    tickets = ProviderTicket.objects.select_related(
        "account", "upstream_service", "upstream_service__plan"
    ).annotate(message_count=Count("messages"))
    if status:
        tickets = tickets.filter(status=status)
    waiting = Case(
        When(status__in=[ProviderTicket.Status.OPEN, ProviderTicket.Status.RESELLER_REPLY], then=0),
        default=1,
    )
    return tickets.order_by(waiting, "-updated_at", "-id")


def provider_ticket_open_count() -> int:
    return ProviderTicket.objects.filter(
        status__in=[ProviderTicket.Status.OPEN, ProviderTicket.Status.RESELLER_REPLY]
    ).count()


def provider_ticket_detail(*, public_id: str) -> ProviderTicket | None:
    return (
        ProviderTicket.objects.select_related(
            "account", "upstream_service", "upstream_service__plan"
        )
        .prefetch_related("messages")
        .filter(public_id=public_id)
        .first()
    )


_LIVE_DRIFT = [DriftItem.State.OPEN, DriftItem.State.REPAIRING]


def drift_items_open(
    *, kind: str = "", account: ResellerAccount | None = None
) -> QuerySet[DriftItem]:
    """What reconciliation found and nobody has resolved yet, oldest first: the reseller,
    the provider's upstream service and its plan; no client beyond its pseudonym."""
    items = DriftItem.objects.filter(state__in=_LIVE_DRIFT).select_related(
        "account", "upstream_service__plan"
    )
    if kind:
        items = items.filter(kind=kind)
    if account is not None:
        items = items.filter(account=account)
    return items.order_by("first_seen_at", "id")


def drift_open_count() -> int:
    return DriftItem.objects.filter(state__in=_LIVE_DRIFT).count()
