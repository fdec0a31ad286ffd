"""A local stand-in for VIES's SOAP service ``checkVatService``, for tests and ``make run``.

Strict where VIES is: a POST of a SOAP 1.1 envelope whose body is ``checkVat`` or
``checkVatApprox`` in the namespace ``urn:ec.europa.eu:taxud:vies:services:checkVat:types``,
with the fields of the published WSDL in their order. Anything else is a SOAP fault
``INVALID_INPUT``, as VIES answers. A registered number is valid, any other invalid;
``checkVatApprox`` with a requester returns a consultation number. ``faults`` maps a
number (prefix included, e.g. ``DE136695976``) or a country code to one of VIES's
documented faults (``MS_UNAVAILABLE``, ``MS_MAX_CONCURRENT_REQ``, ``TIMEOUT``,
``SERVICE_UNAVAILABLE``, ``INVALID_REQUESTER_INFO``...). Every request is recorded.

Run alone: ``python -m sandbox.vies_server --port 8091``.
"""

from __future__ import annotations

import argparse
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from lxml import etree

NS = "urn:ec.europa.eu:taxud:vies:services:checkVat:types"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
# The request fields of each operation, in the order of the WSDL's sequence; the
# optional ones may be left out.
OPERATIONS = {
    "checkVat": (("countryCode", True), ("vatNumber", True)),
    "checkVatApprox": (
        ("countryCode", True),
        ("vatNumber", True),
        ("traderName", False),
        ("traderCompanyType", False),
        ("traderStreet", False),
        ("traderPostcode", False),
        ("traderCity", False),
        ("requesterCountryCode", False),
        ("requesterVatNumber", False),
    ),
}
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
NUMBER_RE = re.compile(r"^[0-9A-Za-z+*.]{2,12}$")
# The member-state codes VIES accepts (EL for Greece, XI for Northern Ireland).
VIES_COUNTRIES = frozenset(
    {
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU",
        "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "XI",
    }
)  # fmt: skip

# Numbers the stand-in knows under `make run`: the demo's clients.
DEMO_REGISTERED = {
    "IT00000000000": ("Demo reseller", "Via del Corso 1\n00186 Roma RM"),
    "DE136695976": ("Weber Webdesign GmbH", "Hauptstrasse 5\n10115 Berlin"),
    "FR40303265045": ("Dupont SARL", "1 rue de Rivoli\n75001 Paris"),
    "IE6388047V": ("Murphy Web Ltd", "1 O'Connell Street\nDublin 1"),
    "IT00743110157": ("Rossi S.r.l.", "Via Roma 1\n20121 Milano MI"),
}


@dataclass
class RecordedRequest:
    operation: str
    fields: dict[str, str]
    soap_action: str
    content_type: str


@dataclass
class ViesServer:
    # full number → (name, address)
    registered: dict[str, tuple[str, str]] = field(default_factory=dict)
    faults: dict[str, str] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0

    def __post_init__(self) -> None:
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/taxation_customs/vies/services/checkVatService"

    def answer(self, body: bytes, soap_action: str, content_type: str) -> tuple[int, bytes]:
        """The HTTP status and SOAP envelope VIES would send back."""
        try:
            root = etree.fromstring(body)
        except etree.XMLSyntaxError:
            return 500, _fault("soap:Client", "INVALID_INPUT")
        request = root.find(f"{{{SOAP_ENV}}}Body/*")
        if root.tag != f"{{{SOAP_ENV}}}Envelope" or request is None:
            return 500, _fault("soap:Client", "INVALID_INPUT")
        operation = etree.QName(request).localname
        if etree.QName(request).namespace != NS or operation not in OPERATIONS:
            return 500, _fault("soap:Client", "INVALID_INPUT")
        fields = _fields(request, OPERATIONS[operation])
        self.requests.append(RecordedRequest(operation, fields or {}, soap_action, content_type))
        if fields is None or not content_type.startswith("text/xml"):
            return 500, _fault("soap:Client", "INVALID_INPUT")
        country, number = fields["countryCode"], fields["vatNumber"]
        if not (COUNTRY_RE.match(country) and NUMBER_RE.match(number)):
            return 500, _fault("soap:Server", "INVALID_INPUT")
        if country not in VIES_COUNTRIES:
            return 500, _fault("soap:Server", "INVALID_INPUT")
        full = f"{country}{number}"
        fault = self.faults.get(full) or self.faults.get(country)
        if fault:
            return 500, _fault("soap:Server", fault)
        requester = fields.get("requesterCountryCode", "") + fields.get("requesterVatNumber", "")
        if operation == "checkVatApprox" and requester:
            if requester in self.faults:
                return 500, _fault("soap:Server", self.faults[requester])
            if requester not in self.registered:
                return 500, _fault("soap:Server", "INVALID_REQUESTER_INFO")
        name, address = self.registered.get(full, ("---", "---"))
        valid = full in self.registered
        values: list[tuple[str, str]] = [
            ("countryCode", country),
            ("vatNumber", number),
            ("requestDate", f"{date.today().isoformat()}+01:00"),
            ("valid", "true" if valid else "false"),
        ]
        if operation == "checkVat":
            values += [("name", name), ("address", address)]
        else:
            values += [("traderName", name), ("traderAddress", address)]
            if requester:
                values.append(("requestIdentifier", "WAPIAAAA" + uuid.uuid4().hex[:8].upper()))
        return 200, _response(f"{operation}Response", values)

    def start(self) -> ViesServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                status, body = server.answer(
                    self.rfile.read(length),
                    self.headers.get("SOAPAction", ""),
                    self.headers.get("Content-Type", ""),
                )
                self.send_response(status)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self.send_response(405)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


def _fields(request: etree._Element, spec: tuple[tuple[str, bool], ...]) -> dict | None:
    """The request's fields, or None when they break the WSDL's sequence: an unknown or
    repeated element, one out of order, or a required one missing."""
    children = [child for child in request if isinstance(child.tag, str)]
    names = [name for name, _required in spec]
    found: dict[str, str] = {}
    last = -1
    for child in children:
        qname = etree.QName(child)
        if qname.namespace != NS or qname.localname not in names:
            return None
        index = names.index(qname.localname)
        if index <= last:
            return None
        last = index
        found[qname.localname] = (child.text or "").strip()
    if any(required and name not in found for name, required in spec):
        return None
    return found


def _envelope(body: etree._Element) -> bytes:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"env": SOAP_ENV})
    etree.SubElement(envelope, f"{{{SOAP_ENV}}}Header")
    etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body").append(body)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _fault(code: str, message: str) -> bytes:
    fault = etree.Element(f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = code
    etree.SubElement(fault, "faultstring").text = message
    return _envelope(fault)


def _response(tag: str, values: list[tuple[str, str]]) -> bytes:
    response = etree.Element(f"{{{NS}}}{tag}", nsmap={"ns2": NS})
    for name, value in values:
        etree.SubElement(response, f"{{{NS}}}{name}").text = value
    return _envelope(response)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8091)
    args = parser.parse_args()
    server = ViesServer(registered=dict(DEMO_REGISTERED), port=args.port).start()
    print(f"VIES stand-in on {server.url}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
