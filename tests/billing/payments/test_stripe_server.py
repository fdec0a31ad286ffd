"""The local Stripe server on the wire: the conventions the real library relies on, checked
with plain HTTP so a mistake in the fake cannot hide behind a mistake in the wrapper."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import re
import socket
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import stripe

from sandbox.stripe import StripeServer, decode_form, serve, webhook_signature_header

from .conftest import PLATFORM_KEY, WEBHOOK_SECRET, Platform


def call(
    server: StripeServer,
    method: str,
    path: str,
    body: str | list[tuple[str, str]] | None = None,
    *,
    key: str | None = PLATFORM_KEY,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], http.client.HTTPResponse]:
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    sent = dict(headers or {})
    if key:
        sent["Authorization"] = f"Bearer {key}"
    data = None
    if body is not None:
        data = body if isinstance(body, str) else urlencode(body)
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=data, headers=sent)
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    return response.status, json.loads(raw) if raw else {}, response


def pay(server: StripeServer, card: str = "pm_card_visa", **headers: str) -> dict[str, Any]:
    status, body, _ = call(
        server,
        "POST",
        "/v1/payment_intents",
        [
            ("amount", "2000"),
            ("currency", "eur"),
            ("payment_method", card),
            ("confirm", "true"),
            ("metadata[invoice_id]", "7"),
        ],
        headers=headers,
    )
    assert status == 200, body
    return body


def test_listens_on_loopback_only_and_stops() -> None:
    with StripeServer() as server:
        parts = urlsplit(server.url)
        assert parts.hostname == "127.0.0.1"
        assert parts.port
        port = parts.port
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_serve_starts_one_with_its_keys_for_the_library() -> None:
    server = serve(keys=("sk_test_standalone_0000000000",))
    try:
        client = stripe.StripeClient(
            "sk_test_standalone_0000000000",
            base_addresses={"api": server.url},
            max_network_retries=0,
        )
        customer = client.v1.customers.create(params={"email": "a@b.test"})
        assert server.get(customer.id)["email"] == "a@b.test"
        assert urlsplit(server.url).hostname == "127.0.0.1"
    finally:
        server.stop()


def test_bracket_notation_is_decoded() -> None:
    assert decode_form(
        "metadata[invoice_id]=INV-1&metadata[tenant_schema]=a&expand[]=latest_charge"
        "&expand[]=customer&allowed_payment_method_types[0]=card"
        "&capabilities[card_payments][requested]=true&description="
    ) == {
        "metadata": {"invoice_id": "INV-1", "tenant_schema": "a"},
        "expand": ["latest_charge", "customer"],
        "allowed_payment_method_types": ["card"],
        "capabilities": {"card_payments": {"requested": "true"}},
        "description": "",
    }


def test_unknown_or_missing_key_is_401_with_stripes_error_shape(
    platform: Platform, stripe_server: StripeServer
) -> None:
    status, body, _ = call(stripe_server, "POST", "/v1/customers", "", key="sk_test_unknown123456")
    assert status == 401
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith("Invalid API Key provided: sk_test_")
    assert "unknown123456" not in body["error"]["message"]

    status, body, _ = call(stripe_server, "POST", "/v1/customers", "", key=None)
    assert status == 401
    assert set(body) == {"error"}


def test_only_test_keys_can_be_registered(stripe_server: StripeServer) -> None:
    with pytest.raises(ValueError):
        stripe_server.register_key("sk_live_real")


def test_ids_carry_stripes_prefixes(platform: Platform, stripe_server: StripeServer) -> None:
    _, customer, _ = call(stripe_server, "POST", "/v1/customers", "email=a%40b.test")
    _, intent, _ = call(stripe_server, "POST", "/v1/setup_intents", [("customer", customer["id"])])
    stripe_server.complete_setup_intent(intent["id"])
    paid = pay(stripe_server)
    _, refund, _ = call(stripe_server, "POST", "/v1/refunds", [("payment_intent", paid["id"])])
    _, account, _ = call(stripe_server, "POST", "/v1/accounts", "type=standard")
    ids = {
        "cus": customer["id"],
        "seti": intent["id"],
        "pm": paid["payment_method"],
        "pi": paid["id"],
        "ch": paid["latest_charge"],
        "re": refund["id"],
        "acct": account["id"],
        "evt": stripe_server.events(platform.account)[0]["id"],
        "req": stripe_server.events(platform.account)[0]["request"]["id"],
    }
    for prefix, value in ids.items():
        assert re.fullmatch(rf"{prefix}_[A-Za-z0-9]+", value), value
    assert customer["object"] == "customer"
    assert paid["object"] == "payment_intent"


def test_expand_replaces_an_id_with_the_object(
    platform: Platform, stripe_server: StripeServer
) -> None:
    paid = pay(stripe_server)
    status, plain, _ = call(stripe_server, "GET", f"/v1/payment_intents/{paid['id']}")
    assert status == 200
    assert plain["latest_charge"] == paid["latest_charge"]
    _, expanded, _ = call(
        stripe_server, "GET", f"/v1/payment_intents/{paid['id']}?expand[]=latest_charge"
    )
    assert expanded["latest_charge"]["object"] == "charge"
    assert expanded["latest_charge"]["amount_captured"] == 2000


def test_lists_page_with_has_more(platform: Platform, stripe_server: StripeServer) -> None:
    _, customer, _ = call(stripe_server, "POST", "/v1/customers", "")
    for _ in range(3):
        status, _, _ = call(
            stripe_server,
            "POST",
            "/v1/payment_methods/pm_card_visa/attach",
            [("customer", customer["id"])],
        )
        assert status == 200
    query = f"customer={customer['id']}&type=card&limit=2"
    _, first, _ = call(stripe_server, "GET", f"/v1/payment_methods?{query}")
    assert (first["object"], len(first["data"]), first["has_more"]) == ("list", 2, True)
    _, second, _ = call(
        stripe_server,
        "GET",
        f"/v1/payment_methods?{query}&starting_after={first['data'][-1]['id']}",
    )
    assert (len(second["data"]), second["has_more"]) == (1, False)
    assert {m["id"] for m in first["data"] + second["data"]} == {
        m["id"] for m in stripe_server.objects(platform.account, "payment_method")
    }


def test_unknown_parameter_and_unknown_url(platform: Platform, stripe_server: StripeServer) -> None:
    status, body, _ = call(stripe_server, "POST", "/v1/customers", "colour=blue")
    assert status == 400
    assert body["error"] == {
        "type": "invalid_request_error",
        "code": "parameter_unknown",
        "doc_url": "https://stripe.com/docs/error-codes/parameter-unknown",
        "message": "Received unknown parameter: colour",
        "param": "colour",
    }
    status, body, _ = call(stripe_server, "GET", "/v1/subscriptions")
    assert status == 404
    assert "Unrecognized request URL" in body["error"]["message"]


def test_idempotency_replay_and_conflict(platform: Platform, stripe_server: StripeServer) -> None:
    first = call(
        stripe_server,
        "POST",
        "/v1/customers",
        "email=a%40b.test",
        headers={"Idempotency-Key": "k1"},
    )
    again = call(
        stripe_server,
        "POST",
        "/v1/customers",
        "email=a%40b.test",
        headers={"Idempotency-Key": "k1"},
    )
    assert again[0] == 200
    assert again[1] == first[1]
    assert again[2].getheader("Idempotent-Replayed") == "true"
    assert len(stripe_server.objects(platform.account, "customer")) == 1

    status, body, _ = call(
        stripe_server,
        "POST",
        "/v1/customers",
        "email=other%40b.test",
        headers={"Idempotency-Key": "k1"},
    )
    assert status == 400
    assert body["error"]["type"] == "idempotency_error"
    status, body, _ = call(
        stripe_server, "POST", "/v1/accounts", "type=standard", headers={"Idempotency-Key": "k1"}
    )
    assert (status, body["error"]["type"]) == (400, "idempotency_error")


def test_idempotency_keys_are_per_account(platform: Platform, stripe_server: StripeServer) -> None:
    _, account, _ = call(stripe_server, "POST", "/v1/accounts", "type=standard")
    headers = {"Idempotency-Key": "same"}
    _, mine, _ = call(stripe_server, "POST", "/v1/customers", "", headers=headers)
    _, theirs, _ = call(
        stripe_server,
        "POST",
        "/v1/customers",
        "",
        headers=headers | {"Stripe-Account": account["id"]},
    )
    assert mine["id"] != theirs["id"]


def test_objects_live_on_their_account(platform: Platform, stripe_server: StripeServer) -> None:
    _, account, _ = call(stripe_server, "POST", "/v1/accounts", "type=standard")
    on_reseller = {"Stripe-Account": account["id"]}
    _, customer, _ = call(stripe_server, "POST", "/v1/customers", "", headers=on_reseller)
    assert stripe_server.account_of(customer["id"]) == account["id"]
    status, body, _ = call(stripe_server, "GET", f"/v1/customers/{customer['id']}")
    assert (status, body["error"]["code"]) == (404, "resource_missing")
    status, _, _ = call(
        stripe_server, "GET", f"/v1/customers/{customer['id']}", headers=on_reseller
    )
    assert status == 200

    paid = pay(stripe_server, **on_reseller)
    (charge,) = stripe_server.charges
    assert (charge.charge_id, charge.account, charge.platform) == (
        paid["latest_charge"],
        account["id"],
        platform.account,
    )
    assert stripe_server.charges_on(platform.account) == []

    stranger = stripe_server.register_key("sk_test_stranger_00000000000")
    status, body, _ = call(
        stripe_server, "GET", f"/v1/accounts/{account['id']}", key="sk_test_stranger_00000000000"
    )
    assert status == 403
    status, _, _ = call(
        stripe_server, "POST", "/v1/customers", "", headers={"Stripe-Account": stranger}
    )
    assert status == 403


def test_application_fee_needs_a_direct_charge(
    platform: Platform, stripe_server: StripeServer
) -> None:
    status, body, _ = call(
        stripe_server,
        "POST",
        "/v1/payment_intents",
        "amount=1000&currency=eur&application_fee_amount=100",
    )
    assert status == 400
    assert body["error"]["param"] == "application_fee_amount"


def test_declined_card_is_402_card_error(platform: Platform, stripe_server: StripeServer) -> None:
    status, body, _ = call(
        stripe_server,
        "POST",
        "/v1/payment_intents",
        "amount=1000&currency=usd&payment_method=pm_card_chargeDeclined&confirm=true",
    )
    assert status == 402
    error = body["error"]
    assert (error["type"], error["code"], error["decline_code"]) == (
        "card_error",
        "card_declined",
        "generic_decline",
    )
    assert error["payment_intent"]["status"] == "requires_payment_method"
    assert error["charge"].startswith("ch_")


def test_3ds_and_its_events(platform: Platform, stripe_server: StripeServer) -> None:
    intent = pay(stripe_server, "pm_card_threeDSecure2Required")
    assert intent["status"] == "requires_action"
    assert intent["next_action"]["type"] == "redirect_to_url"
    assert intent["next_action"]["redirect_to_url"]["url"].startswith(stripe_server.url)
    assert intent["latest_charge"] is None
    done = stripe_server.complete_3ds(intent["id"])
    assert done["status"] == "succeeded"
    with pytest.raises(ValueError):
        stripe_server.complete_3ds(intent["id"])
    assert [e["type"] for e in stripe_server.events(platform.account)] == [
        "payment_intent.created",
        "payment_intent.requires_action",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]


def test_refunds_cannot_exceed_the_charge(platform: Platform, stripe_server: StripeServer) -> None:
    paid = pay(stripe_server)
    status, _, _ = call(
        stripe_server, "POST", "/v1/refunds", f"payment_intent={paid['id']}&amount=500"
    )
    assert status == 200
    status, body, _ = call(
        stripe_server, "POST", "/v1/refunds", f"payment_intent={paid['id']}&amount=1600"
    )
    assert (status, body["error"]["param"]) == (400, "amount")
    status, refund, _ = call(
        stripe_server, "POST", "/v1/refunds", f"charge={paid['latest_charge']}"
    )
    assert (status, refund["amount"]) == (200, 1500)
    assert stripe_server.get(paid["latest_charge"])["refunded"] is True
    assert stripe_server.charges[0].amount_refunded == 2000
    status, body, _ = call(stripe_server, "POST", "/v1/refunds", f"charge={paid['latest_charge']}")
    assert (status, body["error"]["code"]) == (400, "charge_already_refunded")


def test_dispute_emits_an_event(platform: Platform, stripe_server: StripeServer) -> None:
    paid = pay(stripe_server)
    dispute = stripe_server.create_dispute(paid["latest_charge"], reason="product_not_received")
    (event,) = stripe_server.events(platform.account, "charge.dispute.created")
    assert event["data"]["object"] == dispute
    assert dispute["status"] == "needs_response"
    assert stripe_server.get(paid["latest_charge"])["disputed"] is True


def test_events_api_lists_newest_first(platform: Platform, stripe_server: StripeServer) -> None:
    pay(stripe_server)
    status, listed, _ = call(stripe_server, "GET", "/v1/events?type=payment_intent.succeeded")
    assert status == 200
    (event,) = listed["data"]
    assert event["type"] == "payment_intent.succeeded"
    _, every, _ = call(stripe_server, "GET", "/v1/events?limit=100")
    assert [e["id"] for e in every["data"]] == [
        e["id"] for e in reversed(stripe_server.events(platform.account))
    ]
    _, one, _ = call(stripe_server, "GET", f"/v1/events/{event['id']}")
    assert one == event


def test_faults_are_spent_in_order(platform: Platform, stripe_server: StripeServer) -> None:
    stripe_server.fail_next(2, status=503)
    assert call(stripe_server, "POST", "/v1/customers", "")[0] == 503
    status, body, _ = call(stripe_server, "POST", "/v1/customers", "")
    assert (status, body["error"]["type"]) == (503, "api_error")
    assert call(stripe_server, "POST", "/v1/customers", "")[0] == 200
    assert len(stripe_server.objects(platform.account, "customer")) == 1


def test_a_hung_request_is_carried_out(platform: Platform, stripe_server: StripeServer) -> None:
    stripe_server.hang_next(seconds=2)
    parts = urlsplit(stripe_server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=0.3)
    conn.request(
        "POST", "/v1/customers", body="", headers={"Authorization": f"Bearer {PLATFORM_KEY}"}
    )
    with pytest.raises(TimeoutError):
        conn.getresponse()
    conn.close()
    assert len(stripe_server.objects(platform.account, "customer")) == 1


def test_webhook_signature_uses_stripes_scheme(
    platform: Platform, stripe_server: StripeServer
) -> None:
    pay(stripe_server)
    event = stripe_server.events(platform.account, "payment_intent.succeeded")[0]
    payload, header = stripe_server.webhook_payload(
        event["id"], WEBHOOK_SECRET, timestamp=1700000000
    )
    assert json.loads(payload) == event
    expected = hmac.new(
        WEBHOOK_SECRET.encode(), b"1700000000." + payload, hashlib.sha256
    ).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert webhook_signature_header(payload, WEBHOOK_SECRET, 1700000000) == header
    # The official library accepts it.
    payload, header = stripe_server.webhook_payload(event, WEBHOOK_SECRET)
    assert stripe.WebhookSignature.verify_header(payload, header, WEBHOOK_SECRET, 300)


def test_setup_intent_events(platform: Platform, stripe_server: StripeServer) -> None:
    _, customer, _ = call(stripe_server, "POST", "/v1/customers", "")
    _, intent, _ = call(stripe_server, "POST", "/v1/setup_intents", f"customer={customer['id']}")
    stripe_server.complete_setup_intent(intent["id"], "pm_card_authenticationRequiredOnSetup")
    assert stripe_server.get(intent["id"])["status"] == "requires_action"
    stripe_server.complete_3ds(intent["id"])
    types = [e["type"] for e in stripe_server.events(platform.account)]
    assert types[-3:] == [
        "setup_intent.requires_action",
        "payment_method.attached",
        "setup_intent.succeeded",
    ]


def test_onboarding_link_expires(platform: Platform, stripe_server: StripeServer) -> None:
    _, account, _ = call(
        stripe_server,
        "POST",
        "/v1/accounts",
        "type=express&capabilities[transfers][requested]=true",
    )
    _, link, _ = call(
        stripe_server,
        "POST",
        "/v1/account_links",
        [
            ("account", account["id"]),
            ("refresh_url", "https://r.test/refresh"),
            ("return_url", "https://r.test/done"),
            ("type", "account_onboarding"),
        ],
    )
    assert link["object"] == "account_link"
    token = link["url"].rsplit("/", 1)[1]
    stripe_server._links[token]["expires_at"] = 0
    parts = urlsplit(link["url"])
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    conn.request("GET", parts.path)
    response = conn.getresponse()
    assert (response.status, response.getheader("Location")) == (302, "https://r.test/refresh")
    conn.close()
    assert stripe_server.events(account["id"], "account.updated") == []
