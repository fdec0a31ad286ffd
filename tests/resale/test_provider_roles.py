"""Provider staff roles in the provider console: owners and administrators do all,
billing staff move reseller balances, support staff run servers and jobs, read-only
staff only look."""

from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User
from resale.models import PriceList, ResellerAccount
from resale.services import reseller_balance
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _console(role: str) -> Client:
    user = User.objects.create_user(
        f"{role}@provider.test",
        PASSWORD,
        kind=User.Kind.STAFF,
        role=role,
        is_staff=True,
    )
    browser = Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    browser.force_login(user)
    return browser


def _top_up(browser: Client, account: ResellerAccount):
    return browser.post(
        f"/admin/resale/reselleraccount/{account.pk}/balance/",
        {"amount": "40", "reason": "bank transfer 77", "kind": "topup", "token": "t-77"},
    )


@pytest.mark.parametrize(
    ("role", "moves_money", "runs_servers", "deletes"),
    [
        ("admin", True, True, True),
        ("billing", True, False, False),
        ("support", False, True, False),
        ("readonly", False, False, False),
    ],
)
def test_each_role_gets_what_it_may(tenant_a, role, moves_money, runs_servers, deletes):
    browser = _console(role)
    account = ResellerAccount.objects.get(tenant=tenant_a.tenant)
    price_list = PriceList.objects.create(name=f"List for {role}", currency="EUR")
    # Everyone on the provider's staff can look.
    for page in (
        "/admin/",
        "/admin/resale/reselleraccount/",
        "/admin/provisioning/provisioningjob/",
        f"/admin/resale/reselleraccount/{account.pk}/balance/",
    ):
        assert browser.get(page).status_code == 200, page

    response = _top_up(browser, account)
    assert response.status_code == (302 if moves_money else 403)
    assert reseller_balance(account=account).amount == Decimal("40" if moves_money else "0")
    assert browser.get("/admin/resale/pricelist/add/").status_code == (200 if moves_money else 403)
    assert browser.get("/admin/provisioning/server/add/").status_code == (
        200 if runs_servers else 403
    )
    delete = browser.get(f"/admin/resale/pricelist/{price_list.pk}/delete/")
    assert delete.status_code == (200 if deletes else 403)


def test_a_role_grants_nothing_on_a_tenant_host(tenant_a):
    """Reseller staff are judged by their own console's rules, never by this backend."""
    from django_tenants.utils import schema_context

    with schema_context(tenant_a.schema):
        owner = User.objects.get(pk=tenant_a.owner.pk)
        owner.is_staff = True
        assert not owner.has_perm("resale.add_balanceentry")
        assert not owner.has_module_perms("resale")


def test_a_missing_account_is_a_404(tenant_a):
    assert (
        _console("billing").get("/admin/resale/reselleraccount/999999/balance/").status_code == 404
    )


def _actions(browser: Client) -> str:
    form = browser.get("/admin/provisioning/provisioningjob/").context["action_form"]
    return "" if form is None else str(form.fields["action"].choices)


def test_only_staff_who_may_change_jobs_can_run_them_again():
    assert "run_again" not in _actions(_console("readonly"))
    assert "run_again" in _actions(_console("support"))
