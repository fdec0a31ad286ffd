"""Every list pages, filters and sorts; bad parameters are 400s, not silent defaults."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from billing import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def many_clients(shop, tenant_a):
    with schema_context(tenant_a.schema):
        for index in range(7):
            services.client_create(
                name=f"Zeta {index}",
                email=f"zeta{index}@example.test",
                country="DE" if index % 2 else "IT",
                status="inactive" if index == 3 else "active",
            )


def test_pages_follow_each_other_without_overlap(api_a, many_clients):
    first = api_a.get("/api/v1/clients/?page_size=3&ordering=name").json()
    assert first["count"] == 8 and len(first["results"]) == 3 and first["previous"] is None
    seen = [row["id"] for row in first["results"]]
    page = first
    while page["next"]:
        page = api_a.get(page["next"].split("alpha.localhost", 1)[1]).json()
        seen += [row["id"] for row in page["results"]]
    assert len(seen) == len(set(seen)) == 8


def test_filters(api_a, many_clients):
    germans = api_a.get("/api/v1/clients/?country=de").json()
    assert germans["count"] == 3
    assert api_a.get("/api/v1/clients/?status=inactive").json()["count"] == 1
    assert api_a.get("/api/v1/clients/?search=zeta").json()["count"] == 7
    bad = api_a.get("/api/v1/clients/?status=sleeping")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "status"


def test_ordering(api_a, many_clients):
    names = [r["name"] for r in api_a.get("/api/v1/clients/?ordering=-name").json()["results"]]
    assert names == sorted(names, reverse=True)
    bad = api_a.get("/api/v1/clients/?ordering=password")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "ordering"


@pytest.mark.parametrize("page_size", ["0", "201", "ten", "-1"])
def test_bad_page_sizes_are_refused(api_a, page_size):
    assert api_a.get(f"/api/v1/clients/?page_size={page_size}").status_code == 400


def test_a_page_past_the_end_is_404(api_a, shop):
    assert api_a.get("/api/v1/clients/?page=99").status_code == 404


def test_related_filters_take_public_ids(api_a, shop):
    services_of_client = api_a.get(f"/api/v1/services/?client={shop.client.public_id}").json()
    assert [row["id"] for row in services_of_client["results"]] == [str(shop.service.public_id)]
    invoices = api_a.get(f"/api/v1/invoices/?client={shop.client.public_id}&ordering=-total")
    totals = [row["total"] for row in invoices.json()["results"]]
    assert totals == sorted(totals, key=float, reverse=True)
