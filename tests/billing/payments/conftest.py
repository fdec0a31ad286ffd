"""Fixtures for the Stripe boundary: a local Stripe server and the settings that point
``billing.payments.gateways.stripe.api`` at it. No database; these tests run with or
without pytest-django."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from billing.payments.gateways.stripe import api as stripe_api
from sandbox.stripe import StripeServer

PLATFORM_KEY = "sk_test_platform_0123456789abcdef"
WEBHOOK_SECRET = "whsec_test_0123456789abcdef"


class StripeSettings:
    """Sets the STRIPE_* settings for one test, as environment variables and, when Django
    is configured, as Django settings (which ``stripe_api`` reads first)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._monkeypatch = monkeypatch
        self._overrides: list[object] = []

    def set(self, **values: object) -> None:
        for name, value in values.items():
            self._monkeypatch.setenv(name, str(value))
        from django.conf import settings

        if settings.configured:
            from django.test import override_settings

            override = override_settings(**{k: str(v) for k, v in values.items()})
            override.enable()
            self._overrides.append(override)

    def restore(self) -> None:
        while self._overrides:
            self._overrides.pop().disable()


@pytest.fixture(autouse=True)
def stripe_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[StripeSettings]:
    """Points Stripe at a closed local port unless a test starts a server, so a call made
    by mistake fails here instead of reaching api.stripe.com."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    configured = StripeSettings(monkeypatch)
    configured.set(
        STRIPE_API_BASE="http://127.0.0.1:9",
        STRIPE_TIMEOUT_S=5,
        STRIPE_MAX_NETWORK_RETRIES=0,
    )
    yield configured
    configured.restore()


@dataclass(frozen=True)
class Platform:
    api_key: str
    account: str


@pytest.fixture
def stripe_server(stripe_settings: StripeSettings) -> Iterator[StripeServer]:
    with StripeServer() as server:
        stripe_settings.set(STRIPE_API_BASE=server.url)
        assert stripe_api.api_base() == server.url
        assert stripe_api.api_base().startswith("http://127.0.0.1:")
        yield server


@pytest.fixture
def platform(stripe_server: StripeServer) -> Platform:
    return Platform(PLATFORM_KEY, stripe_server.register_key(PLATFORM_KEY))
