"""Every endpoint under /api/v1/, found by walking the URL resolver (a new endpoint cannot
slip past), called four ways: with a key of tenant A (allowed), a key of A lacking the
scope (403), a key of tenant B against A's host and against A's object ids (404), and
without a key (401)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from api.keys import SCOPES, scopes_granting
from api.permissions import required_scope
from support.models import Ticket
from tests.api.conftest import Api, make_key, public_id_of

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Route:
    name: str
    template: str  # e.g. /api/v1/clients/<uuid:id>/
    view: type

    @property
    def methods(self) -> list[str]:
        return [m.upper() for m in METHODS if hasattr(self.view, m)]

    @property
    def has_id(self) -> bool:
        return "<uuid:id>" in self.template


def _walk(patterns, prefix: str) -> list[Route]:
    routes = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes += _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            view = getattr(pattern.callback, "view_class", None) or getattr(
                pattern.callback, "cls", None
            )
            routes.append(Route(pattern.name or "", route, view))
    return routes


def api_v1_routes() -> list[Route]:
    """Everything the tenant URLconf serves under /api/v1/."""
    routes = [r for r in _walk(get_resolver("config.urls").url_patterns, "/") if r.template]
    found = [r for r in routes if r.template.startswith("/api/v1/")]
    assert found, "no /api/v1/ routes: is api.urls mounted in config.urls?"
    return found


def test_the_walk_finds_every_kind_of_endpoint():
    names = {route.name for route in api_v1_routes()}
    assert {"clients", "orders", "invoice-pay", "service-sso", "reseller-ledger"} <= names
    for route in api_v1_routes():
        assert route.view is not None, f"{route.template} is not an API view"
        assert route.methods, route.template
        for method in route.methods:
            # Every method of every endpoint declares a scope (HasScope refuses the rest).
            assert required_scope(route.view, method) in SCOPES, (route.template, method)


def _path(route: Route, ids: dict) -> str:
    if not route.has_id:
        return route.template
    model = route.view.object_model
    assert model in ids, f"no object of {model} to call {route.template} with; add one to shop"
    return route.template.replace("<uuid:id>", public_id_of(ids[model]))


# Bodies that make the allowed calls do something real (others get {}).
BODIES = {
    ("clients", "POST"): {"name": "New Client", "email": "new@example.test"},
    ("client", "PATCH"): {"phone": "+39 06 123"},
    ("client-contacts", "POST"): {"name": "Bob", "email": "bob@example.test"},
    ("invoice-pay", "POST"): {"method": "bank_transfer", "amount": "1.00"},
    ("invoice-credit-notes", "POST"): {"reason": "Partial refund", "lines": [{"position": 1}]},
    ("service-suspend", "POST"): {"reason": "abuse"},
    ("webhook-endpoints", "POST"): {"url": "https://hooks.example.com/two"},
    ("webhook-endpoint", "PATCH"): {"description": "main"},
    ("ticket", "PATCH"): {"priority": "high"},
    ("ticket-messages", "POST"): {"body": "We are on it."},
}


def _calls(shop) -> list[tuple[Route, str, str]]:
    calls = []
    for route in api_v1_routes():
        for method in route.methods:
            calls.append((route, method, _path(route, shop.objects)))
    # Deletions last: later calls still need their objects.
    return sorted(calls, key=lambda call: call[1] == "DELETE")


def _body(route: Route, method: str, shop) -> dict:
    body = BODIES.get((route.name, method), {})
    if route.name == "orders" and method == "POST":
        body = {
            "client": str(shop.client.public_id),
            "items": [{"plan": str(shop.plan.public_id), "cycle": "monthly"}],
        }
    if route.name == "invoices" and method == "POST":
        body = {
            "client": str(shop.client.public_id),
            "lines": [{"description": "Consulting", "unit_price": "50.00"}],
        }
    if route.name == "tickets" and method == "POST":
        ticket = shop.objects[Ticket]
        body = {
            "department": str(ticket.department.public_id),
            "client": str(shop.client.public_id),
            "subject": "From the API",
            "body": "Opened by an integration",
        }
    if route.name == "service-change-plan":
        body = {"plan": str(shop.pro.public_id)}
    return body


def test_without_a_key_every_endpoint_is_401(shop, tenant_a):
    anonymous = Api(tenant_a.host)
    for route, method, path in _calls(shop):
        response = anonymous.call(method, path, _body(route, method, shop))
        assert response.status_code == 401, (method, path, response.content)
        assert response["Content-Type"] == "application/problem+json"
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_key_lacking_the_scope_is_403_everywhere(shop, tenant_a):
    keys: dict[str, Api] = {}
    for route, method, path in _calls(shop):
        scope = required_scope(route.view, method)
        if scope not in keys:
            others = sorted(set(SCOPES) - scopes_granting(scope))
            keys[scope] = Api(tenant_a.host, make_key(tenant_a, others))
        response = keys[scope].call(method, path, _body(route, method, shop))
        assert response.status_code == 403, (method, path, response.content)
        assert scope in response.json()["detail"]


def test_tenant_b_key_on_tenant_a_host_is_404_everywhere(shop, tenant_a, key_b):
    foreign = Api(tenant_a.host, key_b)
    for route, method, path in _calls(shop):
        response = foreign.call(method, path, _body(route, method, shop))
        assert response.status_code == 404, (method, path, response.content)
        assert response["Content-Type"] == "application/problem+json"


def test_tenant_b_key_with_tenant_a_ids_is_404(shop, tenant_b, key_b):
    own_host = Api(tenant_b.host, key_b)
    checked = 0
    for route, method, path in _calls(shop):
        if not route.has_id:
            continue
        response = own_host.call(method, path, _body(route, method, shop))
        assert response.status_code == 404, (method, path, response.content)
        checked += 1
    assert checked > 20


PDF_ROUTES = ("invoice-pdf", "invoice-einvoice", "credit-note-einvoice")


def test_a_key_with_the_scope_is_let_through_everywhere(shop, tenant_a, api_a):
    for route, method, path in _calls(shop):
        response = api_a.call(method, path, _body(route, method, shop))
        assert response.status_code < 500, (method, path, response.content)
        assert response.status_code not in (401, 403, 404), (method, path, response.content)
        # The PDFs are rendered by a worker: 202 until then.
        if method == "GET" and route.name not in PDF_ROUTES:
            assert response.status_code == 200, (method, path, response.content)
        if (route.name, method) in BODIES or route.name in ("orders", "invoices", "tickets"):
            assert response.status_code in (200, 201, 202, 204), (method, path, response.content)


def test_urls_show_public_ids_only():
    for route in api_v1_routes():
        assert not re.search(r"<(int|pk|str):", route.template), route.template
