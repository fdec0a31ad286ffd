"""Password reset by e-mail: the link is for the host it was asked on, void on any other
tenant's host, and the new password must meet the password policy."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import User
from tests.accounts.conftest import password_login
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-and-long-passphrase"
LINK_RE = re.compile(r"https?://([^/\s]+)(/auth/password/reset/key/\S+/)")


def _reset_link(world, email: str) -> tuple[str, str]:
    mail.outbox.clear()
    response = world.client().post("/auth/password/reset/", {"email": email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    host, path = LINK_RE.search(mail.outbox[0].body).groups()
    return host, path


def test_the_link_is_for_the_host_and_brand_it_was_asked_on(tenant_a, tenant_b, person_factory):
    person = person_factory(tenant_a.schema, kind=User.Kind.CLIENT)
    host, _path = _reset_link(tenant_a, person.email)
    message = mail.outbox[0]
    assert host == tenant_a.host
    assert message.to == [person.email]
    assert "Alpha Hosting" in message.subject + message.body
    for name in ("Tessera", tenant_b.host, tenant_b.tenant.name):
        assert name not in message.subject + message.body


def test_an_unknown_address_gets_no_mail(tenant_a):
    mail.outbox.clear()
    response = tenant_a.client().post("/auth/password/reset/", {"email": "nobody@x.test"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_a_link_of_tenant_a_is_void_on_tenant_bs_host(tenant_a, tenant_b, person_factory):
    person = person_factory(tenant_a.schema, kind=User.Kind.CLIENT)
    # User ids repeat across schemas: B has a user with the same id as A's person.
    with schema_context(tenant_b.schema):
        twin = User.objects.filter(pk=person.pk).first() or User.objects.create_user(
            "twin@beta.test", PASSWORD, pk=person.pk
        )
    connection.set_schema_to_public()
    _host, path = _reset_link(tenant_a, person.email)

    on_b = tenant_b.client()
    page = on_b.get(path, follow=True)
    assert page.status_code == 200
    assert page.context["token_fail"] is True
    posted = on_b.post(path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert posted.status_code == 200
    with schema_context(tenant_b.schema):
        twin.refresh_from_db()
        assert not twin.check_password(NEW_PASSWORD)
    with schema_context(tenant_a.schema):
        person.refresh_from_db()
        assert person.check_password(PASSWORD)


def test_the_link_sets_a_password_that_meets_the_policy(tenant_a, person_factory):
    person = person_factory(tenant_a.schema, kind=User.Kind.CLIENT, full_name="Mario Rossi")
    _host, path = _reset_link(tenant_a, person.email)
    browser = tenant_a.client()
    opened = browser.get(path)
    # allauth moves the key out of the address bar into the session.
    assert opened.status_code == 302
    form_path = opened["Location"]
    assert 'name="password1"' in browser.get(form_path).content.decode()

    for weak in ("short", "1234567890123", "password123"):
        refused = browser.post(form_path, {"password1": weak, "password2": weak})
        assert refused.status_code == 200
        assert refused.context["form"].errors["password1"]
    with schema_context(tenant_a.schema):
        person.refresh_from_db()
        assert person.check_password(PASSWORD)
    connection.set_schema_to_public()

    done = browser.post(form_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert password_login(tenant_a.client(), person.email, NEW_PASSWORD).status_code == 302
    # The link is spent once used.
    assert tenant_a.client().get(path, follow=True).context["token_fail"] is True
