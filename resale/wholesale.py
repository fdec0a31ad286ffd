"""The provider's wholesale catalogue: plans and their prices on each price list, price
lists, and a preview of what a reseller's import of a plan will look like.

A change a reseller should hear about bumps the plan's version, and every reseller on a
price list carrying the plan is told after commit; nobody's retail prices change.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from billing.money import Money, currency_validate
from provisioning.registrars.base import RegistryError, normalize_domain
from resale.catalogue_import import Markup, WholesaleOffer
from resale.models import (
    PriceList,
    ResellerAccount,
    WholesalePlan,
    WholesalePrice,
    WholesaleTld,
    WholesaleTldPrice,
)
from resale.services import ResaleError, wholesale_plan_announce
from tenants.models import Tenant

PLAN_FIELDS = ("code", "name", "description", "product_type", "module", "package", "is_active")


@dataclass(frozen=True)
class PriceRow:
    price_list: PriceList
    cycle: str
    price: Decimal
    setup_fee: Decimal = Decimal(0)


def _prices_set(plan: WholesalePlan, prices: list[PriceRow]) -> bool:
    """Makes the plan's prices exactly ``prices``; returns whether anything changed."""
    wanted = {(row.price_list.pk, row.cycle): row for row in prices}
    if len(wanted) != len(prices):
        raise ResaleError("A plan has one price per price list and cycle.")
    changed = False
    for existing in WholesalePrice.objects.filter(plan=plan).select_for_update():
        row = wanted.pop((existing.price_list_id, existing.cycle), None)
        if row is None:
            existing.delete()
            changed = True
            continue
        price = Money(row.price, row.price_list.currency).rounded().amount
        setup = Money(row.setup_fee, row.price_list.currency).rounded().amount
        if (existing.price_amount, existing.setup_fee_amount, existing.currency) != (
            price,
            setup,
            row.price_list.currency,
        ):
            existing.price_amount, existing.setup_fee_amount = price, setup
            existing.currency = row.price_list.currency
            existing.save()
            changed = True
    for row in wanted.values():
        if row.price < 0 or row.setup_fee < 0:
            raise ResaleError("Prices cannot be negative.")
        WholesalePrice.objects.create(
            plan=plan,
            price_list=row.price_list,
            cycle=row.cycle,
            price_amount=Money(row.price, row.price_list.currency).rounded().amount,
            setup_fee_amount=Money(row.setup_fee, row.price_list.currency).rounded().amount,
            currency=row.price_list.currency,
        )
        changed = True
    return changed


@transaction.atomic
def wholesale_plan_save(
    *, plan: WholesalePlan | None, fields: dict, prices: list[PriceRow]
) -> WholesalePlan:
    """Creates or changes a plan with its prices. For a plan resellers may already sell,
    any change bumps its version and the resellers concerned are told after commit."""
    unknown = set(fields) - set(PLAN_FIELDS)
    if unknown:
        raise ResaleError(f"Unknown plan fields: {', '.join(sorted(unknown))}.")
    if any(row.price < 0 or row.setup_fee < 0 for row in prices):
        raise ResaleError("Prices cannot be negative.")
    is_new = plan is None
    if is_new:
        if WholesalePlan.objects.filter(code=fields.get("code", "")).exists():
            raise ResaleError("Another plan already has this code.")
        plan = WholesalePlan.objects.create(**fields)
        _prices_set(plan, prices)
        return plan
    plan = WholesalePlan.objects.select_for_update().get(pk=plan.pk)
    fields_changed = any(getattr(plan, name) != value for name, value in fields.items())
    if "code" in fields and fields["code"] != plan.code:
        # Resellers' imported plans and the panels' mappings point at the code.
        raise ResaleError("A plan's code cannot change once it exists.")
    for name, value in fields.items():
        setattr(plan, name, value)
    prices_changed = _prices_set(plan, prices)
    if fields_changed or prices_changed:
        plan.version += 1
        plan.save()
        transaction.on_commit(lambda: wholesale_plan_announce(plan=plan), robust=True)
    return plan


@transaction.atomic
def price_list_save(
    *,
    price_list: PriceList | None,
    name: str,
    currency: str,
    is_default: bool,
    is_cost: bool | None = None,
) -> PriceList:
    """One default list per currency: making a list the default unmakes the other.
    ``is_cost`` marks the provider's cost (None leaves it as it is); a cost list the
    retail brand buys on stays one."""
    name = name.strip()
    if not name:
        raise ResaleError("A price list needs a name.")
    try:
        currency = currency_validate(currency)
    except ValueError as exc:
        raise ResaleError(str(exc)) from exc
    if PriceList.objects.filter(name=name).exclude(pk=getattr(price_list, "pk", None)).exists():
        raise ResaleError("Another price list already has this name.")
    if price_list is None:
        price_list = PriceList(name=name, currency=currency)
    else:
        price_list = PriceList.objects.select_for_update().get(pk=price_list.pk)
        in_use = price_list.prices.exists() or price_list.accounts.exists()
        if currency != price_list.currency and in_use:
            raise ResaleError("The currency of a list with prices or resellers cannot change.")
        price_list.name, price_list.currency = name, currency
    if is_default:
        PriceList.objects.filter(currency=currency, is_default=True).exclude(
            pk=price_list.pk
        ).update(is_default=False)
    brand_buys_here = bool(price_list.pk) and (
        price_list.accounts.filter(tenant__kind=Tenant.Kind.RETAIL).exists()
    )
    if is_cost is False and price_list.is_cost and brand_buys_here:
        raise ResaleError(
            "The retail brand buys on this list at cost; move it to another cost list first."
        )
    if is_cost is not None:
        price_list.is_cost = is_cost
    price_list.is_default = is_default
    price_list.save()
    return price_list


@dataclass(frozen=True)
class PreviewRow:
    cycle: str
    wholesale: Money
    wholesale_setup: Money
    retail: Money
    retail_setup: Money


def wholesale_import_preview(
    *, plan: WholesalePlan, price_list: PriceList, markup: Markup | None = None
) -> list[PreviewRow]:
    """The prices a reseller on ``price_list`` gets in its catalogue when it imports the
    plan with the import's default markup."""
    markup = markup or Markup()
    offer = WholesaleOffer(
        plan.code, plan.name, plan.description, plan.product_type, price_list.currency
    )
    for row in WholesalePrice.objects.filter(plan=plan, price_list=price_list).order_by("cycle"):
        offer.prices[row.cycle] = (row.price, row.setup_fee)
    retail = offer.retail(markup)
    return [
        PreviewRow(cycle, price, setup, *retail[cycle])
        for cycle, (price, setup) in offer.prices.items()
    ]


@dataclass(frozen=True)
class TldPriceRow:
    """Per year on one price list; restore is a one-off fee."""

    price_list: PriceList
    register: Decimal
    transfer: Decimal
    renew: Decimal
    restore: Decimal


@transaction.atomic
def wholesale_tld_save(
    *, tld: str, prices: list[TldPriceRow], is_active: bool = True
) -> WholesaleTld:
    """Creates or changes a TLD with its prices. A change resellers should hear about
    bumps its version and they are told after commit; their own prices stay as they
    are until they import again."""
    try:
        name = normalize_domain(f"x.{tld.strip().lstrip('.')}").split(".", 1)[1]
    except RegistryError as exc:
        raise ResaleError(f"“{tld}” is not a TLD.") from exc
    if len({row.price_list.pk for row in prices}) != len(prices):
        raise ResaleError("A TLD has one price per price list.")
    row_tld, created = WholesaleTld.objects.select_for_update().get_or_create(
        tld=name, defaults={"is_active": is_active}
    )
    changed = not created and row_tld.is_active != is_active
    row_tld.is_active = is_active
    wanted = {row.price_list.pk: row for row in prices}
    for existing in WholesaleTldPrice.objects.filter(tld=row_tld).select_for_update():
        row = wanted.pop(existing.price_list_id, None)
        if row is None:
            existing.delete()
            changed = True
            continue
        amounts = _tld_amounts(row)
        if any(getattr(existing, f"{k}_amount") != v for k, v in amounts.items()):
            for key, value in amounts.items():
                setattr(existing, f"{key}_amount", value)
            existing.currency = row.price_list.currency
            existing.save()
            changed = True
    for row in wanted.values():
        WholesaleTldPrice.objects.create(
            tld=row_tld,
            price_list=row.price_list,
            currency=row.price_list.currency,
            **{f"{k}_amount": v for k, v in _tld_amounts(row).items()},
        )
        changed = True
    if changed and not created:
        row_tld.version += 1
        transaction.on_commit(lambda: wholesale_tld_announce(tld=row_tld), robust=True)
    row_tld.save()
    return row_tld


def _tld_amounts(row: TldPriceRow) -> dict[str, Decimal]:
    amounts = {
        "register": row.register,
        "transfer": row.transfer,
        "renew": row.renew,
        "restore": row.restore,
    }
    if any(value < 0 for value in amounts.values()):
        raise ResaleError("Prices cannot be negative.")
    return {k: Money(v, row.price_list.currency).rounded().amount for k, v in amounts.items()}


def wholesale_tld_announce(*, tld: WholesaleTld) -> int:
    """Tells every reseller whose price list prices the TLD that it changed (or was
    withdrawn): nothing is repriced for them."""
    # resale.tasks imports this module's neighbours; the task is looked up at call time.
    from resale.tasks import in_schema, wholesale_tld_changed_task

    schemas = set(
        ResellerAccount.objects.filter(price_list__tld_prices__tld=tld).values_list(
            "tenant__schema_name", flat=True
        )
    )
    for schema in schemas:
        in_schema(schema, wholesale_tld_changed_task, tld.tld, tld.is_active, tld.version)
    return len(schemas)
