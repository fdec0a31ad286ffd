from __future__ import annotations

import pytest

from billing import selectors, services
from billing.errors import BillingError
from billing.models import Client

pytestmark = pytest.mark.django_db


def test_client_users_act_for_their_client(in_tenant_a, tenant_a):
    client = services.client_create(
        name="Ada Lovelace", email=" ADA@Example.test ", country="gb", vat_number="gb 123"
    )
    assert (client.email, client.country, client.vat_number) == ("ada@example.test", "GB", "GB123")
    services.client_user_link(client=client, user=tenant_a.client_user)
    assert selectors.client_for_user(user=tenant_a.client_user) == client
    other = services.client_create(name="Other", email="other@example.test")
    with pytest.raises(BillingError, match="another client"):
        services.client_user_link(client=other, user=tenant_a.client_user)
    with pytest.raises(BillingError, match="Only client accounts"):
        services.client_user_link(client=client, user=tenant_a.owner)
    assert selectors.client_for_user(user=tenant_a.owner) is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": " ", "email": "a@example.test"}, "needs a name"),
        ({"name": "A", "email": "not-an-email"}, "valid e-mail"),
        ({"name": "A", "email": "a@example.test", "country": "Italy"}, "two-letter"),
        ({"name": "A", "email": "a@example.test", "kind": "company"}, "company name"),
        ({"name": "A", "email": "a@example.test", "balance": 10}, "Unknown client fields"),
    ],
)
def test_bad_clients_are_refused(in_tenant_a, fields, message):
    with pytest.raises(BillingError, match=message):
        services.client_create(**fields)
    assert not Client.objects.exists()


def test_contacts(in_tenant_a):
    client = services.client_create(name="Ada", email="ada@example.test")
    contact = services.contact_create(
        client=client, name="Bob", email="bob@example.test", receives_invoices=True
    )
    assert list(client.contacts.all()) == [contact]
    with pytest.raises(BillingError):
        services.contact_create(client=client, name="Bob", email="nope")


def test_company_or_person_follows_the_company_name(in_tenant_a):
    person = services.client_details_save(
        name="Ada Lovelace", email="ada@example.test", vat_number="GB123"
    )
    assert (person.kind, person.vat_number) == (Client.Kind.PERSON, "GB123")
    company = services.client_details_save(
        client=person, name="Ada Lovelace", email="ada@example.test", company_name=" Engines "
    )
    assert (company.kind, company.company_name) == (Client.Kind.COMPANY, "Engines")
    back = services.client_details_save(
        client=company, name="Ada Lovelace", email="ada@example.test"
    )
    assert (back.kind, back.company_name, back.vat_number) == (Client.Kind.PERSON, "", "")
    with pytest.raises(BillingError, match="follows from its company name"):
        services.client_details_save(name="Bob", email="bob@example.test", kind=Client.Kind.COMPANY)
