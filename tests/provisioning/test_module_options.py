"""Every module applies a service's options (``change_options``) and reports what the
panel holds (``read_account``), against its local stand-in."""

from __future__ import annotations

from provisioning.modules.base import AccountState, options_merge
from provisioning.modules.cpanel import CpanelModule
from provisioning.modules.plesk import PleskModule
from provisioning.modules.proxmox import ProxmoxModule
from provisioning.modules.simulated import SimulatedModule
from provisioning.modules.vmmanager import VmmanagerModule
from sandbox.panels.plesk import FakePlesk
from sandbox.panels.proxmox import FakeProxmox
from sandbox.panels.vmmanager import FakeVmmanager
from tests.provisioning.conftest import new_spec


def test_options_merge_adds_numbers_joins_lists_and_replaces_the_rest() -> None:
    merged = options_merge(
        {"ram_mb": 1024, "addons": ["dns"], "os": 3},
        {"ram_mb": 2048},
        {"ips": 2, "addons": ["backups"], "package": "big"},
    )
    assert merged == {
        "ram_mb": 3072,
        "ips": 2,
        "addons": ["backups", "dns"],
        "os": 3,
        "package": "big",
    }


def test_simulated(simulated: SimulatedModule) -> None:
    account = simulated.create_account(new_spec("web-s", ram_mb=1024))
    simulated.change_options(account.remote_id, "web-s", {"ram_mb": 3072, "ips": 2})
    state = simulated.read_account(account.remote_id)
    assert state == AccountState("active", "web-s", {"ram_mb": 3072, "ips": 2})
    simulated.suspend(account.remote_id)
    assert simulated.read_account(account.remote_id).status == "suspended"
    simulated.terminate(account.remote_id)
    assert simulated.read_account(account.remote_id).status == "missing"


def test_proxmox(proxmox: ProxmoxModule, pve: FakeProxmox) -> None:
    account = proxmox.create_account(new_spec("9000", domain="", ram_mb=1024))
    proxmox.change_options(account.remote_id, "9000", {"cpu": 4, "ram_mb": 4096, "disk_gb": 40})
    state = proxmox.read_account(account.remote_id)
    assert state.status == "active"
    assert state.options == {"cpu": 4, "ram_mb": 4096, "disk_gb": 40.0}
    proxmox.suspend(account.remote_id)
    assert proxmox.read_account(account.remote_id).status == "suspended"
    assert proxmox.read_account("4242").status == "missing"


def test_vmmanager(vmmanager: VmmanagerModule, vmm_panel: FakeVmmanager) -> None:
    account = vmmanager.create_account(new_spec("1", os=3, ips=2))
    assert vmmanager.read_account(account.remote_id).options["ips"] == 2
    vmmanager.change_options(account.remote_id, "1", {"cpu": 3, "ram_mb": 6144, "ips": 4})
    state = vmmanager.read_account(account.remote_id)
    assert state.status == "active" and state.package == "1"
    assert (state.options["cpu"], state.options["ram_mb"], state.options["ips"]) == (3, 6144, 4)
    # Fewer addresses: the newest go, the VM's main address stays.
    main = vmm_panel.host_ips(int(account.remote_id))[0]
    vmmanager.change_options(account.remote_id, "1", {"ips": 1})
    assert vmm_panel.host_ips(int(account.remote_id)) == [main]
    assert vmmanager.read_account(account.remote_id).options["ips"] == 1
    vmmanager.suspend(account.remote_id)
    assert vmmanager.read_account(account.remote_id).status == "suspended"


def test_cpanel_options_name_a_package(cpanel: CpanelModule) -> None:
    account = cpanel.create_account(new_spec("starter", domain="shop.example"))
    cpanel.change_options(account.remote_id, "starter", {"package": "business"})
    assert cpanel.read_account(account.remote_id) == AccountState("active", "business")
    cpanel.change_options(account.remote_id, "starter", {})
    assert cpanel.read_account(account.remote_id).package == "starter"
    assert cpanel.read_account("nobody1").status == "missing"


def test_plesk_options_set_plan_and_quota(plesk: PleskModule, plesk_panel: FakePlesk) -> None:
    account = plesk.create_account(new_spec("Unlimited", domain="shop.example"))
    plesk.change_options(account.remote_id, "Unlimited", {"package": "Business", "disk_gb": 20})
    assert plesk.read_account(account.remote_id) == AccountState(
        "active", "Business", {"addons": []}
    )
    subscription = next(iter(plesk_panel.domains.values()))
    assert subscription["hard_quota"] == "20G"
    plesk.suspend(account.remote_id)
    assert plesk.read_account(account.remote_id).status == "suspended"


def test_plesk_add_ons_are_attached_on_create_and_on_change(
    plesk: PleskModule, plesk_panel: FakePlesk
) -> None:
    spec = new_spec("Unlimited", domain="addons.example", addons=["Extra Backups"])
    account = plesk.create_account(spec)
    subscription = next(d for d in plesk_panel.domains.values() if d["name"] == "addons.example")
    assert subscription["addons"] == [plesk_panel.addon_plans["Extra Backups"]]
    assert plesk.read_account(account.remote_id).options == {"addons": ["Extra Backups"]}

    plesk.change_options(
        account.remote_id, "Unlimited", {"addons": ["SSL It! Pro", "Extra Backups"]}
    )
    assert plesk.read_account(account.remote_id).options == {
        "addons": ["Extra Backups", "SSL It! Pro"]
    }
    # A downgrade detaches what the options no longer name.
    plesk.change_options(account.remote_id, "Unlimited", {"addons": ["SSL It! Pro"]})
    assert subscription["addons"] == [plesk_panel.addon_plans["SSL It! Pro"]]
    plesk.change_options(account.remote_id, "Unlimited", {})
    assert subscription["addons"] == []
