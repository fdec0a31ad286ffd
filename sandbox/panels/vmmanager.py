"""A VMmanager 6 speaking the slice of its API the module uses.

Follows ISPsystem's published VMmanager 6 API guide (VMmanager 6 Administrator
guide, https://docs.ispsystem.com/vmmanager-admin/developer-section/api-guide:
the ``auth/v4`` and ``vm/v3`` services, JSON bodies, ``{"error": {"code", "msg",
"value"}}`` errors, ``where`` filters, and 503 while the panel is suspended), with
task objects read from ``GET /vm/v3/task?where=(consul_id EQ <task>)`` the way
VMmanager 6 API clients read them (``status`` ``complete`` or ``fail``; the guide
itself does not list the task fields).

``POST /auth/v4/public/token`` trades e-mail + password for a session token that
every other call carries in ``x-xsrf-token``; ``expire_sessions()`` forgets the
issued tokens, as a panel restart would. Errors are ``{"error": {"code", "msg"}}``
with a 4xx/5xx status. Lists take ``where=(field EQ 'value')`` filters and answer
``{"list", "size"}``.

IPv4 addresses: a new VM gets ``ipv4_number`` addresses (1 when not given) from the
stand-in's pool; ``GET /vm/v3/host/<id>/ipv4`` lists them (``{"list", "size"}``, each
``{"id", "ip_addr", "mask", "gateway", "family", "host"}``), ``POST /vm/v3/host/<id>/ip``
with ``ipv4_number`` adds that many and ``DELETE /vm/v3/ip/<id>`` removes one, both as
jobs. The field names are those of VMmanager 6's API reference (the ``vm/v3`` service's
``AddIPToHostRequest`` and IPv4 list, as the API's published clients, such as
github.com/gadost/go-vmmanager-api, read them); a body with a field that request type
does not have, or with an ``ipv4_number`` that is not a positive whole number, is
refused with 400, and an exhausted pool with 400 as the panel refuses what it cannot
allocate.

Long operations are jobs, modelled in time: the call answers ``{"id", "task"}``
at once, the task is ``running`` for ``job_seconds`` and then ``complete`` (or
``fail`` with a message, see ``fail_next_job``); what it changes (a VM's state,
its resources, its disk) changes only when it completes, and a new VM is in
state ``creating`` until then. While a job runs on a VM, another operation on it
is refused with 409 "busy" (the wording is the stand-in's: the published
documents do not give the panel's text), and ``busy_for`` (from the base)
answers 503, as the guide says a suspended VMmanager does until it wakes.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from sandbox.panels.base import FakePanel, Reply, Request

_WHERE = re.compile(r"^\(?\s*(\w+)\s+EQ\s+(?:'((?:[^'\\]|\\.)*)'|(\d+))\s*\)?$")


class FakeVmmanager(FakePanel):
    def __init__(
        self,
        email: str = "admin@vm.example.test",
        password: str = "VmAdm1n!pass",
        job_seconds: float = 0.05,
    ) -> None:
        super().__init__()
        self.email, self.password = email, password
        self.job_seconds = job_seconds
        self.tasks: dict[int, dict[str, Any]] = {}
        self._job_failures: dict[str, list[str]] = {}
        self.sessions: set[str] = set()
        self.presets: dict[int, dict[str, Any]] = {
            1: {"id": 1, "name": "VPS-S", "cpu_number": 1, "ram_mib": 1024, "hdd_mib": 20480},
            2: {"id": 2, "name": "VPS-M", "cpu_number": 2, "ram_mib": 4096, "hdd_mib": 51200},
        }
        self.users: dict[int, dict[str, Any]] = {}
        self.hosts: dict[int, dict[str, Any]] = {}
        self.disks: dict[int, dict[str, Any]] = {}
        self.keys: list[str] = []
        self.ips: dict[int, dict[str, Any]] = {}
        # A documentation network (RFC 5737): the stand-in's whole address pool.
        self.free_ips: list[str] = [f"192.0.2.{n}" for n in range(10, 250)]
        self._next = {"user": 10, "host": 100, "disk": 500, "task": 9000, "ip": 700}

    @property
    def accounts(self) -> dict[str, dict[str, Any]]:
        """Virtual machines by name: what tests count."""
        return {host["name"]: host for host in self.hosts.values()}

    def host_ips(self, host_id: int) -> list[str]:
        """The addresses a VM holds: what tests count."""
        with self.lock:
            return [ip["ip_addr"] for ip in self.ips.values() if ip["host"]["id"] == host_id]

    def _ip_take(self, host_id: int, name: str) -> None:
        ip_id = self._id("ip")
        self.ips[ip_id] = {
            "id": ip_id,
            "ip_addr": self.free_ips.pop(0),
            "mask": "255.255.255.0",
            "gateway": "192.0.2.1",
            "family": 4,
            "state": "active",
            "host": {"id": host_id, "name": name, "interface": 0},
        }

    def expire_sessions(self) -> None:
        with self.lock:
            self.sessions.clear()

    def _id(self, kind: str) -> int:
        self._next[kind] += 1
        return self._next[kind]

    def fail_next_job(self, name: str, message: str) -> None:
        """The next job of this name (``host_stop``, ``host_resource``...) fails."""
        with self.lock:
            self._job_failures.setdefault(name, []).append(message)

    def job_log(self, host_id: int | None = None) -> list[dict[str, Any]]:
        with self.lock:
            self._tick()
            return [t for t in self.tasks.values() if host_id is None or t["host"] == host_id]

    def _task(
        self, object_id: int, name: str, work: Callable[[], None] | None, host: int | None = None
    ) -> Reply:
        """Starts a job on ``host``; ``work`` happens when it completes."""
        task_id = self._id("task")
        failures = self._job_failures.get(name)
        now = time.monotonic()
        self.tasks[task_id] = {
            "id": task_id,
            "consul_id": task_id,
            "name": name,
            "host": host,
            "status": "running",
            "output": "",
            "started": now,
            "ends_at": now + self.job_seconds,
            "ended": None,
            "failure": failures.pop(0) if failures else None,
            "work": work,
        }
        return Reply(200, {"id": object_id, "task": task_id})

    def _tick(self) -> None:
        now = time.monotonic()
        due = [t for t in self.tasks.values() if t["ended"] is None and t["ends_at"] <= now]
        for task in sorted(due, key=lambda t: t["ends_at"]):
            task["ended"] = task["ends_at"]
            if task["failure"]:
                task["status"], task["output"] = "fail", task["failure"]
            else:
                task["status"] = "complete"
                if task["work"] is not None:
                    task["work"]()
            task["work"] = None

    def _busy(self, host_id: int) -> bool:
        return any(t["host"] == host_id and t["ended"] is None for t in self.tasks.values())

    def _public_task(self, task: dict[str, Any]) -> dict[str, Any]:
        return {key: task[key] for key in ("id", "consul_id", "name", "status", "output")} | {
            "instance": task["host"]
        }

    @staticmethod
    def _error(status: int, code: int, msg: str) -> Reply:
        return Reply(status, {"error": {"code": code, "msg": msg, "value": ""}})

    @staticmethod
    def _filtered(items: list[dict[str, Any]], where: str | None) -> Reply:
        if where:
            match = _WHERE.match(where.strip())
            if not match:
                return FakeVmmanager._error(400, 1002, f"Invalid filter: {where}")
            field, text, number = match.groups()
            wanted: Any = int(number) if number is not None else text.replace("\\'", "'")
            items = [item for item in items if item.get(field) == wanted]
        return Reply(200, {"list": items, "size": len(items)})

    def busy_reply(self) -> Reply:
        return self._error(503, 503, "Service temporarily unavailable")

    def handle(self, request: Request) -> Reply:
        self._tick()
        path, method = request.path, request.method
        if path == "/auth/v4/public/token" and method == "POST":
            body = request.json() or {}
            if (body.get("email"), body.get("password")) != (self.email, self.password):
                return self._error(401, 3001, "Invalid email or password")
            token = secrets.token_hex(20)
            self.sessions.add(token)
            return Reply(
                200,
                {"id": "1", "token": token, "expires_at": "2099-01-01 00:00:00", "confirmed": True},
            )
        if request.header("x-xsrf-token") not in self.sessions:
            return self._error(401, 3002, "Unauthorized")
        body = request.json() if method in ("POST", "PUT") else None
        body = body if isinstance(body, dict) else {}

        if path == "/auth/v4/whoami":
            return Reply(200, {"id": 1, "email": self.email, "roles": ["@admin"]})
        if match := re.fullmatch(r"/auth/v4/user/(\d+)/key", path):
            if int(match.group(1)) not in self.users:
                return self._error(404, 3003, "User not found")
            key = secrets.token_hex(16)
            self.keys.append(key)
            return Reply(200, {"id": int(match.group(1)), "key": key})
        if path == "/vm/v3/task" and method == "GET":
            tasks = [self._public_task(task) for task in self.tasks.values()]
            return self._filtered(tasks, request.query.get("where"))
        if path == "/vm/v3/account":
            if method == "GET":
                return self._filtered(list(self.users.values()), request.query.get("where"))
            return self._create_user(body)
        if path == "/vm/v3/host":
            if method == "GET":
                return self._filtered(list(self.hosts.values()), request.query.get("where"))
            return self._create_host(body)
        if match := re.fullmatch(r"/vm/v3/preset/(\d+)", path):
            preset = self.presets.get(int(match.group(1)))
            return Reply(200, preset) if preset else self._error(404, 2001, "Preset not found")
        if match := re.fullmatch(r"/vm/v3/disk/(\d+)", path):
            disk = self.disks.get(int(match.group(1)))
            if disk is None:
                return self._error(404, 2002, "Disk not found")
            if int(body.get("size_mib", 0)) < disk["size_mib"]:
                return self._error(400, 2003, "Disk size can not be decreased")
            if self._busy(disk["host"]):
                return self._host_busy(disk["host"])
            size = int(body["size_mib"])

            def grow() -> None:
                disk["size_mib"] = size
                if disk["host"] in self.hosts:
                    self.hosts[disk["host"]]["disk"]["disk_mib"] = size

            return self._task(disk["id"], "disk_resize", grow, disk["host"])
        if (match := re.fullmatch(r"/vm/v3/ip/(\d+)", path)) and method == "DELETE":
            return self._ip_delete(int(match.group(1)))
        if match := re.fullmatch(r"/vm/v3/host/(\d+)(?:/(\w+))?", path):
            host = self.hosts.get(int(match.group(1)))
            if host is None:
                return self._error(404, 2004, "Host not found")
            return self._host_action(host, match.group(2), method, body, request)
        return self._error(404, 1001, f"Handler not found: {method} {path}")

    def _create_user(self, body: dict[str, Any]) -> Reply:
        email = body.get("email", "")
        if "@" not in email or not body.get("password"):
            return self._error(400, 1003, "Field 'email' or 'password' is invalid")
        if any(user["email"] == email for user in self.users.values()):
            return self._error(409, 1004, f"User with email {email} already exists")
        user_id = self._id("user")
        self.users[user_id] = {
            "id": user_id,
            "email": email,
            "roles": [body.get("role", "@user")],
            "state": "active",
        }
        return Reply(200, {"id": user_id})

    def _create_host(self, body: dict[str, Any]) -> Reply:
        if not body.get("name") or not body.get("password"):
            return self._error(400, 1003, "Field 'name' or 'password' is invalid")
        account = self.users.get(body.get("account"))
        if account is None:
            return self._error(400, 1005, "Account not found")
        preset = self.presets.get(body.get("preset"))
        if preset is None:
            return self._error(400, 1006, "Preset not found")
        number = body.get("ipv4_number", 1)
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            return self._error(400, 1003, "Field 'ipv4_number' is invalid")
        if number > len(self.free_ips):
            return self._error(400, 2010, "Not enough free IPv4 addresses in the pools")
        host_id, disk_id = self._id("host"), self._id("disk")
        size = int(body.get("hdd_mib") or preset["hdd_mib"])
        self.disks[disk_id] = {"id": disk_id, "host": host_id, "size_mib": size, "boot_order": 1}
        host = {
            "id": host_id,
            "name": body["name"],
            "domain": body.get("domain", ""),
            "state": "creating",
            "account": {"id": account["id"], "email": account["email"]},
            "cpu_number": int(body.get("cpu_number") or preset["cpu_number"]),
            "ram_mib": int(body.get("ram_mib") or preset["ram_mib"]),
            "disk": {"disk_mib": size},
            "preset": preset["id"],
            "os": body.get("os"),
            "cluster": {"id": body.get("cluster", 1)},
            "comment": body.get("comment", ""),
        }
        self.hosts[host_id] = host
        for _ in range(number):
            self._ip_take(host_id, host["name"])

        def created() -> None:
            host["state"] = "active"

        reply = self._task(host_id, "host_create", created, host_id)
        reply.body.update({"recipe_task_list": [], "spice_task": None})
        return reply

    def _host_busy(self, host_id: int) -> Reply:
        return self._error(409, 5011, f"Host {host_id} is busy: another task is running on it")

    def _host_action(
        self,
        host: dict[str, Any],
        action: str | None,
        method: str,
        body: dict[str, Any],
        request: Request,
    ) -> Reply:
        if action is None and method == "GET":
            return Reply(200, host)
        if action == "ipv4" and method == "GET":
            ips = [ip for ip in self.ips.values() if ip["host"]["id"] == host["id"]]
            return Reply(200, {"list": ips, "size": len(ips)})
        changes = (action is None and method == "DELETE") or (
            action in ("start", "stop", "resource", "ip") and method == "POST"
        )
        if changes and self._busy(host["id"]):
            return self._host_busy(host["id"])
        if action is None and method == "DELETE":

            def delete() -> None:
                self.hosts.pop(host["id"], None)
                for ip_id in [i for i, ip in self.ips.items() if ip["host"]["id"] == host["id"]]:
                    self.free_ips.append(self.ips.pop(ip_id)["ip_addr"])

            host["state"] = "deleting"
            return self._task(host["id"], "host_delete", delete, host["id"])
        if action in ("start", "stop") and method == "POST":
            wanted = "active" if action == "start" else "stopped"

            def power() -> None:
                host["state"] = wanted

            return self._task(host["id"], f"host_{action}", power, host["id"])
        if action == "ip" and method == "POST":
            return self._ip_add(host, body)
        if action == "resource" and method == "POST":
            values = {f: int(body[f]) for f in ("cpu_number", "ram_mib") if f in body}
            return self._task(host["id"], "host_resource", lambda: host.update(values), host["id"])
        if action == "disk" and method == "GET":
            disks = [
                {k: v for k, v in d.items() if k != "host"}
                for d in self.disks.values()
                if d["host"] == host["id"]
            ]
            return self._filtered(disks, request.query.get("where"))
        return self._error(404, 1001, f"Handler not found: {method} {action}")

    # Fields of the API's AddIPToHostRequest; anything else is not VMmanager's.
    _ADD_IP_FIELDS = frozenset(
        {
            "ip_addr",
            "ipv4_pool",
            "ipv4_number",
            "ipv6_pool",
            "ipv6_prefix",
            "ipv6_enabled",
            "interfaces",
            "vxlan",
        }
    )

    def _ip_add(self, host: dict[str, Any], body: dict[str, Any]) -> Reply:
        unknown = sorted(set(body) - self._ADD_IP_FIELDS)
        if unknown:
            return self._error(400, 1003, f"Unknown field '{unknown[0]}'")
        number = body.get("ipv4_number")
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            return self._error(400, 1003, "Field 'ipv4_number' is invalid")
        if number > len(self.free_ips):
            return self._error(400, 2010, "Not enough free IPv4 addresses in the pools")

        def add() -> None:
            for _ in range(number):
                self._ip_take(host["id"], host["name"])

        return self._task(host["id"], "host_add_ip", add, host["id"])

    def _ip_delete(self, ip_id: int) -> Reply:
        ip = self.ips.get(ip_id)
        if ip is None:
            return self._error(404, 2011, "IP address not found")
        host_id = ip["host"]["id"]
        if self._busy(host_id):
            return self._host_busy(host_id)

        def release() -> None:
            if self.ips.pop(ip_id, None) is not None:
                self.free_ips.append(ip["ip_addr"])

        return self._task(ip_id, "ip_delete", release, host_id)
