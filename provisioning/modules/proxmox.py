"""Proxmox VE through its REST API (``/api2/json``) with an API token.

The calls follow the Proxmox VE 8.2 API (https://pve.proxmox.com/pve-docs/api-viewer/,
pve-docs 8.2 ``apidoc.js``); how a task's end is read follows pve-common's
``PVE/Tools.pm`` (``upid_status_is_error``: ``OK`` and ``WARNINGS: n`` are
successes, any other exit status is the task's error message).

The connection's ``username`` is the token id (``USER@REALM!TOKENID``) and
``secret`` the token's secret. The token needs ``VM.*`` on the templates and
``/vms``, ``User.Modify`` on ``/access`` and ``Permissions.Modify`` on ``/vms``
(it makes one PVE user per VM, below). A VPS is a clone of a template VM:
``package`` is the template's VMID, and the template's own cores, memory and
disk size define the plan, so a plan change copies them from the new template.
``options`` may override ``cpu``, ``ram_mb`` and ``disk_gb`` at creation;
``connection.extra`` may set ``node`` (default: the template's node),
``storage``, ``full_clone`` (default true), ``disk`` (default ``scsi0``),
``task_timeout_s`` (default 600) and ``task_poll_s`` (default 1).

The VM's ``name`` is the generated username: that is how a retried create finds
the VM it already cloned. ``remote_id`` is the VMID; the node is looked up on
each call because VMs migrate between nodes.

Tasks: clone, resize (a task since Proxmox VE 8.0), start, stop and destroy
answer a UPID at once; the module waits for every one, polling
``/nodes/{node}/tasks/{upid}/status`` at most ``task_timeout_s``, before the
next step, so a VM is started only after its disk has grown. A task that ends
in error fails the job with the task's exit status; a task still running at
the deadline, a VM that is locked (``VM is locked (backup)``, ``can't lock file
... got timeout``) and a 5xx (pveproxy answers 503 while restarting) are
transient: the provisioning job tries again later.

Console access hands out credentials. Proxmox VE has no single sign-on by URL: a
``vncproxy`` ticket is issued to the API token and only opens a VNC websocket
for a browser that already holds a ``PVEAuthCookie``; put in a link it logs
nobody in. So each VM gets its own PVE user ``<username>@pve`` with the
``PVEVMUser`` role on ``/vms/<vmid>`` only, made without a password;
``panel_login_reset`` gives it a new random password, which the client area
shows the client once (and again makes a new one when asked), and ``sso_url``
answers the address of the Proxmox web interface, where the client signs in
with that user and sees that one VM (console, power, its own settings).
Suspension stops the VM (and unsuspension starts it); termination removes the
VM and its user.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any
from urllib.parse import quote

from provisioning.modules.base import (
    AccountResult,
    AccountSpec,
    AccountState,
    PanelLogin,
    PermanentModuleError,
    ServerModule,
    TransientModuleError,
    Usage,
    generate_password,
)

logger = logging.getLogger(__name__)

_SIZE = re.compile(r"size=(\d+(?:\.\d+)?)([KMGT]?)")
_WARNINGS = re.compile(r"^WARNINGS: \d+$")
# pve-common's AbstractConfig: check_lock ("VM is locked (backup)") and lock_config's flock.
_LOCKED = re.compile(r"VM is locked|can't lock file")
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

    def _wait(self, upid: Any) -> None:
        """Waits for a task (UPID) to stop, at most ``task_timeout_s``.

        The status is read on the node the UPID names, which is where the worker
        runs. A poll that fails for a transient reason is polled again: the task
        goes on whether or not one status read reached it.
        """
        if not isinstance(upid, str) or not upid.startswith("UPID:") or upid.count(":") < 8:
            raise self._malformed("task id", upid)
        _, node, _, _, _, kind, vmid, *_ = upid.split(":")
        timeout = float(self.connection.extra.get("task_timeout_s", 600))
        poll = float(self.connection.extra.get("task_poll_s", 1.0))
        deadline = time.monotonic() + timeout
        path = f"/nodes/{quote(node, safe='')}/tasks/{quote(upid, safe='')}/status"
        last_error: TransientModuleError | None = None
        while True:
            try:
                status = self._call("GET", path)
            except TransientModuleError as exc:
                status, last_error = None, exc
            if status is not None:
                if not isinstance(status, dict):
                    raise self._malformed("task status", status)
                if status.get("status") == "stopped":
                    self._task_ended(kind, vmid, str(status.get("exitstatus", "")))
                    return
            if time.monotonic() >= deadline:
                message = f"proxmox: {kind} task of VM {vmid} still running after {timeout:g} s"
                if status is None and last_error is not None:
                    message = f"proxmox: could not read the {kind} task of VM {vmid}: {last_error}"
                raise TransientModuleError(message)
            time.sleep(poll)

    def _task_ended(self, kind: str, vmid: str, exitstatus: str) -> None:
        if exitstatus == "OK":
            return
        if _WARNINGS.match(exitstatus):
            # A success in Proxmox's eyes; the warnings are in the task log on the node.
            logger.warning("proxmox: %s task of VM %s ended with %s", kind, vmid, exitstatus)
            return
        message = self._scrub(exitstatus or "no exit status")
        if _LOCKED.search(exitstatus):
            raise TransientModuleError(f"proxmox: VM {vmid} is busy, {kind} must wait", message)
        raise PermanentModuleError(f"proxmox: {kind} task of VM {vmid} failed", message)

    def _run(self, method: str, path: str, **kwargs: Any) -> None:
        """Starts a task and waits for its end."""
        self._wait(self._call(method, path, **kwargs))

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

    def create_account(self, spec: AccountSpec) -> AccountResult:
        result = super().create_account(spec)
        if result.details.get("reused"):
            # An earlier attempt may have died between the clone and the start: finish
            # what it left (each step is a no-op when already done).
            node = str(result.details.get("node") or self._vm(result.remote_id)["node"])
            self._console_user_grant(spec.username, result.remote_id)
            if self._status(node, result.remote_id).get("status") != "running":
                self._run("POST", f"/nodes/{node}/qemu/{result.remote_id}/status/start")
        return result

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
        self._run("POST", f"/nodes/{source_node}/qemu/{spec.package}/clone", data=clone)
        logger.info("proxmox: cloned template %s into VM %s", spec.package, newid)

        config: dict[str, Any] = {"cipassword": spec.password}
        if spec.options.get("cpu"):
            config["cores"] = int(spec.options["cpu"])
        if spec.options.get("ram_mb"):
            config["memory"] = int(spec.options["ram_mb"])
        self._call("PUT", f"/nodes/{node}/qemu/{newid}/config", data=config)
        if spec.options.get("disk_gb"):
            self._grow_disk(node, newid, float(spec.options["disk_gb"]))
        self._console_user_grant(spec.username, newid)
        self._run("POST", f"/nodes/{node}/qemu/{newid}/status/start")
        return AccountResult(
            remote_id=newid,
            username=spec.username,
            details={
                "node": node,
                "template": spec.package,
                "status": "running",
                "panel_login": _console_userid(spec.username),
            },
        )

    def _console_user_grant(self, username: str, vmid: str, password: str = "") -> None:
        """The client's own PVE user, allowed the one VM (see the module's docstring).
        Made without a password: nobody can sign in as it until the client asks for one."""
        userid = _console_userid(username)
        user: dict[str, Any] = {"userid": userid, "comment": "tessera"}
        if password:
            user["password"] = password
        try:
            self._call("POST", "/access/users", data=user)
        except TransientModuleError as exc:
            # A retried create finds the user the first attempt made.
            if "already exists" not in f"{exc.message} {exc.panel_message}" or password:
                raise
        self._call(
            "PUT",
            "/access/acl",
            data={"path": f"/vms/{vmid}", "roles": "PVEVMUser", "users": userid},
        )

    def panel_login_reset(self, remote_id: str) -> PanelLogin:
        """A new password for the VM's PVE user, shown to the client once.

        The user is made again rather than given a new password in place: that needs
        only the privileges the module already has (``User.Modify``,
        ``Permissions.Modify``), and Proxmox stops honouring tickets of a user that
        no longer exists, so a leaked old password opens nothing.
        """
        vm = self._vm(remote_id)
        name = str(vm.get("name") or "")
        if not name:
            raise self._malformed("cluster/resources (VM name)", vm)
        password = generate_password()
        self._remember_secret(password)
        self._console_user_remove(name)
        self._console_user_grant(name, str(vm["vmid"]), password)
        return PanelLogin(
            url=f"{self.connection.base_url}/", login=_console_userid(name), password=password
        )

    def _grow_disk(self, node: str, vmid: str, size_gb: float) -> None:
        disk = str(self.connection.extra.get("disk", "scsi0"))
        config = self._call("GET", f"/nodes/{node}/qemu/{vmid}/config")
        current = _disk_gb(config.get(disk, "") if isinstance(config, dict) else "")
        # Proxmox cannot shrink a disk; a smaller plan keeps the space it has.
        if size_gb > current:
            upid = self._call(
                "PUT",
                f"/nodes/{node}/qemu/{vmid}/resize",
                data={"disk": disk, "size": f"{size_gb:g}G"},
            )
            # Proxmox VE 7 resized in the API call and answered null; 8 answers a task.
            if upid is not None:
                self._wait(upid)

    def suspend(self, remote_id: str, reason: str = "") -> None:
        node = self._vm(remote_id)["node"]
        if self._status(node, remote_id).get("status") != "stopped":
            self._run("POST", f"/nodes/{node}/qemu/{remote_id}/status/stop")

    def unsuspend(self, remote_id: str) -> None:
        node = self._vm(remote_id)["node"]
        if self._status(node, remote_id).get("status") != "running":
            self._run("POST", f"/nodes/{node}/qemu/{remote_id}/status/start")

    def terminate(self, remote_id: str) -> None:
        vm = next((vm for vm in self._vms() if str(vm.get("vmid")) == str(remote_id)), None)
        if vm is not None:
            node = vm["node"]
            if self._status(node, remote_id).get("status") != "stopped":
                self._run("POST", f"/nodes/{node}/qemu/{remote_id}/status/stop")
            self._run(
                "DELETE",
                f"/nodes/{node}/qemu/{remote_id}",
                params={"purge": 1, "destroy-unreferenced-disks": 1},
            )
            name = vm.get("name")
        else:
            name = None  # already gone: a retried terminate
        if name:
            self._console_user_remove(str(name))

    def _console_user_remove(self, username: str) -> None:
        userid = _console_userid(username)
        users = self._call("GET", "/access/users")
        if isinstance(users, list) and any(
            isinstance(user, dict) and user.get("userid") == userid for user in users
        ):
            self._call("DELETE", f"/access/users/{quote(userid, safe='')}")

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

    def sso_url(self, remote_id: str, client_ip: str = "") -> str:
        """The Proxmox web interface, where the client signs in as its own PVE user.

        No ticket travels in the address (see the module's docstring); the VM is
        checked to exist so a link is never handed out for a VM that is gone.
        """
        self._vm(remote_id)
        return f"{self.connection.base_url}/"

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


def _console_userid(username: str) -> str:
    return f"{username}@pve"


def _disk_gb(spec: str) -> float:
    """Reads the size out of a disk line such as ``local-lvm:vm-101-disk-0,size=32G``."""
    match = _SIZE.search(str(spec))
    if not match:
        return 0.0
    number, unit = match.groups()
    return float(number) * _GB_PER_UNIT[unit]
