"""A local Stripe: the subset of Stripe's API that
``billing.payments.gateways.stripe.api`` uses.

It speaks Stripe's conventions so the real ``stripe`` library can talk to it unchanged:
form-encoded bodies with bracket notation, Bearer secret keys, the ``Stripe-Account``
header (every object lives on one account), ``Idempotency-Key`` replay and conflict,
prefixed ids, ``{"object": "list", "data": [...], "has_more": ...}`` lists and
``{"error": {...}}`` error bodies with Stripe's HTTP statuses (401, 402, 403, 404, 400).

Test cards are Stripe's payment method tokens (``pm_card_visa``, ``pm_card_chargeDeclined``,
``pm_card_authenticationRequired`` ...); using one creates a ``pm_`` object on the account,
as Stripe does. Every state change is recorded as an Event on the account it happened on,
and ``webhook_payload`` signs an event with Stripe's scheme for delivery to the app.

Checkout Sessions get a hosted page at ``/c/pay/<session id>`` where a person types one of
Stripe's test card numbers (``TEST_CARD_NUMBERS``); 3D Secure goes through ``/3ds/<id>``
as for any PaymentIntent, then back to the page, which sends the browser to success_url.

    with StripeServer() as server:
        platform = server.register_key("sk_test_platform")
        os.environ["STRIPE_API_BASE"] = server.url
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import html
import json
import re
import secrets
import string
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

API_VERSION = "2026-10-28.endive"
ACCOUNT_LINK_TTL_S = 300
_ALPHABET = string.ascii_letters + string.digits
# Stripe's card networks take three-decimal currencies only in multiples of ten.
_THREE_DECIMAL = {"bhd", "jod", "kwd", "omr", "tnd"}
_DEFAULT_CURRENCY = {"US": "usd", "GB": "gbp", "JP": "jpy", "CH": "chf", "CA": "cad", "AU": "aud"}


def _token(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{_token(length)}"


def webhook_signature_header(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """Stripe's ``Stripe-Signature``: ``t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<payload>">``."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


@dataclass(frozen=True)
class TestCard:
    """What a test card does when it is saved (setup) and when it is charged."""

    __test__ = False  # not a pytest class

    brand: str
    last4: str
    setup: str  # "succeed" | "decline" | "authenticate"
    charge: str  # "succeed" | "decline" | "authenticate"
    code: str = "card_declined"
    decline_code: str | None = None
    message: str = "Your card was declined."


TEST_CARDS: dict[str, TestCard] = {
    "pm_card_visa": TestCard("visa", "4242", "succeed", "succeed"),
    "pm_card_mastercard": TestCard("mastercard", "4444", "succeed", "succeed"),
    "pm_card_chargeDeclined": TestCard(
        "visa", "0002", "decline", "decline", decline_code="generic_decline"
    ),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard(
        "visa",
        "9995",
        "succeed",
        "decline",
        decline_code="insufficient_funds",
        message="Your card has insufficient funds.",
    ),
    "pm_card_chargeDeclinedExpiredCard": TestCard(
        "visa",
        "0069",
        "decline",
        "decline",
        code="expired_card",
        decline_code="expired_card",
        message="Your card has expired.",
    ),
    # Saves fine, then every charge fails: an auto-charge of a stored card that stopped working.
    "pm_card_chargeCustomerFail": TestCard(
        "visa", "0341", "succeed", "decline", decline_code="generic_decline"
    ),
    "pm_card_authenticationRequired": TestCard("visa", "3184", "authenticate", "authenticate"),
    "pm_card_threeDSecure2Required": TestCard("visa", "3220", "authenticate", "authenticate"),
    "pm_card_authenticationRequiredOnSetup": TestCard("visa", "3155", "authenticate", "succeed"),
}


# Card numbers typed on a hosted Checkout page, as Stripe's test cards.
TEST_CARD_NUMBERS: dict[str, str] = {
    "4242424242424242": "pm_card_visa",
    "5555555555554444": "pm_card_mastercard",
    "4000000000000002": "pm_card_chargeDeclined",
    "4000000000009995": "pm_card_chargeDeclinedInsufficientFunds",
    "4000000000000069": "pm_card_chargeDeclinedExpiredCard",
    "4000002760003184": "pm_card_authenticationRequired",
    "4000000000003220": "pm_card_threeDSecure2Required",
    "4000002500003155": "pm_card_authenticationRequiredOnSetup",
}
CHECKOUT_SESSION_TTL_S = 24 * 3600


class StripeApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error: dict[str, Any] = {"type": type, "message": message}
        if code:
            self.error["code"] = code
            self.error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            self.error["param"] = param
        self.error.update(extra)


@dataclass
class ChargeRecord:
    """One charge as the server saw it: on which account the money landed."""

    charge_id: str
    payment_intent_id: str
    account: str
    platform: str
    amount: int
    currency: str
    status: str
    application_fee_amount: int | None
    customer: str | None
    amount_refunded: int = 0


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    api_key: str | None
    stripe_account: str | None
    idempotency_key: str | None
    params: dict[str, Any]
    status: int


@dataclass
class _Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Context:
    account: str  # the account acted upon
    platform: str  # the account that owns the key
    request_id: str | None = None
    idempotency_key: str | None = None
    api_version: str | None = None


@dataclass
class _Fault:
    kind: str  # "status" | "hang"
    status: int = 500
    seconds: float = 0.0


# --- form decoding --------------------------------------------------------------------

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")


def decode_form(text: str) -> dict[str, Any]:
    """Stripe's bracket notation: ``a[b][c]=1&l[]=x&l[]=y&m[0]=z`` gives
    ``{"a": {"b": {"c": "1"}}, "l": ["x", "y"], "m": ["z"]}``."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        match = _KEY.match(key)
        if not match:
            raise StripeApiError(400, f"Invalid parameter name: {key}", param=key)
        parts = [match.group(1), *_PART.findall(match.group(2))]
        node: Any = root
        for index, part in enumerate(parts):
            if not isinstance(node, dict):
                raise StripeApiError(400, f"Invalid hash: {parts[0]}", param=parts[0])
            name = part if part != "" else str(len(node))
            if index == len(parts) - 1:
                node[name] = value
            else:
                node = node.setdefault(name, {})
    return _listify(root)


def _listify(value: Any) -> Any:
    if isinstance(value, dict):
        converted = {k: _listify(v) for k, v in value.items()}
        if converted and all(k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    return value


def _allow(params: dict[str, Any], allowed: set[str]) -> None:
    for name in params:
        if name not in allowed and name != "expand":
            raise StripeApiError(400, f"Received unknown parameter: {name}", param=name)


def _int(params: dict[str, Any], name: str, default: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise StripeApiError(
            400, f"Invalid integer: {raw}", code="parameter_invalid_integer", param=name
        ) from None


def _bool(params: dict[str, Any], name: str) -> bool:
    raw = params.get(name)
    if raw is None:
        return False
    if raw in ("true", "false"):
        return raw == "true"
    raise StripeApiError(400, f"Invalid boolean: {raw}", param=name)


def _required(params: dict[str, Any], name: str) -> Any:
    if params.get(name) in (None, ""):
        raise StripeApiError(
            400, f"Missing required param: {name}.", code="parameter_missing", param=name
        )
    return params[name]


def _metadata(params: dict[str, Any]) -> dict[str, str]:
    raw = params.get("metadata") or {}
    if not isinstance(raw, dict):
        return {}
    return {k: v for k, v in raw.items() if v != ""}


# --- the server -----------------------------------------------------------------------


class StripeServer:
    """A Stripe API on ``127.0.0.1`` in a background thread. Use it as a context manager."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._keys: dict[str, str] = {}
        # account id -> the platform that connected it; None for an account that owns keys.
        self._platform_of: dict[str, str | None] = {}
        self._accounts: dict[str, dict[str, Any]] = {}
        self._objects: dict[str, dict[str, dict[str, Any]]] = {}
        self._home: dict[str, str] = {}
        self._cards: dict[str, TestCard] = {}
        self._return_urls: dict[str, str | None] = {}
        self._events: dict[str, list[dict[str, Any]]] = {}
        self._idempotency: dict[tuple[str, str, str], tuple[str, _Response]] = {}
        self._faults: deque[_Fault] = deque()
        self._links: dict[str, dict[str, Any]] = {}
        # Checkout Session id -> what it was created with but does not show (line items,
        # payment_intent_data, the page's last error).
        self._checkout: dict[str, dict[str, Any]] = {}
        self.charges: list[ChargeRecord] = []
        self.requests: list[RecordedRequest] = []

    # lifecycle

    def __enter__(self) -> StripeServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(
            # A short poll so stopping the server does not cost each test half a second.
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-stripe",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # set-up and inspection helpers

    def register_key(self, api_key: str, *, account: str | None = None) -> str:
        """Makes ``api_key`` valid; returns the id of the Stripe account that owns it."""
        if not api_key.startswith(("sk_test_", "rk_test_")):
            raise ValueError("Only test-mode secret keys belong on a test server.")
        with self._lock:
            if account is None:
                account = new_id("acct", 16)
            if account not in self._accounts:
                self._add_account(
                    account,
                    platform=None,
                    type="standard",
                    country="US",
                    email=None,
                    metadata={},
                    onboarded=True,
                )
            self._keys[api_key] = account
            return account

    def fail_next(self, count: int = 1, *, status: int = 500) -> None:
        """The next ``count`` API calls answer ``status`` (500, 503, 429 ...) and do nothing."""
        with self._lock:
            self._faults.extend(_Fault("status", status=status) for _ in range(count))

    def hang_next(self, count: int = 1, *, seconds: float = 5.0) -> None:
        """The next ``count`` API calls are carried out, then answered only after ``seconds``:
        the client times out without knowing whether its request happened."""
        with self._lock:
            self._faults.extend(_Fault("hang", seconds=seconds) for _ in range(count))

    def get(self, object_id: str) -> dict[str, Any]:
        """A copy of any stored object, whichever account it lives on."""
        with self._lock:
            if object_id in self._accounts:
                return copy.deepcopy(self._accounts[object_id])
            return copy.deepcopy(self._objects[self._home[object_id]][object_id])

    def account_of(self, object_id: str) -> str:
        with self._lock:
            return self._home[object_id]

    def objects(self, account: str, kind: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            found = self._objects.get(account, {}).values()
            return [copy.deepcopy(o) for o in found if kind is None or o["object"] == kind]

    def charges_on(self, account: str) -> list[ChargeRecord]:
        with self._lock:
            return [c for c in self.charges if c.account == account]

    def events(self, account: str, type: str | None = None) -> list[dict[str, Any]]:
        """The events of one account, oldest first."""
        with self._lock:
            return [
                copy.deepcopy(e)
                for e in self._events.get(account, [])
                if type is None or e["type"] == type
            ]

    def event(self, event_id: str) -> dict[str, Any]:
        with self._lock:
            for events in self._events.values():
                for event in events:
                    if event["id"] == event_id:
                        return copy.deepcopy(event)
        raise KeyError(event_id)

    def webhook_payload(
        self, event: dict[str, Any] | str, secret: str, *, timestamp: int | None = None
    ) -> tuple[bytes, str]:
        """``(body, Stripe-Signature header)`` for delivering an event to an endpoint."""
        if isinstance(event, str):
            event = self.event(event)
        payload = json.dumps(event, indent=2).encode()
        return payload, webhook_signature_header(payload, secret, timestamp)

    def complete_3ds(self, intent_id: str, *, succeed: bool = True) -> dict[str, Any]:
        """The cardholder finishes (or fails) 3D Secure for a PaymentIntent or SetupIntent."""
        with self._lock:
            account = self._home[intent_id]
            intent = self._objects[account][intent_id]
            if intent["status"] != "requires_action":
                raise ValueError(f"{intent_id} is {intent['status']}, not requires_action.")
            ctx = _Context(account=account, platform=self._platform_of[account] or account)
            if intent["object"] == "payment_intent":
                if succeed:
                    self._pi_succeed(ctx, intent)
                else:
                    self._pi_fail(
                        ctx,
                        intent,
                        code="payment_intent_authentication_failure",
                        decline_code=None,
                        message="We are unable to authenticate your payment method. Please "
                        "choose a different payment method and try again.",
                        with_charge=False,
                    )
            elif succeed:
                self._si_succeed(ctx, intent)
            else:
                self._si_fail(
                    ctx,
                    intent,
                    code="setup_intent_authentication_failure",
                    decline_code=None,
                    message="We are unable to authenticate your payment method. Please "
                    "choose a different payment method and try again.",
                )
            return copy.deepcopy(intent)

    def complete_setup_intent(
        self, setup_intent_id: str, payment_method: str = "pm_card_visa"
    ) -> dict[str, Any]:
        """The browser confirms a SetupIntent with a card, as Stripe.js would."""
        with self._lock:
            account = self._home[setup_intent_id]
            ctx = _Context(account=account, platform=self._platform_of[account] or account)
            intent = self._objects[account][setup_intent_id]
            intent["payment_method"] = self._resolve_pm(ctx, payment_method, intent["customer"])
            self._si_confirm(ctx, intent)
            return copy.deepcopy(intent)

    def complete_onboarding(self, account_id: str) -> dict[str, Any]:
        """The reseller finishes Stripe's onboarding: charges and payouts become enabled."""
        with self._lock:
            account = self._accounts[account_id]
            previous = {
                "charges_enabled": account["charges_enabled"],
                "payouts_enabled": account["payouts_enabled"],
                "details_submitted": account["details_submitted"],
                "requirements": copy.deepcopy(account["requirements"]),
            }
            account.update(charges_enabled=True, payouts_enabled=True, details_submitted=True)
            account["requirements"] = {"currently_due": [], "eventually_due": [], "past_due": []}
            account["capabilities"] = {name: "active" for name in account["capabilities"]}
            self._emit(account_id, "account.updated", account, previous=previous)
            return copy.deepcopy(account)

    def create_dispute(
        self, charge_id: str, *, reason: str = "fraudulent", amount: int | None = None
    ) -> dict[str, Any]:
        """The cardholder's bank opens a dispute on a charge."""
        with self._lock:
            account = self._home[charge_id]
            charge = self._objects[account][charge_id]
            dispute = {
                "id": new_id("dp"),
                "object": "dispute",
                "amount": charge["amount"] if amount is None else amount,
                "charge": charge_id,
                "created": int(time.time()),
                "currency": charge["currency"],
                "is_charge_refundable": False,
                "livemode": False,
                "metadata": {},
                "payment_intent": charge["payment_intent"],
                "reason": reason,
                "status": "needs_response",
            }
            self._store(account, dispute)
            charge["disputed"] = True
            self._emit(account, "charge.dispute.created", dispute)
            return copy.deepcopy(dispute)

    # HTTP

    def _handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> _Response:
        url = urlsplit(raw_path)
        if not url.path.startswith("/v1/"):
            return self._browser(url.path, url.query, method=method, body=body)
        api_key = _bearer(headers.get("Authorization"))
        stripe_account = headers.get("Stripe-Account")
        idempotency_key = headers.get("Idempotency-Key") if method == "POST" else None
        params: dict[str, Any] = {}
        fault: _Fault | None = None
        try:
            params = decode_form(url.query if method == "GET" else body.decode())
            with self._lock:
                fault = self._faults.popleft() if self._faults else None
                if fault is not None and fault.kind == "status":
                    raise _fault_error(fault.status)
                response = self._api(
                    method,
                    url.path,
                    params,
                    api_key=api_key,
                    stripe_account=stripe_account,
                    idempotency_key=idempotency_key,
                    api_version=headers.get("Stripe-Version"),
                )
        except StripeApiError as exc:
            response = _json(exc.status, {"error": exc.error})
        response.headers.setdefault("Request-Id", new_id("req", 14))
        with self._lock:
            self.requests.append(
                RecordedRequest(
                    method,
                    url.path,
                    api_key,
                    stripe_account,
                    idempotency_key,
                    params,
                    response.status,
                )
            )
        if fault is not None and fault.kind == "hang":
            self._stopping.wait(fault.seconds)
        return response

    def _api(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        *,
        api_key: str | None,
        stripe_account: str | None,
        idempotency_key: str | None,
        api_version: str | None,
    ) -> _Response:
        if not api_key:
            raise StripeApiError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
            )
        platform = self._keys.get(api_key)
        if platform is None:
            raise StripeApiError(401, f"Invalid API Key provided: {_masked(api_key)}")
        account = stripe_account or platform
        self._check_access(api_key, platform, account)
        request_id = new_id("req", 14)
        ctx = _Context(account, platform, request_id, idempotency_key, api_version)

        fingerprint = json.dumps([method, path, params], sort_keys=True)
        scope = (platform, account, idempotency_key or "")
        if idempotency_key and scope in self._idempotency:
            saved_fingerprint, saved = self._idempotency[scope]
            if saved_fingerprint != fingerprint:
                raise StripeApiError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with. Try using a key other than "
                    f"'{idempotency_key}' if you meant to execute a different request.",
                    type="idempotency_error",
                )
            replay = _Response(saved.status, saved.body, dict(saved.headers))
            replay.headers["Idempotent-Replayed"] = "true"
            return replay

        handler, args = self._route(method, path)
        try:
            status, body = 200, handler(ctx, params, *args)
        except StripeApiError as exc:
            status, body = exc.status, {"error": exc.error}
        response = _json(status, body)
        response.headers["Request-Id"] = request_id
        # Like Stripe, keep the outcome once the endpoint has acted (a 402 decline too),
        # not a request refused before anything happened.
        if idempotency_key and status in (200, 402):
            self._idempotency[scope] = (fingerprint, response)
        return response

    def _check_access(self, api_key: str, platform: str, account: str) -> None:
        if account != platform and self._platform_of.get(account) != platform:
            raise StripeApiError(
                403,
                f"The provided key '{_masked(api_key)}' does not have access to account "
                f"'{account}' (or that account does not exist). Application access may "
                "have been revoked.",
                code="account_invalid",
            )

    def _route(self, method: str, path: str) -> tuple[Any, tuple[str, ...]]:
        for route_method, pattern, name in _ROUTES:
            match = pattern.fullmatch(path)
            if route_method == method and match:
                return getattr(self, name), match.groups()
        raise StripeApiError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
        )

    def _browser(
        self, path: str, query: str, *, method: str = "GET", body: bytes = b""
    ) -> _Response:
        """The pages a person would open: Connect onboarding, the 3D Secure challenge and
        the hosted Checkout page."""
        onboarding = re.fullmatch(r"/connect/onboarding/([A-Za-z0-9]+)", path)
        challenge = re.fullmatch(r"/3ds/((?:pi|seti)_[A-Za-z0-9]+)", path)
        checkout = re.fullmatch(r"/c/pay/(cs_[A-Za-z0-9_]+)(/return)?", path)
        with self._lock:
            if checkout and checkout.group(1) in self._checkout:
                if checkout.group(2):
                    return self._checkout_page_return(checkout.group(1))
                if method == "POST":
                    return self._checkout_page_submit(checkout.group(1), body)
                return self._checkout_page(checkout.group(1))
            if onboarding and onboarding.group(1) in self._links:
                link = self._links[onboarding.group(1)]
                if link["used"] or link["expires_at"] < time.time():
                    return _redirect(link["refresh_url"])
                link["used"] = True
                self.complete_onboarding(link["account"])
                return _redirect(link["return_url"])
            if challenge and challenge.group(1) in self._home:
                intent_id = challenge.group(1)
                fail = dict(parse_qsl(query)).get("result") == "fail"
                try:
                    intent = self.complete_3ds(intent_id, succeed=not fail)
                except ValueError as exc:
                    return _Response(409, str(exc).encode(), {"Content-Type": "text/plain"})
                return_url = self._return_urls.get(intent_id)
                if return_url:
                    key = intent["object"]
                    extra = urlencode(
                        {
                            key: intent_id,
                            f"{key}_client_secret": intent["client_secret"],
                            "redirect_status": "failed" if fail else "succeeded",
                        }
                    )
                    return _redirect(return_url + ("&" if "?" in return_url else "?") + extra)
                return _Response(
                    200, b"<p>Authentication complete.</p>", {"Content-Type": "text/html"}
                )
        return _Response(404, b"Not found", {"Content-Type": "text/plain"})

    # storage

    def _store(self, account: str, obj: dict[str, Any]) -> dict[str, Any]:
        self._objects.setdefault(account, {})[obj["id"]] = obj
        self._home[obj["id"]] = account
        return obj

    def _find(
        self, ctx: _Context, object_id: Any, kind: str, *, param: str = "id", status: int = 404
    ) -> dict[str, Any]:
        obj = (
            self._objects.get(ctx.account, {}).get(object_id)
            if isinstance(object_id, str)
            else None
        )
        if obj is None or obj["object"] != kind:
            label = {"payment_method": "PaymentMethod", "payment_intent": "payment_intent"}.get(
                kind, kind
            )
            raise StripeApiError(
                status, f"No such {label}: '{object_id}'", code="resource_missing", param=param
            )
        return obj

    def _render(self, ctx: _Context, obj: dict[str, Any], expand: Any = None) -> dict[str, Any]:
        rendered = copy.deepcopy(obj)
        for path in expand or []:
            if path.startswith("data."):
                continue
            value = rendered.get(path)
            if isinstance(value, str) and value in self._objects.get(ctx.account, {}):
                rendered[path] = copy.deepcopy(self._objects[ctx.account][value])
        return rendered

    def _list(
        self, ctx: _Context, items: list[dict[str, Any]], params: dict[str, Any], url: str
    ) -> dict[str, Any]:
        limit = _int(params, "limit", 10) or 10
        if not 1 <= limit <= 100:
            raise StripeApiError(400, "Limit must be between 1 and 100.", param="limit")
        start = 0
        after = params.get("starting_after")
        if after:
            ids = [item["id"] for item in items]
            if after not in ids:
                raise StripeApiError(
                    400,
                    f"No such object: '{after}'",
                    code="resource_missing",
                    param="starting_after",
                )
            start = ids.index(after) + 1
        page = items[start : start + limit]
        nested = [p[len("data.") :] for p in params.get("expand") or [] if p.startswith("data.")]
        return {
            "object": "list",
            "data": [self._render(ctx, item, nested) for item in page],
            "has_more": start + limit < len(items),
            "url": url,
        }

    def _emit(
        self,
        account: str,
        type: str,
        obj: dict[str, Any],
        ctx: _Context | None = None,
        *,
        previous: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = previous
        event: dict[str, Any] = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": (ctx.api_version if ctx else None) or API_VERSION,
            "created": int(time.time()),
            "data": data,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {
                "id": ctx.request_id if ctx else None,
                "idempotency_key": ctx.idempotency_key if ctx else None,
            },
            "type": type,
        }
        if self._platform_of.get(account):
            # Connect events say which connected account they happened on.
            event["account"] = account
        self._events.setdefault(account, []).append(event)
        return event

    def _add_account(
        self,
        account_id: str,
        *,
        platform: str | None,
        type: str,
        country: str,
        email: str | None,
        metadata: dict[str, str],
        onboarded: bool,
        capabilities: tuple[str, ...] = ("card_payments", "transfers"),
    ) -> dict[str, Any]:
        account = {
            "id": account_id,
            "object": "account",
            "business_type": None,
            "capabilities": {c: "active" if onboarded else "inactive" for c in capabilities},
            "charges_enabled": onboarded,
            "country": country,
            "created": int(time.time()),
            "default_currency": _DEFAULT_CURRENCY.get(country, "eur"),
            "details_submitted": onboarded,
            "email": email,
            "metadata": metadata,
            "payouts_enabled": onboarded,
            "requirements": {
                "currently_due": []
                if onboarded
                else ["business_profile.url", "external_account", "tos_acceptance.date"],
                "eventually_due": [],
                "past_due": [],
            },
            "type": type,
        }
        self._accounts[account_id] = account
        self._platform_of[account_id] = platform
        self._objects.setdefault(account_id, {})
        self._events.setdefault(account_id, [])
        return account

    # customers

    def _customer_create(self, ctx: _Context, p: dict[str, Any]) -> dict[str, Any]:
        _allow(p, {"email", "name", "description", "metadata", "phone"})
        customer = self._store(
            ctx.account,
            {
                "id": new_id("cus", 14),
                "object": "customer",
                "created": int(time.time()),
                "description": p.get("description"),
                "email": p.get("email"),
                "invoice_settings": {"default_payment_method": None},
                "livemode": False,
                "metadata": _metadata(p),
                "name": p.get("name"),
                "phone": p.get("phone"),
            },
        )
        self._emit(ctx.account, "customer.created", customer, ctx)
        return self._render(ctx, customer, p.get("expand"))

    def _customer_retrieve(
        self, ctx: _Context, p: dict[str, Any], customer_id: str
    ) -> dict[str, Any]:
        _allow(p, set())
        return self._render(ctx, self._find(ctx, customer_id, "customer"), p.get("expand"))

    # payment methods

    def _resolve_pm(self, ctx: _Context, ref: Any, customer: str | None) -> str:
        """A test-card token becomes a new PaymentMethod on the account, as on Stripe."""
        if isinstance(ref, str) and ref in TEST_CARDS:
            card = TEST_CARDS[ref]
            pm = self._store(
                ctx.account,
                {
                    "id": new_id("pm"),
                    "object": "payment_method",
                    "billing_details": {"address": None, "email": None, "name": None},
                    "card": {
                        "brand": card.brand,
                        "country": "US",
                        "exp_month": 12,
                        "exp_year": time.gmtime().tm_year + 3,
                        "fingerprint": hashlib.sha256(ref.encode()).hexdigest()[:16],
                        "funding": "credit",
                        "last4": card.last4,
                    },
                    "created": int(time.time()),
                    "customer": None,
                    "livemode": False,
                    "metadata": {},
                    "type": "card",
                },
            )
            self._cards[pm["id"]] = card
            return pm["id"]
        pm = self._find(ctx, ref, "payment_method", param="payment_method", status=400)
        if customer and pm["customer"] and pm["customer"] != customer:
            raise StripeApiError(
                400,
                f"The provided PaymentMethod {pm['id']} is attached to another customer.",
                param="payment_method",
            )
        return pm["id"]

    def _pm_attach(self, ctx: _Context, pm_id: str, customer_id: str) -> None:
        pm = self._objects[ctx.account][pm_id]
        if pm["customer"] != customer_id:
            pm["customer"] = customer_id
            self._emit(ctx.account, "payment_method.attached", pm, ctx)

    def _payment_method_list(self, ctx: _Context, p: dict[str, Any]) -> dict[str, Any]:
        _allow(p, {"customer", "type", "limit", "starting_after"})
        customer = self._find(
            ctx, _required(p, "customer"), "customer", param="customer", status=400
        )
        wanted = p.get("type")
        items = [
            o
            for o in reversed(self._objects.get(ctx.account, {}).values())
            if o["object"] == "payment_method"
            and o["customer"] == customer["id"]
            and (wanted is None or o["type"] == wanted)
        ]
        return self._list(ctx, items, p, "/v1/payment_methods")

    def _payment_method_retrieve(
        self, ctx: _Context, p: dict[str, Any], pm_id: str
    ) -> dict[str, Any]:
        _allow(p, set())
        return self._render(ctx, self._find(ctx, pm_id, "payment_method"), p.get("expand"))

    def _payment_method_attach(
        self, ctx: _Context, p: dict[str, Any], pm_ref: str
    ) -> dict[str, Any]:
        _allow(p, {"customer"})
        customer = self._find(
            ctx, _required(p, "customer"), "customer", param="customer", status=400
        )
        pm_id = self._resolve_pm(ctx, pm_ref, customer["id"])
        card = self._cards[pm_id]
        if card.setup == "decline":
            raise StripeApiError(
                402, card.message, type="card_error", code=card.code, decline_code=card.decline_code
            )
        self._pm_attach(ctx, pm_id, customer["id"])
        return self._render(ctx, self._objects[ctx.account][pm_id], p.get("expand"))

    def _payment_method_detach(
        self, ctx: _Context, p: dict[str, Any], pm_id: str
    ) -> dict[str, Any]:
        _allow(p, set())
        pm = self._find(ctx, pm_id, "payment_method")
        if pm["customer"] is None:
            raise StripeApiError(
                400,
                "The payment method you provided is not attached to a customer so detachment "
                "is impossible.",
                code="payment_method_unexpected_state",
            )
        pm["customer"] = None
        self._emit(ctx.account, "payment_method.detached", pm, ctx)
        return self._render(ctx, pm, p.get("expand"))

    # setup intents

    def _setup_intent_create(self, ctx: _Context, p: dict[str, Any]) -> dict[str, Any]:
        _allow(
            p,
            {
                "customer",
                "payment_method_types",
                "usage",
                "payment_method",
                "confirm",
                "return_url",
                "metadata",
                "description",
            },
        )
        customer = None
        if p.get("customer"):
            customer = self._find(ctx, p["customer"], "customer", param="customer", status=400)[
                "id"
            ]
        seti_id = new_id("seti")
        intent = {
            "id": seti_id,
            "object": "setup_intent",
            "client_secret": f"{seti_id}_secret_{_token(20)}",
            "created": int(time.time()),
            "customer": customer,
            "description": p.get("description"),
            "last_setup_error": None,
            "livemode": False,
            "metadata": _metadata(p),
            "next_action": None,
            "payment_method": None,
            "payment_method_types": p.get("payment_method_types") or ["card"],
            "status": "requires_payment_method",
            "usage": p.get("usage") or "off_session",
        }
        if p.get("payment_method"):
            intent["payment_method"] = self._resolve_pm(ctx, p["payment_method"], customer)
            intent["status"] = "requires_confirmation"
        self._store(ctx.account, intent)
        self._return_urls[seti_id] = p.get("return_url")
        self._emit(ctx.account, "setup_intent.created", intent, ctx)
        if _bool(p, "confirm"):
            self._raise(self._si_confirm(ctx, intent))
        return self._render(ctx, intent, p.get("expand"))

    def _setup_intent_retrieve(
        self, ctx: _Context, p: dict[str, Any], seti_id: str
    ) -> dict[str, Any]:
        _allow(p, {"client_secret"})
        return self._render(ctx, self._find(ctx, seti_id, "setup_intent"), p.get("expand"))

    def _setup_intent_confirm(
        self, ctx: _Context, p: dict[str, Any], seti_id: str
    ) -> dict[str, Any]:
        _allow(p, {"payment_method", "return_url"})
        intent = self._find(ctx, seti_id, "setup_intent")
        if p.get("payment_method"):
            intent["payment_method"] = self._resolve_pm(
                ctx, p["payment_method"], intent["customer"]
            )
        if p.get("return_url"):
            self._return_urls[seti_id] = p["return_url"]
        self._raise(self._si_confirm(ctx, intent))
        return self._render(ctx, intent, p.get("expand"))

    def _si_confirm(self, ctx: _Context, intent: dict[str, Any]) -> StripeApiError | None:
        if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
            return _unexpected_state("SetupIntent", intent)
        if not intent["payment_method"]:
            return _missing_payment_method("SetupIntent")
        card = self._cards[intent["payment_method"]]
        if card.setup == "authenticate":
            intent["status"] = "requires_action"
            intent["next_action"] = self._redirect_action(intent)
            self._emit(ctx.account, "setup_intent.requires_action", intent, ctx)
            return None
        if card.setup == "decline":
            return self._si_fail(
                ctx, intent, code=card.code, decline_code=card.decline_code, message=card.message
            )
        self._si_succeed(ctx, intent)
        return None

    def _si_succeed(self, ctx: _Context, intent: dict[str, Any]) -> None:
        if intent["customer"]:
            self._pm_attach(ctx, intent["payment_method"], intent["customer"])
        intent.update(status="succeeded", next_action=None, last_setup_error=None)
        self._emit(ctx.account, "setup_intent.succeeded", intent, ctx)

    def _si_fail(
        self,
        ctx: _Context,
        intent: dict[str, Any],
        *,
        code: str,
        decline_code: str | None,
        message: str,
    ) -> StripeApiError:
        error = {
            "type": "card_error",
            "code": code,
            "decline_code": decline_code,
            "message": message,
        }
        intent.update(status="requires_payment_method", next_action=None, last_setup_error=error)
        self._emit(ctx.account, "setup_intent.setup_failed", intent, ctx)
        return StripeApiError(
            402,
            message,
            type="card_error",
            code=code,
            decline_code=decline_code,
            setup_intent=copy.deepcopy(intent),
        )

    # payment intents

    def _payment_intent_create(
        self, ctx: _Context, p: dict[str, Any], intent_id: str | None = None
    ) -> dict[str, Any]:
        _allow(
            p,
            {
                "amount",
                "currency",
                "customer",
                "payment_method",
                "confirm",
                "off_session",
                "return_url",
                "application_fee_amount",
                "metadata",
                "description",
                "setup_future_usage",
                "payment_method_types",
                "automatic_payment_methods",
                "capture_method",
                "receipt_email",
                "statement_descriptor_suffix",
            },
        )
        amount = _int(p, "amount")
        if amount is None:
            _required(p, "amount")
        assert amount is not None
        if amount < 1:
            raise StripeApiError(
                400,
                "This value must be greater than or equal to 1.",
                code="parameter_invalid_integer",
                param="amount",
            )
        currency = str(_required(p, "currency"))
        if not re.fullmatch(r"[a-z]{3}", currency):
            raise StripeApiError(400, f"Invalid currency: {currency}.", param="currency")
        if currency == "isk" and amount % 100:
            raise StripeApiError(
                400,
                "Invalid amount. Currency ISK has become effectively zero-decimal and charged "
                "amounts must be evenly divisible by 100.",
                code="invalid_charge_amount_no_decimal_compatible",
                param="amount",
            )
        if currency in _THREE_DECIMAL and amount % 10:
            raise StripeApiError(
                400,
                f"Amounts in {currency.upper()} must be rounded to the nearest ten minor units.",
                code="invalid_amount",
                param="amount",
            )
        fee = _int(p, "application_fee_amount")
        if fee is not None:
            if ctx.account == ctx.platform:
                raise StripeApiError(
                    400,
                    "Can only apply an application_fee_amount when the PaymentIntent is "
                    "attempting a direct payment (using an OAuth key or Stripe-Account header) "
                    "or destination payment (using `transfer_data[destination]`).",
                    param="application_fee_amount",
                )
            if not 0 <= fee <= amount:
                raise StripeApiError(
                    400,
                    "The application fee cannot be more than the amount.",
                    param="application_fee_amount",
                )
        confirm = _bool(p, "confirm")
        off_session = _bool(p, "off_session")
        if off_session and not confirm:
            raise StripeApiError(
                400, "`off_session` can only be used when `confirm=true`.", param="off_session"
            )
        customer = None
        if p.get("customer"):
            customer = self._find(ctx, p["customer"], "customer", param="customer", status=400)[
                "id"
            ]
        pi_id = intent_id or new_id("pi")
        intent = {
            "id": pi_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "application_fee_amount": fee,
            "capture_method": "automatic",
            "client_secret": f"{pi_id}_secret_{_token(20)}",
            "confirmation_method": "automatic",
            "created": int(time.time()),
            "currency": currency,
            "customer": customer,
            "description": p.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": _metadata(p),
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": None,
            "payment_method_types": p.get("payment_method_types") or ["card"],
            "setup_future_usage": p.get("setup_future_usage"),
            "status": "requires_payment_method",
        }
        if p.get("payment_method"):
            intent["payment_method"] = self._resolve_pm(ctx, p["payment_method"], customer)
            intent["status"] = "requires_confirmation"
        self._store(ctx.account, intent)
        self._return_urls[pi_id] = p.get("return_url")
        self._emit(ctx.account, "payment_intent.created", intent, ctx)
        if confirm:
            self._raise(self._pi_confirm(ctx, intent, off_session=off_session))
        return self._render(ctx, intent, p.get("expand"))

    def _payment_intent_retrieve(
        self, ctx: _Context, p: dict[str, Any], pi_id: str
    ) -> dict[str, Any]:
        _allow(p, {"client_secret"})
        return self._render(ctx, self._find(ctx, pi_id, "payment_intent"), p.get("expand"))

    def _payment_intent_confirm(
        self, ctx: _Context, p: dict[str, Any], pi_id: str
    ) -> dict[str, Any]:
        _allow(p, {"payment_method", "off_session", "return_url", "setup_future_usage"})
        intent = self._find(ctx, pi_id, "payment_intent")
        if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
            self._raise(_unexpected_state("PaymentIntent", intent))
        if p.get("payment_method"):
            intent["payment_method"] = self._resolve_pm(
                ctx, p["payment_method"], intent["customer"]
            )
        if p.get("return_url"):
            self._return_urls[pi_id] = p["return_url"]
        if p.get("setup_future_usage"):
            intent["setup_future_usage"] = p["setup_future_usage"]
        self._raise(self._pi_confirm(ctx, intent, off_session=_bool(p, "off_session")))
        return self._render(ctx, intent, p.get("expand"))

    def _pi_confirm(
        self, ctx: _Context, intent: dict[str, Any], *, off_session: bool
    ) -> StripeApiError | None:
        if intent["status"] not in ("requires_payment_method", "requires_confirmation"):
            return _unexpected_state("PaymentIntent", intent)
        if not intent["payment_method"]:
            return _missing_payment_method("PaymentIntent")
        card = self._cards[intent["payment_method"]]
        if card.charge == "authenticate":
            if off_session:
                return self._pi_fail(
                    ctx,
                    intent,
                    code="authentication_required",
                    decline_code="authentication_required",
                    message="Your card was declined. This transaction requires authentication.",
                    with_charge=True,
                )
            intent["status"] = "requires_action"
            intent["next_action"] = self._redirect_action(intent)
            self._emit(ctx.account, "payment_intent.requires_action", intent, ctx)
            return None
        if card.charge == "decline":
            return self._pi_fail(
                ctx,
                intent,
                code=card.code,
                decline_code=card.decline_code,
                message=card.message,
                with_charge=True,
            )
        self._pi_succeed(ctx, intent)
        return None

    def _redirect_action(self, intent: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "redirect_to_url",
            "redirect_to_url": {
                "url": f"{self.url}/3ds/{intent['id']}",
                "return_url": self._return_urls.get(intent["id"]),
            },
        }

    def _new_charge(self, ctx: _Context, intent: dict[str, Any], *, status: str) -> dict[str, Any]:
        succeeded = status == "succeeded"
        charge = self._store(
            ctx.account,
            {
                "id": new_id("ch"),
                "object": "charge",
                "amount": intent["amount"],
                "amount_captured": intent["amount"] if succeeded else 0,
                "amount_refunded": 0,
                "application_fee_amount": intent["application_fee_amount"],
                "captured": succeeded,
                "created": int(time.time()),
                "currency": intent["currency"],
                "customer": intent["customer"],
                "disputed": False,
                "livemode": False,
                "metadata": dict(intent["metadata"]),
                "paid": succeeded,
                "payment_intent": intent["id"],
                "payment_method": intent["payment_method"],
                "refunded": False,
                "status": status,
            },
        )
        self.charges.append(
            ChargeRecord(
                charge_id=charge["id"],
                payment_intent_id=intent["id"],
                account=ctx.account,
                platform=ctx.platform,
                amount=charge["amount"],
                currency=charge["currency"],
                status=status,
                application_fee_amount=intent["application_fee_amount"],
                customer=intent["customer"],
            )
        )
        intent["latest_charge"] = charge["id"]
        return charge

    def _pi_succeed(self, ctx: _Context, intent: dict[str, Any]) -> None:
        charge = self._new_charge(ctx, intent, status="succeeded")
        if intent["setup_future_usage"] and intent["customer"]:
            self._pm_attach(ctx, intent["payment_method"], intent["customer"])
        intent.update(
            status="succeeded",
            amount_received=intent["amount"],
            next_action=None,
            last_payment_error=None,
        )
        self._emit(ctx.account, "charge.succeeded", charge, ctx)
        self._emit(ctx.account, "payment_intent.succeeded", intent, ctx)

    def _pi_fail(
        self,
        ctx: _Context,
        intent: dict[str, Any],
        *,
        code: str,
        decline_code: str | None,
        message: str,
        with_charge: bool,
    ) -> StripeApiError:
        error: dict[str, Any] = {
            "type": "card_error",
            "code": code,
            "decline_code": decline_code,
            "message": message,
            "payment_method": copy.deepcopy(self._objects[ctx.account][intent["payment_method"]]),
        }
        extra: dict[str, Any] = {}
        if with_charge:
            charge = self._new_charge(ctx, intent, status="failed")
            error["charge"] = extra["charge"] = charge["id"]
            self._emit(ctx.account, "charge.failed", charge, ctx)
        intent.update(status="requires_payment_method", next_action=None, last_payment_error=error)
        self._emit(ctx.account, "payment_intent.payment_failed", intent, ctx)
        return StripeApiError(
            402,
            message,
            type="card_error",
            code=code,
            decline_code=decline_code,
            payment_intent=copy.deepcopy(intent),
            **extra,
        )

    @staticmethod
    def _raise(error: StripeApiError | None) -> None:
        if error is not None:
            raise error

    # charges and refunds

    def _charge_retrieve(self, ctx: _Context, p: dict[str, Any], charge_id: str) -> dict[str, Any]:
        _allow(p, set())
        return self._render(ctx, self._find(ctx, charge_id, "charge"), p.get("expand"))

    def _refund_create(self, ctx: _Context, p: dict[str, Any]) -> dict[str, Any]:
        _allow(
            p,
            {"payment_intent", "charge", "amount", "reason", "metadata", "refund_application_fee"},
        )
        if p.get("payment_intent"):
            intent = self._find(
                ctx, p["payment_intent"], "payment_intent", param="payment_intent", status=400
            )
            charge_id = intent["latest_charge"] if intent["status"] == "succeeded" else None
            if charge_id is None:
                raise StripeApiError(
                    400,
                    f"This PaymentIntent ({intent['id']}) does not have a successful charge "
                    "to refund.",
                    code="charge_not_refundable",
                    param="payment_intent",
                )
            charge = self._objects[ctx.account][charge_id]
        elif p.get("charge"):
            charge = self._find(ctx, p["charge"], "charge", param="charge", status=400)
        else:
            raise StripeApiError(
                400,
                "One of the following params should be provided for this request: "
                "payment_intent or charge.",
                code="parameter_missing",
            )
        if charge["status"] != "succeeded":
            raise StripeApiError(
                400, f"Charge {charge['id']} did not succeed.", code="charge_not_refundable"
            )
        remaining = charge["amount_captured"] - charge["amount_refunded"]
        if remaining <= 0:
            raise StripeApiError(
                400,
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = _int(p, "amount", remaining)
        assert amount is not None
        if amount < 1:
            raise StripeApiError(
                400, "This value must be greater than or equal to 1.", param="amount"
            )
        if amount > remaining:
            raise StripeApiError(
                400,
                f"Refund amount ({amount} {charge['currency']}) is greater than unrefunded "
                f"amount on charge ({remaining} {charge['currency']})",
                param="amount",
            )
        refund = self._store(
            ctx.account,
            {
                "id": new_id("re"),
                "object": "refund",
                "amount": amount,
                "charge": charge["id"],
                "created": int(time.time()),
                "currency": charge["currency"],
                "failure_reason": None,
                "metadata": _metadata(p),
                "payment_intent": charge["payment_intent"],
                "reason": p.get("reason"),
                "status": "succeeded",
            },
        )
        previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount_captured"]
        for record in self.charges:
            if record.charge_id == charge["id"]:
                record.amount_refunded = charge["amount_refunded"]
        self._emit(ctx.account, "refund.created", refund, ctx)
        self._emit(ctx.account, "charge.refunded", charge, ctx, previous=previous)
        return self._render(ctx, refund, p.get("expand"))

    def _refund_retrieve(self, ctx: _Context, p: dict[str, Any], refund_id: str) -> dict[str, Any]:
        _allow(p, set())
        return self._render(ctx, self._find(ctx, refund_id, "refund"), p.get("expand"))

    # Connect

    def _account_create(self, ctx: _Context, p: dict[str, Any]) -> dict[str, Any]:
        _allow(
            p,
            {
                "type",
                "country",
                "email",
                "metadata",
                "capabilities",
                "business_type",
                "default_currency",
            },
        )
        if ctx.account != ctx.platform:
            raise StripeApiError(400, "Connected accounts cannot create accounts.")
        account_type = _required(p, "type")
        if account_type not in ("standard", "express", "custom"):
            raise StripeApiError(
                400, "Invalid type: must be one of standard, express, or custom", param="type"
            )
        requested = tuple((p.get("capabilities") or {}).keys())
        if account_type != "standard" and not requested:
            raise StripeApiError(
                400,
                "You must request the `card_payments` or `transfers` capability for "
                f"{account_type} accounts.",
                param="capabilities",
            )
        account = self._add_account(
            new_id("acct", 16),
            platform=ctx.platform,
            type=account_type,
            country=str(p.get("country") or "US").upper(),
            email=p.get("email"),
            metadata=_metadata(p),
            onboarded=False,
            capabilities=requested or ("card_payments", "transfers"),
        )
        if p.get("default_currency"):
            account["default_currency"] = p["default_currency"]
        if p.get("business_type"):
            account["business_type"] = p["business_type"]
        return self._render(ctx, account)

    def _account_retrieve(
        self, ctx: _Context, p: dict[str, Any], account_id: str
    ) -> dict[str, Any]:
        _allow(p, set())
        if account_id not in self._accounts or (
            account_id != ctx.platform and self._platform_of.get(account_id) != ctx.platform
        ):
            raise StripeApiError(
                403,
                f"The provided key does not have access to account '{account_id}' (or that "
                "account does not exist). Application access may have been revoked.",
                code="account_invalid",
            )
        return self._render(ctx, self._accounts[account_id])

    def _account_current(self, ctx: _Context, p: dict[str, Any]) -> dict[str, Any]:
        _allow(p, set())
        return self._render(ctx, self._accounts[ctx.account])

    def _account_link_create(self, ctx: _Context, p: dict[str, Any]) -> dict[str, Any]:
        _allow(p, {"account", "refresh_url", "return_url", "type", "collect"})
        account_id = _required(p, "account")
        if self._platform_of.get(account_id) != ctx.platform or ctx.account != ctx.platform:
            raise StripeApiError(
                400, f"No such account: '{account_id}'", code="resource_missing", param="account"
            )
        link_type = _required(p, "type")
        if link_type not in ("account_onboarding", "account_update"):
            raise StripeApiError(400, f"Invalid type: {link_type}", param="type")
        token = _token(32)
        created = int(time.time())
        self._links[token] = {
            "account": account_id,
            "refresh_url": _required(p, "refresh_url"),
            "return_url": _required(p, "return_url"),
            "expires_at": created + ACCOUNT_LINK_TTL_S,
            "used": False,
        }
        return {
            "object": "account_link",
            "created": created,
            "expires_at": created + ACCOUNT_LINK_TTL_S,
            "url": f"{self.url}/connect/onboarding/{token}",
        }

    # checkout sessions

    def _checkout_session_create(self, ctx: _Context, p: dict[str, Any]) -> dict[str, Any]:
        _allow(
            p,
            {
                "mode",
                "success_url",
                "cancel_url",
                "line_items",
                "customer",
                "customer_email",
                "client_reference_id",
                "currency",
                "locale",
                "metadata",
                "payment_intent_data",
                "setup_intent_data",
                "payment_method_types",
                "expires_at",
            },
        )
        mode = _required(p, "mode")
        if mode not in ("payment", "setup"):
            raise StripeApiError(400, f"Invalid mode: {mode}", param="mode")
        success_url = str(_required(p, "success_url"))
        for name in ("success_url", "cancel_url"):
            if p.get(name) and not re.match(r"https?://", str(p[name])):
                raise StripeApiError(400, "Not a valid URL", param=name)
        customer = None
        if p.get("customer"):
            customer = self._find(ctx, p["customer"], "customer", param="customer", status=400)
        session_id = f"cs_test_{_token(58)}"
        now = int(time.time())
        session: dict[str, Any] = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": None,
            "amount_total": None,
            "cancel_url": p.get("cancel_url"),
            "client_reference_id": p.get("client_reference_id"),
            "created": now,
            "currency": None,
            "customer": customer["id"] if customer else None,
            "customer_details": None,
            "customer_email": p.get("customer_email"),
            "expires_at": _int(p, "expires_at", now + CHECKOUT_SESSION_TTL_S),
            "livemode": False,
            "locale": p.get("locale"),
            "metadata": _metadata(p),
            "mode": mode,
            "payment_intent": None,
            "payment_method_types": p.get("payment_method_types") or ["card"],
            "payment_status": "unpaid",
            "setup_intent": None,
            "status": "open",
            "success_url": success_url,
            "url": f"{self.url}/c/pay/{session_id}",
        }
        private: dict[str, Any] = {"error": None}
        if mode == "payment":
            if p.get("setup_intent_data"):
                raise StripeApiError(
                    400,
                    "You can not pass `setup_intent_data` in `payment` mode.",
                    param="setup_intent_data",
                )
            items = p.get("line_items")
            if not isinstance(items, list) or not items:
                raise StripeApiError(
                    400,
                    "`line_items` is required in `payment` mode.",
                    code="parameter_missing",
                    param="line_items",
                )
            total, currency = 0, None
            for index, item in enumerate(items):
                price = item.get("price_data") if isinstance(item, dict) else None
                if not isinstance(price, dict):
                    raise StripeApiError(
                        400,
                        "Each line item needs `price_data` on this server.",
                        param=f"line_items[{index}][price_data]",
                    )
                unit = _int(price, "unit_amount")
                quantity = _int(item, "quantity", 1)
                line_currency = str(price.get("currency") or "")
                if unit is None or unit < 0 or quantity is None or quantity < 1:
                    raise StripeApiError(
                        400, "Invalid line item amount.", param=f"line_items[{index}]"
                    )
                if not re.fullmatch(r"[a-z]{3}", line_currency) or currency not in (
                    None,
                    line_currency,
                ):
                    raise StripeApiError(
                        400,
                        "All line items must share one valid currency.",
                        param=f"line_items[{index}][price_data][currency]",
                    )
                if not (price.get("product_data") or {}).get("name"):
                    raise StripeApiError(
                        400,
                        "Missing required param: line_items[0][price_data][product_data][name].",
                        code="parameter_missing",
                        param=f"line_items[{index}][price_data][product_data][name]",
                    )
                total += unit * quantity
                currency = line_currency
            if total < 1:
                raise StripeApiError(
                    400,
                    "The Checkout Session's total amount due must be at least 1.",
                    param="line_items",
                )
            intent_data = p.get("payment_intent_data") or {}
            fee = _int(intent_data, "application_fee_amount")
            if fee is not None and (ctx.account == ctx.platform or not 0 <= fee <= total):
                raise StripeApiError(
                    400,
                    "Can only apply an application_fee_amount, at most the amount, to a direct "
                    "payment (using an OAuth key or Stripe-Account header).",
                    param="payment_intent_data[application_fee_amount]",
                )
            session.update(amount_subtotal=total, amount_total=total, currency=currency)
            private["lines"] = copy.deepcopy(items)
            private["intent_data"] = intent_data
        else:
            if p.get("line_items") or p.get("payment_intent_data"):
                raise StripeApiError(
                    400,
                    "You can not pass `line_items` or `payment_intent_data` in `setup` mode.",
                    param="line_items",
                )
            setup_data = p.get("setup_intent_data") or {}
            setup = self._setup_intent_create(
                ctx,
                {
                    "customer": session["customer"],
                    "metadata": setup_data.get("metadata") or {},
                    "description": setup_data.get("description"),
                    "payment_method_types": session["payment_method_types"],
                    "usage": "off_session",
                },
            )
            session["setup_intent"] = setup["id"]
            session["currency"] = p.get("currency")
        self._store(ctx.account, session)
        self._checkout[session_id] = private
        return self._render(ctx, session, p.get("expand"))

    def _checkout_session_retrieve(
        self, ctx: _Context, p: dict[str, Any], session_id: str
    ) -> dict[str, Any]:
        _allow(p, set())
        session = self._find(ctx, session_id, "checkout.session")
        self._checkout_expire_if_due(ctx, session)
        return self._render(ctx, session, p.get("expand"))

    def _checkout_session_expire(
        self, ctx: _Context, p: dict[str, Any], session_id: str
    ) -> dict[str, Any]:
        _allow(p, set())
        session = self._find(ctx, session_id, "checkout.session")
        if session["status"] != "open":
            raise StripeApiError(
                400,
                f'Only Checkout Sessions with a status in ["open"] can be expired. This '
                f'Checkout Session has a status of "{session["status"]}".',
            )
        self._checkout_expire(ctx, session)
        return self._render(ctx, session, p.get("expand"))

    def expire_checkout_session(self, session_id: str) -> dict[str, Any]:
        """Time passes: an open Checkout Session expires, as after its ``expires_at``."""
        with self._lock:
            ctx = self._ctx_of(session_id)
            session = self._objects[ctx.account][session_id]
            if session["status"] == "open":
                self._checkout_expire(ctx, session)
            return copy.deepcopy(session)

    def _ctx_of(self, object_id: str) -> _Context:
        account = self._home[object_id]
        return _Context(account=account, platform=self._platform_of[account] or account)

    def _checkout_expire_if_due(self, ctx: _Context, session: dict[str, Any]) -> None:
        if session["status"] == "open" and session["expires_at"] <= time.time():
            self._checkout_expire(ctx, session)

    def _checkout_expire(self, ctx: _Context, session: dict[str, Any]) -> None:
        intent_id = session["payment_intent"] or session["setup_intent"]
        intent = self._objects[ctx.account].get(intent_id) if intent_id else None
        if intent is not None and intent["status"] not in ("succeeded", "canceled"):
            intent.update(status="canceled", next_action=None)
            self._emit(ctx.account, f"{intent['object']}.canceled", intent, ctx)
        session.update(status="expired", url=None)
        self._emit(ctx.account, "checkout.session.expired", session, ctx)

    def _checkout_complete(self, ctx: _Context, session: dict[str, Any]) -> _Response:
        if session["status"] == "open":
            paid = session["mode"] == "payment"
            session.update(
                status="complete",
                payment_status="paid" if paid else "no_payment_required",
                url=None,
            )
            customer = (
                self._objects[ctx.account].get(session["customer"]) if session["customer"] else None
            )
            session["customer_details"] = {
                "email": (customer or {}).get("email") or session["customer_email"],
                "name": (customer or {}).get("name"),
            }
            self._emit(ctx.account, "checkout.session.completed", session, ctx)
        return _redirect(
            session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"]), status=303
        )

    def _checkout_page(
        self, session_id: str, *, error: str | None = None, status: int = 200
    ) -> _Response:
        ctx = self._ctx_of(session_id)
        session = self._objects[ctx.account][session_id]
        self._checkout_expire_if_due(ctx, session)
        if session["status"] == "complete":
            return _redirect(
                session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id), status=303
            )
        if session["status"] == "expired":
            return _html(410, "<h1>This page has expired</h1>")
        private = self._checkout[session_id]
        if session["mode"] == "payment":
            names = ", ".join(
                html.escape(str(line["price_data"]["product_data"]["name"]))
                for line in private["lines"]
            )
            amount = f"{session['amount_total']} {session['currency'].upper()} (minor units)"
            heading = f'<h1>Pay {names}</h1><p id="amount">{amount}</p>'
            button = "Pay"
        else:
            heading = "<h1>Save a card</h1>"
            button = "Save card"
        message = error or private["error"]
        alert = f'<p role="alert" class="error">{html.escape(message)}</p>' if message else ""
        back = (
            f'<p><a href="{html.escape(session["cancel_url"])}">Back</a></p>'
            if session["cancel_url"]
            else ""
        )
        page = (
            f"{heading}{alert}"
            f'<form method="post" action="/c/pay/{session_id}">'
            '<label>Card number <input name="cardnumber" inputmode="numeric"></label>'
            '<label>Expiry <input name="exp" placeholder="MM / YY"></label>'
            '<label>CVC <input name="cvc"></label>'
            f'<button type="submit">{button}</button></form>{back}'
        )
        return _html(status, page)

    def _checkout_page_submit(self, session_id: str, body: bytes) -> _Response:
        ctx = self._ctx_of(session_id)
        session = self._objects[ctx.account][session_id]
        self._checkout_expire_if_due(ctx, session)
        if session["status"] != "open":
            return self._checkout_page(session_id)
        form = dict(parse_qsl(body.decode(), keep_blank_values=True))
        number = re.sub(r"\D", "", form.get("cardnumber", ""))
        token = TEST_CARD_NUMBERS.get(number)
        if token is None:
            return self._checkout_page(session_id, error="Your card number is invalid.", status=400)
        private = self._checkout[session_id]
        private["error"] = None
        return_url = f"{self.url}/c/pay/{session_id}/return"
        try:
            if session["mode"] == "payment":
                intent = self._checkout_payment_confirm(ctx, session, token, return_url)
            else:
                intent = self._setup_intent_confirm(
                    ctx,
                    {"payment_method": token, "return_url": return_url},
                    session["setup_intent"],
                )
        except StripeApiError as exc:
            # Declined: Checkout keeps the page open and says why, nothing else changes.
            private["error"] = exc.error.get("message")
            return self._checkout_page(session_id, status=402)
        return self._checkout_after_confirm(ctx, session, intent)

    def _checkout_payment_confirm(
        self, ctx: _Context, session: dict[str, Any], token: str, return_url: str
    ) -> dict[str, Any]:
        if session["payment_intent"]:
            # Another card after a refused one: the same PaymentIntent, confirmed again.
            return self._payment_intent_confirm(
                ctx, {"payment_method": token, "return_url": return_url}, session["payment_intent"]
            )
        data = self._checkout[session["id"]]["intent_data"]
        params: dict[str, Any] = {
            "amount": str(session["amount_total"]),
            "currency": session["currency"],
            "payment_method": token,
            "payment_method_types": session["payment_method_types"],
            "metadata": data.get("metadata") or {},
            "confirm": "true",
            "return_url": return_url,
        }
        for name in ("application_fee_amount", "setup_future_usage", "description"):
            if data.get(name) not in (None, ""):
                params[name] = data[name]
        if session["customer"]:
            params["customer"] = session["customer"]
        # Created by the page when the card is submitted, as in current API versions.
        intent_id = new_id("pi")
        try:
            intent = self._payment_intent_create(ctx, params, intent_id=intent_id)
        finally:
            if intent_id in self._home:
                session["payment_intent"] = intent_id
        return intent

    def _checkout_after_confirm(
        self, ctx: _Context, session: dict[str, Any], intent: dict[str, Any]
    ) -> _Response:
        if intent["status"] == "succeeded":
            return self._checkout_complete(ctx, session)
        if intent["status"] == "requires_action":
            return _redirect(intent["next_action"]["redirect_to_url"]["url"], status=303)
        return self._checkout_page(session["id"])

    def _checkout_page_return(self, session_id: str) -> _Response:
        """Back from 3D Secure: complete the session, or show the page with the refusal."""
        ctx = self._ctx_of(session_id)
        session = self._objects[ctx.account][session_id]
        intent_id = session["payment_intent"] or session["setup_intent"]
        intent = self._objects[ctx.account].get(intent_id) if intent_id else None
        if intent is None or session["status"] != "open":
            return self._checkout_page(session_id)
        error = intent.get("last_payment_error") or intent.get("last_setup_error")
        if intent["status"] != "succeeded" and error:
            self._checkout[session_id]["error"] = error.get("message")
        return self._checkout_after_confirm(ctx, session, intent)

    # events

    def _event_list(self, ctx: _Context, p: dict[str, Any]) -> dict[str, Any]:
        _allow(p, {"type", "limit", "starting_after"})
        events = [
            e
            for e in reversed(self._events.get(ctx.account, []))
            if not p.get("type") or e["type"] == p["type"]
        ]
        return self._list(ctx, events, p, "/v1/events")

    def _event_retrieve(self, ctx: _Context, p: dict[str, Any], event_id: str) -> dict[str, Any]:
        _allow(p, set())
        for event in self._events.get(ctx.account, []):
            if event["id"] == event_id:
                return copy.deepcopy(event)
        raise StripeApiError(
            404, f"No such event: '{event_id}'", code="resource_missing", param="id"
        )


_ID = r"([A-Za-z0-9_]+)"
_ROUTES = [
    (method, re.compile(pattern.replace("{id}", _ID)), name)
    for method, pattern, name in [
        ("POST", "/v1/customers", "_customer_create"),
        ("GET", "/v1/customers/{id}", "_customer_retrieve"),
        ("GET", "/v1/payment_methods", "_payment_method_list"),
        ("GET", "/v1/payment_methods/{id}", "_payment_method_retrieve"),
        ("POST", "/v1/payment_methods/{id}/attach", "_payment_method_attach"),
        ("POST", "/v1/payment_methods/{id}/detach", "_payment_method_detach"),
        ("POST", "/v1/setup_intents", "_setup_intent_create"),
        ("GET", "/v1/setup_intents/{id}", "_setup_intent_retrieve"),
        ("POST", "/v1/setup_intents/{id}/confirm", "_setup_intent_confirm"),
        ("POST", "/v1/payment_intents", "_payment_intent_create"),
        ("GET", "/v1/payment_intents/{id}", "_payment_intent_retrieve"),
        ("POST", "/v1/payment_intents/{id}/confirm", "_payment_intent_confirm"),
        ("GET", "/v1/charges/{id}", "_charge_retrieve"),
        ("POST", "/v1/refunds", "_refund_create"),
        ("GET", "/v1/refunds/{id}", "_refund_retrieve"),
        ("POST", "/v1/accounts", "_account_create"),
        ("GET", "/v1/accounts/{id}", "_account_retrieve"),
        ("GET", "/v1/account", "_account_current"),
        ("POST", "/v1/account_links", "_account_link_create"),
        ("POST", "/v1/checkout/sessions", "_checkout_session_create"),
        ("GET", "/v1/checkout/sessions/{id}", "_checkout_session_retrieve"),
        ("POST", "/v1/checkout/sessions/{id}/expire", "_checkout_session_expire"),
        ("GET", "/v1/events", "_event_list"),
        ("GET", "/v1/events/{id}", "_event_retrieve"),
    ]
]


def _bearer(header: str | None) -> str | None:
    if header and header.startswith("Bearer "):
        return header[len("Bearer ") :].strip() or None
    return None


def _masked(api_key: str) -> str:
    return f"{api_key[:8]}{'*' * 12}{api_key[-4:]}"


def _json(status: int, body: dict[str, Any]) -> _Response:
    return _Response(
        status,
        json.dumps(body, indent=2).encode(),
        {"Content-Type": "application/json", "Stripe-Version": API_VERSION},
    )


def _redirect(location: str, *, status: int = 302) -> _Response:
    return _Response(status, b"", {"Location": location})


def _html(status: int, body: str) -> _Response:
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Checkout</title></head><body>{body}</body></html>"
    )
    return _Response(status, page.encode(), {"Content-Type": "text/html; charset=utf-8"})


def _fault_error(status: int) -> StripeApiError:
    if status == 429:
        return StripeApiError(
            429,
            "Request rate limit exceeded. Learn more about rate limits here "
            "https://stripe.com/docs/rate-limits.",
            code="rate_limit",
        )
    return StripeApiError(status, "An unknown error occurred", type="api_error")


def _unexpected_state(label: str, intent: dict[str, Any]) -> StripeApiError:
    return StripeApiError(
        400,
        f"You cannot confirm this {label} because it has a status of {intent['status']}.",
        code=f"{intent['object']}_unexpected_state",
    )


def _missing_payment_method(label: str) -> StripeApiError:
    return StripeApiError(
        400,
        f"You cannot confirm this {label} because it's missing a payment method.",
        code=f"{'payment_intent' if label == 'PaymentIntent' else 'setup_intent'}_unexpected_state",
    )


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: StripeServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is part of the tests, not an error.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        response = self.server.fake._handle(self.command, self.path, self.headers, body)
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = _serve
    do_POST = _serve
    do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass
