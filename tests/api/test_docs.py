"""The OpenAPI document and its docs page, served without a CDN."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.django_db


def test_the_docs_page_needs_nothing_from_the_internet(tenant_a):
    response = Api(tenant_a.host).get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/api/schema/" in html
    assert "https://" not in html
    assert "cdn" not in html.lower()


def test_the_schema_is_served_as_yaml_and_json(tenant_a):
    api = Api(tenant_a.host)
    assert api.get("/api/schema/").status_code == 200
    assert api.get("/api/schema/?format=json").json()["info"]["title"] == "Alpha Hosting API"


def test_the_platform_host_has_no_tenant_api(platform_client):
    assert platform_client.get("/api/v1/clients/").status_code == 404
