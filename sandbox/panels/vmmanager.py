"""A VMmanager 6 speaking the slice of its API the module uses.

``POST /auth/v4/public/token`` trades e-mail + password for a session token that
every other call carries in ``x-xsrf-token``; ``expire_sessions()`` forgets the
issued tokens, as a panel restart would. Errors are ``{"error": {"code", "msg"}}``
with a 4xx/5xx status. Long operations answer ``{"id", "task"}`` at once.
Lists take ``where=(field EQ 'value')`` filters and answer ``{"list", "size"}``.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from sandbox.panels.base import FakePanel, Reply, Request

_WHERE = re.compile(r"^\(?\s*(\w+)\s+EQ\s+(?:'((?:[^'\\]|\\.)*)'|(\d+))\s*\)?$")


class FakeVmmanager(FakePanel):
    def __init__(
        self, email: str = "admin@vm.example.test", password: str = "VmAdm1n!pass"
    ) -> None:
        super().__init__()
        self.email, self.password = email, password
        self.sessions: set[str] = set()
        self.presets: dict[int, dict[str, Any]] = {
            1: {"id": 1, "name": "VPS-S", "cpu_number": 1, "ram_mib": 1024, "hdd_mib": 20480},
            2: {"id": 2, "name": "VPS-M", "cpu_number": 2, "ram_mib": 4096, "hdd_mib": 51200},
        }
        self.users: dict[int, dict[str, Any]] = {}
        self.hosts: dict[int, dict[str, Any]] = {}
        self.disks: dict[int, dict[str, Any]] = {}
        self.keys: list[str] = []
        self._next = {"user": 10, "host": 100, "disk": 500, "task": 9000}

    @property
    def accounts(self) -> dict[str, dict[str, Any]]:
        """Virtual machines by name: what tests count."""
        return {host["name"]: host for host in self.hosts.values()}

    def expire_sessions(self) -> None:
        with self.lock:
            self.sessions.clear()

    def _id(self, kind: str) -> int:
        self._next[kind] += 1
        return self._next[kind]

    def _task(self, object_id: int) -> Reply:
        return Reply(200, {"id": object_id, "task": self._id("task")})

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

    def handle(self, request: Request) -> Reply:
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
            disk["size_mib"] = int(body["size_mib"])
            self.hosts[disk["host"]]["disk"]["disk_mib"] = disk["size_mib"]
            return self._task(disk["id"])
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
        host_id, disk_id = self._id("host"), self._id("disk")
        size = int(body.get("hdd_mib") or preset["hdd_mib"])
        self.disks[disk_id] = {"id": disk_id, "host": host_id, "size_mib": size, "boot_order": 1}
        self.hosts[host_id] = {
            "id": host_id,
            "name": body["name"],
            "domain": body.get("domain", ""),
            "state": "active",
            "account": {"id": account["id"], "email": account["email"]},
            "cpu_number": int(body.get("cpu_number") or preset["cpu_number"]),
            "ram_mib": int(body.get("ram_mib") or preset["ram_mib"]),
            "disk": {"disk_mib": size},
            "preset": preset["id"],
            "os": body.get("os"),
            "cluster": {"id": body.get("cluster", 1)},
            "comment": body.get("comment", ""),
        }
        return Reply(
            200,
            {"id": host_id, "task": self._id("task"), "recipe_task_list": [], "spice_task": None},
        )

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
        if action is None and method == "DELETE":
            del self.hosts[host["id"]]
            return self._task(host["id"])
        if action in ("start", "stop") and method == "POST":
            host["state"] = "active" if action == "start" else "stopped"
            return self._task(host["id"])
        if action == "resource" and method == "POST":
            for field in ("cpu_number", "ram_mib"):
                if field in body:
                    host[field] = int(body[field])
            return self._task(host["id"])
        if action == "disk" and method == "GET":
            disks = [
                {k: v for k, v in d.items() if k != "host"}
                for d in self.disks.values()
                if d["host"] == host["id"]
            ]
            return self._filtered(disks, request.query.get("where"))
        return self._error(404, 1001, f"Handler not found: {method} {action}")
