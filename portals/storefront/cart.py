"""The storefront's side of buying: which cart a browser has, what a configuration costs
with tax, and which plans sell domain names.

Prices always come from billing's own pricing (``cart_price``); tax from billing's tax
rules. A quote for a configuration that is not in any cart yet is priced by putting it in
a throw-away cart inside a transaction that is rolled back, so the storefront can never
show a price that checkout would not charge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.http import HttpRequest, QueryDict
from django.utils.translation import get_language

from billing import vies
from billing.errors import BillingError
from billing.models import (
    BillingCycle,
    Cart,
    Client,
    ConfigurableOption,
    ConfigurableOptionChoice,
    Plan,
    PlanPrice,
    Product,
)
from billing.money import Money
from billing.selectors import (
    billing_settings_get,
    client_for_user,
    client_tax_decision,
    seller_tax_profile,
)
from billing.services.commerce import CartPrice, cart_create, cart_item_add, cart_price
from billing.taxes import (
    BuyerProfile,
    TaxDecision,
    VatStatus,
    legal_mentions,
    line_amounts,
    tax_decide,
)

SESSION_CART = "portal_cart"
# The order in which cycles are offered, shortest first.
CYCLE_ORDER = {value: index for index, value in enumerate(BillingCycle.values)}


def request_client(request: HttpRequest) -> Client | None:
    user = request.user
    if not user.is_authenticated or getattr(user, "kind", "") != "client":
        return None
    return client_for_user(user=user)


def cart_for_request(request: HttpRequest, *, create: bool = False) -> Cart | None:
    """The browser's open cart. The session remembers it by public id, which survives the
    session key change at login; a cart already bound to a client is only that
    client's."""
    client = request_client(request)
    cart = None
    reference = request.session.get(SESSION_CART)
    if reference:
        cart = Cart.objects.filter(public_id=reference, status=Cart.Status.OPEN).first()
        if cart is not None and cart.client_id and (client is None or cart.client_id != client.pk):
            cart = None
    if cart is None and client is not None:
        cart = Cart.objects.filter(client=client, status=Cart.Status.OPEN).first()
    if cart is None and create:
        if not request.session.session_key:
            request.session.save()
        cart = cart_create(client=client, session_key=request.session.session_key or "")
    if cart is not None:
        request.session[SESSION_CART] = str(cart.public_id)
    return cart


# --- prices with tax ------------------------------------------------------------------


@dataclass(frozen=True)
class QuoteLine:
    description: str
    quantity: int
    price: Money  # first period, one unit, before the coupon
    discount: Money
    setup_fee: Money
    recurring: Money  # every later period, one unit


@dataclass(frozen=True)
class Quote:
    lines: list[QuoteLine]
    currency: str
    net: Money
    tax: Money
    total: Money
    recurring: Money
    tax_name: str
    tax_rate: Decimal
    prices_include_tax: bool
    reverse_charge: bool = False
    errors: list[str] = field(default_factory=list)
    tax_note: str = ""

    def as_json(self, formatter) -> dict[str, Any]:
        return {
            "ok": not self.errors,
            "errors": self.errors,
            "currency": self.currency,
            "net": str(self.net.amount),
            "tax": str(self.tax.amount),
            "total": str(self.total.amount),
            "recurring": str(self.recurring.amount),
            "display": {
                "net": formatter(self.net),
                "tax": formatter(self.tax),
                "total": formatter(self.total),
                "recurring": formatter(self.recurring),
            },
            "tax_name": self.tax_name,
            "tax_rate": str(self.tax_rate.normalize()),
            "tax_note": self.tax_note,
            "lines": [
                {
                    "description": line.description,
                    "quantity": line.quantity,
                    "price": formatter(line.price),
                    "setup_fee": formatter(line.setup_fee),
                    "discount": formatter(line.discount),
                }
                for line in self.lines
            ],
        }


def tax_decision_for(
    *, client: Client | None, country: str = "", vat_number: str = ""
) -> TaxDecision:
    """The client's own tax; for a visitor (or a client changing its billing details at
    checkout), the tax of the country and VAT number it gives (the seller's country when
    it gives none). A VAT number counts only once VIES confirms it."""
    if client is not None and not country:
        return client_tax_decision(client=client)
    settings = billing_settings_get()
    status = VatStatus.NONE
    if vat_number:
        status = vies.vat_number_check(
            vat_number=vat_number, country=country, requester=settings.vat_number
        ).status
    return tax_decide(
        seller=seller_tax_profile(settings=settings, on_date=date.today()),
        buyer=BuyerProfile(
            country=(country or settings.country or "").upper()[:2],
            vat_number=vat_number,
            vat_status=status,
            tax_exempt=client.tax_exempt if client is not None else False,
        ),
        on_date=date.today(),
    )


def quote_from_price(pricing: CartPrice, decision: TaxDecision) -> Quote:
    """What the invoice of these items will total: each unit's price, discount and setup
    fee are separate invoice lines, each taxed and rounded on its own, as on the
    invoice."""
    include = billing_settings_get().prices_include_tax
    currency = pricing.currency
    net = tax = total = recurring = Money.zero(currency)
    lines = []
    for priced in pricing.items:
        for amount in (priced.price, -priced.discount, priced.setup_fee):
            if amount.amount == 0:
                continue
            amounts = line_amounts(
                unit_price=amount, quantity=1, decision=decision, prices_include_tax=include
            )
            net += amounts.net * priced.item.quantity
            tax += amounts.tax * priced.item.quantity
            total += amounts.total * priced.item.quantity
        recurring += priced.recurring * priced.item.quantity
        lines.append(
            QuoteLine(
                priced.description,
                priced.item.quantity,
                priced.price,
                priced.discount,
                priced.setup_fee,
                priced.recurring,
            )
        )
    return Quote(
        lines=lines,
        currency=currency,
        net=net.rounded(),
        tax=tax.rounded(),
        total=total.rounded(),
        recurring=recurring.rounded(),
        tax_name=decision.name,
        tax_rate=decision.rate,
        prices_include_tax=include,
        reverse_charge=decision.reverse_charge,
        tax_note=legal_mentions([decision], get_language() or "en"),
    )


def cart_quote(
    *, cart: Cart, client: Client | None = None, country: str = "", vat_number: str = ""
) -> Quote:
    decision = tax_decision_for(client=client, country=country, vat_number=vat_number)
    return quote_from_price(cart_price(cart=cart), decision)


class _Discard(Exception):
    def __init__(self, result: Any) -> None:
        self.result = result


def plan_quote(
    *,
    plan: Plan,
    cycle: str,
    options: dict[ConfigurableOption, Any],
    domain_name: str = "",
    client: Client | None = None,
    country: str = "",
) -> Quote:
    """The price of one configuration of a plan, with tax, as checkout would charge it.
    Raises BillingError when the configuration cannot be ordered."""
    try:
        with transaction.atomic():
            cart = cart_create(session_key="quote")
            cart_item_add(
                cart=cart, plan=plan, cycle=cycle, domain_name=domain_name, options=options
            )
            raise _Discard(cart_price(cart=cart))
    except _Discard as discarded:
        pricing = discarded.result
    return quote_from_price(pricing, tax_decision_for(client=client, country=country))


# --- catalogue helpers ----------------------------------------------------------------


def plan_cycles(plan: Plan) -> list[PlanPrice]:
    return sorted(plan.prices.all(), key=lambda row: CYCLE_ORDER.get(row.cycle, 99))


def plan_options(plan: Plan, cycle: str) -> list[dict[str, Any]]:
    """The plan's options with their choices priced for ``cycle``."""
    result = []
    for option in plan.configurable_options.prefetch_related("choices__prices"):
        choices = []
        for choice in option.choices.all():
            price = next((p for p in choice.prices.all() if p.cycle == cycle), None)
            if price is not None:
                choices.append({"choice": choice, "price": price.price, "setup": price.setup_fee})
        if choices:
            result.append({"option": option, "choices": choices})
    return result


def options_from_data(plan: Plan, data: QueryDict) -> dict[ConfigurableOption, Any]:
    """The options picked in a form: ``option_<id>`` names a choice, ``qty_<id>`` the
    quantity of a quantity option (0 or empty: not taken)."""
    picked: dict[ConfigurableOption, Any] = {}
    for option in plan.configurable_options.all():
        raw = data.get(f"option_{option.pk}", "")
        if not raw:
            continue
        choice = ConfigurableOptionChoice.objects.filter(option=option, pk=_int(raw)).first()
        if choice is None:
            raise BillingError(f"Pick one of the choices for “{option.name}”.")
        if option.kind == ConfigurableOption.Kind.QUANTITY:
            quantity = _int(data.get(f"qty_{option.pk}", "1"))
            if quantity <= 0:
                continue
            picked[option] = (choice, quantity)
        else:
            picked[option] = choice
    return picked


def _int(value: Any) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return -1


def sellable_plans() -> Any:
    return Plan.objects.filter(
        is_active=True,
        product__is_active=True,
        product__visibility=Product.Visibility.PUBLIC,
        product__group__is_visible=True,
    ).select_related("product__group")


def domain_plans() -> dict[str, Plan]:
    """TLD → the plan that registers it. A domain plan is named after its TLD (".com")."""
    plans: dict[str, Plan] = {}
    for plan in sellable_plans().filter(product__type=Product.Type.DOMAIN).order_by("sort_order"):
        tld = plan.name.strip().lower().lstrip(".")
        if tld and "." not in tld and " " not in tld and plan.prices.exists():
            plans.setdefault(tld, plan)
    return plans


def domain_plan_cycle(plan: Plan) -> PlanPrice | None:
    """The cycle a domain is sold on: annual when offered, else its shortest."""
    prices = plan_cycles(plan)
    annual = next((p for p in prices if p.cycle == BillingCycle.ANNUAL), None)
    return annual or (prices[0] if prices else None)
