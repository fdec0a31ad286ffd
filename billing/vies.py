"""VAT numbers: their format and checksum (python-stdnum), and VIES, the European
Commission's service that says whether a number is registered for intra-EU trade.

The only module that talks to VIES. It speaks the SOAP service ``checkVatService``
(document/literal, namespace ``urn:ec.europa.eu:taxud:vies:services:checkVat:types``)
over httpx: ``checkVatApprox`` with the seller's own number as requester, so the answer
carries a consultation number (``requestIdentifier``) to keep as proof; ``checkVat`` when
the seller has no EU number to give. ``settings.VIES_URL`` names the endpoint: the
Commission's in production, the local stand-in of ``sandbox.vies_server`` in tests and in
``make run``.

``vat_number_check`` never raises for VIES's own trouble: a number is ``valid``,
``invalid`` (bad format, bad checksum, or VIES says not registered) or ``unavailable``
(VIES or the member state's system did not answer), and the caller decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import httpx
from django.conf import settings
from lxml import etree
from stdnum import get_cc_module
from stdnum.exceptions import ValidationError as StdnumValidationError

from billing import vat_rates

NS = "urn:ec.europa.eu:taxud:vies:services:checkVat:types"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
# Faults VIES documents for a request it could not answer now: try again later.
TRANSIENT_FAULTS = frozenset(
    {
        "SERVICE_UNAVAILABLE",
        "MS_UNAVAILABLE",
        "TIMEOUT",
        "SERVER_BUSY",
        "MS_MAX_CONCURRENT_REQ",
        "GLOBAL_MAX_CONCURRENT_REQ",
    }
)
VALID, INVALID, UNAVAILABLE = "valid", "invalid", "unavailable"
# VIES knows Greece as EL and Northern Ireland (goods only) as XI.
_VIES_PREFIX = {"GR": "EL"}


@dataclass(frozen=True)
class VatNumber:
    country: str  # ISO 3166-1 (GR for Greece)
    prefix: str  # as written before the digits (EL for Greece)
    number: str  # without the prefix

    @property
    def full(self) -> str:
        return f"{self.prefix}{self.number}"


@dataclass(frozen=True)
class ViesResult:
    status: str  # valid | invalid | unavailable
    vat_number: str
    request_date: date | None = None
    request_identifier: str = ""
    name: str = ""
    address: str = ""
    fault: str = ""  # VIES's fault code, or why the number was refused before asking


def vat_number_parse(value: str, country: str = "") -> VatNumber | None:
    """The number without spaces or dots, with its country prefix; None when it has no
    prefix and no country is given."""
    compact = re.sub(r"[^0-9A-Za-z+*]", "", value or "").upper()
    if not compact:
        return None
    prefix = compact[:2]
    if prefix.isalpha():
        iso = "GR" if prefix == "EL" else prefix
        return VatNumber(iso, prefix, compact[2:])
    if not country:
        return None
    iso = country.upper()
    return VatNumber(iso, _VIES_PREFIX.get(iso, iso), compact)


def vat_number_format_error(value: str, country: str = "") -> str:
    """Why the number cannot be a VAT number of its country (format or checksum, by
    python-stdnum); empty when it can."""
    parsed = vat_number_parse(value, country)
    if parsed is None:
        return "a VAT number starts with its country code, like IE6388047V"
    if len(parsed.number) < 2:
        return "a VAT number has digits after its country code"
    module = get_cc_module(parsed.country.lower(), "vat")
    if module is None:
        return ""  # a country stdnum does not know: VIES or the tenant decides
    try:
        module.validate(parsed.full)
    except StdnumValidationError as exc:
        return str(exc) or "not a valid VAT number"
    return ""


def _envelope(operation: str, fields: dict[str, str]) -> bytes:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "v": NS})
    body = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    request = etree.SubElement(body, f"{{{NS}}}{operation}")
    for tag, text in fields.items():
        etree.SubElement(request, f"{{{NS}}}{tag}").text = text
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _text(node: etree._Element, tag: str) -> str:
    found = node.find(f"{{{NS}}}{tag}")
    value = (found.text or "").strip() if found is not None else ""
    return "" if value == "---" else value  # VIES writes --- for a name it may not give


def _call(operation: str, fields: dict[str, str]) -> etree._Element:
    """The response element, or raises ``_Fault`` with VIES's fault string."""
    try:
        response = httpx.post(
            settings.VIES_URL,
            content=_envelope(operation, fields),
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
            timeout=settings.VIES_TIMEOUT_S,
        )
        root = etree.fromstring(response.content)
    except (httpx.HTTPError, etree.XMLSyntaxError) as exc:
        raise _Fault("SERVICE_UNAVAILABLE") from exc
    fault = root.find(f".//{{{SOAP_ENV}}}Fault")
    if fault is not None:
        raise _Fault((fault.findtext("faultstring") or "").strip() or "SERVICE_UNAVAILABLE")
    answer = root.find(f".//{{{NS}}}{operation}Response")
    if answer is None:
        raise _Fault("SERVICE_UNAVAILABLE")
    return answer


class _Fault(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def vat_number_check(*, vat_number: str, country: str = "", requester: str = "") -> ViesResult:
    """Checks the number's format, then asks VIES. ``requester`` is the seller's own EU
    VAT number, which makes VIES return a consultation number."""
    parsed = vat_number_parse(vat_number, country)
    if parsed is None:
        return ViesResult(INVALID, vat_number, fault="NO_COUNTRY_PREFIX")
    error = vat_number_format_error(parsed.full)
    if error:
        return ViesResult(INVALID, parsed.full, fault="INVALID_FORMAT")
    if parsed.country not in vat_rates.EU_COUNTRIES and parsed.prefix != "XI":
        # VIES knows only EU numbers; others are checked by their format alone.
        return ViesResult(INVALID, parsed.full, fault="NOT_AN_EU_NUMBER")
    fields = {"countryCode": parsed.prefix, "vatNumber": parsed.number}
    requester_number = vat_number_parse(requester)
    operation = "checkVat"
    if requester_number is not None and requester_number.country in vat_rates.EU_COUNTRIES:
        operation = "checkVatApprox"
        fields |= {
            "requesterCountryCode": requester_number.prefix,
            "requesterVatNumber": requester_number.number,
        }
    try:
        try:
            answer = _call(operation, fields)
        except _Fault as fault:
            if fault.code != "INVALID_REQUESTER_INFO":
                raise
            operation = "checkVat"
            answer = _call(operation, {k: fields[k] for k in ("countryCode", "vatNumber")})
    except _Fault as fault:
        status = UNAVAILABLE if fault.code in TRANSIENT_FAULTS else INVALID
        return ViesResult(status, parsed.full, fault=fault.code)
    valid = _text(answer, "valid").lower() == "true"
    raw_date = _text(answer, "requestDate")[:10]
    try:
        request_date = date.fromisoformat(raw_date) if raw_date else None
    except ValueError:
        request_date = None
    approx = operation == "checkVatApprox"
    return ViesResult(
        VALID if valid else INVALID,
        parsed.full,
        request_date=request_date,
        request_identifier=_text(answer, "requestIdentifier"),
        name=_text(answer, "traderName" if approx else "name"),
        address=_text(answer, "traderAddress" if approx else "address"),
    )
