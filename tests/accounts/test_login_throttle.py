"""Repeated failed logins for one account are refused for a while, on every login form,
and the count belongs to the site it happened on."""

from __future__ import annotations

import pytest
from django.conf import settings
from django_tenants.utils import schema_context

from accounts.models import User
from tests.accounts.conftest import password_login
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

TOO_MANY = "Too many failed login attempts. Try again later."


def _fail_until_throttled(browser, email: str, path: str) -> None:
    for _ in range(settings.LOGIN_ATTEMPTS_LIMIT):
        response = password_login(browser, email, "not-the-password", path=path)
        assert response.status_code == 200
        assert TOO_MANY not in response.content.decode()


def test_tenant_login_is_throttled_and_changes_nothing(tenant_a, tenant_b, person_factory):
    path = "/login/?next=/account/"
    person = person_factory(tenant_a.schema, kind=User.Kind.CLIENT)
    _fail_until_throttled(tenant_a.client(), person.email, path)

    # Now even the right password is refused, with a message that says why.
    browser = tenant_a.client()
    response = password_login(browser, person.email, PASSWORD, path=path)
    assert response.status_code == 200
    assert TOO_MANY in response.content.decode()
    assert "_auth_user_id" not in browser.session
    with schema_context(tenant_a.schema):
        person.refresh_from_db()
        assert person.last_login is None
        assert person.check_password(PASSWORD)

    # The same address on another tenant is another account, and is not held back.
    twin = person_factory(tenant_b.schema, email=person.email, kind=User.Kind.CLIENT)
    other = tenant_b.client()
    assert password_login(other, twin.email).status_code == 302
    assert other.session["_auth_user_id"] == str(twin.pk)


def test_the_message_is_translated(tenant_a, person_factory):
    person = person_factory(tenant_a.schema, kind=User.Kind.CLIENT)
    browser = tenant_a.client()
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "it"
    _fail_until_throttled(browser, person.email, "/login/")
    response = password_login(browser, person.email)
    assert "Troppi tentativi di accesso" in response.content.decode()


def test_provider_console_login_is_throttled(platform_client, person_factory):
    admin = person_factory("public", kind=User.Kind.STAFF, is_staff=True, is_superuser=True)
    _fail_until_throttled(platform_client, admin.email, "/admin/login/")
    response = password_login(platform_client, admin.email, path="/admin/login/")
    assert response.status_code == 200
    assert TOO_MANY in response.content.decode()
    assert platform_client.get("/admin/")["Location"].startswith("/admin/login/")
