"""Buying: coupons, the cart, its price, and checkout.

Checkout is one transaction: it locks the cart, the products with limited stock and the
coupon, then writes the order, its services (pending), and the invoice, issued at once.
Prices are the catalogue's at that moment; the order keeps them."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop, ngettext

from accounts.models import TermsVersion
from billing.cycles import CYCLE_MONTHS, cycle_end
from billing.errors import BillingError
from billing.events import OrderEventKind, order_event_emit
from billing.models import (
    BillingCycle,
    Cart,
    CartItem,
    CartItemOption,
    Client,
    ConfigurableOption,
    ConfigurableOptionChoice,
    ConfigurableOptionPrice,
    Coupon,
    CouponRedemption,
    DomainAction,
    DomainPolicy,
    DomainPrice,
    InvoiceLine,
    Order,
    OrderItem,
    Plan,
    PlanPrice,
    Product,
    Service,
    ServiceOption,
)
from billing.money import Money
from billing.selectors import tenant_currency
from billing.services._common import money_input, today
from billing.services.invoices import invoice_create, invoice_issue, invoice_line_add
from core.crypto import secret_encrypt

MAX_ITEM_QUANTITY = 100
DOMAIN_RE = re.compile(r"^(?=.{4,253}$)((?!-)[a-z0-9-]{1,63}(?<!-)\.)+[a-z][a-z0-9-]{1,62}$")


# --- coupons -------------------------------------------------------------------------


def coupon_create(
    *,
    code: str,
    kind: str,
    value: Decimal | Money | str | int,
    applies_to: str = Coupon.AppliesTo.FIRST_PERIOD,
    valid_from: datetime | None = None,
    expires_at: datetime | None = None,
    max_uses: int | None = None,
    max_uses_per_client: int | None = None,
    plans: list[Plan] = (),
) -> Coupon:
    code = (code or "").strip().upper()
    if not re.fullmatch(r"[A-Z0-9_-]{3,50}", code):
        raise BillingError("A coupon code has 3 to 50 letters, digits, - or _.")
    if Coupon.objects.filter(code=code).exists():
        raise BillingError(f"The coupon {code} already exists.")
    if kind not in Coupon.Kind.values:
        raise BillingError(f"“{kind}” is not a kind of coupon.")
    if applies_to not in Coupon.AppliesTo.values:
        raise BillingError(f"“{applies_to}” is not what a coupon applies to.")
    currency = ""
    if kind == Coupon.Kind.PERCENT:
        if isinstance(value, Money | float):
            raise BillingError("A percentage is a Decimal, not an amount.")
        try:
            value = Decimal(str(value))
        except ArithmeticError as exc:
            raise BillingError(f"“{value}” is not a percentage.") from exc
        if not value.is_finite() or not (0 < value <= 100):
            raise BillingError("A percentage coupon takes more than 0 and at most 100 %.")
    else:
        currency = tenant_currency()
        value = money_input(value, currency=currency, what="The coupon amount").amount
    if expires_at and valid_from and expires_at <= valid_from:
        raise BillingError("The coupon expires before it starts.")
    for limit in (max_uses, max_uses_per_client):
        if limit is not None and limit < 1:
            raise BillingError("A usage limit is at least 1 (or none).")
    coupon = Coupon.objects.create(
        code=code,
        kind=kind,
        value=value,
        currency=currency,
        applies_to=applies_to,
        valid_from=valid_from,
        expires_at=expires_at,
        max_uses=max_uses,
        max_uses_per_client=max_uses_per_client,
    )
    coupon.plans.set(plans)
    return coupon


def coupon_check(
    *,
    coupon: Coupon,
    client: Client | None,
    plans: list[Plan] | None = None,
    now: datetime | None = None,
) -> Coupon:
    """Raises BillingError when the coupon cannot be used now, by this client, on any of
    these plans. Checkout calls it again with the coupon row locked."""
    now = now or timezone.now()
    if not coupon.is_active:
        raise BillingError(f"The coupon {coupon.code} is no longer valid.")
    if coupon.valid_from and now < coupon.valid_from:
        raise BillingError(f"The coupon {coupon.code} is not valid yet.")
    if coupon.expires_at and now >= coupon.expires_at:
        raise BillingError(f"The coupon {coupon.code} has expired.")
    if coupon.max_uses is not None and coupon.redemptions.count() >= coupon.max_uses:
        raise BillingError(f"The coupon {coupon.code} has been used up.")
    if (
        client is not None
        and coupon.max_uses_per_client is not None
        and coupon.redemptions.filter(client=client).count() >= coupon.max_uses_per_client
    ):
        raise BillingError(f"You have already used the coupon {coupon.code}.")
    if plans is not None:
        allowed = set(coupon.plans.values_list("pk", flat=True))
        if allowed and not any(plan.pk in allowed for plan in plans):
            raise BillingError(f"The coupon {coupon.code} does not apply to these products.")
    return coupon


def _coupon_discount(coupon: Coupon | None, plan: Plan, price: Money) -> Money:
    if coupon is None or price.amount <= 0:
        return Money.zero(price.currency)
    allowed = {p.pk for p in coupon.plans.all()}
    if allowed and plan.pk not in allowed:
        return Money.zero(price.currency)
    if coupon.kind == Coupon.Kind.PERCENT:
        return Money.of(price.amount * coupon.value / 100, price.currency)
    return min(Money(coupon.value, price.currency), price)


# --- cart ----------------------------------------------------------------------------


def cart_create(*, client: Client | None = None, session_key: str = "") -> Cart:
    if client is None and not session_key:
        raise BillingError("A cart belongs to a client or to a browser session.")
    return Cart.objects.create(client=client, session_key=session_key)


def _cart_open(cart: Cart) -> Cart:
    cart = Cart.objects.select_for_update().get(pk=cart.pk)
    if cart.status != Cart.Status.OPEN:
        raise BillingError("This cart has already been checked out.")
    return cart


def _stock_message(product: Product, wanted: int) -> str:
    if product.stock == 0:
        return gettext("“%(product)s” is sold out.") % {"product": product.display_name}
    return ngettext(
        "Only %(count)d of “%(product)s” is left; you asked for %(wanted)d.",
        "Only %(count)d of “%(product)s” are left; you asked for %(wanted)d.",
        product.stock,
    ) % {"count": product.stock, "product": product.display_name, "wanted": wanted}


@transaction.atomic
def cart_item_add(
    *,
    cart: Cart,
    plan: Plan,
    cycle: str,
    quantity: int = 1,
    domain_name: str = "",
    options: dict[ConfigurableOption, ConfigurableOptionChoice | tuple[Any, int]] | None = None,
    domain_action: str = "",
    auth_code: str = "",
) -> CartItem:
    """``options`` maps an option to a choice, or for quantity options to
    (choice, quantity). A domain plan's item registers its name, or with
    ``domain_action="transfer"`` transfers it in with its ``auth_code`` (one year added,
    the ``annual`` cycle)."""
    cart = _cart_open(cart)
    if cycle not in BillingCycle.values:
        raise BillingError(f"“{cycle}” is not a billing cycle.")
    product = plan.product
    if not (plan.is_active and product.is_active):
        raise BillingError(f"“{plan}” is not sold any more.")
    if not PlanPrice.objects.filter(plan=plan, cycle=cycle).exists():
        raise BillingError(f"“{plan}” is not sold {BillingCycle(cycle).label.lower()}.")
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise BillingError("The quantity is a whole number.")
    if not (1 <= quantity <= MAX_ITEM_QUANTITY):
        raise BillingError(f"The quantity is between 1 and {MAX_ITEM_QUANTITY}.")
    domain_name = (domain_name or "").strip().lower().rstrip(".")
    if product.requires_domain:
        if not DOMAIN_RE.match(domain_name):
            raise BillingError(f"“{domain_name}” is not a domain name like example.com.")
        if quantity != 1:
            raise BillingError("A domain is ordered once.")
    elif domain_name and not DOMAIN_RE.match(domain_name):
        raise BillingError(f"“{domain_name}” is not a domain name like example.com.")
    auth_code = (auth_code or "").strip()
    if domain_action not in ("", *DomainAction.values):
        raise BillingError(f"“{domain_action}” is not something done with a domain.")
    if domain_action and not product.requires_domain:
        raise BillingError(f"“{plan}” is not a domain.")
    if product.stock is not None:
        # Checked again under a lock at checkout; here the buyer learns it before paying.
        in_cart = sum(cart.items.filter(plan__product=product).values_list("quantity", flat=True))
        if product.stock < in_cart + quantity:
            raise BillingError(_stock_message(product, in_cart + quantity))
    if product.requires_domain:
        domain_action = domain_action or DomainAction.REGISTER
        if cart.items.filter(domain_name=domain_name, plan__product__type=product.type).exists():
            raise BillingError(f"{domain_name} is already in your cart.")
    if domain_action == DomainAction.TRANSFER:
        if cycle != BillingCycle.ANNUAL:
            raise BillingError("A transfer adds one year to the domain.")
        if not 6 <= len(auth_code) <= 255 or not auth_code.isprintable():
            raise BillingError("Type the domain's auth code, as its current registrar gave it.")
        if not DomainPrice.objects.filter(plan=plan).exists():
            raise BillingError(f"“{plan}” cannot be transferred in here.")
    elif auth_code:
        raise BillingError("Only a transfer takes an auth code.")
    item = CartItem.objects.create(
        cart=cart,
        plan=plan,
        cycle=cycle,
        quantity=quantity,
        domain_name=domain_name,
        domain_action=domain_action,
        domain_auth_code_encrypted=secret_encrypt(auth_code) if auth_code else "",
    )
    offered = set(plan.configurable_options.values_list("pk", flat=True))
    for option, picked in (options or {}).items():
        choice, count = picked if isinstance(picked, tuple) else (picked, 1)
        if option.pk not in offered:
            raise BillingError(f"“{option}” is not offered with “{plan}”.")
        if choice.option_id != option.pk:
            raise BillingError(f"“{choice}” is not a choice of “{option}”.")
        if option.kind == ConfigurableOption.Kind.SELECT and count != 1:
            raise BillingError(f"“{option}” takes one choice.")
        if not (isinstance(count, int) and 1 <= count <= option.max_quantity):
            raise BillingError(f"“{option}” takes 1 to {option.max_quantity}.")
        if not ConfigurableOptionPrice.objects.filter(choice=choice, cycle=cycle).exists():
            raise BillingError(f"“{choice}” has no {cycle} price.")
        CartItemOption.objects.create(item=item, option=option, choice=choice, quantity=count)
    return item


@transaction.atomic
def cart_item_domain_set(*, item: CartItem, domain_name: str, own: bool = False) -> CartItem:
    """The domain a hosting item is set up with, chosen in the storefront's domain step:
    one the cart registers or transfers in (its domain item is added first), or with
    ``own`` one the client already holds, which only a plan that offers a domain takes.
    ``domain_name`` is in A-labels (the caller converts a Unicode name with idna)."""
    cart = _cart_open(item.cart)
    item = CartItem.objects.select_related("plan__product").get(pk=item.pk, cart=cart)
    policy = item.plan.domain_policy
    if policy == DomainPolicy.NONE or item.plan.product.requires_domain:
        raise BillingError(gettext("“%(plan)s” is not set up with a domain.") % {"plan": item.plan})
    domain_name = (domain_name or "").strip().lower().rstrip(".")
    if not DOMAIN_RE.match(domain_name):
        raise BillingError(
            gettext("“%(domain)s” is not a domain name like example.com.") % {"domain": domain_name}
        )
    if own:
        if policy != DomainPolicy.OFFER:
            raise BillingError(
                gettext("“%(plan)s” needs a domain registered or transferred with it.")
                % {"plan": item.plan}
            )
    elif not _domain_items(cart).filter(domain_name=domain_name).exists():
        raise BillingError(
            gettext("Put the registration or the transfer of %(domain)s in your cart first.")
            % {"domain": domain_name}
        )
    item.domain_name = domain_name
    item.save(update_fields=["domain_name"])
    return item


def _domain_items(cart: Cart):
    return cart.items.filter(plan__product__type=Product.Type.DOMAIN)


def cart_domain_missing(*, cart: Cart) -> list[CartItem]:
    """The cart's hosting items whose plan requires a domain and that have none: no
    registration or transfer of their domain in the same cart."""
    held = set(_domain_items(cart).values_list("domain_name", flat=True))
    return [
        item
        for item in cart.items.filter(plan__domain_policy=DomainPolicy.REQUIRE).select_related(
            "plan__product"
        )
        if not item.domain_name or item.domain_name not in held
    ]


@transaction.atomic
def cart_item_remove(*, item: CartItem) -> None:
    _cart_open(item.cart)
    item.delete()


@transaction.atomic
def cart_coupon_apply(*, cart: Cart, code: str) -> Coupon:
    cart = _cart_open(cart)
    coupon = Coupon.objects.filter(code=(code or "").strip().upper()).first()
    if coupon is None:
        raise BillingError(f"There is no coupon “{code}”.")
    plans = [item.plan for item in cart.items.select_related("plan")]
    coupon_check(coupon=coupon, client=cart.client, plans=plans or None)
    cart.coupon = coupon
    cart.save(update_fields=["coupon", "updated_at"])
    return coupon


@transaction.atomic
def cart_coupon_remove(*, cart: Cart) -> Cart:
    cart = _cart_open(cart)
    cart.coupon = None
    cart.save(update_fields=["coupon", "updated_at"])
    return cart


# --- pricing -------------------------------------------------------------------------


@dataclass(frozen=True)
class PricedItem:
    item: CartItem
    description: str
    price: Money  # one period of the plan and options, one unit
    setup_fee: Money
    discount: Money  # off the first period, one unit
    recurring: Money  # every later period, one unit
    options: list[dict] = field(default_factory=list)

    @property
    def first_charge(self) -> Money:
        return self.price - self.discount + self.setup_fee


@dataclass(frozen=True)
class CartPrice:
    items: list[PricedItem]
    currency: str

    @property
    def subtotal(self) -> Money:
        return sum(
            ((i.price + i.setup_fee) * i.item.quantity for i in self.items),
            Money.zero(self.currency),
        )

    @property
    def discount(self) -> Money:
        return sum((i.discount * i.item.quantity for i in self.items), Money.zero(self.currency))


def cart_price(*, cart: Cart, coupon: Coupon | None = None) -> CartPrice:
    """What the cart's items cost, in the tenant's price convention, before tax (tax
    depends on the buyer and is computed on the invoice)."""
    currency = tenant_currency()
    coupon = coupon if coupon is not None else cart.coupon
    priced = []
    items = cart.items.select_related("plan__product").prefetch_related("options__choice__option")
    for item in items:
        plan_price = PlanPrice.objects.filter(plan=item.plan, cycle=item.cycle).first()
        if plan_price is None:
            raise BillingError(f"“{item.plan}” is no longer sold {item.cycle}.")
        price, setup = plan_price.price, plan_price.setup_fee
        chosen = []
        for selected in item.options.all():
            option_price = ConfigurableOptionPrice.objects.filter(
                choice=selected.choice, cycle=item.cycle
            ).first()
            if option_price is None:
                raise BillingError(f"“{selected.choice}” is no longer sold {item.cycle}.")
            price += option_price.price * selected.quantity
            setup += option_price.setup_fee * selected.quantity
            chosen.append(
                {
                    "option_id": selected.option_id,
                    "choice_id": selected.choice_id,
                    "name": selected.choice.display_title,
                    "quantity": selected.quantity,
                }
            )
        renewal = price
        if item.domain_action:
            price, renewal = _domain_prices(item, price)
        discount = _coupon_discount(coupon, item.plan, price)
        recurring = (
            renewal - _coupon_discount(coupon, item.plan, renewal)
            if (coupon is not None and coupon.applies_to == Coupon.AppliesTo.RECURRING)
            else renewal
        )
        label = BillingCycle(item.cycle).label
        # In the buyer's language, as the cycle's label: the tenant's translated names.
        description = f"{item.plan.display_title} – {label}"
        if item.domain_action == DomainAction.TRANSFER:
            description = f"{item.plan.display_title} – {DomainAction.TRANSFER.label}"
        if item.domain_name:
            description += f" – {item.domain_name}"
        if chosen:
            description += (
                " ("
                + ", ".join(
                    f"{c['name']} × {c['quantity']}" if c["quantity"] > 1 else c["name"]
                    for c in chosen
                )
                + ")"
            )
        priced.append(PricedItem(item, description, price, setup, discount, recurring, chosen))
    return CartPrice(priced, currency)


def _domain_prices(item: CartItem, registration: Money) -> tuple[Money, Money]:
    """A domain's first charge and its renewals: a transfer costs the plan's transfer
    price, and every renewal its renewal price per year (the registration's price when
    the plan names none)."""
    domain_price = DomainPrice.objects.filter(plan=item.plan).first()
    if domain_price is None:
        return registration, registration
    years = CYCLE_MONTHS.get(item.cycle, 12) // 12 or 1
    renewal = domain_price.renew * years
    if item.domain_action == DomainAction.TRANSFER:
        return domain_price.transfer, renewal
    return registration, renewal


# --- checkout ------------------------------------------------------------------------


# Invoice line texts written here, marked for translation; rendered in the invoice's
# language by _in_language.
LINE_TEXTS = (gettext_noop("Setup fee – %(item)s"), gettext_noop("Coupon %(code)s"))


def _in_language(language: str, text: str, *, plan: Plan | None = None, code: str = "") -> str:
    """An invoice line's text in the invoice's language, as its legal mention and the
    rest of the document are; a plan is named by its translated name too."""
    with translation.override(language):
        return gettext(text) % {"item": plan.display_title if plan else "", "code": code}


@dataclass(frozen=True)
class TermsAcceptance:
    """The buyer ticked "I accept" for this version of the terms, at ``at``, from
    ``ip_address`` (None when the address is unknown)."""

    version: TermsVersion
    at: datetime
    ip_address: str | None


@transaction.atomic
def checkout_place(
    *,
    cart: Cart,
    client: Client,
    idempotency_key: str | None = None,
    on_date: date | None = None,
    location_evidence: dict[str, Any] | None = None,
    terms_accepted: TermsAcceptance | None = None,
) -> Order:
    """Turns the cart into an order, its pending services and an issued invoice.
    ``location_evidence`` (billing.geo) is kept with the invoice as proof of where the
    buyer is; ``terms_accepted`` is recorded with the order as proof of the contract.
    Limited stock is taken under a row lock, so two buyers never get the last unit
    both; a coupon's limits are checked under its lock for the same reason."""
    if idempotency_key:
        existing = Order.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.client_id != client.pk:
                raise BillingError("This idempotency key was already used for another order.")
            return existing
    cart = _cart_open(cart)
    if cart.client_id is not None and cart.client_id != client.pk:
        raise BillingError("This cart belongs to another client.")
    if client.status != Client.Status.ACTIVE:
        raise BillingError(f"{client} cannot order: the account is not active.")
    items = list(cart.items.select_related("plan__product"))
    if not items:
        raise BillingError("The cart is empty.")
    missing = cart_domain_missing(cart=cart)
    if missing:
        raise BillingError(
            gettext(
                "“%(plan)s” needs a domain: register one or transfer one in for it in the "
                "same order."
            )
            % {"plan": missing[0].plan}
        )

    needed: dict[int, int] = defaultdict(int)
    for item in items:
        needed[item.plan.product_id] += item.quantity
    limited = Product.objects.select_for_update().filter(pk__in=needed, stock__isnull=False)
    for product in limited.order_by("pk"):
        if product.stock < needed[product.pk]:
            raise BillingError(_stock_message(product, needed[product.pk]))
        product.stock -= needed[product.pk]
        product.save(update_fields=["stock"])

    coupon = None
    if cart.coupon_id is not None:
        coupon = Coupon.objects.select_for_update().get(pk=cart.coupon_id)
        coupon_check(coupon=coupon, client=client, plans=[item.plan for item in items])

    pricing = cart_price(cart=cart, coupon=coupon)
    currency = pricing.currency
    on_date = on_date or today()
    order = Order.objects.create(
        client=client,
        currency=currency,
        coupon=coupon,
        subtotal_amount=pricing.subtotal.amount,
        discount_amount=pricing.discount.amount,
        idempotency_key=idempotency_key or None,
        terms_version=terms_accepted.version if terms_accepted else None,
        terms_accepted_at=terms_accepted.at if terms_accepted else None,
        terms_accepted_ip=terms_accepted.ip_address if terms_accepted else None,
    )
    invoice = invoice_create(client=client)
    for priced in pricing.items:
        item = priced.item
        order_item = OrderItem.objects.create(
            order=order,
            plan=item.plan,
            cycle=item.cycle,
            quantity=item.quantity,
            domain_name=item.domain_name,
            domain_action=item.domain_action,
            domain_auth_code_encrypted=item.domain_auth_code_encrypted,
            description=priced.description[:500],
            currency=currency,
            price_amount=priced.price.amount,
            setup_fee_amount=priced.setup_fee.amount,
            discount_amount=priced.discount.amount,
            recurring_amount=priced.recurring.amount,
            options=priced.options,
        )
        period_end = cycle_end(on_date, item.cycle)
        for _unit in range(item.quantity):
            service = Service.objects.create(
                client=client,
                plan=item.plan,
                order_item=order_item,
                billing_cycle=item.cycle,
                currency=currency,
                recurring_amount=priced.recurring.amount,
                domain_name=item.domain_name,
                registration_date=on_date,
                next_due_date=period_end,
            )
            ServiceOption.objects.bulk_create(
                ServiceOption(
                    service=service,
                    option_id=o["option_id"],
                    choice_id=o["choice_id"],
                    quantity=o["quantity"],
                )
                for o in priced.options
            )
            period = f" ({on_date:%Y-%m-%d} – {period_end:%Y-%m-%d})" if period_end else ""
            invoice_line_add(
                invoice=invoice,
                kind=InvoiceLine.Kind.SERVICE,
                description=priced.description + period,
                unit_price=priced.price,
                service=service,
                period_start=on_date,
                period_end=period_end,
            )
            if priced.discount.amount > 0:
                invoice_line_add(
                    invoice=invoice,
                    kind=InvoiceLine.Kind.DISCOUNT,
                    description=_in_language(invoice.language, "Coupon %(code)s", code=coupon.code),
                    unit_price=-priced.discount,
                    service=service,
                    period_start=on_date,
                    period_end=period_end,
                )
            if priced.setup_fee.amount > 0:
                invoice_line_add(
                    invoice=invoice,
                    kind=InvoiceLine.Kind.SETUP_FEE,
                    description=_in_language(
                        invoice.language, "Setup fee – %(item)s", plan=item.plan
                    ),
                    unit_price=priced.setup_fee,
                    service=service,
                )
    invoice = invoice_issue(
        invoice=invoice, issue_date=on_date, location_evidence=location_evidence
    )
    order.invoice = invoice
    order.tax_total_amount = invoice.tax_total_amount
    order.total_amount = invoice.total_amount
    if invoice.status == invoice.Status.PAID:
        order.status = Order.Status.COMPLETED
    order.save(update_fields=["invoice", "tax_total_amount", "total_amount", "status"])
    if coupon is not None:
        CouponRedemption.objects.create(coupon=coupon, client=client, order=order)
    cart.status = Cart.Status.CHECKED_OUT
    cart.client = client
    cart.save(update_fields=["status", "client", "updated_at"])
    order_event_emit(kind=OrderEventKind.PLACED, order_id=order.pk)
    return order
