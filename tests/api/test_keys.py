"""API keys: shown once, stored hashed, scoped, revocable, expiring, IP-bound."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import ApiKey
from api.keys import api_key_create, api_key_revoke
from billing.errors import BillingError
from tests.api.conftest import Api

pytestmark = pytest.mark.django_db


def _make(world, **kwargs):
    with schema_context(world.schema):
        return api_key_create(name="k", scopes=kwargs.pop("scopes", ["clients:read"]), **kwargs)


def test_the_token_is_shown_once_and_stored_hashed(tenant_a):
    created = _make(tenant_a)
    assert created.token.startswith(created.key.prefix + "_")
    with schema_context(tenant_a.schema):
        row = ApiKey.objects.get(pk=created.key.pk)
    assert row.token_hash == hashlib.sha256(created.token.encode()).hexdigest()
    assert created.token not in str(row.__dict__)
    assert Api(tenant_a.host, created.token).get("/api/v1/clients/").status_code == 200
    with schema_context(tenant_a.schema):
        assert ApiKey.objects.get(pk=created.key.pk).last_used_at is not None


def test_scopes_are_checked_and_write_includes_read(tenant_a):
    writer = Api(tenant_a.host, _make(tenant_a, scopes=["clients:write"]).token)
    assert writer.get("/api/v1/clients/").status_code == 200
    reader = Api(tenant_a.host, _make(tenant_a, scopes=["clients:read"]).token)
    refused = reader.post("/api/v1/clients/", {"name": "X", "email": "x@example.test"})
    assert refused.status_code == 403
    assert "clients:write" in refused.json()["detail"]
    with schema_context(tenant_a.schema), pytest.raises(BillingError):
        api_key_create(name="bad", scopes=["everything:admin"])


def test_revoked_expired_and_wrong_secrets_are_401(tenant_a):
    revoked = _make(tenant_a)
    with schema_context(tenant_a.schema):
        api_key_revoke(key=revoked.key)
    expiring = _make(tenant_a, expires_at=timezone.now() + timedelta(seconds=30))
    with schema_context(tenant_a.schema):
        ApiKey.objects.filter(pk=expiring.key.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    good = _make(tenant_a).token
    for token, code in [
        (revoked.token, "key_revoked"),
        (expiring.token, "key_expired"),
        (good[:-3] + "abc", "invalid_key"),
        ("not-a-key", "invalid_key"),
    ]:
        response = Api(tenant_a.host, token).get("/api/v1/clients/")
        assert response.status_code == 401, token
        assert response.json()["code"] == code


def test_a_key_of_another_tenant_finds_nothing(tenant_a, tenant_b):
    foreign = _make(tenant_b).token
    assert Api(tenant_a.host, foreign).get("/api/v1/clients/").status_code == 404
    assert Api(tenant_b.host, foreign).get("/api/v1/clients/").status_code == 200


def test_the_ip_allow_list(tenant_a):
    bound = _make(tenant_a, allowed_ips=["10.1.0.0/16"]).token
    api = Api(tenant_a.host, bound)
    assert api.get("/api/v1/clients/", REMOTE_ADDR="127.0.0.1").status_code == 403
    inside = api.http.get("/api/v1/clients/", REMOTE_ADDR="10.1.2.3")
    assert inside.status_code == 200
    # A forged X-Forwarded-For is not believed without proxies configured.
    forged = api.http.get(
        "/api/v1/clients/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.1.2.3"
    )
    assert forged.status_code == 403
    with schema_context(tenant_a.schema), pytest.raises(BillingError):
        api_key_create(name="bad", scopes=["clients:read"], allowed_ips=["nowhere"])


def test_keys_cannot_be_made_in_the_public_schema(db):
    with pytest.raises(BillingError):
        api_key_create(name="platform", scopes=["clients:read"])
