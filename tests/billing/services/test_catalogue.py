from __future__ import annotations

import pytest

from billing import selectors, services
from billing.errors import BillingError
from billing.models import Plan, TaxRule
from tests.billing.conftest import eur

pytestmark = pytest.mark.django_db


def test_public_catalogue_hides_hidden_and_inactive_products(shop):
    group = shop.hosting.group
    services.product_create(group=group, name="Secret", visibility="hidden")
    names = {product.name for product in selectors.catalogue_public()}
    assert names == {"Web hosting", "VPS", "Domains"}


def test_plan_prices_per_cycle(shop):
    assert selectors.plan_price_get(plan=shop.starter, cycle="annual").setup_fee == eur(5)
    assert selectors.plan_price_get(plan=shop.starter, cycle="biennial") is None
    services.plan_price_set(plan=shop.starter, cycle="biennial", price=eur(180))
    assert selectors.plan_price_get(plan=shop.starter, cycle="biennial").price == eur(180)


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        ({}, "at least one"),
        ({"fortnightly": eur(1)}, "not a billing cycle"),
        ({"monthly": eur(-1)}, "negative"),
        ({"monthly": eur("0.001")}, "decimals"),
    ],
)
def test_bad_plans_are_refused_whole(shop, prices, message):
    before = Plan.objects.count()
    with pytest.raises(BillingError, match=message):
        services.plan_create(product=shop.hosting, name="Bad", prices=prices)
    assert Plan.objects.count() == before


def test_a_tax_rule_replaces_the_previous_one(shop):
    services.tax_rule_set(country="it", rate="10")
    assert TaxRule.objects.get(country="IT", is_active=True).rate == 10
    assert TaxRule.objects.filter(country="IT").count() == 2
    for rate in ("100", "-1", "abc", 22.5):
        with pytest.raises(BillingError):
            services.tax_rule_set(country="IT", rate=rate)
