"""Errors are RFC 9457 problem documents, with one entry per invalid field."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def test_validation_errors_name_each_field(api_a):
    response = api_a.post(
        "/api/v1/orders/",
        {"client": "not-a-uuid", "items": [{"plan": "nope", "cycle": "weekly"}]},
    )
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["type"] == "/api/problems/validation-failed"
    assert body["title"] and body["status"] == 400 and body["code"] == "validation_failed"
    assert body["instance"] == "/api/v1/orders/"
    fields = {error["field"] for error in body["errors"]}
    assert {"client", "items.0.plan", "items.0.cycle"} <= fields
    assert all(error["message"] and error["code"] for error in body["errors"])


def test_a_reference_to_nothing_is_a_field_error(api_a, shop):
    response = api_a.post(
        "/api/v1/orders/",
        {
            "client": str(shop.client.public_id),
            "items": [{"plan": "00000000-0000-4000-8000-000000000000", "cycle": "monthly"}],
        },
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "items.0.plan"


def test_a_billing_refusal_is_422(api_a, shop):
    response = api_a.post(
        "/api/v1/orders/",
        {
            "client": str(shop.client.public_id),
            "items": [{"plan": str(shop.pro.public_id), "cycle": "annual"}],
        },
    )
    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    assert "not sold" in response.json()["detail"]


def test_malformed_json_and_wrong_media_type(api_a):
    broken = api_a.http.post("/api/v1/clients/", "{not json", "application/json")
    assert broken.status_code == 400 and broken["Content-Type"] == PROBLEM
    form = api_a.http.post("/api/v1/clients/", {"name": "x"})
    assert form.status_code == 415 and form["Content-Type"] == PROBLEM


def test_unknown_paths_and_ids_are_problems(api_a):
    for path in ("/api/v1/nothing/", "/api/v1/clients/123/", "/api/v2/clients/", "/api/a%0Ab/"):
        response = api_a.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == PROBLEM, path


def test_method_not_allowed(api_a):
    response = api_a.call("PUT", "/api/v1/clients/", {})
    assert response.status_code == 405
    assert response["Content-Type"] == PROBLEM
    assert "GET" in response["Allow"]


def test_the_resale_api_keeps_answering(platform_client):
    response = platform_client.get("/api/resale/v1/balance/")
    assert response.status_code == 401
