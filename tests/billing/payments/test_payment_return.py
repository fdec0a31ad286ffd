"""The page a browser returns to after its bank, ``/payments/return/<reference>/``, on a
tenant's host (a payment attempt) and on the platform host (a reseller's top-up): a
reference that is not one is a 404, never a server error."""

from __future__ import annotations

import pytest
from django.test import Client as Browser

from resale.models import ResellerAccount, ResellerTopUp
from resale.topups import reseller_topup_start

from .helpers import platform_configure

# A NUL byte cannot even be sent to PostgreSQL: the request is refused (400) before any
# view; the others are simply not references (404).
BAD_REFERENCES = ["%00", "abc%00def", "not-a-reference", "%C3%A9", "1" * 40]


def _expected(reference: str) -> int:
    return 400 if "%00" in reference else 404


@pytest.fixture
def account(db, tenant_a, stripe_server, platform, stripe_settings, settings):
    platform_configure(stripe_settings, settings)
    return ResellerAccount.objects.get(tenant=tenant_a.tenant)


@pytest.mark.parametrize("reference", BAD_REFERENCES)
def test_a_bad_reference_on_a_tenant_host_is_refused(db, tenant_a, reference):
    response = Browser(HTTP_HOST=tenant_a.host).get(f"/payments/return/{reference}/")
    assert response.status_code == _expected(reference)


@pytest.mark.parametrize("reference", BAD_REFERENCES)
def test_a_bad_reference_on_the_platform_host_is_refused(db, settings, reference):
    response = Browser(HTTP_HOST=settings.PLATFORM_DOMAIN).get(f"/payments/return/{reference}/")
    assert response.status_code == _expected(reference)


def test_a_top_ups_reference_still_brings_the_browser_back(account, stripe_server, settings):
    topup = reseller_topup_start(
        account=account, amount="40.00", method_ref="pm_card_authenticationRequired"
    ).topup
    stripe_server.complete_3ds(topup.intent_id)
    browser = Browser(HTTP_HOST=settings.PLATFORM_DOMAIN)
    response = browser.get(f"/payments/return/{topup.public_id}/")
    assert response.status_code == 302
    assert response["Location"] == "/?payment=succeeded"
    topup.refresh_from_db()
    assert topup.status == ResellerTopUp.Status.SUCCEEDED
