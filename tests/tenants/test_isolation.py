import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.cache import make_key
from django_tenants.utils import schema_context, tenant_context

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_request_to_tenant_a_runs_in_schema_a_only(tenant_a, tenant_b):
    browser = tenant_a.client(tenant_a.owner)
    with CaptureQueriesContext(connection) as queries:
        response = browser.get("/healthz")
        console = browser.get("/console/")
    assert response.json()["schema"] == tenant_a.schema
    assert console.status_code == 200
    statements = " ".join(query["sql"] for query in queries.captured_queries)
    assert tenant_a.schema in statements
    assert tenant_b.schema not in statements


def test_staff_of_a_cannot_log_in_on_b(tenant_a, tenant_b):
    credentials = {"username": tenant_a.owner.email, "password": PASSWORD}
    on_b = tenant_b.client().post("/login/", credentials)
    assert on_b.status_code == 200, "the login form is shown again with an error"
    assert "_auth_user_id" not in tenant_b.client().session
    on_a = tenant_a.client().post("/login/", credentials)
    assert on_a.status_code == 302


def test_session_of_a_is_void_on_b(tenant_a, tenant_b):
    browser = tenant_a.client(tenant_a.owner)
    cookie = browser.cookies["sessionid"].value
    other = tenant_b.client()
    other.cookies["sessionid"] = cookie
    response = other.get("/console/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_client_user_is_kept_out_of_the_console(tenant_a):
    response = tenant_a.client(tenant_a.client_user).get("/console/")
    assert response.status_code == 302


def test_cache_keys_of_two_tenants_do_not_collide(tenant_a, tenant_b):
    with tenant_context(tenant_a.tenant):
        cache.set("greeting", "from A")
        key_a = make_key("greeting", "p", 1)
    with tenant_context(tenant_b.tenant):
        assert cache.get("greeting") is None
        cache.set("greeting", "from B")
        key_b = make_key("greeting", "p", 1)
    with tenant_context(tenant_a.tenant):
        assert cache.get("greeting") == "from A"
    assert key_a != key_b
    assert tenant_a.schema in key_a and tenant_b.schema in key_b
    for world in (tenant_a, tenant_b):
        with schema_context(world.schema):
            cache.delete("greeting")


def test_unknown_host_is_a_clean_404(django_db_setup):
    from django.test import Client

    response = Client(HTTP_HOST="nobody.example.org").get("/")
    assert response.status_code == 404
    assert b"Site not found" in response.content


def test_suspended_tenant_shows_unavailable(tenant_a):
    tenant = tenant_a.tenant
    tenant.status = tenant.Status.SUSPENDED
    tenant.save(update_fields=["status"])
    try:
        response = tenant_a.client().get("/")
        assert response.status_code == 503
        assert b"temporarily unavailable" in response.content
    finally:
        tenant.status = tenant.Status.ACTIVE
        tenant.save(update_fields=["status"])


def test_platform_host_serves_the_provider_console(platform_client):
    response = platform_client.get("/")
    assert response.status_code == 200
    assert platform_client.get("/admin/login/").status_code == 200
