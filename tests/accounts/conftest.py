"""Helpers for the login tests: people of their own (the throttle remembers an address
for minutes, in the cache, beyond the rolled-back transaction) and authenticator codes
computed with allauth's own TOTP code, as an authenticator app would."""

from __future__ import annotations

import uuid

import pytest
from allauth.mfa.totp.internal.auth import (
    format_hotp_value,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.test import Client
from django_tenants.utils import schema_context

from tests.conftest import PASSWORD


def totp_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))


def password_login(browser: Client, email: str, password: str = PASSWORD, path="/login/"):
    return browser.post(path, {"username": email, "password": password})


def totp_activation_page(browser: Client):
    """The page that turns TOTP on, for the person logged in on ``browser``."""
    activate = "/auth/2fa/totp/activate/"
    # It asks for the password again, however recent the login.
    asked = browser.get(activate)
    assert asked.status_code == 302 and asked["Location"].startswith("/auth/reauthenticate/")
    confirmed = browser.post(asked["Location"], {"password": PASSWORD})
    assert confirmed.status_code == 302 and confirmed["Location"] == activate
    page = browser.get(activate)
    assert page.status_code == 200
    return page


def totp_enrol(browser: Client) -> str:
    """Turns TOTP on through the pages, as a person would, and returns the secret the
    page showed."""
    page = totp_activation_page(browser)
    secret = page.context["form"].secret
    assert secret in page.content.decode()
    done = browser.post("/auth/2fa/totp/activate/", {"code": totp_code(secret)})
    assert done.status_code == 302
    return secret


@pytest.fixture
def person_factory(db):
    """A user of its own in ``schema``, with the tests' password."""
    from accounts.models import User

    def make(schema: str, *, email: str | None = None, **fields) -> User:
        email = email or f"p{uuid.uuid4().hex[:10]}@example.test"
        with schema_context(schema):
            return User.objects.create_user(email, PASSWORD, **fields)

    return make
