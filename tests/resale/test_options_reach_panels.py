"""Every resold option reaches the server, on create and on change, for each panel the
provider runs (against their local stand-ins): Proxmox memory, cores and disk; VMmanager
memory and IPv4 addresses; Plesk add-on plans; cPanel packages. The module's read call
then reports what was set, so reconciliation finds the server in line, and finds it out
of line when the panel is changed behind the provider's back.

The path is the provider's own: the reseller's command accepted (``upstream_command_accept``),
the panel job it queues in the same transaction, the job run by the provisioning service."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from provisioning.models import PlanMapping, ProvisionedService, ProvisioningJob
from provisioning.services import provisioning_job_run
from resale.models import (
    UpstreamService,
    WholesaleOption,
    WholesaleOptionChoice,
    WholesaleOptionPrice,
)
from resale.provisioning_bridge import upstream_services_expected, upstream_services_server_state
from resale.reconciliation import _server_differences
from resale.services import reseller_balance_topup, upstream_command_accept
from sandbox.panels.plesk import FakePlesk
from sandbox.panels.proxmox import FakeProxmox
from sandbox.panels.vmmanager import FakeVmmanager
from sandbox.panels.whm import FakeWhm
from tests.provisioning.test_panel_jobs import panel_group
from tests.resale.factories import account_on, wholesale_catalogue

pytestmark = pytest.mark.django_db


@pytest.fixture
def pve() -> Iterator[FakeProxmox]:
    with FakeProxmox() as fake:
        yield fake


@pytest.fixture
def vmm() -> Iterator[FakeVmmanager]:
    with FakeVmmanager() as fake:
        yield fake


@pytest.fixture
def plesk_panel() -> Iterator[FakePlesk]:
    with FakePlesk() as fake:
        yield fake


@pytest.fixture
def whm() -> Iterator[FakeWhm]:
    with FakeWhm() as fake:
        yield fake


def _world(
    tenant_a,
    module: str,
    panel,
    username: str,
    secret: str,
    package: str,
    mapping_options: dict | None = None,
    **extra,
):
    prefix = f"p{uuid.uuid4().hex[:6]}-"
    catalogue = wholesale_catalogue(code_prefix=prefix)
    account = account_on(tenant_a.tenant, catalogue["price_list"])
    reseller_balance_topup(account=account, amount="100", reference="x", idempotency_key=prefix)
    group = panel_group(module, panel, username, secret, **extra)
    plan = catalogue["vps-1"]
    PlanMapping.objects.create(
        plan_code=plan.code, group=group, package=package, options=mapping_options or {}
    )
    return prefix, account, plan, catalogue["price_list"]


def _option(prefix, price_list, plan, code: str, choices: dict[str, dict], **fields):
    option = WholesaleOption.objects.create(code=f"{prefix}{code}", name=code, **fields)
    option.plans.add(plan)
    for position, (choice_code, settings) in enumerate(choices.items()):
        choice = WholesaleOptionChoice.objects.create(
            option=option,
            code=choice_code,
            name=choice_code,
            settings=settings,
            sort_order=position,
        )
        WholesaleOptionPrice.objects.create(
            price_list=price_list,
            choice=choice,
            cycle="monthly",
            price_amount=Decimal("1.00"),
            currency="EUR",
        )
    return option


def _run_jobs(upstream_ref: str) -> ProvisionedService:
    upstream = UpstreamService.objects.get(public_id=upstream_ref)
    provisioned = ProvisionedService.objects.get(upstream_service_id=upstream.pk)
    for job in provisioned.jobs.exclude(state=ProvisioningJob.State.SUCCEEDED).order_by("pk"):
        provisioning_job_run(job_id=job.pk)
        job.refresh_from_db()
        assert job.state == ProvisioningJob.State.SUCCEEDED, job.last_error
    provisioned.refresh_from_db()
    return provisioned


def _order(account, plan, key: str, options: list[dict]) -> str:
    return upstream_command_accept(
        account=account,
        idempotency_key=key,
        action="create",
        payload={
            "plan": plan.code,
            "cycle": "monthly",
            "client_ref": "c-9",
            "domain": f"{key.split('-')[0]}-site.example",
            "options": options,
        },
    ).response["service_ref"]


def _change(account, ref: str, key: str, options: list[dict]) -> None:
    upstream_command_accept(
        account=account,
        idempotency_key=key,
        action="change_options",
        payload={"service_ref": ref, "options": options},
    )


def _drift(ref: str) -> tuple[str, str] | None:
    """What reconciliation's server comparison says of the service."""
    upstream = UpstreamService.objects.select_related("plan").get(public_id=ref)
    state = upstream_services_server_state(upstream_service_ids=[upstream.pk])[upstream.pk]
    package, options = upstream_services_expected(services=[upstream])[upstream.pk]
    return _server_differences(package, options, state)


def _check(
    account,
    plan,
    prefix: str,
    ordered: list[dict],
    changed: list[dict],
    on_server: Callable[[ProvisionedService], object],
    first: object,
    second: object,
    tamper: Callable[[ProvisionedService], None],
) -> None:
    def opts(items: list[dict]) -> list[dict]:
        return [{**item, "option": f"{prefix}{item['option']}"} for item in items]

    ref = _order(account, plan, f"{prefix}create", opts(ordered))
    provisioned = _run_jobs(ref)
    assert on_server(provisioned) == first
    assert _drift(ref) is None
    _change(account, ref, f"{prefix}change", opts(changed))
    provisioned = _run_jobs(ref)
    assert on_server(provisioned) == second
    assert _drift(ref) is None
    tamper(provisioned)
    assert _drift(ref) is not None


def test_proxmox_memory_cores_and_disk(tenant_a, pve: FakeProxmox) -> None:
    prefix, account, plan, prices = _world(
        tenant_a,
        "proxmox",
        pve,
        pve.token_id,
        pve.secret,
        "9000",
        task_poll_s=0.01,
        task_timeout_s=5,
    )
    _option(prefix, prices, plan, "ram", {"2gb": {"ram_mb": 2048}, "4gb": {"ram_mb": 4096}})
    _option(prefix, prices, plan, "cpu", {"core": {"cpu": 1}}, kind="quantity", max_quantity=4)
    _option(
        prefix, prices, plan, "disk", {"10gb": {"disk_gb": 10}}, kind="quantity", max_quantity=5
    )

    def vm(provisioned: ProvisionedService) -> tuple[int, int, str]:
        config = pve.vms[int(provisioned.remote_id)]["config"]
        size = config["scsi0"].rsplit("size=", 1)[1]
        return int(config["memory"]), int(config["cores"]), size

    _check(
        account,
        plan,
        prefix,
        [{"option": "ram", "choice": "2gb"}, {"option": "cpu", "choice": "core", "quantity": 2}],
        [
            {"option": "ram", "choice": "4gb"},
            {"option": "cpu", "choice": "core", "quantity": 3},
            {"option": "disk", "choice": "10gb", "quantity": 3},
        ],
        vm,
        (2048, 2, "10G"),
        (4096, 3, "30G"),
        lambda p: pve.vms[int(p.remote_id)]["config"].update(memory="512"),
    )


def test_vmmanager_memory_and_ipv4_addresses(tenant_a, vmm: FakeVmmanager) -> None:
    prefix, account, plan, prices = _world(
        tenant_a,
        "vmmanager",
        vmm,
        vmm.email,
        vmm.password,
        "1",
        mapping_options={"ips": 1},  # the plan's own address
        job_poll_s=0.01,
        job_timeout_s=5,
    )
    _option(prefix, prices, plan, "ram", {"2gb": {"ram_mb": 2048}, "4gb": {"ram_mb": 4096}})
    _option(prefix, prices, plan, "ipv4", {"ip": {"ips": 1}}, kind="quantity", max_quantity=4)

    def vm(provisioned: ProvisionedService) -> tuple[int, int]:
        host = vmm.hosts[int(provisioned.remote_id)]
        return host["ram_mib"], len(vmm.host_ips(host["id"]))

    def take_an_address(provisioned: ProvisionedService) -> None:
        host_id = int(provisioned.remote_id)
        vmm.ips.pop(max(i for i, ip in vmm.ips.items() if ip["host"]["id"] == host_id))

    _check(
        account,
        plan,
        prefix,
        [{"option": "ram", "choice": "2gb"}, {"option": "ipv4", "choice": "ip", "quantity": 2}],
        [{"option": "ram", "choice": "4gb"}, {"option": "ipv4", "choice": "ip", "quantity": 1}],
        vm,
        (2048, 3),
        (4096, 2),
        take_an_address,
    )


def test_plesk_add_on_plans(tenant_a, plesk_panel: FakePlesk) -> None:
    prefix, account, plan, prices = _world(
        tenant_a, "plesk", plesk_panel, "", plesk_panel.api_key, "Unlimited"
    )
    _option(prefix, prices, plan, "backup", {"daily": {"addons": ["Extra Backups"]}})
    _option(prefix, prices, plan, "ssl", {"pro": {"addons": ["SSL It! Pro"]}})
    names = {guid: name for name, guid in plesk_panel.addon_plans.items()}

    def subscription(provisioned: ProvisionedService) -> dict:
        return next(
            d for d in plesk_panel.domains.values() if d["owner"] == int(provisioned.remote_id)
        )

    _check(
        account,
        plan,
        prefix,
        [{"option": "backup", "choice": "daily"}],
        [{"option": "backup", "choice": "daily"}, {"option": "ssl", "choice": "pro"}],
        lambda p: sorted(names[guid] for guid in subscription(p)["addons"]),
        ["Extra Backups"],
        ["Extra Backups", "SSL It! Pro"],
        lambda p: subscription(p)["addons"].clear(),
    )


def test_cpanel_package_options(tenant_a, whm: FakeWhm) -> None:
    prefix, account, plan, prices = _world(tenant_a, "cpanel", whm, whm.user, whm.token, "starter")
    _option(prefix, prices, plan, "quota", {"big": {"package": "business"}})

    def package(provisioned: ProvisionedService) -> str:
        return whm.accounts[provisioned.remote_id]["plan"]

    _check(
        account,
        plan,
        prefix,
        [{"option": "quota", "choice": "big"}],
        [],
        package,
        "business",
        "starter",
        lambda p: whm.accounts[p.remote_id].update(plan="business"),
    )
