"""Wholesale options edited in the provider console, from the page of the plan they are
sold with: choices with what each sets on the server, wholesale prices per price list and
cycle, the import preview with the reseller's markup, and a change told to the resellers
who sell the option, never applied to their prices."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from accounts.models import User
from billing.models import ConfigurableOptionPrice
from resale.catalogue_import import Markup, wholesale_plans_import
from resale.models import (
    ResellerAccount,
    WholesaleOption,
    WholesaleOptionChoice,
    WholesaleOptionPrice,
    WholesalePlan,
)
from tests.portals.test_provider_console import _console
from tests.resale.factories import account_on, wholesale_catalogue, wholesale_options

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return _console()


@pytest.fixture
def account(tenant_a) -> ResellerAccount:
    catalogue = wholesale_catalogue(code_prefix="po-")
    return account_on(tenant_a.tenant, catalogue["price_list"])


def _choice(index: int, **values) -> dict:
    return {f"choices-{index}-{name}": value for name, value in values.items()}


def _price(index: int, **values) -> dict:
    return {f"prices-{index}-{name}": value for name, value in values.items()}


def _option_data(plan: WholesalePlan, *, choices: int, prices: int, **fields) -> dict:
    return {
        "code": "po-backup",
        "name": "Daily backups",
        "kind": "select",
        "max_quantity": "1",
        "is_active": "on",
        "plans": [str(plan.pk)],
        "choices-TOTAL_FORMS": str(choices),
        "choices-INITIAL_FORMS": "0",
        "prices-TOTAL_FORMS": str(prices),
        "prices-INITIAL_FORMS": "0",
        **fields,
    }


def test_an_option_is_made_on_its_plan_page_with_choices_settings_and_prices(owner, account):
    plan = WholesalePlan.objects.get(code="po-web-s")
    form = owner.get(f"/provider/catalogue/{plan.pk}/options/new/").content.decode()
    # The plan it is made from is ticked; the kind is a choice, not free text.
    assert f'value="{plan.pk}" id="id_plans_' in form and "checked" in form
    assert '<option value="quantity"' in form
    data = _option_data(
        plan,
        choices=2,
        prices=0,
        **_choice(0, code="7d", name="7 days", backups="7", addons="backup-agent"),
        **_choice(1, code="30d", name="30 days", backups="30", disk_gb="20"),
    )
    response = owner.post(f"/provider/catalogue/{plan.pk}/options/new/", data)
    option = WholesaleOption.objects.get(code="po-backup")
    assert response.status_code == 302
    assert response["Location"] == f"/provider/catalogue/{plan.pk}/options/{option.pk}/"
    assert list(option.plans.all()) == [plan]
    assert WholesaleOptionChoice.objects.get(option=option, code="7d").settings == {
        "backups": 7,
        "addons": ["backup-agent"],
    }

    # Priced once its choices exist: the choice is picked from them.
    page = owner.get(response["Location"]).content.decode()
    assert '<option value="30d">30 days</option>' in page
    data = _option_data(
        plan,
        choices=2,
        prices=2,
        **_choice(0, code="7d", name="7 days", backups="7", addons="backup-agent"),
        **_choice(1, code="30d", name="30 days", backups="30", disk_gb="20"),
        **_price(0, choice="7d", price_list=account.price_list_id, cycle="monthly", price="2"),
        **_price(
            1,
            choice="30d",
            price_list=account.price_list_id,
            cycle="monthly",
            price="4.5",
            setup_fee="1",
        ),
    )
    assert owner.post(response["Location"], data).status_code == 302
    assert WholesaleOptionPrice.objects.get(choice__code="30d").price_amount == Decimal("4.50")

    plan_page = owner.get(f"/provider/catalogue/{plan.pk}/").content.decode()
    assert "Daily backups" in plan_page
    assert "Disk (GB): 20, Backup slots: 30" in plan_page
    # The import preview marks the option up as the plan: 4.50 + 30 % → 5.99, 1 → 1.99.
    assert "Daily backups: 30 days" in plan_page
    assert "€5.99" in plan_page and "€1.99" in plan_page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "quantity"}, "A quantity option has exactly one choice"),
        (_choice(1, code="7d", name="again"), "Two choices have the same code"),
        (_choice(0, code="Not a slug!", name="x"), "Enter a valid"),
        (_choice(0, backups="-1"), "greater than or equal to 0"),
        (_price(0, choice="7d", cycle="monthly", price="-2"), "Prices cannot be negative"),
        (_price(0, choice="nope", cycle="monthly", price="2"), "Select a valid choice"),
        ({"plans": []}, "This field is required"),
        ({"code": "po-ram"}, "Another option already has this code"),
    ],
)
def test_bad_input_is_said_and_changes_nothing(owner, account, changes, message):
    plan = WholesalePlan.objects.get(code="po-web-s")
    wholesale_options(price_list=account.price_list, plans=[plan], code_prefix="po-")
    data = _option_data(
        plan,
        choices=2,
        prices=1,
        **_choice(0, code="7d", name="7 days", backups="7"),
        **_choice(1, code="30d", name="30 days", backups="30"),
        **_price(0, price_list=account.price_list_id),
    )
    data |= changes
    if "prices-0-choice" not in changes:
        data |= _price(0, choice="7d", cycle="monthly", price="2")
    before = WholesaleOption.objects.count()
    response = owner.post(f"/provider/catalogue/{plan.pk}/options/new/", data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert WholesaleOption.objects.count() == before
    assert not WholesaleOptionChoice.objects.filter(code="7d").exists()


def test_a_change_is_told_to_the_resellers_who_sell_it_and_reprices_nobody(
    owner, account, tenant_a, django_capture_on_commit_callbacks
):
    plan = WholesalePlan.objects.get(code="po-vps-1")
    options = wholesale_options(price_list=account.price_list, plans=[plan], code_prefix="po-")
    ram = options["ram"]
    with schema_context(tenant_a.schema):
        wholesale_plans_import(
            tenant=tenant_a.tenant, codes=["po-vps-1"], markup=Markup("percent", Decimal(30))
        )
    path = f"/provider/catalogue/{plan.pk}/options/{ram.pk}/"
    page = owner.get(path).content.decode()
    assert 'value="2048"' in page  # the choice's RAM, in its own field
    data = _option_data(
        plan,
        choices=2,
        prices=4,
        code="po-ram",
        name="Extra RAM",
        **_choice(0, code="2gb", name="+2 GB", ram_mb="2048"),
        **_choice(1, code="4gb", name="+4 GB", ram_mb="4096"),
    )
    for index, (choice, cycle, price) in enumerate(
        [
            ("2gb", "monthly", "3.50"),
            ("2gb", "annual", "33"),
            ("4gb", "monthly", "5"),
            ("4gb", "annual", "55"),
        ]
    ):
        data |= _price(
            index, choice=choice, price_list=account.price_list_id, cycle=cycle, price=price
        )
    with django_capture_on_commit_callbacks() as told:
        assert owner.post(path, data).status_code == 302
    ram.refresh_from_db()
    assert ram.version == 2
    assert [callback() for callback in told] == [1]  # one reseller sells it, and hears
    # Saving again with nothing changed is no news.
    with django_capture_on_commit_callbacks() as told:
        owner.post(path, data)
    ram.refresh_from_db()
    assert (ram.version, told) == (2, [])
    with schema_context(tenant_a.schema):
        retail = ConfigurableOptionPrice.objects.get(
            choice__upstream_choice_ref="2gb", cycle="monthly"
        )
        assert retail.price_amount == Decimal("3.99")  # as imported from 3.00, unchanged


def test_roles_and_foreign_options(account):
    plan = WholesalePlan.objects.get(code="po-web-s")
    other = WholesalePlan.objects.get(code="po-vps-1")
    options = wholesale_options(price_list=account.price_list, plans=[other], code_prefix="po-")
    owner = _console()
    # An option is reached through a plan it is sold with.
    assert (
        owner.get(f"/provider/catalogue/{plan.pk}/options/{options['ram'].pk}/").status_code == 404
    )
    path = f"/provider/catalogue/{other.pk}/options/{options['ram'].pk}/"
    for role, edits in (
        (User.Role.BILLING, True),
        (User.Role.SUPPORT, False),
        (User.Role.READONLY, False),
    ):
        browser = _console(role)
        page = browser.get(path).content.decode()
        assert ("Save the option" in page) is edits
        assert (browser.post(path, {}).status_code == 403) is not edits
