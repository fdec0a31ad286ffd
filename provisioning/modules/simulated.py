"""A panel that only exists in Redis, for demos, tests and benchmarks.

It behaves like a real panel where that matters to the billing side: accounts
persist across processes (a worker killed mid-create leaves the account behind
for the next attempt to find), a create is atomic (``SET NX``) so two racing
creates never make two accounts, and it can be slow or flaky on demand.

``connection.extra``:

- ``redis_url``: where the state lives (default ``$REDIS_URL``, then the local Redis);
- ``latency_s``: seconds each call takes;
- ``failure_rate``: 0..1, the share of calls that raise ``TransientModuleError``;
- ``failure_point``: ``"before"`` (default: the call does nothing) or ``"after"``
  (the call takes effect and then fails, like a reply lost on the way back).

Single sign-on links open on ``SIMULATED_PANEL_URL`` (``sandbox.simpanel``, started by
``make run``), which shows the account the link signs in to.

Keys live under ``tessera:simpanel:<hostname>:``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from django.conf import settings

from provisioning.modules.base import (
    RESOURCE_KEYS,
    AccountExistsError,
    AccountResult,
    AccountSpec,
    AccountState,
    PermanentModuleError,
    ServerConnection,
    ServerModule,
    TransientModuleError,
    Usage,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
SSO_TTL_S = 300

# Claims the username and indexes the account in one step, or does nothing.
_CREATE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
    redis.call('SET', KEYS[2], ARGV[2])
    redis.call('SADD', KEYS[3], ARGV[3])
    return 1
end
return 0
"""


def redis_for(connection: ServerConnection) -> redis.Redis:
    url = connection.extra.get("redis_url") or os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    return redis.Redis.from_url(url, decode_responses=True)


def key_prefix(hostname: str, kind: str = "simpanel") -> str:
    return f"tessera:{kind}:{hostname}:"


def sso_link(hostname: str, token: str) -> str:
    """Where a sign-on token is opened: the local page that serves the simulated panel
    (``sandbox.simpanel``) when ``SIMULATED_PANEL_URL`` names one, else the server itself."""
    base = (settings.SIMULATED_PANEL_URL or "").rstrip("/")
    if base:
        return f"{base}/sso/{hostname}/{token}"
    return f"https://{hostname}/sso/{token}"


class SimulatedModule(ServerModule):
    name = "simulated"
    label = "Simulated panel (demo)"

    def __init__(self, connection: ServerConnection) -> None:
        super().__init__(connection)
        self._redis = redis_for(connection)
        self._prefix = key_prefix(connection.hostname)
        self._create_script = self._redis.register_script(_CREATE)

    def close(self) -> None:
        self._redis.close()
        super().close()

    # Plumbing.

    def _key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    def _act(self, action: Callable[[], T]) -> T:
        """Runs one panel call with the configured latency and injected failures."""
        extra = self.connection.extra
        latency = float(extra.get("latency_s", 0) or 0)
        if latency > 0:
            time.sleep(latency)
        failing = random.random() < float(extra.get("failure_rate", 0) or 0)
        after = extra.get("failure_point", "before") == "after"
        if failing and not after:
            raise TransientModuleError("simulated: injected failure", "503 Service Unavailable")
        try:
            result = action()
        except redis.RedisError as exc:
            raise TransientModuleError(f"simulated: state store unavailable ({exc})") from exc
        if failing:
            raise TransientModuleError(
                "simulated: injected failure after the change", "502 Bad Gateway"
            )
        return result

    def _load(self, username: str) -> dict[str, Any] | None:
        raw = self._redis.get(self._key("account", username))
        return json.loads(raw) if raw else None

    def _load_by_id(self, remote_id: str) -> dict[str, Any]:
        username = self._redis.get(self._key("remote", remote_id))
        account = self._load(username) if username else None
        if account is None:
            raise PermanentModuleError(f"simulated: account {remote_id} does not exist")
        return account

    def _save(self, account: dict[str, Any]) -> None:
        self._redis.set(self._key("account", account["username"]), json.dumps(account))

    def _update(self, remote_id: str, **changes: Any) -> None:
        def change() -> None:
            account = self._load_by_id(remote_id)
            account.update(changes)
            self._save(account)

        self._act(change)

    # The contract.

    def _create_account(self, spec: AccountSpec) -> AccountResult:
        def create() -> AccountResult:
            remote_id = str(self._redis.incr(self._key("seq")))
            account = {
                "remote_id": remote_id,
                "username": spec.username,
                "domain": spec.domain,
                "package": spec.package,
                "status": "active",
                "created_at": time.time(),
                "options": _kept(spec.options),
            }
            created = self._create_script(
                keys=[
                    self._key("account", spec.username),
                    self._key("remote", remote_id),
                    self._key("accounts"),
                ],
                args=[json.dumps(account), spec.username, remote_id],
            )
            if not created:
                raise AccountExistsError(f"simulated: {spec.username} already exists")
            logger.info(
                "simulated: created account %s on %s", spec.username, self.connection.hostname
            )
            return _result(account)

        return self._act(create)

    def find_account(self, username: str) -> AccountResult | None:
        account = self._act(lambda: self._load(username))
        return _result(account) if account else None

    def suspend(self, remote_id: str, reason: str = "") -> None:
        self._update(remote_id, status="suspended", suspend_reason=reason[:200])

    def unsuspend(self, remote_id: str) -> None:
        self._update(remote_id, status="active", suspend_reason="")

    def terminate(self, remote_id: str) -> None:
        def remove() -> None:
            username = self._redis.get(self._key("remote", remote_id))
            if not username:
                return  # already gone: a retried terminate
            pipe = self._redis.pipeline(transaction=True)
            pipe.delete(self._key("account", username), self._key("remote", remote_id))
            pipe.srem(self._key("accounts"), remote_id)
            pipe.execute()

        self._act(remove)

    def change_package(self, remote_id: str, package: str) -> None:
        self._update(remote_id, package=package)

    def change_options(self, remote_id: str, package: str, options: dict[str, Any]) -> None:
        self._update(remote_id, package=options.get("package") or package, options=_kept(options))

    def read_account(self, remote_id: str) -> AccountState:
        def read() -> AccountState:
            username = self._redis.get(self._key("remote", remote_id))
            account = self._load(username) if username else None
            if account is None:
                return AccountState(status="missing")
            options = account.get("options") or {}
            return AccountState(
                status=account["status"],
                package=account["package"],
                options={k: options[k] for k in RESOURCE_KEYS if k in options},
            )

        return self._act(read)

    def sso_url(self, remote_id: str, client_ip: str = "") -> str:
        def login_link() -> str:
            self._load_by_id(remote_id)
            token = secrets.token_urlsafe(24)
            self._redis.set(self._key("sso", token), remote_id, ex=SSO_TTL_S)
            return sso_link(self.connection.hostname, token)

        url = self._act(login_link)
        self._remember_secret(url)
        return url

    def usage(self, remote_id: str) -> Usage:
        account = self._act(lambda: self._load_by_id(remote_id))
        # Stable made-up figures that grow with the account's age, for believable demos.
        seed = int(hashlib.sha256(account["username"].encode()).hexdigest()[:8], 16)
        days = max(0.0, (time.time() - float(account["created_at"])) / 86400)
        return Usage(
            disk_mb=round(50 + seed % 400 + days * 3, 2),
            bandwidth_mb=round(seed % 2000 + days * 40, 2),
            extra={"status": account["status"]},
        )

    def test_connection(self) -> str:
        count = self._act(lambda: self._redis.scard(self._key("accounts")))
        return f"Simulated panel {self.connection.hostname}: {count} accounts"

    # For tests and the demo console.

    def all_accounts(self) -> list[dict[str, Any]]:
        ids = self._redis.smembers(self._key("accounts"))
        accounts = [self._load(self._redis.get(self._key("remote", i)) or "") for i in ids]
        return sorted((a for a in accounts if a), key=lambda a: int(a["remote_id"]))


def _kept(options: dict[str, Any]) -> dict[str, Any]:
    """The options the simulated panel stores: plain values, as a panel's fields."""
    return {k: v for k, v in options.items() if isinstance(v, int | float | str | list)}


def _result(account: dict[str, Any]) -> AccountResult:
    return AccountResult(
        remote_id=account["remote_id"],
        username=account["username"],
        details={
            "domain": account["domain"],
            "package": account["package"],
            "status": account["status"],
        },
    )
