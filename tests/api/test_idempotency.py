"""Idempotency-Key on POST: the first response is kept per key; the same request again
gets it back without acting twice, another request with the same key is refused."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from accounts.models import ApiIdempotencyRecord, ApiKey
from billing.models import Client, Payment

pytestmark = pytest.mark.django_db

NEW_CLIENT = {"name": "Idem Potent", "email": "idem@example.test"}


def test_same_key_same_body_returns_the_first_response(api_a, tenant_a):
    first = api_a.post("/api/v1/clients/", NEW_CLIENT, idempotency_key="k-1")
    again = api_a.post("/api/v1/clients/", NEW_CLIENT, idempotency_key="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again["Location"] == first["Location"]
    with schema_context(tenant_a.schema):
        assert Client.objects.filter(email="idem@example.test").count() == 1


def test_same_key_other_body_is_422(api_a):
    api_a.post("/api/v1/clients/", NEW_CLIENT, idempotency_key="k-2")
    other = api_a.post(
        "/api/v1/clients/", {**NEW_CLIENT, "name": "Someone Else"}, idempotency_key="k-2"
    )
    assert other.status_code == 422
    assert other["Content-Type"] == "application/problem+json"
    assert other.json()["code"] == "idempotency_key_reused"


def test_same_key_other_endpoint_is_422(api_a, shop):
    api_a.post("/api/v1/clients/", NEW_CLIENT, idempotency_key="k-3")
    other = api_a.post(
        f"/api/v1/clients/{shop.client.public_id}/contacts/", NEW_CLIENT, idempotency_key="k-3"
    )
    assert other.status_code == 422


def test_without_a_key_each_post_acts(api_a, tenant_a):
    api_a.post("/api/v1/clients/", NEW_CLIENT)
    api_a.post("/api/v1/clients/", NEW_CLIENT)
    with schema_context(tenant_a.schema):
        assert Client.objects.filter(email="idem@example.test").count() == 2


def test_keys_are_per_api_key(api_a, tenant_a):
    from tests.api.conftest import Api, make_key

    other = Api(tenant_a.host, make_key(tenant_a, name="second"))
    api_a.post("/api/v1/clients/", NEW_CLIENT, idempotency_key="shared")
    response = other.post("/api/v1/clients/", NEW_CLIENT, idempotency_key="shared")
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response


def test_a_refusal_is_replayed_too(api_a, shop):
    path = f"/api/v1/services/{shop.service.public_id}/unsuspend/"
    first = api_a.post(path, {}, idempotency_key="refused")
    again = api_a.post(path, {}, idempotency_key="refused")
    assert first.status_code == again.status_code == 422
    assert again.json() == first.json()
    assert again["Content-Type"] == "application/problem+json"


def test_a_payment_is_never_recorded_twice(api_a, shop, tenant_a):
    path = f"/api/v1/invoices/{shop.invoice.public_id}/pay/"
    body = {"method": "bank_transfer", "amount": "2.00", "reference": "TRF 1"}
    first = api_a.post(path, body, idempotency_key="pay-1")
    again = api_a.post(path, body, idempotency_key="pay-1")
    assert first.status_code == 201 and again.json()["id"] == first.json()["id"]
    with schema_context(tenant_a.schema):
        assert Payment.objects.filter(invoice=shop.invoice).count() == 2  # the seed + one


def test_a_request_still_running_is_409(api_a, tenant_a, key_a):
    with schema_context(tenant_a.schema):
        # The prefix is the token up to its second underscore.
        key = ApiKey.objects.get(prefix="_".join(key_a.split("_")[:2]))
        from api.idempotency import request_fingerprint

        ApiIdempotencyRecord.objects.create(
            api_key=key,
            key="busy",
            method="POST",
            path="/api/v1/clients/",
            request_hash=request_fingerprint(
                method="POST", path="/api/v1/clients/", data=NEW_CLIENT
            ),
        )
    response = api_a.post("/api/v1/clients/", NEW_CLIENT, idempotency_key="busy")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_progress"


def test_a_key_too_long_is_400(api_a):
    response = api_a.post("/api/v1/clients/", NEW_CLIENT, idempotency_key="x" * 256)
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_invalid"
