"""Checkout: order, pending services, an issued invoice; stock and coupon rules."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from billing import services
from billing.errors import BillingError
from billing.models import (
    Cart,
    CouponRedemption,
    Invoice,
    InvoiceLine,
    Order,
    Product,
    Service,
)
from tests.billing.conftest import eur

pytestmark = pytest.mark.django_db

TODAY = date(2025, 3, 10)


def _cart(shop, *items, coupon: str | None = None, client=None):
    cart = services.cart_create(client=client or shop.client)
    for plan, cycle, kwargs in items:
        services.cart_item_add(cart=cart, plan=plan, cycle=cycle, **kwargs)
    if coupon:
        services.cart_coupon_apply(cart=cart, code=coupon)
    return cart


def test_checkout_writes_order_services_and_an_issued_invoice(shop):
    cart = _cart(
        shop,
        (shop.starter, "annual", {"quantity": 2}),
        (shop.domain, "annual", {"domain_name": "Example.COM"}),
    )
    order = services.checkout_place(cart=cart, client=shop.client, on_date=TODAY)
    assert order.status == Order.Status.PENDING
    invoice = order.invoice
    assert invoice.status == Invoice.Status.ISSUED and invoice.number
    # 2 × (100 + 5 setup) + 12 = 222 net, 22 % VAT
    assert invoice.subtotal == eur("222.00")
    assert invoice.total == eur("270.84")
    assert order.total == invoice.total and order.subtotal == eur("222.00")
    services_ = list(Service.objects.filter(order_item__order=order).order_by("pk"))
    assert [s.status for s in services_] == [Service.Status.PENDING] * 3
    assert {s.next_due_date for s in services_} == {date(2026, 3, 10)}
    assert services_[2].domain_name == "example.com"
    kinds = sorted(invoice.lines.values_list("kind", flat=True))
    assert kinds == ["service", "service", "service", "setup_fee", "setup_fee"]
    line = invoice.lines.filter(kind=InvoiceLine.Kind.SERVICE).first()
    assert (line.period_start, line.period_end) == (TODAY, date(2026, 3, 10))
    cart.refresh_from_db()
    assert cart.status == Cart.Status.CHECKED_OUT
    with pytest.raises(BillingError, match="already been checked out"):
        services.checkout_place(cart=cart, client=shop.client)


def test_paying_the_order_invoice_completes_the_order(shop):
    cart = _cart(shop, (shop.starter, "monthly", {}))
    order = services.checkout_place(cart=cart, client=shop.client)
    services.payment_record(
        invoice=order.invoice, amount=order.invoice.total, method="gateway", idempotency_key="k"
    )
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED


def test_checkout_is_idempotent_with_a_key(shop):
    cart = _cart(shop, (shop.starter, "monthly", {}))
    first = services.checkout_place(cart=cart, client=shop.client, idempotency_key="chk-1")
    again = services.checkout_place(cart=cart, client=shop.client, idempotency_key="chk-1")
    assert again.pk == first.pk and Order.objects.count() == 1


def test_stock_is_taken_and_never_oversold(shop):
    cart = _cart(shop, (shop.vps, "monthly", {"quantity": 2}))
    services.checkout_place(cart=cart, client=shop.client)
    assert Product.objects.get(pk=shop.vps.product_id).stock == 0
    another = _cart(shop, (shop.vps, "monthly", {}))
    with pytest.raises(BillingError, match="sold out"):
        services.checkout_place(cart=another, client=shop.client)
    assert Order.objects.count() == 1 and Invoice.objects.count() == 1


def test_bad_cart_input_is_refused(shop):
    cart = services.cart_create(client=shop.client)
    with pytest.raises(BillingError, match="not a billing cycle"):
        services.cart_item_add(cart=cart, plan=shop.starter, cycle="weekly")
    with pytest.raises(BillingError, match="not sold"):
        services.cart_item_add(cart=cart, plan=shop.vps, cycle="annual")
    with pytest.raises(BillingError, match="quantity"):
        services.cart_item_add(cart=cart, plan=shop.starter, cycle="monthly", quantity=0)
    with pytest.raises(BillingError, match="domain name"):
        services.cart_item_add(cart=cart, plan=shop.domain, cycle="annual", domain_name="nope")
    with pytest.raises(BillingError, match="empty"):
        services.checkout_place(cart=cart, client=shop.client)
    assert not cart.items.exists()


def test_a_cart_of_another_client_cannot_be_checked_out(shop):
    cart = _cart(shop, (shop.starter, "monthly", {}))
    with pytest.raises(BillingError, match="another client"):
        services.checkout_place(cart=cart, client=shop.business_de)


def test_options_are_priced_per_cycle_and_kept_on_the_service(shop):
    ram = services.configurable_option_create(
        name="Extra RAM",
        choices={"2 GB": {"monthly": eur(5)}, "4 GB": {"monthly": (eur(9), eur(1))}},
        plans=[shop.vps],
    )
    ips = services.configurable_option_create(
        name="IPv4 addresses",
        kind="quantity",
        max_quantity=4,
        choices={"1 address": {"monthly": eur(2)}},
        plans=[shop.vps],
    )
    four_gb = ram.choices.get(name="4 GB")
    address = ips.choices.get()
    cart = _cart(shop, (shop.vps, "monthly", {"options": {ram: four_gb, ips: (address, 3)}}))
    order = services.checkout_place(cart=cart, client=shop.client)
    service = Service.objects.get(order_item__order=order)
    assert service.recurring == eur(35)  # 20 + 9 + 3 × 2
    assert service.options.count() == 2
    assert order.invoice.subtotal == eur(36)  # 35 + 1 setup
    with pytest.raises(BillingError, match="takes 1 to 4"):
        services.cart_item_add(
            cart=services.cart_create(client=shop.client),
            plan=shop.vps,
            cycle="monthly",
            options={ips: (address, 5)},
        )


# --- coupons -----------------------------------------------------------------------


def test_percent_coupon_on_the_first_period_only(shop):
    services.coupon_create(code="WELCOME", kind="percent", value="25")
    cart = _cart(shop, (shop.starter, "annual", {}), coupon="welcome")
    order = services.checkout_place(cart=cart, client=shop.client)
    # 100 − 25 + 5 setup (the coupon does not touch setup fees)
    assert order.invoice.subtotal == eur(80)
    assert order.discount == eur(25)
    assert Service.objects.get(order_item__order=order).recurring == eur(100)
    assert CouponRedemption.objects.filter(order=order).exists()


def test_fixed_recurring_coupon_lowers_every_period(shop):
    services.coupon_create(code="LESS3", kind="fixed", value=eur(3), applies_to="recurring")
    cart = _cart(shop, (shop.starter, "monthly", {}), coupon="LESS3")
    order = services.checkout_place(cart=cart, client=shop.client)
    assert order.invoice.subtotal == eur(7)
    assert Service.objects.get(order_item__order=order).recurring == eur(7)


def test_a_fixed_coupon_never_makes_an_item_negative(shop):
    services.coupon_create(code="BIG", kind="fixed", value=eur(500))
    cart = _cart(shop, (shop.starter, "monthly", {}), coupon="BIG")
    order = services.checkout_place(cart=cart, client=shop.client)
    assert order.invoice.total == eur(0)
    assert order.invoice.status == Invoice.Status.PAID
    assert order.status == Order.Status.COMPLETED


def test_coupon_for_specific_plans(shop):
    services.coupon_create(code="PROONLY", kind="percent", value=50, plans=[shop.pro])
    with pytest.raises(BillingError, match="does not apply"):
        _cart(shop, (shop.starter, "monthly", {}), coupon="PROONLY")
    cart = _cart(shop, (shop.starter, "monthly", {}), (shop.pro, "monthly", {}), coupon="PROONLY")
    order = services.checkout_place(cart=cart, client=shop.client)
    assert order.discount == eur(15)  # half of Pro only


def test_expired_and_not_yet_valid_coupons_are_refused(shop):
    now = timezone.now()
    services.coupon_create(code="OLD", kind="percent", value=10, expires_at=now)
    services.coupon_create(code="SOON", kind="percent", value=10, valid_from=now + timedelta(1))
    with pytest.raises(BillingError, match="expired"):
        _cart(shop, (shop.starter, "monthly", {}), coupon="OLD")
    with pytest.raises(BillingError, match="not valid yet"):
        _cart(shop, (shop.starter, "monthly", {}), coupon="SOON")
    with pytest.raises(BillingError, match="no coupon"):
        _cart(shop, (shop.starter, "monthly", {}), coupon="NOPE")


def test_a_coupon_that_expires_in_the_cart_is_refused_at_checkout(shop):
    coupon = services.coupon_create(code="SHORT", kind="percent", value=10)
    cart = _cart(shop, (shop.starter, "monthly", {}), coupon="SHORT")
    coupon.expires_at = timezone.now()
    coupon.save()
    with pytest.raises(BillingError, match="expired"):
        services.checkout_place(cart=cart, client=shop.client)
    assert not Order.objects.exists() and not Invoice.objects.exists()
    assert Service.objects.count() == 0


def test_usage_limits_total_and_per_client(shop):
    services.coupon_create(code="ONCE", kind="percent", value=10, max_uses_per_client=1)
    services.coupon_create(code="TWO", kind="percent", value=10, max_uses=2)
    services.checkout_place(
        cart=_cart(shop, (shop.starter, "monthly", {}), coupon="ONCE"), client=shop.client
    )
    with pytest.raises(BillingError, match="already used"):
        _cart(shop, (shop.starter, "monthly", {}), coupon="ONCE")
    # Another client may still use it.
    other = _cart(shop, (shop.starter, "monthly", {}), coupon="ONCE", client=shop.exempt)
    services.checkout_place(cart=other, client=shop.exempt)
    for client in (shop.client, shop.exempt):
        services.checkout_place(
            cart=_cart(shop, (shop.starter, "monthly", {}), coupon="TWO", client=client),
            client=client,
        )
    with pytest.raises(BillingError, match="used up"):
        _cart(shop, (shop.starter, "monthly", {}), coupon="TWO", client=shop.business_de)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "percent", "value": 0}, "more than 0"),
        ({"kind": "percent", "value": 101}, "at most 100"),
        ({"kind": "percent", "value": 10.5}, "Decimal"),
        ({"kind": "fixed", "value": eur(-1)}, "negative"),
        ({"kind": "gift", "value": 1}, "not a kind"),
        ({"kind": "percent", "value": 10, "max_uses": 0}, "at least 1"),
    ],
)
def test_bad_coupons_are_refused(shop, kwargs, message):
    with pytest.raises(BillingError, match=message):
        services.coupon_create(code="BAD", **kwargs)
