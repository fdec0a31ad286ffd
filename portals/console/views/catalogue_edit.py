"""Editing the console's catalogue: product groups, the tenant's own products and plans,
imported plans (texts, prices, on sale; a price below the provider's is saved only when
staff confirm it), options and their choices, positions on the storefront, and the
translations of every name and description. Each form calls one billing service; an
error is shown next to its field and nothing is saved."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.errors import BillingError
from billing.models import (
    BillingCycle,
    ConfigurableOption,
    ConfigurableOptionChoice,
    Plan,
    Product,
    ProductGroup,
)
from billing.money import Money
from billing.selectors import product_list, tenant_currency
from billing.services.catalogue import (
    OptionChoiceRow,
    catalogue_item_move,
    catalogue_translations_set,
    configurable_option_save,
    plan_save,
    product_group_save,
    product_save,
)
from core.ids import row_id_or_none, uuid_or_none
from portals.common.access import console_page
from portals.console.forms_catalogue import (
    OptionChoiceRows,
    OptionForm,
    OptionPrices,
    PlanForm,
    PlanPrices,
    ProductForm,
    ProductGroupForm,
    TranslationForm,
)
from resale.catalogue_import import wholesale_costs, wholesale_option_costs


def _service_error(form, exc: BillingError) -> None:
    # The services' messages are msgids: shown in the reader's language where translated.
    form.add_error(None, _(str(exc)))


def _moved(request: HttpRequest, item, *back) -> HttpResponse:
    if request.method == "POST":
        direction = request.POST.get("direction", "")
        if direction in ("up", "down"):
            catalogue_item_move(item=item, direction=direction)
        else:
            messages.error(request, _("Move up or down."))
    return redirect(*back)


# --- groups ----------------------------------------------------------------------------


@console_page(write="admin")
def groups(request: HttpRequest) -> HttpResponse:
    form = ProductGroupForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            group = product_group_save(group=None, **form.cleaned_data)
        except BillingError as exc:
            _service_error(form, exc)
        else:
            messages.success(request, _("The group “%(name)s” is created.") % {"name": group})
            return redirect("console:catalogue-groups")
    return render(
        request,
        "console/catalogue_groups.html",
        {"groups": ProductGroup.objects.order_by("sort_order", "name"), "form": form},
        status=400 if form.is_bound else 200,
    )


@console_page(write="admin")
def group_edit(request: HttpRequest, pk: int) -> HttpResponse:
    group = get_object_or_404(ProductGroup, pk=row_id_or_none(pk))
    initial = {
        "name": group.name,
        "description": group.description,
        "is_visible": group.is_visible,
        "sort_order": group.sort_order,
    }
    form = ProductGroupForm(request.POST if request.method == "POST" else None, initial=initial)
    if form.is_bound and form.is_valid():
        try:
            product_group_save(group=group, **form.cleaned_data)
        except BillingError as exc:
            _service_error(form, exc)
        else:
            messages.success(request, _("The group is saved."))
            return redirect("console:catalogue-groups")
    return render(
        request,
        "console/catalogue_group.html",
        {"group": group, "form": form},
        status=400 if form.is_bound else 200,
    )


@console_page(write="admin")
def group_move(request: HttpRequest, pk: int) -> HttpResponse:
    return _moved(
        request, get_object_or_404(ProductGroup, pk=row_id_or_none(pk)), "console:catalogue-groups"
    )


# --- products --------------------------------------------------------------------------


def _product_page(request: HttpRequest, product: Product | None) -> HttpResponse:
    initial = ProductForm.initial_for(product) if product is not None else {}
    form = ProductForm(request.POST if request.method == "POST" else None, initial=initial)
    if form.is_bound and form.is_valid():
        try:
            saved = product_save(product=product, **form.cleaned_data)
        except BillingError as exc:
            _service_error(form, exc)
        else:
            messages.success(request, _("The product is saved."))
            return redirect("console:catalogue-product", saved.public_id)
    return render(
        request,
        "console/catalogue_product.html",
        {
            "product": product,
            "form": form,
            "plans": product.plans.prefetch_related("prices").order_by("sort_order", "name")
            if product is not None
            else [],
            "no_groups": not ProductGroup.objects.exists(),
        },
        status=400 if form.is_bound else 200,
    )


@console_page(write="admin")
def product_new(request: HttpRequest) -> HttpResponse:
    return _product_page(request, None)


@console_page(write="admin")
def product_edit(request: HttpRequest, public_id) -> HttpResponse:
    return _product_page(request, get_object_or_404(product_list(), public_id=public_id))


@console_page(write="admin")
def product_move(request: HttpRequest, public_id) -> HttpResponse:
    product = get_object_or_404(Product, public_id=public_id)
    return _moved(request, product, "console:catalogue")


# --- plans -----------------------------------------------------------------------------


def _below_cost(
    prices: dict[str, tuple], costs: dict[str, tuple[Money, Money]], label: str = ""
) -> list[dict]:
    """The cycles whose price or setup fee is lower than the provider's, in the same
    currency (a cost in another currency cannot be compared, so it is not)."""
    currency = tenant_currency()
    rows = []
    for cycle, (price, setup) in prices.items():
        cost = costs.get(cycle)
        if cost is None or cost[0].currency != currency:
            continue
        price_money = Money(price, currency).rounded()
        setup_money = Money(setup or 0, currency).rounded()
        if price_money < cost[0] or setup_money < cost[1]:
            cycle_label = str(BillingCycle(cycle).label)
            rows.append(
                {
                    "cycle": f"{label}: {cycle_label}" if label else cycle_label,
                    "price": price_money,
                    "setup_fee": setup_money,
                    "cost": cost[0],
                    "setup_cost": cost[1],
                }
            )
    return rows


BELOW_COST = gettext_lazy(
    "These prices are lower than what the provider charges you. "
    "Tick “Sell below cost” to save them anyway."
)


def _price_initial(plan: Plan | None) -> list[dict]:
    if plan is None:
        return []
    return [
        {
            "cycle": row.cycle,
            "price": row.price.rounded().amount,
            "setup_fee": row.setup_fee.rounded().amount,
        }
        for row in plan.prices.order_by("cycle")
    ]


def _plan_page(request: HttpRequest, product: Product, plan: Plan | None) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    form = PlanForm(data, initial=PlanForm.initial_for(plan) if plan is not None else {})
    prices = PlanPrices(data, initial=_price_initial(plan), prefix="prices")
    costs = wholesale_costs(tenant=request.tenant, plan=plan) if plan is not None else {}
    if not costs:
        # The tenant's own plan costs nothing upstream: there is nothing to confirm.
        del form.fields["sell_below_cost"]
    if product.requires_domain:
        # A domain plan is the domain itself: nothing to choose beside it.
        del form.fields["domain_policy"]
    below: list[dict] = []
    if data is not None and form.is_valid() and prices.is_valid():
        fields = dict(form.cleaned_data)
        confirmed = fields.pop("sell_below_cost", False)
        below = _below_cost(prices.prices(), costs)
        if below and not confirmed:
            form.add_error("sell_below_cost", BELOW_COST)
        else:
            try:
                saved = plan_save(plan=plan, product=product, prices=prices.prices(), **fields)
            except BillingError as exc:
                _service_error(form, exc)
            else:
                messages.success(request, _("The plan is saved."))
                return redirect("console:catalogue-plan", saved.public_id)
    return render(
        request,
        "console/catalogue_plan.html",
        {
            "product": product,
            "plan": plan,
            "form": form,
            "prices": prices,
            "costs": [
                (BillingCycle(cycle).label, cost)
                for cycle, cost in costs.items()
                if cycle in {row["cycle"] for row in _price_initial(plan)}
            ],
            "below": below,
        },
        status=400 if data is not None else 200,
    )


@console_page(write="admin")
def plan_new(request: HttpRequest, public_id) -> HttpResponse:
    return _plan_page(request, get_object_or_404(product_list(), public_id=public_id), None)


@console_page(write="admin")
def plan_edit(request: HttpRequest, public_id) -> HttpResponse:
    plan = get_object_or_404(Plan.objects.select_related("product"), public_id=public_id)
    return _plan_page(request, plan.product, plan)


@console_page(write="admin")
def plan_move(request: HttpRequest, public_id) -> HttpResponse:
    plan = get_object_or_404(Plan.objects.select_related("product"), public_id=public_id)
    return _moved(request, plan, "console:catalogue-product", plan.product.public_id)


# --- options ---------------------------------------------------------------------------


def _option_initial(option: ConfigurableOption | None) -> tuple[dict, list[dict], list[dict]]:
    if option is None:
        return {"kind": ConfigurableOption.Kind.SELECT, "max_quantity": 1}, [], []
    fields = {
        "name": option.name,
        "kind": option.kind,
        "max_quantity": option.max_quantity,
        "sort_order": option.sort_order,
        "plans": list(option.plans.all()),
    }
    choices, prices = [], []
    for choice in option.choices.prefetch_related("prices").order_by("sort_order", "pk"):
        choices.append(
            {"key": str(choice.pk), "name": choice.name, "sort_order": choice.sort_order}
        )
        prices.extend(
            {
                "choice": str(choice.pk),
                "cycle": row.cycle,
                "price": row.price.rounded().amount,
                "setup_fee": row.setup_fee.rounded().amount,
            }
            for row in sorted(choice.prices.all(), key=lambda row: row.cycle)
        )
    return fields, choices, prices


def _choice_keys(data, choices_initial: list[dict], blank_rows: int) -> list[tuple[str, str]]:
    """The choices a price row can name: those saved (by id) and the new ones of this
    page (``new-<row>``): by the name typed, or, before anything is typed, as the blank
    row they will be, so a new choice is named and priced in one save."""
    named = [(row["key"], row["name"]) for row in choices_initial]
    if data is None:
        for index in range(len(choices_initial), len(choices_initial) + blank_rows):
            named.append((f"new-{index}", _("The new choice of row %(row)s") % {"row": index + 1}))
        return named
    total = data.get("choices-TOTAL_FORMS") or ""
    # A count that is not a number is the formset's own error; no rows are named.
    for index in range(min(int(total) if total.isdigit() else 0, 100)):
        key = data.get(f"choices-{index}-key", "").strip()
        name = data.get(f"choices-{index}-name", "").strip()
        if not key and name:
            named.append((f"new-{index}", name))
    return named


def _option_page(request: HttpRequest, option: ConfigurableOption | None) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    resold = bool(option and option.upstream_option_ref)
    initial, choices_initial, prices_initial = _option_initial(option)
    form = OptionForm(data, initial=initial, resold=resold)
    choices = OptionChoiceRows(data, initial=choices_initial, prefix="choices")
    prices = OptionPrices(
        data,
        initial=prices_initial,
        prefix="prices",
        form_kwargs={"choices": _choice_keys(data, choices_initial, 0 if resold else 1)},
    )
    costs = wholesale_option_costs(tenant=request.tenant, option=option) if resold else {}
    if not costs:
        # The tenant's own option costs nothing upstream: there is nothing to confirm.
        del form.fields["sell_below_cost"]
    if resold:
        # Its choices are the provider's: renamed and repriced, never added or removed.
        choices.extra = 0
    below: list[dict] = []
    if data is not None and form.is_valid() and choices.is_valid() and prices.is_valid():
        saved_choices = {str(c.pk): c for c in option.choices.all()} if option else {}
        rows, priced = [], {}
        for price in prices:
            if price.is_kept():
                cleaned = price.cleaned_data
                priced.setdefault(cleaned["choice"], {})[cleaned["cycle"]] = (
                    cleaned["price"],
                    cleaned.get("setup_fee") or 0,
                )
        for index, row in enumerate(choices):
            cleaned = row.cleaned_data
            key = cleaned.get("key") or ""
            if key and key not in saved_choices:
                raise Http404
            if not key and not cleaned.get("name"):
                continue
            ref = key or f"new-{index}"
            rows.append(
                OptionChoiceRow(
                    choice=saved_choices.get(key),
                    name=cleaned.get("name") or "",
                    prices=priced.get(ref, {}),
                    sort_order=cleaned.get("sort_order") or 0,
                    remove=bool(cleaned.get("DELETE")),
                )
            )
        for row in rows:
            if row.choice is not None and not row.remove:
                ref = row.choice.upstream_choice_ref
                choice_costs = {cycle: cost for (code, cycle), cost in costs.items() if code == ref}
                below += _below_cost(row.prices, choice_costs, label=row.name)
        if below and not form.cleaned_data.get("sell_below_cost"):
            form.add_error("sell_below_cost", BELOW_COST)
            return _option_render(request, option, resold, form, choices, prices, below)
        try:
            saved = configurable_option_save(
                option=option,
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
                max_quantity=form.cleaned_data["max_quantity"],
                sort_order=form.cleaned_data.get("sort_order") or 0,
                plans=list(form.cleaned_data["plans"]),
                choices=rows,
            )
        except BillingError as exc:
            _service_error(form, exc)
        else:
            messages.success(request, _("The option is saved."))
            return redirect("console:catalogue-option", saved.pk)
    return _option_render(request, option, resold, form, choices, prices, below)


def _option_render(
    request: HttpRequest,
    option: ConfigurableOption | None,
    resold: bool,
    form: OptionForm,
    choices,
    prices,
    below: list[dict],
) -> HttpResponse:
    return render(
        request,
        "console/catalogue_option.html",
        {
            "option": option,
            "resold": resold,
            "form": form,
            "choices": choices,
            "prices": prices,
            "below": below,
            "currency": tenant_currency(),
        },
        status=400 if request.method == "POST" else 200,
    )


@console_page(write="admin")
def option_new(request: HttpRequest) -> HttpResponse:
    return _option_page(request, None)


@console_page(write="admin")
def option_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _option_page(request, get_object_or_404(ConfigurableOption, pk=row_id_or_none(pk)))


# --- translations ----------------------------------------------------------------------

TRANSLATED = {
    "product": (Product, "public_id"),
    "plan": (Plan, "public_id"),
    "option": (ConfigurableOption, "pk"),
    "choice": (ConfigurableOptionChoice, "pk"),
}


def _languages() -> list[tuple[str, str]]:
    """The languages a translation is written in: every site language but the base
    text's (English)."""
    return [(code, name) for code, name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]


@console_page(write="admin")
def translations(request: HttpRequest, kind: str, key: str) -> HttpResponse:
    """The texts of a product, plan, option or choice in each language, one form per
    language on one page; saved together, or nothing when one is wrong."""
    if kind not in TRANSLATED:
        raise Http404
    model, field = TRANSLATED[kind]
    key_value = row_id_or_none(key) if field == "pk" else uuid_or_none(key)
    if key_value is None:
        raise Http404
    item = get_object_or_404(model, **{field: key_value})
    has_description = kind in ("product", "plan")
    has_features = kind == "plan"
    data = request.POST if request.method == "POST" else None
    forms = []
    for code, language_name in _languages():
        texts = (item.translations or {}).get(code) or {}
        initial = {
            "name": texts.get("name", ""),
            "description": texts.get("description", ""),
            "features": "\n".join(texts.get("features") or []),
        }
        forms.append(
            (
                code,
                language_name,
                TranslationForm(
                    data,
                    initial=initial,
                    prefix=code,
                    has_description=has_description,
                    has_features=has_features,
                ),
            )
        )
    for _code, _name, form in forms:
        # The base text shows through an empty field, as it would on the storefront.
        for text in ("name", "description"):
            if text in form.fields:
                form.fields[text].widget.attrs["placeholder"] = getattr(item, text, "")
    if data is not None and all(form.is_valid() for _code, _name, form in forms):
        try:
            catalogue_translations_set(
                item=item, texts={code: form.cleaned_data for code, _name, form in forms}
            )
        except BillingError as exc:
            _service_error(forms[0][2], exc)
        else:
            messages.success(request, _("The translations are saved."))
            return redirect("console:catalogue-translations", kind, key)
    return render(
        request,
        "console/catalogue_translations.html",
        {"item": item, "kind": kind, "forms": forms, "back": _back_url(kind, item)},
        status=400 if data is not None else 200,
    )


def _back_url(kind: str, item) -> str:
    if kind == "product":
        return reverse("console:catalogue-product", args=[item.public_id])
    if kind == "plan":
        return reverse("console:catalogue-plan", args=[item.public_id])
    if kind == "choice":
        return reverse("console:catalogue-option", args=[item.option_id])
    return reverse("console:catalogue-option", args=[item.pk])
