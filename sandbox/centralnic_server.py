"""A local stand-in for the CentralNic Reseller (formerly RRPproxy) domain API.

It follows the published API command reference (https://kb.centralnicreseller.com/api/
api-command/, one page per command: CheckDomains, StatusDomain, AddDomain, RenewDomain,
TransferDomain, StatusDomainTransfer, ModifyDomain, TradeDomain, DeleteDomain,
RestoreDomain, AddContact, ModifyContact, AddNameserver, StatusNameserver, StatusAccount)
as the official client library ``centralnicreseller-apiconnector`` speaks it: an HTTP POST
to ``/api/call.cgi`` of ``s_login``, ``s_pw`` and ``s_command`` (the command as
``KEY=value`` lines), answered in plain text::

    [RESPONSE]
    code = 200
    description = Command completed successfully
    property[registrationexpirationdate][0] = 2027-12-06 10:00:00
    EOF

Two answers are modelled on sibling pages where the command's own page was not at hand:
StatusDomainTransfer answers TRANSFERSTATUS as CheckDomainTransfer documents it and
REQUESTINGREGISTRAR/TRANSFERDATE as QueryForeignTransferList does; StatusAccount answers
AMOUNT and CURRENCY.

Strict where the real API is: a command it does not know is ``500 Invalid command name``,
a parameter the command's page does not list is ``503 Invalid attribute name``, a missing
required one ``504 Missing required attribute``, a malformed value ``505 Invalid attribute
value syntax``; the other codes are the registry-registrar protocol's the API inherited
(RFC 2832, RRP 1.1.0): 210/211 (available / not available), 421 (try again), 530
(authentication failed), 531 (authorization failed: a wrong auth code), 541 (invalid
value: a TLD not offered), 542 (invalid old value: RenewDomain's EXPIRATION is not the
current expiry year), 545 (entity reference not found), 546 (credit limit exceeded), 550
(parent domain not registered), 552 (domain status does not allow the operation), 553
(already being transferred), 554 (domain already registered), 556 (maximum registration
period exceeded). Requests refused for an unknown or missing parameter are kept in
``invalid_requests`` so a test can assert the module sent none.

State a test reads or changes: ``domain(name)``, ``contact(handle)``, ``seed_domain``
(a domain of another account, to transfer in), ``approve_transfer``, ``expire``.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import threading
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

DEFAULT_ACCOUNTS = {"tessera-reseller": "reseller-pw", "other-reseller": "other-pw"}
DEFAULT_TLDS = ("com", "net", "org", "it", "de", "eu", "io")
MAX_YEARS = 10
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+[a-z0-9-]{{2,63}}$")
_PHONE = re.compile(r"^\+[0-9]{1,3}\.[0-9]{4,14}$")
_DS = re.compile(r"^[0-9]{1,5} [0-9]{1,3} [0-9]{1,3} [0-9A-Fa-f]{2,}$")

MESSAGES = {
    200: "Command completed successfully",
    210: "Domain name available",
    211: "Domain name not available",
    500: "Invalid command name",
    503: "Invalid attribute name",
    504: "Missing required attribute",
    505: "Invalid attribute value syntax",
    530: "Authentication failed",
    531: "Authorization failed",
    541: "Invalid attribute value",
    542: "Invalid old value for an attribute",
    545: "Entity reference not found",
    546: "Credit limit exceeded",
    550: "Parent domain not registered",
    552: "Domain status does not allow for operation",
    553: "Operation not allowed. Domain already being transferred",
    554: "Domain already registered",
    556: "Maximum registration period exceeded",
}

# Each command's parameters, as its reference page lists them: required, then optional.
# A trailing "#" stands for the numbered forms (NAMESERVER0, NAMESERVER1...).
_CONTACT_FIELDS = (
    "FIRSTNAME",
    "LASTNAME",
    "ORGANIZATION",
    "STREET#",
    "CITY",
    "STATE",
    "ZIP",
    "COUNTRY",
    "PHONE",
    "FAX",
    "EMAIL",
)
COMMANDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "CHECKDOMAINS": (("DOMAIN#",), ("X-IDN-LANGUAGE",)),
    "STATUSDOMAIN": (("DOMAIN",), ()),
    "ADDDOMAIN": (
        ("DOMAIN", "PERIOD", "OWNERCONTACT0", "ADMINCONTACT0", "TECHCONTACT0", "BILLINGCONTACT0"),
        ("NAMESERVER#", "AUTH", "TRANSFERLOCK", "DNSSECDSDATA#", "X-IDN-LANGUAGE"),
    ),
    "RENEWDOMAIN": (("DOMAIN", "PERIOD", "EXPIRATION"), ("X-PROMOTION-CODE",)),
    "TRANSFERDOMAIN": (("DOMAIN", "ACTION"), ("AUTH", "PERIOD")),
    "STATUSDOMAINTRANSFER": (("DOMAIN",), ()),
    "MODIFYDOMAIN": (("DOMAIN",), ("NAMESERVER#", "TRANSFERLOCK", "AUTH", "DNSSECDSDATA#")),
    "TRADEDOMAIN": (("DOMAIN", "OWNERCONTACT0"), ()),
    "DELETEDOMAIN": (("DOMAIN",), ()),
    "RESTOREDOMAIN": (("DOMAIN",), ()),
    "ADDCONTACT": (
        ("FIRSTNAME", "LASTNAME", "STREET0", "CITY", "ZIP", "COUNTRY", "PHONE", "EMAIL"),
        (*_CONTACT_FIELDS, "NEW", "AUTODELETE", "VALIDATION"),
    ),
    "MODIFYCONTACT": (("CONTACT",), _CONTACT_FIELDS),
    "ADDNAMESERVER": (("NAMESERVER", "IPADDRESS0"), ("IPADDRESS#",)),
    "STATUSNAMESERVER": (("NAMESERVER",), ()),
    "STATUSACCOUNT": ((), ()),
}


class ApiFault(Exception):
    def __init__(self, code: int, detail: str = "") -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _add_years(value: datetime, years: int) -> datetime:
    try:
        return value.replace(year=value.year + years)
    except ValueError:
        return value.replace(year=value.year + years, day=28)


def _matches(key: str, pattern: str) -> bool:
    if pattern.endswith("#"):
        return re.fullmatch(re.escape(pattern[:-1]) + r"[0-9]{1,4}", key) is not None
    return key == pattern


def _numbered(params: dict[str, str], prefix: str) -> list[str]:
    keys = sorted(
        (k for k in params if re.fullmatch(re.escape(prefix) + r"[0-9]{1,4}", k)),
        key=lambda k: int(k[len(prefix) :]),
    )
    return [params[k] for k in keys if params[k]]


@dataclass
class RecordedRequest:
    login: str
    params: dict[str, str]
    code: int = 0


@dataclass
class CentralNicServer:
    accounts: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ACCOUNTS))
    tlds: tuple[str, ...] = DEFAULT_TLDS
    # Seconds before the registry approves a transfer by itself; None: only approve_transfer.
    transfer_delay_s: float | None = None
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[RecordedRequest] = field(default_factory=list)
    invalid_requests: list[RecordedRequest] = field(default_factory=list)
    credit_refused: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._domains: dict[str, dict[str, Any]] = {}
        self._contacts: dict[str, dict[str, Any]] = {}
        self._nameservers: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/api/call.cgi"

    def start(self) -> CentralNicServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                if self.path != "/api/call.cgi":
                    self._send(404, "Not found")
                    return
                self._send(200, server.answer(body))

            def _send(self, status: int, text: str) -> None:
                payload = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass  # requests hold contact data: the stand-in keeps no access log

        self._httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> CentralNicServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def registrar_account_fields(self, login: str = "tessera-reseller") -> dict[str, Any]:
        """What a provider's RegistrarAccount needs to reach this API as ``login`` (the
        password goes to its ``secret``): tests that run a real worker use it."""
        return {
            "module": "centralnic",
            "hostname": "127.0.0.1",
            "port": self._httpd.server_address[1] if self._httpd else self.port,
            "username": login,
            "password": self.accounts[login],
            "extra": {"url": self.url},
        }

    # --- what tests read and change ----------------------------------------------------------

    def domain(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            self._settle()
            found = self._domains.get(name)
            return deepcopy(found) if found else None

    def contact(self, handle: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._contacts.get(handle)
            return deepcopy(found) if found else None

    def seed_domain(self, name: str, *, account: str = "other-reseller", auth: str = "") -> str:
        code = auth or secrets.token_urlsafe(9)
        with self._lock:
            self._domains[name] = self._new_domain(name, account, 1, {}, [], code)
        return code

    def approve_transfer(self, name: str) -> None:
        with self._lock:
            self._transfer_end(self._domains[name], "serverApproved")

    def expire(self, name: str) -> None:
        with self._lock:
            self._domains[name]["expires"] = _now() - timedelta(days=1)
            self._settle()

    # --- the API -----------------------------------------------------------------------------

    def answer(self, body: str) -> str:
        form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        login, password = form.get("s_login", ""), form.get("s_pw", "")
        params: dict[str, str] = {}
        for line in form.get("s_command", "").split("\n"):
            if "=" in line:
                key, value = line.split("=", 1)
                params[key.strip().upper()] = value.strip()
        record = RecordedRequest(login, params)
        with self._lock:
            self.requests.append(record)
            try:
                if self.accounts.get(login) is None or not secrets.compare_digest(
                    self.accounts[login], password
                ):
                    raise ApiFault(530)
                self._validate(params)
                self._settle()
                properties = self._dispatch(login, params)
                code = 200
            except ApiFault as fault:
                record.code = fault.code
                if fault.code in (500, 503, 504):
                    self.invalid_requests.append(record)
                description = MESSAGES.get(fault.code, "Command failed")
                if fault.detail:
                    description = f"{description}; {fault.detail}"
                return f"[RESPONSE]\ncode = {fault.code}\ndescription = {description}\nEOF\n"
        record.code = code
        lines = ["[RESPONSE]", f"code = {code}", f"description = {MESSAGES[code]}"]
        for key, values in properties.items():
            lines.extend(f"property[{key}][{i}] = {v}" for i, v in enumerate(values))
        lines.append("EOF")
        return "\n".join(lines) + "\n"

    def _validate(self, params: dict[str, str]) -> None:
        command = params.get("COMMAND", "").upper()
        if command not in COMMANDS:
            raise ApiFault(500, command or "no command")
        required, optional = COMMANDS[command]
        for key in params:
            if key == "COMMAND":
                continue
            if not any(_matches(key, p) for p in (*required, *optional)):
                raise ApiFault(503, key)
        for pattern in required:
            if not any(_matches(k, pattern) and params[k] for k in params):
                raise ApiFault(504, pattern.rstrip("#"))

    def _dispatch(self, login: str, params: dict[str, str]) -> dict[str, list[str]]:
        handler = getattr(self, f"_cmd_{params['COMMAND'].lower()}")
        return handler(login, params)

    # --- the registry's clock ----------------------------------------------------------------

    def _settle(self) -> None:
        now = _now()
        for record in self._domains.values():
            transfer = record.get("transfer")
            if (
                transfer
                and transfer["status"] == "pending"
                and self.transfer_delay_s is not None
                and now >= transfer["requested"] + timedelta(seconds=self.transfer_delay_s)
            ):
                self._transfer_end(record, "serverApproved")
            if not record["deleted"] and record["expires"] < now:
                record["deleted"] = True
                record["status"] = ["pendingDelete", "redemptionPeriod"]

    def _transfer_end(self, record: dict[str, Any], status: str) -> None:
        transfer = record["transfer"]
        if not transfer or transfer["status"] != "pending":
            raise ApiFault(545, "no pending transfer")
        transfer["status"] = status
        if status in ("serverApproved", "clientApproved"):
            record["account"] = transfer["requester"]
            record["expires"] = _add_years(record["expires"], transfer["period"])
            record["auth"] = secrets.token_urlsafe(9)

    # --- helpers -----------------------------------------------------------------------------

    def _name(self, value: str) -> str:
        name = value.strip().lower().rstrip(".")
        if not _DOMAIN.match(name):
            raise ApiFault(505, "DOMAIN")
        return name

    def _own(self, login: str, value: str) -> dict[str, Any]:
        record = self._domains.get(self._name(value))
        if record is None or record["account"] != login:
            raise ApiFault(545, "domain")
        return record

    def _period(self, value: str) -> int:
        if not value.isdigit():
            raise ApiFault(505, "PERIOD")
        years = int(value)
        if not 1 <= years <= MAX_YEARS:
            raise ApiFault(556)
        return years

    def _nameservers_checked(self, names: list[str]) -> list[str]:
        checked = []
        for value in names:
            name = value.strip().lower().rstrip(".")
            if not _DOMAIN.match(name):
                raise ApiFault(505, "NAMESERVER")
            checked.append(name)
        return checked

    def _ds_checked(self, values: list[str]) -> list[str]:
        for value in values:
            if not _DS.match(value):
                raise ApiFault(505, "DNSSECDSDATA")
        return [v.upper() for v in values]

    def _new_domain(
        self,
        name: str,
        account: str,
        years: int,
        contacts: dict[str, str],
        nameservers: list[str],
        auth: str,
    ) -> dict[str, Any]:
        now = _now()
        return {
            "domain": name,
            "roid": f"{secrets.token_hex(6).upper()}-CNR",
            "account": account,
            "contacts": contacts,
            "nameservers": nameservers,
            "created": now,
            "expires": _add_years(now, years),
            "status": ["ok"],
            "transferlock": False,
            "auth": auth,
            "ds": [],
            "deleted": False,
            "transfer": None,
        }

    def _properties(self, record: dict[str, Any]) -> dict[str, list[str]]:
        contacts = record["contacts"]
        properties = {
            "DOMAIN": [record["domain"]],
            "ROID": [record["roid"]],
            "STATUS": list(record["status"])
            + (["clientTransferProhibited"] if record["transferlock"] else []),
            "CREATEDDATE": [_stamp(record["created"])],
            "REGISTRATIONEXPIRATIONDATE": [_stamp(record["expires"])],
            "NAMESERVER": list(record["nameservers"]),
            "TRANSFERLOCK": ["1" if record["transferlock"] else "0"],
            "AUTH": [record["auth"]],
            "DNSSECDSDATA": list(record["ds"]),
        }
        for kind in ("OWNERCONTACT", "ADMINCONTACT", "TECHCONTACT", "BILLINGCONTACT"):
            if contacts.get(kind):
                properties[kind] = [contacts[kind]]
        return {k: v for k, v in properties.items() if v}

    # --- commands ----------------------------------------------------------------------------

    def _cmd_statusaccount(self, login: str, params: dict[str, str]) -> dict[str, list[str]]:
        return {
            "AMOUNT": ["0.00" if login in self.credit_refused else "1000.00"],
            "CURRENCY": ["EUR"],
        }

    def _cmd_checkdomains(self, login: str, params: dict[str, str]) -> dict[str, list[str]]:
        answers = []
        for value in _numbered(params, "DOMAIN"):
            name = value.strip().lower()
            if not _DOMAIN.match(name) or name.rsplit(".", 1)[-1] not in self.tlds:
                answers.append("541 Invalid attribute value")
            elif name in self._domains:
                answers.append("211 Domain name not available")
            else:
                answers.append("210 Domain name available")
        return {"DOMAINCHECK": answers}

    def _cmd_statusdomain(self, login: str, params: dict[str, str]) -> dict[str, list[str]]:
        return self._properties(self._own(login, params["DOMAIN"]))

    def _cmd_adddomain(self, login: str, params: dict[str, str]) -> dict[str, list[str]]:
        name = self._name(params["DOMAIN"])
        if name.rsplit(".", 1)[-1] not in self.tlds:
            raise ApiFault(541, "TLD not offered")
        years = self._period(params["PERIOD"])
        if name in self._domains:
            raise ApiFault(554)
        contacts = {}
        for kind in ("OWNERCONTACT", "ADMINCONTACT", "TECHCONTACT", "BILLINGCONTACT"):
            handle = params[f"{kind}0"]
            if handle not in self._contacts:
                raise ApiFault(545, kind)
            contacts[kind] = handle
        nameservers = self._nameservers_checked(_numbered(params, "NAMESERVER"))
        if len(nameservers) > 13:
            raise ApiFault(541, "NAMESERVER")
        if login in self.credit_refused:
            raise ApiFault(546)
        record = self._new_domain(
            name,
            login,
            years,
            contacts,
            nameservers,
            params.get("AUTH") or secrets.token_urlsafe(9),
        )
        record["transferlock"] = params.get("TRANSFERLOCK") == "1"
        record["ds"] = self._ds_checked(_numbered(params, "DNSSECDSDATA"))
        self._domains[name] = record
        return {
            "REGISTRATIONEXPIRATIONDATE": [_stamp(record["expires"])],
            "STATUS": ["ACTIVE"],
        }

    def _cmd_renewdomain(self, login: str, params: dict[str, str]) -> dict[str, list[str]]:
        record = self._own(login, params["DOMAIN"])
        years = self._period(params["PERIOD"])
        if not params["EXPIRATION"].isdigit():
            raise ApiFault(505, "EXPIRATION")
        if record["deleted"]:
            raise ApiFault(552, "in redemption")
        if int(params["EXPIRATION"]) != record["expires"].year:
            raise ApiFault(542, "EXPIRATION is not the current expiration year")
        new_expiry = _add_years(record["expires"], years)
        if new_expiry > _add_years(_now(), MAX_YEARS):
            raise ApiFault(556)
        if login in self.credit_refused:
            raise ApiFault(546)
        record["expires"] = new_expiry
        return {"REGISTRATION_EXPIRATION_DATE": [_stamp(new_expiry)]}

    def _cmd_transferdomain(self, login: str, params: dict[str, str]) -> dict[str, list[str]]:
        name = self._name(params["DOMAIN"])
        record = self._domains.get(name)
        action = params["ACTION"].upper()
        if action not in ("REQUEST", "APPROVE", "DENY", "CANCEL"):
            raise ApiFault(505, "ACTION")
        if record is None:
            raise ApiFault(545, "domain")
        transfer = record.get("transfer")
        if action == "REQUEST":
            if not params.get("AUTH"):
                raise ApiFault(504, "AUTH")
            if record["account"] == login:
                raise ApiFault(552, "already in this account")
            if transfer and transfer["status"] == "pending":
                raise ApiFault(553)
            if not secrets.compare_digest(params["AUTH"], record["auth"]):
                raise ApiFault(531, "wrong auth code")
            if record["transferlock"] or record["deleted"]:
                raise ApiFault(552)
            if login in self.credit_refused:
                raise ApiFault(546)
            record["transfer"] = {
                "status": "pending",
                "requester": login,
                "losing": record["account"],
                "requested": _now(),
                "period": self._period(params.get("PERIOD") or "1"),
            }
            return {"TRANSFERSTATUS": ["pending"]}
        if not transfer or transfer["status"] != "pending":
            raise ApiFault(545, "no pending transfer")
        if action in ("APPROVE", "DENY"):
            if record["account"] != login:
                raise ApiFault(531)
            self._transfer_end(
                record, "clientApproved" if action == "APPROVE" else "clientRejected"
            )
        else:
            if transfer["requester"] != login:
                raise ApiFault(531)
            self._transfer_end(record, "clientCancelled")
        return {"TRANSFERSTATUS": [record["transfer"]["status"]]}

    def _cmd_statusdomaintransfer(self, login: str, params: dict[str, str]) -> dict[str, list[str]]:
        record = self._domains.get(self._name(params["DOMAIN"]))
        transfer = record.get("transfer") if record else None
        if not transfer or login not in (transfer["requester"], transfer["losing"]):
            raise ApiFault(545, "no transfer")
        return {
            "DOMAIN": [record["domain"]],
            "TRANSFERSTATUS": [transfer["status"]],
            "REQUESTINGREGISTRAR": [transfer["requester"]],
            "TRANSFERDATE": [_stamp(transfer["requested"])],
            "REGISTRATIONEXPIRATIONDATE": [_stamp(record["expires"])],
        }

    def _cmd_modifydomain(self, login: str, params: dict[str, str]) -> dict[str, list[str]]:
        record = self._own(login, params["DOMAIN"])
        if record["deleted"]:
            raise ApiFault(552, "in redemption")
        nameservers = _numbered(params, "NAMESERVER")
        if nameservers:
            record["nameservers"] = self._nameservers_checked(nameservers)
        if "TRANSFERLOCK" in params:
            if params["TRANSFERLOCK"] not in ("0", "1"):
                raise ApiFault(505, "TRANSFERLOCK")
            record["transferlock"] = params["TRANSFERLOCK"] == "1"
        if params.get("AUTH"):
            record["auth"] = params["AUTH"]
        if any(k.startswith("DNSSECDSDATA") for k in params):
            record["ds"] = self._ds_checked(_numbered(params, "DNSSECDSDATA"))
        return {}

    def _cmd_tradedomain(self, login: str, params: dict[str, str]) -> dict[str, list[str]]:
        record = self._own(login, params["DOMAIN"])
        if params["OWNERCONTACT0"] not in self._contacts:
            raise ApiFault(545, "OWNERCONTACT")
        record["contacts"]["OWNERCONTACT"] = params["OWNERCONTACT0"]
        return {}

    def _cmd_deletedomain(self, login: str, params: dict[str, str]) -> dict[str, list[str]]:
        record = self._own(login, params["DOMAIN"])
        if record["deleted"] or record["transferlock"]:
            raise ApiFault(552)
        record["deleted"] = True
        record["status"] = ["pendingDelete", "redemptionPeriod"]
        return {}

    def _cmd_restoredomain(self, login: str, params: dict[str, str]) -> dict[str, list[str]]:
        record = self._own(login, params["DOMAIN"])
        if not record["deleted"]:
            raise ApiFault(552, "not in redemption")
        record["deleted"] = False
        record["status"] = ["ok"]
        if record["expires"] < _now():
            record["expires"] = _add_years(record["expires"], 1)
        return {"REGISTRATIONEXPIRATIONDATE": [_stamp(record["expires"])]}

    def _contact_values(self, params: dict[str, str]) -> dict[str, str]:
        if "COUNTRY" in params and not re.fullmatch(r"[A-Z]{2}", params["COUNTRY"]):
            raise ApiFault(505, "COUNTRY")
        if "EMAIL" in params and "@" not in params["EMAIL"]:
            raise ApiFault(505, "EMAIL")
        if "PHONE" in params and not _PHONE.match(params["PHONE"]):
            raise ApiFault(505, "PHONE")
        return {k: v for k, v in params.items() if k != "COMMAND"}

    def _cmd_addcontact(self, login: str, params: dict[str, str]) -> dict[str, list[str]]:
        values = self._contact_values(params)
        handle = f"P-{secrets.token_hex(4).upper()}"
        self._contacts[handle] = {"account": login, **values}
        return {"CONTACT": [handle], "VALIDATED": ["1"]}

    def _cmd_modifycontact(self, login: str, params: dict[str, str]) -> dict[str, list[str]]:
        contact = self._contacts.get(params["CONTACT"])
        if contact is None or contact["account"] != login:
            raise ApiFault(545, "CONTACT")
        contact.update(self._contact_values({k: v for k, v in params.items() if k != "CONTACT"}))
        return {}

    def _cmd_addnameserver(self, login: str, params: dict[str, str]) -> dict[str, list[str]]:
        name = self._nameservers_checked([params["NAMESERVER"]])[0]
        parent = next((d for d in self._domains if name.endswith("." + d)), None)
        if parent is None or self._domains[parent]["account"] != login:
            raise ApiFault(550)
        if name in self._nameservers:
            raise ApiFault(554, "nameserver exists")
        addresses = []
        for value in _numbered(params, "IPADDRESS"):
            try:
                addresses.append(str(ipaddress.ip_address(value)))
            except ValueError:
                raise ApiFault(505, "IPADDRESS") from None
        self._nameservers[name] = {"account": login, "addresses": addresses}
        return {}

    def _cmd_statusnameserver(self, login: str, params: dict[str, str]) -> dict[str, list[str]]:
        name = params["NAMESERVER"].strip().lower()
        found = self._nameservers.get(name)
        if found is None:
            raise ApiFault(545, "NAMESERVER")
        return {"NAMESERVER": [name], "IPADDRESS": list(found["addresses"])}
