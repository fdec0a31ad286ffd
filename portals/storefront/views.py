"""The storefront of a tenant host: catalogue, plan configuration with a live price,
domain search, cart, checkout with sign-up or login, and the order confirmation."""

from __future__ import annotations

import ipaddress

from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts.branding import (
    branding_content_type,
    branding_get,
    terms_version_current,
    terms_versions,
)
from accounts.models import TermsVersion
from api.keys import client_ip
from billing import geo, selectors
from billing.errors import BillingError
from billing.models import (
    BillingCycle,
    Client,
    DomainAction,
    DomainPolicy,
    Order,
    Plan,
    ProductGroup,
    VatNumberCheck,
)
from billing.services.clients import client_update, client_vat_number_confirm
from billing.services.commerce import (
    TermsAcceptance,
    cart_coupon_apply,
    cart_coupon_remove,
    cart_domain_missing,
    cart_item_add,
    cart_item_domain_set,
    cart_item_remove,
    checkout_place,
)
from core.locale import language_cookie_set, language_normalize, localized, money_format
from portals.client_area.payments import invoice_pay_context
from portals.client_area.services import client_signup
from portals.common.access import is_staff_user
from portals.storefront import cart as shop
from portals.storefront import catalogue
from portals.storefront.forms import (
    BillingAddressForm,
    CheckoutSignupForm,
    DomainSearchForm,
    DomainStepForm,
    DomainTransferForm,
    TermsAcceptanceForm,
)
from provisioning.registrars import rdap
from resale.domain_portal import domains_available
from resale.selectors import plan_is_resold_domain

MAX_DOMAIN_SUGGESTIONS = 8
# A name its registry sells at a price of its own: never added at the TLD's price.
PREMIUM = "premium"


def _visible_groups():
    products = shop.sellable_plans().values_list("product__group_id", flat=True)
    return ProductGroup.objects.filter(is_visible=True, pk__in=products).order_by(
        "sort_order", "name"
    )


# Where the payments app sends a browser back from its bank: /?payment=<attempt status>.
PAYMENT_RETURN_MESSAGES = {
    "succeeded": (messages.SUCCESS, gettext_lazy("Thank you: your payment went through.")),
    "processing": (messages.INFO, gettext_lazy("Your payment is being processed; we e-mail you.")),
    "pending": (messages.INFO, gettext_lazy("Your payment is being processed; we e-mail you.")),
    "requires_action": (
        messages.WARNING,
        gettext_lazy("Your bank still needs you to confirm the payment; follow its instructions."),
    ),
    "failed": (
        messages.ERROR,
        gettext_lazy("The payment did not go through. You can try again from the invoice."),
    ),
    "canceled": (
        messages.ERROR,
        gettext_lazy("The payment did not go through. You can try again from the invoice."),
    ),
}


@localized
def home(request: HttpRequest) -> HttpResponse:
    returned = PAYMENT_RETURN_MESSAGES.get(request.GET.get("payment", ""))
    if returned is not None:
        messages.add_message(request, *returned)
        return redirect("account:invoices" if shop.request_client(request) else "home")
    groups = _visible_groups()
    return render(
        request,
        "storefront/home.html",
        {
            "groups": groups,
            "cards": catalogue.product_cards(group.pk for group in groups),
            "sells_domains": bool(shop.domain_plans()),
        },
    )


@localized
def group_detail(request: HttpRequest, slug: str) -> HttpResponse:
    group = get_object_or_404(ProductGroup, slug=slug, is_visible=True)
    plans = (
        shop.sellable_plans()
        .filter(product__group=group)
        .prefetch_related("prices")
        .order_by("product__sort_order", "product__name", "sort_order", "name")
    )
    products: dict = {}
    for plan in plans:
        offer = catalogue.price_from(
            plan.prices.all(), period=catalogue.product_period(plan.product)
        )
        if offer is not None:
            products.setdefault(plan.product, []).append({"plan": plan, "from": offer})
    for entries in products.values():
        # Equal places on the page go cheapest first, so the comparison reads left to right.
        entries.sort(key=lambda entry: (entry["plan"].sort_order, entry["from"].price.amount))
    sections = [
        {
            "product": product,
            "plans": entries,
            "comparison": catalogue.plan_comparison([entry["plan"] for entry in entries])
            if len(entries) > 1
            else None,
        }
        for product, entries in products.items()
    ]
    return render(
        request,
        "storefront/group.html",
        {"group": group, "sections": sections, "groups": _visible_groups()},
    )


def _plan_or_404(public_id) -> Plan:
    plan = shop.sellable_plans().filter(public_id=public_id).first()
    if plan is None or not plan.prices.exists():
        raise Http404
    return plan


def _selected_cycle(plan: Plan, requested: str) -> str:
    cycles = [row.cycle for row in shop.plan_cycles(plan)]
    return requested if requested in cycles else cycles[0]


def _quote_or_errors(request: HttpRequest, plan: Plan, data) -> tuple[shop.Quote | None, str]:
    cycle = _selected_cycle(plan, data.get("cycle", ""))
    domain_name = data.get("domain_name", "").strip()
    try:
        options = shop.options_from_data(plan, data)
        quote = shop.plan_quote(
            plan=plan,
            cycle=cycle,
            options=options,
            # The price does not depend on the name; a placeholder keeps a half-typed
            # name from hiding the price.
            domain_name=domain_name
            if not plan.product.requires_domain or domain_name
            else "example.com",
            client=shop.request_client(request),
            country=data.get("country", ""),
        )
    except BillingError as exc:
        return None, str(exc)
    return quote, ""


@localized
def plan_detail(request: HttpRequest, public_id) -> HttpResponse:
    plan = _plan_or_404(public_id)
    data = request.POST if request.method == "POST" else request.GET
    cycle = _selected_cycle(plan, data.get("cycle", ""))
    error = ""
    if request.method == "POST" and data.get("action") != "quote":
        try:
            options = shop.options_from_data(plan, data)
            cart = shop.cart_for_request(request, create=True)
            item = cart_item_add(
                cart=cart,
                plan=plan,
                cycle=cycle,
                domain_name=data.get("domain_name", ""),
                options=options,
            )
        except BillingError as exc:
            error = str(exc)
        else:
            messages.success(request, _("“%(plan)s” is in your cart.") % {"plan": plan})
            if plan.domain_policy != DomainPolicy.NONE and not item.domain_name:
                # The plan is set up on a domain: the client chooses it next.
                return redirect("shop:cart-item-domain", item_id=item.pk)
            return redirect("shop:cart")
    quote, quote_error = _quote_or_errors(request, plan, data)
    options = shop.plan_options(plan, cycle)
    for entry in options:
        entry["selected"] = data.get(f"option_{entry['option'].pk}", "")
        entry["quantity"] = data.get(f"qty_{entry['option'].pk}", "0")
    return render(
        request,
        "storefront/plan.html",
        {
            "plan": plan,
            "product": plan.product,
            "cycles": shop.plan_cycles(plan),
            "cycle": cycle,
            "options": options,
            "domain_name": data.get("domain_name", ""),
            "quote": quote,
            "error": error or quote_error,
        },
        status=400 if error else 200,
    )


@require_GET
@localized
def plan_price(request: HttpRequest, public_id) -> JsonResponse:
    """The live price of a configuration, computed here, for the plan page's script."""
    plan = _plan_or_404(public_id)
    quote, error = _quote_or_errors(request, plan, request.GET)
    if quote is None:
        return JsonResponse({"ok": False, "errors": [error]}, status=400)
    return JsonResponse(quote.as_json(money_format))


# --- domains ---------------------------------------------------------------------------


def _availability(names: list[str], plans: dict[str, Plan]) -> list[rdap.Availability]:
    """Names under a TLD bought from the provider are checked at its registrar (which
    knows premium names too); the others over RDAP."""
    resold = {tld for tld, plan in plans.items() if plan_is_resold_domain(plan)}
    asked = [name for name in names if name.rsplit(".", 1)[-1] in resold]
    answers = domains_available(names=asked) if asked else {}
    by_rdap = {
        found.ascii_domain: found
        for found in rdap.domains_availability([n for n in names if n not in asked])
    }
    results = []
    for name in names:
        if name not in asked:
            results.append(by_rdap[name])
            continue
        answer = answers.get(name) or {}
        status = {True: rdap.AVAILABLE, False: rdap.TAKEN}.get(answer.get("available"), "")
        if answer.get("premium"):
            status = PREMIUM
        unicode_name, _ascii = rdap.domain_normalize(name)
        results.append(rdap.Availability(unicode_name, name, status or rdap.UNKNOWN))
    return results


@localized
def domain_search(request: HttpRequest) -> HttpResponse:
    plans = shop.domain_plans()
    form = DomainSearchForm(request.GET or None)
    results = []
    if form.is_valid():
        try:
            names = rdap.search_candidates(form.cleaned_data["q"], list(plans))
        except rdap.DomainNameInvalid:
            form.add_error("q", _("Type a name like yourname or yourname.com."))
        else:
            for found in _availability(names[:MAX_DOMAIN_SUGGESTIONS], plans):
                plan = plans.get(found.tld)
                results.append(
                    {
                        "result": found,
                        "plan": plan,
                        "price": shop.domain_plan_cycle(plan) if plan else None,
                        "cycles": shop.plan_cycles(plan) if plan else [],
                        "transfer": getattr(plan, "domain_price", None) if plan else None,
                    }
                )
    return render(
        request,
        "storefront/domains.html",
        {
            "form": form,
            "results": results,
            "tlds": sorted(plans),
            "transfer_form": DomainTransferForm(),
        },
    )


def _domain_plan(request: HttpRequest, plans: dict[str, Plan]) -> tuple[str, Plan] | None:
    """The name posted, as A-labels, and the plan selling its TLD; None (with the reason
    told) when there is none."""
    try:
        _unicode, ascii_name = rdap.domain_normalize(request.POST.get("domain", ""))
    except rdap.DomainNameInvalid:
        messages.error(request, _("That is not a domain name."))
        return None
    if "." not in ascii_name:
        messages.error(request, _("Type the whole name, with its extension: yourname.com."))
        return None
    plan = plans.get(ascii_name.rsplit(".", 1)[-1])
    if plan is None:
        messages.error(request, _("We do not sell that extension."))
        return None
    return ascii_name, plan


@require_POST
@localized
def domain_add(request: HttpRequest) -> HttpResponse:
    """Puts an available domain in the cart for the years chosen, after asking its
    registry once more."""
    plans = shop.domain_plans()
    chosen = _domain_plan(request, plans)
    if chosen is None:
        return redirect("shop:domains")
    ascii_name, plan = chosen
    (found,) = _availability([ascii_name], plans)
    if found.status == PREMIUM:
        messages.error(
            request,
            _(
                "%(domain)s is a premium name: its registry sells it at a price of its own. "
                "Contact us for an offer."
            )
            % {"domain": found.domain},
        )
        return redirect(f"{reverse('shop:domains')}?q={ascii_name}")
    if not found.is_available:
        messages.error(
            request, _("%(domain)s is not available for registration.") % {"domain": found.domain}
        )
        return redirect(f"{reverse('shop:domains')}?q={ascii_name}")
    cycles = {row.cycle: row for row in shop.plan_cycles(plan)}
    price = cycles.get(request.POST.get("cycle", "")) or shop.domain_plan_cycle(plan)
    try:
        cart = shop.cart_for_request(request, create=True)
        cart_item_add(cart=cart, plan=plan, cycle=price.cycle, domain_name=ascii_name)
    except BillingError as exc:
        messages.error(request, str(exc))
        return redirect("shop:domains")
    messages.success(request, _("%(domain)s is in your cart.") % {"domain": found.domain})
    return redirect("shop:cart")


def _transfer_refusal(plan) -> str | None:
    """Why ``plan``'s extension cannot be transferred in, or None when it can: a transfer
    is charged at the extension's domain prices, and without them there is no price."""
    if hasattr(plan, "domain_price"):
        return None
    return _("Domains with this extension cannot be transferred here.")


def _transfer_add(cart, plan, ascii_name: str, auth_code: str) -> None:
    """Puts the transfer in of ``ascii_name`` in the cart, on the annual cycle (the one
    cycle a transfer is sold on, from the domains page as from a hosting plan's step)."""
    cart_item_add(
        cart=cart,
        plan=plan,
        cycle=BillingCycle.ANNUAL,
        domain_name=ascii_name,
        domain_action=DomainAction.TRANSFER,
        auth_code=auth_code,
    )


@require_POST
@localized
def domain_transfer(request: HttpRequest) -> HttpResponse:
    """Puts a transfer in of a domain registered elsewhere in the cart, with its auth
    code (kept encrypted until the registry has the request)."""
    form = DomainTransferForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for message in errors:
                messages.error(request, message)
        return redirect("shop:domains")
    plans = shop.domain_plans()
    chosen = _domain_plan(request, plans)
    if chosen is None:
        return redirect("shop:domains")
    ascii_name, plan = chosen
    refusal = _transfer_refusal(plan)
    if refusal:
        messages.error(request, refusal)
        return redirect("shop:domains")
    try:
        cart = shop.cart_for_request(request, create=True)
        _transfer_add(cart, plan, ascii_name, form.cleaned_data["auth_code"])
    except BillingError as exc:
        messages.error(request, str(exc))
        return redirect("shop:domains")
    messages.success(
        request, _("The transfer of %(domain)s is in your cart.") % {"domain": ascii_name}
    )
    return redirect("shop:cart")


class _DomainStepRefused(Exception):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _domain_step_apply(cart, item, data: dict) -> None:
    """Puts the chosen domain's registration or transfer in the cart (unless it is there
    already) and sets the hosting item on it; or sets it on a domain the client owns.
    Availability is asked before anything is written, and the writes are one
    transaction, so a refusal leaves the cart as it was."""
    choice, ascii_name = data["choice"], data["domain"]
    if choice == DomainStepForm.OWN:
        cart_item_domain_set(item=item, domain_name=ascii_name, own=True)
        return
    plans = shop.domain_plans()
    plan = plans.get(ascii_name.rsplit(".", 1)[-1])
    if plan is None:
        raise _DomainStepRefused(_("We do not sell that extension."), "domain")
    in_cart = cart.items.filter(
        domain_name=ascii_name, plan__product__type=plan.product.type
    ).exists()
    if choice == DomainStepForm.REGISTER and not in_cart:
        (found,) = _availability([ascii_name], plans)
        if found.status == PREMIUM:
            raise _DomainStepRefused(
                _(
                    "%(domain)s is a premium name: its registry sells it at a price of its "
                    "own. Contact us for an offer."
                )
                % {"domain": found.domain},
                "domain",
            )
        if not found.is_available:
            raise _DomainStepRefused(
                _("%(domain)s is not available for registration.") % {"domain": found.domain},
                "domain",
            )
        cycles = {row.cycle for row in shop.plan_cycles(plan)}
        cycle = data.get("cycle") or BillingCycle.ANNUAL
        if cycle not in cycles:
            raise _DomainStepRefused(
                _("This extension is not registered for that many years here."), "cycle"
            )
    if choice == DomainStepForm.TRANSFER and not in_cart:
        refusal = _transfer_refusal(plan)
        if refusal:
            raise _DomainStepRefused(refusal, "domain")
    with transaction.atomic():
        if not in_cart and choice == DomainStepForm.REGISTER:
            cart_item_add(cart=cart, plan=plan, cycle=cycle, domain_name=ascii_name)
        elif not in_cart:
            _transfer_add(cart, plan, ascii_name, data["auth_code"])
        cart_item_domain_set(item=item, domain_name=ascii_name)


@localized
def cart_item_domain(request: HttpRequest, item_id: int) -> HttpResponse:
    """The domain step of a hosting plan that requires or offers a domain: register a
    new one, transfer one in, or (offered only) use one the client already owns."""
    cart = shop.cart_for_request(request)
    item = cart.items.select_related("plan__product").filter(pk=item_id).first() if cart else None
    if item is None or item.plan.domain_policy == DomainPolicy.NONE:
        raise Http404
    offer_own = item.plan.domain_policy == DomainPolicy.OFFER
    form = DomainStepForm(
        request.POST if request.method == "POST" else None,
        offer_own=offer_own,
        initial={"domain": item.domain_name},
    )
    if form.is_bound and form.is_valid():
        try:
            _domain_step_apply(cart, item, form.cleaned_data)
        except _DomainStepRefused as exc:
            form.add_error(exc.field, exc.message)
        except BillingError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("“%(plan)s” will be set up on %(domain)s.")
                % {"plan": item.plan, "domain": form.cleaned_data["domain"]},
            )
            return redirect("shop:cart")
    return render(
        request,
        "storefront/cart_item_domain.html",
        {
            "item": item,
            "form": form,
            "required": item.plan.domain_policy == DomainPolicy.REQUIRE,
            "tlds": sorted(shop.domain_plans()),
        },
        status=400 if form.is_bound else 200,
    )


# --- cart and checkout -------------------------------------------------------------------


@localized
def cart_view(request: HttpRequest) -> HttpResponse:
    cart = shop.cart_for_request(request)
    if request.method == "POST" and cart is not None:
        action = request.POST.get("action")
        try:
            if action == "remove":
                item = cart.items.filter(pk=_int(request.POST.get("item"))).first()
                if item is not None:
                    cart_item_remove(item=item)
            elif action == "coupon":
                coupon = cart_coupon_apply(cart=cart, code=request.POST.get("code", ""))
                messages.success(request, _("Coupon %(code)s applied.") % {"code": coupon.code})
            elif action == "coupon_remove":
                cart_coupon_remove(cart=cart)
        except BillingError as exc:
            messages.error(request, str(exc))
        return redirect("shop:cart")
    quote = None
    error = ""
    if cart is not None and cart.items.exists():
        try:
            quote = shop.cart_quote(cart=cart, client=shop.request_client(request))
        except BillingError as exc:
            error = str(exc)
    items = list(cart.items.select_related("plan__product")) if cart else []
    lines = quote.lines if quote else [None] * len(items)
    missing = {item.pk for item in cart_domain_missing(cart=cart)} if cart else set()
    return render(
        request,
        "storefront/cart.html",
        {
            "cart": cart,
            "rows": [
                {
                    "item": item,
                    "line": line,
                    "domain_step": item.plan.domain_policy != DomainPolicy.NONE
                    and not item.plan.product.requires_domain,
                    "domain_missing": item.pk in missing,
                }
                for item, line in zip(items, lines, strict=True)
            ],
            "domain_missing": bool(missing),
            "quote": quote,
            "error": error,
        },
    )


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _vat_number_notice(check: VatNumberCheck | None) -> str:
    """What the buyer is told when its VAT number does not make it a business."""
    if check is None or check.status == VatNumberCheck.Status.VALID:
        return ""
    if check.status == VatNumberCheck.Status.UNAVAILABLE:
        return _(
            "VIES, the EU's register of VAT numbers, does not answer right now, so your VAT "
            "number %(number)s could not be confirmed: this order is a consumer sale, with "
            "VAT."
        ) % {"number": check.vat_number}
    return _(
        "VIES does not confirm the VAT number %(number)s: this order is a consumer sale, "
        "with VAT. Check the number if you buy for a business."
    ) % {"number": check.vat_number}


def _billing_fields(data: dict) -> dict:
    return {name: data[name] for name in BillingAddressForm.base_fields}


@localized
def checkout(request: HttpRequest) -> HttpResponse:
    cart = shop.cart_for_request(request)
    if cart is None or not cart.items.exists():
        messages.info(request, _("Your cart is empty."))
        return redirect("shop:cart")
    if is_staff_user(request.user):
        messages.error(request, _("Staff accounts cannot place orders; log in as a client."))
        return redirect("shop:cart")
    client = shop.request_client(request)
    terms = terms_version_current()
    posted = request.POST if request.method == "POST" else None
    placing = posted is not None and posted.get("action") != "quote"
    form = None
    error = ""
    if client is None:
        form = CheckoutSignupForm(posted if placing else None)
    address = BillingAddressForm(posted, initial=BillingAddressForm.initial_for(client))
    # New and returning clients alike accept the terms of each order.
    terms_form = TermsAcceptanceForm(posted if placing else None, version=terms) if terms else None
    if placing:
        try:
            # Every form is checked, so the buyer sees all that is missing at once.
            checked = [f.is_valid() for f in (address, form, terms_form) if f is not None]
            if all(checked):
                billing = _billing_fields(address.cleaned_data)
                accepted = _terms_accepted(request, terms) if terms else None
                order, check = _checkout_place(request, cart, client, form, billing, accepted)
                notice = _vat_number_notice(check)
                if notice:
                    messages.warning(request, notice)
                return redirect("shop:order", public_id=order.public_id)
        except ValidationError as exc:
            if form is not None:
                form.add_error(None, exc)
            else:
                error = " ".join(exc.messages)
        except BillingError as exc:
            error = str(exc)
    country = address.data.get("country", "") if address.is_bound else ""
    vat_number = address.data.get("vat_number", "") if address.is_bound else ""
    try:
        quote = shop.cart_quote(cart=cart, client=client, country=country, vat_number=vat_number)
    except BillingError as exc:
        quote, error = None, error or str(exc)
    return render(
        request,
        "storefront/checkout.html",
        {
            "cart": cart,
            "quote": quote,
            "client": client,
            "form": form,
            "address": address,
            "terms": terms,
            "terms_form": terms_form,
            "error": error,
        },
        status=400 if placing else 200,
    )


def _terms_accepted(request: HttpRequest, terms: TermsVersion) -> TermsAcceptance:
    address = client_ip(request)
    try:
        ipaddress.ip_address(address)
    except ValueError:
        # A socket without an address (a test client, a Unix socket) proves nothing.
        address = None
    return TermsAcceptance(version=terms, at=timezone.now(), ip_address=address)


def _checkout_place(
    request: HttpRequest,
    cart,
    client: Client | None,
    form,
    billing: dict,
    terms_accepted: TermsAcceptance | None,
) -> tuple[Order, VatNumberCheck | None]:
    """Signs the visitor up (or updates the client's billing address), asks VIES about
    its VAT number, and places the order with the terms accepted; a refused order leaves
    no new account."""
    evidence = geo.location_evidence(
        billing_country=billing["country"], ip_address=client_ip(request)
    )
    with transaction.atomic():
        if client is None:
            data = form.cleaned_data
            user, client = client_signup(
                email=data["email"],
                password=data["password"],
                name=data["name"],
                company_name=billing["company_name"],
                country=billing["country"],
                vat_number=billing["vat_number"],
                phone=data["phone"],
                language=request.LANGUAGE_CODE,
            )
        else:
            user = None
        changed = {k: v for k, v in billing.items() if getattr(client, k) != v}
        if changed:
            client = client_update(client=client, **changed)
        check = client_vat_number_confirm(client=client, settings=selectors.billing_settings_get())
        order = checkout_place(
            cart=cart,
            client=client,
            idempotency_key=f"checkout:{cart.public_id}",
            location_evidence=evidence,
            terms_accepted=terms_accepted,
        )
    if user is not None:
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return order, check


@require_GET
@localized
def checkout_quote(request: HttpRequest) -> JsonResponse:
    """The order's tax again for the billing country and VAT number being typed."""
    cart = shop.cart_for_request(request)
    if cart is None or not cart.items.exists():
        return JsonResponse({"ok": False, "errors": [_("Your cart is empty.")]}, status=400)
    try:
        quote = shop.cart_quote(
            cart=cart,
            client=shop.request_client(request),
            country=request.GET.get("country", "")[:2],
            vat_number=request.GET.get("vat_number", "")[:32],
        )
    except BillingError as exc:
        return JsonResponse({"ok": False, "errors": [str(exc)]}, status=400)
    html = render_to_string("includes/quote_summary.html", {"quote": quote}, request=request)
    return JsonResponse({**quote.as_json(money_format), "html": html})


def _order_lines(order: Order) -> list[dict]:
    """The order as its invoice bills it: each plan for its period, then its setup fee
    on a line of its own, so the lines add up to the net shown below them."""
    lines = []
    for item in order.items.select_related("plan"):
        lines.append(
            {
                "description": item.description,
                "quantity": item.quantity,
                "price": item.price * item.quantity,
            }
        )
        if item.setup_fee.amount > 0:
            lines.append(
                {
                    "description": _("Setup fee – %(item)s") % {"item": item.description},
                    "quantity": item.quantity,
                    "price": item.setup_fee * item.quantity,
                }
            )
    return lines


@localized
def order_detail(request: HttpRequest, public_id) -> HttpResponse:
    client = shop.request_client(request)
    if client is None:
        return redirect(f"{reverse('login')}?next={request.path}")
    order = get_object_or_404(
        Order.objects.select_related("invoice"), public_id=public_id, client=client
    )
    invoice = order.invoice
    return render(
        request,
        "storefront/order.html",
        {
            "order": order,
            "lines": _order_lines(order),
            "invoice": invoice,
            "pay": invoice_pay_context(invoice) if invoice and invoice.is_open else None,
        },
    )


# --- site-wide ---------------------------------------------------------------------------


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """Switches the site's language for this browser (and for the signed-in person)."""
    language = language_normalize(request.POST.get("language"))
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    response = redirect(target)
    if language:
        language_cookie_set(response, language)
        user = request.user
        if user.is_authenticated and user.language != language:
            user.language = language
            user.save(update_fields=["language"])
    return response


@localized
def terms(request: HttpRequest) -> HttpResponse:
    """The terms in force, with their version and date; earlier versions below, each as
    it was published."""
    current = terms_version_current()
    if current is None:
        raise Http404
    return render(
        request,
        "storefront/terms.html",
        {"terms": current, "earlier": [v for v in terms_versions() if v.pk != current.pk]},
    )


def brand_asset(request: HttpRequest, kind: str) -> HttpResponse:
    """The tenant's logo or favicon, from its own host, sandboxed: even an image that
    slipped past the checks cannot run script here."""
    if kind not in ("logo", "favicon"):
        raise Http404
    file = getattr(branding_get(), kind)
    if not file:
        raise Http404
    try:
        handle = file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, content_type=branding_content_type(file.name))
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "public, max-age=86400"
    return response
