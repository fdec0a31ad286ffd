"""Proxmox VE through its REST API (``/api2/json``) with an API token.

The connection's ``username`` is the token id (``USER@REALM!TOKENID``) and
``secret`` the token's secret. A VPS is a clone of a template VM: ``package`` is
the template's VMID, and the template's own cores, memory and disk size define
the plan, so a plan change copies them from the new template. ``options`` may
override ``cpu``, ``ram_mb`` and ``disk_gb`` at creation; ``connection.extra``
may set ``node`` (default: the template's node), ``storage``, ``full_clone``
(default true), ``disk`` (default ``scsi0``), ``task_timeout_s`` and
``task_poll_s``.

The VM's ``name`` is the generated username: that is how a retried create finds
the VM it already cloned. ``remote_id`` is the VMID; the node is looked up on
each call because VMs migrate between nodes.

Suspension stops the VM (and unsuspension starts it). Single sign-on returns a
noVNC console URL carrying a one-off ``vncproxy`` ticket for the VM.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any
from urllib.parse import quote, urlencode

from provisioning.modules.base import (
    AccountResult,
    AccountSpec,
    AccountState,
    PermanentModuleError,
    ServerModule,
    TransientModuleError,
    Usage,
)

logger = logging.getLogger(__name__)

_SIZE = re.compile(r"size=(\d+(?:\.\d+)?)([KMGT]?)")
_GB_PER_UNIT = {"K": 1 / (1024 * 1024), "M": 1 / 1024, "G": 1, "T": 1024, "": 1 / 1024**3}


class ProxmoxModule(ServerModule):
    name = "proxmox"
    label = "Proxmox VE"

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"PVEAPIToken={self.connection.username}={self.connection.secret}"}

    # Plumbing.

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, f"/api2/json{path}", **kwargs)
        # Proxmox puts its error text in the status line, and field errors in "errors".
        message = response.reason_phrase
        if response.status_code >= 400:
            try:
                errors = response.json().get("errors")
            except (ValueError, AttributeError):
                errors = None
            if isinstance(errors, dict):
                message += " " + "; ".join(f"{key}: {value}" for key, value in errors.items())
        self._check_status(response, message)
        body = self._json(response)
        if not isinstance(body, dict) or "data" not in body:
            raise self._malformed(path, body)
        return body["data"]

    def _wait(self, node: str, upid: Any) -> None:
        """Polls a task (UPID) until it stops; a failed task is permanent."""
        if not isinstance(upid, str) or not upid.startswith("UPID:"):
            raise self._malformed("task id", upid)
        timeout = float(self.connection.extra.get("task_timeout_s", 600))
        poll = float(self.connection.extra.get("task_poll_s", 1.0))
        deadline = time.monotonic() + timeout
        while True:
            status = self._call("GET", f"/nodes/{node}/tasks/{quote(upid, safe='')}/status")
            if not isinstance(status, dict):
                raise self._malformed("task status", status)
            if status.get("status") == "stopped":
                if status.get("exitstatus") != "OK":
                    # UPID:node:pid:pstart:starttime:type:id:user: -> "qmclone" and the like
                    kind = upid.split(":")[5] if upid.count(":") > 5 else "task"
                    raise PermanentModuleError(
                        f"proxmox: {kind} task failed", self._scrub(str(status.get("exitstatus")))
                    )
                return
            if time.monotonic() >= deadline:
                raise TransientModuleError(f"proxmox: task still running after {timeout:g} s")
            time.sleep(poll)

    def _vms(self) -> list[dict[str, Any]]:
        resources = self._call("GET", "/cluster/resources", params={"type": "vm"})
        if not isinstance(resources, list):
            raise self._malformed("cluster/resources", resources)
        return [vm for vm in resources if isinstance(vm, dict) and vm.get("type") == "qemu"]

    def _vm(self, vmid: str) -> dict[str, Any]:
        for vm in self._vms():
            if str(vm.get("vmid")) == str(vmid):
                return vm
        raise PermanentModuleError(f"proxmox: VM {vmid} does not exist")

    def _status(self, node: str, vmid: str) -> dict[str, Any]:
        status = self._call("GET", f"/nodes/{node}/qemu/{vmid}/status/current")
        if not isinstance(status, dict):
            raise self._malformed("status/current", status)
        return status

    # Lookups.

    def find_account(self, username: str) -> AccountResult | None:
        for vm in self._vms():
            if vm.get("name") == username and not vm.get("template"):
                return AccountResult(
                    remote_id=str(vm["vmid"]),
                    username=username,
                    details={"node": vm.get("node", ""), "status": vm.get("status", "")},
                )
        return None

    # Actions.

    def _create_account(self, spec: AccountSpec) -> AccountResult:
        template = self._vm(spec.package)
        if not template.get("template"):
            raise PermanentModuleError(f"proxmox: VM {spec.package} is not a template")
        source_node = template["node"]
        node = self.connection.extra.get("node") or source_node
        newid = str(self._call("GET", "/cluster/nextid"))
        clone: dict[str, Any] = {
            "newid": newid,
            "name": spec.username,
            "full": 1 if self.connection.extra.get("full_clone", True) else 0,
            "target": node,
        }
        if self.connection.extra.get("storage"):
            clone["storage"] = self.connection.extra["storage"]
        upid = self._call("POST", f"/nodes/{source_node}/qemu/{spec.package}/clone", data=clone)
        self._wait(source_node, upid)
        logger.info("proxmox: cloned template %s into VM %s", spec.package, newid)

        config: dict[str, Any] = {"cipassword": spec.password}
        if spec.options.get("cpu"):
            config["cores"] = int(spec.options["cpu"])
        if spec.options.get("ram_mb"):
            config["memory"] = int(spec.options["ram_mb"])
        self._call("PUT", f"/nodes/{node}/qemu/{newid}/config", data=config)
        if spec.options.get("disk_gb"):
            self._grow_disk(node, newid, float(spec.options["disk_gb"]))
        self._wait(node, self._call("POST", f"/nodes/{node}/qemu/{newid}/status/start"))
        return AccountResult(
            remote_id=newid,
            username=spec.username,
            details={"node": node, "template": spec.package, "status": "running"},
        )

    def _grow_disk(self, node: str, vmid: str, size_gb: float) -> None:
        disk = str(self.connection.extra.get("disk", "scsi0"))
        config = self._call("GET", f"/nodes/{node}/qemu/{vmid}/config")
        current = _disk_gb(config.get(disk, "") if isinstance(config, dict) else "")
        # Proxmox cannot shrink a disk; a smaller plan keeps the space it has.
        if size_gb > current:
            self._call(
                "PUT",
                f"/nodes/{node}/qemu/{vmid}/resize",
                data={"disk": disk, "size": f"{size_gb:g}G"},
            )

    def suspend(self, remote_id: str, reason: str = "") -> None:
        node = self._vm(remote_id)["node"]
        if self._status(node, remote_id).get("status") != "stopped":
            self._wait(node, self._call("POST", f"/nodes/{node}/qemu/{remote_id}/status/stop"))

    def unsuspend(self, remote_id: str) -> None:
        node = self._vm(remote_id)["node"]
        if self._status(node, remote_id).get("status") != "running":
            self._wait(node, self._call("POST", f"/nodes/{node}/qemu/{remote_id}/status/start"))

    def terminate(self, remote_id: str) -> None:
        vm = next((vm for vm in self._vms() if str(vm.get("vmid")) == str(remote_id)), None)
        if vm is None:
            return  # already gone: a retried terminate
        node = vm["node"]
        if self._status(node, remote_id).get("status") != "stopped":
            self._wait(node, self._call("POST", f"/nodes/{node}/qemu/{remote_id}/status/stop"))
        upid = self._call(
            "DELETE",
            f"/nodes/{node}/qemu/{remote_id}",
            params={"purge": 1, "destroy-unreferenced-disks": 1},
        )
        self._wait(node, upid)

    def change_package(self, remote_id: str, package: str) -> None:
        template = self._vm(package)
        if not template.get("template"):
            raise PermanentModuleError(f"proxmox: VM {package} is not a template")
        plan = self._call("GET", f"/nodes/{template['node']}/qemu/{package}/config")
        if not isinstance(plan, dict):
            raise self._malformed("template config", plan)
        node = self._vm(remote_id)["node"]
        update = {key: plan[key] for key in ("cores", "sockets", "memory") if key in plan}
        if update:
            self._call("PUT", f"/nodes/{node}/qemu/{remote_id}/config", data=update)
        disk = str(self.connection.extra.get("disk", "scsi0"))
        if plan.get(disk):
            self._grow_disk(node, remote_id, _disk_gb(plan[disk]))

    def change_options(self, remote_id: str, package: str, options: dict[str, Any]) -> None:
        """Sets cores and memory and grows the disk to what plan and options add up to;
        what the options leave out comes from the plan's template."""
        if not (options.get("cpu") or options.get("ram_mb") or options.get("disk_gb")):
            self.change_package(remote_id, package)
            return
        node = self._vm(remote_id)["node"]
        update: dict[str, Any] = {}
        if options.get("cpu"):
            update["cores"] = int(options["cpu"])
        if options.get("ram_mb"):
            update["memory"] = int(options["ram_mb"])
        if update:
            self._call("PUT", f"/nodes/{node}/qemu/{remote_id}/config", data=update)
        if options.get("disk_gb"):
            self._grow_disk(node, remote_id, float(options["disk_gb"]))

    def read_account(self, remote_id: str) -> AccountState:
        vm = next((vm for vm in self._vms() if str(vm.get("vmid")) == str(remote_id)), None)
        if vm is None:
            return AccountState(status="missing")
        node = vm["node"]
        config = self._call("GET", f"/nodes/{node}/qemu/{remote_id}/config")
        if not isinstance(config, dict):
            raise self._malformed("config", config)
        running = self._status(node, remote_id).get("status") == "running"
        options: dict[str, Any] = {}
        if config.get("cores"):
            options["cpu"] = int(config["cores"])
        if config.get("memory"):
            options["ram_mb"] = int(config["memory"])
        disk = str(self.connection.extra.get("disk", "scsi0"))
        if config.get(disk):
            options["disk_gb"] = _disk_gb(config[disk])
        return AccountState(status="active" if running else "suspended", options=options)

    def sso_url(self, remote_id: str) -> str:
        node = self._vm(remote_id)["node"]
        proxy = self._call(
            "POST", f"/nodes/{node}/qemu/{remote_id}/vncproxy", data={"websocket": 1}
        )
        if not isinstance(proxy, dict) or not proxy.get("ticket"):
            raise self._malformed("vncproxy")
        self._remember_secret(proxy["ticket"])
        query = urlencode(
            {
                "console": "kvm",
                "novnc": 1,
                "node": node,
                "vmid": remote_id,
                "port": proxy.get("port", ""),
                "vncticket": proxy["ticket"],
            }
        )
        url = f"{self.connection.base_url}/?{query}"
        self._remember_secret(url)
        return url

    def usage(self, remote_id: str) -> Usage:
        node = self._vm(remote_id)["node"]
        status = self._status(node, remote_id)
        mb = 1024 * 1024
        return Usage(
            # Without the guest agent Proxmox only knows the disk's size, not its fill.
            disk_mb=round(float(status.get("disk") or status.get("maxdisk") or 0) / mb, 2),
            bandwidth_mb=round(
                (float(status.get("netin") or 0) + float(status.get("netout") or 0)) / mb, 2
            ),
            extra={
                "status": status.get("status"),
                "maxdisk_mb": round(float(status.get("maxdisk") or 0) / mb, 2),
            },
        )

    def test_connection(self) -> str:
        version = self._call("GET", "/version")
        if not isinstance(version, dict) or "version" not in version:
            raise self._malformed("version", version)
        return f"Proxmox VE {version['version']} on {self.connection.hostname}"


def _disk_gb(spec: str) -> float:
    """Reads the size out of a disk line such as ``local-lvm:vm-101-disk-0,size=32G``."""
    match = _SIZE.search(str(spec))
    if not match:
        return 0.0
    number, unit = match.groups()
    return float(number) * _GB_PER_UNIT[unit]
