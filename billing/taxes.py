"""Which tax a sale carries, why, and the exact amounts of a line.

``tax_decide`` is the tenant's tax engine. It takes what the law looks at: the seller's
country and VAT registration, its One-Stop Shop registration and whether it stays under
the EU-wide threshold for distance sales, the buyer's country (from its billing address)
and whether it is a business (a VAT number VIES confirmed), and what is sold
(an electronically supplied service, a domain, physical goods, an exempt supply). It
returns the rate, the EN 16931 VAT category, the legal mention the invoice must carry and
the reasons, which the invoice keeps. Rates are the tenant's own rules first, then the
dated rates of ``billing.vat_rates``; a sale that needs a rate nobody has is refused
(``TaxRateMissing``), never taxed at 0 %.

Amounts use the one rounding rule of billing.money, once per amount. With tax-exclusive
prices the net is the price and the tax is added; with tax-inclusive prices the price is
what the client pays and the tax is the part of it above the net. A client who pays
another rate than the seller's domestic one on tax-inclusive prices pays the net of the
catalogue price (which contains the domestic tax) plus its own tax.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from babel import Locale
from babel.core import UnknownLocaleError
from django.utils import translation
from django.utils.translation import gettext_lazy, gettext_noop

from billing import vat_rates
from billing.errors import BillingError
from billing.money import Money, round_money

EU_COUNTRIES = vat_rates.EU_COUNTRIES
HUNDRED = Decimal(100)
# Cross-border sales to EU consumers of a seller established in one member state are
# taxed where the seller is while they stay under this, over the current and the
# previous calendar year (Article 59c of Directive 2006/112/EC).
EU_DISTANCE_SALES_THRESHOLD = Decimal(10000)

# The legal mentions, in English; invoices carry them translated to their language.
REVERSE_CHARGE_NOTE = gettext_noop("Reverse charge — Article 196 of Directive 2006/112/EC")
DOMESTIC_REVERSE_CHARGE_NOTE = gettext_noop(
    "Reverse charge — the buyer accounts for the VAT (domestic reverse charge)"
)
INTRA_EU_GOODS_NOTE = gettext_noop(
    "Exempt intra-Community supply of goods — Article 138 of Directive 2006/112/EC"
)
EXPORT_NOTE = gettext_noop("Exempt export of goods — Article 146 of Directive 2006/112/EC")
OUT_OF_SCOPE_EU_NOTE = gettext_noop("Not subject to EU VAT — place of supply outside the EU")
OUT_OF_SCOPE_NOTE = gettext_noop(
    "Not subject to VAT — place of supply outside the seller's country"
)
EXEMPT_NOTE = gettext_noop("Exempt from VAT")
SMALL_BUSINESS_NOTE = gettext_noop(
    "VAT exemption for small enterprises — Article 284 of Directive 2006/112/EC"
)
NOT_REGISTERED_NOTE = gettext_noop("The seller is not registered for VAT")
OSS_NOTE = gettext_noop("VAT of %(country)s, declared through the One-Stop Shop (OSS)")


class SupplyType(StrEnum):
    """What is sold, as the place-of-supply rules see it."""

    ELECTRONIC = "electronic"  # hosting, VPS, licences: electronically supplied services
    DOMAIN = "domain"  # a domain registration: electronically supplied as well
    PHYSICAL = "physical"  # goods that are shipped
    EXEMPT = "exempt"  # a supply the law exempts


class VatStatus(StrEnum):
    """What VIES said of the buyer's VAT number."""

    NONE = "none"  # the buyer gave none
    VALID = "valid"
    INVALID = "invalid"  # wrong format or checksum, or VIES says it is not registered
    UNCHECKED = "unchecked"  # never sent to VIES
    UNAVAILABLE = "unavailable"  # VIES could not answer


class VatCategory(StrEnum):
    """UNTDID 5305 codes for the VAT treatment of a line (EN 16931 BT-151)."""

    STANDARD = "S"
    ZERO = "Z"
    EXEMPT = "E"
    REVERSE_CHARGE = "AE"
    INTRA_EU_GOODS = "K"
    EXPORT = "G"
    OUT_OF_SCOPE = "O"


class SaleRule(StrEnum):
    """Why a sale carries the tax it carries."""

    DOMESTIC = "domestic"
    DOMESTIC_REVERSE_CHARGE = "domestic_reverse_charge"
    EU_REVERSE_CHARGE = "eu_reverse_charge"
    EU_GOODS_B2B = "eu_goods_b2b"
    EU_UNDER_THRESHOLD = "eu_under_threshold"
    EU_OSS = "eu_oss"
    EU_DESTINATION = "eu_destination"  # over the threshold, registered in that country
    NON_UNION_OSS = "non_union_oss"
    EXPORT = "export"
    OUT_OF_SCOPE = "out_of_scope"
    EXEMPT_BUYER = "exempt_buyer"
    EXEMPT_SUPPLY = "exempt_supply"
    SMALL_BUSINESS = "small_business"
    NOT_REGISTERED = "not_registered"


# How staff read a rule on the invoice's page.
SALE_RULE_LABELS = {
    SaleRule.DOMESTIC: gettext_lazy("Domestic sale: the seller's VAT"),
    SaleRule.DOMESTIC_REVERSE_CHARGE: gettext_lazy("Domestic reverse charge"),
    SaleRule.EU_REVERSE_CHARGE: gettext_lazy("EU business: reverse charge"),
    SaleRule.EU_GOODS_B2B: gettext_lazy("Intra-EU supply of goods"),
    SaleRule.EU_UNDER_THRESHOLD: gettext_lazy("EU consumer under the EUR 10,000 threshold"),
    SaleRule.EU_OSS: gettext_lazy("EU consumer: the buyer's country's VAT, declared through OSS"),
    SaleRule.EU_DESTINATION: gettext_lazy(
        "EU consumer: VAT of the buyer's country, registered there"
    ),
    SaleRule.NON_UNION_OSS: gettext_lazy("Non-EU seller: EU consumer's VAT through non-Union OSS"),
    SaleRule.EXPORT: gettext_lazy("Export outside the EU"),
    SaleRule.OUT_OF_SCOPE: gettext_lazy("Out of scope of EU VAT"),
    SaleRule.EXEMPT_BUYER: gettext_lazy("Exempt buyer"),
    SaleRule.EXEMPT_SUPPLY: gettext_lazy("Exempt supply"),
    SaleRule.SMALL_BUSINESS: gettext_lazy("Small-business scheme: no VAT charged"),
    SaleRule.NOT_REGISTERED: gettext_lazy("Seller not registered for VAT"),
}


class ViesUnavailable(StrEnum):
    """What a sale does when VIES cannot confirm the buyer's VAT number."""

    CONSUMER = "consumer"  # proceeds as a consumer sale, with the seller's VAT
    WAIT = "wait"  # waits until VIES answers


class TaxRateMissing(BillingError):
    """A sale needs a rate for a country that neither the rates data nor the tenant's
    rules have: the tenant must add one."""

    def __init__(self, country: str) -> None:
        self.country = country
        # In the language of whoever is buying or selling: the request's.
        super().__init__(
            translation.gettext(
                "No VAT rate is configured for %(country)s: the seller must add a tax rule "
                "for %(country)s (console, Settings → Taxes) before this sale can be made."
            )
            % {"country": country},
            code="tax_rate_missing",
        )


class TaxDecisionPending(BillingError):
    """VIES could not confirm the buyer's VAT number and the tenant waits for it."""

    def __init__(self, vat_number: str) -> None:
        super().__init__(
            f"The VAT number {vat_number} cannot be confirmed right now (the EU's VIES "
            "service does not answer). Your order waits: try again in a few minutes, or "
            "remove the VAT number to buy as a consumer.",
            code="tax_pending",
        )


@dataclass(frozen=True)
class SellerProfile:
    """What the engine needs to know of the seller."""

    country: str
    vat_registered: bool = True
    small_business: bool = False
    oss_registered: bool = False
    # The seller says it stays under the EU distance-sales threshold and has not opted
    # to tax in the buyer's country.
    under_threshold: bool = False
    # Cross-border sales to EU consumers this calendar year so far, net, in EUR.
    eu_distance_sales: Decimal = Decimal(0)
    domestic_reverse_charge: frozenset[str] = frozenset()
    vies_unavailable: str = ViesUnavailable.CONSUMER
    # The tenant's own rules: country ("" = any country the data does not cover) →
    # (rate in percent, tax name). They come before the rates data.
    rules: Mapping[str, tuple[Decimal, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class BuyerProfile:
    country: str
    vat_number: str = ""
    vat_status: str = VatStatus.NONE
    tax_exempt: bool = False


@dataclass(frozen=True)
class TaxDecision:
    rate: Decimal  # percent charged
    name: str
    # The rate contained in a tax-inclusive catalogue price.
    included_rate: Decimal
    reverse_charge: bool = False
    note: str = ""  # the legal mention (English msgid, translated on the document)
    category: str = VatCategory.STANDARD
    rule: str = SaleRule.DOMESTIC
    # Whose VAT it is: the country whose rate applies, or where the supply takes place.
    country: str = ""
    business: bool = False
    reasons: tuple[str, ...] = ()

    def record(self) -> dict:
        """What the invoice keeps of the decision."""
        return {
            "rule": str(self.rule),
            "category": str(self.category),
            "rate": str(self.rate.normalize()),
            "country": self.country,
            "buyer_status": "business" if self.business else "consumer",
            "reasons": list(self.reasons),
        }


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


def rate_for(
    rules: Mapping[str, tuple[Decimal, str]], country: str, on_date: date
) -> tuple[Decimal, str] | None:
    """The tenant's rule for the country, else the dated rate of the data, else the
    tenant's catch-all rule; None when nobody has one."""
    country = (country or "").upper()
    if country in rules:
        return rules[country]
    rate = vat_rates.standard_rate(country, on_date)
    if rate is not None:
        return rate, vat_rates.tax_name(country)
    if "" in rules:
        return rules[""]
    return None


def tax_decide(
    *,
    seller: SellerProfile,
    buyer: BuyerProfile,
    supply: str = SupplyType.ELECTRONIC,
    on_date: date,
    sale_amount: Decimal = Decimal(0),
) -> TaxDecision:
    """The rule, rate, category and legal mention of one sale. ``sale_amount`` is its net
    in EUR, for the distance-sales threshold."""
    s = (seller.country or "").upper()
    b = (buyer.country or "").upper() or s
    reasons: list[str] = [f"seller in {s or '?'}", f"buyer in {b or '?'}", f"supply: {supply}"]
    if not buyer.country:
        reasons.append("no billing country given: the seller's country is assumed")
    home = rate_for(seller.rules, s, on_date)
    home_rate, home_name = home if home is not None else (Decimal(0), "VAT")
    included = home_rate if seller.vat_registered and not seller.small_business else Decimal(0)

    def decision(
        rate: Decimal, name: str, category: str, rule: str, note: str = "", **kw
    ) -> TaxDecision:
        return TaxDecision(
            rate=rate,
            name=name,
            included_rate=included,
            category=category,
            rule=rule,
            note=note,
            reasons=tuple(reasons),
            **kw,
        )

    def rate_of(country: str) -> tuple[Decimal, str]:
        found = rate_for(seller.rules, country, on_date)
        if found is None:
            raise TaxRateMissing(country)
        return found

    def is_business() -> bool:
        status = buyer.vat_status
        if status == VatStatus.VALID:
            reasons.append(f"VAT number {buyer.vat_number} confirmed by VIES: a business")
            return True
        if status == VatStatus.UNAVAILABLE and seller.vies_unavailable == ViesUnavailable.WAIT:
            raise TaxDecisionPending(buyer.vat_number)
        if buyer.vat_number:
            reasons.append(
                f"VAT number {buyer.vat_number} {status} by VIES: a consumer sale"
                if status in (VatStatus.INVALID, VatStatus.UNAVAILABLE)
                else f"VAT number {buyer.vat_number} not confirmed: a consumer sale"
            )
        else:
            reasons.append("no VAT number: a consumer")
        return False

    if buyer.tax_exempt:
        reasons.append("the buyer is exempt from tax")
        return decision(
            Decimal(0), home_name, VatCategory.EXEMPT, SaleRule.EXEMPT_BUYER, EXEMPT_NOTE
        )
    if supply == SupplyType.EXEMPT:
        reasons.append("an exempt supply")
        return decision(
            Decimal(0), home_name, VatCategory.EXEMPT, SaleRule.EXEMPT_SUPPLY, EXEMPT_NOTE
        )
    if seller.small_business:
        reasons.append("the seller uses the small-enterprise exemption")
        return decision(
            Decimal(0), home_name, VatCategory.EXEMPT, SaleRule.SMALL_BUSINESS, SMALL_BUSINESS_NOTE
        )
    if not seller.vat_registered:
        reasons.append("the seller is not registered for VAT")
        return decision(
            Decimal(0), home_name, VatCategory.OUT_OF_SCOPE, SaleRule.NOT_REGISTERED,
            NOT_REGISTERED_NOTE,
        )  # fmt: skip

    if not s:
        # A seller that has not said where it is established has not said it is
        # registered for VAT either (registration is in a country; the console refuses
        # "registered" without one and warns until it is set): only a rule of its own
        # taxes the sale, and the invoice says why there is no VAT otherwise.
        found = seller.rules.get(b) or seller.rules.get("")
        if found is None:
            reasons.append("the seller's country is not set: not registered for VAT")
            return decision(
                Decimal(0), "VAT", VatCategory.OUT_OF_SCOPE, SaleRule.NOT_REGISTERED,
                NOT_REGISTERED_NOTE,
            )  # fmt: skip
        reasons.append("the seller's country is not set: the tenant's own rule applies")
        return decision(found[0], found[1], VatCategory.STANDARD, SaleRule.DOMESTIC, country=b)
    if s in EU_COUNTRIES:
        if b == s:
            if supply in seller.domestic_reverse_charge and is_business():
                reasons.append("domestic reverse charge enabled for this supply")
                return decision(
                    Decimal(0), home_name, VatCategory.REVERSE_CHARGE,
                    SaleRule.DOMESTIC_REVERSE_CHARGE, DOMESTIC_REVERSE_CHARGE_NOTE,
                    reverse_charge=True, country=s, business=True,
                )  # fmt: skip
            rate, name = rate_of(s)
            return decision(rate, name, VatCategory.STANDARD, SaleRule.DOMESTIC, country=s)
        if b in EU_COUNTRIES:
            if is_business():
                if supply == SupplyType.PHYSICAL:
                    return decision(
                        Decimal(0), home_name, VatCategory.INTRA_EU_GOODS,
                        SaleRule.EU_GOODS_B2B, INTRA_EU_GOODS_NOTE, country=b, business=True,
                    )  # fmt: skip
                return decision(
                    Decimal(0), home_name, VatCategory.REVERSE_CHARGE, SaleRule.EU_REVERSE_CHARGE,
                    REVERSE_CHARGE_NOTE, reverse_charge=True, country=b, business=True,
                )  # fmt: skip
            total = seller.eu_distance_sales + sale_amount
            if seller.under_threshold and total <= EU_DISTANCE_SALES_THRESHOLD:
                reasons.append(
                    f"EU distance sales this year {total} EUR, under the "
                    f"{EU_DISTANCE_SALES_THRESHOLD} EUR threshold: the seller's VAT"
                )
                rate, name = rate_of(s)
                return decision(
                    rate, name, VatCategory.STANDARD, SaleRule.EU_UNDER_THRESHOLD, country=s
                )
            reasons.append(
                "over the EU distance-sales threshold: the buyer's country's VAT"
                if seller.under_threshold
                else "the seller taxes EU consumers in their country"
            )
            rate, name = rate_of(b)
            if seller.oss_registered:
                return decision(
                    rate, name, VatCategory.STANDARD, SaleRule.EU_OSS, OSS_NOTE, country=b
                )
            reasons.append(f"the seller declares this VAT in {b} directly")
            return decision(rate, name, VatCategory.STANDARD, SaleRule.EU_DESTINATION, country=b)
        reasons.append("buyer outside the EU")
        if supply == SupplyType.PHYSICAL:
            return decision(
                Decimal(0), home_name, VatCategory.EXPORT, SaleRule.EXPORT, EXPORT_NOTE, country=b
            )
        return decision(
            Decimal(0), home_name, VatCategory.OUT_OF_SCOPE, SaleRule.OUT_OF_SCOPE,
            OUT_OF_SCOPE_EU_NOTE, country=b,
        )  # fmt: skip

    # A seller outside the EU (UK, Switzerland, Norway...): its own VAT at home, the
    # buyer's country's VAT on electronic services to EU consumers (non-Union OSS, or a
    # rule of the tenant's own), nothing elsewhere.
    if b == s:
        rate, name = rate_of(s)
        return decision(rate, name, VatCategory.STANDARD, SaleRule.DOMESTIC, country=s)
    if b in EU_COUNTRIES and supply != SupplyType.PHYSICAL and not is_business():
        if not (seller.oss_registered or b in seller.rules):
            raise TaxRateMissing(b)
        rate, name = rate_of(b)
        reasons.append("electronic services to an EU consumer: the buyer's country's VAT")
        return decision(
            rate, name, VatCategory.STANDARD, SaleRule.NON_UNION_OSS,
            OSS_NOTE if seller.oss_registered else "", country=b,
        )  # fmt: skip
    reasons.append("place of supply outside the seller's country")
    return decision(
        Decimal(0), home_name, VatCategory.OUT_OF_SCOPE, SaleRule.OUT_OF_SCOPE,
        OUT_OF_SCOPE_NOTE, country=b,
    )  # fmt: skip


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


def legal_mentions(decisions: Iterable[TaxDecision], language: str) -> str:
    """The legal mentions the decisions require, once each, in the document's
    language."""
    texts: list[str] = []
    with translation.override(language):
        try:
            territories = Locale.parse(language.replace("-", "_")).territories
        except (ValueError, TypeError, UnknownLocaleError):
            territories = {}
        for decision in decisions:
            if not decision.note:
                continue
            country = territories.get(decision.country, decision.country)
            text = translation.gettext(decision.note)
            if "%(country)s" in text:
                text = text % {"country": country}
            if text not in texts:
                texts.append(text)
    return "; ".join(texts)
