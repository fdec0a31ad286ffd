"""API keys in the console of tenant A: a key made here works on /api/v1/ with its scopes,
is shown once, stops when revoked; bad input is explained; only owners and
administrators act; another tenant's key is a 404."""

from __future__ import annotations

import re

import pytest
from django_tenants.utils import schema_context

from accounts.models import ApiKey
from api.keys import SCOPES, api_key_create, token_hash
from audit.models import AuditEntry
from tests.api.conftest import Api
from tests.portals.conftest import staff_member

pytestmark = pytest.mark.django_db

PAGE = "/console/api-keys/"
TOKEN_RE = re.compile(r'value="(tsk_[A-Za-z0-9_-]+)"')


def _create(browser, **fields):
    data = {"name": "Accounting sync", "scopes": ["clients:read"], **fields}
    return browser.post(PAGE, data)


def test_a_key_made_in_the_console_works_with_its_scopes_and_is_shown_once(tenant_a):
    browser = tenant_a.client(tenant_a.owner)
    response = _create(browser, scopes=["clients:read", "invoices:write"])
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.content.decode()
    tokens = TOKEN_RE.findall(body)
    assert len(tokens) == 1
    token = tokens[0]
    assert "shown only this once" in body

    with schema_context(tenant_a.schema):
        key = ApiKey.objects.get(name="Accounting sync")
        assert key.token_hash == token_hash(token) and token.startswith(key.prefix)
        assert key.scopes == ["clients:read", "invoices:write"]
        assert key.created_by == tenant_a.owner
        entry = AuditEntry.objects.get(action="api_key.created", object_id=str(key.public_id))
        assert entry.actor_kind == "staff" and entry.actor_label == tenant_a.owner.email
        assert token not in str(entry.after) and key.token_hash not in str(entry.after)

    api = Api(tenant_a.host, token)
    assert api.get("/api/v1/clients/").status_code == 200
    assert api.get("/api/v1/invoices/").status_code == 200  # write includes read
    assert api.get("/api/v1/services/").status_code == 403  # no such scope

    # The list names the key by its prefix and never shows the token again.
    listing = browser.get(PAGE).content.decode()
    assert key.prefix in listing and token not in listing
    assert TOKEN_RE.search(listing) is None


def test_every_real_scope_is_offered(tenant_a):
    body = tenant_a.client(tenant_a.owner).get(PAGE).content.decode()
    for scope in SCOPES:
        assert f'value="{scope}"' in body, scope


def test_revoking_needs_a_confirmation_then_the_api_answers_401(tenant_a):
    browser = tenant_a.client(tenant_a.owner)
    token = TOKEN_RE.findall(_create(browser).content.decode())[0]
    api = Api(tenant_a.host, token)
    assert api.get("/api/v1/clients/").status_code == 200
    with schema_context(tenant_a.schema):
        key = ApiKey.objects.get(name="Accounting sync")
    url = f"/console/api-keys/{key.public_id}/revoke/"

    confirm = browser.get(url)
    assert confirm.status_code == 200 and "cannot be restored" in confirm.content.decode()
    with schema_context(tenant_a.schema):
        assert ApiKey.objects.get(pk=key.pk).revoked_at is None  # a GET changes nothing

    response = browser.post(url)
    assert response.status_code == 302 and response["Location"] == PAGE
    assert api.get("/api/v1/clients/").status_code == 401
    with schema_context(tenant_a.schema):
        assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
        assert (
            AuditEntry.objects.filter(
                action="api_key.revoked", object_id=str(key.public_id)
            ).count()
            == 1
        )
    assert "revoked" in browser.get(PAGE).content.decode()

    # Twice is harmless and logged once.
    assert browser.post(url).status_code == 302
    with schema_context(tenant_a.schema):
        assert AuditEntry.objects.filter(action="api_key.revoked").count() == 1


@pytest.mark.parametrize(
    "allowed_ips",
    ["203.0.113.7\n10.0.0.0/33", "not-an-ip", "203.0.113.7, 300.1.2.3"],
)
def test_a_bad_ip_allow_list_is_explained_and_nothing_is_created(tenant_a, allowed_ips):
    response = _create(tenant_a.client(tenant_a.owner), allowed_ips=allowed_ips)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Not an IP address or network" in body
    assert TOKEN_RE.search(body) is None
    with schema_context(tenant_a.schema):
        assert not ApiKey.objects.exists()
        assert not AuditEntry.objects.filter(action="api_key.created").exists()


def test_other_bad_input_is_explained(tenant_a):
    browser = tenant_a.client(tenant_a.owner)
    no_scope = _create(browser, scopes=[])
    assert no_scope.status_code == 400 and "Choose at least one scope" in no_scope.content.decode()
    unknown = _create(browser, scopes=["everything:write"])
    assert unknown.status_code == 400
    past = _create(browser, expires_on="2001-01-01")
    assert past.status_code == 400 and "in the past" in past.content.decode()
    with schema_context(tenant_a.schema):
        assert not ApiKey.objects.exists()


def test_the_allow_list_and_expiry_are_kept_and_enforced(tenant_a):
    browser = tenant_a.client(tenant_a.owner)
    body = _create(
        browser, allowed_ips="198.51.100.0/24\n2001:db8::1", expires_on="2999-12-31"
    ).content.decode()
    token = TOKEN_RE.findall(body)[0]
    with schema_context(tenant_a.schema):
        key = ApiKey.objects.get()
    assert key.allowed_ips == ["198.51.100.0/24", "2001:db8::1/128"]
    assert key.expires_at.year == 3000
    # The test client calls from 127.0.0.1, outside the list.
    response = Api(tenant_a.host, token).get("/api/v1/clients/")
    assert response.status_code == 403
    listing = browser.get(PAGE).content.decode()
    assert "198.51.100.0/24" in listing


def test_read_only_staff_see_the_list_but_cannot_act(tenant_a):
    with schema_context(tenant_a.schema):
        key = api_key_create(name="Existing", scopes=["clients:read"]).key
    browser = tenant_a.client(tenant_a.readonly)
    listing = browser.get(PAGE)
    assert listing.status_code == 200
    body = listing.content.decode()
    assert "Existing" in body and key.prefix in body
    assert "Create an API key" not in body and "/revoke/" not in body

    assert _create(browser).status_code == 403
    revoke = f"/console/api-keys/{key.public_id}/revoke/"
    assert browser.get(revoke).status_code == 403
    assert browser.post(revoke).status_code == 403
    with schema_context(tenant_a.schema):
        assert ApiKey.objects.count() == 1
        assert ApiKey.objects.get().revoked_at is None


@pytest.mark.parametrize("role", ["admin", "billing", "support"])
def test_only_owners_and_administrators_manage_keys(tenant_a, role):
    response = _create(tenant_a.client(staff_member(tenant_a, role)))
    assert response.status_code == (200 if role == "admin" else 403)


def test_another_tenants_key_is_404(tenant_a, tenant_b):
    with schema_context(tenant_b.schema):
        created = api_key_create(name="Beta key", scopes=["clients:read"])
    browser = tenant_a.client(tenant_a.owner)
    revoke = f"/console/api-keys/{created.key.public_id}/revoke/"
    assert browser.get(revoke).status_code == 404
    assert browser.post(revoke).status_code == 404
    assert "Beta key" not in browser.get(PAGE).content.decode()
    with schema_context(tenant_b.schema):
        assert ApiKey.objects.get(pk=created.key.pk).revoked_at is None
    # And B's key does nothing on A's host.
    assert Api(tenant_a.host, created.token).get("/api/v1/clients/").status_code == 404


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("it", ["Chiavi API", "Crea una chiave API", "Leggere i clienti e i loro contatti."]),
        ("ru", ["Ключи API", "Создать ключ API", "Чтение клиентов и их контактов."]),
    ],
)
def test_the_page_and_its_errors_are_translated(tenant_a, language, words):
    browser = tenant_a.client(tenant_a.owner)
    browser.cookies["django_language"] = language
    body = browser.get(PAGE).content.decode()
    for word in words:
        assert word in body
    error = _create(browser, allowed_ips="nope").content.decode()
    assert {"it": "Non è un indirizzo IP", "ru": "Это не IP-адрес"}[language] in error
