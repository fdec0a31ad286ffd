"""The Proxmox VE module against a local cluster speaking ``/api2/json``."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from provisioning.modules.base import PermanentModuleError, TransientModuleError
from provisioning.modules.proxmox import ProxmoxModule, _disk_gb
from sandbox.panels.proxmox import FakeProxmox
from tests.provisioning.conftest import HANG_S, connection_to, new_spec

ACTIONS: dict[str, Callable[[ProxmoxModule, str], object]] = {
    "create_account": lambda m, _: m.create_account(new_spec("9000", domain="")),
    "find_account": lambda m, rid: m.find_account("someone"),
    "suspend": lambda m, rid: m.suspend(rid, "overdue"),
    "unsuspend": lambda m, rid: m.unsuspend(rid),
    "terminate": lambda m, rid: m.terminate(rid),
    "change_package": lambda m, rid: m.change_package(rid, "9001"),
    "sso_url": lambda m, rid: m.sso_url(rid),
    "usage": lambda m, rid: m.usage(rid),
    "test_connection": lambda m, _: m.test_connection(),
}


def vps_spec(template: str = "9000", **options):
    return new_spec(template, domain="", **options)


@pytest.fixture
def account(proxmox: ProxmoxModule):
    return proxmox.create_account(vps_spec())


def test_test_connection(proxmox: ProxmoxModule) -> None:
    assert proxmox.test_connection() == f"Proxmox VE {FakeProxmox.VERSION} on 127.0.0.1"


def test_create_clones_the_template(proxmox: ProxmoxModule, pve: FakeProxmox) -> None:
    spec = vps_spec(cpu=2, ram_mb=2048, disk_gb=25)
    result = proxmox.create_account(spec)
    vm = pve.accounts[spec.username]
    assert str(vm["vmid"]) == result.remote_id == "100"
    assert vm["status"] == "running" and "lock" not in vm
    assert (vm["config"]["cores"], vm["config"]["memory"]) == ("2", "2048")
    assert vm["config"]["scsi0"].endswith("size=25G")
    assert vm["config"]["cipassword"] == spec.password  # cloud-init sets the root password
    clone = next(r for r in pve.requests if r.path.endswith("/clone"))
    assert clone.form() == {"newid": "100", "name": spec.username, "full": "1", "target": "pve1"}
    assert any(r.path.endswith("/status") and "qmclone" in r.path for r in pve.requests)


def test_create_on_another_node(pve: FakeProxmox) -> None:
    connection = connection_to(pve, pve.token_id, pve.secret, node="pve2", task_poll_s=0.01)
    with ProxmoxModule(connection) as module:
        result = module.create_account(vps_spec())
    assert pve.vms[int(result.remote_id)]["node"] == "pve2"


def test_create_is_idempotent(proxmox: ProxmoxModule, pve: FakeProxmox) -> None:
    spec = vps_spec()
    first = proxmox.create_account(spec)
    second = proxmox.create_account(spec)
    assert second.remote_id == first.remote_id and second.details["reused"] is True
    assert list(pve.accounts) == [spec.username]


def test_create_from_a_missing_or_plain_vm(proxmox: ProxmoxModule, account) -> None:
    with pytest.raises(PermanentModuleError, match="does not exist"):
        proxmox.create_account(vps_spec("8888"))
    with pytest.raises(PermanentModuleError, match="not a template"):
        proxmox.create_account(vps_spec(account.remote_id))


def test_invalid_name_is_permanent(proxmox: ProxmoxModule) -> None:
    spec = vps_spec()
    bad = type(spec)("bad_name!", spec.password, "", "9000", {})
    with pytest.raises(PermanentModuleError, match="HTTP 400") as caught:
        proxmox.create_account(bad)
    assert "valid DNS name" in caught.value.panel_message


def test_task_timeout_is_transient(pve: FakeProxmox) -> None:
    pve.task_seconds = 60
    connection = connection_to(pve, pve.token_id, pve.secret, task_poll_s=0.01, task_timeout_s=0.1)
    with (
        ProxmoxModule(connection) as module,
        pytest.raises(TransientModuleError, match="still running"),
    ):
        module.create_account(vps_spec())


def test_failed_task_is_permanent(proxmox: ProxmoxModule, pve: FakeProxmox, account) -> None:
    pve.end_next_task("qmstop", "command 'qm stop' failed: got timeout")
    with pytest.raises(PermanentModuleError, match=r"qmstop task of VM \d+ failed") as caught:
        proxmox.suspend(account.remote_id)
    assert caught.value.panel_message == "command 'qm stop' failed: got timeout"


def test_find_account(proxmox: ProxmoxModule, account) -> None:
    found = proxmox.find_account(account.username)
    assert found.remote_id == account.remote_id and found.details["node"] == "pve1"
    assert proxmox.find_account("debian12-small") is None  # templates are not accounts


def test_suspend_unsuspend(proxmox: ProxmoxModule, pve: FakeProxmox, account) -> None:
    vm = pve.vms[int(account.remote_id)]
    proxmox.suspend(account.remote_id, "overdue")
    assert vm["status"] == "stopped"
    proxmox.suspend(account.remote_id)
    proxmox.unsuspend(account.remote_id)
    proxmox.unsuspend(account.remote_id)  # already running: no "already running" error
    assert vm["status"] == "running"


def test_terminate_is_idempotent(proxmox: ProxmoxModule, pve: FakeProxmox, account) -> None:
    proxmox.terminate(account.remote_id)
    assert pve.accounts == {}
    delete = next(r for r in pve.requests if r.method == "DELETE")
    assert delete.query == {"purge": "1", "destroy-unreferenced-disks": "1"}
    proxmox.terminate(account.remote_id)


def test_change_package_copies_the_template(
    proxmox: ProxmoxModule, pve: FakeProxmox, account
) -> None:
    proxmox.change_package(account.remote_id, "9001")
    config = pve.vms[int(account.remote_id)]["config"]
    assert (config["cores"], config["memory"]) == ("4", "8192")
    assert config["scsi0"].endswith("size=80G")
    proxmox.change_package(account.remote_id, "9000")  # downgrade keeps the disk
    assert config["memory"] == "1024" and config["scsi0"].endswith("size=80G")


def test_console_is_the_clients_own_pve_user(
    proxmox: ProxmoxModule, pve: FakeProxmox, account
) -> None:
    # No ticket in the address: a vncproxy ticket logs nobody in on a real pveproxy.
    url = proxmox.sso_url(account.remote_id, client_ip="203.0.113.7")
    assert url == f"http://127.0.0.1:{pve.port}/"
    assert pve.tickets == []
    userid = f"{account.username}@pve"
    assert account.details["panel_login"] == userid
    assert pve.users[userid]["password"] is None  # nobody signs in until the client asks
    assert pve.acl == [
        {
            "path": f"/vms/{account.remote_id}",
            "ugid": userid,
            "type": "user",
            "roleid": "PVEVMUser",
            "propagate": 1,
        }
    ]
    proxmox.terminate(account.remote_id)
    assert pve.users == {} and pve.acl == []


def test_panel_login_reset_gives_the_vms_user_a_new_password(
    proxmox: ProxmoxModule, pve: FakeProxmox, account
) -> None:
    first = proxmox.panel_login_reset(account.remote_id)
    userid = f"{account.username}@pve"
    assert (first.url, first.login) == (f"http://127.0.0.1:{pve.port}/", userid)
    assert pve.users[userid]["password"] == first.password and len(first.password) >= 12
    assert first.password not in repr(first)
    second = proxmox.panel_login_reset(account.remote_id)
    assert second.password != first.password
    assert pve.users[userid]["password"] == second.password
    # Still allowed the one VM, and nothing else.
    assert [(e["path"], e["roleid"]) for e in pve.acl if e["ugid"] == userid] == [
        (f"/vms/{account.remote_id}", "PVEVMUser")
    ]


def test_usage(proxmox: ProxmoxModule, pve: FakeProxmox, account) -> None:
    vm = pve.vms[int(account.remote_id)]
    vm["netin"], vm["netout"] = 30 * 1024 * 1024, 10 * 1024 * 1024
    usage = proxmox.usage(account.remote_id)
    assert usage.bandwidth_mb == 40.0 and usage.disk_mb == 10240.0


@pytest.mark.parametrize(
    ("line", "gb"),
    [
        ("local-lvm:vm-1-disk-0,size=32G", 32.0),
        ("x,size=512M", 0.5),
        ("x,size=1T", 1024.0),
        ("none", 0.0),
    ],
)
def test_disk_sizes(line: str, gb: float) -> None:
    assert _disk_gb(line) == gb


# Failure modes, for every action.


@pytest.mark.parametrize("action", ACTIONS)
def test_http_500_is_transient(proxmox, pve: FakeProxmox, account, action) -> None:
    pve.fail_next(5, status=500)
    with pytest.raises(TransientModuleError, match="HTTP 500"):
        ACTIONS[action](proxmox, account.remote_id)


@pytest.mark.parametrize("action", ACTIONS)
def test_timeout_is_transient(proxmox, pve: FakeProxmox, account, action) -> None:
    pve.hang_next(5, seconds=HANG_S)
    with pytest.raises(TransientModuleError, match="did not answer"):
        ACTIONS[action](proxmox, account.remote_id)


@pytest.mark.parametrize("action", ACTIONS)
def test_malformed_reply_is_permanent(proxmox, pve: FakeProxmox, account, action) -> None:
    pve.malform_next(5)
    with pytest.raises(PermanentModuleError, match="not JSON"):
        ACTIONS[action](proxmox, account.remote_id)


@pytest.mark.parametrize("action", ACTIONS)
def test_bad_credentials_are_permanent(pve: FakeProxmox, account, action) -> None:
    with (
        ProxmoxModule(connection_to(pve, pve.token_id, "wrong-secret")) as module,
        pytest.raises(PermanentModuleError, match="refused the credentials") as caught,
    ):
        ACTIONS[action](module, account.remote_id)
    assert caught.value.panel_message == "authentication failure"


def test_retry_after_a_lost_clone_reply_makes_one_vm(
    proxmox: ProxmoxModule, pve: FakeProxmox
) -> None:
    spec = vps_spec()
    pve.hang_next(1, seconds=HANG_S, after=True, path="/clone")
    with pytest.raises(TransientModuleError):
        proxmox.create_account(spec)
    pve.vms[100].pop("lock", None)  # the clone task finished meanwhile
    assert proxmox.create_account(spec).details["reused"] is True
    assert list(pve.accounts) == [spec.username]


# Time, locks and a busy panel: what a real node does while its workers run.


def test_create_starts_the_vm_only_after_its_disk_has_grown(
    proxmox: ProxmoxModule, pve: FakeProxmox
) -> None:
    pve.task_durations["resize"] = 0.3  # a slow storage
    result = proxmox.create_account(vps_spec(disk_gb=25))
    vm = pve.vms[int(result.remote_id)]
    assert vm["status"] == "running" and vm["config"]["scsi0"].endswith("size=25G")
    tasks = {task["type"]: task for task in pve.task_log(int(result.remote_id))}
    assert tasks["resize"]["exitstatus"] == tasks["qmstart"]["exitstatus"] == "OK"
    assert tasks["qmstart"]["started"] >= tasks["resize"]["ended"]


def test_plan_change_waits_for_the_resize(
    proxmox: ProxmoxModule, pve: FakeProxmox, account
) -> None:
    pve.task_durations["resize"] = 0.2
    proxmox.change_package(account.remote_id, "9001")
    # Returned only once the disk is the new plan's size.
    assert pve.vms[int(account.remote_id)]["config"]["scsi0"].endswith("size=80G")


def test_a_failed_resize_fails_the_plan_change_with_its_reason(
    proxmox: ProxmoxModule, pve: FakeProxmox, account
) -> None:
    pve.end_next_task("resize", "zfs error: cannot set property: out of space")
    with pytest.raises(PermanentModuleError, match=r"resize task of VM \d+ failed") as caught:
        proxmox.change_package(account.remote_id, "9001")
    assert caught.value.panel_message == "zfs error: cannot set property: out of space"
    assert pve.vms[int(account.remote_id)]["config"]["scsi0"].endswith("size=10G")


def test_a_task_ending_with_warnings_succeeded(
    proxmox: ProxmoxModule, pve: FakeProxmox, account
) -> None:
    pve.end_next_task("qmstop", "WARNINGS: 2")
    proxmox.suspend(account.remote_id)
    assert pve.vms[int(account.remote_id)]["status"] == "stopped"


def test_a_locked_vm_is_transient(proxmox: ProxmoxModule, pve: FakeProxmox, account) -> None:
    vmid = int(account.remote_id)
    pve.hold_lock(vmid, "backup", seconds=0.3)  # vzdump is backing it up
    with pytest.raises(TransientModuleError, match="busy") as caught:
        proxmox.suspend(account.remote_id)
    assert caught.value.panel_message == "VM is locked (backup)"
    assert pve.vms[vmid]["status"] == "running"
    time.sleep(0.35)
    proxmox.suspend(account.remote_id)  # the retry, once the backup is over
    assert pve.vms[vmid]["status"] == "stopped"


def test_a_config_change_while_a_task_holds_the_lock_gets_proxmoxs_error(
    proxmox: ProxmoxModule, pve: FakeProxmox, account
) -> None:
    pve.task_seconds = 0.3
    node = pve.vms[int(account.remote_id)]["node"]
    proxmox._call("POST", f"/nodes/{node}/qemu/{account.remote_id}/status/stop")
    with pytest.raises(TransientModuleError, match="HTTP 500") as caught:
        proxmox.change_package(account.remote_id, "9001")
    assert caught.value.panel_message == (
        f"can't lock file '/var/lock/qemu-server/lock-{account.remote_id}.conf' - got timeout"
    )


def test_status_polls_ride_out_a_busy_panel(
    proxmox: ProxmoxModule, pve: FakeProxmox, account
) -> None:
    pve.busy_for(0.2, path="/tasks/")  # pveproxy restarting while the stop runs
    proxmox.suspend(account.remote_id)
    assert pve.vms[int(account.remote_id)]["status"] == "stopped"
    polls = [r for r in pve.requests if "/tasks/" in r.path]
    assert len(polls) >= 3  # polled through the 503s until the task had ended


def test_a_busy_panel_is_transient(proxmox: ProxmoxModule, pve: FakeProxmox, account) -> None:
    pve.busy_for(5)
    with pytest.raises(TransientModuleError, match="HTTP 503"):
        proxmox.unsuspend(account.remote_id)


def test_a_parameter_the_api_does_not_define_is_refused(proxmox: ProxmoxModule, account) -> None:
    node = "pve1"
    with pytest.raises(PermanentModuleError, match="HTTP 400") as caught:
        proxmox._call("PUT", f"/nodes/{node}/qemu/{account.remote_id}/config", data={"ram": 1})
    assert "ram: property is not defined in schema" in caught.value.panel_message


def test_a_retry_finishes_a_vm_the_first_attempt_left_stopped(
    proxmox: ProxmoxModule, pve: FakeProxmox
) -> None:
    spec = vps_spec()
    pve.fail_next(1, status=500, path="/access/users")  # the attempt dies after the clone
    with pytest.raises(TransientModuleError):
        proxmox.create_account(spec)
    vm = pve.accounts[spec.username]
    assert vm["status"] == "stopped"
    again = proxmox.create_account(spec)
    assert again.details["reused"] is True and vm["status"] == "running"
    assert f"{spec.username}@pve" in pve.users
