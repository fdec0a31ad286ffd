"""Each key has its own rate limit, counted in Redis per tenant."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.api.conftest import Api, make_key

pytestmark = pytest.mark.django_db


def test_over_the_limit_is_429_with_retry_after(tenant_a):
    cache.clear()
    api = Api(tenant_a.host, make_key(tenant_a, ["clients:read"], rate_limit_per_minute=3))
    statuses = [api.get("/api/v1/clients/").status_code for _ in range(4)]
    assert statuses[:3] == [200, 200, 200]
    limited = api.get("/api/v1/clients/")
    assert limited.status_code == 429
    assert limited["Content-Type"] == "application/problem+json"
    assert 1 <= int(limited["Retry-After"]) <= 60
    # Another key of the same tenant has a limit of its own.
    other = Api(tenant_a.host, make_key(tenant_a, ["clients:read"], rate_limit_per_minute=3))
    assert other.get("/api/v1/clients/").status_code == 200


def test_the_platform_default_applies_without_a_key_limit(tenant_a, settings):
    from rest_framework.settings import api_settings

    from api.throttling import default_per_minute

    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": "2/minute"},
    }
    api_settings.reload()
    try:
        assert default_per_minute() == 2
        api = Api(tenant_a.host, make_key(tenant_a, ["clients:read"]))
        assert [api.get("/api/v1/clients/").status_code for _ in range(3)] == [200, 200, 429]
    finally:
        settings.REST_FRAMEWORK = {
            key: value
            for key, value in settings.REST_FRAMEWORK.items()
            if key != "DEFAULT_THROTTLE_RATES"
        }
        api_settings.reload()
