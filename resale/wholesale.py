"""The provider's wholesale catalogue: plans and their prices on each price list, the
options sold with them (their choices, what each sets on the server, their prices), price
lists, and a preview of what a reseller's import of a plan and its options will look like.

A change a reseller should hear about bumps the plan's (or option's) version, and every
reseller on a price list carrying it is told after commit; nobody's retail prices change.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils.text import slugify

from billing.cycles import CYCLES
from billing.models import BillingCycle
from billing.money import Money, currency_validate
from provisioning.modules.base import RESOURCE_KEYS
from provisioning.registrars.base import RegistryError, normalize_domain
from resale.catalogue_import import Markup, OptionOffer, WholesaleOffer
from resale.models import (
    PriceList,
    ResellerAccount,
    UpstreamService,
    WholesaleOption,
    WholesaleOptionChoice,
    WholesaleOptionPrice,
    WholesalePlan,
    WholesalePrice,
    WholesaleTld,
    WholesaleTldPrice,
)
from resale.services import ResaleError, wholesale_option_announce, wholesale_plan_announce
from tenants.models import Tenant

PLAN_FIELDS = (
    "code",
    "name",
    "description",
    "product_type",
    "module",
    "package",
    "domain_policy",
    "is_active",
)


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

    @property
    def cycle_label(self) -> str:
        return str(BillingCycle(self.cycle).label)


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


# --- options ---------------------------------------------------------------------------

OPTION_FIELDS = ("code", "name", "kind", "max_quantity", "is_active")


@dataclass(frozen=True)
class ChoiceRow:
    code: str
    name: str
    # Module knobs (provisioning.modules.base.RESOURCE_KEYS) added to the plan's own.
    settings: dict
    sort_order: int = 0


@dataclass(frozen=True)
class OptionPriceRow:
    choice: str  # the choice's code
    price_list: PriceList
    cycle: str
    price: Decimal
    setup_fee: Decimal = Decimal(0)


def _settings_check(settings: dict) -> dict:
    unknown = set(settings) - set(RESOURCE_KEYS)
    if unknown:
        raise ResaleError(f"Unknown module settings: {', '.join(sorted(unknown))}.")
    for key, value in settings.items():
        if key == "addons":
            if not isinstance(value, list) or not all(isinstance(a, str) and a for a in value):
                raise ResaleError("Add-ons are a list of names.")
        elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ResaleError(f"The module setting {key} is a whole number, zero or more.")
    return {key: value for key, value in settings.items() if value}


def _option_snapshot(option: WholesaleOption) -> tuple:
    """Everything a reseller of the option would notice, to tell a change from a save."""
    return (
        tuple(getattr(option, name) for name in OPTION_FIELDS),
        tuple(sorted(option.plans.values_list("pk", flat=True))),
        tuple(
            (c.code, c.name, repr(sorted(c.settings.items())), c.sort_order)
            for c in option.choices.order_by("code")
        ),
        tuple(
            WholesaleOptionPrice.objects.filter(choice__option=option)
            .order_by("choice__code", "price_list_id", "cycle")
            .values_list(
                "choice__code", "price_list_id", "cycle", "price_amount", "setup_fee_amount"
            )
        ),
    )


def _choice_in_use(option: WholesaleOption, code: str) -> bool:
    return (
        UpstreamService.objects.filter(**{f"options__{option.code}__choice": code})
        .exclude(status=UpstreamService.Status.TERMINATED)
        .exists()
    )


def _choices_set(
    option: WholesaleOption, choices: list[ChoiceRow]
) -> dict[str, WholesaleOptionChoice]:
    wanted = {row.code: row for row in choices}
    kept: dict[str, WholesaleOptionChoice] = {}
    for existing in WholesaleOptionChoice.objects.filter(option=option).select_for_update():
        row = wanted.pop(existing.code, None)
        if row is None:
            if _choice_in_use(option, existing.code):
                raise ResaleError(
                    f"The choice “{existing.code}” is in use by resellers' services: withdraw "
                    "the option instead of removing it."
                )
            existing.delete()
            continue
        existing.name, existing.settings, existing.sort_order = (
            row.name,
            row.settings,
            row.sort_order,
        )
        existing.save()
        kept[existing.code] = existing
    for row in wanted.values():
        kept[row.code] = WholesaleOptionChoice.objects.create(
            option=option,
            code=row.code,
            name=row.name,
            settings=row.settings,
            sort_order=row.sort_order,
        )
    return kept


def _option_prices_set(
    choices: dict[str, WholesaleOptionChoice], prices: list[OptionPriceRow]
) -> None:
    wanted = {(row.choice, row.price_list.pk, row.cycle): row for row in prices}
    existing = {
        (price.choice.code, price.price_list_id, price.cycle): price
        for price in WholesaleOptionPrice.objects.filter(
            choice__in=list(choices.values())
        ).select_related("choice")
    }
    for key, price in existing.items():
        if key not in wanted:
            price.delete()
    for key, row in wanted.items():
        currency = row.price_list.currency
        amount = Money(row.price, currency).rounded().amount
        setup = Money(row.setup_fee, currency).rounded().amount
        price = existing.get(key)
        if price is None:
            WholesaleOptionPrice.objects.create(
                choice=choices[row.choice],
                price_list=row.price_list,
                cycle=row.cycle,
                price_amount=amount,
                setup_fee_amount=setup,
                currency=currency,
            )
        elif (price.price_amount, price.setup_fee_amount, price.currency) != (
            amount,
            setup,
            currency,
        ):
            price.price_amount, price.setup_fee_amount, price.currency = amount, setup, currency
            price.save()


def _option_rows_check(
    fields: dict, choices: list[ChoiceRow], prices: list[OptionPriceRow]
) -> None:
    unknown = set(fields) - set(OPTION_FIELDS)
    if unknown:
        raise ResaleError(f"Unknown option fields: {', '.join(sorted(unknown))}.")
    if not choices:
        raise ResaleError("An option needs at least one choice.")
    codes = [row.code for row in choices]
    if any(not code or slugify(code) != code for code in codes):
        raise ResaleError("A choice's code is made of lower-case letters, digits and hyphens.")
    if len(set(codes)) != len(codes):
        raise ResaleError("Two choices have the same code.")
    if fields.get("kind") == WholesaleOption.Kind.QUANTITY and len(choices) != 1:
        raise ResaleError("A quantity option has exactly one choice: the unit it counts.")
    if int(fields.get("max_quantity") or 0) < 1:
        raise ResaleError("The most a client can take is at least 1.")
    for row in choices:
        _settings_check(row.settings)
    keys = [(row.choice, row.price_list.pk, row.cycle) for row in prices]
    if len(set(keys)) != len(keys):
        raise ResaleError("A choice has one price per price list and cycle.")
    for row in prices:
        if row.choice not in codes:
            raise ResaleError(f"No choice “{row.choice}” to price.")
        if row.cycle not in CYCLES:
            raise ResaleError(f"Unknown billing cycle “{row.cycle}”.")
        if row.price < 0 or row.setup_fee < 0:
            raise ResaleError("Prices cannot be negative.")


@transaction.atomic
def wholesale_option_save(
    *,
    option: WholesaleOption | None,
    fields: dict,
    plans: list[WholesalePlan],
    choices: list[ChoiceRow],
    prices: list[OptionPriceRow],
) -> WholesaleOption:
    """Creates or changes an option with the plans it is sold with, its choices (and the
    module settings each adds) and their prices. A change to an option resellers may
    already sell bumps its version and they are told after commit, as for plans; their
    clients' prices stay as they are."""
    choices = [
        ChoiceRow(row.code, row.name, _settings_check(dict(row.settings)), row.sort_order)
        for row in choices
    ]
    _option_rows_check(fields, choices, prices)
    if option is None:
        if WholesaleOption.objects.filter(code=fields.get("code", "")).exists():
            raise ResaleError("Another option already has this code.")
        option = WholesaleOption.objects.create(**fields)
        option.plans.set(plans)
        _option_prices_set(_choices_set(option, choices), prices)
        return option
    option = WholesaleOption.objects.select_for_update().get(pk=option.pk)
    if "code" in fields and fields["code"] != option.code:
        # Resellers' imported options and their services' settings point at the code.
        raise ResaleError("An option's code cannot change once it exists.")
    before = _option_snapshot(option)
    for name, value in fields.items():
        setattr(option, name, value)
    option.save()
    option.plans.set(plans)
    _option_prices_set(_choices_set(option, choices), prices)
    if _option_snapshot(option) != before:
        option.version += 1
        option.save(update_fields=["version", "updated_at"])
        transaction.on_commit(lambda: wholesale_option_announce(option=option), robust=True)
    return option


@dataclass(frozen=True)
class OptionPreviewRow:
    option: str
    choice: str
    cycle: str
    wholesale: Money
    wholesale_setup: Money
    retail: Money
    retail_setup: Money

    @property
    def cycle_label(self) -> str:
        return str(BillingCycle(self.cycle).label)


def wholesale_option_import_preview(
    *, plan: WholesalePlan, price_list: PriceList, markup: Markup | None = None
) -> list[OptionPreviewRow]:
    """The options a reseller on ``price_list`` imports with the plan, marked up as the
    plan is (the import marks options up the same way)."""
    markup = markup or Markup()
    rows = []
    options = plan.options.filter(is_active=True).prefetch_related("choices").order_by("name")
    for option in options:
        offer = OptionOffer(
            option.code, option.name, option.kind, option.max_quantity, price_list.currency
        )
        for choice in option.choices.all():
            prices = {
                price.cycle: (price.price, price.setup_fee)
                for price in WholesaleOptionPrice.objects.filter(
                    choice=choice, price_list=price_list
                ).order_by("cycle")
            }
            if prices:
                offer.choices[choice.code] = (choice.name, prices)
        retail = offer.retail(markup)
        for code, (name, prices) in offer.choices.items():
            for cycle, (price, setup) in prices.items():
                rows.append(
                    OptionPreviewRow(option.name, name, cycle, price, setup, *retail[code][cycle])
                )
    return rows
