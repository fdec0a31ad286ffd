"""A client that follows only the OpenAPI document (fetched from /api/schema/) creates a
client, places an order and pays its invoice."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.api.conftest import Api
from tests.api.openapi_client import OpenApiClient

pytestmark = pytest.mark.django_db


def _send_through(api: Api):
    def send(method: str, url: str, headers: dict, body: bytes | None):
        extra = {
            f"HTTP_{name.upper().replace('-', '_')}": value
            for name, value in headers.items()
            if name != "Content-Type"
        }
        kwargs = {"data": body, "content_type": headers["Content-Type"]} if body else {}
        response = getattr(api.http, method.lower())(url, **kwargs, **extra)
        return response.status_code, dict(response.items()), response.content

    return send


def test_a_client_from_the_document_orders_and_pays(shop, tenant_a, key_a):
    anonymous = Api(tenant_a.host)
    document = anonymous.get("/api/schema/?format=json").json()
    client = OpenApiClient(document, _send_through(anonymous), token=key_a)

    plans = client.call("plans_list", query={"is_active": "true"}).body["results"]
    plan = next(p for p in plans if any(price["cycle"] == "monthly" for price in p["prices"]))

    created = client.call(
        "clients_create",
        body={"name": "Giulia Bianchi", "email": "giulia@example.test", "country": "IT"},
        idempotent=True,
    )
    assert created.status == 201

    order = client.call(
        "orders_create",
        body={
            "client": created.body["id"],
            "items": [{"plan": plan["id"], "cycle": "monthly"}],
        },
        idempotent=True,
    )
    assert order.status == 201 and order.body["status"] == "pending"

    invoice = client.call("invoices_retrieve", path={"id": order.body["invoice"]}).body
    assert invoice["status"] == "issued" and Decimal(invoice["amount_due"]) > 0

    payment = client.call(
        "invoices_pay",
        path={"id": invoice["id"]},
        body={"method": "bank_transfer", "amount": invoice["amount_due"], "reference": "TRF 42"},
        idempotent=True,
    )
    assert payment.status == 201 and payment.body["amount"] == invoice["amount_due"]

    assert client.call("invoices_retrieve", path={"id": invoice["id"]}).body["status"] == "paid"
    assert client.call("orders_retrieve", path={"id": order.body["id"]}).body["status"] == (
        "completed"
    )
    services = client.call("services_list", query={"client": created.body["id"]}).body
    assert services["count"] == 1


def test_the_document_describes_what_a_generator_needs(tenant_a):
    document = Api(tenant_a.host).get("/api/schema/?format=json").json()
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    operation_ids = [
        operation["operationId"]
        for methods in document["paths"].values()
        for operation in methods.values()
    ]
    assert len(operation_ids) == len(set(operation_ids))
    for methods in document["paths"].values():
        for method, operation in methods.items():
            assert operation["security"] == [{"ApiKey": []}]
            problems = {
                code: response
                for code, response in operation["responses"].items()
                if code.startswith("4")
            }
            assert {"401", "403", "404", "429"} <= set(problems)
            for response in problems.values():
                assert "application/problem+json" in response["content"]
            if method == "post":
                names = [p["name"] for p in operation.get("parameters", [])]
                assert "Idempotency-Key" in names
