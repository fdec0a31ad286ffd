"""The Stripe wrapper against Stripe's own definition of each call, as the installed
``stripe`` library carries it for the pinned API version (generated from Stripe's OpenAPI
definition), not against a list written here:

- every call the wrapper makes sends only parameters the library's types declare for
  that call, so a library upgrade that removes one fails here;
- the local Stripe refuses what Stripe refuses, with Stripe's error body;
- the objects it returns carry every field the library's classes declare, and every
  field the wrapper reads is one of them.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypedDict

import pytest
import stripe

from billing.payments.gateways.stripe import api as stripe_api
from sandbox.stripe import API_VERSION, StripeServer, schema
from sandbox.stripe.base import RecordedRequest

from .conftest import Platform
from .test_stripe_server import call

RETURN_URL = "https://shop.test/payments/return/1/"


def _wrapper_functions() -> set[str]:
    """The wrapper's functions that call Stripe: every one that builds a client."""
    tree = ast.parse(inspect.getsource(stripe_api))
    found = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            calls = [
                n
                for n in ast.walk(node)
                if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "_client"
            ]
            if calls:
                found.add(node.name)
    return found


class _Scenario:
    """Runs each wrapper function with every option the code base uses."""

    def __init__(self, platform: Platform, server: StripeServer) -> None:
        self.platform = platform
        self.server = server
        self.called: set[str] = set()

    def run(self, function: Callable[..., Any], **kwargs: Any) -> Any:
        self.called.add(function.__name__)
        return function(**kwargs)

    def everything(self) -> None:
        key = self.platform.api_key
        run = self.run
        # Connect: an Express account, its onboarding link, its state.
        account = run(
            stripe_api.account_create,
            api_key=key,
            idempotency_key="acct-1",
            type="express",
            country="fr",
            email="owner@alpha.test",
            metadata={"tenant_schema": "alpha"},
        )
        run(
            stripe_api.account_link_create,
            api_key=key,
            account=account.id,
            refresh_url="https://alpha.test/console/refresh/",
            return_url="https://alpha.test/console/back/",
            idempotency_key="link-1",
        )
        self.server.complete_onboarding(account.id)
        run(stripe_api.account_retrieve, api_key=key, account=account.id)
        run(stripe_api.account_current_retrieve, api_key=key)
        for on in (None, account.id):
            self.payments(key, on)

    def payments(self, key: str, on: str | None) -> None:
        run = self.run
        fee = Decimal("1.00") if on else None
        customer = run(
            stripe_api.customer_create,
            api_key=key,
            account=on,
            idempotency_key=f"cus-{on}",
            email="client@alpha.test",
            name="Client",
            metadata={"client": "7"},
        )
        run(
            stripe_api.setup_intent_create,
            api_key=key,
            account=on,
            idempotency_key=f"seti-{on}",
            customer_id=customer.id,
            payment_method_id="pm_card_visa",
            confirm=True,
            return_url=RETURN_URL,
            metadata={"consent": "now"},
        )
        (method,) = run(
            stripe_api.payment_method_list, api_key=key, account=on, customer_id=customer.id
        )
        paid = run(
            stripe_api.payment_intent_create,
            api_key=key,
            account=on,
            idempotency_key=f"pi-{on}",
            amount=Decimal("40.00"),
            currency="EUR",
            invoice_id="INV-1",
            tenant_schema="alpha",
            customer_id=customer.id,
            payment_method_id=method.id,
            confirm=True,
            off_session=True,
            application_fee=fee,
            description="Invoice INV-1",
            metadata={"attempt": "1"},
        )
        run(stripe_api.payment_intent_retrieve, api_key=key, account=on, payment_intent_id=paid.id)
        later = run(
            stripe_api.payment_intent_create,
            api_key=key,
            account=on,
            idempotency_key=f"pi-later-{on}",
            amount=Decimal("5.00"),
            currency="EUR",
            invoice_id="INV-2",
            tenant_schema="alpha",
            customer_id=customer.id,
            setup_future_usage="off_session",
        )
        run(
            stripe_api.payment_intent_confirm,
            api_key=key,
            account=on,
            idempotency_key=f"confirm-{on}",
            payment_intent_id=later.id,
            payment_method_id="pm_card_threeDSecure2Required",
            return_url=RETURN_URL,
        )
        with pytest.raises(stripe_api.PaymentDeclined):
            stripe_api.payment_intent_create(
                api_key=key,
                account=on,
                idempotency_key=f"pi-declined-{on}",
                amount=Decimal("5.00"),
                currency="EUR",
                invoice_id="INV-3",
                tenant_schema="alpha",
                payment_method_id="pm_card_chargeDeclined",
                confirm=True,
            )
        run(
            stripe_api.refund_create,
            api_key=key,
            account=on,
            idempotency_key=f"re-{on}",
            payment_intent_id=paid.id,
            amount=Decimal("10.00"),
            currency="EUR",
            reason="requested_by_customer",
            metadata={"credit_note": "CN-1"},
        )
        self.server.create_dispute(paid.latest_charge)
        page = run(
            stripe_api.checkout_session_create,
            api_key=key,
            account=on,
            idempotency_key=f"cs-pay-{on}",
            mode="payment",
            success_url="https://alpha.test/ok?s={CHECKOUT_SESSION_ID}",
            cancel_url="https://alpha.test/cancel",
            customer_id=customer.id,
            amount=Decimal("12.00"),
            currency="EUR",
            item_name="Invoice INV-4",
            invoice_id="INV-4",
            tenant_schema="alpha",
            application_fee=fee,
            setup_future_usage="off_session",
            description="Invoice INV-4",
            locale="fr",
            client_reference_id="INV-4",
            intent_metadata={"attempt": "4"},
            metadata={"attempt": "4"},
        )
        run(stripe_api.checkout_session_retrieve, api_key=key, account=on, session_id=page.id)
        setup = run(
            stripe_api.checkout_session_create,
            api_key=key,
            account=on,
            idempotency_key=f"cs-setup-{on}",
            mode="setup",
            success_url="https://alpha.test/ok",
            cancel_url="https://alpha.test/cancel",
            customer_id=customer.id,
            currency="EUR",
            description="Card for automatic payments",
            locale="de",
            intent_metadata={"consent": "now"},
            metadata={"consent": "now"},
        )
        self.server.complete_setup_intent(setup.setup_intent)
        run(stripe_api.checkout_session_retrieve, api_key=key, account=on, session_id=setup.id)
        run(
            stripe_api.payment_method_detach,
            api_key=key,
            account=on,
            payment_method_id=method.id,
            idempotency_key=f"detach-{on}",
        )


@pytest.fixture
def scenario(platform: Platform, stripe_server: StripeServer) -> _Scenario:
    ran = _Scenario(platform, stripe_server)
    ran.everything()
    return ran


def test_the_local_stripe_speaks_the_librarys_api_version() -> None:
    assert API_VERSION == stripe.api_version == "2026-10-28.endive"


def test_every_call_the_wrapper_makes_is_one_the_library_defines(
    scenario: _Scenario, stripe_server: StripeServer
) -> None:
    assert scenario.called == _wrapper_functions(), "a wrapper function is not exercised here"
    checked = set()
    for request in stripe_server.requests:
        endpoint = schema.endpoint_for(request.method, request.path)
        assert endpoint is not None, f"{request.method} {request.path} is no Stripe call"
        # Raises ParamError for a parameter the library's types do not declare.
        schema.params_check(endpoint, request.params)
        assert request.status in (200, 402), request
        checked.add((endpoint.method, endpoint.template))
    assert {
        ("POST", "/v1/payment_intents"),
        ("POST", "/v1/setup_intents"),
        ("POST", "/v1/checkout/sessions"),
    } <= checked


def _without(typed_dict: type, name: str) -> type:
    """The same call's types as a library upgrade might ship them, one parameter fewer."""
    fields = {k: v for k, v in schema._fields(typed_dict).items() if k != name}
    return TypedDict(typed_dict.__name__, fields)  # type: ignore[operator]


def test_a_parameter_the_library_drops_fails_the_check(
    scenario: _Scenario, stripe_server: StripeServer
) -> None:
    sent: RecordedRequest = next(
        r for r in stripe_server.requests if (r.method, r.path) == ("POST", "/v1/payment_intents")
    )
    endpoint = schema.endpoint_for(sent.method, sent.path)
    assert endpoint is not None
    schema.params_check_type(endpoint.params_type(), sent.params)
    for name in sent.params:
        with pytest.raises(schema.ParamError) as refused:
            schema.params_check_type(_without(endpoint.params_type(), name), sent.params)
        assert refused.value.param == name
        assert refused.value.code == "parameter_unknown"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/v1/payment_intents",
            "amount=2000&currency=eur&payment_method_types[]=card",
        ),
        ("/v1/setup_intents", "payment_method_types[0]=card"),
        (
            "/v1/checkout/sessions",
            "mode=setup&success_url=https%3A%2F%2Fa.test%2F&currency=eur"
            "&payment_method_types[0]=card",
        ),
    ],
)
def test_payment_method_types_is_refused_with_stripes_error(
    platform: Platform, stripe_server: StripeServer, path: str, body: str
) -> None:
    status, answer, _ = call(
        stripe_server, "POST", path, body, headers={"Stripe-Version": API_VERSION}
    )
    assert status == 400
    error = answer["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "payment_method_types_no_longer_supported"
    assert error["param"] == "payment_method_types"
    assert "allowed_payment_method_types" in error["message"]
    assert error["doc_url"].endswith("/payment-method-types-no-longer-supported")
    assert stripe_server.objects(platform.account) == []


def test_the_library_itself_gets_stripes_error(platform: Platform, stripe_server: StripeServer):
    client = stripe.StripeClient(
        platform.api_key,
        base_addresses={"api": stripe_server.url},
        max_network_retries=0,
    )
    with pytest.raises(stripe.InvalidRequestError) as refused:
        # Sent as older code would: the library's own types no longer list it.
        removed: Any = {"amount": 2000, "currency": "eur", "payment_method_types": ["card"]}
        client.v1.payment_intents.create(params=removed)
    assert refused.value.code == "payment_method_types_no_longer_supported"
    assert refused.value.param == "payment_method_types"
    assert refused.value.http_status == 400


@pytest.mark.parametrize(
    ("path", "body", "param", "code"),
    [
        # Unknown keys at any depth, named in bracket notation as Stripe names them.
        (
            "/v1/checkout/sessions",
            "mode=payment&line_items[0][price_data][colour]=red",
            "line_items[0][price_data][colour]",
            "parameter_unknown",
        ),
        (
            "/v1/payment_intents",
            "amount=100&currency=eur&payment_intent_data[metadata][a]=b",
            "payment_intent_data",
            "parameter_unknown",
        ),
        ("/v1/customers", "metadata=plain", "metadata", "parameter_invalid_hash"),
        ("/v1/refunds", "amount=ten", "amount", "parameter_invalid_integer"),
        ("/v1/customers", "api_key=sk_test_x", "api_key", "parameter_unknown"),
    ],
)
def test_the_shape_of_each_parameter_is_the_librarys(
    platform: Platform, stripe_server: StripeServer, path: str, body: str, param: str, code: str
) -> None:
    status, answer, _ = call(stripe_server, "POST", path, body)
    assert status == 400
    assert answer["error"]["param"] == param
    assert answer["error"]["code"] == code
    assert stripe_server.objects(platform.account) == []


def test_free_keys_expand_and_lists_pass(platform: Platform, stripe_server: StripeServer) -> None:
    status, customer, _ = call(
        stripe_server,
        "POST",
        "/v1/customers",
        "metadata[any_key_at_all]=1&metadata[another]=2&expand[]=invoice_settings",
    )
    assert status == 200, customer
    assert customer["metadata"] == {"any_key_at_all": "1", "another": "2"}


def test_a_parameter_stripe_takes_but_the_local_one_does_not_simulate_is_said_so(
    platform: Platform, stripe_server: StripeServer
) -> None:
    status, answer, _ = call(stripe_server, "POST", "/v1/customers", "preferred_locales[0]=fr")
    assert status == 400
    assert answer["error"]["param"] == "preferred_locales"
    assert "does not simulate" in answer["error"]["message"]


def test_another_api_version_is_not_judged_by_this_one(
    platform: Platform, stripe_server: StripeServer
) -> None:
    status, answer, _ = call(
        stripe_server, "POST", "/v1/customers", "", headers={"Stripe-Version": "2020-08-27"}
    )
    assert status == 400
    assert API_VERSION in answer["error"]["message"]


# --- objects ---------------------------------------------------------------------------


def _all_objects(server: StripeServer) -> list[dict[str, Any]]:
    found = []
    for account in server.account_ids():
        found.append(server.get(account))
        found.extend(server.objects(account))
        for event in server.events(account):
            found.append(event)
            found.append(event["data"]["object"])
    return found


def test_every_object_carries_every_field_the_library_declares(
    scenario: _Scenario, stripe_server: StripeServer
) -> None:
    kinds = set()
    for obj in _all_objects(stripe_server):
        cls = schema.resource_class(obj["object"])
        assert cls is not None, obj["object"]
        kinds.add(obj["object"])
        for name, declared in schema.declared_fields(cls).items():
            assert name in obj, f"{obj['object']} lacks {name}"
            if not declared.nullable:
                assert obj[name] is not None, f"{obj['object']}.{name} is null"
    assert kinds >= {
        "account",
        "charge",
        "checkout.session",
        "customer",
        "dispute",
        "event",
        "payment_intent",
        "payment_method",
        "refund",
        "setup_intent",
    }


class _Reading(dict):
    """A Stripe object that notes which fields the code reads."""

    def __init__(self, data: dict[str, Any], path: tuple[str, ...], log: set) -> None:
        super().__init__(data)
        self._path = path
        self._log = log

    def __getitem__(self, key: str) -> Any:
        self._log.add((*self._path, key))
        value = super().__getitem__(key)
        return _Reading(value, (*self._path, key), self._log) if isinstance(value, dict) else value

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else self._log.add((*self._path, key)) or default


_PARSERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "customer": lambda d: stripe_api._customer(d, None),
    "payment_method": lambda d: stripe_api._payment_method(d, None),
    "setup_intent": lambda d: stripe_api._setup_intent(d, None),
    "payment_intent": lambda d: stripe_api._payment_intent(d, None),
    "refund": lambda d: stripe_api._refund(d, None),
    "checkout.session": lambda d: stripe_api._checkout_session(d, None),
    "account": stripe_api._account,
    "dispute": stripe_api._dispute,
}


def _expanded(server: StripeServer, obj: dict[str, Any]) -> dict[str, Any]:
    """As the wrapper asks for them: a PaymentIntent's latest charge and a Checkout
    Session's SetupIntent expanded."""
    for name in ("latest_charge", "setup_intent"):
        if isinstance(obj.get(name), str):
            obj[name] = server.get(obj[name])
    return obj


def test_every_field_the_wrapper_reads_is_declared_and_sent(
    scenario: _Scenario, stripe_server: StripeServer
) -> None:
    seen = set()
    for obj in _all_objects(stripe_server):
        parse = _PARSERS.get(obj["object"])
        if parse is None:
            continue
        seen.add(obj["object"])
        data = _expanded(stripe_server, obj)
        log: set[tuple[str, ...]] = set()
        parse(_Reading(data, (), log))
        for path in sorted(log):
            value: Any = data
            cls = schema.resource_class(data["object"])
            for key in path:
                assert cls is not None
                fields = schema.declared_fields(cls)
                assert key in fields, f"{cls.__name__} declares no {key} ({'.'.join(path)})"
                assert key in value, f"{data['object']} lacks {'.'.join(path)}"
                value = value[key]
                if not isinstance(value, dict):
                    break
                cls = (
                    schema.resource_class(value["object"])
                    if "object" in value
                    else fields[key].nested
                )
                if cls is None:  # a free-key hash (metadata)
                    break
    assert seen == set(_PARSERS)
