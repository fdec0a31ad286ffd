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


US_ADDRESS = {
    "address_line1": "350 Fifth Avenue",
    "address_line2": "Suite 2100",
    "postal_code": "10118",
    "city": "New York",
    "region": "NY",
    "country": "US",
}


def test_the_console_records_the_second_address_line_and_the_state(tenant_a, shop_a):
    browser = tenant_a.client(staff_member(tenant_a, "billing"))
    form = browser.get("/console/clients/new/").content.decode()
    assert 'name="address_line2"' in form and 'name="region"' in form
    assert '<select name="country"' in form, "the country is chosen from the list"
    created = browser.post("/console/clients/new/", _details(vat_number="", **US_ADDRESS))
    assert created.status_code == 302
    with schema_context(tenant_a.schema):
        client = Client.objects.get(email="giulia@example.test")
    assert (client.address_line2, client.region) == ("Suite 2100", "NY")
    assert client.address_lines[:3] == ["350 Fifth Avenue", "Suite 2100", "10118 New York (NY)"]
    # The edit page shows them again, and a change is kept.
    page = browser.get(f"/console/clients/{client.public_id}/").content.decode()
    assert 'value="Suite 2100"' in page and 'value="NY"' in page
    browser.post(
        f"/console/clients/{client.public_id}/",
        _details(vat_number="", **{**US_ADDRESS, "region": "New York"}),
    )
    with schema_context(tenant_a.schema):
        client.refresh_from_db()
    assert client.region == "New York"


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ({**US_ADDRESS, "region": ""}, "need a state or province"),
        ({**US_ADDRESS, "postal_code": ""}, "Please give the postal code."),
        ({**US_ADDRESS, "country": "XX"}, "Select a valid choice"),
        ({**US_ADDRESS, "city": ""}, "Please give the city."),
    ],
)
def test_an_incomplete_address_is_refused_in_the_console_as_at_checkout(
    tenant_a, shop_a, address, message
):
    browser = tenant_a.client(staff_member(tenant_a, "billing"))
    refused = browser.post("/console/clients/new/", _details(vat_number="", **address))
    assert refused.status_code == 400
    assert message in refused.content.decode()
    with schema_context(tenant_a.schema):
        assert not Client.objects.filter(email="giulia@example.test").exists()
