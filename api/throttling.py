"""Rate limits per API key, counted in Redis (the Django cache, whose keys carry the
tenant's schema). A fixed window of one minute: one INCR per request, and a 429 says in
``Retry-After`` when the next window opens."""

from __future__ import annotations

import time

from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from accounts.models import ApiKey

WINDOW_S = 60
DEFAULT_RATE = "600/minute"
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def default_per_minute() -> int:
    """The platform's default limit (REST_FRAMEWORK DEFAULT_THROTTLE_RATES["api_key"]),
    as requests per minute."""
    rate = (api_settings.DEFAULT_THROTTLE_RATES or {}).get("api_key") or DEFAULT_RATE
    count, _, period = rate.partition("/")
    seconds = _PERIODS.get(period[:1], 60)
    return max(1, round(int(count) * WINDOW_S / seconds))


def _count(cache_key: str) -> int:
    """Adds one to the counter of this window and returns it, in one round trip when the
    cache is Redis."""
    full_key = cache.make_and_validate_key(cache_key)
    backend = getattr(cache, "_cache", None)
    get_client = getattr(backend, "get_client", None)
    if get_client is not None:
        pipe = get_client(full_key, write=True).pipeline()
        pipe.incr(full_key)
        pipe.expire(full_key, WINDOW_S + 5)
        return int(pipe.execute()[0])
    cache.add(cache_key, 0, timeout=WINDOW_S + 5)
    return cache.incr(cache_key)


class ApiKeyRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request, view) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return True
        limit = key.rate_limit_per_minute or default_per_minute()
        now = time.time()
        window = int(now // WINDOW_S)
        if _count(f"api-rate:{key.pk}:{window}") <= limit:
            return True
        self._wait = (window + 1) * WINDOW_S - now
        return False

    def wait(self) -> float | None:
        return self._wait
