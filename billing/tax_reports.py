"""The tax returns a seller files, read from its issued invoices and credit notes: the
One-Stop Shop return per quarter (sales and VAT per member state of consumption and rate),
the EC sales list (reverse-charged sales per buyer VAT number), the domestic VAT by
rate, and, for any range of days, the VAT return's figures per country and rate with the
sales that carry no VAT (reverse charge, zero-rated, exempt) apart. Each line counts
under the rule the tax engine froze on it, and a credit note counts, negatively, in the
quarter it was issued.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from django.db.models import Sum

from billing.models import CreditNoteLine, Invoice, InvoiceLine
from billing.money import Money
from billing.selectors import tenant_currency
from billing.taxes import SaleRule

OSS_RULES = (SaleRule.EU_OSS, SaleRule.NON_UNION_OSS)
EC_SALES_RULES = (SaleRule.EU_REVERSE_CHARGE, SaleRule.EU_GOODS_B2B)
DOMESTIC_RULES = (SaleRule.DOMESTIC, SaleRule.EU_UNDER_THRESHOLD)


@dataclass(frozen=True)
class Period:
    year: int
    quarter: int

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.quarter - 2, 1)

    @property
    def end(self) -> date:
        """The first day after the quarter."""
        if self.quarter == 4:
            return date(self.year + 1, 1, 1)
        return date(self.year, 3 * self.quarter + 1, 1)

    def __str__(self) -> str:
        return f"{self.year}-Q{self.quarter}"


def period_of(*, year: int, quarter: int) -> Period:
    if not (1 <= quarter <= 4) or not (2000 <= year <= 2100):
        raise ValueError("A quarter is 1 to 4 of a year between 2000 and 2100.")
    return Period(year, quarter)


@dataclass(frozen=True)
class OssRow:
    country: str
    rate: Decimal
    net: Money
    tax: Money


@dataclass(frozen=True)
class EcSalesRow:
    vat_number: str
    country: str
    net: Money


@dataclass(frozen=True)
class DomesticRow:
    rate: Decimal
    net: Money
    tax: Money


# The rules under which the seller charges VAT itself; every other rule is a sale that
# carries none (the buyer reverse-charges it, it is zero-rated, exempt or out of scope).
TAXED_RULES = (*DOMESTIC_RULES, *OSS_RULES, SaleRule.EU_DESTINATION)
UNTAXED_RULES = tuple(rule for rule in SaleRule if rule not in TAXED_RULES)


class DateRange(Protocol):
    """Any span of days: ``start`` included, ``end`` the first day after it."""

    @property
    def start(self) -> date: ...

    @property
    def end(self) -> date: ...


def _sums(
    period: DateRange,
    rules: Iterable[str] | None,
    invoice_keys: list[str],
    note_keys: list[str],
    *,
    exclude_rules: Iterable[str] = (),
):
    """Net and tax per key over the period: invoice lines less credit-note lines, of
    ``rules`` (or of every rule but ``exclude_rules``)."""
    rule_filter = {"tax_rule__in": list(rules)} if rules is not None else {}
    lines = (
        InvoiceLine.objects.filter(
            invoice__issue_date__gte=period.start,
            invoice__issue_date__lt=period.end,
            **rule_filter,
        )
        .exclude(tax_rule__in=list(exclude_rules) or [None])
        .exclude(invoice__status=Invoice.Status.DRAFT)
        .values(*invoice_keys)
        .annotate(net=Sum("net_amount"), tax=Sum("tax_amount"))
    )
    credited = (
        CreditNoteLine.objects.filter(
            credit_note__issue_date__gte=period.start,
            credit_note__issue_date__lt=period.end,
            **rule_filter,
        )
        .exclude(tax_rule__in=list(exclude_rules) or [None])
        .values(*note_keys)
        .annotate(net=Sum("net_amount"), tax=Sum("tax_amount"))
    )
    totals: dict[tuple, list[Decimal]] = {}
    for rows, keys, sign in ((lines, invoice_keys, 1), (credited, note_keys, -1)):
        for row in rows:
            key = tuple(row[k] for k in keys)
            sums = totals.setdefault(key, [Decimal(0), Decimal(0)])
            sums[0] += sign * (row["net"] or 0)
            sums[1] += sign * (row["tax"] or 0)
    return totals


def oss_return(*, period: Period) -> list[OssRow]:
    currency = tenant_currency()
    totals = _sums(
        period,
        OSS_RULES,
        ["invoice__buyer__country", "tax_rate"],
        ["credit_note__buyer__country", "tax_rate"],
    )
    ordered = sorted(totals.items(), key=lambda kv: (str(kv[0][0]), kv[0][1]))
    return [
        OssRow(
            str(country or ""),
            Decimal(rate).normalize(),
            Money(net, currency),
            Money(tax, currency),
        )
        for (country, rate), (net, tax) in ordered
    ]


def ec_sales_list(*, period: Period) -> list[EcSalesRow]:
    currency = tenant_currency()
    totals = _sums(
        period,
        EC_SALES_RULES,
        ["invoice__buyer__vat_number", "invoice__buyer__country"],
        ["credit_note__buyer__vat_number", "credit_note__buyer__country"],
    )
    return [
        EcSalesRow(str(number or ""), str(country or ""), Money(net, currency))
        for (number, country), (net, _tax) in sorted(totals.items(), key=lambda kv: str(kv[0][0]))
    ]


def domestic_vat(*, period: Period) -> list[DomesticRow]:
    currency = tenant_currency()
    totals = _sums(period, DOMESTIC_RULES, ["tax_rate"], ["tax_rate"])
    return [
        DomesticRow(Decimal(rate).normalize(), Money(net, currency), Money(tax, currency))
        for (rate,), (net, tax) in sorted(totals.items())
    ]


@dataclass(frozen=True)
class CountryRateRow:
    country: str
    rate: Decimal
    net: Money
    tax: Money


@dataclass(frozen=True)
class UntaxedRow:
    country: str
    rule: str  # a billing.taxes.SaleRule
    net: Money


@dataclass(frozen=True)
class TaxByCountry:
    """The VAT return's figures: VAT charged per buyer country and rate, and the sales
    without VAT per country and rule, which the return lists apart."""

    taxed: list[CountryRateRow]
    untaxed: list[UntaxedRow]
    net: Money
    tax: Money
    untaxed_net: Money


def tax_by_country(*, period: DateRange) -> TaxByCountry:
    currency = tenant_currency()
    taxed = _sums(
        period,
        None,
        ["invoice__buyer__country", "tax_rate"],
        ["credit_note__buyer__country", "tax_rate"],
        exclude_rules=UNTAXED_RULES,
    )
    untaxed = _sums(
        period,
        UNTAXED_RULES,
        ["invoice__buyer__country", "tax_rule"],
        ["credit_note__buyer__country", "tax_rule"],
    )
    taxed_rows = [
        CountryRateRow(
            str(country or ""),
            Decimal(rate).normalize(),
            Money(net, currency),
            Money(tax, currency),
        )
        for (country, rate), (net, tax) in sorted(
            taxed.items(), key=lambda kv: (str(kv[0][0] or ""), kv[0][1])
        )
    ]
    untaxed_rows = [
        UntaxedRow(str(country or ""), str(rule), Money(net, currency))
        for (country, rule), (net, _tax) in sorted(
            untaxed.items(), key=lambda kv: (str(kv[0][0] or ""), str(kv[0][1]))
        )
    ]
    zero = Money.zero(currency)
    return TaxByCountry(
        taxed_rows,
        untaxed_rows,
        sum((row.net for row in taxed_rows), zero),
        sum((row.tax for row in taxed_rows), zero),
        sum((row.net for row in untaxed_rows), zero),
    )


REPORTS = ("oss", "ec_sales", "domestic")


def csv_amount(value: Money) -> str:
    return str(value.rounded().amount)


def csv_rate(value: Decimal) -> str:
    return format(value.normalize(), "f")


def report_csv(*, report: str, period: Period) -> str:
    """One report as CSV, amounts as plain decimals in the tenant's currency."""
    out = io.StringIO()
    writer = csv.writer(out)
    if report == "oss":
        writer.writerow(["period", "member_state", "rate", "net", "vat", "currency"])
        for row in oss_return(period=period):
            writer.writerow(
                [period, row.country, csv_rate(row.rate), csv_amount(row.net), csv_amount(row.tax),
                 row.net.currency]
            )  # fmt: skip
    elif report == "ec_sales":
        writer.writerow(["period", "buyer_vat_number", "member_state", "net", "currency"])
        for row in ec_sales_list(period=period):
            writer.writerow(
                [period, row.vat_number, row.country, csv_amount(row.net), row.net.currency]
            )
    elif report == "domestic":
        writer.writerow(["period", "rate", "net", "vat", "currency"])
        for row in domestic_vat(period=period):
            writer.writerow(
                [
                    period,
                    csv_rate(row.rate),
                    csv_amount(row.net),
                    csv_amount(row.tax),
                    row.net.currency,
                ]
            )
    else:
        raise ValueError(f"Unknown report {report!r}.")
    return out.getvalue()
