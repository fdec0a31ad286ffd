"""Reseller top-ups on the provider's own Stripe account: by card, after 3-D Secure
through the platform's webhook, with a saved card and automatically; a top-up releases
the commands waiting for funds. And the provider's account never sees a reseller's
client's money."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import transaction
from django.test import Client as Browser
from django.utils import timezone
from django_tenants.utils import schema_context

from billing.models import Invoice
from billing.payments.flows import invoice_pay_start
from resale.models import ResellerAccount, ResellerTopUp, UpstreamCommand, UpstreamService
from resale.services import reseller_balance, reseller_balance_adjust
from resale.topups import (
    reseller_auto_topup_check,
    reseller_auto_topup_configure,
    reseller_auto_topups_run,
    reseller_card_setup_start,
    reseller_topup_start,
)
from tests.resale.factories import account_on, wholesale_catalogue

from .conftest import WEBHOOK_SECRET
from .helpers import client_make, deliver, invoice_make, platform_configure, shop_connect


@pytest.fixture
def account(db, tenant_a, stripe_server, platform, stripe_settings, settings):
    platform_configure(stripe_settings, settings)
    account = ResellerAccount.objects.get(tenant=tenant_a.tenant)
    account.billing_email = "accounts@alpha.test"
    account.save(update_fields=["billing_email"])
    return account


def _platform_browser(settings) -> Browser:
    return Browser(HTTP_HOST=settings.PLATFORM_DOMAIN)


def test_a_card_top_up_adds_to_the_balance_once(account, stripe_server, platform, settings):
    started = reseller_topup_start(account=account, amount="25.00", method_ref="pm_card_visa")
    assert started.topup.status == ResellerTopUp.Status.SUCCEEDED
    assert reseller_balance(account=account).amount == Decimal("25.00")
    (charge,) = stripe_server.charges
    assert charge.account == platform.account
    for event in stripe_server.events(platform.account) * 2:
        response = deliver(_platform_browser(settings), stripe_server, event, WEBHOOK_SECRET)
        assert response.status_code == 200
    assert reseller_balance(account=account).amount == Decimal("25.00")


def test_three_d_secure_top_up_completes_through_the_platform_webhook(
    account, stripe_server, platform, settings
):
    started = reseller_topup_start(
        account=account, amount="40.00", method_ref="pm_card_authenticationRequired"
    )
    topup = started.topup
    assert topup.status == ResellerTopUp.Status.REQUIRES_ACTION and topup.action_url
    assert reseller_balance(account=account).amount == 0
    stripe_server.complete_3ds(topup.intent_id)
    (event,) = stripe_server.events(platform.account, "payment_intent.succeeded")
    platform_browser = _platform_browser(settings)
    # A tenant's secret does not open the platform's endpoint.
    assert deliver(platform_browser, stripe_server, event, "whsec_alpha").status_code == 400
    assert reseller_balance(account=account).amount == 0
    for _ in range(3):
        assert deliver(platform_browser, stripe_server, event, WEBHOOK_SECRET).status_code == 200
    topup.refresh_from_db()
    assert topup.status == ResellerTopUp.Status.SUCCEEDED
    assert reseller_balance(account=account).amount == Decimal("40.00")


def test_saved_card_and_automatic_top_up_below_the_threshold(account, stripe_server):
    setup = reseller_card_setup_start(account=account, method_ref="pm_card_visa")
    assert setup.status == "succeeded"
    profile = reseller_auto_topup_configure(
        account=account, enabled=True, threshold="20.00", amount="50.00"
    )
    assert (profile.card_brand, profile.card_last4) == ("visa", "4242")

    first = reseller_auto_topup_check(account=account)
    assert first is not None and first.status == ResellerTopUp.Status.SUCCEEDED
    assert reseller_balance(account=account).amount == Decimal("50.00")
    assert reseller_auto_topup_check(account=account) is None, "above the threshold now"

    reseller_balance_adjust(account=account, amount="-35.00", reason="usage", created_by="t")
    assert reseller_auto_topups_run() == 1
    assert reseller_balance(account=account).amount == Decimal("65.00")
    assert len(stripe_server.charges) == 2, "saving the card charged nothing"


def test_a_failing_automatic_top_up_tells_the_reseller_and_waits(
    account, stripe_server, django_capture_on_commit_callbacks
):
    reseller_card_setup_start(account=account, method_ref="pm_card_chargeCustomerFail")
    reseller_auto_topup_configure(account=account, enabled=True, threshold="10", amount="30")
    with django_capture_on_commit_callbacks(execute=True):
        failed = reseller_auto_topup_check(account=account)
    assert failed.status == ResellerTopUp.Status.FAILED
    assert reseller_balance(account=account).amount == 0
    (message,) = mail.outbox
    assert message.to == ["accounts@alpha.test"]
    assert reseller_auto_topup_check(account=account) is None, "not again within a day"
    ResellerTopUp.objects.filter(pk=failed.pk).update(created_at=timezone.now() - timedelta(days=2))
    assert reseller_auto_topup_check(account=account) is not None


def test_the_providers_account_only_ever_holds_top_ups(
    account, tenant_a, tenant_b, stripe_server, platform
):
    from .helpers import shop_own_keys

    connect = shop_connect(tenant_a, stripe_server, platform, fee="1.00")
    own = shop_own_keys(tenant_b, stripe_server)
    for shop in (connect, own):
        with schema_context(shop.schema):
            for card in ("pm_card_visa", "pm_card_mastercard"):
                invoice = invoice_make(client_make(), "80.00")
                invoice_pay_start(invoice=invoice, method_ref=card)
                invoice.refresh_from_db()
                assert invoice.status == Invoice.Status.PAID
    reseller_topup_start(account=account, amount="100.00", method_ref="pm_card_visa")

    on_platform = stripe_server.charges_on(platform.account)
    assert len(on_platform) == 1
    (topup_charge,) = on_platform
    assert stripe_server.get(topup_charge.charge_id)["metadata"]["tessera_topup"]
    assert len(stripe_server.charges_on(connect.account)) == 2
    assert len(stripe_server.charges_on(own.account)) == 2
    assert {c.account for c in stripe_server.charges} == {
        platform.account,
        connect.account,
        own.account,
    }
    # The only money the provider takes from a client payment is its fee.
    assert [c.application_fee_amount for c in stripe_server.charges_on(connect.account)] == [
        80,
        80,
    ]


# --- a top-up releases what waits for funds (real worker) ------------------------------


def _wait_for(predicate, timeout: float = 45.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


@pytest.mark.worker
@pytest.mark.usefixtures("live_db")
def test_a_top_up_completes_the_commands_awaiting_funds(
    celery_worker_process, tenant_factory, stripe_server, platform, stripe_settings, settings
):
    platform_configure(stripe_settings, settings)
    created = tenant_factory("Delta Hosting")
    catalogue = wholesale_catalogue(code_prefix=f"t{uuid.uuid4().hex[:6]}-")
    account = account_on(created.tenant, catalogue["price_list"])
    service = UpstreamService.objects.create(
        account=account,
        plan=catalogue["web-m"],
        cycle="monthly",
        client_ref="c-77",
        status=UpstreamService.Status.ACTIVE,
        price_amount=Decimal("4.00"),
        currency="EUR",
        next_due_date=timezone.localdate(),
    )
    from resale.outbox import upstream_command_queue

    with schema_context(created.tenant.schema_name):
        with transaction.atomic():
            command = upstream_command_queue(
                action="renew",
                service_ref="svc-77",
                payload={"service_ref": service.public_id},
                idempotency_key=f"renew:svc-77:{service.next_due_date}",
            )
        waiting = _wait_for(
            lambda: UpstreamCommand.objects.filter(
                pk=command.pk, state=UpstreamCommand.State.AWAITING_FUNDS
            ).first()
        )
    assert "does not cover" in waiting.last_error

    # The reseller tops up by card; its bank wants 3-D Secure; Stripe tells the platform.
    topup = reseller_topup_start(
        account=account, amount="10.00", method_ref="pm_card_threeDSecure2Required"
    ).topup
    stripe_server.complete_3ds(topup.intent_id)
    (event,) = stripe_server.events(platform.account, "payment_intent.succeeded")
    response = deliver(_platform_browser(settings), stripe_server, event, WEBHOOK_SECRET)
    assert response.status_code == 200

    with schema_context(created.tenant.schema_name):
        done = _wait_for(
            lambda: UpstreamCommand.objects.filter(
                pk=command.pk, state=UpstreamCommand.State.DONE
            ).first()
        )
    assert done.completed_at is not None
    assert reseller_balance(account=account).amount == Decimal("6.00"), "10.00 in, 4.00 renewal"
    service.refresh_from_db()
    assert service.next_due_date > timezone.localdate()
