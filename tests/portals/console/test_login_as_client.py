"""Login as client: staff with the capability open the client area as one of a client's
users, see a banner with the way back, and every start and end is audited (and what is
done meanwhile is recorded as the staff member's act). Read-only staff may not; staff
accounts, other clients' users, other tenants' clients and garbage are refused without
a 500."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import User
from audit.models import AuditEntry
from billing import services

pytestmark = pytest.mark.django_db


def _url(client) -> str:
    return f"/console/clients/{client.public_id}/login-as/"


def test_staff_see_the_client_area_as_the_client_and_come_back(tenant_a, shop_a):
    client, user = shop_a.client, tenant_a.client_user
    connection.set_schema_to_public()
    browser = tenant_a.client(tenant_a.owner)
    page = browser.get(f"/console/clients/{client.public_id}/").content.decode()
    assert _url(client) in page and "See the client area as this client" in page

    started = browser.post(_url(client), {"user_pk": user.pk})
    assert started.status_code == 302 and started["Location"] == "/account/"
    area = browser.get("/account/")
    html = area.content.decode()
    assert area.status_code == 200
    assert f"You are seeing the client area as {user.email}" in html
    assert "/console/clients/login-as/end/" in html
    # The console is the staff member's again only after coming back.
    assert browser.get("/console/").status_code == 302

    back = browser.post(
        "/console/clients/login-as/end/", {"next": f"/console/clients/{client.public_id}/"}
    )
    assert back.status_code == 302 and back["Location"] == f"/console/clients/{client.public_id}/"
    assert browser.get("/console/").status_code == 200
    assert "You are seeing the client area" not in browser.get("/console/").content.decode()

    with schema_context(tenant_a.schema):
        started_entry = AuditEntry.objects.get(action="client.login_as_started")
        ended_entry = AuditEntry.objects.get(action="client.login_as_ended")
        user.refresh_from_db()
    assert started_entry.object_id == str(client.public_id)
    assert started_entry.actor_kind == "staff"
    assert started_entry.actor_label == f"{tenant_a.owner.email} as {user.email}"
    assert started_entry.after == {"staff": tenant_a.owner.email, "as_user": user.email}
    assert ended_entry.actor_label == tenant_a.owner.email
    assert user.last_login is None  # the client's own last login is left alone


def test_read_only_staff_may_not(tenant_a, shop_a):
    connection.set_schema_to_public()
    browser = tenant_a.client(tenant_a.readonly)
    page = browser.get(f"/console/clients/{shop_a.client.public_id}/").content.decode()
    assert "See the client area as this client" not in page
    refused = browser.post(_url(shop_a.client), {"user_pk": tenant_a.client_user.pk})
    assert refused.status_code == 403
    with schema_context(tenant_a.schema):
        assert not AuditEntry.objects.filter(action="client.login_as_started").exists()


@pytest.mark.parametrize("user_pk", ["owner", "other", "abc", "", "1e3", "-1"])
def test_only_a_user_of_that_client_can_be_chosen(tenant_a, shop_a, user_pk):
    with schema_context(tenant_a.schema):
        other_client = services.client_create(name="Other", email="other@example.test")
        other_user = User.objects.create_user(
            "other-login@example.test", "a-long-passphrase-1", kind=User.Kind.CLIENT
        )
        services.client_user_link(client=other_client, user=other_user)
    value = {"owner": tenant_a.owner.pk, "other": other_user.pk}.get(user_pk, user_pk)
    connection.set_schema_to_public()
    browser = tenant_a.client(tenant_a.owner)
    assert browser.post(_url(shop_a.client), {"user_pk": value}).status_code == 404
    assert browser.get("/console/").status_code == 200  # still the staff member


def test_another_tenants_client_is_a_404_and_visitors_log_in(tenant_a, tenant_b, shop_a):
    connection.set_schema_to_public()
    foreign = tenant_b.client(tenant_b.owner).post(
        _url(shop_a.client), {"user_pk": tenant_a.client_user.pk}
    )
    assert foreign.status_code == 404
    anonymous = tenant_a.client().post(_url(shop_a.client), {"user_pk": tenant_a.client_user.pk})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    # Ending a login as client that never started is refused.
    assert tenant_a.client(tenant_a.owner).post("/console/clients/login-as/end/").status_code == 403


def test_the_clients_page_shows_its_audit_log_with_the_login_as_session(tenant_a, shop_a):
    client, user = shop_a.client, tenant_a.client_user
    with schema_context(tenant_a.schema):
        other = services.client_create(name="Other", email="other@example.test")
    connection.set_schema_to_public()
    browser = tenant_a.client(tenant_a.owner)
    empty = browser.get(f"/console/clients/{client.public_id}/").content.decode()
    assert 'id="client-audit"' in empty and "Nothing recorded yet." in empty

    browser.post(_url(client), {"user_pk": user.pk})
    browser.post("/console/clients/login-as/end/")
    page = browser.get(f"/console/clients/{client.public_id}/").content.decode()
    log = page[page.index('id="client-audit"') :]
    # Newest first: the end above the start, each with who did it.
    assert log.index("Login as client ended") < log.index("Login as client started")
    assert f"{tenant_a.owner.email} as {user.email}" in log
    assert "Nothing recorded yet." not in log
    # Another client's page does not show this client's entries.
    other_page = browser.get(f"/console/clients/{other.public_id}/").content.decode()
    assert "Login as client" not in other_page

    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "it"
    italian = browser.get(
        f"/console/clients/{client.public_id}/", HTTP_ACCEPT_LANGUAGE="it"
    ).content.decode()
    assert "Registro delle attività" in italian and "Accesso come cliente iniziato" in italian
