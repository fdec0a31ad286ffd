"""Clients in the console of tenant A: whether a client is a company or a person follows
the company name, both when it is created and when it is changed."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from billing import services
from billing.models import Client
from tests.portals.conftest import staff_member

pytestmark = pytest.mark.django_db


def _details(**changes: str) -> dict[str, str]:
    details = {
        "name": "Giulia Bianchi",
        "company_name": "Bianchi Web S.r.l.",
        "email": "giulia@example.test",
        "country": "IT",
        "vat_number": "IT12345678901",
        "language": "en",
    }
    details.update(changes)
    return details


def test_a_client_with_a_company_name_is_created_as_a_company(tenant_a, shop_a):
    browser = tenant_a.client(staff_member(tenant_a, "billing"))
    company = browser.post("/console/clients/new/", _details())
    person = browser.post(
        "/console/clients/new/",
        _details(name="Luca Verdi", email="luca@example.test", company_name="", vat_number=""),
    )
    assert company.status_code == person.status_code == 302
    with schema_context(tenant_a.schema):
        assert Client.objects.get(email="giulia@example.test").kind == Client.Kind.COMPANY
        assert Client.objects.get(email="luca@example.test").kind == Client.Kind.PERSON


def test_a_company_whose_company_name_is_removed_becomes_a_person(tenant_a, shop_a):
    with schema_context(tenant_a.schema):
        client = services.client_create(kind=Client.Kind.COMPANY, **_details())
    browser = tenant_a.client(staff_member(tenant_a, "billing"))
    saved = browser.post(f"/console/clients/{client.public_id}/", _details(company_name=""))
    assert saved.status_code == 302
    with schema_context(tenant_a.schema):
        client.refresh_from_db()
    assert client.kind == Client.Kind.PERSON
    assert (client.company_name, client.vat_number) == ("", "")
    assert (client.name, client.email) == ("Giulia Bianchi", "giulia@example.test")


def test_a_person_given_a_company_name_becomes_a_company(tenant_a, shop_a):
    with schema_context(tenant_a.schema):
        client = services.client_create(**_details(company_name="", vat_number=""))
    assert client.kind == Client.Kind.PERSON
    browser = tenant_a.client(staff_member(tenant_a, "billing"))
    browser.post(f"/console/clients/{client.public_id}/", _details())
    with schema_context(tenant_a.schema):
        client.refresh_from_db()
    assert client.kind == Client.Kind.COMPANY
    assert (client.company_name, client.vat_number) == ("Bianchi Web S.r.l.", "IT12345678901")
