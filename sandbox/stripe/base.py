"""What every part of the local Stripe shares: the HTTP server, Stripe's form encoding,
Bearer keys and the ``Stripe-Account`` header, errors, idempotency, storage, rendering,
events and their webhook signatures.

Follows Stripe's API reference for the pinned version (https://docs.stripe.com/api,
API version ``schema.API_VERSION``, 2026-10-28.endive with stripe-python 16.1.0):
authentication (https://docs.stripe.com/api/authentication), errors
(https://docs.stripe.com/api/errors), idempotent requests
(https://docs.stripe.com/api/idempotent_requests), connected accounts
(https://docs.stripe.com/connect/authentication), pagination
(https://docs.stripe.com/api/pagination), expanding responses
(https://docs.stripe.com/api/expanding_objects), and webhook signatures
(https://docs.stripe.com/webhooks#verify-manually).

Every API request is first checked against the installed library's definition of that
call (``schema``): an unknown parameter is Stripe's 400 ``parameter_unknown``. Then the
resource module checks what this stand-in simulates: a parameter Stripe takes but this
server does not act on is refused too, with a message that says so, rather than
silently ignored. Objects leave the server with every field the library's resource
class declares (unset nullable ones as ``null``, as Stripe sends them).

Resource families live in their own modules and are combined by ``StripeServer`` in
``sandbox.stripe``; each declares its routes in ``ROUTES`` (API) and ``PAGES`` (pages a
person opens in a browser).
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
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from sandbox.stripe import schema

API_VERSION = schema.API_VERSION
_ALPHABET = string.ascii_letters + string.digits
_DEFAULT_CURRENCY = {"US": "usd", "GB": "gbp", "JP": "jpy", "CH": "chf", "CA": "cad", "AU": "aud"}

# Calls from which the 2026-09-30.endive release removed ``payment_method_types``: Stripe
# answers them with a code of their own, not ``parameter_unknown``. See the changelog
# entries "Removes the payment method types parameter from Payment Intents and Setup
# Intents" and "... from Checkout Sessions" (https://docs.stripe.com/changelog/endive).
_PAYMENT_METHOD_TYPES_REMOVED = {
    ("POST", "/v1/payment_intents"),
    ("POST", "/v1/payment_intents/{intent}"),
    ("POST", "/v1/payment_intents/{intent}/confirm"),
    ("POST", "/v1/setup_intents"),
    ("POST", "/v1/setup_intents/{intent}"),
    ("POST", "/v1/checkout/sessions"),
}


def token(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{token(length)}"


def webhook_signature_header(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """Stripe's ``Stripe-Signature``: ``t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<payload>">``."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


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
    # The library's endpoint template it was checked against ("/v1/refunds/{refund}").
    endpoint: str | None = None


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Context:
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


# --- helpers for the resource modules -------------------------------------------------


def simulated(params: dict[str, Any], handled: set[str]) -> None:
    """Refuses a parameter Stripe takes (the library check has passed) but this server
    does not act on, so nobody mistakes it for one that works here."""
    for name in params:
        if name not in handled and name != "expand":
            raise StripeApiError(
                400,
                f"The local Stripe does not simulate the parameter {name}; Stripe itself "
                "accepts it.",
                param=name,
            )


def int_param(params: dict[str, Any], name: str, default: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise StripeApiError(
            400, f"Invalid integer: {raw}", code="parameter_invalid_integer", param=name
        ) from None


def bool_param(params: dict[str, Any], name: str) -> bool:
    raw = params.get(name)
    if raw is None:
        return False
    if raw in ("true", "false"):
        return raw == "true"
    raise StripeApiError(400, f"Invalid boolean: {raw}", param=name)


def required(params: dict[str, Any], name: str) -> Any:
    if params.get(name) in (None, ""):
        raise StripeApiError(
            400, f"Missing required param: {name}.", code="parameter_missing", param=name
        )
    return params[name]


def metadata_param(params: dict[str, Any]) -> dict[str, str]:
    raw = params.get("metadata") or {}
    if not isinstance(raw, dict):
        return {}
    return {k: v for k, v in raw.items() if v != ""}


def raise_if(error: StripeApiError | None) -> None:
    if error is not None:
        raise error


def json_response(status: int, body: dict[str, Any]) -> Response:
    return Response(
        status,
        json.dumps(body, indent=2).encode(),
        {"Content-Type": "application/json", "Stripe-Version": API_VERSION},
    )


def redirect(location: str, *, status: int = 302) -> Response:
    return Response(status, b"", {"Location": location})


def html_page(status: int, body: str, *, title: str = "Checkout") -> Response:
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head><body>{body}</body></html>"
    )
    return Response(status, page.encode(), {"Content-Type": "text/html; charset=utf-8"})


def complete(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with every field its library class declares: an unset nullable field is
    sent as ``null``, as Stripe sends it. Non-nullable fields are the resource module's
    to fill; a test checks that they do."""
    cls = schema.resource_class(str(obj.get("object")))
    if cls is None:
        return obj
    for name, declared in schema.declared_fields(cls).items():
        if declared.nullable and name not in obj:
            obj[name] = None
    return obj


def _bearer(header: str | None) -> str | None:
    if header and header.startswith("Bearer "):
        return header[len("Bearer ") :].strip() or None
    return None


def _masked(api_key: str) -> str:
    return f"{api_key[:8]}{'*' * 12}{api_key[-4:]}"


def _fault_error(status: int) -> StripeApiError:
    if status == 429:
        return StripeApiError(
            429,
            "Request rate limit exceeded. Learn more about rate limits here "
            "https://stripe.com/docs/rate-limits.",
            code="rate_limit",
        )
    return StripeApiError(status, "An unknown error occurred", type="api_error")


def _param_error(method: str, endpoint: schema.Endpoint, exc: schema.ParamError) -> StripeApiError:
    if (
        exc.code == "parameter_unknown"
        and exc.param == "payment_method_types"
        and (method, endpoint.template) in _PAYMENT_METHOD_TYPES_REMOVED
    ):
        return StripeApiError(
            400,
            f"The payment_method_types parameter is not supported on API version "
            f"{API_VERSION}. Use allowed_payment_method_types to limit the payment methods, "
            "or dynamic payment methods.",
            code="payment_method_types_no_longer_supported",
            param="payment_method_types",
        )
    return StripeApiError(400, exc.message, code=exc.code, param=exc.param)


# --- the server -----------------------------------------------------------------------

Route = tuple[str, str, str]  # method, path pattern with {id}, handler name
Page = tuple[str, str]  # path regex, handler name

_ID = r"([A-Za-z0-9_]+)"


class StripeServerBase:
    """A Stripe API on ``127.0.0.1`` in a background thread. Use it as a context manager.

    Resource modules subclass it, add their handlers and list them in ``ROUTES``: a
    handler takes ``(ctx, params, *path ids)`` and returns the object to answer."""

    ROUTES: ClassVar[tuple[Route, ...]] = ()
    PAGES: ClassVar[tuple[Page, ...]] = ()

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
        self._events: dict[str, list[dict[str, Any]]] = {}
        self._idempotency: dict[tuple[str, str, str], tuple[str, Response]] = {}
        self._faults: deque[_Fault] = deque()
        self.charges: list[ChargeRecord] = []
        self.requests: list[RecordedRequest] = []

    # lifecycle

    def __enter__(self) -> StripeServerBase:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(
            # A short poll so stopping the server does not cost each test half a second.
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="local-stripe",
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

    def account_ids(self) -> list[str]:
        """Every account the server knows: those owning keys and those they connected."""
        with self._lock:
            return list(self._accounts)

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

    # HTTP

    def _handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> Response:
        url = urlsplit(raw_path)
        if not url.path.startswith("/v1/"):
            return self._browser(url.path, url.query, method=method, body=body)
        api_key = _bearer(headers.get("Authorization"))
        stripe_account = headers.get("Stripe-Account")
        idempotency_key = headers.get("Idempotency-Key") if method == "POST" else None
        params: dict[str, Any] = {}
        fault: _Fault | None = None
        endpoint = schema.endpoint_for(method, url.path)
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
                    endpoint=endpoint,
                    api_key=api_key,
                    stripe_account=stripe_account,
                    idempotency_key=idempotency_key,
                    api_version=headers.get("Stripe-Version"),
                )
        except StripeApiError as exc:
            response = json_response(exc.status, {"error": exc.error})
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
                    endpoint.template if endpoint else None,
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
        endpoint: schema.Endpoint | None,
        api_key: str | None,
        stripe_account: str | None,
        idempotency_key: str | None,
        api_version: str | None,
    ) -> Response:
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
        if api_version and api_version != API_VERSION:
            # The parameters are checked against one version's definition: another
            # version's request cannot be judged here.
            raise StripeApiError(
                400,
                f"The local Stripe speaks API version {API_VERSION} only, not {api_version}.",
                param="Stripe-Version",
            )
        account = stripe_account or platform
        self._check_access(api_key, platform, account)
        handler, args = self._route(method, path)
        if endpoint is None:
            raise _unrecognized(method, path)
        try:
            schema.params_check(endpoint, params)
        except schema.ParamError as exc:
            raise _param_error(method, endpoint, exc) from None
        request_id = new_id("req", 14)
        ctx = Context(account, platform, request_id, idempotency_key, api_version)

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
            replay = Response(saved.status, saved.body, dict(saved.headers))
            replay.headers["Idempotent-Replayed"] = "true"
            return replay

        try:
            status, body = 200, handler(ctx, params, *args)
        except StripeApiError as exc:
            status, body = exc.status, {"error": exc.error}
        response = json_response(status, body)
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
        for route_method, pattern, name in self.ROUTES:
            match = _route_pattern(pattern).fullmatch(path)
            if route_method == method and match:
                return getattr(self, name), match.groups()
        raise _unrecognized(method, path)

    def _browser(
        self, path: str, query: str, *, method: str = "GET", body: bytes = b""
    ) -> Response:
        """The pages a person would open: Connect onboarding, the 3D Secure challenge and
        the hosted Checkout page."""
        with self._lock:
            for pattern, name in self.PAGES:
                match = re.fullmatch(pattern, path)
                if match:
                    page = getattr(self, name)(match, query=query, method=method, body=body)
                    if page is not None:
                        return page
        return Response(404, b"Not found", {"Content-Type": "text/plain"})

    # storage

    def _store(self, account: str, obj: dict[str, Any]) -> dict[str, Any]:
        complete(obj)
        self._objects.setdefault(account, {})[obj["id"]] = obj
        self._home[obj["id"]] = account
        return obj

    def _find(
        self, ctx: Context, object_id: Any, kind: str, *, param: str = "id", status: int = 404
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

    def _ctx_of(self, object_id: str) -> Context:
        account = self._home[object_id]
        return Context(account=account, platform=self._platform_of[account] or account)

    def _render(self, ctx: Context, obj: dict[str, Any], expand: Any = None) -> dict[str, Any]:
        rendered = complete(copy.deepcopy(obj))
        for path in expand or []:
            if path.startswith("data."):
                continue
            value = rendered.get(path)
            if isinstance(value, str) and value in self._objects.get(ctx.account, {}):
                rendered[path] = complete(copy.deepcopy(self._objects[ctx.account][value]))
        return rendered

    def _list(
        self, ctx: Context, items: list[dict[str, Any]], params: dict[str, Any], url: str
    ) -> dict[str, Any]:
        limit = int_param(params, "limit", 10) or 10
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
        ctx: Context | None = None,
        *,
        previous: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"object": complete(copy.deepcopy(obj))}
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
        self._events.setdefault(account, []).append(complete(event))
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
        self._accounts[account_id] = complete(account)
        self._platform_of[account_id] = platform
        self._objects.setdefault(account_id, {})
        self._events.setdefault(account_id, [])
        return account


def _route_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern.replace("{id}", _ID))


def _unrecognized(method: str, path: str) -> StripeApiError:
    return StripeApiError(
        404,
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
        "or we can help at https://support.stripe.com/.",
    )


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: StripeServerBase

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
