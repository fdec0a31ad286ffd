"""The CentralNic Reseller domain API (formerly RRPproxy), through its official client
library ``centralnicreseller-apiconnector`` (6.x), the only module that imports it.

Commands and parameters follow the CentralNic Reseller API command reference
(https://kb.centralnicreseller.com/api/api-command/): CheckDomains, StatusDomain,
AddDomain, RenewDomain (with EXPIRATION, the current expiry year, so a replayed renewal
is refused), TransferDomain (ACTION=REQUEST|APPROVE|DENY|CANCEL), StatusDomainTransfer,
ModifyDomain (NAMESERVER#, TRANSFERLOCK, AUTH, DNSSECDSDATA#), TradeDomain (a new
registrant), DeleteDomain, RestoreDomain, AddContact, ModifyContact, AddNameserver,
StatusNameserver, StatusAccount. Response codes are those of the registry-registrar
protocol the API inherited (RFC 2832, RRP 1.1.0): 2xx success, 4xx temporary (retry), 5xx
refused, each mapped to an ``ErrorKind``.

Connection (``ServerConnection``): ``username``/``secret`` are the API login and password;
``extra["url"]`` the API address (the library's live system when empty, its test system
with ``extra["ote"]``). What the API does not offer through these commands (client status
values other than the transfer lock, removing every DS record, the poll queue: transfers
are followed with StatusDomainTransfer) raises ``ErrorKind.UNSUPPORTED``.

Contact data goes only into AddContact/ModifyContact; the library's debug log (which
would print commands) stays off, and no error message carries a contact field.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime

from centralnicreseller.apiconnector.apiclient import APIClient
from centralnicreseller.apiconnector.response import Response

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
    check_years,
    lock_of,
    normalize_domain,
    normalize_host,
    normalize_nameservers,
)

CHECK_BATCH = 32  # CheckDomains takes DOMAIN0 to DOMAIN31

# RFC 2832 (RRP 1.1.0) codes as the API answers them.
_KINDS: dict[int, ErrorKind] = {
    500: ErrorKind.INVALID,
    501: ErrorKind.INVALID,
    502: ErrorKind.INVALID,
    503: ErrorKind.INVALID,
    504: ErrorKind.INVALID,
    505: ErrorKind.INVALID,
    506: ErrorKind.INVALID,
    507: ErrorKind.INVALID,
    508: ErrorKind.INVALID,
    509: ErrorKind.INVALID,
    530: ErrorKind.AUTHORIZATION,
    531: ErrorKind.AUTHORIZATION,
    532: ErrorKind.PROHIBITED,
    533: ErrorKind.PROHIBITED,
    540: ErrorKind.EXISTS,
    541: ErrorKind.POLICY,
    542: ErrorKind.POLICY,
    544: ErrorKind.PROHIBITED,
    545: ErrorKind.NOT_FOUND,
    546: ErrorKind.BILLING,
    548: ErrorKind.POLICY,
    550: ErrorKind.NOT_FOUND,
    551: ErrorKind.PROHIBITED,
    552: ErrorKind.PROHIBITED,
    553: ErrorKind.PENDING,
    554: ErrorKind.EXISTS,
    555: ErrorKind.POLICY,
    556: ErrorKind.POLICY,
}
_TRANSFER_STATUSES = {
    "pending": "pending",
    "requested": "pending",
    "serverapproved": "serverApproved",
    "clientapproved": "clientApproved",
    "clientcancelled": "clientCancelled",
    "clientrejected": "clientRejected",
    "servercancelled": "serverCancelled",
    "successful": "serverApproved",
}


def _date(text: str) -> date | None:
    if not text:
        return None
    return datetime.strptime(text[:10], "%Y-%m-%d").date()


class CentralNicRegistrar(Registrar):
    name = "centralnic"
    label = "CentralNic Reseller API"

    def __init__(self, connection: ServerConnection) -> None:
        super().__init__(connection)
        self._client = APIClient()
        if connection.extra.get("url"):
            self._client.setURL(connection.extra["url"])
        elif connection.extra.get("ote"):
            self._client.useOTESystem()
        self._client.setCredentials(connection.username, connection.secret)
        # The library counts its timeout as if in milliseconds and offers no setter.
        self._client._APIClient__socketTimeout = connection.timeout_s  # type: ignore[attr-defined]
        self._secrets: set[str] = {connection.secret} if connection.secret else set()

    # --- one call ----------------------------------------------------------------------------

    def _call(
        self, command: dict[str, object], *, what: str, quiet: bool = False
    ) -> dict[str, list[str]]:
        response: Response = self._client.request(dict(command))
        code = response.getCode()
        if 200 <= code < 300:
            properties = response.getHash().get("PROPERTY", {})
            return {key.upper(): list(values) for key, values in properties.items()}
        text = "" if quiet else self._scrub(response.getDescription())
        message = f"centralnic: {what} refused with {code}"
        if 400 <= code < 500 or code in (520, 521):
            raise RegistryUnavailableError(message, code=code, registry_text=text)
        kind = _KINDS.get(code, ErrorKind.FAILED)
        if kind == ErrorKind.EXISTS and what.startswith("AddDomain"):
            raise DomainUnavailableError(message, code=code, registry_text=text)
        raise RegistryError(message, code=code, kind=kind, registry_text=text)

    def _scrub(self, text: str) -> str:
        for value in self._secrets:
            if value and len(value) >= 4:
                text = text.replace(value, MASK)
        return text

    @staticmethod
    def _unsupported(what: str) -> RegistryError:
        return RegistryError(
            f"centralnic: {what} is not offered by the reseller API",
            code=0,
            kind=ErrorKind.UNSUPPORTED,
        )

    # --- domains -----------------------------------------------------------------------------

    def check(self, domains: list[str]) -> list[DomainAvailability]:
        names = [normalize_domain(d) for d in domains]
        answers: list[DomainAvailability] = []
        for start in range(0, len(names), CHECK_BATCH):
            batch = names[start : start + CHECK_BATCH]
            properties = self._call(
                {"COMMAND": "CheckDomains", "DOMAIN": batch}, what="CheckDomains"
            )
            results = properties.get("DOMAINCHECK", [])
            for index, name in enumerate(batch):
                result = results[index] if index < len(results) else "549 no answer"
                code, _, reason = result.partition(" ")
                answers.append(DomainAvailability(name, code == "210", reason))
        return answers

    def info(self, domain: str) -> DomainInfo | None:
        name = normalize_domain(domain)
        try:
            properties = self._call(
                {"COMMAND": "StatusDomain", "DOMAIN": name}, what="StatusDomain"
            )
        except RegistryError as exc:
            if exc.code == 545:
                return None
            raise
        return _domain_info(name, properties)

    def _require_info(self, name: str) -> DomainInfo:
        info = self.info(name)
        if info is None:
            raise RegistryError(
                f"centralnic: the account holds no {name}", code=545, kind=ErrorKind.NOT_FOUND
            )
        return info

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
        servers = list(normalize_nameservers(nameservers)) if nameservers else []
        command: dict[str, object] = {
            "COMMAND": "AddDomain",
            "DOMAIN": name,
            "PERIOD": years,
            "OWNERCONTACT0": contact_ref,
            "ADMINCONTACT0": admin_ref or contact_ref,
            "TECHCONTACT0": tech_ref or contact_ref,
            "BILLINGCONTACT0": tech_ref or contact_ref,
            "TRANSFERLOCK": 1,
        }
        if servers:
            command["NAMESERVER"] = servers
        try:
            self._call(command, what=f"AddDomain of {name}")
        except DomainUnavailableError:
            held = self.info(name)  # ours already, from an attempt whose reply was lost?
            if held and held.registrant == contact_ref:
                return held
            raise
        return self._require_info(name)

    def renew(self, domain: str, years: int, *, current_expiry: date) -> DomainInfo:
        name = normalize_domain(domain)
        check_years(years, "renewal")
        self._call(
            {
                "COMMAND": "RenewDomain",
                "DOMAIN": name,
                "PERIOD": years,
                "EXPIRATION": current_expiry.year,
            },
            what=f"RenewDomain of {name}",
        )
        return self._require_info(name)

    def delete(self, domain: str) -> None:
        name = normalize_domain(domain)
        self._call({"COMMAND": "DeleteDomain", "DOMAIN": name}, what=f"DeleteDomain of {name}")

    def restore(self, domain: str) -> DomainInfo:
        name = normalize_domain(domain)
        self._call({"COMMAND": "RestoreDomain", "DOMAIN": name}, what=f"RestoreDomain of {name}")
        return self._require_info(name)

    # --- transfers ---------------------------------------------------------------------------

    def transfer_request(
        self, domain: str, auth_code: str, *, years: int = 1, contact_ref: str = ""
    ) -> TransferInfo:
        name = normalize_domain(domain)
        check_years(years, "transfer")
        if not auth_code:
            raise RegistryError(
                "a transfer needs the domain's auth code", code=504, kind=ErrorKind.INVALID
            )
        self._secrets.add(auth_code)
        try:
            self._call(
                {
                    "COMMAND": "TransferDomain",
                    "DOMAIN": name,
                    "ACTION": "REQUEST",
                    "AUTH": auth_code,
                    "PERIOD": years,
                },
                what=f"TransferDomain request of {name}",
            )
        except RegistryError as exc:
            if exc.code != 553:
                raise
            current = self.transfer_query(name)  # pending already: ours, replayed?
            if current.requested_by != self.connection.username:
                raise
            return current
        return self.transfer_query(name)

    def transfer_query(self, domain: str, auth_code: str = "") -> TransferInfo:
        name = normalize_domain(domain)
        properties = self._call(
            {"COMMAND": "StatusDomainTransfer", "DOMAIN": name}, what="StatusDomainTransfer"
        )

        def first(key: str) -> str:
            return (properties.get(key) or [""])[0]

        raw = first("TRANSFERSTATUS")
        return TransferInfo(
            domain=name,
            status=_TRANSFER_STATUSES.get(raw.lower(), raw),
            requested_by=first("REQUESTINGREGISTRAR"),
            requested_at=(
                datetime.fromisoformat(first("TRANSFERDATE")) if first("TRANSFERDATE") else None
            ),
            expires_on=_date(first("REGISTRATIONEXPIRATIONDATE")),
        )

    def _transfer_act(self, domain: str, action: str) -> TransferInfo:
        name = normalize_domain(domain)
        self._call(
            {"COMMAND": "TransferDomain", "DOMAIN": name, "ACTION": action},
            what=f"TransferDomain {action.lower()} of {name}",
        )
        return self.transfer_query(name)

    def transfer_approve(self, domain: str) -> TransferInfo:
        return self._transfer_act(domain, "APPROVE")

    def transfer_reject(self, domain: str) -> TransferInfo:
        return self._transfer_act(domain, "DENY")

    def transfer_cancel(self, domain: str) -> TransferInfo:
        return self._transfer_act(domain, "CANCEL")

    # --- updates -----------------------------------------------------------------------------

    def _modify(self, name: str, what: str, **params: object) -> DomainInfo:
        self._call({"COMMAND": "ModifyDomain", "DOMAIN": name, **params}, what=f"{what} of {name}")
        return self._require_info(name)

    def set_nameservers(self, domain: str, nameservers: list[str]) -> DomainInfo:
        name = normalize_domain(domain)
        return self._modify(
            name, "ModifyDomain nameservers", NAMESERVER=list(normalize_nameservers(nameservers))
        )

    def set_statuses(
        self, domain: str, *, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()
    ) -> DomainInfo:
        # The API's one client status is the transfer lock (TRANSFERLOCK); the registrar
        # keeps deletion locked by itself.
        if set(add) - set(LOCK_STATUSES) or set(remove) - set(LOCK_STATUSES):
            raise self._unsupported("a status other than the transfer lock")
        name = normalize_domain(domain)
        locked = bool(add) and not remove
        return self._modify(name, "ModifyDomain lock", TRANSFERLOCK=1 if locked else 0)

    def set_dnssec(self, domain: str, ds_records: list[DsRecord]) -> DomainInfo:
        name = normalize_domain(domain)
        if not ds_records:
            raise self._unsupported("removing every DS record")
        values = []
        for record in ds_records:
            digest = record.digest.strip().upper()
            try:
                bytes.fromhex(digest)
            except ValueError:
                raise RegistryError(
                    "a DS record's digest is not hexadecimal", code=505, kind=ErrorKind.INVALID
                ) from None
            values.append(f"{record.key_tag} {record.algorithm} {record.digest_type} {digest}")
        return self._modify(name, "ModifyDomain DNSSEC", DNSSECDSDATA=values)

    def set_registrant(self, domain: str, contact_ref: str) -> DomainInfo:
        name = normalize_domain(domain)
        self._call(
            {"COMMAND": "TradeDomain", "DOMAIN": name, "OWNERCONTACT0": contact_ref},
            what=f"TradeDomain of {name}",
        )
        return self._require_info(name)

    def auth_code(self, domain: str) -> str:
        name = normalize_domain(domain)
        properties = self._call({"COMMAND": "StatusDomain", "DOMAIN": name}, what="StatusDomain")
        code = (properties.get("AUTH") or [""])[0]
        if not code:
            raise RegistryError(
                "centralnic: no auth code came back", code=531, kind=ErrorKind.AUTHORIZATION
            )
        self._secrets.add(code)
        return code

    def auth_code_reset(self, domain: str) -> str:
        code = secrets.token_urlsafe(12)
        self._secrets.add(code)
        self._modify(normalize_domain(domain), "ModifyDomain auth code", AUTH=code)
        return code

    # --- hosts and contacts ------------------------------------------------------------------

    def host_create(self, name: str, addresses: list[str]) -> HostInfo:
        host = normalize_host(name)
        try:
            self._call(
                {"COMMAND": "AddNameserver", "NAMESERVER": host, "IPADDRESS": list(addresses)},
                what=f"AddNameserver {host}",
            )
        except RegistryError as exc:
            existing = self.host_info(host) if exc.code == 554 else None
            if existing is None or sorted(existing.addresses) != sorted(addresses):
                raise
            return existing
        info = self.host_info(host)
        assert info is not None
        return info

    def host_info(self, name: str) -> HostInfo | None:
        host = normalize_host(name)
        try:
            properties = self._call(
                {"COMMAND": "StatusNameserver", "NAMESERVER": host}, what="StatusNameserver"
            )
        except RegistryError as exc:
            if exc.code == 545:
                return None
            raise
        return HostInfo(host, tuple(properties.get("IPADDRESS", [])))

    def contact_create(self, contact: Contact) -> str:
        properties = self._call(
            {"COMMAND": "AddContact", "NEW": 1, **_contact_params(contact)},
            what="AddContact",
            quiet=True,
        )
        handle = (properties.get("CONTACT") or [""])[0]
        if not handle:
            raise RegistryError("centralnic: AddContact gave no handle", code=549)
        return handle

    def contact_update(self, handle: str, contact: Contact) -> None:
        self._call(
            {"COMMAND": "ModifyContact", "CONTACT": handle, **_contact_params(contact)},
            what=f"ModifyContact {handle}",
            quiet=True,
        )

    def poll(self) -> PollMessage | None:
        raise self._unsupported("the poll queue")

    def poll_ack(self, message_id: str) -> int:
        raise self._unsupported("the poll queue")

    def test_connection(self) -> str:
        properties = self._call({"COMMAND": "StatusAccount"}, what="StatusAccount")
        amount = (properties.get("AMOUNT") or ["?"])[0]
        currency = (properties.get("CURRENCY") or [""])[0]
        return (
            f"CentralNic Reseller account {self.connection.username}: balance {amount} {currency}"
        )


def _contact_params(contact: Contact) -> dict[str, object]:
    if not (contact.name and contact.email and contact.city and contact.street):
        raise RegistryError(
            "the contact lacks its name, e-mail, street or city", code=504, kind=ErrorKind.INVALID
        )
    first, _, last = contact.name.strip().rpartition(" ")
    params: dict[str, object] = {
        "FIRSTNAME": first or last,
        "LASTNAME": last,
        "STREET": [s for s in contact.street if s][:3],
        "CITY": contact.city,
        "ZIP": contact.postcode,
        "COUNTRY": contact.country_code.upper(),
        "PHONE": contact.phone,
        "EMAIL": contact.email,
    }
    if contact.organisation:
        params["ORGANIZATION"] = contact.organisation
    if contact.state:
        params["STATE"] = contact.state
    if contact.fax:
        params["FAX"] = contact.fax
    return params


def _domain_info(name: str, properties: dict[str, list[str]]) -> DomainInfo:
    def first(key: str) -> str:
        return (properties.get(key) or [""])[0]

    statuses = tuple(properties.get("STATUS", ()))
    expires = _date(first("REGISTRATIONEXPIRATIONDATE"))
    lowered = {s.lower() for s in statuses}
    if "redemptionperiod" in lowered or "pendingrestore" in lowered:
        status = DomainStatus.REDEMPTION
    elif "pendingtransfer" in lowered:
        status = DomainStatus.PENDING_TRANSFER
    elif expires and expires < date.today():
        status = DomainStatus.EXPIRED
    else:
        status = DomainStatus.ACTIVE
    ds = []
    for value in properties.get("DNSSECDSDATA", []):
        key_tag, algorithm, digest_type, digest = value.split(" ", 3)
        ds.append(DsRecord(int(key_tag), int(algorithm), int(digest_type), digest.upper()))
    return DomainInfo(
        domain=name,
        remote_id=first("ROID"),
        status=status.value,
        expires_on=expires,
        nameservers=tuple(n.lower() for n in properties.get("NAMESERVER", [])),
        locked=first("TRANSFERLOCK") == "1" or lock_of(statuses),
        statuses=statuses,
        registrant=first("OWNERCONTACT"),
        contacts={
            kind: first(f"{kind.upper()}CONTACT")
            for kind in ("admin", "tech", "billing")
            if first(f"{kind.upper()}CONTACT")
        },
        ds_records=tuple(ds),
        created_on=_date(first("CREATEDDATE")),
    )
