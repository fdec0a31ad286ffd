"""A local Stripe: the subset of Stripe's API that ``billing.payments.gateways.stripe.api``
uses, held to the installed ``stripe`` library's definition of each call, for the tests
and for running the project offline.

It speaks Stripe's conventions so the real ``stripe`` library can talk to it unchanged:
form-encoded bodies with bracket notation, Bearer secret keys, the ``Stripe-Account``
header (every object lives on one account), ``Idempotency-Key`` replay and conflict,
prefixed ids, ``{"object": "list", "data": [...], "has_more": ...}`` lists and
``{"error": {...}}`` error bodies with Stripe's HTTP statuses (401, 402, 403, 404, 400).
Every request's parameters are checked against the library's generated types for the
pinned API version (``schema``).

One module per resource family: ``customers`` (and the test cards), ``intents``
(PaymentIntents, SetupIntents, 3D Secure), ``checkout`` (Checkout Sessions and the
hosted page), ``refunds`` (charges, refunds, disputes), ``connect`` (accounts and
onboarding), ``events`` (the Events API and signed webhooks); ``base`` holds what they
share.

    with StripeServer() as server:
        platform = server.register_key("sk_test_platform")
        os.environ["STRIPE_API_BASE"] = server.url

or ``server = serve(port=12111, keys=("sk_test_...",))`` to run one beside the app
(``server.stop()`` ends it).
"""

from __future__ import annotations

from sandbox.stripe.base import (
    API_VERSION,
    ChargeRecord,
    RecordedRequest,
    StripeApiError,
    decode_form,
    new_id,
    webhook_signature_header,
)
from sandbox.stripe.checkout import CHECKOUT_SESSION_TTL_S, TEST_CARD_NUMBERS, CheckoutApi
from sandbox.stripe.connect import ACCOUNT_LINK_TTL_S, ConnectApi
from sandbox.stripe.customers import TEST_CARDS, TestCard
from sandbox.stripe.events import EventsApi
from sandbox.stripe.refunds import RefundsApi

__all__ = [
    "ACCOUNT_LINK_TTL_S",
    "API_VERSION",
    "CHECKOUT_SESSION_TTL_S",
    "TEST_CARDS",
    "TEST_CARD_NUMBERS",
    "ChargeRecord",
    "RecordedRequest",
    "StripeApiError",
    "StripeServer",
    "TestCard",
    "decode_form",
    "new_id",
    "serve",
    "webhook_signature_header",
]


class StripeServer(CheckoutApi, RefundsApi, ConnectApi, EventsApi):
    """The local Stripe, every resource family together, on ``127.0.0.1``."""

    ROUTES = tuple(
        dict.fromkeys(
            (*CheckoutApi.ROUTES, *RefundsApi.ROUTES, *ConnectApi.ROUTES, *EventsApi.ROUTES)
        )
    )
    PAGES = tuple(dict.fromkeys((*CheckoutApi.PAGES, *ConnectApi.PAGES)))

    def __enter__(self) -> StripeServer:
        self.start()
        return self


def serve(*, host: str = "127.0.0.1", port: int = 0, keys: tuple[str, ...] = ()) -> StripeServer:
    """Starts a local Stripe in a background thread and returns it, with ``keys``
    (test-mode secret keys) registered, each on an account of its own."""
    server = StripeServer()
    server.start(host=host, port=port)
    for key in keys:
        server.register_key(key)
    return server
