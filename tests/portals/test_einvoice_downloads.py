"""E-invoice downloads in the reseller console and the client area: Factur-X once the PDF
is rendered ("being prepared" before), FatturaPA for the Italian seller, a message when
the data is incomplete, and 404 for anyone else's document."""

from __future__ import annotations

import facturx
from django.db import connection
from django_tenants.utils import schema_context

from billing import documents, services
from tests.portals.conftest import eur


def _issued(client, description: str = "Consulting", price: str = "50.00"):
    invoice = services.invoice_create(client=client)
    services.invoice_line_add(invoice=invoice, description=description, unit_price=eur(price))
    return services.invoice_issue(invoice=invoice)


def _company_client():
    return services.client_create(
        name="Rossi Web",
        kind="company",
        company_name="Rossi Web S.r.l.",
        email="amministrazione@rossi.test",
        country="IT",
        address_line1="Corso Italia 10",
        postal_code="20122",
        city="Milano",
        region="MI",
        vat_number="IT09876543210",
    )


def test_console_downloads_factur_x_once_the_pdf_is_rendered(tenant_a, shop_a, media_root):
    with schema_context(tenant_a.schema):
        invoice = _issued(shop_a.client)
        credit_note = services.credit_note_issue(invoice=invoice, reason="Goodwill")
    connection.set_schema_to_public()
    browser = tenant_a.client(tenant_a.owner)

    page = browser.get(f"/console/invoices/{invoice.public_id}/").content.decode()
    assert f"/console/invoices/{invoice.public_id}/einvoice/" in page
    assert f"/console/invoices/{invoice.public_id}/fatturapa/" in page
    assert f"/console/credit-notes/{credit_note.public_id}/einvoice/" in page

    pending = browser.get(f"/console/invoices/{invoice.public_id}/einvoice/")
    assert pending.status_code == 202 and 'http-equiv="refresh"' in pending.content.decode()

    with schema_context(tenant_a.schema):
        documents.invoice_pdf_render(invoice)
        documents.credit_note_pdf_render(credit_note)
    connection.set_schema_to_public()
    for path, number in (
        (f"/console/invoices/{invoice.public_id}/einvoice/", invoice.number),
        (f"/console/credit-notes/{credit_note.public_id}/einvoice/", credit_note.number),
    ):
        response = browser.get(path)
        assert response.status_code == 200, path
        assert response["Content-Type"] == "application/pdf"
        assert "attachment" in response["Content-Disposition"]
        _name, xml = facturx.get_xml_from_pdf(response.content, check_xsd=True)
        assert number.encode() in xml


def test_console_fatturapa_for_the_italian_seller(tenant_a, shop_a):
    with schema_context(tenant_a.schema):
        invoice = _issued(_company_client())
        incomplete = _issued(shop_a.client)
    connection.set_schema_to_public()
    browser = tenant_a.client(tenant_a.readonly)

    response = browser.get(f"/console/invoices/{invoice.public_id}/fatturapa/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    assert b"FatturaElettronica" in response.content and invoice.number.encode() in response.content

    # The consumer has no codice fiscale nor address: back to the invoice, saying so.
    refused = browser.get(f"/console/invoices/{incomplete.public_id}/fatturapa/", follow=True)
    assert refused.redirect_chain[-1][0] == f"/console/invoices/{incomplete.public_id}/"
    assert "cannot be exported as FatturaPA" in refused.content.decode()


def test_client_area_downloads_its_own_factur_x(tenant_a, shop_a, media_root):
    with schema_context(tenant_a.schema):
        invoice = _issued(shop_a.client)
        documents.invoice_pdf_render(invoice)
    connection.set_schema_to_public()
    browser = tenant_a.client(tenant_a.client_user)

    page = browser.get(f"/account/invoices/{invoice.public_id}/").content.decode()
    assert f"/account/invoices/{invoice.public_id}/einvoice/" in page
    response = browser.get(f"/account/invoices/{invoice.public_id}/einvoice/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    _name, xml = facturx.get_xml_from_pdf(response.content, check_xsd=True)
    assert invoice.number.encode() in xml


def test_another_tenants_or_clients_documents_are_404(tenant_a, tenant_b, shop_a, shop_b):
    with schema_context(tenant_b.schema):
        b_invoice = _issued(shop_b.client)
        b_note = services.credit_note_issue(invoice=b_invoice, reason="Goodwill")
    with schema_context(tenant_a.schema):
        stranger = services.client_create(name="Other Client", email="other@example.test")
        foreign = _issued(stranger)
        draft = services.invoice_create(client=shop_a.client)
    connection.set_schema_to_public()

    console = tenant_a.client(tenant_a.owner)
    for path in (
        f"/console/invoices/{b_invoice.public_id}/einvoice/",
        f"/console/invoices/{b_invoice.public_id}/fatturapa/",
        f"/console/credit-notes/{b_note.public_id}/einvoice/",
        f"/console/credit-notes/{b_note.public_id}/fatturapa/",
        f"/console/invoices/{draft.public_id}/einvoice/",
    ):
        assert console.get(path).status_code == 404, path

    account = tenant_a.client(tenant_a.client_user)
    for invoice in (b_invoice, foreign, draft):
        assert account.get(f"/account/invoices/{invoice.public_id}/einvoice/").status_code == 404
