"""The contract every domain registrar module fulfils.

A registrar module speaks to one registry or registrar account (EPP, a reseller API,
the simulated one) and offers the same operations: check, register, info, renew,
transfer (request, query, approve, reject, cancel), updates (nameservers, status
locks, DNSSEC, registrant), glue hosts, contacts, the poll queue, restore from
redemption, and the domain's auth code.

Errors: a registry that refuses a command raises ``RegistryError`` with the
registry's own result code (EPP's 2xxx, a reseller API's 5xx), its text, and
``kind``, one of ``ErrorKind``, so callers show one clear, translated message per kind
whatever the protocol. A registry that cannot answer now (network trouble, EPP 2400
and 25xx) raises ``RegistryUnavailableError``, a ``TransientModuleError``: retry later.

Privacy: a registrant's name, address, e-mail and phone travel only inside a
``Contact`` handed to ``contact_create``/``contact_update``; the module creates the
contact at the registry and answers with the registry's handle, which is all anybody
stores. ``Contact`` masks itself in ``repr`` and no module logs or echoes its fields.
Auth codes are secrets too: never logged, never part of an error message.
"""

from __future__ import annotations

import contextlib
import importlib
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

import idna

from provisioning.modules.base import (
    MASK,
    PermanentModuleError,
    ServerConnection,
    TransientModuleError,
)

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+(?:[a-z]{{2,63}}|xn--[a-z0-9-]{{1,59}})$")
_HOST = re.compile(rf"^(?:{_LABEL}\.)+{_LABEL}$")

MIN_YEARS, MAX_YEARS = 1, 10


# --- data -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DomainAvailability:
    domain: str
    available: bool
    reason: str = ""
    premium: bool = False


class DomainStatus(StrEnum):
    """The summary status callers act on; ``DomainInfo.statuses`` has the registry's own."""

    ACTIVE = "active"
    PENDING_CREATE = "pending_create"
    PENDING_TRANSFER = "pending_transfer"
    EXPIRED = "expired"
    REDEMPTION = "redemption"  # deleted or expired: only restore brings it back
    PENDING_DELETE = "pending_delete"


# The EPP status values (RFC 5731 §2.3) a client may set, and what "locked" means here.
LOCK_STATUSES = ("clientTransferProhibited", "clientDeleteProhibited")
CLIENT_STATUSES = (
    "clientDeleteProhibited",
    "clientHold",
    "clientRenewProhibited",
    "clientTransferProhibited",
    "clientUpdateProhibited",
)


@dataclass(frozen=True)
class DsRecord:
    """A DNSSEC delegation signer record (RFC 4034 §5; secDNS-1.1 dsData)."""

    key_tag: int
    algorithm: int
    digest_type: int
    digest: str


@dataclass(frozen=True)
class DomainInfo:
    domain: str
    remote_id: str
    status: str  # a DomainStatus value
    expires_on: date | None
    nameservers: tuple[str, ...] = ()
    locked: bool = True
    # The registry's own status values (RFC 5731 §2.3: "ok", "clientTransferProhibited"...).
    statuses: tuple[str, ...] = ()
    registrant: str = ""  # the registrant's contact handle at the registry
    contacts: dict[str, str] = field(default_factory=dict)  # "admin"/"tech"/"billing" → handle
    hosts: tuple[str, ...] = ()  # subordinate hosts (glue) the registry holds for the domain
    ds_records: tuple[DsRecord, ...] = ()
    created_on: date | None = None
    details: dict[str, object] = field(default_factory=dict)


class TransferStatus(StrEnum):
    """RFC 5730 §2.9.3.4 trStatus values."""

    PENDING = "pending"
    CLIENT_APPROVED = "clientApproved"
    CLIENT_CANCELLED = "clientCancelled"
    CLIENT_REJECTED = "clientRejected"
    SERVER_APPROVED = "serverApproved"
    SERVER_CANCELLED = "serverCancelled"


@dataclass(frozen=True)
class TransferInfo:
    domain: str
    status: str  # a TransferStatus value
    requested_by: str = ""
    requested_at: datetime | None = None
    action_by: str = ""
    action_at: datetime | None = None
    expires_on: date | None = None

    @property
    def completed(self) -> bool:
        return self.status in (TransferStatus.CLIENT_APPROVED, TransferStatus.SERVER_APPROVED)

    @property
    def pending(self) -> bool:
        return self.status == TransferStatus.PENDING


@dataclass(frozen=True)
class HostInfo:
    name: str
    addresses: tuple[str, ...] = ()  # IPv4 and IPv6, as text
    statuses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Contact:
    """A registrant or other contact, held in memory only on its way to the registry.

    ``repr`` shows nothing of it, so it cannot reach a log line by accident."""

    name: str
    email: str
    phone: str  # E.164 as EPP writes it: +CC.NUMBER
    street: tuple[str, ...]
    city: str
    postcode: str
    country_code: str  # ISO 3166-1 alpha-2
    organisation: str = ""
    state: str = ""
    fax: str = ""

    def __repr__(self) -> str:
        return f"Contact({MASK})"

    __str__ = __repr__


@dataclass(frozen=True)
class PollMessage:
    """One message of the registry's poll queue (RFC 5730 §2.9.2.3)."""

    id: str
    text: str
    queued_at: datetime | None = None
    domain: str = ""
    transfer_status: str = ""  # for transfer notices: the TransferStatus now
    remaining: int = 0  # messages left in the queue, this one included


# --- errors -----------------------------------------------------------------------------------


class ErrorKind(StrEnum):
    """What went wrong, whatever the protocol calls it; each gets its own message."""

    INVALID = "invalid"  # syntax or a parameter the registry refuses (EPP 2001-2005)
    UNSUPPORTED = "unsupported"  # TLD, command or extension not offered (2100-2104)
    AUTHORIZATION = "authorization"  # wrong auth code or not our object (2201, 2202)
    EXISTS = "exists"  # the domain/host/contact exists (2302): not available
    NOT_FOUND = "not_found"  # no such object (2303)
    PROHIBITED = "prohibited"  # a status forbids it (2304), or it is in use (2305)
    POLICY = "policy"  # the registry's policy says no (2306, 2308: period, expiry date...)
    PENDING = "pending"  # a transfer is already pending (2300), or none is (2301)
    BILLING = "billing"  # the registrar account cannot pay (2104)
    FAILED = "failed"  # anything else


class RegistryError(PermanentModuleError):
    """The registry refused the command. ``code`` is its result code, ``kind`` what it
    means, ``panel_message`` the registry's own words (never holding a secret)."""

    def __init__(
        self, message: str, *, code: int = 0, kind: str = ErrorKind.FAILED, registry_text: str = ""
    ) -> None:
        super().__init__(message, registry_text)
        self.code = code
        self.kind = ErrorKind(kind)


class DomainUnavailableError(RegistryError):
    """Somebody else holds the domain (or the registry refuses it)."""

    def __init__(self, message: str, *, code: int = 2302, registry_text: str = "") -> None:
        super().__init__(message, code=code, kind=ErrorKind.EXISTS, registry_text=registry_text)


class RegistryUnavailableError(TransientModuleError):
    """The registry cannot answer now (connection, EPP 2400/25xx): worth retrying."""

    def __init__(self, message: str, *, code: int = 0, registry_text: str = "") -> None:
        super().__init__(message, registry_text)
        self.code = code


class UnsupportedTldError(RegistryError):
    """No registrar account of the provider serves this TLD."""

    def __init__(self, tld: str) -> None:
        super().__init__(
            f"no registrar serves .{tld}", code=2306, kind=ErrorKind.UNSUPPORTED, registry_text=""
        )
        self.tld = tld


# --- the contract -----------------------------------------------------------------------------


class Registrar(ABC):
    """One registrar account. Domain names are taken in any case or as Unicode and sent
    as A-labels (``normalize_domain``). Every method either returns what the registry
    now holds or raises one of the errors above; none logs contact data or auth codes.

    Retries: ``register`` of a name we already hold with the same registrant returns it;
    ``renew`` names the expiry it extends, so a renewal replayed after it succeeded is
    refused (``ErrorKind.POLICY``) rather than charged twice: read ``info`` to see it.
    """

    name: str = ""
    label: str = ""

    def __init__(self, connection: ServerConnection) -> None:
        self.connection = connection

    # Availability and reading.

    @abstractmethod
    def check(self, domains: list[str]) -> list[DomainAvailability]:
        """Availability of several names at once, in the order given."""

    def check_availability(self, domain: str) -> DomainAvailability:
        return self.check([domain])[0]

    @abstractmethod
    def info(self, domain: str) -> DomainInfo | None:
        """The domain as the registry holds it for us, or None when it does not exist."""

    def get_domain(self, domain: str) -> DomainInfo | None:
        return self.info(domain)

    # The domain's life.

    @abstractmethod
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
        """Registers the domain for ``years`` with ``contact_ref`` as registrant (and as
        the admin/tech contact unless given); registering again a domain we already hold
        for the same registrant returns it."""

    @abstractmethod
    def renew(self, domain: str, years: int, *, current_expiry: date) -> DomainInfo:
        """Extends the registration by ``years`` from ``current_expiry``, which must be
        the registry's expiry date now (RFC 5731 §3.2.3); the result has the new one."""

    @abstractmethod
    def delete(self, domain: str) -> None:
        """Deletes the domain: it enters the redemption period, from which ``restore``
        brings it back."""

    @abstractmethod
    def restore(self, domain: str) -> DomainInfo:
        """Restores a domain in redemption (RFC 3915 request and report)."""

    # Transfers.

    @abstractmethod
    def transfer_request(
        self, domain: str, auth_code: str, *, years: int = 1, contact_ref: str = ""
    ) -> TransferInfo:
        """Asks for the domain to move to us. Usually answers pending (EPP 1001): the
        losing side approves, rejects or lets the registry approve it after some days;
        ``transfer_query`` or the poll queue tell. A request for a domain already moving
        to us answers its transfer as it stands."""

    @abstractmethod
    def transfer_query(self, domain: str, auth_code: str = "") -> TransferInfo: ...

    @abstractmethod
    def transfer_approve(self, domain: str) -> TransferInfo:
        """Lets a domain of ours go to the registrar that asked for it."""

    @abstractmethod
    def transfer_reject(self, domain: str) -> TransferInfo: ...

    @abstractmethod
    def transfer_cancel(self, domain: str) -> TransferInfo:
        """Withdraws our own pending request."""

    # Updates.

    @abstractmethod
    def set_nameservers(self, domain: str, nameservers: list[str]) -> DomainInfo: ...

    @abstractmethod
    def set_statuses(
        self, domain: str, *, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()
    ) -> DomainInfo:
        """Adds and removes client status values (``CLIENT_STATUSES``)."""

    def set_lock(self, domain: str, locked: bool) -> DomainInfo:
        """The registrar lock: ``LOCK_STATUSES`` on or off."""
        if locked:
            return self.set_statuses(domain, add=LOCK_STATUSES)
        return self.set_statuses(domain, remove=LOCK_STATUSES)

    @abstractmethod
    def set_dnssec(self, domain: str, ds_records: list[DsRecord]) -> DomainInfo:
        """Replaces the domain's DS records; an empty list turns DNSSEC off."""

    @abstractmethod
    def set_registrant(self, domain: str, contact_ref: str) -> DomainInfo: ...

    @abstractmethod
    def auth_code(self, domain: str) -> str:
        """The domain's current auth code (for a transfer away): a secret, shown once."""

    @abstractmethod
    def auth_code_reset(self, domain: str) -> str:
        """Sets a new random auth code and returns it."""

    # Hosts and contacts.

    @abstractmethod
    def host_create(self, name: str, addresses: list[str]) -> HostInfo:
        """A host under one of our domains with its glue addresses; creating it again
        with the same addresses returns it."""

    @abstractmethod
    def host_info(self, name: str) -> HostInfo | None: ...

    @abstractmethod
    def contact_create(self, contact: Contact) -> str:
        """Creates the contact at the registry and returns its handle (nothing else)."""

    @abstractmethod
    def contact_update(self, handle: str, contact: Contact) -> None: ...

    # The poll queue.

    @abstractmethod
    def poll(self) -> PollMessage | None:
        """The oldest message of the queue, or None when it is empty."""

    @abstractmethod
    def poll_ack(self, message_id: str) -> int:
        """Removes the message from the queue; returns how many are left."""

    def poll_drain(self) -> list[PollMessage]:
        """Reads and acknowledges every queued message, oldest first."""
        messages: list[PollMessage] = []
        while (message := self.poll()) is not None:
            messages.append(message)
            self.poll_ack(message.id)
        return messages

    # The account.

    @abstractmethod
    def test_connection(self) -> str:
        """Logs in and returns a one-line description of the registry."""

    def close(self) -> None:  # noqa: B027 - optional hook, most registrars hold nothing
        """Releases connections; nothing to do by default."""

    def __enter__(self) -> Registrar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --- helpers every module uses ----------------------------------------------------------------


def normalize_domain(domain: str) -> str:
    """Lower-cases and IDNA-encodes (IDNA 2008, UTS 46) a domain, or raises RegistryError."""
    text = (domain or "").strip().rstrip(".")
    try:
        ascii_name = idna.encode(text, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError, ValueError):
        raise RegistryError(
            f"{domain!r} is not a valid domain name", code=2005, kind=ErrorKind.INVALID
        ) from None
    if len(ascii_name) > 253 or not _DOMAIN.match(ascii_name):
        raise RegistryError(
            f"{domain!r} is not a valid domain name", code=2005, kind=ErrorKind.INVALID
        )
    return ascii_name


def domain_tld(domain: str) -> str:
    """The last label, as an A-label."""
    return normalize_domain(domain).rsplit(".", 1)[-1]


def normalize_host(name: str) -> str:
    text = (name or "").strip().rstrip(".").lower()
    with contextlib.suppress(UnicodeError):  # not IDNA-encodable: the pattern below says no
        text = text.encode("idna").decode("ascii")
    if len(text) > 253 or not _HOST.match(text):
        raise RegistryError(f"{name!r} is not a valid host name", code=2005, kind=ErrorKind.INVALID)
    return text


def normalize_nameservers(nameservers: list[str]) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(ns.strip().rstrip(".").lower() for ns in nameservers if ns))
    if not 2 <= len(names) <= 13:
        raise RegistryError(
            "a domain needs between 2 and 13 nameservers", code=2306, kind=ErrorKind.POLICY
        )
    for name in names:
        if not _HOST.match(name):
            raise RegistryError(
                f"{name!r} is not a valid nameserver host name", code=2005, kind=ErrorKind.INVALID
            )
    return names


def check_years(years: int, what: str = "registration") -> None:
    if not isinstance(years, int) or not MIN_YEARS <= years <= MAX_YEARS:
        raise RegistryError(
            f"{what} period must be {MIN_YEARS} to {MAX_YEARS} years",
            code=2306,
            kind=ErrorKind.POLICY,
        )


def check_statuses(statuses: tuple[str, ...]) -> None:
    for status in statuses:
        if status not in CLIENT_STATUSES:
            raise RegistryError(
                f"{status!r} is not a status a registrar may set",
                code=2005,
                kind=ErrorKind.INVALID,
            )


def lock_of(statuses: tuple[str, ...]) -> bool:
    return "clientTransferProhibited" in statuses


# --- registry of modules ----------------------------------------------------------------------

_REGISTRARS: dict[str, tuple[str, str]] = {
    "simulated": (
        "provisioning.registrars.simulated.SimulatedRegistrar",
        "Simulated registrar (demo)",
    ),
    "epp": ("provisioning.registrars.epp.EppRegistrar", "EPP registry (RFC 5730-5734)"),
    "centralnic": (
        "provisioning.registrars.centralnic.CentralNicRegistrar",
        "CentralNic Reseller API",
    ),
}

REGISTRAR_CHOICES: list[tuple[str, str]] = [
    (name, label) for name, (_, label) in _REGISTRARS.items()
]


def get_registrar_class(name: str) -> type[Registrar]:
    try:
        dotted, _ = _REGISTRARS[name]
    except KeyError:
        raise ValueError(f"Unknown registrar module {name!r}") from None
    module_path, class_name = dotted.rsplit(".", 1)
    return getattr(importlib.import_module(module_path), class_name)
