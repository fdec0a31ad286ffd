"""Which tax a sale carries, and the exact amounts of a line.

The rules, in order:
1. a tax-exempt client pays no tax;
2. a business in another EU country than the seller (it gave a VAT number) pays no tax
   and the invoice says "Reverse charge" (the buyer accounts for the VAT);
3. otherwise the tenant's tax rule for the buyer's country applies, else its rule for
   "any country", else no tax.

Amounts use the one rounding rule of billing.money, once per amount. With tax-exclusive
prices the net is the price and the tax is added; with tax-inclusive prices the price is
what the client pays and the tax is the part of it above the net. A client who pays no
tax on tax-inclusive prices pays the price less the seller's domestic tax: the catalogue
price contains that tax, not a tax the client owes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from billing.money import Money, round_money

EU_COUNTRIES = frozenset(
    {
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
        "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
    }
)  # fmt: skip
REVERSE_CHARGE_NOTE = "Reverse charge"
EXEMPT_NOTE = "Exempt from tax"
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class TaxDecision:
    rate: Decimal  # percent charged
    name: str
    # The rate contained in a tax-inclusive catalogue price.
    included_rate: Decimal
    reverse_charge: bool = False
    note: str = ""


@dataclass(frozen=True)
class LineAmounts:
    net: Money
    tax: Money
    total: Money


@dataclass(frozen=True)
class TaxSummaryRow:
    name: str
    rate: Decimal
    net: Money
    tax: Money


def _rule_for(rules: Mapping[str, tuple[Decimal, str]], country: str) -> tuple[Decimal, str]:
    if country in rules:
        return rules[country]
    if "" in rules:
        return rules[""]
    return Decimal(0), ""


def tax_decide(
    *,
    rules: Mapping[str, tuple[Decimal, str]],
    seller_country: str,
    buyer_country: str,
    buyer_vat_number: str = "",
    buyer_tax_exempt: bool = False,
) -> TaxDecision:
    """``rules`` maps a country code ("" = any other) to (rate in percent, tax name)."""
    seller_country = (seller_country or "").upper()
    buyer_country = (buyer_country or "").upper()
    home_rate, home_name = _rule_for(rules, seller_country)
    if buyer_tax_exempt:
        return TaxDecision(Decimal(0), home_name, home_rate, note=EXEMPT_NOTE)
    if (
        buyer_vat_number.strip()
        and seller_country in EU_COUNTRIES
        and buyer_country in EU_COUNTRIES
        and buyer_country != seller_country
    ):
        return TaxDecision(
            Decimal(0), home_name, home_rate, reverse_charge=True, note=REVERSE_CHARGE_NOTE
        )
    rate, name = _rule_for(rules, buyer_country)
    return TaxDecision(rate, name, rate)


def line_amounts(
    *,
    unit_price: Money,
    quantity: Decimal | int,
    decision: TaxDecision,
    prices_include_tax: bool,
) -> LineAmounts:
    currency = unit_price.currency
    price = round_money(unit_price.amount * Decimal(quantity), currency)
    if prices_include_tax:
        net = round_money(price * HUNDRED / (HUNDRED + decision.included_rate), currency)
        if decision.rate == decision.included_rate:
            # The client pays the catalogue price exactly; tax is what is above the net.
            tax = price - net
        else:
            tax = round_money(net * decision.rate / HUNDRED, currency)
    else:
        net = price
        tax = round_money(net * decision.rate / HUNDRED, currency)
    return LineAmounts(Money(net, currency), Money(tax, currency), Money(net + tax, currency))


def tax_summary(lines: Iterable, currency: str) -> list[TaxSummaryRow]:
    """Net and tax per rate, from lines with ``tax_name``, ``tax_rate``, ``net_amount``
    and ``tax_amount``: the sums of the lines, so the summary always adds up."""
    rows: dict[tuple[str, Decimal], list[Decimal]] = {}
    for line in lines:
        key = (line.tax_name, Decimal(line.tax_rate).normalize())
        sums = rows.setdefault(key, [Decimal(0), Decimal(0)])
        sums[0] += line.net_amount
        sums[1] += line.tax_amount
    return [
        TaxSummaryRow(name, rate, Money.of(net, currency), Money.of(tax, currency))
        for (name, rate), (net, tax) in sorted(rows.items(), key=lambda kv: kv[0][1])
    ]
