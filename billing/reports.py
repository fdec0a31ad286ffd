"""The reseller's reports, one home for their figures: the console's pages, their CSV and
the API all read them here, so the three always agree.

- revenue by product and month: net of tax, issued invoices less credit notes, each line
  under the product of the service it charged;
- taxes by country and rate, the sales without VAT apart (``billing.tax_reports``);
- receivables ageing: what open invoices still ask for, by days past due, per client, as
  of today or a day past (the end of a year);
- MRR movement per month: new, expansion, contraction and churn, read from the record
  of each service's MRR changes (``ServiceMrrChange``);
- top clients by net revenue.

Every figure is a ``Money`` in the tenant's currency. Invoices count on their issue date,
credit notes, negatively, on theirs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, F, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils.translation import gettext as _

from billing.cycles import add_months
from billing.models import (
    Client,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    Payment,
    Product,
    Refund,
    ServiceMrrChange,
)
from billing.money import Money
from billing.selectors import tenant_currency
from billing.tax_reports import TaxByCountry, csv_amount, csv_rate, tax_by_country
from core.spreadsheet import spreadsheet_text

# A longer span is a typing mistake, and would draw a chart nobody can read.
MAX_MONTHS = 60
DEFAULT_MONTHS = 12
TOP_CLIENTS = 10
# Days outside these are typing mistakes (and would overflow the calendar's arithmetic).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)


class ReportPeriodError(ValueError):
    pass


@dataclass(frozen=True)
class ReportPeriod:
    """The days ``start`` to ``last`` included; ``end`` is the first day after."""

    start: date
    last: date

    @property
    def end(self) -> date:
        return self.last + timedelta(days=1)

    @property
    def months(self) -> list[date]:
        """The first day of each month the period touches, oldest first."""
        month, months = self.start.replace(day=1), []
        while month <= self.last:
            months.append(month)
            month = add_months(month, 1)
        return months

    def __str__(self) -> str:
        return f"{self.start.isoformat()}_{self.last.isoformat()}"


def report_period(
    *, date_from: date | None = None, date_to: date | None = None, today: date
) -> ReportPeriod:
    """The period asked for; by default the last twelve months, this one included."""
    for day in (date_from, date_to):
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise ReportPeriodError(_("A report covers days from the year 2000 to 2100."))
    last = date_to or today
    start = date_from or add_months(last.replace(day=1), 1 - DEFAULT_MONTHS)
    if start > last:
        raise ReportPeriodError(_("The first day comes after the last."))
    if add_months(start.replace(day=1), MAX_MONTHS) <= last:
        raise ReportPeriodError(
            _("A report covers at most %(months)s months.") % {"months": MAX_MONTHS}
        )
    return ReportPeriod(start, last)


def _lines(period: ReportPeriod):
    """Issued invoice lines in the period (a cancelled draft has no issue date)."""
    return InvoiceLine.objects.filter(
        invoice__issue_date__gte=period.start, invoice__issue_date__lt=period.end
    ).exclude(invoice__status=Invoice.Status.DRAFT)


def _credited(period: ReportPeriod):
    return CreditNoteLine.objects.filter(
        credit_note__issue_date__gte=period.start, credit_note__issue_date__lt=period.end
    )


# --- revenue by product and month --------------------------------------------------------


@dataclass(frozen=True)
class ProductRevenue:
    product_id: str | None  # the product's public id; None for lines of no service
    product: str
    months: list[Money]  # one per month of the period
    total: Money


@dataclass(frozen=True)
class RevenueReport:
    months: list[date]
    products: list[ProductRevenue]  # the largest total first
    totals: list[Money]  # per month, every product
    total: Money


def revenue_by_product(*, period: ReportPeriod) -> RevenueReport:
    currency = tenant_currency()
    months = period.months
    sums: dict[int | None, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    sold = (
        _lines(period)
        .annotate(month=TruncMonth("invoice__issue_date"))
        .values("month", "service__plan__product_id")
        .annotate(net=Sum("net_amount"))
    )
    for row in sold:
        sums[row["service__plan__product_id"]][row["month"]] += row["net"]
    credited = (
        _credited(period)
        .annotate(month=TruncMonth("credit_note__issue_date"))
        .values("month", "invoice_line__service__plan__product_id")
        .annotate(net=Sum("net_amount"))
    )
    for row in credited:
        sums[row["invoice_line__service__plan__product_id"]][row["month"]] -= row["net"]
    products = Product.objects.in_bulk([pk for pk in sums if pk is not None])
    rows = []
    for pk, by_month in sums.items():
        amounts = [Money(by_month.get(month, Decimal(0)), currency).rounded() for month in months]
        product = products.get(pk)
        rows.append(
            ProductRevenue(
                str(product.public_id) if product else None,
                product.display_name if product else "",
                amounts,
                sum(amounts, Money.zero(currency)),
            )
        )
    rows.sort(key=lambda row: (-row.total.amount, row.product_id is None, row.product))
    totals = [
        sum((row.months[index] for row in rows), Money.zero(currency))
        for index in range(len(months))
    ]
    return RevenueReport(months, rows, totals, sum(totals, Money.zero(currency)))


# --- taxes by country and rate -----------------------------------------------------------


def taxes_by_country(*, period: ReportPeriod) -> TaxByCountry:
    return tax_by_country(period=period)


# --- receivables ageing ------------------------------------------------------------------

# (label key, first day past due, last day past due); None is open-ended.
AGEING_BUCKETS: tuple[tuple[str, int | None, int | None], ...] = (
    ("current", None, 0),
    ("1_30", 1, 30),
    ("31_60", 31, 60),
    ("61_90", 61, 90),
    ("over_90", 91, None),
)


def ageing_bucket(days_past_due: int) -> int:
    """The index in AGEING_BUCKETS of an invoice ``days_past_due`` days late (not yet
    due is zero or less)."""
    for index, (_key, _first, last) in enumerate(AGEING_BUCKETS):
        if last is None or days_past_due <= last:
            return index
    raise AssertionError("the last bucket is open-ended")


@dataclass(frozen=True)
class ClientAgeing:
    client_id: str
    client: str
    buckets: list[Money]  # one per AGEING_BUCKETS
    total: Money
    invoices: int


@dataclass(frozen=True)
class AgeingReport:
    on_date: date
    clients: list[ClientAgeing]  # the largest balance first
    totals: list[Money]
    total: Money


def ageing_date(*, on_date: date | None, today: date) -> date:
    """The day receivables are aged as of: ``on_date``, today by default. A day to come
    is refused: what will be paid by then is not known."""
    if on_date is None:
        return today
    if not FIRST_DAY <= on_date <= LAST_DAY:
        raise ReportPeriodError(_("A report covers days from the year 2000 to 2100."))
    if on_date > today:
        raise ReportPeriodError(_("Receivables can be aged as of today or an earlier day."))
    return on_date


def _sum_per_invoice(queryset, invoice_field: str, amount_field: str) -> Coalesce:
    """The sum of ``amount_field`` over the rows of ``queryset`` that belong to the outer
    invoice, zero when there are none: a correlated subquery, so the sums are made by
    the database for the invoices it returns."""
    rows = (
        queryset.filter(**{invoice_field: OuterRef("pk")})
        .values(invoice_field)
        .annotate(total=Sum(amount_field))
        .values("total")
    )
    return Coalesce(Subquery(rows, output_field=DecimalField()), Decimal(0))


def receivables_ageing(*, on_date: date) -> AgeingReport:
    """What the invoices issued by ``on_date`` still asked for at the end of that day
    (their total less the payments received and the credit notes issued by then, refunds
    made by then added back), by days past their due date on that day; an invoice
    without a due date is current. Read from the payments, refunds and credit notes
    themselves, so a past day (the end of a year) reads as it was then, and today as the
    invoices' own balances. The balances are worked out in the query, which returns only
    the invoices still open that day."""
    currency = tenant_currency()
    received = _sum_per_invoice(
        Payment.objects.filter(received_at__date__lte=on_date), "invoice", "amount"
    )
    refunded = _sum_per_invoice(
        Refund.objects.filter(
            payment__received_at__date__lte=on_date, created_at__date__lte=on_date
        ),
        "payment__invoice",
        "amount",
    )
    credited = _sum_per_invoice(
        CreditNote.objects.filter(issue_date__lte=on_date), "invoice", "total_amount"
    )
    issued = (
        Invoice.objects.filter(issue_date__lte=on_date)
        .exclude(status=Invoice.Status.DRAFT)
        .annotate(due_then=F("total_amount") - received + refunded - credited)
        .filter(due_then__gt=0)
        .select_related("client")
        .order_by("client_id", "due_date", "id")
    )
    per_client: dict[int, tuple[Client, list[Money], list[int]]] = {}
    for invoice in issued:
        due = Money(invoice.due_then, invoice.currency).rounded()
        if due.amount <= 0:
            continue
        late = (on_date - invoice.due_date).days if invoice.due_date else 0
        _client, buckets, count = per_client.setdefault(
            invoice.client_id,
            (invoice.client, [Money.zero(currency)] * len(AGEING_BUCKETS), [0]),
        )
        index = ageing_bucket(late)
        buckets[index] = buckets[index] + due
        count[0] += 1
    rows = [
        ClientAgeing(
            str(client.public_id),
            client.display_name,
            buckets,
            sum(buckets, Money.zero(currency)),
            count[0],
        )
        for client, buckets, count in per_client.values()
    ]
    rows.sort(key=lambda row: (-row.total.amount, row.client))
    totals = [
        sum((row.buckets[index] for row in rows), Money.zero(currency))
        for index in range(len(AGEING_BUCKETS))
    ]
    return AgeingReport(on_date, rows, totals, sum(totals, Money.zero(currency)))


# --- MRR movement ------------------------------------------------------------------------


@dataclass(frozen=True)
class MrrMonth:
    month: date
    opening: Money
    new: Money  # services that started earning (or earn again)
    expansion: Money  # upgrades: plans or options that cost more
    contraction: Money  # downgrades, as a positive amount
    churned: Money  # services that stopped earning, as a positive amount
    net: Money  # new + expansion - contraction - churned
    closing: Money
    services_lost: int
    clients_lost: int  # clients that earned at the start of the month and not at its end


def mrr_movement(*, period: ReportPeriod) -> list[MrrMonth]:
    """Replays the record of MRR changes up to the period's end, month by month."""
    currency = tenant_currency()
    changes = (
        ServiceMrrChange.objects.filter(on_date__lt=period.end)
        .order_by("on_date", "id")
        .values_list(
            "service_id", "service__client_id", "on_date", "mrr_before_amount", "mrr_after_amount"
        )
    )
    per_service: dict[int, Decimal] = {}
    client_of: dict[int, int] = {}
    pending = iter(changes)
    upcoming = next(pending, None)

    def client_totals() -> dict[int, Decimal]:
        totals: dict[int, Decimal] = defaultdict(Decimal)
        for service_id, mrr in per_service.items():
            totals[client_of[service_id]] += mrr
        return totals

    def money(amount: Decimal) -> Money:
        return Money(amount, currency).rounded()

    months = []
    for month in period.months:
        next_month = add_months(month, 1)
        # Changes before the month (or before the period) only set where it opens.
        while upcoming is not None and upcoming[2] < month:
            per_service[upcoming[0]], client_of[upcoming[0]] = upcoming[4], upcoming[1]
            upcoming = next(pending, None)
        opening = sum(per_service.values(), Decimal(0))
        earning_before = {c for c, total in client_totals().items() if total > 0}
        new = expansion = contraction = churned = Decimal(0)
        services_lost = 0
        while upcoming is not None and upcoming[2] < next_month:
            service_id, client_id, _day, before, after = upcoming
            if before == 0:
                new += after
            elif after == 0:
                churned += before
                services_lost += 1
            elif after > before:
                expansion += after - before
            else:
                contraction += before - after
            per_service[service_id], client_of[service_id] = after, client_id
            upcoming = next(pending, None)
        net = new + expansion - contraction - churned
        earning_after = {c for c, total in client_totals().items() if total > 0}
        months.append(
            MrrMonth(
                month,
                money(opening),
                money(new),
                money(expansion),
                money(contraction),
                money(churned),
                money(net),
                money(opening + net),
                services_lost,
                len(earning_before - earning_after),
            )
        )
    return months


# --- top clients -------------------------------------------------------------------------


@dataclass(frozen=True)
class TopClient:
    client_id: str
    client: str
    net: Money
    invoices: int


def top_clients(*, period: ReportPeriod, limit: int = TOP_CLIENTS) -> list[TopClient]:
    """The clients who brought the most net revenue in the period (invoices less credit
    notes, tax apart)."""
    currency = tenant_currency()
    net: dict[int, Decimal] = defaultdict(Decimal)
    invoices: dict[int, int] = defaultdict(int)
    for row in (
        _lines(period)
        .values("invoice__client_id")
        .annotate(net=Sum("net_amount"), invoices=Count("invoice_id", distinct=True))
    ):
        net[row["invoice__client_id"]] += row["net"]
        invoices[row["invoice__client_id"]] += row["invoices"]
    for row in _credited(period).values("credit_note__client_id").annotate(net=Sum("net_amount")):
        net[row["credit_note__client_id"]] -= row["net"]
    clients = Client.objects.in_bulk(list(net))
    ranked = sorted(
        (pk for pk, amount in net.items() if amount > 0),
        key=lambda pk: (-net[pk], clients[pk].display_name, pk),
    )[:limit]
    return [
        TopClient(
            str(clients[pk].public_id),
            clients[pk].display_name,
            Money(net[pk], currency).rounded(),
            invoices[pk],
        )
        for pk in ranked
    ]


# --- CSV ---------------------------------------------------------------------------------

REPORTS = ("revenue", "taxes", "receivables", "mrr", "top-clients")


def report_csv_rows(*, report: str, period: ReportPeriod, as_of: date) -> Iterator[list[str]]:
    """One report as CSV rows, the header first: amounts as plain decimals with the
    currency in a column of its own, dates in ISO 8601. Receivables are as of ``as_of``."""
    if report == "revenue":
        revenue = revenue_by_product(period=period)
        yield ["month", "product_id", "product", "net", "currency"]
        for row in revenue.products:
            for month, amount in zip(revenue.months, row.months, strict=True):
                yield [
                    month.strftime("%Y-%m"),
                    row.product_id or "",
                    spreadsheet_text(row.product),
                    csv_amount(amount),
                    amount.currency,
                ]
    elif report == "taxes":
        taxes = taxes_by_country(period=period)
        yield ["section", "country", "rate", "rule", "net", "vat", "currency"]
        for row in taxes.taxed:
            yield [
                "taxed",
                row.country,
                csv_rate(row.rate),
                "",
                csv_amount(row.net),
                csv_amount(row.tax),
                row.net.currency,
            ]
        for row in taxes.untaxed:
            yield [
                "untaxed",
                row.country,
                "0",
                row.rule,
                csv_amount(row.net),
                "0",
                row.net.currency,
            ]
    elif report == "receivables":
        ageing = receivables_ageing(on_date=as_of)
        yield [
            "client_id",
            "client",
            *(f"days_{key}" for key, _first, _last in AGEING_BUCKETS),
            "total",
            "currency",
        ]
        for row in ageing.clients:
            yield [
                row.client_id,
                spreadsheet_text(row.client),
                *(csv_amount(amount) for amount in row.buckets),
                csv_amount(row.total),
                row.total.currency,
            ]
    elif report == "mrr":
        yield [
            "month",
            "opening",
            "new",
            "expansion",
            "contraction",
            "churned",
            "net",
            "closing",
            "services_lost",
            "clients_lost",
            "currency",
        ]
        for row in mrr_movement(period=period):
            amounts = (
                row.opening,
                row.new,
                row.expansion,
                row.contraction,
                row.churned,
                row.net,
                row.closing,
            )
            yield [
                row.month.strftime("%Y-%m"),
                *(csv_amount(amount) for amount in amounts),
                str(row.services_lost),
                str(row.clients_lost),
                row.opening.currency,
            ]
    elif report == "top-clients":
        yield ["rank", "client_id", "client", "net", "invoices", "currency"]
        for rank, row in enumerate(top_clients(period=period), start=1):
            yield [
                str(rank),
                row.client_id,
                spreadsheet_text(row.client),
                csv_amount(row.net),
                str(row.invoices),
                row.net.currency,
            ]
    else:
        raise ValueError(f"Unknown report {report!r}.")
