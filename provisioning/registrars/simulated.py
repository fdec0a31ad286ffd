"""A registrar that only exists in Redis, for demos and tests.

Same knobs as the simulated panel (``redis_url``, ``latency_s``, ``failure_rate``,
``failure_point`` in ``connection.extra``), plus ``taken_domains``: names that always
answer "unavailable", as if registered elsewhere; ``premium_domains``: names it offers
as premium; ``transfer_delay_s``: how long an incoming transfer stays pending before the
simulated registry approves it (0: at once on the next look). Registrations are atomic
(``SET NX``) and idempotent for the same registrant. Keys live under
``tessera:simregistrar:<hostname>:``.

It behaves like a registry where it matters to callers: renewals name the current
expiry date, auth codes are checked, a deleted domain enters redemption and can be
restored, incoming transfers are reported in the poll queue. Contacts are kept as their
handle and country only: the simulated registry never needs a person's details.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import redis

from provisioning.modules.base import ServerConnection, TransientModuleError
from provisioning.modules.simulated import key_prefix, redis_for
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
    TransferInfo,
    TransferStatus,
    check_statuses,
    check_years,
    lock_of,
    normalize_domain,
    normalize_host,
    normalize_nameservers,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_NAMESERVERS = ("ns1.tessera.invalid", "ns2.tessera.invalid")
REGISTRAR_ID = "tessera-sim"


def _now() -> datetime:
    return datetime.now(UTC)


def _new_auth_code() -> str:
    return secrets.token_urlsafe(12)


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
        if not raw:
            return None
        record = json.loads(raw)
        if self._settle(record):
            self._save(record)
        return record

    def _save(self, record: dict[str, Any]) -> None:
        self._redis.set(self._key(record["domain"]), json.dumps(record))

    def _settle(self, record: dict[str, Any]) -> bool:
        """What the registry does by itself with time: approves incoming transfers after
        the delay, moves an expired domain into redemption. True when it changed."""
        transfer = record.get("transfer") or {}
        delay = float(self.connection.extra.get("transfer_delay_s", 0) or 0)
        if transfer.get("status") == TransferStatus.PENDING and transfer.get("incoming"):
            requested = datetime.fromisoformat(transfer["requested_at"])
            if _now() >= requested + timedelta(seconds=delay):
                self._transfer_finish(record, TransferStatus.SERVER_APPROVED)
                return True
        expires = record.get("expires_on")
        if (
            record["status"] == DomainStatus.ACTIVE
            and expires
            and date.fromisoformat(expires) < date.today()
        ):
            record["status"] = DomainStatus.REDEMPTION.value
            return True
        return False

    def _transfer_finish(self, record: dict[str, Any], status: str) -> None:
        transfer = record["transfer"]
        transfer.update(status=status, action_at=_now().isoformat())
        if status in (TransferStatus.SERVER_APPROVED, TransferStatus.CLIENT_APPROVED):
            years = int(transfer.get("years", 1))
            base = date.fromisoformat(record["expires_on"])
            record["expires_on"] = (base + timedelta(days=365 * years)).isoformat()
            record["status"] = DomainStatus.ACTIVE
        elif transfer.get("incoming"):
            record["status"] = "gone"
        self._poll_push(f"Transfer {status}", domain=record["domain"], transfer_status=status)

    def _require(self, domain: str) -> dict[str, Any]:
        record = self._load(domain)
        if record is None or record["status"] == "gone":
            raise RegistryError(
                f"simulated registrar: we do not hold {domain}",
                code=2303,
                kind=ErrorKind.NOT_FOUND,
            )
        return record

    def _modify(
        self, domain: str, change: Callable[[dict[str, Any]], None], *, active_only: bool = True
    ) -> DomainInfo:
        name = normalize_domain(domain)

        def apply() -> DomainInfo:
            record = self._require(name)
            if active_only and record["status"] != DomainStatus.ACTIVE:
                raise RegistryError(
                    f"simulated registrar: {name} is {record['status']}",
                    code=2304,
                    kind=ErrorKind.PROHIBITED,
                )
            change(record)
            self._save(record)
            return _info(record)

        return self._act(apply)

    def _listed(self, key: str, domain: str) -> bool:
        return domain in {d.lower() for d in self.connection.extra.get(key, ())}

    def _poll_push(self, text: str, **fields: str) -> None:
        message = {"id": secrets.token_hex(6), "text": text, "at": _now().isoformat(), **fields}
        self._redis.rpush(f"{self._prefix}poll", json.dumps(message))

    # Availability and reading.

    def check(self, domains: list[str]) -> list[DomainAvailability]:
        names = [normalize_domain(d) for d in domains]

        def look() -> list[DomainAvailability]:
            answers = []
            for name in names:
                if self._listed("taken_domains", name):
                    answers.append(DomainAvailability(name, False, "registered elsewhere"))
                    continue
                record = self._load(name)
                held = record is not None and record["status"] != "gone"
                answers.append(
                    DomainAvailability(
                        name,
                        not held,
                        "registered" if held else "",
                        premium=self._listed("premium_domains", name),
                    )
                )
            return answers

        return self._act(look)

    def info(self, domain: str) -> DomainInfo | None:
        name = normalize_domain(domain)
        record = self._act(lambda: self._load(name))
        return _info(record) if record and record["status"] != "gone" else None

    # The domain's life.

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
        servers = normalize_nameservers(nameservers or list(DEFAULT_NAMESERVERS))
        if not contact_ref:
            raise RegistryError(
                "a registration needs the registrant's handle", code=2003, kind=ErrorKind.INVALID
            )
        if self._listed("taken_domains", name):
            raise DomainUnavailableError(f"simulated registrar: {name} is not available")

        def create() -> DomainInfo:
            today = date.today()
            record = {
                "domain": name,
                "remote_id": f"D{secrets.randbelow(10**10):010d}",
                "status": DomainStatus.ACTIVE.value,
                "statuses": list(LOCK_STATUSES),
                "created_on": today.isoformat(),
                "expires_on": (today + timedelta(days=365 * years)).isoformat(),
                "nameservers": list(servers),
                "registrant": contact_ref,
                "contacts": {"admin": admin_ref or contact_ref, "tech": tech_ref or contact_ref},
                "ds": [],
                "auth_code": _new_auth_code(),
            }
            if self._redis.set(self._key(name), json.dumps(record), nx=True):
                logger.info("simulated registrar: registered %s", name)
                return _info(record)
            existing = self._load(name)
            if existing and existing.get("registrant") == contact_ref:
                return _info(existing)  # a retried registration of ours
            raise DomainUnavailableError(f"simulated registrar: {name} is not available")

        return self._act(create)

    def renew(self, domain: str, years: int, *, current_expiry: date) -> DomainInfo:
        check_years(years, "renewal")

        def extend(record: dict[str, Any]) -> None:
            expires = date.fromisoformat(record["expires_on"])
            if expires != current_expiry:
                raise RegistryError(
                    f"simulated registrar: {record['domain']} does not expire on "
                    f"{current_expiry.isoformat()}",
                    code=2306,
                    kind=ErrorKind.POLICY,
                )
            new_expiry = expires + timedelta(days=365 * years)
            if new_expiry > date.today() + timedelta(days=365 * 10 + 3):
                raise RegistryError(
                    "a domain cannot be registered more than 10 years ahead",
                    code=2306,
                    kind=ErrorKind.POLICY,
                )
            record["expires_on"] = new_expiry.isoformat()

        return self._modify(domain, extend)

    def delete(self, domain: str) -> None:
        def remove(record: dict[str, Any]) -> None:
            if "clientDeleteProhibited" in record["statuses"]:
                raise RegistryError(
                    f"simulated registrar: {record['domain']} is locked against deletion",
                    code=2304,
                    kind=ErrorKind.PROHIBITED,
                )
            record["status"] = DomainStatus.REDEMPTION.value

        self._modify(domain, remove)

    def restore(self, domain: str) -> DomainInfo:
        def bring_back(record: dict[str, Any]) -> None:
            if record["status"] != DomainStatus.REDEMPTION:
                raise RegistryError(
                    f"simulated registrar: {record['domain']} is not in redemption",
                    code=2304,
                    kind=ErrorKind.PROHIBITED,
                )
            record["status"] = DomainStatus.ACTIVE.value
            expires = date.fromisoformat(record["expires_on"])
            if expires < date.today():
                # An expired domain comes back renewed for a year, as registries do.
                record["expires_on"] = (expires + timedelta(days=365)).isoformat()

        return self._modify(domain, bring_back, active_only=False)

    # Transfers.

    def transfer_request(
        self, domain: str, auth_code: str, *, years: int = 1, contact_ref: str = ""
    ) -> TransferInfo:
        name = normalize_domain(domain)
        check_years(years, "transfer")
        # Stand-in for the registry's check: a real code is at least 6 characters.
        if len(auth_code or "") < 6:
            raise RegistryError(
                f"simulated registrar: the auth code for {name} is wrong",
                code=2202,
                kind=ErrorKind.AUTHORIZATION,
            )

        def start() -> TransferInfo:
            existing = self._load(name)
            if existing and existing["status"] != "gone":
                if (existing.get("transfer") or {}).get("incoming"):
                    return _transfer(existing)
                raise RegistryError(
                    f"simulated registrar: {name} is already ours",
                    code=2106,
                    kind=ErrorKind.PENDING,
                )
            record = {
                "domain": name,
                "remote_id": f"T{secrets.randbelow(10**10):010d}",
                "status": DomainStatus.PENDING_TRANSFER.value,
                "statuses": ["pendingTransfer"],
                "created_on": date.today().isoformat(),
                "expires_on": (date.today() + timedelta(days=180)).isoformat(),
                "nameservers": list(DEFAULT_NAMESERVERS),
                "registrant": contact_ref,
                "contacts": {},
                "ds": [],
                "auth_code": auth_code,
                "transfer": {
                    "status": TransferStatus.PENDING.value,
                    "incoming": True,
                    "years": years,
                    "requested_at": _now().isoformat(),
                    "requested_by": REGISTRAR_ID,
                    "action_by": "losing-registrar",
                },
            }
            if not self._redis.set(self._key(name), json.dumps(record), nx=True):
                self._save(record)  # a transfer away that ended, now coming back
            return _transfer(record)

        return self._act(start)

    def transfer_query(self, domain: str, auth_code: str = "") -> TransferInfo:
        name = normalize_domain(domain)

        def query() -> TransferInfo:
            record = self._load(name)
            if record is None or not record.get("transfer"):
                raise RegistryError(
                    f"simulated registrar: no transfer of {name}",
                    code=2301,
                    kind=ErrorKind.PENDING,
                )
            return _transfer(record)

        return self._act(query)

    def _transfer_act(self, domain: str, status: str, *, incoming: bool) -> TransferInfo:
        name = normalize_domain(domain)

        def act() -> TransferInfo:
            record = self._require(name)
            transfer = record.get("transfer") or {}
            if transfer.get("status") != TransferStatus.PENDING:
                raise RegistryError(
                    f"simulated registrar: no pending transfer of {name}",
                    code=2301,
                    kind=ErrorKind.PENDING,
                )
            if bool(transfer.get("incoming")) != incoming:
                raise RegistryError(
                    f"simulated registrar: the transfer of {name} is not ours to decide",
                    code=2201,
                    kind=ErrorKind.AUTHORIZATION,
                )
            self._transfer_finish(record, status)
            self._save(record)
            return _transfer(record)

        return self._act(act)

    def transfer_approve(self, domain: str) -> TransferInfo:
        return self._transfer_act(domain, TransferStatus.CLIENT_APPROVED, incoming=False)

    def transfer_reject(self, domain: str) -> TransferInfo:
        return self._transfer_act(domain, TransferStatus.CLIENT_REJECTED, incoming=False)

    def transfer_cancel(self, domain: str) -> TransferInfo:
        return self._transfer_act(domain, TransferStatus.CLIENT_CANCELLED, incoming=True)

    def simulate_transfer_away(self, domain: str) -> None:
        """Another registrar asks for a domain of ours (for demos and tests)."""
        name = normalize_domain(domain)
        record = self._require(name)
        record["transfer"] = {
            "status": TransferStatus.PENDING.value,
            "incoming": False,
            "years": 1,
            "requested_at": _now().isoformat(),
            "requested_by": "gaining-registrar",
            "action_by": REGISTRAR_ID,
        }
        self._save(record)

    # Updates.

    def set_nameservers(self, domain: str, nameservers: list[str]) -> DomainInfo:
        servers = list(normalize_nameservers(nameservers))
        return self._modify(domain, lambda record: record.update(nameservers=servers))

    def set_statuses(
        self, domain: str, *, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()
    ) -> DomainInfo:
        check_statuses(tuple(add) + tuple(remove))

        def change(record: dict[str, Any]) -> None:
            statuses = [s for s in record["statuses"] if s not in remove]
            statuses.extend(s for s in add if s not in statuses)
            record["statuses"] = statuses

        return self._modify(domain, change)

    def set_dnssec(self, domain: str, ds_records: list[DsRecord]) -> DomainInfo:
        ds = [_ds_checked(r) for r in ds_records]
        return self._modify(domain, lambda record: record.update(ds=ds))

    def set_registrant(self, domain: str, contact_ref: str) -> DomainInfo:
        if not contact_ref:
            raise RegistryError("the registrant's handle is missing", code=2003)
        return self._modify(domain, lambda record: record.update(registrant=contact_ref))

    def auth_code(self, domain: str) -> str:
        name = normalize_domain(domain)
        return self._act(lambda: self._require(name)["auth_code"])

    def auth_code_reset(self, domain: str) -> str:
        code = _new_auth_code()
        self._modify(domain, lambda record: record.update(auth_code=code))
        return code

    # Hosts and contacts.

    def host_create(self, name: str, addresses: list[str]) -> HostInfo:
        host = normalize_host(name)
        parent = host.split(".", 1)[1] if "." in host else ""
        key = f"{self._prefix}host:{host}"

        def create() -> HostInfo:
            if parent and self._load(parent) is None:
                raise RegistryError(
                    f"simulated registrar: {parent} is not ours, so {host} takes no glue",
                    code=2305,
                    kind=ErrorKind.PROHIBITED,
                )
            record = {"name": host, "addresses": sorted(set(addresses))}
            if not self._redis.set(key, json.dumps(record), nx=True):
                existing = json.loads(self._redis.get(key) or "{}")
                if existing.get("addresses") != record["addresses"]:
                    raise RegistryError(
                        f"simulated registrar: host {host} exists",
                        code=2302,
                        kind=ErrorKind.EXISTS,
                    )
            return HostInfo(host, tuple(record["addresses"]))

        return self._act(create)

    def host_info(self, name: str) -> HostInfo | None:
        host = normalize_host(name)
        raw = self._act(lambda: self._redis.get(f"{self._prefix}host:{host}"))
        if not raw:
            return None
        record = json.loads(raw)
        return HostInfo(record["name"], tuple(record["addresses"]))

    def contact_create(self, contact: Contact) -> str:
        _contact_checked(contact)
        handle = f"SIM-{secrets.token_hex(5).upper()}"
        self._act(
            lambda: self._redis.set(
                f"{self._prefix}contact:{handle}", json.dumps({"cc": contact.country_code})
            )
        )
        return handle

    def contact_update(self, handle: str, contact: Contact) -> None:
        _contact_checked(contact)
        key = f"{self._prefix}contact:{handle}"

        def update() -> None:
            if not self._redis.exists(key):
                raise RegistryError(
                    f"simulated registrar: no contact {handle}",
                    code=2303,
                    kind=ErrorKind.NOT_FOUND,
                )
            self._redis.set(key, json.dumps({"cc": contact.country_code}))

        self._act(update)

    # The poll queue.

    def poll(self) -> PollMessage | None:
        key = f"{self._prefix}poll"

        def first() -> PollMessage | None:
            raw = self._redis.lindex(key, 0)
            if raw is None:
                return None
            message = json.loads(raw)
            return PollMessage(
                id=message["id"],
                text=message["text"],
                queued_at=datetime.fromisoformat(message["at"]),
                domain=message.get("domain", ""),
                transfer_status=message.get("transfer_status", ""),
                remaining=int(self._redis.llen(key)),
            )

        return self._act(first)

    def poll_ack(self, message_id: str) -> int:
        key = f"{self._prefix}poll"

        def ack() -> int:
            for raw in self._redis.lrange(key, 0, -1):
                if json.loads(raw)["id"] == message_id:
                    self._redis.lrem(key, 1, raw)
                    return int(self._redis.llen(key))
            raise RegistryError(
                f"simulated registrar: no poll message {message_id}",
                code=2303,
                kind=ErrorKind.NOT_FOUND,
            )

        return self._act(ack)

    def test_connection(self) -> str:
        self._act(self._redis.ping)
        return f"simulated registrar on {self.connection.hostname}"


def _ds_checked(record: DsRecord) -> dict[str, Any]:
    digest = record.digest.strip().upper()
    if not (0 <= record.key_tag <= 65535 and 0 <= record.algorithm <= 255) or not digest:
        raise RegistryError("a DS record is not valid", code=2005, kind=ErrorKind.INVALID)
    try:
        bytes.fromhex(digest)
    except ValueError:
        raise RegistryError(
            "a DS record's digest is not hexadecimal", code=2005, kind=ErrorKind.INVALID
        ) from None
    return {
        "key_tag": record.key_tag,
        "algorithm": record.algorithm,
        "digest_type": record.digest_type,
        "digest": digest,
    }


def _contact_checked(contact: Contact) -> None:
    # The messages name the field only: the value is personal data.
    missing = [
        label
        for label, value in (
            ("name", contact.name),
            ("email", contact.email),
            ("city", contact.city),
            ("country", contact.country_code),
        )
        if not value
    ]
    if missing or not contact.street:
        raise RegistryError(
            f"the contact lacks: {', '.join(missing or ['street'])}",
            code=2003,
            kind=ErrorKind.INVALID,
        )
    if len(contact.country_code) != 2 or "@" not in contact.email:
        raise RegistryError(
            "the contact's country or e-mail is not valid", code=2005, kind=ErrorKind.INVALID
        )


def _info(record: dict[str, Any]) -> DomainInfo:
    statuses = tuple(record.get("statuses", ())) or ("ok",)
    return DomainInfo(
        domain=record["domain"],
        remote_id=record["remote_id"],
        status=record["status"],
        expires_on=date.fromisoformat(record["expires_on"]) if record.get("expires_on") else None,
        nameservers=tuple(record.get("nameservers", ())),
        locked=lock_of(statuses),
        statuses=statuses,
        registrant=record.get("registrant", ""),
        contacts=dict(record.get("contacts") or {}),
        ds_records=tuple(DsRecord(**ds) for ds in record.get("ds", ())),
        created_on=date.fromisoformat(record["created_on"]) if record.get("created_on") else None,
    )


def _transfer(record: dict[str, Any]) -> TransferInfo:
    transfer = record["transfer"]
    return TransferInfo(
        domain=record["domain"],
        status=transfer["status"],
        requested_by=transfer.get("requested_by", ""),
        requested_at=datetime.fromisoformat(transfer["requested_at"]),
        action_by=transfer.get("action_by", ""),
        action_at=(
            datetime.fromisoformat(transfer["action_at"]) if transfer.get("action_at") else None
        ),
        expires_on=date.fromisoformat(record["expires_on"]),
    )
