"""A Proxmox VE cluster speaking the slice of ``/api2/json`` the module uses.

Follows the Proxmox VE 8.2 API as published in its API viewer
(https://pve.proxmox.com/pve-docs/api-viewer/, generated from ``apidoc.js`` of
pve-docs 8.2) and the handlers behind it in qemu-server (``PVE/API2/Qemu.pm``),
pve-access-control (``PVE/API2/User.pm``, ``PVE/API2/ACL.pm``) and pve-common
(``PVE/Tools.pm``: ``upid_read_status``, ``upid_status_is_error``;
``PVE/AbstractConfig.pm``: ``check_lock``, ``lock_config``).

Auth is ``Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET``; anything else
gets 401 with the reason in the status line, as pveproxy answers. Replies are
``{"data": ...}``; parameter errors are 400 with ``errors`` (a parameter the
method does not define is refused, as ``additionalProperties => 0`` makes the
real server do); most other failures are 500 with the message in the status
line. Parameters arrive form-encoded.

Time is modelled the way a real node behaves:

- clone, resize, start, stop and destroy are worker tasks: the call answers a
  UPID at once, the task reports ``running`` for ``task_seconds`` (settable per
  task type in ``task_durations``) and then ``stopped`` with an ``exitstatus``
  of ``OK``, ``WARNINGS: n`` or an error message (``end_next_task``). The
  change a task makes is visible only once it has ended well.
- a running task holds the VM's config lock (``lock_config``, a flock): another
  task or a synchronous config change meanwhile fails with Proxmox's own
  ``can't lock file '/var/lock/qemu-server/lock-<vmid>.conf' - got timeout``;
  a VM carrying a ``lock`` property (``clone`` while being cloned, ``backup``
  while ``hold_lock`` pretends vzdump runs) refuses changes with
  ``VM is locked (<lock>)``.
- ``busy_for`` (from the base) answers 503, as pveproxy does while restarting.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from sandbox.panels.base import FakePanel, Reply, Request

_DNS_NAME = re.compile(r"^(?=.{1,63}$)[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$")
_SIZE = re.compile(r"size=(\d+)G")
_USERID = re.compile(r"^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+$")
_SIZE_PARAM = re.compile(r"^\+?\d+(\.\d+)?[KMGT]?$")
_WARNINGS = re.compile(r"^WARNINGS: \d+$")
GB = 1024**3
NOT_IN_SCHEMA = (
    "property is not defined in schema and the schema does not allow additional properties"
)

# Parameters each method accepts (the API viewer's lists, trimmed to what a billing
# system could send); node and vmid come from the path.
_CONFIG_PARAMS = {
    "balloon", "cicustom", "cipassword", "citype", "ciupgrade", "ciuser", "cores", "cpu",
    "cpulimit", "cpuunits", "delete", "description", "digest", "ipconfig0", "memory", "name",
    "nameserver", "net0", "onboot", "revert", "searchdomain", "skiplock", "sockets", "sshkeys",
    "tags", "vcpus",
}  # fmt: skip
_PARAMS: dict[str, set[str]] = {
    "clone": {
        "newid",
        "bwlimit",
        "description",
        "format",
        "full",
        "name",
        "pool",
        "snapname",
        "storage",
        "target",
    },
    "config": _CONFIG_PARAMS,
    "resize": {"disk", "size", "digest", "skiplock"},
    "status/start": {"skiplock", "timeout", "machine", "forceCPU"},
    "status/stop": {"skiplock", "timeout", "keepActive", "overrule-shutdown"},
    "destroy": {"purge", "destroy-unreferenced-disks", "skiplock"},
    "vncproxy": {"websocket", "generate-password"},
    "users": {
        "userid",
        "password",
        "comment",
        "email",
        "enable",
        "expire",
        "firstname",
        "groups",
        "keys",
        "lastname",
    },
    "acl": {"path", "roles", "users", "groups", "tokens", "propagate", "delete"},
}
ROLES = {"Administrator", "NoAccess", "PVEAdmin", "PVEAuditor", "PVEVMAdmin", "PVEVMUser"}


class FakeProxmox(FakePanel):
    VERSION = "8.2.4"

    def __init__(
        self,
        token_id: str = "billing@pve!tessera",
        secret: str = "4c1e3a3e-5b9b-4f5e-9a77-0d6f2b1c9e10",
        task_seconds: float = 0.05,
    ) -> None:
        super().__init__()
        self.token_id, self.secret = token_id, secret
        self.task_seconds = task_seconds
        self.task_durations: dict[str, float] = {}
        self.nodes = ["pve1", "pve2"]
        self.vms: dict[int, dict[str, Any]] = {}
        self.tasks: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.acl: list[dict[str, str]] = []
        self.tickets: list[str] = []
        self._task_ends: dict[str, list[str]] = {}
        self.add_template(9000, "debian12-small", cores=1, memory=1024, disk_gb=10)
        self.add_template(9001, "debian12-large", cores=4, memory=8192, disk_gb=80)

    def add_template(self, vmid: int, name: str, cores: int, memory: int, disk_gb: int) -> None:
        self.vms[vmid] = {
            "vmid": vmid,
            "name": name,
            "node": "pve1",
            "template": 1,
            "status": "stopped",
            "config": {
                "name": name,
                "cores": cores,
                "sockets": 1,
                "memory": str(memory),
                "scsi0": f"local-lvm:base-{vmid}-disk-0,size={disk_gb}G",
                "template": 1,
            },
        }

    @property
    def accounts(self) -> dict[str, dict[str, Any]]:
        """Non-template VMs by name: what tests count."""
        return {vm["name"]: vm for vm in self.vms.values() if not vm["template"]}

    # What tests drive.

    def end_next_task(self, kind: str, exitstatus: str) -> None:
        """The next task of this type (``qmresize``, ``qmstart``...) ends with ``exitstatus``."""
        with self.lock:
            self._task_ends.setdefault(kind, []).append(exitstatus)

    def hold_lock(self, vmid: int, lock: str = "backup", seconds: float = 0.3) -> None:
        """Sets the VM's ``lock`` property for a while, as a running vzdump backup does."""
        with self.lock:
            self.vms[vmid]["lock"] = lock
            self.vms[vmid]["lock_until"] = time.monotonic() + seconds

    def task_log(self, vmid: int | None = None) -> list[dict[str, Any]]:
        """Tasks in the order they started, with when they started and ended."""
        with self.lock:
            self._tick()
            tasks = sorted(self.tasks.values(), key=lambda task: task["started"])
            return [t for t in tasks if vmid is None or t["id"] == str(vmid)]

    # Replies.

    @staticmethod
    def _data(data: Any) -> Reply:
        return Reply(200, {"data": data})

    @staticmethod
    def _fail(status: int, reason: str, errors: dict[str, str] | None = None) -> Reply:
        body: dict[str, Any] = {"data": None}
        if errors:
            body["errors"] = errors
        return Reply(status, body, reason=reason)

    def busy_reply(self) -> Reply:
        return self._fail(503, "Service Unavailable")

    @classmethod
    def _check_params(cls, method: str, params: dict[str, str]) -> Reply | None:
        unknown = sorted(set(params) - _PARAMS[method])
        if unknown:
            return cls._fail(
                400, "Parameter verification failed.", dict.fromkeys(unknown, NOT_IN_SCHEMA)
            )
        return None

    # Tasks and locks.

    def _start_task(
        self,
        node: str,
        kind: str,
        vmid: int,
        work: Callable[[], None] | None = None,
        hold: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> Reply:
        """Starts a worker; ``hold`` is the VM whose config lock it holds while it runs."""
        now = time.monotonic()
        upid = (
            f"UPID:{node}:{secrets.randbelow(16**8):08X}:{secrets.randbelow(16**8):08X}:"
            f"{int(time.time()):08X}:{kind}:{vmid}:{self.token_id}:"
        )
        ends = self._task_ends.get(kind)
        exitstatus = error or (ends.pop(0) if ends else "OK")
        self.tasks[upid] = {
            "upid": upid,
            "node": node,
            "type": kind,
            "id": str(vmid),
            "user": self.token_id,
            "started": now,
            "ends_at": now + self.task_durations.get(kind, self.task_seconds),
            "ended": None,
            "exitstatus": exitstatus,
            "work": work,
            "holds": hold["vmid"] if hold is not None else None,
        }
        if hold is not None:
            hold["flock"] = upid
        return self._data(upid)

    def _tick(self) -> None:
        """Ends the tasks whose time has come, in the order they were due."""
        now = time.monotonic()
        due = [t for t in self.tasks.values() if t["ended"] is None and t["ends_at"] <= now]
        for task in sorted(due, key=lambda t: t["ends_at"]):
            task["ended"] = task["ends_at"]
            if not _is_error(task["exitstatus"]) and task["work"] is not None:
                task["work"]()
            elif _is_error(task["exitstatus"]) and task.get("undo") is not None:
                task["undo"]()
            task["work"] = task["undo"] = None
            vm = self.vms.get(task["holds"]) if task["holds"] is not None else None
            if vm is not None and vm.get("flock") == task["upid"]:
                vm.pop("flock")
        for vm in self.vms.values():
            if vm.get("lock_until") and vm["lock_until"] <= now:
                vm.pop("lock", None)
                vm.pop("lock_until")

    def _locked(self, vm: dict[str, Any]) -> str | None:
        """Why a change to this VM cannot happen now, in Proxmox's words, or None."""
        if vm.get("flock"):
            return f"can't lock file '/var/lock/qemu-server/lock-{vm['vmid']}.conf' - got timeout"
        if vm.get("lock"):
            return f"VM is locked ({vm['lock']})"
        return None

    # Routing.

    def handle(self, request: Request) -> Reply:
        self._tick()
        if request.header("authorization") != f"PVEAPIToken={self.token_id}={self.secret}":
            return self._fail(401, "authentication failure")
        if not request.path.startswith("/api2/json/"):
            return self._fail(501, "Not Implemented")
        path, method = request.path.removeprefix("/api2/json"), request.method
        params = request.query if method in ("GET", "DELETE") else request.form()

        if path == "/version":
            return self._data({"version": self.VERSION, "release": "8.2", "repoid": "faa83925"})
        if path == "/cluster/nextid":
            return self._data(str(next(i for i in range(100, 10**6) if i not in self.vms)))
        if path == "/cluster/resources":
            return self._data([self._resource(vm) for vm in self.vms.values()])
        if path.startswith("/access/"):
            return self._access(path, method, params)
        if match := re.fullmatch(r"/nodes/(\w+)/tasks/([^/]+)/status", path):
            return self._task_status(match.group(1), match.group(2))
        match = re.fullmatch(r"/nodes/(\w+)/qemu/(\d+)(?:/(.+))?", path)
        if not match:
            return self._fail(501, f"Method '{method} {path}' not implemented")
        node, vmid, action = match.group(1), int(match.group(2)), match.group(3)
        vm = self.vms.get(vmid)
        if vm is None or vm["node"] != node:
            return self._fail(
                500, f"Configuration file 'nodes/{node}/qemu-server/{vmid}.conf' does not exist"
            )
        return self._vm_action(vm, node, action, method, params)

    def _resource(self, vm: dict[str, Any]) -> dict[str, Any]:
        config = vm["config"]
        size = _SIZE.search(config.get("scsi0", ""))
        resource = {
            "id": f"qemu/{vm['vmid']}",
            "type": "qemu",
            "vmid": vm["vmid"],
            "name": vm["name"],
            "node": vm["node"],
            "status": vm["status"],
            "template": vm["template"],
            "maxdisk": int(size.group(1)) * GB if size else 0,
            "disk": 0,
            "maxmem": int(config.get("memory", 0)) * 1024 * 1024,
            "mem": 0,
            "netin": vm.get("netin", 0),
            "netout": vm.get("netout", 0),
        }
        if vm.get("lock"):
            resource["lock"] = vm["lock"]
        return resource

    def _task_status(self, node: str, upid: str) -> Reply:
        task = self.tasks.get(upid)
        if task is None or task["node"] != node:
            return self._fail(500, f"unable to parse worker upid '{upid}'")
        status = {
            "upid": upid,
            "node": task["node"],
            "type": task["type"],
            "id": task["id"],
            "user": task["user"],
            "pid": int(upid.split(":")[2], 16),
            "pstart": int(upid.split(":")[3], 16),
            "starttime": int(upid.split(":")[4], 16),
            "status": "running" if task["ended"] is None else "stopped",
        }
        if task["ended"] is not None:
            status["exitstatus"] = task["exitstatus"]
        return self._data(status)

    def _vm_action(
        self,
        vm: dict[str, Any],
        node: str,
        action: str | None,
        method: str,
        params: dict[str, str],
    ) -> Reply:
        if action == "clone" and method == "POST":
            return self._check_params("clone", params) or self._clone(vm, node, params)
        if action == "config" and method == "GET":
            config = dict(vm["config"])
            if "cipassword" in config:
                config["cipassword"] = "**********"
            if vm.get("lock"):
                config["lock"] = vm["lock"]
            return self._data(config)
        if action == "status/current" and method == "GET":
            resource = self._resource(vm)
            keys = ("status", "vmid", "name", "disk", "maxdisk", "mem", "maxmem", "netin", "netout")
            current = {key: resource[key] for key in keys}
            if vm.get("lock"):
                current["lock"] = vm["lock"]
            return self._data(current)
        if action == "vncproxy" and method == "POST":
            return self._check_params("vncproxy", params) or self._vncproxy(vm, node)
        if action is None and method == "DELETE":
            return self._check_params("destroy", params) or self._destroy(vm, node)
        if action == "config" and method in ("PUT", "POST"):
            return self._check_params("config", params) or self._config(vm, node, method, params)
        if action == "resize" and method == "PUT":
            return self._check_params("resize", params) or self._resize(vm, node, params)
        if action in ("status/start", "status/stop") and method == "POST":
            return self._check_params(action, params) or self._power(vm, node, action)
        return self._fail(501, f"Method '{method} {action}' not implemented")

    def _config(self, vm: dict[str, Any], node: str, method: str, params: dict[str, str]) -> Reply:
        # The synchronous variant (PUT) takes the lock in the API daemon itself.
        if reason := self._locked(vm):
            return self._fail(500, reason)

        def apply() -> None:
            for key, value in params.items():
                if key not in ("digest", "skiplock", "delete", "revert"):
                    vm["config"][key] = value

        if method == "PUT":
            apply()
            return self._data(None)
        return self._start_task(node, "qmconfig", vm["vmid"], apply, hold=vm)

    def _worker(
        self, vm: dict[str, Any], node: str, kind: str, work: Callable[[], None] | None
    ) -> Reply:
        """A task whose worker first takes the VM's config lock, as qemu-server's do."""
        return self._start_task(node, kind, vm["vmid"], work, hold=vm, error=self._locked(vm))

    def _power(self, vm: dict[str, Any], node: str, action: str) -> Reply:
        wanted = "running" if action.endswith("start") else "stopped"
        if wanted == "running" and vm["status"] == "running" and not vm.get("flock"):
            return self._fail(500, f"VM {vm['vmid']} already running")

        def apply() -> None:
            vm["status"] = wanted

        return self._worker(vm, node, "qm" + action.split("/")[1], apply)

    def _destroy(self, vm: dict[str, Any], node: str) -> Reply:
        vmid = vm["vmid"]
        if vm["status"] != "stopped" and not vm.get("flock"):
            return self._fail(500, f"VM {vmid} is running - destroy failed")

        def apply() -> None:
            self.vms.pop(vmid, None)
            self.acl[:] = [entry for entry in self.acl if entry["path"] != f"/vms/{vmid}"]

        return self._worker(vm, node, "qmdestroy", apply)

    def _vncproxy(self, vm: dict[str, Any], node: str) -> Reply:
        ticket = f"PVEVNC:{secrets.token_hex(4).upper()}::{secrets.token_urlsafe(24)}"
        self.tickets.append(ticket)
        return self._data(
            {
                "ticket": ticket,
                "port": "5900",
                "user": self.token_id,
                "cert": "-----BEGIN CERTIFICATE-----...",
                "upid": f"UPID:{node}:0:0:0:vncproxy:{vm['vmid']}:{self.token_id}:",
            }
        )

    def _clone(self, source: dict[str, Any], node: str, params: dict[str, str]) -> Reply:
        newid = int(params.get("newid") or 0)
        name = params.get("name", "")
        if not newid or newid < 100:
            return self._fail(400, "Parameter verification failed.", {"newid": "invalid"})
        if name and not _DNS_NAME.match(name):
            return self._fail(
                400,
                "Parameter verification failed.",
                {"name": "invalid format - value does not look like a valid DNS name"},
            )
        if newid in self.vms:
            return self._fail(500, f"unable to create VM {newid}: config file already exists")
        target = params.get("target") or node
        if target not in self.nodes:
            return self._fail(500, f"no such node '{target}'")
        if source.get("lock"):
            return self._fail(500, f"VM is locked ({source['lock']})")
        config = {k: v for k, v in source["config"].items() if k != "template"}
        config["name"] = name or f"Copy-of-VM-{source['name']}"
        config["scsi0"] = config["scsi0"].replace(f"base-{source['vmid']}", f"vm-{newid}")
        clone = {
            "vmid": newid,
            "name": config["name"],
            "node": target,
            "template": 0,
            "status": "stopped",
            "config": config,
            "lock": "clone",
        }
        self.vms[newid] = clone
        reply = self._start_task(node, "qmclone", source["vmid"], lambda: clone.pop("lock", None))
        # A failed clone removes the VM it was making.
        self.tasks[reply.body["data"]]["undo"] = lambda: self.vms.pop(newid, None)
        return reply

    def _resize(self, vm: dict[str, Any], node: str, params: dict[str, str]) -> Reply:
        disk, size = params.get("disk", ""), params.get("size", "")
        current = _SIZE.search(vm["config"].get(disk, ""))
        wanted = re.fullmatch(r"(\+?)(\d+)G", size)
        if not _SIZE_PARAM.match(size) or current is None or wanted is None:
            return self._fail(400, "Parameter verification failed.", {"size": "invalid format"})
        new_size = int(wanted.group(2)) + (int(current.group(1)) if wanted.group(1) else 0)
        if new_size < int(current.group(1)):
            return self._fail(500, "shrinking disks is not supported")

        def apply() -> None:
            vm["config"][disk] = _SIZE.sub(f"size={new_size}G", vm["config"][disk])

        # Since Proxmox VE 8.0 a disk resize is a worker task and answers its UPID.
        return self._worker(vm, node, "resize", apply)

    # Users and permissions (pve-access-control).

    def _access(self, path: str, method: str, params: dict[str, str]) -> Reply:
        if path == "/access/users" and method == "POST":
            return self._check_params("users", params) or self._user_create(params)
        if path == "/access/users" and method == "GET":
            return self._data([{"userid": u, **rest} for u, rest in self.users.items()])
        if (match := re.fullmatch(r"/access/users/([^/]+)", path)) and method == "DELETE":
            if match.group(1) not in self.users:
                return self._fail(
                    500, f"delete user failed: user '{match.group(1)}' does not exist"
                )
            del self.users[match.group(1)]
            self.acl[:] = [entry for entry in self.acl if entry["ugid"] != match.group(1)]
            return self._data(None)
        if path == "/access/acl" and method == "PUT":
            return self._check_params("acl", params) or self._acl_update(params)
        if path == "/access/acl" and method == "GET":
            return self._data(list(self.acl))
        return self._fail(501, f"Method '{method} {path}' not implemented")

    def _user_create(self, params: dict[str, str]) -> Reply:
        userid, password = params.get("userid", ""), params.get("password")
        if not _USERID.match(userid):
            return self._fail(
                400,
                "Parameter verification failed.",
                {"userid": "value does not match the regex pattern"},
            )
        realm = userid.rsplit("@", 1)[1]
        if realm not in ("pve", "pam"):
            return self._fail(500, f"create user failed: domain '{realm}' does not exist")
        if password is not None and not 8 <= len(password) <= 64:
            return self._fail(
                400,
                "Parameter verification failed.",
                {"password": "value must have at least 8 characters"},
            )
        if userid in self.users:
            return self._fail(500, f"create user failed: user '{userid}' already exists")
        self.users[userid] = {"enable": int(params.get("enable", 1)), "password": password}
        return self._data(None)

    def _acl_update(self, params: dict[str, str]) -> Reply:
        path, roles, users = (
            params.get("path", ""),
            params.get("roles", ""),
            params.get("users", ""),
        )
        missing = {
            key: "property is missing and it is not optional"
            for key in ("path", "roles")
            if not params.get(key)
        }
        if missing:
            return self._fail(400, "Parameter verification failed.", missing)
        unknown_role = next((role for role in roles.split(",") if role not in ROLES), None)
        if unknown_role:
            return self._fail(500, f"role '{unknown_role}' does not exist")
        vm_path = re.fullmatch(r"/vms/(\d+)", path)
        if path != "/" and not (vm_path and int(vm_path.group(1)) in self.vms):
            return self._fail(500, f"invalid ACL path '{path}'")
        for userid in filter(None, users.split(",")):
            if userid not in self.users:
                return self._fail(500, f"user '{userid}' does not exist")
            for role in roles.split(","):
                entry = {
                    "path": path,
                    "ugid": userid,
                    "type": "user",
                    "roleid": role,
                    "propagate": 1,
                }
                if params.get("delete") in ("1", "true"):
                    if entry in self.acl:
                        self.acl.remove(entry)
                elif entry not in self.acl:
                    self.acl.append(entry)
        return self._data(None)


def _is_error(exitstatus: str) -> bool:
    """pve-common's ``upid_status_is_error``: only ``OK`` and ``WARNINGS: n`` succeed."""
    return not (exitstatus == "OK" or _WARNINGS.match(exitstatus))
