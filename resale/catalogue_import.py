"""Importing the provider's wholesale plans into a reseller's catalogue, with a markup.

The wholesale offer is what the reseller's price list at the provider prices. Imported
plans keep the wholesale plan's code in ``Plan.upstream_plan_ref``: that is what makes a
sale of them resold (resale.billing_bridge). Importing a plan again reprices it instead of
duplicating it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name, schema_context

from billing.cycles import CYCLE_MONTHS, CYCLES
from billing.errors import BillingError
from billing.models import (
    ConfigurableOption,
    ConfigurableOptionChoice,
    DomainPolicy,
    Plan,
    Product,
    ProductGroup,
)
from billing.money import Money, currency_exponent
from billing.selectors import tenant_currency
from billing.services import (
    configurable_option_create,
    configurable_option_price_set,
    domain_price_set,
    plan_create,
    plan_price_set,
    product_create,
    product_group_create,
)
from resale.models import (
    ResellerAccount,
    WholesaleOptionPrice,
    WholesalePrice,
    WholesaleTldPrice,
)
from resale.selectors import DOMAIN_PLAN_PREFIX, plan_is_resold_domain

PERCENT, FIXED = "percent", "fixed"
ROUND_NONE, ROUND_99, ROUND_WHOLE = "none", "99", "whole"

# Wholesale product type → the reseller's product type.
PRODUCT_TYPES = {
    "shared": Product.Type.SHARED_HOSTING,
    "vps": Product.Type.VPS,
    "dedicated": Product.Type.DEDICATED,
    "domain": Product.Type.DOMAIN,
    "licence": Product.Type.LICENCE,
    "other": Product.Type.OTHER,
}


class CatalogueImportError(BillingError):
    """The import cannot go ahead (no account, another currency, unknown plan)."""


@dataclass(frozen=True)
class Markup:
    kind: str = PERCENT
    value: Decimal = Decimal(30)
    rounding: str = ROUND_99

    def apply(self, cost: Decimal, currency: str) -> Decimal:
        """The retail amount for a wholesale ``cost``. Zero stays zero (no setup fee is
        invented), and rounding only ever goes up, so the margin is never eaten."""
        if cost == 0:
            return Decimal(0)
        if self.kind == PERCENT:
            raised = cost * (Decimal(100) + self.value) / Decimal(100)
        else:
            raised = cost + self.value
        rounding = self.rounding
        if rounding == ROUND_99 and currency_exponent(currency) >= 1:
            # A currency without cents has no .99 to round to.
            rounding = ROUND_WHOLE
        if rounding == ROUND_WHOLE:
            return raised.quantize(Decimal(1), rounding=ROUND_CEILING)
        if rounding == ROUND_99:
            candidate = raised.quantize(Decimal(1), rounding=ROUND_FLOOR) + Decimal("0.99")
            return candidate if candidate >= raised else candidate + 1
        return raised.quantize(currency_exponent(currency), rounding=ROUND_CEILING)


@dataclass
class WholesaleOffer:
    code: str
    name: str
    description: str
    product_type: str
    currency: str
    prices: dict[str, tuple[Money, Money]] = field(default_factory=dict)  # cycle → (price, setup)
    imported_plan: Plan | None = None
    domain_policy: str = DomainPolicy.NONE

    def retail(self, markup: Markup) -> dict[str, tuple[Money, Money]]:
        return {
            cycle: (
                Money(markup.apply(price.amount, self.currency), self.currency),
                Money(markup.apply(setup.amount, self.currency), self.currency),
            )
            for cycle, (price, setup) in self.prices.items()
        }


@dataclass
class OptionOffer:
    """A wholesale option the tenant can resell with the plans it is sold with."""

    code: str
    name: str
    kind: str
    max_quantity: int
    currency: str
    plan_codes: set[str] = field(default_factory=set)
    # choice code → (name, {cycle: (price, setup)})
    choices: dict[str, tuple[str, dict[str, tuple[Money, Money]]]] = field(default_factory=dict)
    imported_option: ConfigurableOption | None = None

    def retail(self, markup: Markup) -> dict[str, dict[str, tuple[Money, Money]]]:
        """Choice code → cycle → (price, setup), marked up as plans are."""
        return {
            code: {
                cycle: (
                    Money(markup.apply(price.amount, self.currency), self.currency),
                    Money(markup.apply(setup.amount, self.currency), self.currency),
                )
                for cycle, (price, setup) in prices.items()
            }
            for code, (_, prices) in self.choices.items()
        }


def wholesale_option_offer(*, tenant) -> list[OptionOffer]:
    """The wholesale options the tenant can buy, at its price list's prices."""
    with schema_context(get_public_schema_name()):
        account = ResellerAccount.objects.filter(tenant_id=tenant.pk).first()
        if account is None or account.price_list_id is None:
            raise CatalogueImportError(_("Your account at the provider has no price list yet."))
        rows = (
            WholesaleOptionPrice.objects.filter(
                price_list_id=account.price_list_id, choice__option__is_active=True
            )
            .select_related("choice__option")
            .prefetch_related("choice__option__plans")
            .order_by("choice__option__name", "choice__sort_order", "cycle")
        )
        offers: dict[str, OptionOffer] = {}
        for row in rows:
            option, choice = row.choice.option, row.choice
            offer = offers.get(option.code)
            if offer is None:
                offer = offers[option.code] = OptionOffer(
                    option.code,
                    option.name,
                    option.kind,
                    option.max_quantity,
                    row.currency,
                    {plan.code for plan in option.plans.all()},
                )
            _choice_name, prices = offer.choices.setdefault(choice.code, (choice.name, {}))
            prices[row.cycle] = (row.price, row.setup_fee)
    imported = {
        o.upstream_option_ref: o for o in ConfigurableOption.objects.exclude(upstream_option_ref="")
    }
    for offer in offers.values():
        offer.imported_option = imported.get(offer.code)
    return list(offers.values())


def wholesale_offer(*, tenant) -> list[WholesaleOffer]:
    """The wholesale plans the tenant can buy, at its price list's prices."""

    with schema_context(get_public_schema_name()):
        account = ResellerAccount.objects.filter(tenant_id=tenant.pk).first()
        if account is None or account.price_list_id is None:
            raise CatalogueImportError(_("Your account at the provider has no price list yet."))
        rows = (
            WholesalePrice.objects.filter(price_list_id=account.price_list_id, plan__is_active=True)
            .select_related("plan")
            .order_by("plan__product_type", "plan__name", "cycle")
        )
        offers: dict[str, WholesaleOffer] = {}
        for row in rows:
            plan = row.plan
            offer = offers.setdefault(
                plan.code,
                WholesaleOffer(
                    plan.code,
                    plan.name,
                    plan.description,
                    plan.product_type,
                    row.currency,
                    domain_policy=plan.domain_policy,
                ),
            )
            offer.prices[row.cycle] = (row.price, row.setup_fee)
    imported = {p.upstream_plan_ref: p for p in Plan.objects.exclude(upstream_plan_ref="")}
    for offer in offers.values():
        offer.imported_plan = imported.get(offer.code)
    return list(offers.values())


def _product_for(offer: WholesaleOffer, group: ProductGroup | None = None) -> Product:
    """The product an imported plan joins: the first of its type in ``group`` (the one
    the tenant chose, or the group named after the type, made on first use)."""
    product_type = PRODUCT_TYPES.get(offer.product_type, Product.Type.OTHER)
    label = str(Product.Type(product_type).label)
    slug = slugify(f"{product_type}")
    if group is None:
        group = ProductGroup.objects.filter(slug=slug).first() or product_group_create(
            name=label, slug=slug
        )
    product = Product.objects.filter(group=group, type=product_type).order_by("pk").first()
    if product is not None:
        return product
    taken = Product.objects.filter(slug=slug).exists()
    return product_create(
        group=group,
        name=label,
        type=product_type,
        slug=slugify(f"{group.slug}-{product_type}") if taken else slug,
    )


@dataclass(frozen=True)
class ImportResult:
    created: list[Plan]
    repriced: list[Plan]
    options: list[ConfigurableOption] = field(default_factory=list)


@transaction.atomic
def wholesale_plans_import(
    *, tenant, codes: list[str], markup: Markup, group: ProductGroup | None = None
) -> ImportResult:
    """Imports the wholesale plans ``codes`` with ``markup``: new plans join ``group``
    (a product of their type in it) or, without one, a group named after their type;
    plans already imported are repriced where they are."""
    currency = tenant_currency()
    offers = {offer.code: offer for offer in wholesale_offer(tenant=tenant)}
    created, repriced = [], []
    for code in codes:
        offer = offers.get(code)
        if offer is None:
            raise CatalogueImportError(
                _("The provider does not offer “%(code)s”.") % {"code": code}
            )
        if offer.currency != currency:
            raise CatalogueImportError(
                _("“%(name)s” is priced in %(theirs)s and this site sells in %(ours)s.")
                % {"name": offer.name, "theirs": offer.currency, "ours": currency}
            )
        prices = offer.retail(markup)
        if offer.imported_plan is not None:
            for cycle, (price, setup) in prices.items():
                plan_price_set(plan=offer.imported_plan, cycle=cycle, price=price, setup_fee=setup)
            repriced.append(offer.imported_plan)
            continue
        created.append(
            plan_create(
                product=_product_for(offer, group),
                name=offer.name,
                description=offer.description,
                prices=prices,
                upstream_plan_ref=offer.code,
                domain_policy=offer.domain_policy,
            )
        )
    options = _options_import(tenant=tenant, codes=set(codes), markup=markup, currency=currency)
    return ImportResult(created, repriced, options)


def _options_import(
    *, tenant, codes: set[str], markup: Markup, currency: str
) -> list[ConfigurableOption]:
    """The wholesale options sold with the imported plans come along, marked up the same
    way and linked to the upstream option; importing again reprices them."""
    plans = {p.upstream_plan_ref: p for p in Plan.objects.filter(upstream_plan_ref__in=codes)}
    imported = []
    for offer in wholesale_option_offer(tenant=tenant):
        with_plans = [plans[code] for code in sorted(offer.plan_codes & set(plans))]
        if not with_plans or offer.currency != currency:
            continue
        retail = offer.retail(markup)
        option = offer.imported_option
        if option is None:
            option = configurable_option_create(
                name=offer.name,
                kind=offer.kind,
                max_quantity=offer.max_quantity,
                choices={offer.choices[code][0]: prices for code, prices in retail.items()},
                upstream_option_ref=offer.code,
                upstream_choice_refs={offer.choices[code][0]: code for code in retail},
                plans=with_plans,
            )
        else:
            existing = {c.upstream_choice_ref: c for c in option.choices.all()}
            for position, (code, prices) in enumerate(retail.items()):
                choice = existing.get(code) or ConfigurableOptionChoice.objects.create(
                    option=option,
                    name=offer.choices[code][0],
                    sort_order=position,
                    upstream_choice_ref=code,
                )
                for cycle, (price, setup) in prices.items():
                    configurable_option_price_set(
                        choice=choice, cycle=cycle, price=price, setup_fee=setup
                    )
            option.plans.add(*with_plans)
        imported.append(option)
    return imported


# --- domains --------------------------------------------------------------------------------

# The registration periods a domain plan offers, as billing cycles.
DOMAIN_CYCLES = {"annual": 1, "biennial": 2, "triennial": 3}
DOMAIN_ACTIONS_PRICED = ("register", "transfer", "renew", "restore")


@dataclass
class TldOffer:
    """A TLD the tenant can resell, at its price list's prices (per year; restore once)."""

    tld: str
    currency: str
    prices: dict[str, Money]  # action → price
    version: int
    imported_plan: Plan | None = None

    def retail(self, markup: Markup) -> dict[str, Money]:
        return {
            action: Money(markup.apply(price.amount, self.currency), self.currency)
            for action, price in self.prices.items()
        }


def wholesale_tld_offer(*, tenant) -> list[TldOffer]:
    """The TLDs the tenant can buy, at its price list's prices."""
    with schema_context(get_public_schema_name()):
        account = ResellerAccount.objects.filter(tenant_id=tenant.pk).first()
        if account is None or account.price_list_id is None:
            raise CatalogueImportError(_("Your account at the provider has no price list yet."))
        rows = (
            WholesaleTldPrice.objects.filter(
                price_list_id=account.price_list_id, tld__is_active=True
            )
            .select_related("tld")
            .order_by("tld__tld")
        )
        offers = [
            TldOffer(
                row.tld.tld,
                row.currency,
                {action: getattr(row, action) for action in DOMAIN_ACTIONS_PRICED},
                row.tld.version,
            )
            for row in rows
        ]
    imported = {
        p.upstream_plan_ref: p
        for p in Plan.objects.filter(upstream_plan_ref__startswith=DOMAIN_PLAN_PREFIX)
    }
    for offer in offers:
        offer.imported_plan = imported.get(f"{DOMAIN_PLAN_PREFIX}{offer.tld}")
    return offers


def _domain_product() -> Product:
    return _product_for(
        WholesaleOffer("", "", "", "domain", "")  # only its product type matters here
    )


@transaction.atomic
def wholesale_tlds_import(*, tenant, tlds: list[str], markup: Markup) -> ImportResult:
    """Sells the TLDs in the tenant's catalogue: a domain plan per TLD, named after it
    (".com"), registering for one to three years, with its transfer, renewal and
    restore prices, each marked up. Importing again reprices; a TLD is never repriced
    behind the tenant's back (the provider's changes are only announced)."""
    currency = tenant_currency()
    offers = {offer.tld: offer for offer in wholesale_tld_offer(tenant=tenant)}
    created, repriced = [], []
    for tld in tlds:
        offer = offers.get(tld.strip().lstrip(".").lower())
        if offer is None:
            raise CatalogueImportError(
                _("The provider does not offer “.%(tld)s”.") % {"tld": tld.lstrip(".")}
            )
        if offer.currency != currency:
            raise CatalogueImportError(
                _("“%(name)s” is priced in %(theirs)s and this site sells in %(ours)s.")
                % {"name": f".{offer.tld}", "theirs": offer.currency, "ours": currency}
            )
        retail = offer.retail(markup)
        prices = {cycle: retail["register"] * years for cycle, years in DOMAIN_CYCLES.items()}
        plan = offer.imported_plan
        if plan is None:
            plan = plan_create(
                product=_domain_product(),
                name=f".{offer.tld}",
                prices=prices,
                upstream_plan_ref=f"{DOMAIN_PLAN_PREFIX}{offer.tld}",
            )
            created.append(plan)
        else:
            for cycle, price in prices.items():
                plan_price_set(plan=plan, cycle=cycle, price=price)
            repriced.append(plan)
        domain_price_set(
            plan=plan,
            transfer=retail["transfer"],
            renew=retail["renew"],
            restore=retail["restore"],
        )
    return ImportResult(created, repriced)


# --- what an imported plan costs the tenant --------------------------------------------------


def wholesale_costs(*, tenant, plan: Plan) -> dict[str, tuple[Money, Money]]:
    """Retail cycle → (price, setup fee) the tenant pays the provider for one period of
    an imported plan, at its price list's prices: the wholesale price of the cycle the
    plan is bought as upstream (``upstream_cycle``, else the same cycle), scaled to the
    retail cycle's length, as the provider renews on its own cycle; a domain plan's
    registration per year times the years. Empty for the tenant's own plans and without
    a price list, as then there is no cost to compare with."""
    if not plan.upstream_plan_ref:
        return {}
    with schema_context(get_public_schema_name()):
        account = ResellerAccount.objects.filter(tenant_id=tenant.pk).first()
        if account is None or account.price_list_id is None:
            return {}
        if plan_is_resold_domain(plan):
            tld = plan.upstream_plan_ref.removeprefix(DOMAIN_PLAN_PREFIX)
            row = WholesaleTldPrice.objects.filter(
                price_list_id=account.price_list_id, tld__tld=tld
            ).first()
            if row is None:
                return {}
            zero = Money(Decimal(0), row.currency)
            return {cycle: (row.register * years, zero) for cycle, years in DOMAIN_CYCLES.items()}
        rows = {
            row.cycle: row
            for row in WholesalePrice.objects.filter(
                price_list_id=account.price_list_id, plan__code=plan.upstream_plan_ref
            )
        }
    costs = {}
    for cycle in CYCLES:
        bought_as = plan.upstream_cycle or cycle
        row = rows.get(bought_as)
        if row is None:
            continue
        if bought_as == cycle:
            costs[cycle] = (row.price, row.setup_fee)
        elif cycle in CYCLE_MONTHS and bought_as in CYCLE_MONTHS:
            periods = Decimal(CYCLE_MONTHS[cycle]) / Decimal(CYCLE_MONTHS[bought_as])
            costs[cycle] = ((row.price * periods).rounded(), row.setup_fee)
    return costs


def wholesale_option_costs(
    *, tenant, option: ConfigurableOption
) -> dict[tuple[str, str], tuple[Money, Money]]:
    """(upstream choice code, cycle) → (price, setup fee) the tenant pays the provider
    for one unit of a resold option's choice, at its price list's prices. Empty for the
    tenant's own options and without a price list."""
    if not option.upstream_option_ref:
        return {}
    with schema_context(get_public_schema_name()):
        account = ResellerAccount.objects.filter(tenant_id=tenant.pk).first()
        if account is None or account.price_list_id is None:
            return {}
        rows = WholesaleOptionPrice.objects.filter(
            price_list_id=account.price_list_id,
            choice__option__code=option.upstream_option_ref,
        ).select_related("choice")
        return {(row.choice.code, row.cycle): (row.price, row.setup_fee) for row in rows}
