"""The console's catalogue: the products and plans on sale, and the import of the
provider's wholesale plans with a markup."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from billing.errors import BillingError
from billing.models import DomainPolicy, Product
from billing.selectors import billing_settings_get, plan_list, product_list
from billing.services import plan_domain_policy_set, product_tax_category_set
from portals.common.access import console_page
from portals.console.forms import MarkupForm
from portals.console.selectors import configurable_options
from resale import catalogue_import


@console_page(write="admin")
def catalogue(request: HttpRequest) -> HttpResponse:
    products = product_list()
    options = configurable_options()
    return render(
        request,
        "console/catalogue.html",
        {
            "products": products,
            "options": options,
            "tax_categories": Product.TaxCategory.choices,
            "domain_policies": DomainPolicy.choices,
        },
    )


@console_page(write="admin")
def product_tax_category(request: HttpRequest, public_id) -> HttpResponse:
    """Sets how a product is taxed: an electronically supplied service, a domain, physical
    goods or an exempt supply decide the place of supply (billing.taxes)."""
    product = get_object_or_404(product_list(), public_id=public_id)
    if request.method != "POST":
        return redirect("console:catalogue")
    category = request.POST.get("tax_category", "")
    if category not in Product.TaxCategory.values:
        messages.error(request, _("Choose one of the tax categories in the list."))
    else:
        product_tax_category_set(product=product, tax_category=category)
        messages.success(
            request,
            _("%(product)s is now taxed as: %(category)s.")
            % {"product": product.name, "category": Product.TaxCategory(category).label},
        )
    return redirect("console:catalogue")


@console_page(write="admin")
def plan_domain_policy(request: HttpRequest, public_id) -> HttpResponse:
    """Whether the storefront leads a client ordering the plan through choosing its
    domain (a registration or transfer required, or also a domain already owned)."""
    plan = get_object_or_404(plan_list(), public_id=public_id)
    if request.method != "POST":
        return redirect("console:catalogue")
    policy = request.POST.get("domain_policy", "")
    if policy not in DomainPolicy.values or plan.product.requires_domain:
        messages.error(request, _("Choose one of the domain settings in the list."))
    else:
        plan_domain_policy_set(plan=plan, domain_policy=policy)
        messages.success(
            request,
            _("%(plan)s: %(policy)s.") % {"plan": plan.name, "policy": DomainPolicy(policy).label},
        )
    return redirect("console:catalogue")


@console_page(write="admin")
def catalogue_import_view(request: HttpRequest) -> HttpResponse:
    form = MarkupForm(request.POST if request.method == "POST" else None)
    markup = catalogue_import.Markup()
    error = ""
    if form.is_bound and form.is_valid():
        markup = catalogue_import.Markup(
            form.cleaned_data["kind"], form.cleaned_data["value"], form.cleaned_data["rounding"]
        )
    try:
        offers = catalogue_import.wholesale_offer(tenant=request.tenant)
    except BillingError as exc:
        offers, error = [], str(exc)
    if request.method == "POST" and request.POST.get("action") == "import" and form.is_valid():
        codes = request.POST.getlist("plans")
        if not codes:
            messages.error(request, _("Tick the plans to import."))
        else:
            try:
                result = catalogue_import.wholesale_plans_import(
                    tenant=request.tenant,
                    codes=codes,
                    markup=markup,
                    group=form.cleaned_data["group"],
                )
            except BillingError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(
                    request,
                    _("%(created)s plans imported, %(repriced)s repriced.")
                    % {"created": len(result.created), "repriced": len(result.repriced)},
                )
                return redirect("console:catalogue")
    currency = billing_settings_get().currency
    rows = []
    for offer in offers:
        retail = offer.retail(markup) if offer.currency == currency else {}
        rows.append(
            {
                "offer": offer,
                "cycles": [
                    {
                        "cycle": cycle,
                        "cost": price,
                        "retail": retail.get(cycle, (None, None))[0],
                        "setup_cost": setup,
                        "setup_retail": retail.get(cycle, (None, None))[1],
                    }
                    for cycle, (price, setup) in offer.prices.items()
                ],
                "same_currency": offer.currency == currency,
            }
        )
    return render(
        request,
        "console/catalogue_import.html",
        {"form": form, "rows": rows, "error": error, "selected": request.POST.getlist("plans")},
        status=400 if form.is_bound and form.errors else 200,
    )
