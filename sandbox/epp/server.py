"""A local EPP registry, for tests and ``make run``.

Speaks RFC 5734 (TLS with a self-signed certificate made at start, a greeting on
connect, frames of a 4-byte big-endian length that counts itself) and answers the
commands of RFC 5730 (login, logout, poll), 5731 (domain), 5732 (host) and 5733
(contact create/update/check), with the extensions of RFC 5910 (secDNS-1.1) and RFC 3915
(rgp-1.0 restore request and report).

Strict where a registry is: every frame received is validated against the XML schemas
published in those RFCs (``schemas/``, see its README); a frame that is not valid is
answered with 2001 and kept in ``invalid_frames`` so a test can assert none was sent.
Every reply is validated too (``reply_errors``), so the stand-in cannot drift from the
schemas either. Result codes follow RFC 5730 §3: 1000, 1001 (a transfer waits for the
losing registrar), 1300/1301 (poll), 1500 (logout), 2001-2005, 2104 (billing), 2106,
2200-2202, 2300-2306, 2400 (a fault a test injects with ``fail_next``).

State a test can read or change: ``domain(name)`` (registrant handle, expiry, statuses,
DS records, transfer...), ``host(name)``, ``contact_ids()``, ``seed_domain`` (a domain of
another registrar, to transfer in), ``approve_transfer``, ``expire`` (past its expiry
date: into redemption), ``poll_queue(clid)``. Pending transfers are approved by the
registry after ``transfer_delay_s`` (None: only by a test or the losing registrar).

Run alone: ``python -m sandbox.epp.server --port 7700`` (credentials ``tessera``/``sandbox-pw``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import ipaddress
import re
import secrets
import socket
import socketserver
import ssl
import struct
import tempfile
import threading
import uuid
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree
from lxml.builder import ElementMaker

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
NS = {
    "epp": "urn:ietf:params:xml:ns:epp-1.0",
    "domain": "urn:ietf:params:xml:ns:domain-1.0",
    "host": "urn:ietf:params:xml:ns:host-1.0",
    "contact": "urn:ietf:params:xml:ns:contact-1.0",
    "secDNS": "urn:ietf:params:xml:ns:secDNS-1.1",
    "rgp": "urn:ietf:params:xml:ns:rgp-1.0",
}
OBJECTS = (NS["domain"], NS["host"], NS["contact"])
EXTENSIONS = (NS["secDNS"], NS["rgp"])
SERVER_ID = "Tessera EPP"
DEFAULT_ACCOUNTS = {"tessera": "sandbox-pw", "otherreg": "other-pw"}
DEFAULT_TLDS = ("com", "net", "org", "it", "de", "eu", "io", "dev", "xn--p1ai")
REDEMPTION_DAYS = 30
MAX_YEARS = 10
CLIENT_STATUSES = {
    "clientDeleteProhibited",
    "clientHold",
    "clientRenewProhibited",
    "clientTransferProhibited",
    "clientUpdateProhibited",
}
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST_RE = re.compile(rf"^(?:{_LABEL}\.)+{_LABEL}$")

E = ElementMaker(namespace=NS["epp"], nsmap={None: NS["epp"]})
D = ElementMaker(namespace=NS["domain"], nsmap={"domain": NS["domain"]})
H = ElementMaker(namespace=NS["host"], nsmap={"host": NS["host"]})
C = ElementMaker(namespace=NS["contact"], nsmap={"contact": NS["contact"]})
S = ElementMaker(namespace=NS["secDNS"], nsmap={"secDNS": NS["secDNS"]})
R = ElementMaker(namespace=NS["rgp"], nsmap={"rgp": NS["rgp"]})

MESSAGES = {
    1000: "Command completed successfully",
    1001: "Command completed successfully; action pending",
    1300: "Command completed successfully; no messages",
    1301: "Command completed successfully; ack to dequeue",
    1500: "Command completed successfully; ending session",
    2001: "Command syntax error",
    2002: "Command use error",
    2003: "Required parameter missing",
    2004: "Parameter value range error",
    2005: "Parameter value syntax error",
    2101: "Unimplemented command",
    2103: "Unimplemented extension",
    2104: "Billing failure",
    2106: "Object is not eligible for transfer",
    2200: "Authentication error",
    2201: "Authorization error",
    2202: "Invalid authorization information",
    2300: "Object pending transfer",
    2301: "Object not pending transfer",
    2302: "Object exists",
    2303: "Object does not exist",
    2304: "Object status prohibits operation",
    2305: "Object association prohibits operation",
    2306: "Parameter value policy error",
    2307: "Unimplemented object service",
    2400: "Command failed",
    2500: "Command failed; server closing connection",
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.0Z")


def _add_years(value: dt.datetime, years: int) -> dt.datetime:
    try:
        return value.replace(year=value.year + years)
    except ValueError:  # 29 February
        return value.replace(year=value.year + years, day=28)


class EppFault(Exception):
    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


@dataclass
class DomainObject:
    name: str
    roid: str
    sponsor: str
    registrant: str
    contacts: list[tuple[str, str]]
    ns: list[str]
    auth: str
    created: dt.datetime
    expires: dt.datetime
    updated: dt.datetime | None = None
    statuses: set[str] = field(default_factory=set)
    ds: list[dict[str, Any]] = field(default_factory=list)
    rgp: str = ""  # "", "redemptionPeriod", "pendingRestore"
    deleted_at: dt.datetime | None = None
    transfer: dict[str, Any] | None = None


@dataclass
class HostObject:
    name: str
    roid: str
    sponsor: str
    addresses: list[str]
    created: dt.datetime


@dataclass
class ContactObject:
    id: str
    roid: str
    sponsor: str
    data: dict[str, Any]
    created: dt.datetime


@dataclass
class InvalidFrame:
    frame: bytes
    error: str


def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / "all.xsd")))


def self_signed_certificate(directory: Path, hostname: str = "localhost") -> tuple[Path, Path]:
    """A certificate for ``hostname`` and 127.0.0.1, and its key, written as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(hostname), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "epp-cert.pem", directory / "epp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class EppServer:
    """The registry and its TLS listener. ``start()`` returns it; ``cafile`` is the
    certificate a client must trust; ``stop()`` ends it."""

    def __init__(
        self,
        *,
        accounts: dict[str, str] | None = None,
        tlds: tuple[str, ...] = DEFAULT_TLDS,
        transfer_delay_s: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        state_dir: Path | None = None,
    ) -> None:
        self.accounts = dict(accounts or DEFAULT_ACCOUNTS)
        self.tlds = tuple(tlds)
        self.transfer_delay_s = transfer_delay_s
        self.host, self.port = host, port
        self.frames: list[bytes] = []
        self.invalid_frames: list[InvalidFrame] = []
        self.reply_errors: list[str] = []
        self.billing_refused: set[str] = set()  # clIDs whose account cannot pay
        self._faults: list[int] = []
        self._domains: dict[str, DomainObject] = {}
        self._hosts: dict[str, HostObject] = {}
        self._contacts: dict[str, ContactObject] = {}
        self._polls: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.RLock()
        self._schema = _schema()
        self._tmp = tempfile.TemporaryDirectory(prefix="epp-standin-") if not state_dir else None
        self._dir = state_dir or Path(self._tmp.name)  # type: ignore[union-attr]
        self._server: socketserver.ThreadingTCPServer | None = None
        self.cafile = ""

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> EppServer:
        self._dir.mkdir(parents=True, exist_ok=True)
        cert, key = self_signed_certificate(self._dir)
        self.cafile = str(cert)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert, key)
        registry = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                try:
                    conn = context.wrap_socket(self.request, server_side=True)
                except (ssl.SSLError, OSError):
                    return
                registry._serve(conn)

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self._server = Server((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> EppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def registrar_account_fields(self, clid: str = "tessera") -> dict[str, Any]:
        """What a provider's RegistrarAccount needs to reach this registry as ``clid``
        (the password goes to its ``secret``): tests that run a real worker use it."""
        return {
            "module": "epp",
            "hostname": "127.0.0.1",
            "port": self.port,
            "username": clid,
            "password": self.accounts[clid],
            "extra": {"cafile": self.cafile},
        }

    # --- what tests read and change ------------------------------------------------------------

    def domain(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            self._settle()
            obj = self._domains.get(name.lower())
            if obj is None:
                return None
            state = deepcopy(obj.__dict__)
            state["statuses"] = sorted(obj.statuses)
            return state

    def host(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            obj = self._hosts.get(name.lower())
            return deepcopy(obj.__dict__) if obj else None

    def contact_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._contacts)

    def poll_queue(self, clid: str) -> list[dict[str, Any]]:
        with self._lock:
            return deepcopy(self._polls.get(clid, []))

    def seed_domain(
        self, name: str, *, sponsor: str = "otherreg", auth_code: str = "", years: int = 1
    ) -> str:
        """A domain held by another registrar; returns its auth code."""
        code = auth_code or secrets.token_urlsafe(9)
        with self._lock:
            handle = f"OTHER{len(self._contacts) + 1:04d}"
            self._contacts[handle] = ContactObject(handle, self._roid("CT"), sponsor, {}, _now())
            self._domains[name] = DomainObject(
                name=name,
                roid=self._roid("DOM"),
                sponsor=sponsor,
                registrant=handle,
                contacts=[],
                ns=[],
                auth=code,
                created=_now(),
                expires=_add_years(_now(), years),
            )
        return code

    def approve_transfer(self, name: str) -> None:
        """The losing registrar approves the pending transfer (or the registry does)."""
        with self._lock:
            obj = self._domains[name]
            self._transfer_end(obj, "serverApproved")

    def expire(self, name: str) -> None:
        """The domain's expiry date passes without a renewal: it enters redemption."""
        with self._lock:
            obj = self._domains[name]
            obj.expires = _now() - dt.timedelta(days=1)
            self._settle()

    def fail_next(self, code: int = 2400, times: int = 1) -> None:
        with self._lock:
            self._faults.extend([code] * times)

    # --- the registry's own clock --------------------------------------------------------------

    def _roid(self, suffix: str) -> str:
        return f"{uuid.uuid4().hex[:10].upper()}-{suffix}"

    def _settle(self) -> None:
        now = _now()
        for name, obj in list(self._domains.items()):
            transfer = obj.transfer
            if (
                transfer
                and transfer["status"] == "pending"
                and self.transfer_delay_s is not None
                and now >= transfer["reDate"] + dt.timedelta(seconds=self.transfer_delay_s)
            ):
                self._transfer_end(obj, "serverApproved")
            if not obj.rgp and obj.expires < now:
                obj.rgp = "redemptionPeriod"
                obj.statuses.add("pendingDelete")
                obj.deleted_at = now
            if (
                obj.rgp
                and obj.deleted_at
                and now > obj.deleted_at + dt.timedelta(days=REDEMPTION_DAYS)
            ):
                del self._domains[name]

    def _queue(self, clid: str, text: str, obj: DomainObject) -> None:
        self._polls.setdefault(clid, []).append(
            {
                "id": str(secrets.randbelow(10**9)),
                "qDate": _now(),
                "msg": text,
                "transfer": {**(obj.transfer or {}), "name": obj.name},
            }
        )

    def _transfer_end(self, obj: DomainObject, status: str) -> None:
        transfer = obj.transfer
        if not transfer or transfer["status"] != "pending":
            raise EppFault(2301)
        transfer["status"] = status
        transfer["acDate"] = _now()
        obj.statuses.discard("pendingTransfer")
        losing, gaining = obj.sponsor, transfer["reID"]
        if status in ("clientApproved", "serverApproved"):
            obj.sponsor = gaining
            obj.expires = _add_years(obj.expires, transfer["years"])
            obj.auth = secrets.token_urlsafe(9)
            for host in self._hosts.values():
                if host.name.endswith("." + obj.name):
                    host.sponsor = gaining
        transfer["exDate"] = obj.expires
        self._queue(gaining, f"Transfer {status}.", obj)
        if status != "clientApproved":
            self._queue(losing, f"Transfer {status}.", obj)

    # --- the session ---------------------------------------------------------------------------

    def _serve(self, conn: ssl.SSLSocket) -> None:
        session: dict[str, Any] = {"clid": None, "extensions": ()}
        try:
            self._send(conn, self._greeting())
            while True:
                frame = self._read(conn)
                if frame is None:
                    return
                reply, close = self._handle(frame, session)
                self._send(conn, reply)
                if close:
                    return
        except (OSError, ConnectionError, struct.error):
            return
        finally:
            with_suppress_close(conn)

    def _read(self, conn: ssl.SSLSocket) -> bytes | None:
        header = _recv(conn, 4)
        if header is None:
            return None
        (total,) = struct.unpack(">I", header)
        if not 4 < total <= 1 << 24:
            raise ConnectionError("bad frame length")
        return _recv(conn, total - 4)

    def _send(self, conn: ssl.SSLSocket, root: etree._Element) -> None:
        if not self._schema.validate(root):
            self.reply_errors.append(str(self._schema.error_log.last_error))
        payload = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        conn.sendall(struct.pack(">I", len(payload) + 4) + payload)

    def _greeting(self) -> etree._Element:
        return E.epp(
            E.greeting(
                E.svID(SERVER_ID),
                E.svDate(_stamp(_now())),
                E.svcMenu(
                    E.version("1.0"),
                    E.lang("en"),
                    *[E.objURI(uri) for uri in OBJECTS],
                    E.svcExtension(*[E.extURI(uri) for uri in EXTENSIONS]),
                ),
                E.dcp(
                    E.access(E.all()),
                    E.statement(
                        E.purpose(E.admin(), E.prov()),
                        E.recipient(E.ours()),
                        E.retention(E.stated()),
                    ),
                ),
            )
        )

    def _handle(self, frame: bytes, session: dict[str, Any]) -> tuple[etree._Element, bool]:
        with self._lock:
            self.frames.append(frame)
        try:
            root = etree.fromstring(frame, parser=etree.XMLParser(resolve_entities=False))
        except etree.XMLSyntaxError as exc:
            return self._invalid(frame, str(exc)), False
        if not self._schema.validate(root):
            return self._invalid(frame, str(self._schema.error_log.last_error)), False
        if root.find("epp:hello", NS) is not None:
            return self._greeting(), False
        command = root.find("epp:command", NS)
        if command is None:
            return self._invalid(frame, "not a command"), False
        cltrid = command.findtext("epp:clTRID", "", NS)
        verb = etree.QName(command[0]).localname
        with self._lock:
            try:
                if self._faults:
                    raise EppFault(self._faults.pop(0))
                if verb == "login":
                    return self._reply(self._login(command[0], session), cltrid), False
                if session["clid"] is None:
                    raise EppFault(2002, "log in first")
                if verb == "logout":
                    return self._reply((1500, None, None), cltrid), True
                self._settle()
                result = self._dispatch(verb, command, session)
                return self._reply(result, cltrid), False
            except EppFault as fault:
                return self._reply(
                    (fault.code, None, None), cltrid, fault.reason
                ), fault.code >= 2500

    def _invalid(self, frame: bytes, error: str) -> etree._Element:
        with self._lock:
            self.invalid_frames.append(InvalidFrame(frame, error))
        return self._reply((2001, None, None), "", error[:200])

    def _reply(
        self,
        result: tuple[int, etree._Element | None, etree._Element | None] | tuple[Any, ...],
        cltrid: str,
        reason: str = "",
    ) -> etree._Element:
        code, res_data, extension, *rest = (*result, None)
        queue = rest[0] if rest else None
        node = E.result(E.msg(MESSAGES.get(code, "Command failed")), code=str(code))
        if reason:
            node.append(E.extValue(E.value(E.text()), E.reason(reason)))
        response = E.response(node)
        if queue is not None:
            response.append(queue)
        if res_data is not None:
            response.append(E.resData(res_data))
        if extension is not None:
            # One <extension> holds every extension's data (a list), or the one element.
            items = extension if isinstance(extension, list) else [extension]
            response.append(E.extension(*items))
        trid = E.trID()
        if cltrid:
            trid.append(E.clTRID(cltrid))
        trid.append(E.svTRID(f"SV-{uuid.uuid4().hex[:20]}"))
        response.append(trid)
        return E.epp(response)

    def _login(self, login: etree._Element, session: dict[str, Any]) -> tuple[int, None, None]:
        if session["clid"] is not None:
            raise EppFault(2002, "already logged in")
        clid = login.findtext("epp:clID", "", NS)
        password = login.findtext("epp:pw", "", NS)
        if self.accounts.get(clid) is None or not secrets.compare_digest(
            self.accounts[clid], password
        ):
            raise EppFault(2200)
        objects = [n.text for n in login.findall("epp:svcs/epp:objURI", NS)]
        extensions = [n.text for n in login.findall("epp:svcs/epp:svcExtension/epp:extURI", NS)]
        if any(uri not in OBJECTS for uri in objects):
            raise EppFault(2307)
        if any(uri not in EXTENSIONS for uri in extensions):
            raise EppFault(2103)
        session.update(clid=clid, objects=tuple(objects), extensions=tuple(extensions))
        return 1000, None, None

    def _dispatch(self, verb: str, command: etree._Element, session: dict[str, Any]) -> tuple:
        clid = session["clid"]
        if verb == "poll":
            return self._poll(command[0], clid)
        target = command[0][0]
        obj_ns = etree.QName(target).namespace
        if obj_ns not in session["objects"]:
            raise EppFault(2307, "object service not in the login")
        extension = command.find("epp:extension", NS)
        ext_nodes = list(extension) if extension is not None else []
        for node in ext_nodes:
            if etree.QName(node).namespace not in session["extensions"]:
                raise EppFault(2103)
        kind = obj_ns.rsplit(":", 1)[-1].split("-")[0]  # "domain", "host", "contact"
        handler = getattr(self, f"_{kind}_{verb}", None)
        if handler is None:
            raise EppFault(2101)
        if verb == "transfer":
            return handler(target, clid, command[0].get("op"), session)
        return handler(target, clid, ext_nodes, session)

    # --- domain ------------------------------------------------------------------------------

    def _name(self, node: etree._Element) -> str:
        name = (node.findtext("domain:name", "", NS) or "").strip().lower()
        if len(name) > 253 or not _HOST_RE.match(name) or "." not in name:
            raise EppFault(2005, "not a domain name")
        return name

    def _own(self, name: str, clid: str) -> DomainObject:
        obj = self._domains.get(name)
        if obj is None:
            raise EppFault(2303)
        if obj.sponsor != clid:
            raise EppFault(2201)
        return obj

    def _domain_check(self, node, clid, ext, session) -> tuple:
        answers = []
        for name_node in node.findall("domain:name", NS):
            name = (name_node.text or "").strip().lower()
            if not _HOST_RE.match(name):
                cd = D.cd(D.name(name, avail="0"), D.reason("Invalid domain name"))
            elif name.rsplit(".", 1)[-1] not in self.tlds:
                cd = D.cd(D.name(name, avail="0"), D.reason("Not served by this registry"))
            elif name in self._domains:
                cd = D.cd(D.name(name, avail="0"), D.reason("In use"))
            else:
                cd = D.cd(D.name(name, avail="1"))
            answers.append(cd)
        return 1000, D.chkData(*answers), None

    def _domain_info(self, node, clid, ext, session) -> tuple:
        name = self._name(node)
        obj = self._domains.get(name)
        if obj is None:
            raise EppFault(2303)
        auth = node.findtext("domain:authInfo/domain:pw", "", NS)
        full = obj.sponsor == clid or (auth and secrets.compare_digest(auth, obj.auth))
        statuses = sorted(obj.statuses) or ["ok"]
        data = D.infData(D.name(obj.name), D.roid(obj.roid))
        data.extend(D.status(s=s) for s in statuses)
        if full:
            data.append(D.registrant(obj.registrant))
            data.extend(D.contact(handle, type=kind) for kind, handle in obj.contacts)
            if obj.ns:
                data.append(D.ns(*[D.hostObj(h) for h in obj.ns]))
            data.extend(D.host(h) for h in sorted(self._subordinates(obj.name)))
        data.append(D.clID(obj.sponsor))
        data.append(D.crID(obj.sponsor))
        data.append(D.crDate(_stamp(obj.created)))
        if obj.updated:
            data.append(D.upDate(_stamp(obj.updated)))
        data.append(D.exDate(_stamp(obj.expires)))
        if obj.sponsor == clid:
            data.append(D.authInfo(D.pw(obj.auth)))
        extensions = []
        if full and obj.ds and NS["secDNS"] in session["extensions"]:
            extensions.append(S.infData(*[_ds_element(ds) for ds in obj.ds]))
        if obj.rgp and NS["rgp"] in session["extensions"]:
            extensions.append(R.infData(R.rgpStatus(s=obj.rgp)))
        return 1000, data, extensions or None

    def _subordinates(self, name: str) -> list[str]:
        return [h for h in self._hosts if h.endswith("." + name)]

    def _domain_create(self, node, clid, ext, session) -> tuple:
        name = self._name(node)
        if name.rsplit(".", 1)[-1] not in self.tlds:
            raise EppFault(2306, "TLD not served by this registry")
        if name in self._domains:
            raise EppFault(2302)
        period = node.find("domain:period", NS)
        years = _years(period)
        registrant = node.findtext("domain:registrant", "", NS)
        if not registrant:
            raise EppFault(2003, "registrant")
        contacts = [
            (c.get("type"), (c.text or "").strip()) for c in node.findall("domain:contact", NS)
        ]
        for handle in [registrant, *[h for _, h in contacts]]:
            if handle not in self._contacts:
                raise EppFault(2303, f"contact {handle}")
        ns = [(h.text or "").strip().lower() for h in node.findall("domain:ns/domain:hostObj", NS)]
        if node.find("domain:ns/domain:hostAttr", NS) is not None:
            raise EppFault(2102, "hostAttr")
        for host in ns:
            if host not in self._hosts:
                raise EppFault(2303, f"host {host}")
        if clid in self.billing_refused:
            raise EppFault(2104)
        now = _now()
        obj = DomainObject(
            name=name,
            roid=self._roid("DOM"),
            sponsor=clid,
            registrant=registrant,
            contacts=contacts,
            ns=ns,
            auth=node.findtext("domain:authInfo/domain:pw", "", NS),
            created=now,
            expires=_add_years(now, years),
        )
        self._domains[name] = obj
        return (
            1000,
            D.creData(D.name(name), D.crDate(_stamp(now)), D.exDate(_stamp(obj.expires))),
            None,
        )

    def _domain_delete(self, node, clid, ext, session) -> tuple:
        obj = self._own(self._name(node), clid)
        if obj.statuses & {"clientDeleteProhibited", "serverDeleteProhibited", "pendingTransfer"}:
            raise EppFault(2304)
        if obj.rgp:
            raise EppFault(2304, "already deleted")
        for host in self._subordinates(obj.name):
            if any(host in other.ns for other in self._domains.values() if other is not obj):
                raise EppFault(2305, f"host {host} is in use")
        obj.rgp = "redemptionPeriod"
        obj.statuses.add("pendingDelete")
        obj.deleted_at = obj.updated = _now()
        return 1000, None, None

    def _domain_renew(self, node, clid, ext, session) -> tuple:
        obj = self._own(self._name(node), clid)
        if obj.rgp or obj.statuses & {"clientRenewProhibited", "serverRenewProhibited"}:
            raise EppFault(2304)
        current = node.findtext("domain:curExpDate", "", NS)
        if current != obj.expires.date().isoformat():
            raise EppFault(2306, "curExpDate is not the current expiry date")
        years = _years(node.find("domain:period", NS))
        new_expiry = _add_years(obj.expires, years)
        if new_expiry > _add_years(_now(), MAX_YEARS):
            raise EppFault(2306, "more than 10 years")
        if clid in self.billing_refused:
            raise EppFault(2104)
        obj.expires, obj.updated = new_expiry, _now()
        return 1000, D.renData(D.name(obj.name), D.exDate(_stamp(obj.expires))), None

    def _domain_transfer(self, node, clid, op, session) -> tuple:
        name = self._name(node)
        obj = self._domains.get(name)
        if obj is None:
            raise EppFault(2303)
        auth = node.findtext("domain:authInfo/domain:pw", "", NS)
        if op == "request":
            if obj.sponsor == clid:
                raise EppFault(2106, "already sponsored by you")
            if obj.transfer and obj.transfer["status"] == "pending":
                raise EppFault(2300)
            if not auth or not secrets.compare_digest(auth, obj.auth):
                raise EppFault(2202)
            if obj.rgp or obj.statuses & {"clientTransferProhibited", "serverTransferProhibited"}:
                raise EppFault(2304)
            if clid in self.billing_refused:
                raise EppFault(2104)
            obj.transfer = {
                "status": "pending",
                "reID": clid,
                "reDate": _now(),
                "acID": obj.sponsor,
                "acDate": _now() + dt.timedelta(seconds=self.transfer_delay_s or 5 * 86400),
                "years": _years(node.find("domain:period", NS)),
            }
            obj.statuses.add("pendingTransfer")
            self._queue(obj.sponsor, "Transfer requested.", obj)
            return 1001, _trn_data(obj), None
        transfer = obj.transfer
        if op == "query":
            if not transfer:
                raise EppFault(2301)
            allowed = clid in (obj.sponsor, transfer["reID"]) or (
                auth and secrets.compare_digest(auth, obj.auth)
            )
            if not allowed:
                raise EppFault(2201)
            return 1000, _trn_data(obj), None
        if not transfer or transfer["status"] != "pending":
            raise EppFault(2301)
        if op in ("approve", "reject"):
            if obj.sponsor != clid:
                raise EppFault(2201)
            self._transfer_end(obj, "clientApproved" if op == "approve" else "clientRejected")
        elif op == "cancel":
            if transfer["reID"] != clid:
                raise EppFault(2201)
            self._transfer_end(obj, "clientCancelled")
        return 1000, _trn_data(obj), None

    def _domain_update(self, node, clid, ext, session) -> tuple:
        obj = self._own(self._name(node), clid)
        restore = next((n for n in ext if n.tag == f"{{{NS['rgp']}}}update"), None)
        if restore is not None:
            return self._restore(obj, restore.find("rgp:restore", NS))
        if obj.rgp:
            raise EppFault(2304, "in redemption")
        add, rem, chg = (node.find(f"domain:{t}", NS) for t in ("add", "rem", "chg"))
        removing = (
            {s.get("s") for s in rem.findall("domain:status", NS)} if rem is not None else set()
        )
        if (
            obj.statuses & {"clientUpdateProhibited", "serverUpdateProhibited"}
            and "clientUpdateProhibited" not in removing
        ):
            raise EppFault(2304)
        if obj.statuses & {"pendingTransfer"}:
            raise EppFault(2304)
        ns, statuses = list(obj.ns), set(obj.statuses)
        registrant, auth = obj.registrant, obj.auth
        if rem is not None:
            gone = {
                (h.text or "").strip().lower() for h in rem.findall("domain:ns/domain:hostObj", NS)
            }
            ns = [h for h in ns if h not in gone]
            statuses -= removing
        if add is not None:
            for host in add.findall("domain:ns/domain:hostObj", NS):
                name = (host.text or "").strip().lower()
                if name not in self._hosts:
                    raise EppFault(2303, f"host {name}")
                if name in ns:
                    raise EppFault(2302, f"host {name} is already a nameserver")
                ns.append(name)
            for status in add.findall("domain:status", NS):
                if status.get("s") not in CLIENT_STATUSES:
                    raise EppFault(2306, "only client statuses may be set")
                statuses.add(status.get("s"))
        if len(ns) > 13:
            raise EppFault(2306, "too many nameservers")
        if chg is not None:
            new_registrant = chg.findtext("domain:registrant", "", NS)
            if new_registrant:
                if new_registrant not in self._contacts:
                    raise EppFault(2303, f"contact {new_registrant}")
                registrant = new_registrant
            new_auth = chg.findtext("domain:authInfo/domain:pw", "", NS)
            if new_auth:
                auth = new_auth
        ds = list(obj.ds)
        sec = next((n for n in ext if n.tag == f"{{{NS['secDNS']}}}update"), None)
        if sec is not None:
            if sec.find("secDNS:rem/secDNS:all", NS) is not None:
                ds = []
            for record in sec.findall("secDNS:rem/secDNS:dsData", NS):
                ds = [d for d in ds if d != _ds_dict(record)]
            for record in sec.findall("secDNS:add/secDNS:dsData", NS):
                ds.append(_ds_dict(record))
        obj.ns, obj.statuses, obj.registrant, obj.auth, obj.ds = ns, statuses, registrant, auth, ds
        obj.updated = _now()
        return 1000, None, None

    def _restore(self, obj: DomainObject, restore: etree._Element) -> tuple:
        op = restore.get("op")
        if op == "request":
            if obj.rgp != "redemptionPeriod":
                raise EppFault(2304, "not in redemption")
            obj.rgp = "pendingRestore"
        else:
            if obj.rgp != "pendingRestore":
                raise EppFault(2304, "no restore request")
            if restore.find("rgp:report", NS) is None:
                raise EppFault(2003, "report")
            obj.rgp = ""
            obj.statuses.discard("pendingDelete")
            obj.deleted_at = None
            if obj.expires < _now():
                obj.expires = _add_years(obj.expires, 1)
        obj.updated = _now()
        return 1000, None, R.upData(R.rgpStatus(s=obj.rgp or "addPeriod"))

    # --- host --------------------------------------------------------------------------------

    def _host_check(self, node, clid, ext, session) -> tuple:
        answers = []
        for name_node in node.findall("host:name", NS):
            name = (name_node.text or "").strip().lower()
            answers.append(H.cd(H.name(name, avail="0" if name in self._hosts else "1")))
        return 1000, H.chkData(*answers), None

    def _host_create(self, node, clid, ext, session) -> tuple:
        name = (node.findtext("host:name", "", NS) or "").strip().lower()
        if not _HOST_RE.match(name):
            raise EppFault(2005, "not a host name")
        if name in self._hosts:
            raise EppFault(2302)
        addresses = [(a.text or "").strip() for a in node.findall("host:addr", NS)]
        for address, element in zip(addresses, node.findall("host:addr", NS), strict=True):
            try:
                parsed = ipaddress.ip_address(address)
            except ValueError:
                raise EppFault(2005, "not an IP address") from None
            if f"v{parsed.version}" != element.get("ip", "v4"):
                raise EppFault(2005, "address family")
        parent = name.split(".", 1)[1]
        internal = name.rsplit(".", 1)[-1] in self.tlds
        if internal:
            superordinate = next(
                (d for d in self._domains.values() if name.endswith("." + d.name)), None
            )
            if superordinate is None:
                raise EppFault(2303, f"superordinate domain {parent}")
            if superordinate.sponsor != clid:
                raise EppFault(2201)
            if not addresses:
                raise EppFault(2003, "a glue host needs an address")
        elif addresses:
            raise EppFault(2306, "addresses of an external host are not accepted")
        now = _now()
        self._hosts[name] = HostObject(name, self._roid("HOST"), clid, addresses, now)
        return 1000, H.creData(H.name(name), H.crDate(_stamp(now))), None

    def _host_info(self, node, clid, ext, session) -> tuple:
        name = (node.findtext("host:name", "", NS) or "").strip().lower()
        host = self._hosts.get(name)
        if host is None:
            raise EppFault(2303)
        linked = any(name in d.ns for d in self._domains.values())
        data = H.infData(
            H.name(host.name),
            H.roid(host.roid),
            H.status(s="linked" if linked else "ok"),
            *[H.addr(a, ip=f"v{ipaddress.ip_address(a).version}") for a in host.addresses],
            H.clID(host.sponsor),
            H.crID(host.sponsor),
            H.crDate(_stamp(host.created)),
        )
        return 1000, data, None

    # --- contact -----------------------------------------------------------------------------

    def _contact_check(self, node, clid, ext, session) -> tuple:
        answers = [
            C.cd(C.id(i.text, avail="0" if i.text in self._contacts else "1"))
            for i in node.findall("contact:id", NS)
        ]
        return 1000, C.chkData(*answers), None

    def _contact_create(self, node, clid, ext, session) -> tuple:
        handle = node.findtext("contact:id", "", NS)
        if handle in self._contacts:
            raise EppFault(2302)
        postal = node.find("contact:postalInfo", NS)
        if postal.get("type") == "int" and not all((t or "").isascii() for t in postal.itertext()):
            raise EppFault(2005, "int postal info must be ASCII (RFC 5733 §2.3)")
        if "@" not in node.findtext("contact:email", "", NS):
            raise EppFault(2005, "email")
        now = _now()
        self._contacts[handle] = ContactObject(
            handle,
            self._roid("CT"),
            clid,
            {"cc": postal.findtext("contact:addr/contact:cc", "", NS)},
            now,
        )
        return 1000, C.creData(C.id(handle), C.crDate(_stamp(now))), None

    def _contact_update(self, node, clid, ext, session) -> tuple:
        handle = node.findtext("contact:id", "", NS)
        contact = self._contacts.get(handle)
        if contact is None:
            raise EppFault(2303)
        if contact.sponsor != clid:
            raise EppFault(2201)
        postal = node.find("contact:chg/contact:postalInfo", NS)
        if postal is not None:
            contact.data["cc"] = postal.findtext("contact:addr/contact:cc", "", NS)
        return 1000, None, None

    # --- poll --------------------------------------------------------------------------------

    def _poll(self, node: etree._Element, clid: str) -> tuple:
        queue = self._polls.setdefault(clid, [])
        if node.get("op") == "req":
            if not queue:
                return 1300, None, None
            head = queue[0]
            msg_q = E.msgQ(
                E.qDate(_stamp(head["qDate"])),
                E.msg(head["msg"]),
                count=str(len(queue)),
                id=head["id"],
            )
            transfer = head["transfer"]
            data = D.trnData(
                D.name(transfer["name"]),
                D.trStatus(transfer["status"]),
                D.reID(transfer["reID"]),
                D.reDate(_stamp(transfer["reDate"])),
                D.acID(transfer["acID"]),
                D.acDate(_stamp(transfer["acDate"])),
            )
            return 1301, data, None, msg_q
        message_id = node.get("msgID")
        if not queue or queue[0]["id"] != message_id:
            raise EppFault(2303, "no such message at the head of the queue")
        queue.pop(0)
        msg_q = E.msgQ(count=str(len(queue)), id=queue[0]["id"]) if queue else None
        return 1000, None, None, msg_q


def _years(period: etree._Element | None) -> int:
    if period is None:
        return 1
    value = int(period.text)
    years = value if period.get("unit") == "y" else value / 12
    if years != int(years) or not 1 <= years <= MAX_YEARS:
        raise EppFault(2004, "period")
    return int(years)


def _ds_dict(node: etree._Element) -> dict[str, Any]:
    return {
        "keyTag": int(node.findtext("secDNS:keyTag", "0", NS)),
        "alg": int(node.findtext("secDNS:alg", "0", NS)),
        "digestType": int(node.findtext("secDNS:digestType", "0", NS)),
        "digest": (node.findtext("secDNS:digest", "", NS) or "").upper(),
    }


def _ds_element(ds: dict[str, Any]) -> etree._Element:
    return S.dsData(
        S.keyTag(str(ds["keyTag"])),
        S.alg(str(ds["alg"])),
        S.digestType(str(ds["digestType"])),
        S.digest(ds["digest"]),
    )


def _trn_data(obj: DomainObject) -> etree._Element:
    transfer = obj.transfer or {}
    data = D.trnData(
        D.name(obj.name),
        D.trStatus(transfer["status"]),
        D.reID(transfer["reID"]),
        D.reDate(_stamp(transfer["reDate"])),
        D.acID(transfer["acID"]),
        D.acDate(_stamp(transfer["acDate"])),
    )
    data.append(
        D.exDate(_stamp(transfer.get("exDate") or _add_years(obj.expires, transfer["years"])))
    )
    return data


def _recv(conn: ssl.SSLSocket, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = conn.recv(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def with_suppress_close(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.close()


def main() -> None:  # pragma: no cover - manual use
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=7700)
    args = parser.parse_args()
    server = EppServer(port=args.port, transfer_delay_s=60).start()
    print(f"EPP registry on 127.0.0.1:{server.port}; CA file {server.cafile}")
    threading.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    main()
