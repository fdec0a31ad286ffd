"""The wholesale catalogue: plans with their prices on each price list, the options sold
with a plan (edited from the plan's page), price lists, and the preview of a reseller's
import."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from portals.provider.access import CATALOGUE, provider_can, provider_page
from portals.provider.forms import (
    SETTING_LABELS,
    OptionChoiceForm,
    OptionChoiceFormSet,
    OptionPriceFormSet,
    PriceListForm,
    PriceRowFormSet,
    WholesaleOptionForm,
    WholesalePlanForm,
)
from resale.models import PriceList, WholesaleOption, WholesaleOptionPrice, WholesalePlan
from resale.services import ResaleError
from resale.wholesale import (
    ChoiceRow,
    OptionPriceRow,
    PriceRow,
    price_list_save,
    wholesale_import_preview,
    wholesale_option_import_preview,
    wholesale_option_save,
    wholesale_plan_save,
)


@provider_page()
def plans(request: HttpRequest) -> HttpResponse:
    rows = WholesalePlan.objects.prefetch_related("prices__price_list").order_by(
        "product_type", "name"
    )
    return render(
        request,
        "provider/plans.html",
        {"plans": rows, "can_edit": provider_can(request.user, CATALOGUE)},
    )


def _price_initial(plan: WholesalePlan | None) -> list[dict]:
    if plan is None:
        return []
    return [
        {
            "price_list": price.price_list,
            "cycle": price.cycle,
            # In the currency's precision, as the amounts are shown everywhere else.
            "price": price.price.rounded().amount,
            "setup_fee": price.setup_fee.rounded().amount,
        }
        for price in plan.prices.select_related("price_list").order_by("price_list__name", "cycle")
    ]


def _settings_text(settings: dict) -> str:
    """What a choice sets on the server, in the reader's words."""
    parts = [
        f"{label}: {settings[key]}" for key, label in SETTING_LABELS.items() if key in settings
    ]
    if settings.get("addons"):
        parts.append(f"{_('Add-ons')}: {', '.join(settings['addons'])}")
    return ", ".join(parts)


def _plan_form(request: HttpRequest, plan: WholesalePlan | None) -> HttpResponse:
    form = WholesalePlanForm(request.POST or None, instance=plan)
    prices = PriceRowFormSet(request.POST or None, initial=_price_initial(plan), prefix="prices")
    if request.method == "POST" and form.is_valid() and prices.is_valid():
        rows = [
            PriceRow(
                price_list=row["price_list"],
                cycle=row["cycle"],
                price=row["price"],
                setup_fee=row.get("setup_fee") or 0,
            )
            for row in prices.cleaned_data
            if row.get("price_list") and not row.get("DELETE")
        ]
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        if plan is not None:
            fields.pop("code")
        try:
            saved = wholesale_plan_save(plan=plan, fields=fields, prices=rows)
        except ResaleError as exc:
            form.add_error(None, _(exc.message))
        else:
            messages.success(request, _("The plan is saved."))
            return redirect("provider:plan", saved.pk)
    previews = []
    options = []
    if plan is not None:
        for price_list in PriceList.objects.filter(prices__plan=plan).distinct():
            previews.append(
                (
                    price_list,
                    wholesale_import_preview(plan=plan, price_list=price_list),
                    wholesale_option_import_preview(plan=plan, price_list=price_list),
                )
            )
        options = [
            (option, [(c, _settings_text(c.settings or {})) for c in option.choices.all()])
            for option in plan.options.prefetch_related("choices__prices__price_list").order_by(
                "name"
            )
        ]
    return render(
        request,
        "provider/plan.html",
        {
            "plan": plan,
            "form": form,
            "prices": prices,
            "previews": previews,
            "options": options,
            "can_edit": provider_can(request.user, CATALOGUE),
        },
    )


@provider_page(write=CATALOGUE)
def plan_new(request: HttpRequest) -> HttpResponse:
    return _plan_form(request, None)


@provider_page(write=CATALOGUE)
def plan(request: HttpRequest, pk: int) -> HttpResponse:
    return _plan_form(request, get_object_or_404(WholesalePlan, pk=pk))


def _option_initial(option: WholesaleOption | None) -> tuple[list[dict], list[dict]]:
    if option is None:
        return [], []
    choices = [
        {
            "code": choice.code,
            "name": choice.name,
            "sort_order": choice.sort_order,
            **OptionChoiceForm.initial_for(choice.settings or {}),
        }
        for choice in option.choices.order_by("sort_order", "name")
    ]
    prices = [
        {
            "choice": price.choice.code,
            "price_list": price.price_list,
            "cycle": price.cycle,
            "price": price.price.rounded().amount,
            "setup_fee": price.setup_fee.rounded().amount,
        }
        for price in WholesaleOptionPrice.objects.filter(choice__option=option)
        .select_related("choice", "price_list")
        .order_by("choice__sort_order", "choice__name", "price_list__name", "cycle")
    ]
    return choices, prices


def _option_form(
    request: HttpRequest, plan: WholesalePlan, option: WholesaleOption | None
) -> HttpResponse:
    data = request.POST or None
    choices_initial, prices_initial = _option_initial(option)
    # A new option starts sold with the plan it is made from; an existing one keeps its own.
    initial = {"plans": [plan]} if option is None else {}
    form = WholesaleOptionForm(data, instance=option, initial=initial)
    choices = OptionChoiceFormSet(data, initial=choices_initial, prefix="choices")
    # The prices name a choice by its code: those saved, and those typed on this page.
    named = [(row["code"], row["name"]) for row in choices_initial]
    if data is not None:
        for index in range(min(int(data.get("choices-TOTAL_FORMS") or 0), 100)):
            code = data.get(f"choices-{index}-code", "").strip()
            if code and code not in dict(named):
                named.append((code, data.get(f"choices-{index}-name", "") or code))
    prices = OptionPriceFormSet(
        data, initial=prices_initial, prefix="prices", form_kwargs={"choices": named}
    )
    if data is not None and form.is_valid() and choices.is_valid() and prices.is_valid():
        choice_rows = [
            ChoiceRow(
                code=row.cleaned_data["code"],
                name=row.cleaned_data["name"],
                settings=row.settings(),
                sort_order=row.cleaned_data.get("sort_order") or 0,
            )
            for row in choices
            if row.cleaned_data.get("code") and not row.cleaned_data.get("DELETE")
        ]
        price_rows = [
            OptionPriceRow(
                choice=row["choice"],
                price_list=row["price_list"],
                cycle=row["cycle"],
                price=row["price"],
                setup_fee=row.get("setup_fee") or 0,
            )
            for row in prices.cleaned_data
            if row.get("price_list") and not row.get("DELETE")
        ]
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        if option is not None:
            fields.pop("code")
        try:
            saved = wholesale_option_save(
                option=option,
                fields=fields,
                plans=list(form.cleaned_data["plans"]),
                choices=choice_rows,
                prices=price_rows,
            )
        except ResaleError as exc:
            form.add_error(None, _(exc.message))
        else:
            messages.success(request, _("The option is saved."))
            target = plan if saved.plans.filter(pk=plan.pk).exists() else saved.plans.first()
            if target is None:
                return redirect("provider:plans")
            return redirect("provider:option", target.pk, saved.pk)
    return render(
        request,
        "provider/option.html",
        {
            "plan": plan,
            "option": option,
            "form": form,
            "choices": choices,
            "prices": prices,
            "can_edit": provider_can(request.user, CATALOGUE),
        },
    )


@provider_page(write=CATALOGUE)
def option_new(request: HttpRequest, pk: int) -> HttpResponse:
    return _option_form(request, get_object_or_404(WholesalePlan, pk=pk), None)


@provider_page(write=CATALOGUE)
def option(request: HttpRequest, pk: int, option_pk: int) -> HttpResponse:
    plan = get_object_or_404(WholesalePlan, pk=pk)
    # An option is reached through a plan it is sold with.
    return _option_form(request, plan, get_object_or_404(plan.options, pk=option_pk))


@provider_page(write=CATALOGUE)
def price_lists(request: HttpRequest) -> HttpResponse:
    form = PriceListForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            price_list_save(price_list=None, **form.cleaned_data)
        except ResaleError as exc:
            form.add_error(None, _(exc.message))
        else:
            messages.success(request, _("The price list is saved."))
            return redirect("provider:price-lists")
    return render(
        request,
        "provider/price_lists.html",
        {
            "lists": PriceList.objects.order_by("currency", "name"),
            "form": form,
            "can_edit": provider_can(request.user, CATALOGUE),
        },
    )


@provider_page(write=CATALOGUE)
def price_list(request: HttpRequest, pk: int) -> HttpResponse:
    current = get_object_or_404(PriceList, pk=pk)
    form = PriceListForm(
        request.POST or None,
        initial={
            "name": current.name,
            "currency": current.currency,
            "is_default": current.is_default,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            price_list_save(price_list=current, **form.cleaned_data)
        except ResaleError as exc:
            form.add_error(None, _(exc.message))
        else:
            messages.success(request, _("The price list is saved."))
            return redirect("provider:price-lists")
    return render(
        request,
        "provider/price_list.html",
        {
            "price_list": current,
            "form": form,
            "prices": current.prices.select_related("plan").order_by("plan__name", "cycle"),
            "can_edit": provider_can(request.user, CATALOGUE),
        },
    )
