"""FatturaPA for Italian sellers: built from the issued document, validated by a38, read
back by a38 as the same invoice."""

from __future__ import annotations

from decimal import Decimal

import a38.fattura as fa
import pytest
from a38.validation import Validation
from lxml import etree

from billing import einvoices, fatturapa, services
from billing.einvoices import EInvoiceError
from tests.billing.conftest import eur, invoice_for

NS = {"p": fa.NS}


def parsed(xml: bytes) -> fa.FatturaPrivati12:
    """The XML read back into a38's model, and checked again there."""
    invoice = fa.auto_from_etree(etree.fromstring(xml))
    validation = Validation()
    invoice.validate(validation)
    assert [e for e in validation.errors if e.code != "00426"] == []
    return invoice


@pytest.fixture
def italian_client(shop):
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


def test_an_italian_invoice_builds_fatturapa_that_a38_validates(shop, italian_client):
    invoice = invoice_for(italian_client, ("Hosting Pro", eur("30.00")), ("Dominio", eur("12")))

    xml = fatturapa.document_fatturapa_xml(document=invoice)

    read = parsed(xml)
    header = read.fattura_elettronica_header
    assert header.dati_trasmissione.formato_trasmissione == "FPR12"
    assert header.dati_trasmissione.codice_destinatario == "0000000"
    seller = header.cedente_prestatore.dati_anagrafici
    assert (seller.id_fiscale_iva.id_paese, seller.id_fiscale_iva.id_codice) == (
        "IT",
        "01234567890",
    )
    assert seller.anagrafica.denominazione == "Alfa Servizi Internet S.r.l."
    buyer = header.cessionario_committente
    assert buyer.dati_anagrafici.id_fiscale_iva.id_codice == "09876543210"
    assert (buyer.sede.cap, buyer.sede.comune, buyer.sede.provincia) == ("20122", "Milano", "MI")
    (body,) = read.fattura_elettronica_body
    general = body.dati_generali.dati_generali_documento
    assert (general.tipo_documento, general.numero) == ("TD01", invoice.number)
    assert general.importo_totale_documento == Decimal("51.24")
    (summary,) = body.dati_beni_servizi.dati_riepilogo
    assert (summary.aliquota_iva, summary.imponibile_importo, summary.imposta) == (
        Decimal("22.00"),
        Decimal("42.00"),
        Decimal("9.24"),
    )
    (payment,) = body.dati_pagamento
    assert payment.dettaglio_pagamento[0].iban == "IT60X0542811101000000123456"
    assert payment.dettaglio_pagamento[0].data_scadenza_pagamento == invoice.due_date


def test_a_reverse_charge_invoice_to_an_eu_business_is_not_subject_to_italian_vat(shop):
    weber = services.client_create(
        name="Hans Weber",
        kind="company",
        company_name="Weber GmbH",
        email="hans@weber.test",
        country="DE",
        address_line1="Hauptstrasse 5",
        postal_code="10115",
        city="Berlin",
        vat_number="DE136695976",
    )
    services.client_vat_number_verify(client=weber, settings=shop.settings)
    invoice = invoice_for(weber, ("VPS", eur("20.00")))
    assert invoice.reverse_charge

    read = parsed(fatturapa.document_fatturapa_xml(document=invoice))

    header = read.fattura_elettronica_header
    assert header.dati_trasmissione.codice_destinatario == "XXXXXXX"
    assert header.cessionario_committente.sede.nazione == "DE"
    (body,) = read.fattura_elettronica_body
    (line,) = body.dati_beni_servizi.dettaglio_linee
    assert (line.aliquota_iva, line.natura) == (Decimal("0.00"), "N2.1")
    (summary,) = body.dati_beni_servizi.dati_riepilogo
    assert summary.natura == "N2.1"
    assert summary.riferimento_normativo


def test_a_credit_note_is_td04_and_names_its_invoice(shop, italian_client):
    invoice = invoice_for(italian_client, ("Hosting", eur("100.00")))
    credit_note = services.credit_note_issue(invoice=invoice, reason="Servizio non reso")

    read = parsed(fatturapa.document_fatturapa_xml(document=credit_note))

    (body,) = read.fattura_elettronica_body
    assert body.dati_generali.dati_generali_documento.tipo_documento == "TD04"
    (related,) = body.dati_generali.dati_fatture_collegate
    assert related.id_documento == invoice.number
    assert body.dati_pagamento == []


def test_the_file_identifier_is_stable_and_short(shop, italian_client):
    invoice = invoice_for(italian_client, ("Hosting", eur("10.00")))
    doc = einvoices.einvoice_document(invoice)

    assert fatturapa.progressivo_invio(doc) == fatturapa.progressivo_invio(doc)
    assert len(fatturapa.progressivo_invio(doc)) <= 10


def test_missing_buyer_data_is_refused_with_a38s_findings(shop):
    # An Italian consumer without codice fiscale or address.
    invoice = invoice_for(shop.client, ("Hosting", eur("10.00")))

    with pytest.raises(EInvoiceError, match="FatturaPA"):
        fatturapa.document_fatturapa_xml(document=invoice)


def test_a_seller_outside_italy_has_no_fatturapa(shop):
    services.billing_settings_update(country="FR", vat_number="FR12345678901")
    invoice = invoice_for(shop.client, ("Hosting", eur("10.00")))

    assert not fatturapa.fatturapa_supported(invoice)
    with pytest.raises(EInvoiceError, match="Italy"):
        fatturapa.document_fatturapa_xml(document=invoice)


def _strictly_valid(xml: bytes) -> fa.FatturaPrivati12:
    invoice = fa.auto_from_etree(etree.fromstring(xml))
    validation = Validation()
    invoice.validate(validation)
    assert validation.errors == []
    return invoice


def test_a_buyer_with_an_sdi_code_gets_its_invoices_there(shop, italian_client):
    services.client_update(client=italian_client, sdi_code=" m5uxcr1 ")
    invoice = invoice_for(italian_client, ("Hosting Pro", eur("30.00")))

    transmission = _strictly_valid(
        fatturapa.document_fatturapa_xml(document=invoice)
    ).fattura_elettronica_header.dati_trasmissione

    assert transmission.codice_destinatario == "M5UXCR1"
    assert transmission.pec_destinatario is None


def test_a_buyer_with_only_a_pec_address_gets_seven_zeros_and_the_pec(shop, italian_client):
    services.client_update(client=italian_client, pec_email="Rossi.Web@PEC.test")
    invoice = invoice_for(italian_client, ("Hosting Pro", eur("30.00")))

    transmission = _strictly_valid(
        fatturapa.document_fatturapa_xml(document=invoice)
    ).fattura_elettronica_header.dati_trasmissione

    assert transmission.codice_destinatario == "0000000"
    assert transmission.pec_destinatario == "rossi.web@pec.test"


def test_the_delivery_channel_is_the_one_the_invoice_was_issued_with(shop, italian_client):
    services.client_update(client=italian_client, sdi_code="M5UXCR1")
    invoice = invoice_for(italian_client, ("Hosting Pro", eur("30.00")))
    services.client_update(client=italian_client, sdi_code="ABC1234")

    transmission = parsed(
        fatturapa.document_fatturapa_xml(document=invoice)
    ).fattura_elettronica_header.dati_trasmissione

    assert transmission.codice_destinatario == "M5UXCR1"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"sdi_code": "ABC12"}, "not an SdI recipient code"),
        ({"sdi_code": "ABC-123"}, "not an SdI recipient code"),
        ({"pec_email": "not-an-address"}, "not a valid PEC address"),
    ],
)
def test_a_bad_delivery_channel_is_refused_and_changes_nothing(
    shop, italian_client, fields, message
):
    from billing.errors import BillingError
    from billing.models import Client

    with pytest.raises(BillingError, match=message):
        services.client_update(client=italian_client, **fields)

    stored = Client.objects.get(pk=italian_client.pk)
    assert (stored.sdi_code, stored.pec_email) == ("", "")


def test_the_client_forms_explain_a_bad_sdi_code_and_normalise_a_good_one(shop):
    from portals.console.forms import ClientForm

    base = {"name": "Rossi", "email": "a@rossi.test", "language": "it", "country": "IT"}
    bad = ClientForm(data={**base, "sdi_code": "12"})
    assert not bad.is_valid()
    assert "seven letters and digits" in bad.errors["sdi_code"][0]

    good = ClientForm(data={**base, "sdi_code": "m5uxcr1", "pec_email": "rossi@pec.test"})
    assert good.is_valid(), good.errors
    assert good.cleaned_data["sdi_code"] == "M5UXCR1"
