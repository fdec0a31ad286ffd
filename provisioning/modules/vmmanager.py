"""ISPsystem VMmanager 6 through its REST API.

The calls follow ISPsystem's published VMmanager 6 API guide (VMmanager 6
Administrator guide, https://docs.ispsystem.com/vmmanager-admin/developer-section/api-guide:
the ``auth/v4`` and ``vm/v3`` services); it says a suspended VMmanager answers
503 until it wakes, which the module treats as transient.

The connection's username/secret are a VMmanager administrator's e-mail and
password, exchanged for a session token at ``POST /auth/v4/public/token``; the
token travels in the ``x-xsrf-token`` header and is fetched again once if the
panel answers 401 (sessions expire).

An account is a VMmanager user (the client's login to the VM panel, e-mailed at
a pseudonymous alias) owning one virtual machine named after the generated
username. ``package`` is the id of a VMmanager *preset* (the resource tariff);
``options`` may carry ``os`` (image id), ``ips`` (the number of IPv4
addresses), ``cpu``, ``ram_mb``, ``disk_gb``; ``connection.extra`` may carry
``cluster`` (default 1), ``default_os``, ``account_email_domain``,
``job_timeout_s`` (default 900) and ``job_poll_s`` (default 2). ``remote_id`` is the VM's id.

IPv4 addresses: a VM is created with ``ipv4_number`` addresses; a change of
their number adds addresses with ``POST /vm/v3/host/<id>/ip`` (``ipv4_number``)
or removes the newest with ``DELETE /vm/v3/ip/<id>``, and ``GET
/vm/v3/host/<id>/ipv4`` counts them for ``read_account`` (the ``vm/v3`` API
reference's request and list types, as its published clients use them).

VMmanager runs long operations as jobs and answers at once with
``{"id": ..., "task": ...}``. The module waits for each job, polling
``GET /vm/v3/task?where=(consul_id EQ <task>)`` until its status is
``complete`` (done) or ``fail`` (the job fails with the task's message), at most
``job_timeout_s``; so a suspend is over, the VM stopped, before an unsuspend
that follows reads its state. A job still running at the deadline, a panel
answering 503, and a VM "busy" with another job are transient: the provisioning
job tries again later. The VM exists (state ``creating``) as soon as the create
call returns, which is what idempotent retries rely on; a retry that finds it
still ``creating`` waits for it to settle.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from provisioning.modules.base import (
    AccountExistsError,
    AccountResult,
    AccountSpec,
    AccountState,
    PermanentModuleError,
    ServerModule,
    TransientModuleError,
    Usage,
)

logger = logging.getLogger(__name__)

_EXISTS = re.compile(r"already exists|already in use|not unique|duplicate", re.IGNORECASE)
_BUSY = re.compile(r"\bbusy\b", re.IGNORECASE)
# Task states that are over; anything else (created, running, ...) is still going.
_TASK_DONE, _TASK_FAILED = "complete", "fail"


class VmmanagerModule(ServerModule):
    name = "vmmanager"
    label = "VMmanager 6"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._token: str | None = None

    # Plumbing.

    def _login(self) -> str:
        response = self._send(
            "POST",
            "/auth/v4/public/token",
            json={"email": self.connection.username, "password": self.connection.secret},
        )
        self._check_status(response, _error_message(self, response))
        body = self._json(response)
        token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise self._malformed("auth/v4/public/token")
        self._remember_secret(token)
        return token

    def _call(self, method: str, path: str, *, json: Any = None, params: Any = None) -> Any:
        for attempt in (1, 2):
            if self._token is None:
                self._token = self._login()
            response = self._send(
                method, path, json=json, params=params, headers={"x-xsrf-token": self._token}
            )
            if response.status_code == 401 and attempt == 1:
                self._token = None  # session expired: log in again, once
                continue
            break
        message = _error_message(self, response)
        if response.status_code in (400, 409) and _EXISTS.search(message):
            raise AccountExistsError(f"vmmanager: {method} {path} refused", message)
        if response.status_code >= 400 and _BUSY.search(message):
            raise TransientModuleError(f"vmmanager: {method} {path} must wait", message)
        self._check_status(response, message)
        if not response.content:
            return {}
        return self._json(response)

    def _job(self, method: str, path: str, *, json: Any = None) -> Any:
        """Starts an operation and waits for the job it answers with."""
        started = self._call(method, path, json=json)
        if not isinstance(started, dict):
            raise self._malformed(f"{method} {path}", started)
        if started.get("task") is not None:
            self._wait(started["task"], f"{method} {path}")
        return started

    def _wait(self, task: Any, what: str) -> None:
        try:
            task_id = int(task)
        except (TypeError, ValueError):
            raise self._malformed(f"task id of {what}", task) from None
        timeout = float(self.connection.extra.get("job_timeout_s", 900))
        poll = float(self.connection.extra.get("job_poll_s", 2.0))
        deadline = time.monotonic() + timeout
        while True:
            try:
                found = self._list("/vm/v3/task", f"(consul_id EQ {task_id})")
            except TransientModuleError:
                found = []  # the job goes on whether or not this read reached the panel
            status = str(found[0].get("status", "")) if found else ""
            if status == _TASK_DONE:
                return
            if status == _TASK_FAILED:
                raise PermanentModuleError(
                    f"vmmanager: the job for {what} failed", _task_message(self, found[0])
                )
            if time.monotonic() >= deadline:
                raise TransientModuleError(
                    f"vmmanager: the job for {what} is still running after {timeout:g} s"
                )
            time.sleep(poll)

    def _settle(self, remote_id: str) -> dict[str, Any]:
        """Waits for a VM another attempt started making to be made."""
        timeout = float(self.connection.extra.get("job_timeout_s", 900))
        poll = float(self.connection.extra.get("job_poll_s", 2.0))
        deadline = time.monotonic() + timeout
        while (host := self._host(remote_id)).get("state") == "creating":
            if time.monotonic() >= deadline:
                raise TransientModuleError(
                    f"vmmanager: VM {remote_id} is still being created after {timeout:g} s"
                )
            time.sleep(poll)
        return host

    def _list(self, path: str, where: str) -> list[dict[str, Any]]:
        body = self._call("GET", path, params={"where": where})
        items = body.get("list") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise self._malformed(f"GET {path}", body)
        return [item for item in items if isinstance(item, dict)]

    def _host(self, remote_id: str) -> dict[str, Any]:
        host = self._call("GET", f"/vm/v3/host/{_id(remote_id)}")
        if not isinstance(host, dict) or "id" not in host:
            raise self._malformed("GET /vm/v3/host/{id}", host)
        return host

    # Lookups.

    def find_account(self, username: str) -> AccountResult | None:
        for host in self._list("/vm/v3/host", f"(name EQ '{_quote(username)}')"):
            if host.get("name") == username:
                return _result(host)
        return None

    def _account_email(self, spec: AccountSpec) -> str:
        domain = self.connection.extra.get("account_email_domain", "customers.invalid")
        return spec.options.get("contact_email_alias") or f"{spec.username}@{domain}"

    def _ensure_user(self, spec: AccountSpec) -> int:
        email = self._account_email(spec)
        found = self._list("/vm/v3/account", f"(email EQ '{_quote(email)}')")
        if found:
            return int(found[0]["id"])
        try:
            created = self._call(
                "POST",
                "/vm/v3/account",
                json={"email": email, "password": spec.password, "role": "@user"},
            )
        except AccountExistsError:
            found = self._list("/vm/v3/account", f"(email EQ '{_quote(email)}')")
            if not found:
                raise
            return int(found[0]["id"])
        if not isinstance(created, dict) or "id" not in created:
            raise self._malformed("POST /vm/v3/account", created)
        return int(created["id"])

    # Actions.

    def create_account(self, spec: AccountSpec) -> AccountResult:
        result = super().create_account(spec)
        if result.details.get("reused") and result.details.get("state") == "creating":
            host = self._settle(result.remote_id)
            result = AccountResult(
                result.remote_id, result.username, {**result.details, "state": host.get("state")}
            )
        return result

    def _create_account(self, spec: AccountSpec) -> AccountResult:
        # A retry after a failure between the two calls reuses the user made the first time.
        user_id = self._ensure_user(spec)
        options = spec.options
        payload: dict[str, Any] = {
            "name": spec.username,
            "account": user_id,
            "cluster": int(self.connection.extra.get("cluster", 1)),
            "preset": _id(spec.package),
            "password": spec.password,
            "domain": spec.domain or f"{spec.username}.vm",
            "ipv4_number": int(options.get("ips", 1)),
            "comment": "tessera",
        }
        os_id = options.get("os", self.connection.extra.get("default_os"))
        if os_id is not None:
            payload["os"] = int(os_id)
        if options.get("cpu"):
            payload["cpu_number"] = int(options["cpu"])
        if options.get("ram_mb"):
            payload["ram_mib"] = int(options["ram_mb"])
        if options.get("disk_gb"):
            payload["hdd_mib"] = int(options["disk_gb"]) * 1024
        created = self._call("POST", "/vm/v3/host", json=payload)
        if not isinstance(created, dict) or "id" not in created:
            raise self._malformed("POST /vm/v3/host", created)
        logger.info("vmmanager: creating VM %s (task %s)", spec.username, created.get("task"))
        if created.get("task") is not None:
            self._wait(created["task"], "POST /vm/v3/host")
        state = self._host(str(created["id"])).get("state", "")
        return AccountResult(
            remote_id=str(created["id"]),
            username=spec.username,
            details={
                "domain": payload["domain"],
                "package": spec.package,
                "account_id": user_id,
                "task": created.get("task"),
                "state": state,
            },
        )

    def suspend(self, remote_id: str, reason: str = "") -> None:
        if self._host(remote_id).get("state") != "stopped":
            self._job("POST", f"/vm/v3/host/{_id(remote_id)}/stop", json={})

    def unsuspend(self, remote_id: str) -> None:
        if self._host(remote_id).get("state") != "active":
            self._job("POST", f"/vm/v3/host/{_id(remote_id)}/start", json={})

    def terminate(self, remote_id: str) -> None:
        try:
            self._job("DELETE", f"/vm/v3/host/{_id(remote_id)}")
        except PermanentModuleError as exc:
            if "HTTP 404" in exc.message:
                return  # already deleted: a retried terminate
            raise

    def change_package(self, remote_id: str, package: str) -> None:
        preset = self._call("GET", f"/vm/v3/preset/{_id(package)}")
        if not isinstance(preset, dict) or "ram_mib" not in preset:
            raise self._malformed("GET /vm/v3/preset/{id}", preset)
        self._job(
            "POST",
            f"/vm/v3/host/{_id(remote_id)}/resource",
            json={"cpu_number": int(preset["cpu_number"]), "ram_mib": int(preset["ram_mib"])},
        )
        wanted = int(preset.get("hdd_mib") or 0)
        disks = self._list(f"/vm/v3/host/{_id(remote_id)}/disk", "(boot_order EQ 1)")
        # Disks only grow: a smaller plan keeps the space it has.
        if wanted and disks and int(disks[0].get("size_mib", 0)) < wanted:
            self._job("POST", f"/vm/v3/disk/{int(disks[0]['id'])}", json={"size_mib": wanted})

    def change_options(self, remote_id: str, package: str, options: dict[str, Any]) -> None:
        """Sets the VM's resources to what plan and options add up to (what the options
        leave out comes from the plan's preset), then its number of IPv4 addresses."""
        if options.get("cpu") or options.get("ram_mb") or options.get("disk_gb"):
            self._resources_set(remote_id, options)
        else:
            self.change_package(remote_id, package)
        if options.get("ips"):
            self._ipv4_count_set(remote_id, int(options["ips"]))

    def _resources_set(self, remote_id: str, options: dict[str, Any]) -> None:
        resources = {}
        if options.get("cpu"):
            resources["cpu_number"] = int(options["cpu"])
        if options.get("ram_mb"):
            resources["ram_mib"] = int(options["ram_mb"])
        if resources:
            self._job("POST", f"/vm/v3/host/{_id(remote_id)}/resource", json=resources)
        wanted = int(options.get("disk_gb") or 0) * 1024
        disks = self._list(f"/vm/v3/host/{_id(remote_id)}/disk", "(boot_order EQ 1)")
        if wanted and disks and int(disks[0].get("size_mib", 0)) < wanted:
            self._job("POST", f"/vm/v3/disk/{int(disks[0]['id'])}", json={"size_mib": wanted})

    def _ipv4(self, remote_id: str) -> list[dict[str, Any]]:
        body = self._call("GET", f"/vm/v3/host/{_id(remote_id)}/ipv4")
        items = body.get("list") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise self._malformed("GET /vm/v3/host/{id}/ipv4", body)
        return [item for item in items if isinstance(item, dict) and "id" in item]

    def _ipv4_count_set(self, remote_id: str, wanted: int) -> None:
        """Adds addresses from the cluster's pools, or removes the newest ones: the first
        address, the VM's main one, stays. Read again on every attempt, so a retry after
        a partial change does only what is left."""
        held = self._ipv4(remote_id)
        if len(held) < wanted:
            self._job(
                "POST",
                f"/vm/v3/host/{_id(remote_id)}/ip",
                json={"ipv4_number": wanted - len(held)},
            )
            return
        newest_first = sorted(held, key=lambda ip: int(ip["id"]), reverse=True)
        for ip in newest_first[: max(len(held) - max(wanted, 1), 0)]:
            try:
                self._job("DELETE", f"/vm/v3/ip/{int(ip['id'])}")
            except PermanentModuleError as exc:
                if "HTTP 404" not in exc.message:
                    raise  # a 404 is an address a previous attempt already removed

    def read_account(self, remote_id: str) -> AccountState:
        try:
            host = self._host(remote_id)
        except PermanentModuleError as exc:
            if "HTTP 404" in exc.message:
                return AccountState(status="missing")
            raise
        disk = host.get("disk") if isinstance(host.get("disk"), dict) else {}
        options: dict[str, Any] = {}
        if host.get("cpu_number"):
            options["cpu"] = int(host["cpu_number"])
        if host.get("ram_mib"):
            options["ram_mb"] = int(host["ram_mib"])
        if disk.get("disk_mib"):
            options["disk_gb"] = int(disk["disk_mib"]) // 1024
        options["ips"] = len(self._ipv4(remote_id))
        return AccountState(
            status="suspended" if host.get("state") == "stopped" else "active",
            package=str(host.get("preset", "")),
            options=options,
        )

    def sso_url(self, remote_id: str, client_ip: str = "") -> str:
        account = self._host(remote_id).get("account")
        if not isinstance(account, dict) or "id" not in account:
            raise self._malformed("GET /vm/v3/host/{id} (owner)")
        body = self._call("POST", f"/auth/v4/user/{int(account['id'])}/key", json={})
        key = body.get("key") if isinstance(body, dict) else None
        if not isinstance(key, str) or not key:
            raise self._malformed("auth/v4/user/{id}/key")
        self._remember_secret(key)
        return f"{self.connection.base_url}/auth/key/{key}"

    def usage(self, remote_id: str) -> Usage:
        # VMmanager reports what a VM is allotted, not what the guest filled.
        host = self._host(remote_id)
        disk = host.get("disk") if isinstance(host.get("disk"), dict) else {}
        return Usage(
            disk_mb=float(disk.get("disk_mib") or 0),
            bandwidth_mb=0.0,
            extra={
                "ram_mib": host.get("ram_mib"),
                "cpu_number": host.get("cpu_number"),
                "state": host.get("state"),
                "disk_is_allocation": True,
            },
        )

    def test_connection(self) -> str:
        me = self._call("GET", "/auth/v4/whoami")
        if not isinstance(me, dict):
            raise self._malformed("auth/v4/whoami", me)
        return f"VMmanager 6 on {self.connection.hostname}, signed in as {me.get('email', '?')}"


def _result(host: dict[str, Any]) -> AccountResult:
    account = host.get("account") if isinstance(host.get("account"), dict) else {}
    return AccountResult(
        remote_id=str(host["id"]),
        username=str(host.get("name", "")),
        details={
            "domain": host.get("domain", ""),
            "state": host.get("state", ""),
            "account_id": account.get("id"),
        },
    )


def _id(value: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise PermanentModuleError(f"vmmanager: {value!r} is not a VMmanager id") from None


def _quote(value: str) -> str:
    """Values inside VMmanager ``where`` filters are single-quoted."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _task_message(module: ServerModule, task: dict[str, Any]) -> str:
    """A failed task says why in ``error`` (a message or ``{"msg": ...}``) or its ``output``."""
    error = task.get("error")
    if isinstance(error, dict):
        error = error.get("msg") or error.get("code")
    return module._scrub(str(error or task.get("output") or "no reason given"))


def _error_message(module: ServerModule, response: Any) -> str:
    """VMmanager errors are ``{"error": {"code": ..., "msg": ...}}``."""
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return module._scrub(str(error.get("msg") or error.get("code") or ""))
    return ""
