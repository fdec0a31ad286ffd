"""Wholesale options in the reseller's catalogue: imported with the plans they are sold
with, marked up by the same rules, linked to the upstream option; the console tells
resold options from the reseller's own; a change at the provider is announced, never
applied to the reseller's prices."""

from decimal import Decimal

import pytest
from django.core import mail
from django_tenants.utils import schema_context

from billing import services
from billing.models import ConfigurableOption, ConfigurableOptionPrice
from billing.money import Money
from resale.catalogue_import import Markup, wholesale_plans_import
from resale.tasks import wholesale_option_changed_task
from tests.resale.factories import account_on, wholesale_catalogue, wholesale_options

pytestmark = pytest.mark.django_db


@pytest.fixture
def offer(tenant_a):
    catalogue = wholesale_catalogue(code_prefix="oc-")
    wholesale_options(
        price_list=catalogue["price_list"], plans=[catalogue["vps-1"]], code_prefix="oc-"
    )
    account_on(tenant_a.tenant, catalogue["price_list"])
    return catalogue


def test_options_come_with_their_plan_marked_up_and_linked(offer, tenant_a):
    with schema_context(tenant_a.schema):
        result = wholesale_plans_import(
            tenant=tenant_a.tenant, codes=["oc-vps-1"], markup=Markup("percent", Decimal(30))
        )
        assert {o.upstream_option_ref for o in result.options} == {"oc-ram", "oc-ipv4"}
        ram = ConfigurableOption.objects.get(upstream_option_ref="oc-ram")
        prices = {
            (p.choice.upstream_choice_ref, p.cycle): p.price_amount
            for p in ConfigurableOptionPrice.objects.filter(choice__option=ram)
        }
        # 3.00 and 5.00 a month, +30 %, rounded up to .99.
        assert prices[("2gb", "monthly")] == Decimal("3.99")
        assert prices[("4gb", "monthly")] == Decimal("6.99")
        assert list(ram.plans.values_list("upstream_plan_ref", flat=True)) == ["oc-vps-1"]
        assert ConfigurableOption.objects.get(upstream_option_ref="oc-ipv4").kind == "quantity"
        # Importing again reprices instead of duplicating.
        wholesale_plans_import(
            tenant=tenant_a.tenant, codes=["oc-vps-1"], markup=Markup("fixed", Decimal(1), "none")
        )
        assert ConfigurableOption.objects.filter(upstream_option_ref="oc-ram").count() == 1
        assert ConfigurableOptionPrice.objects.get(
            choice__upstream_choice_ref="2gb", choice__option=ram, cycle="monthly"
        ).price_amount == Decimal("4.00")
        services.configurable_option_create(
            name="Priority support", choices={"Yes": {"monthly": Money(Decimal(9), "EUR")}}
        )
    page = tenant_a.client(tenant_a.owner).get("/console/catalogue/").content.decode()
    assert "oc-ram" in page and "Resold" in page
    assert "Priority support" in page and "never sent to the provider" in page


def test_a_changed_option_is_announced_and_prices_stay(offer, tenant_a):
    with schema_context(tenant_a.schema):
        wholesale_plans_import(
            tenant=tenant_a.tenant, codes=["oc-vps-1"], markup=Markup("percent", Decimal(30))
        )
        assert wholesale_option_changed_task("oc-ram", "Extra RAM", True, 2)
        price = ConfigurableOptionPrice.objects.get(
            choice__upstream_choice_ref="2gb", cycle="monthly"
        )
        assert price.price_amount == Decimal("3.99")
        assert not wholesale_option_changed_task("oc-unknown", "Nothing", True, 2)
    assert "have not been changed" in mail.outbox[-1].body
    assert tenant_a.owner.email in mail.outbox[-1].to
