"""A registrar that only exists in Redis, for demos and tests.

Same knobs as the simulated panel (``redis_url``, ``latency_s``,
``failure_rate``, ``failure_point`` in ``connection.extra``), plus
``taken_domains``: names that always answer "unavailable", as if registered
elsewhere. Registrations are atomic (``SET NX``) and idempotent for the same
``contact_ref``. Keys live under ``tessera:simregistrar:<hostname>:``.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, TypeVar

import redis

from provisioning.modules.base import (
    PermanentModuleError,
    ServerConnection,
    TransientModuleError,
)
from provisioning.modules.simulated import key_prefix, redis_for
from provisioning.registrars.base import (
    DomainAvailability,
    DomainInfo,
    DomainUnavailableError,
    Registrar,
    normalize_domain,
    normalize_nameservers,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_YEARS = 10
DEFAULT_NAMESERVERS = ("ns1.tessera.invalid", "ns2.tessera.invalid")


class SimulatedRegistrar(Registrar):
    name = "simulated"
    label = "Simulated registrar (demo)"

    def __init__(self, connection: ServerConnection) -> None:
        super().__init__(connection)
        self._redis = redis_for(connection)
        self._prefix = key_prefix(connection.hostname, kind="simregistrar")

    def close(self) -> None:
        self._redis.close()

    def _key(self, domain: str) -> str:
        return f"{self._prefix}domain:{domain}"

    def _act(self, action: Callable[[], T]) -> T:
        extra = self.connection.extra
        if float(extra.get("latency_s", 0) or 0) > 0:
            time.sleep(float(extra["latency_s"]))
        failing = random.random() < float(extra.get("failure_rate", 0) or 0)
        if failing and extra.get("failure_point", "before") != "after":
            raise TransientModuleError("simulated registrar: injected failure")
        try:
            result = action()
        except redis.RedisError as exc:
            raise TransientModuleError(
                f"simulated registrar: state store unavailable ({exc})"
            ) from exc
        if failing:
            raise TransientModuleError("simulated registrar: injected failure after the change")
        return result

    def _load(self, domain: str) -> dict[str, Any] | None:
        raw = self._redis.get(self._key(domain))
        return json.loads(raw) if raw else None

    def _require(self, domain: str) -> dict[str, Any]:
        record = self._load(domain)
        if record is None:
            raise PermanentModuleError(f"simulated registrar: we do not hold {domain}")
        return record

    def _modify(self, domain: str, change: Callable[[dict[str, Any]], None]) -> DomainInfo:
        name = normalize_domain(domain)

        def apply() -> DomainInfo:
            record = self._require(name)
            change(record)
            self._redis.set(self._key(name), json.dumps(record))
            return _info(record)

        return self._act(apply)

    def _taken_elsewhere(self, domain: str) -> bool:
        return domain in {d.lower() for d in self.connection.extra.get("taken_domains", ())}

    # The contract.

    def check_availability(self, domain: str) -> DomainAvailability:
        name = normalize_domain(domain)
        if self._taken_elsewhere(name):
            return DomainAvailability(name, False, "registered elsewhere")
        held = self._act(lambda: self._redis.exists(self._key(name)))
        return DomainAvailability(name, not held, "registered" if held else "")

    def get_domain(self, domain: str) -> DomainInfo | None:
        name = normalize_domain(domain)
        record = self._act(lambda: self._load(name))
        return _info(record) if record else None

    def register(
        self, domain: str, years: int, nameservers: list[str], contact_ref: str
    ) -> DomainInfo:
        name = normalize_domain(domain)
        if not 1 <= years <= MAX_YEARS:
            raise PermanentModuleError(f"registration period must be 1 to {MAX_YEARS} years")
        servers = normalize_nameservers(nameservers or list(DEFAULT_NAMESERVERS))
        if self._taken_elsewhere(name):
            raise DomainUnavailableError(f"simulated registrar: {name} is not available")

        def create() -> DomainInfo:
            record = {
                "domain": name,
                "remote_id": f"D{secrets.randbelow(10**10):010d}",
                "status": "active",
                "expires_on": (date.today() + timedelta(days=365 * years)).isoformat(),
                "nameservers": list(servers),
                "locked": True,
                "contact_ref": contact_ref,
            }
            if self._redis.set(self._key(name), json.dumps(record), nx=True):
                logger.info("simulated registrar: registered %s", name)
                return _info(record)
            existing = self._load(name)
            if existing and existing.get("contact_ref") == contact_ref:
                return _info(existing)  # a retried registration of ours
            raise DomainUnavailableError(f"simulated registrar: {name} is not available")

        return self._act(create)

    def renew(self, domain: str, years: int) -> DomainInfo:
        if not 1 <= years <= MAX_YEARS:
            raise PermanentModuleError(f"renewal period must be 1 to {MAX_YEARS} years")

        def extend(record: dict[str, Any]) -> None:
            expires = date.fromisoformat(record["expires_on"]) + timedelta(days=365 * years)
            if expires > date.today() + timedelta(days=365 * MAX_YEARS + 3):
                raise PermanentModuleError(
                    f"a domain cannot be registered more than {MAX_YEARS} years ahead"
                )
            record["expires_on"] = expires.isoformat()

        return self._modify(domain, extend)

    def transfer(self, domain: str, auth_code: str, contact_ref: str = "") -> DomainInfo:
        name = normalize_domain(domain)
        # Stand-in for the registry's check: a real code is at least 6 characters.
        if len(auth_code or "") < 6:
            raise PermanentModuleError(f"simulated registrar: the auth code for {name} is wrong")

        def start() -> DomainInfo:
            existing = self._load(name)
            if existing:
                return _info(existing)
            record = {
                "domain": name,
                "remote_id": f"T{secrets.randbelow(10**10):010d}",
                "status": "pending_transfer",
                "expires_on": (date.today() + timedelta(days=365)).isoformat(),
                "nameservers": list(DEFAULT_NAMESERVERS),
                "locked": False,
                "contact_ref": contact_ref,
            }
            self._redis.set(self._key(name), json.dumps(record), nx=True)
            return _info(self._load(name) or record)

        return self._act(start)

    def set_nameservers(self, domain: str, nameservers: list[str]) -> DomainInfo:
        servers = list(normalize_nameservers(nameservers))
        return self._modify(domain, lambda record: record.update(nameservers=servers))

    def set_lock(self, domain: str, locked: bool) -> DomainInfo:
        return self._modify(domain, lambda record: record.update(locked=bool(locked)))


def _info(record: dict[str, Any]) -> DomainInfo:
    return DomainInfo(
        domain=record["domain"],
        remote_id=record["remote_id"],
        status=record["status"],
        expires_on=date.fromisoformat(record["expires_on"]) if record.get("expires_on") else None,
        nameservers=tuple(record.get("nameservers", ())),
        locked=bool(record.get("locked")),
    )
