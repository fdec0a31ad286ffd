"""VAT numbers: python-stdnum's format and checksum, then VIES's SOAP service through
billing.vies, against the local stand-in (sandbox.vies_server) and its documented
faults; and what a client's VIES answer makes of its sales."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from billing import selectors, services
from billing import vies as vies_api
from billing.models import VatNumberCheck
from billing.taxes import VatStatus
from tests.billing.conftest import eur, invoice_for

SELLER = "IT01234567890"  # registered at the stand-in: a valid requester


def test_a_registered_number_is_valid_with_a_consultation_number(vies):
    result = vies_api.vat_number_check(vat_number="ie 6388047 v", requester=SELLER)
    assert result.status == vies_api.VALID
    assert result.vat_number == "IE6388047V"
    assert result.request_date == date.today()
    assert result.request_identifier.startswith("WAPI")
    assert result.name == "Murphy Web Ltd"
    (request,) = vies.requests
    assert request.operation == "checkVatApprox"
    assert request.fields["countryCode"] == "IE" and request.fields["vatNumber"] == "6388047V"
    assert request.fields["requesterVatNumber"] == "01234567890"
    assert request.content_type.startswith("text/xml")


def test_a_number_without_its_prefix_takes_the_clients_country(vies):
    assert vies_api.vat_number_check(vat_number="136695976", country="DE").status == vies_api.VALID


def test_greece_is_asked_as_el(vies):
    vies_api.vat_number_check(vat_number="094259216", country="GR")
    assert vies.requests[-1].fields["countryCode"] == "EL"


def test_a_bad_checksum_is_invalid_without_asking_vies(vies):
    result = vies_api.vat_number_check(vat_number="DE123456789", requester=SELLER)
    assert (result.status, result.fault) == (vies_api.INVALID, "INVALID_FORMAT")
    assert vies.requests == []


def test_a_number_vies_does_not_know_is_invalid(vies):
    result = vies_api.vat_number_check(vat_number="DE811907980", requester=SELLER)
    assert result.status == vies_api.INVALID and result.fault == ""


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        ("MS_UNAVAILABLE", vies_api.UNAVAILABLE),
        ("MS_MAX_CONCURRENT_REQ", vies_api.UNAVAILABLE),
        ("TIMEOUT", vies_api.UNAVAILABLE),
        ("SERVICE_UNAVAILABLE", vies_api.UNAVAILABLE),
        ("INVALID_INPUT", vies_api.INVALID),
    ],
)
def test_vies_faults(vies, fault, status):
    vies.faults["IE"] = fault
    result = vies_api.vat_number_check(vat_number="IE6388047V", requester=SELLER)
    assert (result.status, result.fault) == (status, fault)


def test_an_unknown_requester_falls_back_to_checkvat(vies):
    result = vies_api.vat_number_check(vat_number="IE6388047V", requester="FR40303265046")
    assert result.status == vies_api.VALID and result.request_identifier == ""
    assert [r.operation for r in vies.requests] == ["checkVatApprox", "checkVat"]


def test_vies_out_of_reach_is_unavailable(vies, settings):
    settings.VIES_URL = "http://127.0.0.1:9/checkVatService"
    result = vies_api.vat_number_check(vat_number="IE6388047V")
    assert result.status == vies_api.UNAVAILABLE


def test_numbers_outside_the_eu_are_never_confirmed(vies):
    assert vies_api.vat_number_check(vat_number="GB980780684").fault == "NOT_AN_EU_NUMBER"
    assert vies.requests == []


@pytest.mark.parametrize(
    "body",
    [
        # Not SOAP at all.
        b"<checkVat/>",
        # The right operation in the wrong namespace.
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        b'<checkVat xmlns="urn:other"><countryCode>IE</countryCode>'
        b"<vatNumber>6388047V</vatNumber></checkVat></soap:Body></soap:Envelope>",
        # The WSDL's fields out of their order.
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        b'<checkVat xmlns="urn:ec.europa.eu:taxud:vies:services:checkVat:types">'
        b"<vatNumber>6388047V</vatNumber><countryCode>IE</countryCode></checkVat>"
        b"</soap:Body></soap:Envelope>",
        # A country VIES does not serve.
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        b'<checkVat xmlns="urn:ec.europa.eu:taxud:vies:services:checkVat:types">'
        b"<countryCode>US</countryCode><vatNumber>123456</vatNumber></checkVat>"
        b"</soap:Body></soap:Envelope>",
    ],
)
def test_the_stand_in_refuses_what_vies_refuses(vies, body):
    response = httpx.post(vies.url, content=body, headers={"Content-Type": "text/xml"})
    assert response.status_code == 500
    assert b"<faultstring>INVALID_INPUT</faultstring>" in response.content


def test_the_check_is_kept_and_decides_the_sale(shop, vies):
    client = services.client_create(
        name="Siobhan Murphy",
        kind="company",
        company_name="Murphy Web Ltd",
        email="s@murphy.test",
        country="IE",
        vat_number="IE6388047V",
    )
    # Not asked yet: a consumer.
    assert selectors.client_vat_status(client=client) == VatStatus.UNCHECKED
    assert invoice_for(client, ("Hosting", eur(10))).tax_total == eur("2.30")

    check = services.client_vat_number_verify(client=client, settings=shop.settings)
    assert check.status == VatNumberCheck.Status.VALID
    assert check.request_identifier and check.request_date == date.today()
    invoice = invoice_for(client, ("Hosting", eur(10)))
    assert invoice.reverse_charge and invoice.tax_total == eur(0)
    proof = invoice.buyer["tax"]["vies"]
    assert proof["request_identifier"] == check.request_identifier
    assert proof["status"] == "valid"

    # VIES down later: the last answer about this number still stands; a new number
    # VIES cannot confirm is a consumer's.
    vies.faults["IE"] = "MS_UNAVAILABLE"
    services.client_vat_number_verify(client=client, settings=shop.settings)
    assert selectors.client_vat_status(client=client) == VatStatus.VALID
    client = services.client_update(client=client, vat_number="IE9825613N")
    services.client_vat_number_verify(client=client, settings=shop.settings)
    assert selectors.client_vat_status(client=client) == VatStatus.UNAVAILABLE
    later = invoice_for(client, ("Hosting", eur(10)))
    assert not later.reverse_charge and later.tax_total == eur("2.30")
    assert "unavailable" in " ".join(later.buyer["tax"]["decisions"][0]["reasons"])
