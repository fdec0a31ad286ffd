"""The wholesale catalogue: plans with their prices on each price list, price lists, and
the preview of a reseller's import."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from portals.provider.access import CATALOGUE, provider_can, provider_page
from portals.provider.forms import PriceListForm, PriceRowFormSet, WholesalePlanForm
from resale.models import PriceList, WholesalePlan
from resale.services import ResaleError
from resale.wholesale import (
    PriceRow,
    price_list_save,
    wholesale_import_preview,
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
            "price": price.price_amount,
            "setup_fee": price.setup_fee_amount,
        }
        for price in plan.prices.select_related("price_list").order_by("price_list__name", "cycle")
    ]


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
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("The plan is saved."))
            return redirect("provider:plan", saved.pk)
    previews = []
    if plan is not None:
        for price_list in PriceList.objects.filter(prices__plan=plan).distinct():
            previews.append(
                (price_list, wholesale_import_preview(plan=plan, price_list=price_list))
            )
    return render(
        request,
        "provider/plan.html",
        {
            "plan": plan,
            "form": form,
            "prices": prices,
            "previews": previews,
            "can_edit": provider_can(request.user, CATALOGUE),
        },
    )


@provider_page(write=CATALOGUE)
def plan_new(request: HttpRequest) -> HttpResponse:
    return _plan_form(request, None)


@provider_page(write=CATALOGUE)
def plan(request: HttpRequest, pk: int) -> HttpResponse:
    return _plan_form(request, get_object_or_404(WholesalePlan, pk=pk))


@provider_page(write=CATALOGUE)
def price_lists(request: HttpRequest) -> HttpResponse:
    form = PriceListForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            price_list_save(price_list=None, **form.cleaned_data)
        except ResaleError as exc:
            form.add_error(None, exc.message)
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
            form.add_error(None, exc.message)
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
