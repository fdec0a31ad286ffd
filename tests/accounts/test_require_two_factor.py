"""Two-factor authentication required of all staff: by a tenant's owner for the tenant's
staff, by the provider (``TESSERA_PROVIDER_REQUIRE_2FA``) for the provider console."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from django.conf import settings as django_settings
from django.db import connection
from django.utils.html import escape
from django_tenants.utils import schema_context

from accounts.models import SecuritySettings, User
from audit.models import AuditEntry
from tests.accounts.conftest import totp_enrol
from tests.api.conftest import Api, make_key
from tests.portals.conftest import shop_build

pytestmark = pytest.mark.django_db

SETUP = "/auth/2fa/totp/activate/"
TENANT_REASON = "This site requires two-factor authentication for all its staff."
PROVIDER_REASON = "The provider requires two-factor authentication"


def _owner(world):
    """The owner's browser, with TOTP set up: an owner must use it to require it."""
    browser = world.client(world.owner)
    totp_enrol(browser)
    return browser


def _require(world, required: bool = True, browser=None):
    """The owner turns the requirement on (or off) on the settings page."""
    data = {"action": "two_factor"}
    if required:
        data["two_factor-required"] = "on"
    return (browser or _owner(world)).post("/console/settings/", data)


def _required_in(world) -> bool:
    with schema_context(world.schema):
        row = SecuritySettings.objects.filter(pk=SecuritySettings.SINGLETON_ID).first()
        return bool(row and row.staff_two_factor_required)


def test_the_owner_turns_it_on_and_the_change_is_audited(tenant_a):
    owner = _owner(tenant_a)
    response = _require(tenant_a, browser=owner)
    assert response.status_code == 302 and response["Location"] == "/console/settings/"
    assert _required_in(tenant_a)
    with schema_context(tenant_a.schema):
        entry = AuditEntry.objects.get(action="security.staff_two_factor_required")
    assert entry.actor_kind == "staff" and entry.actor_id == str(tenant_a.owner.pk)
    assert entry.before == {"staff_two_factor_required": False}
    assert entry.after == {"staff_two_factor_required": True}

    # Saving the same value again changes nothing and logs nothing.
    _require(tenant_a, browser=owner)
    assert _require(tenant_a, required=False, browser=owner).status_code == 302
    assert not _required_in(tenant_a)
    with schema_context(tenant_a.schema):
        assert AuditEntry.objects.filter(action="security.staff_two_factor_required").count() == 2


def test_staff_without_totp_are_sent_to_the_set_up_page_until_they_enrol(tenant_a):
    browser = tenant_a.client(tenant_a.readonly)
    assert browser.get("/console/").status_code == 200
    _require(tenant_a)

    for path in ("/console/", "/console/invoices/", "/console/staff/"):
        response = browser.get(path)
        assert response.status_code == 302 and response["Location"] == SETUP, path
    # The reason is shown on the page the person lands on.
    landed = browser.get("/console/", follow=True)
    assert landed.redirect_chain[0] == (SETUP, 302)
    assert landed.status_code == 200
    assert landed.request["PATH_INFO"].startswith("/auth/")
    assert TENANT_REASON in landed.content.decode()

    # The set-up page itself, the password pages and logging out are never redirected.
    assert browser.get(SETUP)["Location"].startswith("/auth/reauthenticate/")
    assert browser.get("/auth/password/reset/").status_code == 200
    assert browser.get("/auth/2fa/").status_code == 200

    totp_enrol(browser)
    assert browser.get("/console/").status_code == 200


def test_logging_out_stays_possible(tenant_a):
    owner = _owner(tenant_a)
    _require(tenant_a, browser=owner)
    browser = tenant_a.client(tenant_a.readonly)
    assert browser.get("/console/")["Location"] == SETUP
    response = browser.post("/logout/", {"next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert "_auth_user_id" not in browser.session


def test_while_required_totp_cannot_be_turned_off(tenant_a):
    browser = tenant_a.client(tenant_a.readonly)
    totp_enrol(browser)
    _require(tenant_a)
    refused = browser.post("/auth/2fa/totp/deactivate/")
    assert refused.status_code == 200
    assert "cannot be turned off" in refused.content.decode()
    with schema_context(tenant_a.schema):
        assert Authenticator.objects.filter(user=tenant_a.readonly, type="totp").exists()


def test_clients_and_api_keys_are_unaffected(tenant_a):
    with schema_context(tenant_a.schema):
        shop_build(tenant_a.client_user)
    connection.set_schema_to_public()
    _require(tenant_a)
    client = tenant_a.client(tenant_a.client_user)
    for path in ("/account/", "/account/invoices/", "/account/profile/"):
        assert client.get(path).status_code == 200, path
    api = Api(tenant_a.host, make_key(tenant_a, rate_limit_per_minute=100000))
    assert api.get("/api/v1/clients/").status_code == 200


def test_only_the_owner_can_change_it(tenant_a, person_factory):
    admin = person_factory(tenant_a.schema, kind=User.Kind.STAFF, role=User.Role.ADMIN)
    connection.set_schema_to_public()
    data = {"action": "two_factor", "two_factor-required": "on"}
    for person in (tenant_a.readonly, admin):
        response = tenant_a.client(person).post("/console/settings/", data)
        assert response.status_code == 403
    assert not _required_in(tenant_a)
    with schema_context(tenant_a.schema):
        assert not AuditEntry.objects.filter(action="security.staff_two_factor_required").exists()

    # An administrator sees the setting, but no button to change it.
    page = tenant_a.client(admin).get("/console/settings/").content.decode()
    assert "Two-factor authentication for staff" in page
    assert "Only an owner can change this." in page
    assert 'name="two_factor-required"' not in page


def test_tenant_b_is_unaffected(tenant_a, tenant_b):
    _require(tenant_a)
    assert not _required_in(tenant_b)
    assert tenant_b.client(tenant_b.readonly).get("/console/").status_code == 200


def test_an_owner_without_totp_cannot_require_it(tenant_a):
    owner = tenant_a.client(tenant_a.owner)
    page = owner.get("/console/settings/").content.decode()
    assert "first set it up for your own account" in page
    refused = _require(tenant_a, browser=owner)
    assert refused.status_code == 400
    assert "Set up two-factor authentication for your own account first" in (
        refused.content.decode()
    )
    assert not _required_in(tenant_a)
    assert owner.get("/console/").status_code == 200


def test_settings_and_staff_pages_show_who_has_it(tenant_a):
    owner = _owner(tenant_a)
    _require(tenant_a, browser=owner)

    settings_page = owner.get("/console/settings/").content.decode()
    assert "Required for all staff." in settings_page
    assert "1 active staff member has not set it up yet." in settings_page

    staff_page = owner.get("/console/staff/")
    rows = {member.email: member.two_factor for member in staff_page.context["members"]}
    assert rows[tenant_a.owner.email] is True
    assert rows[tenant_a.readonly.email] is False
    body = staff_page.content.decode()
    assert "Enabled" in body and "Not set up" in body


def test_the_provider_console_requires_it_when_the_provider_says_so(
    platform_client, person_factory, settings
):
    admin = person_factory("public", kind=User.Kind.STAFF, is_staff=True, is_superuser=True)
    platform_client.force_login(admin)
    assert platform_client.get("/admin/").status_code == 200

    settings.PROVIDER_REQUIRE_2FA = True
    for path in ("/admin/", "/admin/resale/reselleraccount/"):
        response = platform_client.get(path)
        assert response.status_code == 302 and response["Location"] == SETUP, path
    landed = platform_client.get("/admin/", follow=True)
    assert landed.status_code == 200 and PROVIDER_REASON in landed.content.decode()
    # Changing the password is still possible.
    assert platform_client.get("/admin/password_change/").status_code == 200

    totp_enrol(platform_client)
    assert platform_client.get("/admin/").status_code == 200


def test_tenant_staff_are_not_bound_by_the_provider_setting(tenant_a, settings):
    settings.PROVIDER_REQUIRE_2FA = True
    assert tenant_a.client(tenant_a.readonly).get("/console/").status_code == 200


@pytest.mark.parametrize(
    ("language", "reason"),
    [
        ("it", "Questo sito richiede l'autenticazione a due fattori a tutto il suo personale."),
        ("ru", "Этот сайт требует двухфакторную аутентификацию от всех своих сотрудников."),
    ],
)
def test_the_reason_is_given_in_the_pages_language(tenant_a, language, reason):
    _require(tenant_a)
    browser = tenant_a.client(tenant_a.readonly)
    browser.cookies[django_settings.LANGUAGE_COOKIE_NAME] = language
    landed = browser.get("/console/", follow=True)
    assert escape(reason) in landed.content.decode()
