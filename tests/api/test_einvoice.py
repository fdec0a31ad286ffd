"""GET /api/v1/invoices/{id}/einvoice/ and /api/v1/credit-notes/{id}/einvoice/: Factur-X,
CII or FatturaPA, 202 while the PDF is rendered, 409 when the data is incomplete, 404 for
another tenant."""

from __future__ import annotations

import facturx
import pytest
from django_tenants.utils import schema_context

from billing import documents, services
from billing.models import CreditNote
from billing.money import Money
from tests.api.conftest import Api

pytestmark = pytest.mark.django_db


def test_factur_x_is_202_until_rendered_then_the_pdf(shop, tenant_a, api_a, media_root):
    path = f"/api/v1/invoices/{shop.invoice.public_id}/einvoice/"

    pending = api_a.get(path)
    assert pending.status_code == 202
    assert pending.json()["status"] == "pending" and pending["Retry-After"]

    with schema_context(tenant_a.schema):
        documents.invoice_pdf_render(shop.invoice)
    response = api_a.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    _name, xml = facturx.get_xml_from_pdf(response.content, check_xsd=True)
    assert shop.invoice.number.encode() in xml
    assert b"IT01234567890" in xml


def test_cii_xml_of_an_invoice_and_a_credit_note(shop, api_a):
    invoice = api_a.get(f"/api/v1/invoices/{shop.invoice.public_id}/einvoice/?syntax=cii")
    assert invoice.status_code == 200 and invoice["Content-Type"] == "application/xml"
    assert facturx.xml_check_xsd(invoice.content, flavor="factur-x", level="en16931")
    assert b"<ram:TypeCode>380</ram:TypeCode>" in invoice.content

    note = shop.objects[CreditNote]
    response = api_a.get(f"/api/v1/credit-notes/{note.public_id}/einvoice/?syntax=cii")
    assert response.status_code == 200
    assert b"<ram:TypeCode>381</ram:TypeCode>" in response.content
    assert note.number.encode() in response.content


def test_fatturapa_when_the_data_is_complete_409_when_not(shop, tenant_a, api_a):
    with schema_context(tenant_a.schema):
        client = services.client_create(
            name="Rossi Web",
            kind="company",
            company_name="Rossi Web S.r.l.",
            email="amministrazione@rossi.test",
            country="IT",
            address_line1="Corso Italia 10",
            postal_code="20122",
            city="Milano",
            vat_number="IT09876543210",
        )
        services.billing_settings_update(
            address_line1="Via Roma 1", postal_code="00184", city="Roma"
        )
        invoice = services.invoice_create(client=client)
        services.invoice_line_add(
            invoice=invoice, description="Hosting", unit_price=Money.of("10.00", "EUR")
        )
        invoice = services.invoice_issue(invoice=invoice)

    response = api_a.get(f"/api/v1/invoices/{invoice.public_id}/einvoice/?syntax=fatturapa")
    assert response.status_code == 200 and response["Content-Type"] == "application/xml"
    assert b"FatturaElettronica" in response.content

    # The shop's client is a consumer with neither codice fiscale nor address.
    refused = api_a.get(f"/api/v1/invoices/{shop.invoice.public_id}/einvoice/?syntax=fatturapa")
    assert refused.status_code == 409
    assert refused["Content-Type"] == "application/problem+json"
    assert "FatturaPA" in refused.json()["detail"]


def test_an_unknown_syntax_is_400(shop, api_a):
    response = api_a.get(f"/api/v1/invoices/{shop.invoice.public_id}/einvoice/?syntax=ubl")
    assert response.status_code == 400


def test_a_draft_is_409(shop, tenant_a, api_a):
    with schema_context(tenant_a.schema):
        draft = services.invoice_create(client=shop.client)
    response = api_a.get(f"/api/v1/invoices/{draft.public_id}/einvoice/?syntax=cii")
    assert response.status_code == 409


def test_another_tenant_gets_404(shop, tenant_a, tenant_b, key_b):
    note = shop.objects[CreditNote]
    for api in (Api(tenant_b.host, key_b), Api(tenant_a.host, key_b)):
        for path in (
            f"/api/v1/invoices/{shop.invoice.public_id}/einvoice/?syntax=cii",
            f"/api/v1/credit-notes/{note.public_id}/einvoice/?syntax=cii",
        ):
            response = api.get(path)
            assert response.status_code == 404, path
