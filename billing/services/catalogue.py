"""Building the catalogue: groups, products, plans and their prices, options, taxes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.text import slugify

from audit.services import audit_record
from billing.errors import BillingError
from billing.models import (
    BillingCycle,
    ConfigurableOption,
    ConfigurableOptionChoice,
    ConfigurableOptionPrice,
    DomainPrice,
    Plan,
    PlanPrice,
    Product,
    ProductGroup,
    TaxRule,
)
from billing.money import Money
from billing.selectors import tenant_currency
from billing.services._common import money_input


def _cycle_check(cycle: str) -> str:
    if cycle not in BillingCycle.values:
        raise BillingError(
            f"“{cycle}” is not a billing cycle; use one of {', '.join(BillingCycle.values)}."
        )
    return cycle


def product_group_create(*, name: str, slug: str = "", description: str = "") -> ProductGroup:
    name = name.strip()
    if not name:
        raise BillingError("A product group needs a name.")
    return ProductGroup.objects.create(
        name=name, slug=slug or slugify(name), description=description
    )


def product_create(
    *,
    group: ProductGroup,
    name: str,
    type: str = Product.Type.OTHER,
    slug: str = "",
    description: str = "",
    visibility: str = Product.Visibility.PUBLIC,
    stock: int | None = None,
    tax_category: str = "",
) -> Product:
    name = name.strip()
    if not name:
        raise BillingError("A product needs a name.")
    if type not in Product.Type.values:
        raise BillingError(f"“{type}” is not a product type.")
    if visibility not in Product.Visibility.values:
        raise BillingError(f"“{visibility}” is not a visibility.")
    if stock is not None and stock < 0:
        raise BillingError("Stock cannot be negative.")
    # A domain is a domain registration for VAT; anything else sold online is an
    # electronically supplied service unless the tenant says otherwise.
    tax_category = tax_category or (
        Product.TaxCategory.DOMAIN
        if type == Product.Type.DOMAIN
        else Product.TaxCategory.ELECTRONIC
    )
    if tax_category not in Product.TaxCategory.values:
        raise BillingError(f"“{tax_category}” is not a tax category.")
    return Product.objects.create(
        tax_category=tax_category,
        group=group,
        name=name,
        slug=slug or slugify(name),
        type=type,
        description=description,
        visibility=visibility,
        stock=stock,
    )


@transaction.atomic
def product_tax_category_set(*, product: Product, tax_category: str) -> Product:
    """How the product is taxed from now on (billing.taxes): issued invoices keep the
    category they were issued with; the audit log keeps the change."""
    if tax_category not in Product.TaxCategory.values:
        raise BillingError(f"“{tax_category}” is not a tax category.")
    product = Product.objects.select_for_update().get(pk=product.pk)
    before = product.tax_category
    if before == tax_category:
        return product
    product.tax_category = tax_category
    product.save(update_fields=["tax_category"])
    audit_record(
        action="product.tax_category_changed",
        object_type="product",
        object_id=product.public_id,
        before={"tax_category": before},
        after={"tax_category": tax_category},
    )
    return product


# The longest name or description a translation keeps, as the rows' own columns do.
_TRANSLATION_LIMITS = {"name": 200, "description": 5000}


@transaction.atomic
def catalogue_translation_set(
    *,
    item: Product | Plan | ConfigurableOption,
    language: str,
    name: str = "",
    description: str = "",
    features: list[str] | None = None,
) -> Product | Plan | ConfigurableOption:
    """The name and description of a product, plan or option in one of the site's
    languages (and a plan's features); all empty removes that language, so the row's own
    text shows again."""
    if language not in dict(settings.LANGUAGES):
        raise BillingError(f"“{language}” is not one of the site's languages.")
    texts = {"name": name.strip(), "description": description.strip()}
    if isinstance(item, ConfigurableOption):
        # An option has a name only.
        texts.pop("description")
    for field, text in texts.items():
        if len(text) > _TRANSLATION_LIMITS[field]:
            raise BillingError(f"The {field} is too long.")
    lines = [str(line).strip() for line in features or [] if str(line).strip()]
    if lines and not isinstance(item, Plan):
        raise BillingError("Only a plan has features.")
    if any(len(line) > _TRANSLATION_LIMITS["name"] for line in lines):
        raise BillingError("A feature is too long.")
    row = type(item).objects.select_for_update().get(pk=item.pk)
    before = dict(row.translations or {})
    after = dict(before)
    kept: dict = {field: text for field, text in texts.items() if text}
    if lines:
        kept["features"] = lines
    if kept:
        after[language] = kept
    else:
        after.pop(language, None)
    if after != before:
        row.translations = after
        row.save(update_fields=["translations"])
        audit_record(
            action="catalogue.translation_changed",
            object_type=type(row).__name__.lower(),
            object_id=getattr(row, "public_id", row.pk),
            before={language: before.get(language)},
            after={language: after.get(language)},
        )
    item.translations = row.translations
    return row


@transaction.atomic
def plan_create(
    *,
    product: Product,
    name: str,
    prices: dict[str, Money | Any | tuple[Money | Any, Money | Any]],
    description: str = "",
    features: list[str] | None = None,
    upstream_plan_ref: str = "",
    upstream_cycle: str = "",
) -> Plan:
    """A plan with its prices: ``{"monthly": price}`` or ``{"monthly": (price, setup)}``."""
    name = name.strip()
    if not name:
        raise BillingError("A plan needs a name.")
    if not prices:
        raise BillingError("A plan needs a price for at least one billing cycle.")
    if upstream_cycle:
        _cycle_check(upstream_cycle)
    plan = Plan.objects.create(
        product=product,
        name=name,
        description=description,
        features=features or [],
        upstream_plan_ref=upstream_plan_ref,
        upstream_cycle=upstream_cycle,
    )
    for cycle, value in prices.items():
        price, setup = value if isinstance(value, tuple) else (value, 0)
        plan_price_set(plan=plan, cycle=cycle, price=price, setup_fee=setup)
    return plan


def plan_price_set(
    *, plan: Plan, cycle: str, price: Money | Any, setup_fee: Money | Any = 0
) -> PlanPrice:
    currency = tenant_currency()
    _cycle_check(cycle)
    price = money_input(price, currency=currency, what="The price", allow_zero=True)
    setup = money_input(setup_fee, currency=currency, what="The setup fee", allow_zero=True)
    row, _ = PlanPrice.objects.update_or_create(
        plan=plan,
        cycle=cycle,
        defaults={
            "currency": currency,
            "price_amount": price.amount,
            "setup_fee_amount": setup.amount,
        },
    )
    return row


def configurable_option_price_set(
    *, choice: ConfigurableOptionChoice, cycle: str, price: Money | Any, setup_fee: Money | Any = 0
) -> ConfigurableOptionPrice:
    currency = tenant_currency()
    _cycle_check(cycle)
    price = money_input(price, currency=currency, what="The price", allow_zero=True)
    setup = money_input(setup_fee, currency=currency, what="The setup fee", allow_zero=True)
    row, _ = ConfigurableOptionPrice.objects.update_or_create(
        choice=choice,
        cycle=cycle,
        defaults={
            "currency": currency,
            "price_amount": price.amount,
            "setup_fee_amount": setup.amount,
        },
    )
    return row


@transaction.atomic
def configurable_option_create(
    *,
    name: str,
    choices: dict[str, dict[str, Money | Any | tuple[Money | Any, Money | Any]]],
    plans: list[Plan] = (),
    kind: str = ConfigurableOption.Kind.SELECT,
    max_quantity: int = 1,
    upstream_option_ref: str = "",
    upstream_choice_refs: dict[str, str] | None = None,
) -> ConfigurableOption:
    """An option with its choices and their prices per cycle:
    ``{"2 GB": {"monthly": 5, "annual": 50}}``. A resold option names the provider's
    option (``upstream_option_ref``) and, by choice name, each choice's upstream code."""
    if kind not in ConfigurableOption.Kind.values:
        raise BillingError(f"“{kind}” is not a kind of option.")
    if not choices:
        raise BillingError("An option needs at least one choice.")
    if kind == ConfigurableOption.Kind.QUANTITY and len(choices) != 1:
        raise BillingError("A quantity option has exactly one choice: its unit.")
    if max_quantity < 1:
        raise BillingError("The maximum quantity is at least 1.")
    currency = tenant_currency()
    refs = upstream_choice_refs or {}
    if upstream_option_ref and set(refs) != set(choices):
        raise BillingError("Every choice of a resold option names its upstream choice.")
    option = ConfigurableOption.objects.create(
        name=name, kind=kind, max_quantity=max_quantity, upstream_option_ref=upstream_option_ref
    )
    for position, (choice_name, prices) in enumerate(choices.items()):
        choice = ConfigurableOptionChoice.objects.create(
            option=option,
            name=choice_name,
            sort_order=position,
            upstream_choice_ref=refs.get(choice_name, ""),
        )
        for cycle, value in prices.items():
            _cycle_check(cycle)
            price, setup = value if isinstance(value, tuple) else (value, 0)
            price = money_input(price, currency=currency, what="The price", allow_zero=True)
            setup = money_input(setup, currency=currency, what="The setup fee", allow_zero=True)
            ConfigurableOptionPrice.objects.create(
                choice=choice,
                cycle=cycle,
                currency=currency,
                price_amount=price.amount,
                setup_fee_amount=setup.amount,
            )
    option.plans.set(plans)
    return option


@transaction.atomic
def tax_rule_set(*, country: str, rate: Decimal | int | str, name: str = "VAT") -> TaxRule:
    """The tax for buyers in ``country`` ("" = every country without a rule)."""
    country = (country or "").strip().upper()
    if country and (len(country) != 2 or not country.isalpha()):
        raise BillingError(f"“{country}” is not a two-letter country code.")
    if isinstance(rate, float):
        raise BillingError("Give tax rates as Decimal or text, not float.")
    try:
        rate = Decimal(str(rate))
    except ArithmeticError as exc:
        raise BillingError(f"“{rate}” is not a rate.") from exc
    if not rate.is_finite() or not (0 <= rate < 100) or rate != rate.quantize(Decimal("0.0001")):
        raise BillingError("A tax rate is a percentage from 0 to 99.9999.")
    TaxRule.objects.filter(country=country, is_active=True).update(is_active=False)
    return TaxRule.objects.create(country=country, rate=rate, name=name.strip() or "VAT")


def domain_price_set(
    *, plan: Plan, transfer: Money | Any, renew: Money | Any, restore: Money | Any
) -> DomainPrice:
    """A domain plan's transfer, yearly renewal and restore prices."""
    if not plan.product.requires_domain:
        raise BillingError(f"“{plan}” is not a domain.")
    currency = tenant_currency()
    amounts = {
        name: money_input(value, currency=currency, what=what, allow_zero=True).amount
        for name, value, what in (
            ("transfer_amount", transfer, "The transfer price"),
            ("renew_amount", renew, "The renewal price"),
            ("restore_amount", restore, "The restore price"),
        )
    }
    row, _ = DomainPrice.objects.update_or_create(
        plan=plan, defaults={"currency": currency, **amounts}
    )
    return row
