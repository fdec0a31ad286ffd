"""The provider's own retail brand buys through the same path as every reseller, at cost:
its account can only be on a price list marked as the provider's cost, and its debit for
plan + options is that list's price, never a reseller list's markup."""

from decimal import Decimal

import pytest

from billing.money import Money
from provisioning.models import PlanMapping, ServerGroup
from provisioning.services import server_create
from resale.models import BalanceEntry, PriceList, WholesaleOptionPrice, WholesalePrice
from resale.reseller_accounts import reseller_account_terms_set
from resale.services import (
    ResaleError,
    reseller_account_create,
    reseller_balance,
    reseller_balance_topup,
    upstream_command_accept,
)
from resale.wholesale import price_list_save
from tenants.models import Tenant
from tests.resale.factories import account_on, wholesale_catalogue, wholesale_options


@pytest.fixture
def retail(db, tenant_a):
    """Tenant A as the provider's retail brand, on a cost list; a reseller list sells the
    same plan and options half as dear again."""
    # Changed in the database only (rolled back after the test): the session's tenant
    # objects stay as the other tests know them.
    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(kind=Tenant.Kind.RETAIL)
    catalogue = wholesale_catalogue(code_prefix="rc-")
    cost = catalogue["price_list"]
    PriceList.objects.filter(pk=cost.pk).update(is_cost=True)
    cost.refresh_from_db()
    options = wholesale_options(price_list=cost, plans=[catalogue["web-s"]], code_prefix="rc-")
    marked_up = PriceList.objects.create(name="Resellers +50%", currency="EUR")
    for row in WholesalePrice.objects.filter(price_list=cost):
        WholesalePrice.objects.create(
            price_list=marked_up,
            plan=row.plan,
            cycle=row.cycle,
            price_amount=row.price_amount * Decimal("1.5"),
            currency="EUR",
        )
    for row in WholesaleOptionPrice.objects.filter(price_list=cost):
        WholesaleOptionPrice.objects.create(
            price_list=marked_up,
            choice=row.choice,
            cycle=row.cycle,
            price_amount=row.price_amount * Decimal("1.5"),
            currency="EUR",
        )
    group = ServerGroup.objects.create(name="sim-rc", module="simulated")
    server_create(group=group, name="rc-node", hostname="rc.panel.test", port=443)
    PlanMapping.objects.create(plan_code="rc-web-s", group=group, package="web-s")
    account = account_on(Tenant.objects.get(pk=tenant_a.tenant.pk), cost)
    reseller_balance_topup(account=account, amount="50.00", reference="x", idempotency_key="t")
    return account, cost, marked_up, options


def _order(account, key: str) -> dict:
    return upstream_command_accept(
        account=account,
        idempotency_key=key,
        action="create",
        payload={
            "plan": "rc-web-s",
            "cycle": "monthly",
            "client_ref": "c-1",
            "options": [
                {"option": "rc-ram", "choice": "4gb", "quantity": 1},
                {"option": "rc-ipv4", "choice": "ip", "quantity": 2},
            ],
        },
    ).response


def test_the_retail_brand_is_debited_the_cost_of_plan_and_options(retail):
    account, _cost, _marked_up, _options = retail
    _order(account, "k1")
    # Cost: plan 2.50 + RAM 5.00 + two addresses at 1.50; the reseller list would say 15.75.
    assert reseller_balance(account=account) == Money(Decimal("50.00") - Decimal("10.50"), "EUR")
    debit = BalanceEntry.objects.get(account=account, kind=BalanceEntry.Kind.ORDER_DEBIT)
    assert debit.amount == Money(Decimal("-10.50"), "EUR")


def test_the_retail_brand_cannot_be_put_on_a_marked_up_list(retail):
    account, cost, marked_up, _options = retail
    for price_list in (marked_up, None):
        with pytest.raises(ResaleError, match="at cost"):
            reseller_account_terms_set(
                account=account,
                credit_limit=Decimal(0),
                low_balance_threshold=Decimal(0),
                price_list=price_list,
            )
    account.refresh_from_db()
    assert account.price_list_id == cost.pk
    # Nor can its cost list stop being one while the brand buys on it.
    with pytest.raises(ResaleError, match="at cost"):
        price_list_save(
            price_list=cost, name=cost.name, currency="EUR", is_default=False, is_cost=False
        )
    assert PriceList.objects.get(pk=cost.pk).is_cost


def test_an_account_moved_off_cost_behind_the_services_back_orders_nothing(retail):
    """A row changed by hand: the brand's commands are refused rather than debited with a
    reseller's markup, and the balance does not move."""
    account, _cost, marked_up, _options = retail
    account.__class__.objects.filter(pk=account.pk).update(price_list=marked_up)
    account.refresh_from_db()
    with pytest.raises(ResaleError) as refused:
        _order(account, "k2")
    assert refused.value.code == "not_at_cost"
    assert reseller_balance(account=account) == Money(Decimal("50.00"), "EUR")


def test_a_new_retail_account_starts_on_the_cost_list(retail, tenant_b):
    _account, cost, marked_up, _options = retail
    Tenant.objects.filter(pk=tenant_b.tenant.pk).update(kind=Tenant.Kind.RETAIL)
    brand = Tenant.objects.get(pk=tenant_b.tenant.pk)
    account_model = _account.__class__
    account_model.objects.filter(tenant=brand).delete()
    with pytest.raises(ResaleError, match="at cost"):
        reseller_account_create(tenant=brand, legal_name="B", price_list=marked_up)
    PriceList.objects.filter(is_cost=True).exclude(pk=cost.pk).update(is_cost=False)
    created = reseller_account_create(tenant=brand, legal_name="B")
    assert created.price_list_id == cost.pk
