"""What the catalogue pages show: a card per product with its "from" price, and a table
comparing the plans of a product. Reads only; names, descriptions and features in the
reader's language where the tenant translated them (``TranslatedText``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from billing.cycles import CYCLE_MONTHS
from billing.models import PlanPrice, Product
from billing.money import Money
from portals.storefront import cart as shop

# A card names a few features; the comparison table has them all.
CARD_FEATURES = 4


@dataclass(frozen=True)
class FromPrice:
    """The lowest a plan costs per ``period``: "month" (or "year" for a domain, which
    is sold by the year) when it is sold on a recurring cycle, "once" otherwise."""

    price: Money
    period: str

    @property
    def per_month(self) -> bool:
        return self.period == "month"


def price_from(prices: Iterable[PlanPrice], *, period: str = "month") -> FromPrice | None:
    """The lowest price per month across the cycles (an annual 36.00 is 3.00 a month),
    or per year with ``period="year"``, rounded by the currency's one rule; a plan
    sold only once shows that price."""
    months = 12 if period == "year" else 1
    rows = list(prices)
    recurring = [
        Money.of(row.price.amount * months / CYCLE_MONTHS[row.cycle], row.currency)
        for row in rows
        if row.cycle in CYCLE_MONTHS
    ]
    if recurring:
        return FromPrice(min(recurring, key=lambda money: money.amount), period)
    once = [row.price for row in rows]
    return FromPrice(min(once, key=lambda money: money.amount), "once") if once else None


def product_period(product: Product) -> str:
    return "year" if product.type == Product.Type.DOMAIN else "month"


def _rank(offer: FromPrice) -> tuple[bool, object]:
    # A recurring price beats a one-time one; then the lower wins.
    return (offer.period == "once", offer.price.amount)


@dataclass
class ProductCard:
    product: Product
    plan_count: int
    from_price: FromPrice | None
    features: list[str] = field(default_factory=list)


def product_cards(group_ids: Iterable[int] | None = None) -> dict:
    """Group → its product cards, in the catalogue's order. The features shown are the
    cheapest plan's: what "from" buys."""
    plans = shop.sellable_plans().prefetch_related("prices")
    if group_ids is not None:
        plans = plans.filter(product__group_id__in=list(group_ids))
    plans = plans.order_by(
        "product__group__sort_order",
        "product__group__name",
        "product__sort_order",
        "product__name",
        "sort_order",
        "name",
    )
    cards: dict[Product, ProductCard] = {}
    cheapest: dict[Product, FromPrice] = {}
    for plan in plans:
        offer = price_from(plan.prices.all(), period=product_period(plan.product))
        if offer is None:
            continue
        card = cards.setdefault(plan.product, ProductCard(plan.product, 0, None))
        card.plan_count += 1
        best = cheapest.get(plan.product)
        if best is None or _rank(offer) < _rank(best):
            cheapest[plan.product] = offer
            card.from_price = offer
            card.features = list(plan.display_features)[:CARD_FEATURES]
    groups: dict = {}
    for product, card in cards.items():
        groups.setdefault(product.group, []).append(card)
    return groups


@dataclass
class Comparison:
    """Plans as columns; features as rows (``"Disk: 10 GB"`` is the row "Disk" with
    "10 GB" in the plan's column, a feature without a colon is a row of its own with a
    tick); a row of prices per cycle the plans are sold on."""

    plans: list
    features: list[tuple[str, list[str | bool]]]
    prices: list[tuple[str, list[Money | None]]]


def _feature_parts(feature: str) -> tuple[str, str | bool]:
    label, sep, value = str(feature).partition(":")
    if sep and label.strip() and value.strip():
        return label.strip(), value.strip()
    return str(feature).strip(), True


def plan_comparison(plans: list) -> Comparison:
    rows: dict[str, list[str | bool]] = {}
    for column, plan in enumerate(plans):
        for feature in plan.display_features:
            label, value = _feature_parts(feature)
            if not label:
                continue
            rows.setdefault(label, [False] * len(plans))[column] = value
    cycles: dict[str, list[Money | None]] = {}
    labels: dict[str, str] = {}
    for column, plan in enumerate(plans):
        for row in shop.plan_cycles(plan):
            labels[row.cycle] = row.get_cycle_display()
            cycles.setdefault(row.cycle, [None] * len(plans))[column] = row.price
    order = [c for c in shop.CYCLE_ORDER if c in cycles] + [
        c for c in cycles if c not in shop.CYCLE_ORDER
    ]
    return Comparison(
        plans=plans,
        features=list(rows.items()),
        prices=[(labels[cycle], cycles[cycle]) for cycle in order],
    )
