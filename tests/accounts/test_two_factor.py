"""TOTP two-factor authentication on tenant hosts and on the provider console."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import User
from tests.accounts.conftest import password_login, totp_activation_page, totp_code, totp_enrol

pytestmark = pytest.mark.django_db

AUTHENTICATE = "/auth/2fa/authenticate/"


def _enrolled_staff(world, person_factory):
    person = person_factory(world.schema, kind=User.Kind.STAFF, role=User.Role.ADMIN)
    browser = world.client()
    assert password_login(browser, person.email).status_code == 302
    secret = totp_enrol(browser)
    return person, secret


def test_enrolment_stores_an_encrypted_secret_and_recovery_codes(
    tenant_a, tenant_b, person_factory
):
    person, secret = _enrolled_staff(tenant_a, person_factory)
    with schema_context(tenant_a.schema):
        kinds = set(Authenticator.objects.filter(user=person).values_list("type", flat=True))
        totp = Authenticator.objects.get(user=person, type=Authenticator.Type.TOTP)
    assert kinds == {Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES}
    # A database dump alone does not give the secret away.
    assert secret not in str(totp.data)
    # Nothing of it exists on another tenant's host.
    with schema_context(tenant_b.schema):
        assert not Authenticator.objects.exists()


def test_login_asks_for_the_code_and_accepts_the_right_one(tenant_a, person_factory):
    person, secret = _enrolled_staff(tenant_a, person_factory)
    browser = tenant_a.client()
    response = password_login(browser, person.email)
    assert response.status_code == 302 and response["Location"] == AUTHENTICATE
    # The password alone has logged nobody in.
    assert "_auth_user_id" not in browser.session
    assert browser.get("/console/")["Location"].startswith("/login/")
    page = browser.get(AUTHENTICATE)
    assert page.status_code == 200 and 'name="code"' in page.content.decode()
    done = browser.post(AUTHENTICATE, {"code": totp_code(secret)})
    assert done.status_code == 302 and done["Location"] == "/console/"
    assert browser.get("/console/").status_code == 200


def test_a_wrong_code_is_refused(tenant_a, person_factory):
    person, secret = _enrolled_staff(tenant_a, person_factory)
    browser = tenant_a.client()
    password_login(browser, person.email)
    wrong = f"{(int(totp_code(secret)) + 1) % 1_000_000:06d}"
    response = browser.post(AUTHENTICATE, {"code": wrong})
    assert response.status_code == 200
    assert "Incorrect code." in response.content.decode()
    assert "_auth_user_id" not in browser.session
    assert browser.get("/console/")["Location"].startswith("/login/")


def test_a_recovery_code_works_once(tenant_a, person_factory):
    person, _secret = _enrolled_staff(tenant_a, person_factory)
    with schema_context(tenant_a.schema):
        codes = Authenticator.objects.get(user=person, type=Authenticator.Type.RECOVERY_CODES)
        code = RecoveryCodes(codes).get_unused_codes()[0]
    connection.set_schema_to_public()
    first = tenant_a.client()
    password_login(first, person.email)
    assert first.post(AUTHENTICATE, {"code": code})["Location"] == "/console/"

    again = tenant_a.client()
    password_login(again, person.email)
    response = again.post(AUTHENTICATE, {"code": code})
    assert response.status_code == 200
    assert "_auth_user_id" not in again.session


def test_a_client_can_turn_it_on_and_off(tenant_a, person_factory):
    person = person_factory(tenant_a.schema, kind=User.Kind.CLIENT)
    browser = tenant_a.client()
    password_login(browser, person.email)
    secret = totp_enrol(browser)
    assert browser.get("/auth/2fa/").status_code == 200
    off = browser.post("/auth/2fa/totp/deactivate/")
    assert off.status_code == 302
    with schema_context(tenant_a.schema):
        assert not Authenticator.objects.filter(user=person, type="totp").exists()
    connection.set_schema_to_public()
    later = tenant_a.client()
    response = password_login(later, person.email)
    assert response.status_code == 302 and response["Location"] != AUTHENTICATE
    assert secret  # the secret of a removed authenticator is of no further use


def test_the_authenticator_app_shows_the_tenants_brand(tenant_a, person_factory):
    person = person_factory(tenant_a.schema, kind=User.Kind.STAFF, role=User.Role.ADMIN)
    browser = tenant_a.client()
    password_login(browser, person.email)
    page = totp_activation_page(browser)
    body = page.content.decode()
    assert "Alpha Hosting" in body
    assert "issuer=Alpha%20Hosting" in page.context["totp_url"]
    assert settings.PLATFORM_NAME not in body + page.context["totp_url"]


def test_provider_console_login_asks_for_the_code(platform_client, person_factory):
    admin = person_factory("public", kind=User.Kind.STAFF, is_staff=True, is_superuser=True)
    assert password_login(platform_client, admin.email).status_code == 302
    secret = totp_enrol(platform_client)
    platform_client.post("/logout/")

    # The admin's own login page is the same form with the same second step.
    response = password_login(platform_client, admin.email, path="/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"] == AUTHENTICATE
    assert platform_client.get("/admin/")["Location"].startswith("/admin/login/")
    done = platform_client.post(AUTHENTICATE, {"code": totp_code(secret)})
    assert done.status_code == 302 and done["Location"] == "/admin/"
    assert platform_client.get("/admin/").status_code == 200


def test_a_one_time_login_link_still_asks_for_the_code(tenant_a, person_factory):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    person, secret = _enrolled_staff(tenant_a, person_factory)
    with schema_context(tenant_a.schema):
        person.refresh_from_db()
        token = default_token_generator.make_token(person)
    connection.set_schema_to_public()
    browser = tenant_a.client()
    response = browser.get(f"/login/link/{urlsafe_base64_encode(force_bytes(person.pk))}/{token}/")
    assert response.status_code == 302 and response["Location"] == AUTHENTICATE
    assert "_auth_user_id" not in browser.session
    done = browser.post(AUTHENTICATE, {"code": totp_code(secret)})
    assert done["Location"] == "/console/"
