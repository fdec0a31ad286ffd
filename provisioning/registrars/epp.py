"""A registry over EPP, the Extensible Provisioning Protocol.

Follows RFC 5730 (EPP 1.0: greeting, login/logout, result codes, poll; STD 69,
https://www.rfc-editor.org/rfc/rfc5730), RFC 5731 (domain-1.0), RFC 5732 (host-1.0),
RFC 5733 (contact-1.0), RFC 5734 (transport over TCP with TLS: a greeting on connect,
then frames of a 4-byte big-endian length that counts itself, followed by the XML),
RFC 5910 (secDNS-1.1, DS records) and RFC 3915 (rgp-1.0, restore from redemption).

Frames are written with lxml. ``pyepp`` (InternetNZ, on PyPI) was considered: it covers
the commands, but its login always announces secDNS-1.1 and names epp-1.0 as an object
service instead of taking the services from the registry's greeting, and its logout frame
carries no clTRID; this module must do both, so it keeps the protocol here.

Connection settings (``ServerConnection``): ``hostname``/``port`` (700 by default),
``username`` (the registrar's clID), ``secret`` (its password), ``verify_tls``,
``timeout_s``; in ``extra``: ``cafile`` (a CA bundle for a registry with its own CA),
``certfile``/``keyfile`` (a client certificate, which most registries require).

Sessions: the first command connects, reads the greeting and logs in with the object and
extension URIs the greeting announced that we use; later commands reuse it, and a session
the server closed is opened again. ``close()`` keeps a healthy session for the next module
instance with the same account in this process (registries limit logins and sessions):
it is checked with a ``<hello>`` before reuse and dropped after ``POOL_IDLE_S`` idle. Every command
carries a fresh clTRID. Reads are retried once on a broken session; a write whose reply
was lost is not re-sent (it may have happened): it raises ``RegistryUnavailableError``
and the caller's retry finds the result (``register`` and ``host_create`` accept what
is already ours). Contact data is never logged and never put in an error message; auth
codes and the password neither.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import socket
import ssl
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from ipaddress import ip_address

from lxml import etree
from lxml.builder import ElementMaker

from provisioning.modules.base import MASK, ServerConnection
from provisioning.registrars.base import (
    LOCK_STATUSES,
    Contact,
    DomainAvailability,
    DomainInfo,
    DomainStatus,
    DomainUnavailableError,
    DsRecord,
    ErrorKind,
    HostInfo,
    PollMessage,
    Registrar,
    RegistryError,
    RegistryUnavailableError,
    TransferInfo,
    check_statuses,
    check_years,
    lock_of,
    normalize_domain,
    normalize_host,
    normalize_nameservers,
)

NS = {
    "epp": "urn:ietf:params:xml:ns:epp-1.0",
    "domain": "urn:ietf:params:xml:ns:domain-1.0",
    "host": "urn:ietf:params:xml:ns:host-1.0",
    "contact": "urn:ietf:params:xml:ns:contact-1.0",
    "secDNS": "urn:ietf:params:xml:ns:secDNS-1.1",
    "rgp": "urn:ietf:params:xml:ns:rgp-1.0",
}
OBJECT_URIS = (NS["domain"], NS["host"], NS["contact"])
EXTENSION_URIS = (NS["secDNS"], NS["rgp"])
DEFAULT_PORT = 700
MAX_FRAME = 16 * 1024 * 1024
CHECK_BATCH = 20  # names per <check>: registries cap it, 20 is accepted everywhere

E = ElementMaker(namespace=NS["epp"], nsmap={None: NS["epp"]})
D = ElementMaker(namespace=NS["domain"], nsmap={"domain": NS["domain"]})
H = ElementMaker(namespace=NS["host"], nsmap={"host": NS["host"]})
C = ElementMaker(namespace=NS["contact"], nsmap={"contact": NS["contact"]})
S = ElementMaker(namespace=NS["secDNS"], nsmap={"secDNS": NS["secDNS"]})
R = ElementMaker(namespace=NS["rgp"], nsmap={"rgp": NS["rgp"]})

# RFC 5730 §3: what each error result code means to a caller.
_KINDS: dict[int, ErrorKind] = {
    2000: ErrorKind.UNSUPPORTED,
    2001: ErrorKind.INVALID,
    2002: ErrorKind.INVALID,
    2003: ErrorKind.INVALID,
    2004: ErrorKind.INVALID,
    2005: ErrorKind.INVALID,
    2100: ErrorKind.UNSUPPORTED,
    2101: ErrorKind.UNSUPPORTED,
    2102: ErrorKind.UNSUPPORTED,
    2103: ErrorKind.UNSUPPORTED,
    2104: ErrorKind.BILLING,
    2105: ErrorKind.POLICY,
    2106: ErrorKind.POLICY,
    2200: ErrorKind.AUTHORIZATION,
    2201: ErrorKind.AUTHORIZATION,
    2202: ErrorKind.AUTHORIZATION,
    2300: ErrorKind.PENDING,
    2301: ErrorKind.PENDING,
    2302: ErrorKind.EXISTS,
    2303: ErrorKind.NOT_FOUND,
    2304: ErrorKind.PROHIBITED,
    2305: ErrorKind.PROHIBITED,
    2306: ErrorKind.POLICY,
    2307: ErrorKind.UNSUPPORTED,
    2308: ErrorKind.POLICY,
}
# Logged-in sessions kept between module instances, per process and account: (socket,
# extensions logged in with, when it was put back).
POOL_IDLE_S = 240.0
POOL_SIZE = 4
_POOL: dict[tuple[object, ...], list[tuple[ssl.SSLSocket, tuple[str, ...], float]]] = {}
_POOL_LOCK = threading.Lock()

# 2400 command failed (a server-side fault), 2500-2502: the server closes the session.
_TRANSIENT = frozenset({2400, 2500, 2501, 2502})


@dataclass
class EppResponse:
    code: int
    message: str
    root: etree._Element
    msg_queue: dict[str, str] = field(default_factory=dict)

    def find(self, path: str) -> etree._Element | None:
        return self.root.find(path, NS)

    def findall(self, path: str) -> list[etree._Element]:
        return self.root.findall(path, NS)

    def text(self, path: str, default: str = "") -> str:
        node = self.find(path)
        return (node.text or "").strip() if node is not None else default


def _pw() -> str:
    # eppcom pwAuthInfoType is a string; 16 characters of mixed classes satisfies registries'
    # complexity rules (letters, digits and a symbol).
    return secrets.token_urlsafe(10)[:13] + "-" + secrets.choice("ABCDEFGH") + "7"


def _date(text: str) -> date | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).date()


def _datetime(text: str) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class EppRegistrar(Registrar):
    name = "epp"
    label = "EPP registry (RFC 5730-5734)"

    def __init__(self, connection: ServerConnection) -> None:
        super().__init__(connection)
        self._sock: ssl.SSLSocket | None = None
        self._greeting: EppResponse | None = None
        self._extensions: tuple[str, ...] = ()
        self._logged_in = False
        self._secrets: set[str] = {connection.secret} if connection.secret else set()

    # --- transport (RFC 5734) --------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        extra = self.connection.extra
        context = ssl.create_default_context(cafile=extra.get("cafile") or None)
        if not self.connection.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if extra.get("certfile"):
            context.load_cert_chain(extra["certfile"], extra.get("keyfile") or None)
        return context

    def _unavailable(self, what: str, exc: BaseException | None = None) -> RegistryUnavailableError:
        self._drop()
        detail = f" ({type(exc).__name__})" if exc else ""
        return RegistryUnavailableError(
            f"epp: {what} {self.connection.hostname}:{self.connection.port}{detail}"
        )

    def _connect(self) -> None:
        port = self.connection.port or DEFAULT_PORT
        try:
            raw = socket.create_connection(
                (self.connection.hostname, port), timeout=self.connection.timeout_s
            )
            self._sock = self._tls_context().wrap_socket(
                raw, server_hostname=self.connection.hostname
            )
        except ssl.SSLCertVerificationError as exc:
            raise RegistryError(
                f"epp: the certificate of {self.connection.hostname} is not trusted",
                code=2200,
                kind=ErrorKind.AUTHORIZATION,
            ) from exc
        except OSError as exc:
            raise self._unavailable("could not connect to", exc) from exc
        self._greeting = self._parse(self._read_frame())
        if self._greeting.find("epp:greeting") is None:
            raise self._unavailable("no greeting from")

    def _read_exact(self, size: int) -> bytes:
        assert self._sock is not None
        chunks, left = [], size
        while left:
            chunk = self._sock.recv(left)
            if not chunk:
                raise ConnectionError("the registry closed the connection")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _read_frame(self) -> bytes:
        (total,) = struct.unpack(">I", self._read_exact(4))
        if not 4 < total <= MAX_FRAME:
            raise ConnectionError(f"a frame of {total} bytes")
        return self._read_exact(total - 4)

    def _write_frame(self, payload: bytes) -> None:
        assert self._sock is not None
        self._sock.sendall(struct.pack(">I", len(payload) + 4) + payload)

    def _drop(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._sock = None
        self._extensions = ()
        self._logged_in = False

    def _pool_key(self) -> tuple[object, ...]:
        # The process id keeps a forked worker off its parent's sockets.
        connection = self.connection
        return (
            os.getpid(),
            connection.hostname,
            connection.port,
            connection.username,
            hashlib.sha256(connection.secret.encode()).hexdigest(),
            connection.verify_tls,
            connection.extra.get("cafile", ""),
            connection.extra.get("certfile", ""),
        )

    def _take_pooled(self) -> bool:
        """Takes a kept session that still answers a <hello>; False when there is none."""
        key = self._pool_key()
        while True:
            with _POOL_LOCK:
                entries = _POOL.get(key) or []
                if not entries:
                    return False
                sock, extensions, since = entries.pop()
            self._sock, self._extensions = sock, extensions
            if time.monotonic() - since <= POOL_IDLE_S:
                try:
                    reply = self._exchange(E.epp(E.hello()))
                    if reply.find("epp:greeting") is not None:
                        self._greeting = reply
                        self._logged_in = True
                        return True
                except (OSError, ConnectionError, RegistryUnavailableError):
                    pass
            self._drop()

    def close(self) -> None:
        if self._sock is not None and self._logged_in:
            with _POOL_LOCK:
                entries = _POOL.setdefault(self._pool_key(), [])
                if len(entries) < POOL_SIZE:
                    entries.append((self._sock, self._extensions, time.monotonic()))
                    self._sock = None
                    return
        if self._sock is not None:
            # The session ends either way: a logout the registry did not answer changes nothing.
            with contextlib.suppress(OSError, ConnectionError, RegistryUnavailableError):
                self._exchange(E.epp(E.command(E.logout(), E.clTRID(self._cltrid()))))
        self._drop()

    # --- session (RFC 5730 §2.4, §2.9.1) ---------------------------------------------------

    @staticmethod
    def _cltrid() -> str:
        return f"TSR-{uuid.uuid4().hex}"

    def _exchange(self, frame: etree._Element) -> EppResponse:
        payload = etree.tostring(frame, xml_declaration=True, encoding="UTF-8")
        self._write_frame(payload)
        return self._parse(self._read_frame())

    def _parse(self, payload: bytes) -> EppResponse:
        try:
            root = etree.fromstring(payload, parser=etree.XMLParser(resolve_entities=False))
        except etree.XMLSyntaxError as exc:
            raise self._unavailable("an unreadable reply from", exc) from exc
        result = root.find("epp:response/epp:result", NS)
        if result is None:
            return EppResponse(0, "", root)
        queue = root.find("epp:response/epp:msgQ", NS)
        msg_queue: dict[str, str] = {}
        if queue is not None:
            msg_queue = {
                "count": queue.get("count", "0"),
                "id": queue.get("id", ""),
                "qDate": queue.findtext("epp:qDate", "", NS),
                "msg": (queue.findtext("epp:msg", "", NS) or "").strip(),
            }
        return EppResponse(
            int(result.get("code", "0")),
            (result.findtext("epp:msg", "", NS) or "").strip(),
            root,
            msg_queue,
        )

    def _login(self) -> None:
        assert self._greeting is not None
        menu = self._greeting.find("epp:greeting/epp:svcMenu")
        if menu is None:
            raise self._unavailable("a greeting without a service menu from")
        announced_objects = {n.text for n in menu.findall("epp:objURI", NS)}
        announced_ext = {n.text for n in menu.findall("epp:svcExtension/epp:extURI", NS)}
        missing = [uri for uri in OBJECT_URIS if uri not in announced_objects]
        if NS["domain"] in missing:
            raise RegistryError(
                "epp: the registry does not offer domain-1.0", code=2307, kind=ErrorKind.UNSUPPORTED
            )
        objects = [uri for uri in OBJECT_URIS if uri in announced_objects]
        extensions = [uri for uri in EXTENSION_URIS if uri in announced_ext]
        services = E.svcs(*[E.objURI(uri) for uri in objects])
        if extensions:
            services.append(E.svcExtension(*[E.extURI(uri) for uri in extensions]))
        frame = E.epp(
            E.command(
                E.login(
                    E.clID(self.connection.username),
                    E.pw(self.connection.secret),
                    E.options(E.version("1.0"), E.lang("en")),
                    services,
                ),
                E.clTRID(self._cltrid()),
            )
        )
        response = self._exchange(frame)
        if response.code != 1000:
            self._drop()
            raise self._error(response, "login")
        self._extensions = tuple(extensions)
        self._logged_in = True

    def _session(self) -> None:
        if self._sock is None and not self._take_pooled():
            self._connect()
            self._login()

    def _command(
        self,
        body: etree._Element,
        *,
        extension: etree._Element | None = None,
        what: str,
        safe: bool = False,
        expect: tuple[int, ...] = (1000, 1001),
        quiet: bool = False,
    ) -> EppResponse:
        """Sends one command in the session. ``safe`` commands (reads) are re-sent once on
        a new session when the old one broke; ``quiet`` keeps the registry's text out of
        the error (contact commands, where it may echo personal data)."""
        command = E.command(body)
        if extension is not None:
            command.append(E.extension(extension))
        command.append(E.clTRID(self._cltrid()))
        frame = E.epp(command)
        for attempt in (1, 2):
            self._session()
            try:
                response = self._exchange(frame)
            except (OSError, ConnectionError) as exc:
                self._drop()
                if safe and attempt == 1:
                    continue
                raise self._unavailable(f"{what}: lost the session with", exc) from exc
            if response.code in (2500, 2501, 2502):
                self._drop()
                if safe and attempt == 1:
                    continue
            if response.code not in expect:
                raise self._error(response, what, quiet=quiet)
            return response
        raise self._unavailable(f"{what}: no answer from")  # pragma: no cover - loop returns

    def _scrub(self, text: str) -> str:
        for value in self._secrets:
            if value and len(value) >= 4:
                text = text.replace(value, MASK)
        return text

    def _error(
        self, response: EppResponse, what: str, *, quiet: bool = False
    ) -> RegistryError | RegistryUnavailableError:
        registry_text = "" if quiet else self._scrub(response.message)
        reason = response.text("epp:response/epp:result/epp:extValue/epp:reason")
        if reason and not quiet:
            registry_text = f"{registry_text}: {self._scrub(reason)}"
        message = f"epp: {what} refused with {response.code}"
        if response.code in _TRANSIENT:
            if response.code >= 2500:
                self._drop()
            return RegistryUnavailableError(
                message, code=response.code, registry_text=registry_text
            )
        kind = _KINDS.get(response.code, ErrorKind.FAILED)
        if kind == ErrorKind.EXISTS and what.startswith("domain create"):
            return DomainUnavailableError(message, code=response.code, registry_text=registry_text)
        return RegistryError(message, code=response.code, kind=kind, registry_text=registry_text)

    def _need_extension(self, uri: str, what: str) -> None:
        self._session()
        if uri not in self._extensions:
            raise RegistryError(
                f"epp: the registry does not offer {what}", code=2103, kind=ErrorKind.UNSUPPORTED
            )

    # --- domains (RFC 5731) ----------------------------------------------------------------

    def check(self, domains: list[str]) -> list[DomainAvailability]:
        names = [normalize_domain(d) for d in domains]
        found: dict[str, DomainAvailability] = {}
        for start in range(0, len(names), CHECK_BATCH):
            batch = list(dict.fromkeys(names[start : start + CHECK_BATCH]))
            response = self._command(
                E.check(D.check(*[D.name(n) for n in batch])),
                what="domain check",
                safe=True,
                expect=(1000,),
            )
            for cd in response.findall("epp:response/epp:resData/domain:chkData/domain:cd"):
                node = cd.find("domain:name", NS)
                name = (node.text or "").strip().lower()
                available = node.get("avail") in ("1", "true")
                found[name] = DomainAvailability(
                    name, available, (cd.findtext("domain:reason", "", NS) or "").strip()
                )
        return [found.get(n) or DomainAvailability(n, False, "no answer") for n in names]

    def _info_response(self, name: str, auth_code: str = "") -> EppResponse | None:
        body = D.info(D.name(name, hosts="all"))
        if auth_code:
            self._secrets.add(auth_code)
            body.append(D.authInfo(D.pw(auth_code)))
        try:
            return self._command(E.info(body), what="domain info", safe=True, expect=(1000,))
        except RegistryError as exc:
            if exc.code == 2303:
                return None
            raise

    def info(self, domain: str) -> DomainInfo | None:
        name = normalize_domain(domain)
        response = self._info_response(name)
        return _domain_info(response) if response else None

    def _require_info(self, name: str) -> DomainInfo:
        response = self._info_response(name)
        if response is None:
            raise RegistryError(
                f"epp: the registry has no {name}", code=2303, kind=ErrorKind.NOT_FOUND
            )
        return _domain_info(response)

    def _ensure_hosts(self, hosts: tuple[str, ...], domain: str) -> None:
        """hostObj nameservers must exist as host objects (RFC 5731 §1.1); external ones
        (not under ``domain``) are created without addresses when missing."""
        response = self._command(
            E.check(H.check(*[H.name(h) for h in hosts])),
            what="host check",
            safe=True,
            expect=(1000,),
        )
        for cd in response.findall("epp:response/epp:resData/host:chkData/host:cd"):
            node = cd.find("host:name", NS)
            host = (node.text or "").strip().lower()
            if node.get("avail") not in ("1", "true"):
                continue  # exists
            if host.endswith("." + domain):
                raise RegistryError(
                    f"epp: create the glue host {host} (host_create) before using it",
                    code=2303,
                    kind=ErrorKind.NOT_FOUND,
                )
            self._command(E.create(H.create(H.name(host))), what="host create")

    def register(
        self,
        domain: str,
        years: int,
        nameservers: list[str],
        contact_ref: str,
        *,
        admin_ref: str = "",
        tech_ref: str = "",
    ) -> DomainInfo:
        name = normalize_domain(domain)
        check_years(years)
        if not contact_ref:
            raise RegistryError(
                "a registration needs the registrant's handle", code=2003, kind=ErrorKind.INVALID
            )
        servers = normalize_nameservers(nameservers) if nameservers else ()
        if servers:
            self._ensure_hosts(servers, name)
        body = D.create(D.name(name), D.period(str(years), unit="y"))
        if servers:
            body.append(D.ns(*[D.hostObj(h) for h in servers]))
        body.append(D.registrant(contact_ref))
        body.append(D.contact(admin_ref or contact_ref, type="admin"))
        body.append(D.contact(tech_ref or contact_ref, type="tech"))
        body.append(D.authInfo(D.pw(_pw())))
        try:
            self._command(E.create(body), what=f"domain create of {name}")
        except DomainUnavailableError:
            # Ours already, from an attempt whose reply was lost? Then it is the same one.
            held = self.info(name)
            if held and held.registrant == contact_ref and self._sponsored(held):
                return held
            raise
        # New registrations are locked against transfer and deletion, as the other modules'.
        return self.set_statuses(name, add=LOCK_STATUSES)

    def _sponsored(self, info: DomainInfo) -> bool:
        return str(info.details.get("clID", "")) == self.connection.username

    def renew(self, domain: str, years: int, *, current_expiry: date) -> DomainInfo:
        name = normalize_domain(domain)
        check_years(years, "renewal")
        self._command(
            E.renew(
                D.renew(
                    D.name(name),
                    D.curExpDate(current_expiry.isoformat()),
                    D.period(str(years), unit="y"),
                )
            ),
            what=f"domain renew of {name}",
        )
        return self._require_info(name)

    def delete(self, domain: str) -> None:
        name = normalize_domain(domain)
        self._command(E.delete(D.delete(D.name(name))), what=f"domain delete of {name}")

    def restore(self, domain: str) -> DomainInfo:
        """RFC 3915 §4.2.5: a restore request, then the report the registry expects, with
        the registration as it was and is (the same: nothing changed while deleted)."""
        name = normalize_domain(domain)
        self._need_extension(NS["rgp"], "restore (rgp-1.0)")
        before = self._require_info(name)
        self._command(
            E.update(D.update(D.name(name), D.chg())),
            extension=R.update(R.restore(op="request")),
            what=f"domain restore of {name}",
        )
        now = datetime.now(UTC).replace(microsecond=0)
        deleted_at = before.details.get("upDate") or now.isoformat()
        snapshot = f"{name} registrant {before.registrant} expires {before.expires_on}"
        report = R.report(
            R.preData(snapshot),
            R.postData(snapshot),
            R.delTime(str(deleted_at).replace("+00:00", "Z")),
            R.resTime(now.isoformat().replace("+00:00", "Z")),
            R.resReason("Registrant error."),
            R.statement(
                "This registrar has not restored the Registered Name in order to assume the "
                "rights to use or sell the Registered Name for itself or for any third party."
            ),
            R.statement(
                "The information in this report is true to best of this registrar's "
                "knowledge, and this registrar acknowledges that intentionally supplying "
                "false information in this report shall constitute an incurable material "
                "breach of the Registry-Registrar Agreement."
            ),
        )
        self._command(
            E.update(D.update(D.name(name), D.chg())),
            extension=R.update(R.restore(report, op="report")),
            what=f"domain restore report of {name}",
        )
        return self._require_info(name)

    # --- transfers (RFC 5731 §3.2.4) -------------------------------------------------------

    def _transfer(self, op: str, name: str, *children: etree._Element) -> TransferInfo:
        response = self._command(
            E.transfer(D.transfer(D.name(name), *children), op=op),
            what=f"domain transfer {op} of {name}",
            safe=op == "query",
        )
        data = response.find("epp:response/epp:resData/domain:trnData")
        if data is None:
            raise RegistryError(
                f"epp: the transfer {op} of {name} came back without its state",
                code=response.code,
            )
        return _transfer_info(data)

    def transfer_request(
        self, domain: str, auth_code: str, *, years: int = 1, contact_ref: str = ""
    ) -> TransferInfo:
        name = normalize_domain(domain)
        check_years(years, "transfer")
        if not auth_code:
            raise RegistryError(
                "a transfer needs the domain's auth code", code=2003, kind=ErrorKind.INVALID
            )
        self._secrets.add(auth_code)
        try:
            return self._transfer(
                "request", name, D.period(str(years), unit="y"), D.authInfo(D.pw(auth_code))
            )
        except RegistryError as exc:
            if exc.code != 2300:
                raise
            # Already pending: ours (a retried request) answers its state, anyone else's not.
            current = self.transfer_query(name, auth_code)
            if current.requested_by == self.connection.username:
                return current
            raise

    def transfer_query(self, domain: str, auth_code: str = "") -> TransferInfo:
        name = normalize_domain(domain)
        children = []
        if auth_code:
            self._secrets.add(auth_code)
            children.append(D.authInfo(D.pw(auth_code)))
        return self._transfer("query", name, *children)

    def transfer_approve(self, domain: str) -> TransferInfo:
        return self._transfer("approve", normalize_domain(domain))

    def transfer_reject(self, domain: str) -> TransferInfo:
        return self._transfer("reject", normalize_domain(domain))

    def transfer_cancel(self, domain: str) -> TransferInfo:
        return self._transfer("cancel", normalize_domain(domain))

    # --- updates (RFC 5731 §3.2.5, RFC 5910 §5.2.5) -----------------------------------------

    def _update(
        self,
        name: str,
        *,
        add: list[etree._Element] | None = None,
        rem: list[etree._Element] | None = None,
        chg: list[etree._Element] | None = None,
        extension: etree._Element | None = None,
        what: str,
    ) -> DomainInfo:
        body = D.update(D.name(name))
        if add:
            body.append(D.add(*add))
        if rem:
            body.append(D.rem(*rem))
        if chg:
            body.append(D.chg(*chg))
        self._command(E.update(body), extension=extension, what=f"{what} of {name}")
        return self._require_info(name)

    def set_nameservers(self, domain: str, nameservers: list[str]) -> DomainInfo:
        name = normalize_domain(domain)
        wanted = normalize_nameservers(nameservers)
        current = self._require_info(name).nameservers
        added = [h for h in wanted if h not in current]
        removed = [h for h in current if h not in wanted]
        if not added and not removed:
            return self._require_info(name)
        if added:
            self._ensure_hosts(tuple(added), name)
        return self._update(
            name,
            add=[D.ns(*[D.hostObj(h) for h in added])] if added else None,
            rem=[D.ns(*[D.hostObj(h) for h in removed])] if removed else None,
            what="nameserver update",
        )

    def set_statuses(
        self, domain: str, *, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()
    ) -> DomainInfo:
        name = normalize_domain(domain)
        check_statuses(tuple(add) + tuple(remove))
        current = self._require_info(name).statuses
        adding = [s for s in add if s not in current]
        removing = [s for s in remove if s in current]
        if not adding and not removing:
            return self._require_info(name)
        return self._update(
            name,
            add=[D.status(s=s) for s in adding],
            rem=[D.status(s=s) for s in removing],
            what="status update",
        )

    def set_dnssec(self, domain: str, ds_records: list[DsRecord]) -> DomainInfo:
        name = normalize_domain(domain)
        self._need_extension(NS["secDNS"], "DNSSEC (secDNS-1.1)")
        for record in ds_records:
            _ds_check(record)
        update = S.update(S.rem(S.all("true")))
        if ds_records:
            update.append(
                S.add(
                    *[
                        S.dsData(
                            S.keyTag(str(r.key_tag)),
                            S.alg(str(r.algorithm)),
                            S.digestType(str(r.digest_type)),
                            S.digest(r.digest.strip().upper()),
                        )
                        for r in ds_records
                    ]
                )
            )
        return self._update(name, extension=update, what="DNSSEC update")

    def set_registrant(self, domain: str, contact_ref: str) -> DomainInfo:
        name = normalize_domain(domain)
        if not contact_ref:
            raise RegistryError("the registrant's handle is missing", code=2003)
        return self._update(name, chg=[D.registrant(contact_ref)], what="registrant change")

    def auth_code(self, domain: str) -> str:
        name = normalize_domain(domain)
        response = self._info_response(name)
        path = "epp:response/epp:resData/domain:infData/domain:authInfo/domain:pw"
        code = response.text(path) if response is not None else ""
        if not code:
            raise RegistryError(
                f"epp: the registry gave no auth code for {name}",
                code=2201,
                kind=ErrorKind.AUTHORIZATION,
            )
        self._secrets.add(code)
        return code

    def auth_code_reset(self, domain: str) -> str:
        name = normalize_domain(domain)
        code = _pw()
        self._secrets.add(code)
        self._update(name, chg=[D.authInfo(D.pw(code))], what="auth code change")
        return code

    # --- hosts (RFC 5732) ------------------------------------------------------------------

    def host_create(self, name: str, addresses: list[str]) -> HostInfo:
        host = normalize_host(name)
        parsed = []
        for address in addresses:
            try:
                parsed.append(ip_address(address.strip()))
            except ValueError:
                raise RegistryError(
                    f"{address!r} is not an IP address", code=2005, kind=ErrorKind.INVALID
                ) from None
        body = H.create(
            H.name(host),
            *[
                H.addr(str(a), ip=f"v{a.version}")
                for a in sorted(set(parsed), key=lambda a: (a.version, int(a)))
            ],
        )
        try:
            self._command(E.create(body), what=f"host create of {host}")
        except RegistryError as exc:
            if exc.code != 2302:
                raise
            existing = self.host_info(host)
            wanted = tuple(sorted({str(a) for a in parsed}))
            if existing is None or tuple(sorted(existing.addresses)) != wanted:
                raise
            return existing
        info = self.host_info(host)
        assert info is not None
        return info

    def host_info(self, name: str) -> HostInfo | None:
        host = normalize_host(name)
        try:
            response = self._command(
                E.info(H.info(H.name(host))), what="host info", safe=True, expect=(1000,)
            )
        except RegistryError as exc:
            if exc.code == 2303:
                return None
            raise
        data = response.find("epp:response/epp:resData/host:infData")
        return HostInfo(
            name=(data.findtext("host:name", "", NS) or host).strip().lower(),
            addresses=tuple((a.text or "").strip() for a in data.findall("host:addr", NS)),
            statuses=tuple(s.get("s", "") for s in data.findall("host:status", NS)),
        )

    # --- contacts (RFC 5733) ---------------------------------------------------------------

    def contact_create(self, contact: Contact) -> str:
        handle = "TS" + secrets.token_hex(6).upper()
        self._command(
            E.create(
                C.create(
                    C.id(handle),
                    *_contact_fields(contact),
                    C.authInfo(C.pw(_pw())),
                )
            ),
            what="contact create",
            quiet=True,
        )
        return handle

    def contact_update(self, handle: str, contact: Contact) -> None:
        postal, *rest = _contact_fields(contact)
        self._command(
            E.update(C.update(C.id(handle), C.chg(postal, *rest))),
            what=f"contact update of {handle}",
            quiet=True,
        )

    # --- poll (RFC 5730 §2.9.2.3) ----------------------------------------------------------

    def poll(self) -> PollMessage | None:
        response = self._command(E.poll(op="req"), what="poll", safe=True, expect=(1300, 1301))
        if response.code == 1300:
            return None
        queue = response.msg_queue
        data = response.find("epp:response/epp:resData/domain:trnData")
        transfer = _transfer_info(data) if data is not None else None
        return PollMessage(
            id=queue.get("id", ""),
            text=queue.get("msg", ""),
            queued_at=_datetime(queue.get("qDate", "")),
            domain=transfer.domain if transfer else "",
            transfer_status=transfer.status if transfer else "",
            remaining=int(queue.get("count", "0") or 0),
        )

    def poll_ack(self, message_id: str) -> int:
        response = self._command(
            E.poll(op="ack", msgID=message_id), what="poll ack", expect=(1000,)
        )
        return int(response.msg_queue.get("count", "0") or 0)

    def test_connection(self) -> str:
        self._session()
        assert self._greeting is not None
        server = self._greeting.text("epp:greeting/epp:svID") or self.connection.hostname
        extensions = ", ".join(uri.rsplit(":", 1)[-1] for uri in self._extensions) or "none"
        return f"EPP {server}, logged in as {self.connection.username}; extensions: {extensions}"


# --- reading replies ----------------------------------------------------------------------


def _domain_info(response: EppResponse) -> DomainInfo:
    data = response.find("epp:response/epp:resData/domain:infData")
    if data is None:
        raise RegistryError("epp: a domain info reply without infData", code=response.code)

    def text(tag: str) -> str:
        return (data.findtext(f"domain:{tag}", "", NS) or "").strip()

    statuses = tuple(s.get("s", "") for s in data.findall("domain:status", NS))
    rgp = tuple(
        s.get("s", "")
        for s in response.findall("epp:response/epp:extension/rgp:infData/rgp:rgpStatus")
    )
    expires = _date(text("exDate"))
    if "redemptionPeriod" in rgp or "pendingRestore" in rgp:
        status = DomainStatus.REDEMPTION
    elif "pendingDelete" in statuses:
        status = DomainStatus.PENDING_DELETE
    elif "pendingTransfer" in statuses:
        status = DomainStatus.PENDING_TRANSFER
    elif "pendingCreate" in statuses:
        status = DomainStatus.PENDING_CREATE
    elif expires and expires < date.today():
        status = DomainStatus.EXPIRED
    else:
        status = DomainStatus.ACTIVE
    ds = tuple(
        DsRecord(
            key_tag=int(node.findtext("secDNS:keyTag", "0", NS)),
            algorithm=int(node.findtext("secDNS:alg", "0", NS)),
            digest_type=int(node.findtext("secDNS:digestType", "0", NS)),
            digest=(node.findtext("secDNS:digest", "", NS) or "").strip().upper(),
        )
        for node in response.findall("epp:response/epp:extension/secDNS:infData/secDNS:dsData")
    )
    return DomainInfo(
        domain=text("name").lower(),
        remote_id=text("roid"),
        status=status.value,
        expires_on=expires,
        nameservers=tuple(
            (n.text or "").strip().lower() for n in data.findall("domain:ns/domain:hostObj", NS)
        ),
        locked=lock_of(statuses),
        statuses=statuses,
        registrant=text("registrant"),
        contacts={
            c.get("type", ""): (c.text or "").strip() for c in data.findall("domain:contact", NS)
        },
        hosts=tuple((h.text or "").strip().lower() for h in data.findall("domain:host", NS)),
        ds_records=ds,
        created_on=_date(text("crDate")),
        details={"clID": text("clID"), "upDate": text("upDate"), "rgp": list(rgp)},
    )


def _transfer_info(data: etree._Element) -> TransferInfo:
    def text(tag: str) -> str:
        return (data.findtext(f"domain:{tag}", "", NS) or "").strip()

    return TransferInfo(
        domain=text("name").lower(),
        status=text("trStatus"),
        requested_by=text("reID"),
        requested_at=_datetime(text("reDate")),
        action_by=text("acID"),
        action_at=_datetime(text("acDate")),
        expires_on=_date(text("exDate")),
    )


def _ds_check(record: DsRecord) -> None:
    digest = record.digest.strip()
    valid = 0 <= record.key_tag <= 65535 and 0 <= record.algorithm <= 255 and digest
    try:
        bytes.fromhex(digest)
    except ValueError:
        valid = False
    if not valid:
        raise RegistryError("a DS record is not valid", code=2005, kind=ErrorKind.INVALID)


def _contact_fields(contact: Contact) -> list[etree._Element]:
    """postalInfo, voice, fax, email in RFC 5733 order. "int" postal info must be ASCII
    (§2.3); a name or address in another script goes as "loc"."""
    street = [s for s in contact.street if s][:3]
    if not (contact.name and contact.email and contact.city and street and contact.country_code):
        raise RegistryError(
            "the contact lacks its name, e-mail, street, city or country",
            code=2003,
            kind=ErrorKind.INVALID,
        )
    texts = [contact.name, contact.organisation, *street, contact.city, contact.state]
    kind = "int" if all(t.isascii() for t in texts) else "loc"
    address = C.addr(*[C.street(s) for s in street], C.city(contact.city))
    if contact.state:
        address.append(C.sp(contact.state))
    if contact.postcode:
        address.append(C.pc(contact.postcode))
    address.append(C.cc(contact.country_code.upper()))
    postal = C.postalInfo(C.name(contact.name), type=kind)
    if contact.organisation:
        postal.append(C.org(contact.organisation))
    postal.append(address)
    fields = [postal]
    if contact.phone:
        fields.append(C.voice(contact.phone))
    if contact.fax:
        fields.append(C.fax(contact.fax))
    fields.append(C.email(contact.email))
    return fields
