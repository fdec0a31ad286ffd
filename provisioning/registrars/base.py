"""The contract every domain registrar module fulfils.

Registrars share the module errors (``TransientModuleError`` to retry,
``PermanentModuleError`` to give up) and the ``ServerConnection`` that says
how to reach them. Contacts are passed as ``contact_ref``, a pseudonymous
handle the registrar already holds: client names and e-mails never travel
through this interface. Transfer auth codes are secrets and are never logged
or echoed back.
"""

from __future__ import annotations

import importlib
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date

from provisioning.modules.base import PermanentModuleError, ServerConnection

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+[a-z]{{2,63}}$")
_HOST = re.compile(rf"^(?:{_LABEL}\.)+{_LABEL}$")


@dataclass(frozen=True)
class DomainAvailability:
    domain: str
    available: bool
    reason: str = ""


@dataclass(frozen=True)
class DomainInfo:
    domain: str
    remote_id: str
    status: str  # "active", "pending_transfer", ...
    expires_on: date | None
    nameservers: tuple[str, ...] = ()
    locked: bool = True
    details: dict[str, object] = field(default_factory=dict)


class DomainUnavailableError(PermanentModuleError):
    """Somebody else holds the domain (or the registry refuses it)."""


class Registrar(ABC):
    name: str = ""
    label: str = ""

    def __init__(self, connection: ServerConnection) -> None:
        self.connection = connection

    @abstractmethod
    def check_availability(self, domain: str) -> DomainAvailability: ...

    @abstractmethod
    def get_domain(self, domain: str) -> DomainInfo | None:
        """The domain as the registrar holds it for us, or None."""

    @abstractmethod
    def register(
        self, domain: str, years: int, nameservers: list[str], contact_ref: str
    ) -> DomainInfo:
        """Registers the domain; registering again a domain we already hold returns it."""

    @abstractmethod
    def renew(self, domain: str, years: int) -> DomainInfo: ...

    @abstractmethod
    def transfer(self, domain: str, auth_code: str, contact_ref: str = "") -> DomainInfo: ...

    @abstractmethod
    def set_nameservers(self, domain: str, nameservers: list[str]) -> DomainInfo: ...

    @abstractmethod
    def set_lock(self, domain: str, locked: bool) -> DomainInfo: ...

    def close(self) -> None:  # noqa: B027 - optional hook, most registrars hold nothing
        """Releases connections; nothing to do by default."""


def normalize_domain(domain: str) -> str:
    """Lower-cases and IDNA-encodes a domain, or raises PermanentModuleError."""
    try:
        ascii_name = domain.strip().rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise PermanentModuleError(f"{domain!r} is not a valid domain name") from None
    if not _DOMAIN.match(ascii_name):
        raise PermanentModuleError(f"{domain!r} is not a valid domain name")
    return ascii_name


def normalize_nameservers(nameservers: list[str]) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(ns.strip().rstrip(".").lower() for ns in nameservers if ns))
    if not 2 <= len(names) <= 13:
        raise PermanentModuleError("a domain needs between 2 and 13 nameservers")
    for name in names:
        if not _HOST.match(name):
            raise PermanentModuleError(f"{name!r} is not a valid nameserver host name")
    return names


_REGISTRARS: dict[str, tuple[str, str]] = {
    "simulated": (
        "provisioning.registrars.simulated.SimulatedRegistrar",
        "Simulated registrar (demo)",
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
