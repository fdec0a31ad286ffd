"""The VMmanager 6 module against a local VMmanager speaking its REST API."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from provisioning.modules.base import PermanentModuleError, TransientModuleError
from provisioning.modules.vmmanager import VmmanagerModule
from sandbox.panels.vmmanager import FakeVmmanager
from tests.provisioning.conftest import HANG_S, connection_to, new_spec

ACTIONS: dict[str, Callable[[VmmanagerModule, str], object]] = {
    "create_account": lambda m, _: m.create_account(new_spec("1", domain="")),
    "find_account": lambda m, rid: m.find_account("someone"),
    "suspend": lambda m, rid: m.suspend(rid, "overdue"),
    "unsuspend": lambda m, rid: m.unsuspend(rid),
    "terminate": lambda m, rid: m.terminate(rid),
    "change_package": lambda m, rid: m.change_package(rid, "2"),
    "sso_url": lambda m, rid: m.sso_url(rid),
    "usage": lambda m, rid: m.usage(rid),
    "test_connection": lambda m, _: m.test_connection(),
}


@pytest.fixture
def account(vmmanager: VmmanagerModule):
    return vmmanager.create_account(new_spec("1", os=3))


def test_test_connection(vmmanager: VmmanagerModule, vmm_panel: FakeVmmanager) -> None:
    assert vmmanager.test_connection() == (
        f"VMmanager 6 on 127.0.0.1, signed in as {vmm_panel.email}"
    )


def test_create_account(vmmanager: VmmanagerModule, vmm_panel: FakeVmmanager) -> None:
    spec = new_spec("1", os=3, ram_mb=2048, cpu=2, ips=1, contact_email_alias="c-5@alias.test")
    result = vmmanager.create_account(spec)
    host = vmm_panel.accounts[spec.username]
    assert str(host["id"]) == result.remote_id
    assert host["account"]["email"] == "c-5@alias.test"
    assert (host["ram_mib"], host["cpu_number"], host["preset"], host["os"]) == (2048, 2, 1, 3)
    assert result.details["state"] == "active"  # the create job ran to its end
    token_call = vmm_panel.requests[0]
    assert token_call.path == "/auth/v4/public/token"
    assert all(r.header("x-xsrf-token") for r in vmm_panel.requests[1:])


def test_default_account_email_is_pseudonymous(
    vmmanager: VmmanagerModule, vmm_panel: FakeVmmanager
) -> None:
    spec = new_spec("1")
    vmmanager.create_account(spec)
    assert vmm_panel.accounts[spec.username]["account"]["email"] == (
        f"{spec.username}@customers.invalid"
    )


def test_create_is_idempotent(vmmanager: VmmanagerModule, vmm_panel: FakeVmmanager) -> None:
    spec = new_spec("1")
    first = vmmanager.create_account(spec)
    second = vmmanager.create_account(spec)
    assert second.remote_id == first.remote_id and second.details["reused"] is True
    assert len(vmm_panel.hosts) == 1 and len(vmm_panel.users) == 1


def test_create_reuses_the_user_of_a_failed_attempt(
    vmmanager: VmmanagerModule, vmm_panel: FakeVmmanager
) -> None:
    spec = new_spec("1")
    vmm_panel.fail_next(1, status=502, path="/vm/v3/host", method="POST")
    with pytest.raises(TransientModuleError, match="HTTP 502"):
        vmmanager.create_account(spec)
    assert len(vmm_panel.users) == 1 and vmm_panel.hosts == {}
    vmmanager.create_account(spec)
    assert len(vmm_panel.users) == 1 and list(vmm_panel.accounts) == [spec.username]


def test_user_created_concurrently_is_reused(
    vmmanager: VmmanagerModule, vmm_panel: FakeVmmanager
) -> None:
    spec = new_spec("1")
    # Another attempt creates the user between our lookup and our create.
    original = vmm_panel.handle
    seen = {"lookups": 0}

    def racing(request):
        if request.path == "/vm/v3/account" and request.method == "GET":
            seen["lookups"] += 1
            if seen["lookups"] == 1:
                reply = original(request)
                vmm_panel._create_user(
                    {"email": f"{spec.username}@customers.invalid", "password": "x" * 12}
                )
                return reply
        return original(request)

    vmm_panel.handle = racing
    vmmanager.create_account(spec)
    assert len(vmm_panel.users) == 1 and len(vmm_panel.hosts) == 1


def test_unknown_preset(vmmanager: VmmanagerModule) -> None:
    with pytest.raises(PermanentModuleError, match="HTTP 400") as caught:
        vmmanager.create_account(new_spec("77"))
    assert caught.value.panel_message == "Preset not found"
    with pytest.raises(PermanentModuleError, match="not a VMmanager id"):
        vmmanager.create_account(new_spec("big"))


def test_find_account(vmmanager: VmmanagerModule, account) -> None:
    assert vmmanager.find_account(account.username).remote_id == account.remote_id
    assert vmmanager.find_account("nobody") is None
    assert vmmanager.find_account("o'brien") is None  # quoted inside the filter


def test_suspend_unsuspend(vmmanager: VmmanagerModule, vmm_panel: FakeVmmanager, account) -> None:
    host = vmm_panel.hosts[int(account.remote_id)]
    vmmanager.suspend(account.remote_id, "overdue")
    assert host["state"] == "stopped"
    vmmanager.suspend(account.remote_id)  # already stopped: nothing to do
    vmmanager.unsuspend(account.remote_id)
    assert host["state"] == "active"
    stops = [r for r in vmm_panel.requests if r.path.endswith("/stop")]
    assert len(stops) == 1


def test_terminate_is_idempotent(
    vmmanager: VmmanagerModule, vmm_panel: FakeVmmanager, account
) -> None:
    vmmanager.terminate(account.remote_id)
    assert vmm_panel.hosts == {}
    vmmanager.terminate(account.remote_id)


def test_change_package(vmmanager: VmmanagerModule, vmm_panel: FakeVmmanager, account) -> None:
    vmmanager.change_package(account.remote_id, "2")
    host = vmm_panel.hosts[int(account.remote_id)]
    assert (host["cpu_number"], host["ram_mib"], host["disk"]["disk_mib"]) == (2, 4096, 51200)
    vmmanager.change_package(account.remote_id, "1")  # smaller plan: the disk stays
    assert (host["cpu_number"], host["ram_mib"], host["disk"]["disk_mib"]) == (1, 1024, 51200)
    with pytest.raises(PermanentModuleError, match="HTTP 404"):
        vmmanager.change_package(account.remote_id, "9")


def test_sso_url(vmmanager: VmmanagerModule, vmm_panel: FakeVmmanager, account) -> None:
    url = vmmanager.sso_url(account.remote_id)
    assert url == f"http://127.0.0.1:{vmm_panel.port}/auth/key/{vmm_panel.keys[-1]}"
    key_call = next(r for r in vmm_panel.requests if r.path.endswith("/key"))
    assert key_call.path == f"/auth/v4/user/{account.details['account_id']}/key"


def test_usage(vmmanager: VmmanagerModule, account) -> None:
    usage = vmmanager.usage(account.remote_id)
    assert usage.disk_mb == 20480.0 and usage.extra["ram_mib"] == 1024


def test_expired_session_logs_in_again(
    vmmanager: VmmanagerModule, vmm_panel: FakeVmmanager, account
) -> None:
    vmm_panel.expire_sessions()
    assert vmmanager.find_account(account.username) is not None
    logins = [r for r in vmm_panel.requests if r.path == "/auth/v4/public/token"]
    assert len(logins) == 2


# Failure modes, for every action.


@pytest.mark.parametrize("action", ACTIONS)
def test_http_500_is_transient(vmmanager, vmm_panel: FakeVmmanager, account, action) -> None:
    vmm_panel.fail_next(5, status=500)
    with pytest.raises(TransientModuleError, match="HTTP 500"):
        ACTIONS[action](vmmanager, account.remote_id)


@pytest.mark.parametrize("action", ACTIONS)
def test_timeout_is_transient(vmmanager, vmm_panel: FakeVmmanager, account, action) -> None:
    vmm_panel.hang_next(5, seconds=HANG_S)
    with pytest.raises(TransientModuleError, match="did not answer"):
        ACTIONS[action](vmmanager, account.remote_id)


@pytest.mark.parametrize("action", ACTIONS)
def test_malformed_reply_is_permanent(vmmanager, vmm_panel: FakeVmmanager, account, action) -> None:
    vmm_panel.malform_next(5)
    with pytest.raises(PermanentModuleError, match="not JSON"):
        ACTIONS[action](vmmanager, account.remote_id)


@pytest.mark.parametrize("action", ACTIONS)
def test_bad_credentials_are_permanent(vmm_panel: FakeVmmanager, account, action) -> None:
    with (
        VmmanagerModule(connection_to(vmm_panel, vmm_panel.email, "wrong-pass")) as module,
        pytest.raises(PermanentModuleError, match="refused the credentials") as caught,
    ):
        ACTIONS[action](module, account.remote_id)
    assert caught.value.panel_message == "Invalid email or password"


def test_token_without_token_field_is_permanent(vmm_panel: FakeVmmanager) -> None:
    from sandbox.panels.base import Reply

    vmm_panel.handle = lambda request: Reply(200, {"id": "1"})
    with (
        VmmanagerModule(connection_to(vmm_panel, vmm_panel.email, vmm_panel.password)) as module,
        pytest.raises(PermanentModuleError, match="unexpected reply"),
    ):
        module.test_connection()


def test_retry_after_a_lost_reply_makes_one_vm(
    vmmanager: VmmanagerModule, vmm_panel: FakeVmmanager
) -> None:
    spec = new_spec("1")
    vmmanager.test_connection()  # signed in, so the fault hits the create itself
    vmm_panel.hang_next(1, seconds=HANG_S, after=True, path="/vm/v3/host", method="POST")
    with pytest.raises(TransientModuleError):
        vmmanager.create_account(spec)
    assert spec.username in vmm_panel.accounts
    assert vmmanager.create_account(spec).details["reused"] is True
    assert list(vmm_panel.accounts) == [spec.username]


# Jobs that take time, fail, or find the panel busy.


def test_suspend_then_unsuspend_at_once_ends_unsuspended(
    vmmanager: VmmanagerModule, vmm_panel: FakeVmmanager, account
) -> None:
    vmm_panel.job_seconds = 0.2
    vmmanager.suspend(account.remote_id, "overdue")
    vmmanager.unsuspend(account.remote_id)
    time.sleep(0.3)  # any job still running has ended by now
    assert vmm_panel.hosts[int(account.remote_id)]["state"] == "active"
    assert [job["name"] for job in vmm_panel.job_log(int(account.remote_id))] == [
        "host_create",
        "host_stop",
        "host_start",
    ]


def test_a_failed_job_fails_with_its_message(
    vmmanager: VmmanagerModule, vmm_panel: FakeVmmanager, account
) -> None:
    vmm_panel.fail_next_job("host_stop", "Libvirt error: domain is not responding")
    with pytest.raises(
        PermanentModuleError, match=r"job for POST /vm/v3/host/\d+/stop failed"
    ) as caught:
        vmmanager.suspend(account.remote_id)
    assert caught.value.panel_message == "Libvirt error: domain is not responding"


def test_a_job_still_running_at_the_deadline_is_transient(vmm_panel: FakeVmmanager) -> None:
    connection = connection_to(
        vmm_panel, vmm_panel.email, vmm_panel.password, job_poll_s=0.01, job_timeout_s=0.1
    )
    vmm_panel.job_seconds = 60
    with (
        VmmanagerModule(connection) as module,
        pytest.raises(TransientModuleError, match="still running"),
    ):
        module.create_account(new_spec("1"))


def test_a_retry_waits_for_the_vm_the_first_attempt_started(
    vmmanager: VmmanagerModule, vmm_panel: FakeVmmanager
) -> None:
    spec = new_spec("1")
    vmm_panel.job_seconds = HANG_S + 0.5  # still being made when the retry comes
    vmmanager.test_connection()
    vmm_panel.hang_next(1, seconds=HANG_S, after=True, path="/vm/v3/host", method="POST")
    with pytest.raises(TransientModuleError):
        vmmanager.create_account(spec)
    again = vmmanager.create_account(spec)
    assert again.details["reused"] is True and again.details["state"] == "active"


def test_a_vm_busy_with_another_job_is_transient(
    vmmanager: VmmanagerModule, vmm_panel: FakeVmmanager, account
) -> None:
    vmm_panel.job_seconds = 0.3
    vmmanager._call("POST", f"/vm/v3/host/{account.remote_id}/stop", json={})
    with pytest.raises(TransientModuleError, match="must wait") as caught:
        vmmanager.change_package(account.remote_id, "2")
    assert "busy" in caught.value.panel_message


def test_plan_change_waits_for_each_job(
    vmmanager: VmmanagerModule, vmm_panel: FakeVmmanager, account
) -> None:
    vmm_panel.job_seconds = 0.1
    vmmanager.change_package(account.remote_id, "2")
    host = vmm_panel.hosts[int(account.remote_id)]
    assert (host["cpu_number"], host["ram_mib"], host["disk"]["disk_mib"]) == (2, 4096, 51200)


def test_job_polls_ride_out_a_busy_panel(
    vmmanager: VmmanagerModule, vmm_panel: FakeVmmanager, account
) -> None:
    vmm_panel.busy_for(0.2, path="/vm/v3/task")
    vmmanager.suspend(account.remote_id)
    assert vmm_panel.hosts[int(account.remote_id)]["state"] == "stopped"


def test_a_busy_panel_is_transient(
    vmmanager: VmmanagerModule, vmm_panel: FakeVmmanager, account
) -> None:
    vmm_panel.busy_for(5)
    with pytest.raises(TransientModuleError, match="HTTP 503"):
        vmmanager.unsuspend(account.remote_id)


def test_ipv4_addresses_are_added_as_a_job_and_counted(
    vmmanager: VmmanagerModule, vmm_panel: FakeVmmanager, account
) -> None:
    host_id = int(account.remote_id)
    assert len(vmm_panel.host_ips(host_id)) == 1
    vmmanager.change_options(account.remote_id, "1", {"ips": 3})
    assert len(vmm_panel.host_ips(host_id)) == 3
    added = [t for t in vmm_panel.job_log(host_id) if t["name"] == "host_add_ip"]
    assert len(added) == 1 and added[0]["status"] == "complete"
    post = next(r for r in vmm_panel.requests if r.path.endswith("/ip"))
    assert post.json() == {"ipv4_number": 2}
    # The same change again finds them there and asks for nothing.
    vmmanager.change_options(account.remote_id, "1", {"ips": 3})
    assert len([t for t in vmm_panel.job_log(host_id) if t["name"] == "host_add_ip"]) == 1


def test_the_stand_in_refuses_what_the_add_ip_request_does_not_have(
    vmmanager: VmmanagerModule, vmm_panel: FakeVmmanager, account
) -> None:
    """Strict as the API's request type: an unknown field, or a number that is not a
    positive whole number, is a 400 with VMmanager's error body."""
    path = f"/vm/v3/host/{account.remote_id}/ip"
    for body in ({"ip_count": 1}, {"ipv4_number": 0}, {"ipv4_number": "2"}):
        with pytest.raises(PermanentModuleError, match="HTTP 400"):
            vmmanager._call("POST", path, json=body)
    vmm_panel.free_ips.clear()
    with pytest.raises(PermanentModuleError, match="Not enough free IPv4"):
        vmmanager.change_options(account.remote_id, "1", {"ips": 2})
    assert len(vmm_panel.host_ips(int(account.remote_id))) == 1


def test_terminating_frees_the_addresses(
    vmmanager: VmmanagerModule, vmm_panel: FakeVmmanager
) -> None:
    account = vmmanager.create_account(new_spec("1", ips=2))
    free = len(vmm_panel.free_ips)
    vmmanager.terminate(account.remote_id)
    assert len(vmm_panel.free_ips) == free + 2
