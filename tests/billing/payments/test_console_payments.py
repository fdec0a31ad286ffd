"""The reseller console's payment pages: connecting the tenant's own Stripe account
(owner and admin only), and topping up the prepaid balance at the provider by card on the
provider's own account, credited once whatever comes first."""

from __future__ import annotations

import html
from decimal import Decimal

import pytest
from django.test import Client as Browser
from django_tenants.utils import schema_context

from billing.payments.gateways.config import payment_settings_get
from resale.models import ResellerAccount, ResellerTopUp
from resale.services import reseller_balance
from tests.portals.conftest import staff_member

from .conftest import WEBHOOK_SECRET
from .helpers import browser_get, deliver, platform_configure
from .pages import pay_on_page, site_get

pytestmark = pytest.mark.django_db


@pytest.fixture
def configured(tenant_a, stripe_server, platform, stripe_settings, settings):
    platform_configure(stripe_settings, settings)
    return platform


def _text(response) -> str:
    return html.unescape(response.content.decode())


def test_the_owner_connects_the_tenants_stripe_account(tenant_a, configured, stripe_server):
    owner = tenant_a.client(tenant_a.owner)
    assert "Not connected" in _text(owner.get("/console/payments/"))
    response = owner.post("/console/payments/", {"action": "connect"})
    assert response.status_code == 302 and "/connect/onboarding/" in response["Location"]

    # Stripe's onboarding, then back to the console.
    status, location = browser_get(response["Location"])
    assert status == 302 and location == f"http://{tenant_a.host}/console/payments/return/"
    landed = site_get(owner, location)
    assert landed["Location"] == "/console/payments/"
    page = _text(owner.get("/console/payments/"))
    assert "Your Stripe account takes card payments." in page and "Charges enabled" in page
    with schema_context(tenant_a.schema):
        row = payment_settings_get()
        assert row.stripe_charges_enabled and row.stripe_account_id
    assert stripe_server.get(row.stripe_account_id)["charges_enabled"]
    # The clients' invoices now offer card payment.
    assert "Card payments" in page


def test_an_expired_onboarding_link_gives_a_new_one(tenant_a, configured, stripe_server):
    owner = tenant_a.client(tenant_a.owner)
    first = owner.post("/console/payments/", {"action": "connect"})["Location"]
    browser_get(first)
    status, location = browser_get(first)
    assert status == 302 and location.endswith("/console/payments/refresh/")
    again = site_get(owner, location)
    assert again.status_code == 302 and "/connect/onboarding/" in again["Location"]


@pytest.mark.parametrize("role", ["readonly", "billing", "support"])
def test_staff_without_the_admin_role_see_the_status_but_cannot_connect(
    tenant_a, configured, stripe_server, role
):
    browser = tenant_a.client(staff_member(tenant_a, role))
    page = browser.get("/console/payments/")
    assert page.status_code == 200 and "Connect a Stripe account" not in _text(page)
    assert browser.post("/console/payments/", {"action": "connect"}).status_code == 403
    assert browser.get("/console/payments/refresh/").status_code == 403
    assert stripe_server.objects(configured.account, "account") == []
    with schema_context(tenant_a.schema):
        assert not payment_settings_get().stripe_account_id
    client = tenant_a.client(tenant_a.client_user)
    assert client.get("/console/payments/")["Location"].startswith("/login/")


@pytest.fixture
def account(db, tenant_a, configured):
    account = ResellerAccount.objects.get(tenant=tenant_a.tenant)
    account.billing_email = "accounts@alpha.test"
    account.save(update_fields=["billing_email"])
    return account


def test_a_console_top_up_charges_the_platform_and_credits_the_balance_once(
    tenant_a, account, stripe_server, configured, settings
):
    owner = tenant_a.client(tenant_a.owner)
    page = _text(owner.get("/console/balance/"))
    assert "Top up by card" in page
    response = owner.post("/console/balance/", {"action": "topup", "amount": "25,00"})
    assert response.status_code == 302 and "/c/pay/cs_test_" in response["Location"]

    back = pay_on_page(response["Location"], "4242424242424242")
    assert back.location.startswith(f"http://{tenant_a.host}/console/balance/return/")
    landed = site_get(owner, back.location)
    assert "€25.00 has been added to your balance." in _text(owner.get(landed["Location"]))
    assert reseller_balance(account=account).amount == Decimal("25.00")

    (charge,) = stripe_server.charges
    assert charge.account == configured.account, "the provider's own account"
    platform_browser = Browser(HTTP_HOST=settings.PLATFORM_DOMAIN)
    for event in stripe_server.events(configured.account) * 2:
        assert deliver(platform_browser, stripe_server, event, WEBHOOK_SECRET).status_code == 200
    site_get(owner, back.location)
    assert reseller_balance(account=account).amount == Decimal("25.00")
    (topup,) = ResellerTopUp.objects.filter(account=account)
    assert topup.status == ResellerTopUp.Status.SUCCEEDED


def test_the_platform_webhook_first_then_the_return(
    tenant_a, account, stripe_server, configured, settings
):
    owner = tenant_a.client(tenant_a.owner)
    response = owner.post("/console/balance/", {"action": "topup", "amount": "10.00"})
    back = pay_on_page(response["Location"], "4000002760003184")
    (event,) = stripe_server.events(configured.account, "checkout.session.completed")
    platform_browser = Browser(HTTP_HOST=settings.PLATFORM_DOMAIN)
    assert deliver(platform_browser, stripe_server, event, WEBHOOK_SECRET).status_code == 200
    assert reseller_balance(account=account).amount == Decimal("10.00")
    site_get(owner, back.location)
    assert reseller_balance(account=account).amount == Decimal("10.00")


def test_a_declined_top_up_changes_nothing(tenant_a, account, stripe_server, configured):
    owner = tenant_a.client(tenant_a.owner)
    response = owner.post("/console/balance/", {"action": "topup", "amount": "10.00"})
    refused = pay_on_page(response["Location"], "4000000000000002")
    assert refused.status == 402 and "Your card was declined." in refused.body
    cancel = html.unescape(refused.body.split('<a href="', 1)[1].split('"', 1)[0])
    landed = site_get(owner, cancel)
    assert "Nothing was charged." in _text(owner.get(landed["Location"]))
    assert reseller_balance(account=account).amount == 0


def test_a_saved_card_enables_automatic_top_ups(tenant_a, account, stripe_server, configured):
    owner = tenant_a.client(tenant_a.owner)
    response = owner.post(
        "/console/balance/", {"action": "topup", "amount": "20.00", "save_card": "on"}
    )
    site_get(owner, pay_on_page(response["Location"], "4242424242424242").location)
    page = _text(owner.get("/console/balance/"))
    assert "Visa •••• 4242" in page
    saved = owner.post(
        "/console/balance/",
        {"action": "auto", "enabled": "on", "threshold": "50.00", "amount": "100.00"},
    )
    assert saved.status_code == 302
    with schema_context("public"):
        profile = account.payment_profile
        profile.refresh_from_db()
    assert profile.auto_topup_enabled and profile.auto_topup_amount == Decimal("100.00")


def test_only_billing_roles_top_up(tenant_a, account, stripe_server):
    for role in ("readonly", "support"):
        browser = tenant_a.client(staff_member(tenant_a, role))
        assert browser.get("/console/balance/").status_code == 200
        post = browser.post("/console/balance/", {"action": "topup", "amount": "10"})
        assert post.status_code == 403
    assert stripe_server.charges == []
    assert (
        tenant_a.client(staff_member(tenant_a, "billing"))
        .post("/console/balance/", {"action": "topup", "amount": "10"})
        .status_code
        == 302
    )
