"""Building the catalogue: groups, products, plans and their prices, options, taxes."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext

from audit.services import audit_record
from billing.errors import BillingError
from billing.models import (
    BillingCycle,
    ConfigurableOption,
    ConfigurableOptionChoice,
    ConfigurableOptionPrice,
    DomainPolicy,
    DomainPrice,
    Plan,
    PlanPrice,
    Product,
    ProductGroup,
    Service,
    ServiceOption,
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


def _changes_apply(row: Any, values: dict[str, Any]) -> tuple[dict, dict]:
    """Sets ``values`` on ``row`` and returns (before, after) of the fields that differ."""
    before, after = {}, {}
    for field, value in values.items():
        if getattr(row, field) != value:
            before[field], after[field] = getattr(row, field), value
            setattr(row, field, value)
    return before, after


def _changes_save(
    row: Any, values: dict[str, Any], *, action: str, object_type: str, object_id: Any
) -> Any:
    """Sets ``values`` on the (locked) ``row``; when any differs, saves those fields and
    records them, before and after, in the audit log. Unchanged values write nothing."""
    before, after = _changes_apply(row, values)
    if after:
        row.save(update_fields=[field.removesuffix("_id") for field in after])
        audit_record(
            action=action, object_type=object_type, object_id=object_id, before=before, after=after
        )
    return row


@transaction.atomic
def product_tax_category_set(*, product: Product, tax_category: str) -> Product:
    """How the product is taxed from now on (billing.taxes): issued invoices keep the
    category they were issued with; the audit log keeps the change."""
    if tax_category not in Product.TaxCategory.values:
        raise BillingError(f"“{tax_category}” is not a tax category.")
    product = Product.objects.select_for_update().get(pk=product.pk)
    return _changes_save(
        product,
        {"tax_category": tax_category},
        action="product.tax_category_changed",
        object_type="product",
        object_id=product.public_id,
    )


# The longest name or description a translation keeps, as the rows' own columns do.
_TRANSLATION_LIMITS = {"name": 200, "description": 5000}


@transaction.atomic
def catalogue_translation_set(
    *,
    item: Product | Plan | ConfigurableOption | ConfigurableOptionChoice,
    language: str,
    name: str = "",
    description: str = "",
    features: list[str] | None = None,
) -> Product | Plan | ConfigurableOption | ConfigurableOptionChoice:
    """The name and description of a product, plan, option or option choice in one of
    the site's languages (and a plan's features); all empty removes that language, so the
    row's own text shows again."""
    if language not in dict(settings.LANGUAGES):
        raise BillingError(f"“{language}” is not one of the site's languages.")
    texts = {"name": name.strip(), "description": description.strip()}
    if isinstance(item, ConfigurableOption | ConfigurableOptionChoice):
        # An option and its choices have a name only.
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
def catalogue_translations_set(
    *,
    item: Product | Plan | ConfigurableOption | ConfigurableOptionChoice,
    texts: dict[str, dict[str, Any]],
) -> Product | Plan | ConfigurableOption | ConfigurableOptionChoice:
    """Several languages' texts of one row at once (language → name, description,
    features), all saved or none."""
    for language, fields in texts.items():
        item = catalogue_translation_set(item=item, language=language, **fields)
    return item


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
    domain_policy: str = DomainPolicy.NONE,
) -> Plan:
    """A plan with its prices: ``{"monthly": price}`` or ``{"monthly": (price, setup)}``."""
    name = name.strip()
    if not name:
        raise BillingError("A plan needs a name.")
    if not prices:
        raise BillingError("A plan needs a price for at least one billing cycle.")
    if upstream_cycle:
        _cycle_check(upstream_cycle)
    _domain_policy_check(product, domain_policy)
    plan = Plan.objects.create(
        product=product,
        name=name,
        description=description,
        features=features or [],
        upstream_plan_ref=upstream_plan_ref,
        upstream_cycle=upstream_cycle,
        domain_policy=domain_policy,
    )
    for cycle, value in prices.items():
        price, setup = value if isinstance(value, tuple) else (value, 0)
        plan_price_set(plan=plan, cycle=cycle, price=price, setup_fee=setup)
    return plan


def _domain_policy_check(product: Product, domain_policy: str) -> None:
    if domain_policy not in DomainPolicy.values:
        raise BillingError(f"“{domain_policy}” is not a domain policy.")
    if product.requires_domain and domain_policy != DomainPolicy.NONE:
        # A domain plan is the domain itself: there is nothing to choose beside it.
        raise BillingError("A domain plan does not ask for another domain.")


@transaction.atomic
def plan_domain_policy_set(*, plan: Plan, domain_policy: str) -> Plan:
    """Whether ordering the plan on the storefront asks for the hosting's domain: a
    registration or transfer (``require``), or also a domain the client already owns
    (``offer``). Carts already holding the plan are checked against it at checkout."""
    plan = Plan.objects.select_for_update().select_related("product").get(pk=plan.pk)
    _domain_policy_check(plan.product, domain_policy)
    return _changes_save(
        plan,
        {"domain_policy": domain_policy},
        action="plan.domain_policy_changed",
        object_type="plan",
        object_id=plan.public_id,
    )


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


# --- editing the catalogue (the console) ------------------------------------------------
#
# Each save takes the whole row as the form shows it, changes only what differs and
# writes one audit entry naming the fields that changed, so the log reads like a diff.


def _unique_slug(model: type, text: str, *, exclude_pk: int | None = None) -> str:
    """A slug free in the model's table: the name's, with a number added when taken."""
    base = (slugify(text) or "item")[:90]
    slug, number = base, 2
    taken = model.objects.exclude(pk=exclude_pk) if exclude_pk else model.objects.all()
    while taken.filter(slug=slug).exists():
        slug, number = f"{base}-{number}", number + 1
    return slug


def _next_position(queryset: Any) -> int:
    last = queryset.order_by("-sort_order").values_list("sort_order", flat=True).first()
    return 0 if last is None else last + 1


@transaction.atomic
def product_group_save(
    *,
    group: ProductGroup | None,
    name: str,
    description: str = "",
    is_visible: bool = True,
    sort_order: int | None = None,
) -> ProductGroup:
    """Creates a product group (``group=None``, placed last) or renames, describes, hides
    or moves one. A hidden group hides its products from the storefront, nothing else."""
    name = name.strip()
    if not name:
        raise BillingError(gettext("A product group needs a name."))
    if sort_order is not None and sort_order < 0:
        raise BillingError(gettext("The position cannot be negative."))
    if group is None:
        group = ProductGroup.objects.create(
            name=name,
            slug=_unique_slug(ProductGroup, name),
            description=description.strip(),
            is_visible=is_visible,
            sort_order=_next_position(ProductGroup.objects) if sort_order is None else sort_order,
        )
        audit_record(
            action="catalogue.group_created",
            object_type="productgroup",
            object_id=group.pk,
            after={"name": group.name, "is_visible": group.is_visible},
        )
        return group
    group = ProductGroup.objects.select_for_update().get(pk=group.pk)
    values = {"name": name, "description": description.strip(), "is_visible": is_visible}
    if sort_order is not None:
        values["sort_order"] = sort_order
    return _changes_save(
        group,
        values,
        action="catalogue.group_changed",
        object_type="productgroup",
        object_id=group.pk,
    )


@transaction.atomic
def catalogue_item_move(
    *, item: ProductGroup | Product | Plan, direction: str
) -> ProductGroup | Product | Plan:
    """Moves a group, a product within its group or a plan within its product one place
    up or down on the storefront. The siblings are renumbered 0, 1, 2... first, so rows
    that shared a position (every imported row starts at 0) move predictably."""
    if direction not in ("up", "down"):
        raise BillingError(gettext("Move up or down."))
    model = type(item)
    siblings = model.objects.select_for_update()
    if isinstance(item, Product):
        siblings = siblings.filter(group_id=item.group_id)
    elif isinstance(item, Plan):
        siblings = siblings.filter(product_id=item.product_id)
    rows = list(siblings.order_by("sort_order", "name", "pk"))
    index = next(i for i, row in enumerate(rows) if row.pk == item.pk)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(rows):
        rows[index], rows[other] = rows[other], rows[index]
    for position, row in enumerate(rows):
        if row.sort_order != position:
            model.objects.filter(pk=row.pk).update(sort_order=position)
    audit_record(
        action="catalogue.moved",
        object_type=model.__name__.lower(),
        object_id=getattr(item, "public_id", item.pk),
        before={"sort_order": item.sort_order},
        after={"sort_order": next(i for i, row in enumerate(rows) if row.pk == item.pk)},
    )
    return model.objects.get(pk=item.pk)


@transaction.atomic
def product_save(
    *,
    product: Product | None,
    group: ProductGroup,
    name: str,
    type: str = Product.Type.OTHER,
    description: str = "",
    tax_category: str = "",
    visibility: str = Product.Visibility.PUBLIC,
    stock: int | None = None,
    sort_order: int | None = None,
    is_active: bool = True,
) -> Product:
    """Creates the tenant's own product (``product=None``) or edits one, imported or
    own. Taking a product off sale (``is_active=False``) hides it from the storefront;
    the services already sold run on untouched."""
    if product is None:
        created = product_create(
            group=group,
            name=name,
            type=type,
            slug=_unique_slug(Product, name),
            description=description.strip(),
            visibility=visibility,
            stock=stock,
            tax_category=tax_category,
        )
        created.sort_order = (
            _next_position(Product.objects.filter(group=group))
            if sort_order is None
            else sort_order
        )
        created.is_active = is_active
        created.save(update_fields=["sort_order", "is_active"])
        audit_record(
            action="catalogue.product_created",
            object_type="product",
            object_id=created.public_id,
            after={"name": created.name, "group": group.name, "type": created.type},
        )
        return created
    name = name.strip()
    if not name:
        raise BillingError(gettext("A product needs a name."))
    if type not in Product.Type.values:
        raise BillingError(f"“{type}” is not a product type.")
    if visibility not in Product.Visibility.values:
        raise BillingError(f"“{visibility}” is not a visibility.")
    if tax_category not in Product.TaxCategory.values:
        raise BillingError(f"“{tax_category}” is not a tax category.")
    if stock is not None and stock < 0:
        raise BillingError(gettext("Stock cannot be negative."))
    if sort_order is not None and sort_order < 0:
        raise BillingError(gettext("The position cannot be negative."))
    product = Product.objects.select_for_update().get(pk=product.pk)
    values = {
        "group_id": group.pk,
        "name": name,
        "type": type,
        "description": description.strip(),
        "tax_category": tax_category,
        "visibility": visibility,
        "stock": stock,
        "is_active": is_active,
    }
    if sort_order is not None:
        values["sort_order"] = sort_order
    return _changes_save(
        product,
        values,
        action="catalogue.product_changed",
        object_type="product",
        object_id=product.public_id,
    )


_LIVE = (Service.Status.PENDING, Service.Status.ACTIVE, Service.Status.SUSPENDED)


def _prices_text(rows: Any) -> dict[str, list[str]]:
    """Prices as the audit log keeps them: cycle → [price, setup fee], exact strings."""
    return {
        row.cycle: [str(row.price_amount), str(row.setup_fee_amount)]
        for row in rows.order_by("cycle")
    }


@transaction.atomic
def plan_save(
    *,
    plan: Plan | None,
    product: Product,
    name: str,
    prices: dict[str, tuple[Money | Any, Money | Any]],
    description: str = "",
    features: list[str] | None = None,
    is_active: bool = True,
    sort_order: int | None = None,
    domain_policy: str | None = None,
) -> Plan:
    """Creates the tenant's own plan (``plan=None``: no upstream plan, so a sale of it is
    never sent upstream) or edits a plan, imported or own: its texts, its prices (the
    cycles not in ``prices`` are no longer sold) and whether it is on sale. An imported
    plan's upstream plan and cycle are never touched here. A cycle that live services
    renew on keeps a price, as their renewals read it. ``domain_policy`` (None: as it
    is) says whether the storefront asks for the hosting's domain."""
    name = name.strip()
    if not name:
        raise BillingError(gettext("A plan needs a name."))
    if not prices:
        raise BillingError(gettext("A plan needs a price for at least one billing cycle."))
    for cycle in prices:
        _cycle_check(cycle)
    if sort_order is not None and sort_order < 0:
        raise BillingError(gettext("The position cannot be negative."))
    lines = [str(line).strip() for line in features or [] if str(line).strip()]
    if plan is None:
        plan = plan_create(
            product=product,
            name=name,
            description=description.strip(),
            features=lines,
            prices=prices,
            domain_policy=domain_policy or DomainPolicy.NONE,
        )
        plan.is_active = is_active
        plan.sort_order = (
            _next_position(Plan.objects.filter(product=product).exclude(pk=plan.pk))
            if sort_order is None
            else sort_order
        )
        plan.save(update_fields=["is_active", "sort_order"])
        audit_record(
            action="catalogue.plan_created",
            object_type="plan",
            object_id=plan.public_id,
            after={"name": plan.name, "product": product.name, "prices": _prices_text(plan.prices)},
        )
        return plan
    plan = Plan.objects.select_for_update().get(pk=plan.pk)
    dropped = set(plan.prices.values_list("cycle", flat=True)) - set(prices)
    in_use = sorted(
        Service.objects.filter(plan=plan, billing_cycle__in=dropped, status__in=_LIVE)
        .values_list("billing_cycle", flat=True)
        .distinct()
    )
    if in_use:
        raise BillingError(
            gettext("Services renew on this plan %(cycles)s: keep that price.")
            % {"cycles": ", ".join(str(BillingCycle(c).label).lower() for c in in_use)}
        )
    prices_before = _prices_text(plan.prices)
    values = {
        "name": name,
        "description": description.strip(),
        "features": lines,
        "is_active": is_active,
    }
    if sort_order is not None:
        values["sort_order"] = sort_order
    before, after = _changes_apply(plan, values)
    if after:
        plan.save(update_fields=list(after))
    plan.prices.filter(cycle__in=dropped).delete()
    for cycle, (price, setup) in prices.items():
        plan_price_set(plan=plan, cycle=cycle, price=price, setup_fee=setup)
    prices_after = _prices_text(plan.prices)
    if prices_after != prices_before:
        before["prices"], after["prices"] = prices_before, prices_after
    if after:
        audit_record(
            action="catalogue.plan_changed",
            object_type="plan",
            object_id=plan.public_id,
            before=before,
            after=after,
        )
    if domain_policy is not None:
        plan = plan_domain_policy_set(plan=plan, domain_policy=domain_policy)
    return plan


@dataclass(frozen=True)
class OptionChoiceRow:
    """One choice of an option as the console's form gives it: an existing choice (or
    None for a new one), its name, position and prices per cycle, or ``remove``."""

    choice: ConfigurableOptionChoice | None
    name: str
    prices: dict[str, tuple[Money | Any, Money | Any]]
    sort_order: int = 0
    remove: bool = False


@transaction.atomic
def configurable_option_save(
    *,
    option: ConfigurableOption | None,
    name: str,
    choices: list[OptionChoiceRow],
    plans: list[Plan],
    kind: str = ConfigurableOption.Kind.SELECT,
    max_quantity: int = 1,
    sort_order: int = 0,
) -> ConfigurableOption:
    """Creates the tenant's own option (kept local, never sent upstream) or edits one:
    names, choice names and prices, and the plans it is sold with. A resold option keeps
    what the provider defines: its kind, its limit and its set of choices (each tied to
    an upstream choice), and it is sold only with resold plans, as only the provider can
    apply it. A choice live services hold, or a cycle they renew on, stays."""
    name = name.strip()
    if not name:
        raise BillingError(gettext("An option needs a name."))
    if len(name) > 200:
        raise BillingError(gettext("The name is too long."))
    kept = [row for row in choices if not row.remove]
    if not kept:
        raise BillingError(gettext("An option needs at least one choice."))
    for row in kept:
        if not row.name.strip():
            raise BillingError(gettext("Every choice needs a name."))
        if not row.prices:
            raise BillingError(
                gettext("The choice “%(choice)s” needs a price for a cycle.")
                % {"choice": row.name.strip()}
            )
        for cycle in row.prices:
            _cycle_check(cycle)
    if option is None:
        if any(row.choice is not None for row in choices):
            raise BillingError(gettext("A new option has only new choices."))
        option = configurable_option_create(
            name=name,
            kind=kind,
            max_quantity=max_quantity,
            choices={row.name.strip(): row.prices for row in kept},
            plans=plans,
        )
        for row, choice in zip(kept, option.choices.order_by("sort_order"), strict=True):
            choice.sort_order = row.sort_order
            choice.save(update_fields=["sort_order"])
        option.sort_order = sort_order
        option.save(update_fields=["sort_order"])
        audit_record(
            action="catalogue.option_created",
            object_type="configurableoption",
            object_id=option.pk,
            after={"name": option.name, "choices": [row.name for row in kept]},
        )
        return option
    option = ConfigurableOption.objects.select_for_update().get(pk=option.pk)
    resold = bool(option.upstream_option_ref)
    own = {choice.pk: choice for choice in option.choices.all()}
    if any(row.choice is not None and row.choice.pk not in own for row in choices):
        raise BillingError(gettext("A choice belongs to another option."))
    if resold:
        kind, max_quantity = option.kind, option.max_quantity
        if any(row.choice is None or row.remove for row in choices):
            raise BillingError(
                gettext(
                    "The choices of a resold option are the provider's: rename and reprice them."
                )
            )
        if any(plan.upstream_plan_ref == "" for plan in plans):
            raise BillingError(
                gettext("A resold option is sold only with plans bought from the provider.")
            )
    if kind not in ConfigurableOption.Kind.values:
        raise BillingError(f"“{kind}” is not a kind of option.")
    if kind == ConfigurableOption.Kind.QUANTITY and len(kept) != 1:
        raise BillingError(gettext("A quantity option has exactly one choice: its unit."))
    if max_quantity < 1:
        raise BillingError(gettext("The maximum quantity is at least 1."))
    held = Service.objects.filter(status__in=_LIVE, options__option=option)
    for row in choices:
        if row.remove and row.choice is not None:
            # Every service that ever had it keeps naming it, live or not.
            if ServiceOption.objects.filter(choice=row.choice).exists():
                raise BillingError(
                    gettext("Services have the choice “%(choice)s”: it cannot be removed.")
                    % {"choice": row.choice.name}
                )
        elif row.choice is not None:
            dropped = set(row.choice.prices.values_list("cycle", flat=True)) - set(row.prices)
            if held.filter(options__choice=row.choice, billing_cycle__in=dropped).exists():
                raise BillingError(
                    gettext("Services renew with the choice “%(choice)s”: keep its prices.")
                    % {"choice": row.choice.name}
                )
    before = {
        "name": option.name,
        "kind": option.kind,
        "max_quantity": option.max_quantity,
        "choices": _choices_text(option),
        "plans": sorted(str(p.public_id) for p in option.plans.all()),
    }
    option.name, option.kind, option.max_quantity = name, kind, max_quantity
    option.sort_order = sort_order
    option.save(update_fields=["name", "kind", "max_quantity", "sort_order"])
    for row in choices:
        if row.remove:
            if row.choice is not None:
                row.choice.delete()
            continue
        choice = row.choice or ConfigurableOptionChoice(option=option)
        choice.name, choice.sort_order = row.name.strip(), row.sort_order
        choice.save()
        choice.prices.exclude(cycle__in=list(row.prices)).delete()
        for cycle, (price, setup) in row.prices.items():
            configurable_option_price_set(choice=choice, cycle=cycle, price=price, setup_fee=setup)
    option.plans.set(plans)
    after = {
        "name": option.name,
        "kind": option.kind,
        "max_quantity": option.max_quantity,
        "choices": _choices_text(option),
        "plans": sorted(str(p.public_id) for p in plans),
    }
    changed = [field for field in after if after[field] != before[field]]
    if changed:
        audit_record(
            action="catalogue.option_changed",
            object_type="configurableoption",
            object_id=option.pk,
            before={field: before[field] for field in changed},
            after={field: after[field] for field in changed},
        )
    return option


def _choices_text(option: ConfigurableOption) -> dict[str, dict[str, list[str]]]:
    return {
        choice.name: _prices_text(choice.prices)
        for choice in option.choices.order_by("sort_order", "pk")
    }
