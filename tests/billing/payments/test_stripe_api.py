"""billing.payments.gateways.stripe.api through the real ``stripe`` library against the local
Stripe server."""

from __future__ import annotations

import http.client
import re
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.money import Money
from billing.payments.gateways.stripe import api as stripe_api
from billing.payments.gateways.stripe import gateway as stripe_gateway
from billing.payments.gateways.stripe.api import (
    PaymentConfigError,
    PaymentDeclined,
    PaymentTransientError,
    WebhookVerificationError,
    from_minor,
    to_minor,
    webhook_event_construct,
)
from sandbox.stripe import StripeServer, webhook_signature_header

from .conftest import WEBHOOK_SECRET, Platform, StripeSettings


def _pay(platform: Platform, key: str, account: str | None = None, **kwargs):
    params = {
        "amount": Decimal("25.00"),
        "currency": "EUR",
        "invoice_id": "INV-1",
        "tenant_schema": "reseller_a",
        "confirm": True,
    } | kwargs
    return stripe_api.payment_intent_create(
        api_key=platform.api_key, account=account, idempotency_key=key, **params
    )


def _saved_card(platform: Platform, server: StripeServer, card: str = "pm_card_visa", account=None):
    customer = stripe_api.customer_create(
        api_key=platform.api_key, account=account, email="client@example.test"
    )
    intent = stripe_api.setup_intent_create(
        api_key=platform.api_key, account=account, customer_id=customer.id
    )
    if server.complete_setup_intent(intent.id, card)["status"] == "requires_action":
        server.complete_3ds(intent.id)
    (method,) = stripe_api.payment_method_list(
        api_key=platform.api_key, account=account, customer_id=customer.id
    )
    return customer, method


def _get(url: str) -> tuple[int, str | None]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status, response.getheader("Location")


# --- configuration --------------------------------------------------------------------


def test_client_is_pointed_at_the_local_server(stripe_server: StripeServer) -> None:
    assert stripe_api.api_base() == stripe_server.url
    assert urlsplit(stripe_api.api_base()).hostname == "127.0.0.1"


def test_without_a_server_nothing_leaves_the_machine() -> None:
    assert urlsplit(stripe_api.api_base()).hostname == "127.0.0.1"
    with pytest.raises(PaymentTransientError):
        stripe_api.customer_create(api_key="sk_test_nowhere", account=None)


def test_missing_key_is_a_config_error(stripe_server: StripeServer) -> None:
    with pytest.raises(PaymentConfigError):
        stripe_api.customer_create(api_key="", account=None)
    assert stripe_server.requests == []


# --- customers and saved cards --------------------------------------------------------


def test_customer_create(platform: Platform, stripe_server: StripeServer) -> None:
    customer = stripe_api.customer_create(
        api_key=platform.api_key,
        account=None,
        email="client@example.test",
        name="Ada Client",
        metadata={"client_id": "17"},
    )
    assert customer.id.startswith("cus_")
    assert (customer.email, customer.name, customer.metadata) == (
        "client@example.test",
        "Ada Client",
        {"client_id": "17"},
    )
    assert stripe_server.account_of(customer.id) == platform.account


def test_setup_intent_saves_a_card_then_list_and_detach(
    platform: Platform, stripe_server: StripeServer
) -> None:
    customer = stripe_api.customer_create(api_key=platform.api_key, account=None)
    intent = stripe_api.setup_intent_create(
        api_key=platform.api_key, account=None, customer_id=customer.id
    )
    assert intent.id.startswith("seti_")
    assert intent.status == "requires_payment_method"
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    assert intent.usage == "off_session"

    stripe_server.complete_setup_intent(intent.id, "pm_card_mastercard")
    (event,) = stripe_server.events(platform.account, "setup_intent.succeeded")
    assert event["data"]["object"]["id"] == intent.id

    (method,) = stripe_api.payment_method_list(
        api_key=platform.api_key, account=None, customer_id=customer.id
    )
    assert method.id.startswith("pm_")
    assert (method.customer, method.card_brand, method.card_last4) == (
        customer.id,
        "mastercard",
        "4444",
    )

    detached = stripe_api.payment_method_detach(
        api_key=platform.api_key, account=None, payment_method_id=method.id
    )
    assert detached.customer is None
    assert (
        stripe_api.payment_method_list(
            api_key=platform.api_key, account=None, customer_id=customer.id
        )
        == []
    )


def test_setup_intent_confirmed_server_side(platform: Platform) -> None:
    customer = stripe_api.customer_create(api_key=platform.api_key, account=None)
    intent = stripe_api.setup_intent_create(
        api_key=platform.api_key,
        account=None,
        customer_id=customer.id,
        payment_method_id="pm_card_visa",
        confirm=True,
    )
    assert intent.status == "succeeded"
    assert intent.payment_method.startswith("pm_")


def test_setup_intent_with_a_refused_card_is_declined(platform: Platform) -> None:
    customer = stripe_api.customer_create(api_key=platform.api_key, account=None)
    with pytest.raises(PaymentDeclined) as declined:
        stripe_api.setup_intent_create(
            api_key=platform.api_key,
            account=None,
            customer_id=customer.id,
            payment_method_id="pm_card_chargeDeclined",
            confirm=True,
        )
    assert declined.value.decline_code == "generic_decline"


def test_payment_method_list_follows_pages(
    platform: Platform, stripe_server: StripeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stripe_api, "_LIST_PAGE_SIZE", 2)
    customer = stripe_api.customer_create(api_key=platform.api_key, account=None)
    for card in [
        "pm_card_visa",
        "pm_card_mastercard",
        "pm_card_visa",
        "pm_card_visa",
        "pm_card_visa",
    ]:
        intent = stripe_api.setup_intent_create(
            api_key=platform.api_key, account=None, customer_id=customer.id
        )
        stripe_server.complete_setup_intent(intent.id, card)
    methods = stripe_api.payment_method_list(
        api_key=platform.api_key, account=None, customer_id=customer.id
    )
    assert len({m.id for m in methods}) == 5
    pages = [r for r in stripe_server.requests if r.path == "/v1/payment_methods"]
    assert len(pages) == 3


# --- payment intents ------------------------------------------------------------------


def test_payment_succeeds_with_metadata_and_minor_units(
    platform: Platform, stripe_server: StripeServer
) -> None:
    intent = _pay(platform, "pay-1", amount=Decimal("10.50"), payment_method_id="pm_card_visa")
    assert intent.id.startswith("pi_")
    assert intent.succeeded
    assert (intent.amount_minor, intent.amount, intent.currency) == (1050, Decimal("10.50"), "EUR")
    assert intent.amount_received == Decimal("10.50")
    assert intent.latest_charge.startswith("ch_")
    assert (intent.invoice_id, intent.tenant_schema) == ("INV-1", "reseller_a")
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    (charge,) = stripe_server.charges
    assert (charge.amount, charge.currency, charge.account) == (1050, "eur", platform.account)
    sent = stripe_server.requests[-1].params
    assert sent["amount"] == "1050"
    assert sent["metadata"] == {"invoice_id": "INV-1", "tenant_schema": "reseller_a"}
    assert sent["allowed_payment_method_types"] == ["card"]
    assert "payment_method_types" not in sent


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [(Decimal("500"), "JPY", 500), (Decimal("1.230"), "KWD", 1230), (Decimal("5"), "ISK", 500)],
)
def test_non_two_decimal_currencies_reach_stripe_in_its_units(
    platform: Platform, stripe_server: StripeServer, amount: Decimal, currency: str, minor: int
) -> None:
    intent = _pay(
        platform,
        f"pay-{currency}",
        amount=amount,
        currency=currency,
        payment_method_id="pm_card_visa",
    )
    assert intent.amount_minor == minor
    assert intent.amount == amount
    assert stripe_server.charges[0].amount == minor


def test_auto_charge_of_a_saved_card_off_session(
    platform: Platform, stripe_server: StripeServer
) -> None:
    customer, method = _saved_card(platform, stripe_server)
    intent = _pay(
        platform,
        "renewal-7",
        customer_id=customer.id,
        payment_method_id=method.id,
        off_session=True,
    )
    assert intent.succeeded
    assert (intent.customer, intent.payment_method) == (customer.id, method.id)
    assert stripe_server.requests[-1].params["off_session"] == "true"


def test_declined_card(platform: Platform, stripe_server: StripeServer) -> None:
    with pytest.raises(PaymentDeclined) as declined:
        _pay(platform, "pay-declined", payment_method_id="pm_card_chargeDeclined")
    error = declined.value
    assert error.message == "Your card was declined."
    assert (error.code, error.decline_code, error.http_status) == (
        "card_declined",
        "generic_decline",
        402,
    )
    assert error.payment_intent_id.startswith("pi_")
    assert error.charge_id.startswith("ch_")
    assert error.request_id.startswith("req_")

    intent = stripe_api.payment_intent_retrieve(
        api_key=platform.api_key, account=None, payment_intent_id=error.payment_intent_id
    )
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error_message == "Your card was declined."
    assert intent.last_payment_error_decline_code == "generic_decline"
    (failed,) = stripe_server.events(platform.account, "payment_intent.payment_failed")
    assert failed["data"]["object"]["id"] == intent.id


def test_insufficient_funds_has_its_own_decline_code(platform: Platform) -> None:
    with pytest.raises(PaymentDeclined) as declined:
        _pay(platform, "pay-nsf", payment_method_id="pm_card_chargeDeclinedInsufficientFunds")
    assert declined.value.decline_code == "insufficient_funds"
    assert declined.value.message == "Your card has insufficient funds."


def test_saved_card_that_stopped_working_is_declined_on_renewal(
    platform: Platform, stripe_server: StripeServer
) -> None:
    customer, method = _saved_card(platform, stripe_server, "pm_card_chargeCustomerFail")
    with pytest.raises(PaymentDeclined):
        _pay(
            platform,
            "renewal-8",
            customer_id=customer.id,
            payment_method_id=method.id,
            off_session=True,
        )


@pytest.mark.parametrize(
    "card", ["pm_card_authenticationRequired", "pm_card_threeDSecure2Required"]
)
def test_3ds_requires_action_then_completes(
    platform: Platform, stripe_server: StripeServer, card: str
) -> None:
    intent = _pay(
        platform, f"pay-3ds-{card}", payment_method_id=card, return_url="https://shop.test/back"
    )
    assert intent.requires_action
    assert urlsplit(intent.next_action_url).hostname == "127.0.0.1"
    assert stripe_server.events(platform.account, "payment_intent.requires_action")
    assert stripe_server.charges == []

    stripe_server.complete_3ds(intent.id)
    done = stripe_api.payment_intent_retrieve(
        api_key=platform.api_key, account=None, payment_intent_id=intent.id
    )
    assert done.succeeded
    assert done.next_action_url is None
    assert done.amount_refunded == Decimal("0.00")
    assert stripe_server.events(platform.account, "payment_intent.succeeded")


def test_3ds_through_the_redirect_page(platform: Platform, stripe_server: StripeServer) -> None:
    intent = _pay(
        platform,
        "pay-3ds-page",
        payment_method_id="pm_card_authenticationRequired",
        return_url="https://shop.test/back?invoice=1",
    )
    status, location = _get(intent.next_action_url)
    assert status == 302
    back = urlsplit(location)
    assert back.netloc == "shop.test"
    query = parse_qs(back.query)
    assert query["payment_intent"] == [intent.id]
    assert query["redirect_status"] == ["succeeded"]
    assert stripe_api.payment_intent_retrieve(
        api_key=platform.api_key, account=None, payment_intent_id=intent.id
    ).succeeded


def test_failed_3ds_leaves_the_invoice_unpaid(
    platform: Platform, stripe_server: StripeServer
) -> None:
    intent = _pay(platform, "pay-3ds-fail", payment_method_id="pm_card_authenticationRequired")
    stripe_server.complete_3ds(intent.id, succeed=False)
    after = stripe_api.payment_intent_retrieve(
        api_key=platform.api_key, account=None, payment_intent_id=intent.id
    )
    assert after.status == "requires_payment_method"
    assert after.last_payment_error_code == "payment_intent_authentication_failure"


def test_off_session_charge_that_needs_authentication_is_declined(
    platform: Platform, stripe_server: StripeServer
) -> None:
    customer, method = _saved_card(platform, stripe_server, "pm_card_authenticationRequiredOnSetup")
    # That card only wanted authentication when it was saved.
    assert _pay(
        platform,
        "renewal-ok",
        customer_id=customer.id,
        payment_method_id=method.id,
        off_session=True,
    ).succeeded

    customer = stripe_api.customer_create(api_key=platform.api_key, account=None)
    with pytest.raises(PaymentDeclined) as declined:
        _pay(
            platform,
            "renewal-3ds",
            customer_id=customer.id,
            payment_method_id="pm_card_authenticationRequired",
            off_session=True,
        )
    assert declined.value.code == "authentication_required"


def test_confirm_a_created_intent_and_retry_a_declined_one(platform: Platform) -> None:
    intent = _pay(platform, "pay-later", confirm=False, payment_method_id="pm_card_visa")
    assert intent.status == "requires_confirmation"
    confirmed = stripe_api.payment_intent_confirm(
        api_key=platform.api_key,
        account=None,
        idempotency_key="pay-later-confirm",
        payment_intent_id=intent.id,
    )
    assert confirmed.succeeded

    with pytest.raises(PaymentDeclined) as declined:
        _pay(platform, "pay-retry", payment_method_id="pm_card_chargeDeclined")
    retried = stripe_api.payment_intent_confirm(
        api_key=platform.api_key,
        account=None,
        idempotency_key="pay-retry-2",
        payment_intent_id=declined.value.payment_intent_id,
        payment_method_id="pm_card_visa",
    )
    assert retried.succeeded
    assert retried.id == declined.value.payment_intent_id


def test_confirming_a_paid_intent_is_refused(platform: Platform) -> None:
    intent = _pay(platform, "pay-twice", payment_method_id="pm_card_visa")
    with pytest.raises(PaymentConfigError) as refused:
        stripe_api.payment_intent_confirm(
            api_key=platform.api_key,
            account=None,
            idempotency_key="pay-twice-confirm",
            payment_intent_id=intent.id,
        )
    assert refused.value.code == "payment_intent_unexpected_state"


def test_invalid_arguments_fail_before_any_request(
    platform: Platform, stripe_server: StripeServer
) -> None:
    with pytest.raises(ValueError, match="decimals"):
        _pay(platform, "bad-1", amount=Decimal("10.001"))
    with pytest.raises(ValueError, match="more than zero"):
        _pay(platform, "bad-2", amount=Decimal("0"))
    with pytest.raises(ValueError, match="confirmed"):
        _pay(
            platform,
            "bad-3",
            confirm=False,
            off_session=True,
            customer_id="cus_x",
            payment_method_id="pm_x",
        )
    with pytest.raises(ValueError, match="connected account"):
        _pay(platform, "bad-4", application_fee=Decimal("1.00"))
    with pytest.raises(ValueError, match="ISO 4217"):
        _pay(platform, "bad-5", currency="XXZ")
    with pytest.raises(ValueError, match="either"):
        stripe_api.refund_create(api_key=platform.api_key, account=None, idempotency_key="r")
    assert stripe_server.requests == []


# --- refunds --------------------------------------------------------------------------


def test_refund_partial_then_full_then_too_much(
    platform: Platform, stripe_server: StripeServer
) -> None:
    intent = _pay(platform, "pay-refund", amount=Decimal("30.00"), payment_method_id="pm_card_visa")

    partial = stripe_api.refund_create(
        api_key=platform.api_key,
        account=None,
        idempotency_key="refund-1",
        payment_intent_id=intent.id,
        amount=Decimal("10.00"),
        currency="EUR",
        reason="requested_by_customer",
    )
    assert partial.id.startswith("re_")
    assert (partial.status, partial.amount, partial.amount_minor) == (
        "succeeded",
        Decimal("10.00"),
        1000,
    )
    assert (partial.payment_intent, partial.charge) == (intent.id, intent.latest_charge)

    with pytest.raises(PaymentConfigError) as too_much:
        stripe_api.refund_create(
            api_key=platform.api_key,
            account=None,
            idempotency_key="refund-2",
            payment_intent_id=intent.id,
            amount=Decimal("25.00"),
            currency="EUR",
        )
    assert too_much.value.http_status == 400

    rest = stripe_api.refund_create(
        api_key=platform.api_key,
        account=None,
        idempotency_key="refund-3",
        charge_id=intent.latest_charge,
    )
    assert rest.amount == Decimal("20.00")
    assert stripe_api.payment_intent_retrieve(
        api_key=platform.api_key, account=None, payment_intent_id=intent.id
    ).amount_refunded == Decimal("30.00")

    with pytest.raises(PaymentConfigError) as again:
        stripe_api.refund_create(
            api_key=platform.api_key,
            account=None,
            idempotency_key="refund-4",
            payment_intent_id=intent.id,
            amount=Decimal("0.01"),
            currency="EUR",
        )
    assert again.value.code == "charge_already_refunded"
    refunded = stripe_server.events(platform.account, "charge.refunded")
    assert [e["data"]["object"]["amount_refunded"] for e in refunded] == [1000, 3000]


def test_refund_of_an_unpaid_intent_is_refused(platform: Platform) -> None:
    intent = _pay(platform, "pay-unpaid", confirm=False)
    with pytest.raises(PaymentConfigError):
        stripe_api.refund_create(
            api_key=platform.api_key,
            account=None,
            idempotency_key="refund-x",
            payment_intent_id=intent.id,
        )


# --- idempotency ----------------------------------------------------------------------


def test_idempotency_replay_charges_once(platform: Platform, stripe_server: StripeServer) -> None:
    first = _pay(platform, "invoice-9-attempt-1", payment_method_id="pm_card_visa")
    again = _pay(platform, "invoice-9-attempt-1", payment_method_id="pm_card_visa")
    assert again == first
    assert len(stripe_server.charges) == 1


def test_idempotency_replays_a_decline_too(platform: Platform, stripe_server: StripeServer) -> None:
    with pytest.raises(PaymentDeclined) as first:
        _pay(platform, "invoice-10", payment_method_id="pm_card_chargeDeclined")
    with pytest.raises(PaymentDeclined) as again:
        _pay(platform, "invoice-10", payment_method_id="pm_card_chargeDeclined")
    assert again.value.payment_intent_id == first.value.payment_intent_id
    assert len(stripe_server.charges) == 1


def test_idempotency_key_reused_with_other_params_is_a_conflict(
    platform: Platform, stripe_server: StripeServer
) -> None:
    _pay(platform, "invoice-11", payment_method_id="pm_card_visa")
    with pytest.raises(PaymentConfigError) as conflict:
        _pay(platform, "invoice-11", amount=Decimal("99.00"), payment_method_id="pm_card_visa")
    assert conflict.value.code == "idempotency_error"
    assert conflict.value.http_status == 400
    assert len(stripe_server.charges) == 1


# --- failures -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_and_rate_limits_are_transient(
    platform: Platform, stripe_server: StripeServer, status: int
) -> None:
    stripe_server.fail_next(status=status)
    with pytest.raises(PaymentTransientError) as failed:
        _pay(platform, "pay-500", payment_method_id="pm_card_visa")
    assert failed.value.http_status == status
    assert stripe_server.charges == []
    # The fault is spent; the same key now goes through.
    assert _pay(platform, "pay-500", payment_method_id="pm_card_visa").succeeded


def test_library_retries_a_500_with_the_same_idempotency_key(
    platform: Platform, stripe_server: StripeServer, stripe_settings: StripeSettings
) -> None:
    stripe_settings.set(STRIPE_MAX_NETWORK_RETRIES=1)
    stripe_server.fail_next(1)
    assert _pay(platform, "pay-retried", payment_method_id="pm_card_visa").succeeded
    attempts = [r for r in stripe_server.requests if r.path == "/v1/payment_intents"]
    assert [r.status for r in attempts] == [500, 200]
    assert {r.idempotency_key for r in attempts} == {"pay-retried"}
    assert len(stripe_server.charges) == 1


def test_timeout_is_transient_and_the_retry_does_not_charge_twice(
    platform: Platform, stripe_server: StripeServer, stripe_settings: StripeSettings
) -> None:
    stripe_settings.set(STRIPE_TIMEOUT_S=0.5)
    stripe_server.hang_next(seconds=3)
    started = time.monotonic()
    with pytest.raises(PaymentTransientError):
        _pay(platform, "pay-slow", payment_method_id="pm_card_visa")
    assert time.monotonic() - started < 2.5
    # Stripe did charge: the retry with the same key gets that charge back, not a second one.
    assert len(stripe_server.charges) == 1
    retried = _pay(platform, "pay-slow", payment_method_id="pm_card_visa")
    assert retried.succeeded
    assert retried.latest_charge == stripe_server.charges[0].charge_id
    assert len(stripe_server.charges) == 1


def test_unknown_key_is_a_config_error(platform: Platform, stripe_server: StripeServer) -> None:
    with pytest.raises(PaymentConfigError) as refused:
        stripe_api.customer_create(api_key="sk_test_revoked_000000000000", account=None)
    assert refused.value.http_status == 401
    assert "Invalid API Key" in refused.value.message
    assert not stripe_server.objects(platform.account, "customer")


def test_account_not_connected_to_the_key_is_a_config_error(
    platform: Platform, stripe_server: StripeServer
) -> None:
    other_platform = stripe_server.register_key("sk_test_someone_else_0000000000")
    with pytest.raises(PaymentConfigError) as refused:
        stripe_api.customer_create(api_key=platform.api_key, account=other_platform)
    assert refused.value.http_status == 403


def test_unknown_object_is_a_config_error(platform: Platform) -> None:
    with pytest.raises(PaymentConfigError) as missing:
        stripe_api.payment_intent_retrieve(
            api_key=platform.api_key, account=None, payment_intent_id="pi_doesnotexist"
        )
    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")


# --- Connect --------------------------------------------------------------------------


def test_connected_account_onboarding(platform: Platform, stripe_server: StripeServer) -> None:
    account = stripe_api.account_create(
        api_key=platform.api_key,
        type="express",
        country="de",
        email="billing@reseller.test",
        metadata={"tenant_schema": "reseller_a"},
    )
    assert account.id.startswith("acct_")
    assert (account.type, account.country, account.default_currency) == ("express", "DE", "EUR")
    assert not account.charges_enabled
    assert account.requirements_due
    sent = stripe_server.requests[-1].params
    assert sent["capabilities"] == {
        "card_payments": {"requested": "true"},
        "transfers": {"requested": "true"},
    }

    link = stripe_api.account_link_create(
        api_key=platform.api_key,
        account=account.id,
        refresh_url="https://reseller.test/stripe/refresh",
        return_url="https://reseller.test/stripe/done",
    )
    assert urlsplit(link.url).hostname == "127.0.0.1"
    assert link.expires_at > link.created
    assert _get(link.url) == (302, "https://reseller.test/stripe/done")
    # A link works once.
    assert _get(link.url) == (302, "https://reseller.test/stripe/refresh")

    ready = stripe_api.account_retrieve(api_key=platform.api_key, account=account.id)
    assert ready.charges_enabled and ready.payouts_enabled and ready.details_submitted
    assert ready.requirements_due == ()
    (updated,) = stripe_server.events(account.id, "account.updated")
    assert updated["account"] == account.id
    assert updated["data"]["previous_attributes"]["charges_enabled"] is False


def test_standard_account(platform: Platform) -> None:
    account = stripe_api.account_create(api_key=platform.api_key, type="standard")
    assert account.type == "standard"
    assert stripe_api.account_retrieve(api_key=platform.api_key, account=account.id) == account


def test_direct_charge_lands_on_the_connected_account(
    platform: Platform, stripe_server: StripeServer
) -> None:
    reseller = stripe_api.account_create(api_key=platform.api_key, type="express").id
    stripe_server.complete_onboarding(reseller)
    customer, method = _saved_card(platform, stripe_server, account=reseller)
    assert customer.account == reseller

    intent = _pay(
        platform,
        "reseller-invoice-1",
        account=reseller,
        amount=Decimal("40.00"),
        customer_id=customer.id,
        payment_method_id=method.id,
        off_session=True,
        application_fee=Decimal("2.50"),
    )
    assert intent.succeeded
    assert intent.account == reseller
    assert intent.application_fee_amount_minor == 250

    (charge,) = stripe_server.charges
    assert (charge.account, charge.platform, charge.amount, charge.application_fee_amount) == (
        reseller,
        platform.account,
        4000,
        250,
    )
    assert stripe_server.charges_on(platform.account) == []
    assert not stripe_server.objects(platform.account, "payment_intent")
    assert {
        r.stripe_account for r in stripe_server.requests if r.path.startswith("/v1/payment")
    } == {reseller}
    # The platform does not see the reseller's payment as its own...
    with pytest.raises(PaymentConfigError):
        stripe_api.payment_intent_retrieve(
            api_key=platform.api_key, account=None, payment_intent_id=intent.id
        )
    # ...and the reseller's webhook events say which account they came from.
    (succeeded,) = stripe_server.events(reseller, "payment_intent.succeeded")
    assert succeeded["account"] == reseller
    assert stripe_server.events(platform.account, "payment_intent.succeeded") == []

    refund = stripe_api.refund_create(
        api_key=platform.api_key,
        account=reseller,
        idempotency_key="reseller-refund-1",
        payment_intent_id=intent.id,
    )
    assert refund.amount == Decimal("40.00")


def test_customer_of_one_account_is_unknown_on_another(
    platform: Platform, stripe_server: StripeServer
) -> None:
    reseller = stripe_api.account_create(api_key=platform.api_key, type="standard").id
    customer = stripe_api.customer_create(api_key=platform.api_key, account=None)
    with pytest.raises(PaymentConfigError) as missing:
        _pay(platform, "wrong-account", account=reseller, customer_id=customer.id)
    assert missing.value.code == "resource_missing"


# --- webhooks -------------------------------------------------------------------------


def _succeeded_event(platform: Platform, server: StripeServer) -> dict:
    _pay(platform, "pay-webhook", payment_method_id="pm_card_visa")
    (event,) = server.events(platform.account, "payment_intent.succeeded")
    return event


def test_webhook_valid_signature(platform: Platform, stripe_server: StripeServer) -> None:
    event = _succeeded_event(platform, stripe_server)
    payload, header = stripe_server.webhook_payload(event, WEBHOOK_SECRET)
    verified = webhook_event_construct(payload, header, WEBHOOK_SECRET)
    assert verified.id == event["id"]
    assert verified.id.startswith("evt_")
    assert verified.type == "payment_intent.succeeded"
    assert verified.account is None
    assert (verified.object_type, verified.object_id) == (
        "payment_intent",
        event["data"]["object"]["id"],
    )
    assert verified.metadata == {"invoice_id": "INV-1", "tenant_schema": "reseller_a"}
    intent = verified.payment_intent()
    assert intent.succeeded and intent.amount == Decimal("25.00")


def test_webhook_of_a_connected_account_names_it(
    platform: Platform, stripe_server: StripeServer
) -> None:
    reseller = stripe_api.account_create(api_key=platform.api_key, type="standard").id
    _pay(platform, "pay-connected-webhook", account=reseller, payment_method_id="pm_card_visa")
    (event,) = stripe_server.events(reseller, "payment_intent.succeeded")
    verified = webhook_event_construct(
        *stripe_server.webhook_payload(event, WEBHOOK_SECRET), WEBHOOK_SECRET
    )
    assert verified.account == reseller
    assert verified.payment_intent().account == reseller


def test_webhook_bad_signature(platform: Platform, stripe_server: StripeServer) -> None:
    payload, header = stripe_server.webhook_payload(
        _succeeded_event(platform, stripe_server), WEBHOOK_SECRET
    )
    tampered = payload.replace(b'"amount": 2500', b'"amount": 1')
    assert tampered != payload
    with pytest.raises(WebhookVerificationError):
        webhook_event_construct(tampered, header, WEBHOOK_SECRET)
    timestamp = header.split(",")[0]
    with pytest.raises(WebhookVerificationError):
        webhook_event_construct(payload, f"{timestamp},v1={'0' * 64}", WEBHOOK_SECRET)
    with pytest.raises(WebhookVerificationError):
        webhook_event_construct(payload, "garbage", WEBHOOK_SECRET)
    with pytest.raises(WebhookVerificationError):
        webhook_event_construct(payload, "", WEBHOOK_SECRET)


def test_webhook_stale_timestamp(platform: Platform, stripe_server: StripeServer) -> None:
    event = _succeeded_event(platform, stripe_server)
    old = int(time.time()) - 301
    payload, header = stripe_server.webhook_payload(event, WEBHOOK_SECRET, timestamp=old)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        webhook_event_construct(payload, header, WEBHOOK_SECRET)
    # The same delivery is fine for an endpoint that tolerates more.
    assert (
        webhook_event_construct(payload, header, WEBHOOK_SECRET, tolerance_s=600).id == event["id"]
    )


def test_webhook_timestamp_in_the_future(platform: Platform, stripe_server: StripeServer) -> None:
    event = _succeeded_event(platform, stripe_server)
    ahead = int(time.time()) + 301
    payload, header = stripe_server.webhook_payload(event, WEBHOOK_SECRET, timestamp=ahead)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        webhook_event_construct(payload, header, WEBHOOK_SECRET)
    # A clock a little ahead of ours is within the tolerance, as an old one is.
    slightly = int(time.time()) + 60
    payload, header = stripe_server.webhook_payload(event, WEBHOOK_SECRET, timestamp=slightly)
    assert webhook_event_construct(payload, header, WEBHOOK_SECRET).id == event["id"]


def test_webhook_signed_with_another_secret(
    platform: Platform, stripe_server: StripeServer
) -> None:
    event = _succeeded_event(platform, stripe_server)
    payload, header = stripe_server.webhook_payload(event, "whsec_of_another_endpoint")
    with pytest.raises(WebhookVerificationError):
        webhook_event_construct(payload, header, WEBHOOK_SECRET)


def test_webhook_body_that_is_not_an_event() -> None:
    payload = b'{"hello": "world"}'
    header = webhook_signature_header(payload, WEBHOOK_SECRET)
    with pytest.raises(WebhookVerificationError, match="not a Stripe event"):
        webhook_event_construct(payload, header, WEBHOOK_SECRET)


def test_webhook_events_for_refund_dispute_and_setup(
    platform: Platform, stripe_server: StripeServer
) -> None:
    intent = _pay(platform, "pay-dispute", payment_method_id="pm_card_visa")
    stripe_api.refund_create(
        api_key=platform.api_key,
        account=None,
        idempotency_key="dispute-refund",
        payment_intent_id=intent.id,
        amount=Decimal("5.00"),
        currency="EUR",
    )
    dispute = stripe_server.create_dispute(intent.latest_charge)
    assert dispute["id"].startswith("dp_")
    (opened,) = stripe_server.events(platform.account, "charge.dispute.created")
    verified = webhook_event_construct(
        *stripe_server.webhook_payload(opened, WEBHOOK_SECRET), WEBHOOK_SECRET
    )
    assert verified.type == "charge.dispute.created"
    assert verified.data_object["charge"] == intent.latest_charge
    assert verified.data_object["payment_intent"] == intent.id
    with pytest.raises(ValueError, match="does not carry a PaymentIntent"):
        verified.payment_intent()

    (refunded,) = stripe_server.events(platform.account, "charge.refunded")
    verified = webhook_event_construct(
        *stripe_server.webhook_payload(refunded, WEBHOOK_SECRET), WEBHOOK_SECRET
    )
    assert verified.previous_attributes == {"amount_refunded": 0, "refunded": False}


@pytest.mark.parametrize(("amount", "currency"), [("7.50", "EUR"), ("900", "JPY"), ("5", "ISK")])
def test_the_gateway_reads_refunds_and_disputes_of_events_as_money(
    platform: Platform, stripe_server: StripeServer, amount: str, currency: str
) -> None:
    intent = _pay(
        platform,
        f"pay-{currency}",
        amount=Decimal(1000),
        currency=currency,
        payment_method_id="pm_card_visa",
    )
    stripe_api.refund_create(
        api_key=platform.api_key,
        account=None,
        idempotency_key=f"refund-{currency}",
        payment_intent_id=intent.id,
        amount=Decimal(amount),
        currency=currency,
    )
    stripe_server.create_dispute(intent.latest_charge)

    def delivered(kind: str) -> stripe_api.WebhookEvent:
        (event,) = stripe_server.events(platform.account, kind)
        return webhook_event_construct(
            *stripe_server.webhook_payload(event, WEBHOOK_SECRET), WEBHOOK_SECRET
        )

    refund = stripe_gateway.event_refund(delivered("refund.created"))
    assert refund.amount == Money(Decimal(amount), currency)
    assert (refund.payment_reference, refund.status) == (intent.id, "succeeded")
    dispute = stripe_gateway.event_dispute(delivered("charge.dispute.created"))
    assert dispute.amount == Money(Decimal(1000), currency)
    assert (dispute.charge_ref, dispute.payment_reference) == (intent.latest_charge, intent.id)
    assert dispute.status == "needs_response"
    with pytest.raises(ValueError, match="does not carry a Refund"):
        stripe_gateway.event_refund(delivered("charge.dispute.created"))
    with pytest.raises(ValueError, match="does not carry a Dispute"):
        stripe_gateway.event_dispute(delivered("refund.created"))


def test_minor_units_do_not_leave_the_stripe_package() -> None:
    """Stripe's integer amounts are converted inside ``gateways/stripe`` only: everything
    else gets ``Decimal`` or ``Money``."""
    root = Path(__file__).resolve().parents[3]
    inside = root / "billing" / "payments" / "gateways" / "stripe"
    apps = ["accounts", "api", "audit", "billing", "config", "portals", "provisioning"]
    apps += ["resale", "tenants"]
    offenders = [
        str(path.relative_to(root))
        for app in apps
        for path in (root / app).rglob("*.py")
        if inside not in path.parents
        and re.search(r"\b(from_minor|to_minor|\w+_minor)\b", path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


# --- minor units ----------------------------------------------------------------------

CURRENCIES = ["EUR", "USD", "GBP", "JPY", "KRW", "CLP", "KWD", "BHD", "TND", "HUF", "ISK", "CLF"]


def test_minor_units_examples() -> None:
    assert to_minor(Decimal("10.50"), "EUR") == 1050
    assert to_minor(Decimal("10.5"), "eur") == 1050
    assert to_minor(Decimal("10.500"), "EUR") == 1050
    assert to_minor(Decimal("500"), "JPY") == 500
    assert to_minor(Decimal("1.234"), "KWD") == 1234
    assert to_minor(Decimal("5"), "ISK") == 500
    assert from_minor(1050, "EUR") == Decimal("10.50")
    assert str(from_minor(1050, "EUR")) == "10.50"
    assert str(from_minor(500, "JPY")) == "500"
    assert str(from_minor(1234, "KWD")) == "1.234"
    assert str(from_minor(500, "ISK")) == "5"


def test_minor_units_refuse_what_is_not_money() -> None:
    with pytest.raises(ValueError, match="more decimals than JPY allows"):
        to_minor(Decimal("1.5"), "JPY")
    with pytest.raises(ValueError, match="more decimals than EUR allows"):
        to_minor(Decimal("0.001"), "EUR")
    with pytest.raises(ValueError, match="more decimals than ISK allows"):
        to_minor(Decimal("5.50"), "ISK")
    with pytest.raises(ValueError):
        to_minor(Decimal("NaN"), "EUR")
    with pytest.raises(ValueError):
        to_minor(Decimal("Infinity"), "EUR")
    with pytest.raises(ValueError, match="ISO 4217"):
        to_minor(Decimal("1"), "EURO")
    with pytest.raises(TypeError):
        to_minor(1.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        from_minor(Decimal("150"), "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        from_minor(True, "EUR")


@given(
    minor=st.integers(min_value=-(10**15), max_value=10**15), currency=st.sampled_from(CURRENCIES)
)
def test_minor_units_round_trip_from_stripe(minor: int, currency: str) -> None:
    if currency == "ISK":
        minor -= minor % 100
    assert to_minor(from_minor(minor, currency), currency) == minor


@given(data=st.data(), currency=st.sampled_from(CURRENCIES))
def test_minor_units_round_trip_from_billing(data: st.DataObject, currency: str) -> None:
    places = stripe_api.get_currency_precision(currency)
    amount = data.draw(
        st.decimals(
            min_value=Decimal("-1000000000"),
            max_value=Decimal("1000000000"),
            places=places,
            allow_nan=False,
            allow_infinity=False,
        )
    )
    minor = to_minor(amount, currency)
    assert isinstance(minor, int)
    assert from_minor(minor, currency) == amount


@given(
    whole=st.integers(min_value=0, max_value=10**9),
    extra=st.integers(min_value=1, max_value=9),
    currency=st.sampled_from(CURRENCIES),
)
def test_minor_units_reject_excess_precision(whole: int, extra: int, currency: str) -> None:
    places = stripe_api.get_currency_precision(currency)
    amount = Decimal(whole).scaleb(-places) + Decimal(extra).scaleb(-places - 1)
    with pytest.raises(ValueError, match=f"more decimals than {currency} allows"):
        to_minor(amount, currency)
