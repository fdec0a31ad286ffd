from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User
from resale.models import ResellerAccount
from resale.services import reseller_balance

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider(django_db_setup) -> Client:
    browser = Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    browser.force_login(User.objects.get(email="admin@platform.test"))
    return browser


def test_provider_lists_resellers_and_tops_up(provider, tenant_a):
    account = ResellerAccount.objects.get(tenant=tenant_a.tenant)
    listing = provider.get("/admin/resale/reselleraccount/")
    assert listing.status_code == 200
    assert b"Alpha Hosting" in listing.content
    page = provider.get(f"/admin/resale/reselleraccount/{account.pk}/balance/")
    assert page.status_code == 200
    token = page.context["token"]
    response = provider.post(
        f"/admin/resale/reselleraccount/{account.pk}/balance/",
        {"amount": "40", "reason": "bank transfer 123", "kind": "topup", "token": token},
    )
    assert response.status_code == 302
    provider.post(  # the same form sent twice tops up once
        f"/admin/resale/reselleraccount/{account.pk}/balance/",
        {"amount": "40", "reason": "bank transfer 123", "kind": "topup", "token": token},
    )
    assert reseller_balance(account=account).amount == Decimal("40")


def test_bad_amount_is_a_form_error(provider, tenant_a):
    account = ResellerAccount.objects.get(tenant=tenant_a.tenant)
    response = provider.post(
        f"/admin/resale/reselleraccount/{account.pk}/balance/",
        {"amount": "lots", "reason": "x", "kind": "topup", "token": "t"},
    )
    assert response.status_code == 200
    assert b"Enter an amount" in response.content
    assert reseller_balance(account=account).amount == 0


def test_reseller_staff_cannot_open_the_provider_console(tenant_a):
    browser = tenant_a.client(tenant_a.owner)
    assert browser.get("/admin/").status_code == 404
