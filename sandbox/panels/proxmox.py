"""A Proxmox VE cluster speaking the slice of ``/api2/json`` the module uses.

Auth is ``Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET``; anything else
gets 401 with the reason in the status line, as pveproxy answers. Replies are
``{"data": ...}``; parameter errors are 400 with ``errors``; most other failures
are 500 with the message in the status line. Parameters arrive form-encoded.

Clones, starts, stops and deletes are tasks (UPIDs) that report ``running`` for
``task_polls`` status checks before they stop with ``OK``.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from sandbox.panels.base import FakePanel, Reply, Request

_DNS_NAME = re.compile(r"^(?=.{1,63}$)[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$")
_SIZE = re.compile(r"size=(\d+)G")
GB = 1024**3


class FakeProxmox(FakePanel):
    VERSION = "8.2.4"

    def __init__(
        self,
        token_id: str = "billing@pve!tessera",
        secret: str = "4c1e3a3e-5b9b-4f5e-9a77-0d6f2b1c9e10",
        task_polls: int = 1,
    ) -> None:
        super().__init__()
        self.token_id, self.secret, self.task_polls = token_id, secret, task_polls
        self.nodes = ["pve1", "pve2"]
        self.vms: dict[int, dict[str, Any]] = {}
        self.tasks: dict[str, dict[str, Any]] = {}
        self.tickets: list[str] = []
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

    def _start_task(self, node: str, kind: str, vmid: int, then: Any = None) -> Reply:
        upid = (
            f"UPID:{node}:{secrets.randbelow(16**8):08X}:{secrets.randbelow(16**8):08X}:"
            f"{secrets.randbelow(16**8):08X}:{kind}:{vmid}:{self.token_id}:"
        )
        self.tasks[upid] = {
            "node": node,
            "type": kind,
            "id": str(vmid),
            "polls_left": self.task_polls,
            "then": then,
        }
        return self._data(upid)

    # Routing.

    def handle(self, request: Request) -> Reply:
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
        if match := re.fullmatch(r"/nodes/(\w+)/tasks/([^/]+)/status", path):
            return self._task_status(match.group(2))
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
        return {
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

    def _task_status(self, upid: str) -> Reply:
        task = self.tasks.get(upid)
        if task is None:
            return self._fail(500, f"unable to parse worker upid '{upid}'")
        if task["polls_left"] > 0:
            task["polls_left"] -= 1
            return self._data(
                {
                    "status": "running",
                    "type": task["type"],
                    "id": task["id"],
                    "upid": upid,
                    "node": task["node"],
                }
            )
        if task["then"] is not None:
            task["then"]()
            task["then"] = None
        return self._data(
            {
                "status": "stopped",
                "exitstatus": "OK",
                "type": task["type"],
                "id": task["id"],
                "upid": upid,
                "node": task["node"],
            }
        )

    def _vm_action(
        self,
        vm: dict[str, Any],
        node: str,
        action: str | None,
        method: str,
        params: dict[str, str],
    ) -> Reply:
        vmid = vm["vmid"]
        if action == "clone" and method == "POST":
            return self._clone(vm, node, params)
        if vm.get("lock"):
            return self._fail(500, f"VM is locked ({vm['lock']})")
        if action is None and method == "DELETE":
            if vm["status"] != "stopped":
                return self._fail(500, f"VM {vmid} is running - destroy failed")
            del self.vms[vmid]
            return self._start_task(node, "qmdestroy", vmid)
        if action == "config" and method == "GET":
            config = dict(vm["config"])
            if "cipassword" in config:
                config["cipassword"] = "**********"
            return self._data(config)
        if action == "config" and method in ("PUT", "POST"):
            for key in ("cores", "sockets", "memory", "cipassword", "name", "description"):
                if key in params:
                    vm["config"][key] = params[key]
            return self._data(None) if method == "PUT" else self._start_task(node, "qmconfig", vmid)
        if action == "resize" and method == "PUT":
            return self._resize(vm, params)
        if action == "status/current" and method == "GET":
            resource = self._resource(vm)
            return self._data(
                {
                    key: resource[key]
                    for key in (
                        "status",
                        "vmid",
                        "name",
                        "disk",
                        "maxdisk",
                        "mem",
                        "maxmem",
                        "netin",
                        "netout",
                    )
                }
            )
        if action in ("status/start", "status/stop") and method == "POST":
            wanted = "running" if action.endswith("start") else "stopped"
            if wanted == "running" and vm["status"] == "running":
                return self._fail(500, f"VM {vmid} already running")
            vm["status"] = wanted
            return self._start_task(node, "qm" + action.split("/")[1], vmid)
        if action == "vncproxy" and method == "POST":
            ticket = f"PVEVNC:{secrets.token_hex(4).upper()}::{secrets.token_urlsafe(24)}"
            self.tickets.append(ticket)
            return self._data(
                {
                    "ticket": ticket,
                    "port": "5900",
                    "user": self.token_id,
                    "cert": "-----BEGIN CERTIFICATE-----...",
                    "upid": f"UPID:{node}:0:0:0:vncproxy:{vmid}:{self.token_id}:",
                }
            )
        return self._fail(501, f"Method '{method} {action}' not implemented")

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
        return self._start_task(
            node, "qmclone", source["vmid"], then=lambda: clone.pop("lock", None)
        )

    def _resize(self, vm: dict[str, Any], params: dict[str, str]) -> Reply:
        disk, size = params.get("disk", ""), params.get("size", "")
        current = _SIZE.search(vm["config"].get(disk, ""))
        wanted = re.fullmatch(r"(\+?)(\d+)G", size)
        if current is None or wanted is None:
            return self._fail(400, "Parameter verification failed.", {"size": "invalid format"})
        new_size = int(wanted.group(2)) + (int(current.group(1)) if wanted.group(1) else 0)
        if new_size < int(current.group(1)):
            return self._fail(500, "shrinking disks is not supported")
        vm["config"][disk] = _SIZE.sub(f"size={new_size}G", vm["config"][disk])
        return self._data(None)
