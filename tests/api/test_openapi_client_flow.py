"""A client that follows only the OpenAPI document (fetched from /api/schema/) creates a
client, places an order and pays its invoice."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.branding import branding_update
from accounts.models import TermsVersion
from billing.models import Order
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

    # The reseller's own site showed its terms and the client accepted them there: the
    # order records that acceptance, as the storefront's checkout does.
    with schema_context(tenant_a.schema):
        branding_update(company_name="", brand_color="#2f5d8a", terms_text="Be nice.")
        terms = TermsVersion.objects.get()
    accepted_at = timezone.now().isoformat()
    order = client.call(
        "orders_create",
        body={
            "client": created.body["id"],
            "items": [{"plan": plan["id"], "cycle": "monthly"}],
            "terms_accepted": {
                "version": terms.version,
                "accepted_at": accepted_at,
                "ip_address": "93.184.216.34",
            },
        },
        idempotent=True,
    )
    assert order.status == 201 and order.body["status"] == "pending"
    recorded = order.body["terms_accepted"]
    assert recorded["version"] == terms.version and recorded["ip_address"] == "93.184.216.34"
    with schema_context(tenant_a.schema):
        saved = Order.objects.get(public_id=order.body["id"])
        assert saved.terms_version_id == terms.pk
        assert saved.terms_accepted_at == datetime.fromisoformat(accepted_at)

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


def test_an_acceptance_of_terms_that_cannot_be_is_refused(shop, tenant_a, key_a):
    """A version never published, a time in the future or before the version existed:
    each a 400 naming the field, and no order."""
    with schema_context(tenant_a.schema):
        branding_update(company_name="", brand_color="#2f5d8a", terms_text="Be nice.")
        terms = TermsVersion.objects.get()
        client_id = str(shop.client.public_id)
        plan_id = str(shop.plan.public_id)
        orders = Order.objects.count()
    api = Api(tenant_a.host, key_a)
    now = timezone.now()
    cases = {
        "terms_accepted.version": {"version": terms.version + 1, "accepted_at": now},
        "terms_accepted.accepted_at": {
            "version": terms.version,
            "accepted_at": now + timedelta(hours=1),
        },
    }
    before = {
        "version": terms.version,
        "accepted_at": terms.published_at - timedelta(days=1),
    }
    for field, given in [*cases.items(), ("terms_accepted.accepted_at", before)]:
        response = api.post(
            "/api/v1/orders/",
            {
                "client": client_id,
                "items": [{"plan": plan_id, "cycle": "monthly"}],
                "terms_accepted": {**given, "accepted_at": given["accepted_at"].isoformat()},
            },
        )
        assert response.status_code == 400, response.content
        assert [e["field"] for e in response.json()["errors"]] == [field], response.json()
    with schema_context(tenant_a.schema):
        assert Order.objects.count() == orders
