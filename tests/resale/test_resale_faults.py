"""The resale flow under faults: the upstream fails 30 % of calls (half of them after it
acted), the panel fails 30 % of calls after making its change, and the worker is killed
twice mid-run. At the end every service is active exactly once, the debits equal the
orders, and no command is lost. Then: 50 orders at once against a balance that covers
10."""

import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.test import override_settings
from django_tenants.utils import schema_context

from billing import services
from billing.models import Service
from provisioning.models import ProvisioningJob
from provisioning.modules.simulated import SimulatedModule
from provisioning.services import provisioning_jobs_requeue_stale
from resale.models import BalanceEntry, UpstreamCommand, UpstreamService
from resale.outbox import upstream_commands_relay
from resale.services import reseller_balance, reseller_balance_topup
from tests.resale.flow import order_and_pay, resale_world_build, wait_for

pytestmark = pytest.mark.worker

FAULTY = {
    "RESALE_UPSTREAM_FAULT_RATE": "0.3",
    "RESALE_SENT_RECHECK_S": "2",
    "PROVISIONING_RETRY_BASE_S": "1",
    "PROVISIONING_RETRY_MAX_S": "2",
    "PROVISIONING_JOB_LEASE_S": "5",
    "PROVISIONING_QUEUED_GRACE_S": "5",
    # 30 % injected failures must not exhaust a job's attempts by bad luck (0.3⁸ per job
    # over 200 jobs is a failure every few dozen runs); giving up is tested elsewhere.
    "PROVISIONING_JOB_MAX_ATTEMPTS": "40",
}


# The worker reads FAULTY from its environment; what this process does itself (the
# relays, which can accept a command and make its panel job) must use the same limits,
# or a job made here gives up after the default eight attempts.
IN_TEST_PROCESS = {"PROVISIONING_JOB_MAX_ATTEMPTS": int(FAULTY["PROVISIONING_JOB_MAX_ATTEMPTS"])}


def _relay(schema: str) -> None:
    """What Celery beat does every few seconds in production."""
    with schema_context(schema), override_settings(**IN_TEST_PROCESS):
        upstream_commands_relay()
    with override_settings(PROVISIONING_QUEUED_GRACE_S=5, **IN_TEST_PROCESS):
        provisioning_jobs_requeue_stale()
    connection.set_schema_to_public()


def _active_count(schema: str) -> int:
    with schema_context(schema):
        return Service.objects.filter(status=Service.Status.ACTIVE).count()


def _world_state(world) -> dict:
    """Where each part of the flow stands: tenant services and commands, provider
    services and provisioning jobs."""
    with schema_context(world.schema):
        services = Counter(Service.objects.values_list("status", flat=True))
        commands = Counter(UpstreamCommand.objects.values_list("state", flat=True))
        errors = Counter(
            UpstreamCommand.objects.exclude(last_error="").values_list("last_error", flat=True)
        )
    upstream = Counter(
        UpstreamService.objects.filter(account=world.account).values_list("status", flat=True)
    )
    jobs = Counter(
        ProvisioningJob.objects.filter(service__server=world.server).values_list("state", flat=True)
    )
    connection.set_schema_to_public()
    return {
        "services": dict(services),
        "commands": dict(commands),
        "command_errors": dict(errors.most_common(3)),
        "upstream_services": dict(upstream),
        "jobs": dict(jobs),
    }


def test_two_hundred_orders_survive_faults_and_killed_workers(
    tenant_factory, celery_worker_factory
):
    orders = 200
    worker = celery_worker_factory(**FAULTY)
    created = tenant_factory("Stormy Hosting")
    world = resale_world_build(created, top_up="500.00", failure_rate=0.3)
    world.server.extra = {**world.server.extra, "failure_point": "after"}
    world.server.save(update_fields=["extra"])
    with override_settings(RESALE_UPSTREAM_FAULT_RATE=0.3, **IN_TEST_PROCESS):
        for index in range(orders):
            order_and_pay(world, key=f"storm-{index}")
            if index in (60, 130):
                worker.restart()  # killed with SIGKILL mid-run, then started again

    def settled() -> bool:
        _relay(world.schema)
        return _active_count(world.schema) == orders

    wait_for(
        settled,
        timeout=400,
        interval=1.0,
        what="every service active",
        describe=lambda: _world_state(world),
    )

    with schema_context(world.schema):
        commands = UpstreamCommand.objects.filter(action="create")
        assert commands.count() == orders
        assert set(commands.values_list("state", flat=True)) == {"done"}
        assert Service.objects.filter(status=Service.Status.ACTIVE).count() == orders
    upstream = UpstreamService.objects.filter(account=world.account)
    assert upstream.count() == orders
    assert set(upstream.values_list("status", flat=True)) == {"active"}
    debits = BalanceEntry.objects.filter(account=world.account, kind="order_debit")
    assert debits.count() == orders
    assert reseller_balance(account=world.account).amount == Decimal("0.00")
    panel = SimulatedModule(world.server.connection()).all_accounts()
    assert len(panel) == orders
    assert len({account["username"] for account in panel}) == orders


def test_fifty_simultaneous_orders_against_a_balance_for_ten(tenant_factory, celery_worker_process):
    created = tenant_factory("Busy Hosting")
    world = resale_world_build(created, top_up="25.00")
    world.account.credit_limit = Decimal("0")
    world.account.save(update_fields=["credit_limit"])
    barrier = threading.Barrier(10)
    errors: list[BaseException] = []

    def client_burst(start: int) -> None:
        try:
            barrier.wait()
            for index in range(start, start + 5):
                order_and_pay(world, key=f"burst-{index}")
        except BaseException as exc:  # a failed order must fail the test, not vanish
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=client_burst, args=(n * 5,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    connection.set_schema_to_public()
    assert not errors

    def states() -> dict[str, int]:
        with schema_context(world.schema):
            rows = UpstreamCommand.objects.filter(action="create").values_list("state", flat=True)
            return {state: list(rows).count(state) for state in set(rows)}

    wait_for(
        lambda: states() == {"done": 10, "awaiting_funds": 40},
        timeout=300,
        what="10 provisioned and 40 awaiting funds",
        describe=states,
    )
    assert reseller_balance(account=world.account).amount == Decimal("0.00")
    assert _active_count(world.schema) == 10

    reseller_balance_topup(
        account=world.account, amount="100.00", reference="card", idempotency_key="burst-topup"
    )
    wait_for(
        lambda: _active_count(world.schema) == 50,
        timeout=180,
        what="the rest completing after the top-up",
    )
    assert reseller_balance(account=world.account).amount == Decimal("0.00")
    lowest = Decimal(0)
    running = Decimal(0)
    for amount in (
        BalanceEntry.objects.filter(account=world.account)
        .order_by("id")
        .values_list("amount_value", flat=True)
    ):
        running += amount
        lowest = min(lowest, running)
    assert lowest >= -world.account.credit_limit


def test_orders_and_upgrades_with_options_lose_no_option_and_debit_once(
    tenant_factory, celery_worker_factory
):
    """Forty orders with two resold options each and one of the reseller's own, then ten
    upgrades, through a failing upstream and panel and a worker killed twice."""
    orders, upgrades = 40, 10
    worker = celery_worker_factory(**FAULTY)
    world = resale_world_build(
        tenant_factory("Stormy Options"), top_up="360.00", failure_rate=0.3, with_options=True
    )
    world.server.extra = {**world.server.extra, "failure_point": "after"}
    world.server.save(update_fields=["extra"])
    picked = {"ram": "+2 GB", "ipv4": ("Address", 2), "support": "Yes"}
    with override_settings(RESALE_UPSTREAM_FAULT_RATE=0.3, **IN_TEST_PROCESS):
        ordered = []
        for index in range(orders):
            ordered.append(order_and_pay(world, key=f"storm-opt-{index}", options=picked))
            if index in (12, 27):
                worker.restart()

    def settled(count: int, action: str) -> bool:
        _relay(world.schema)
        with schema_context(world.schema):
            done = UpstreamCommand.objects.filter(action=action, state="done").count()
        connection.set_schema_to_public()
        return done == count and _active_count(world.schema) == orders

    wait_for(
        lambda: settled(orders, "create"),
        timeout=300,
        interval=1.0,
        what="every service active",
        describe=lambda: _world_state(world),
    )
    with override_settings(RESALE_UPSTREAM_FAULT_RATE=0.3, **IN_TEST_PROCESS):
        with schema_context(world.schema):
            ram = world.options["ram"]
            bigger = ram.choices.get(name="+4 GB")
            for service in ordered[:upgrades]:
                services.service_change_options(
                    service=Service.objects.get(pk=service.pk), options={ram: bigger}
                )
        connection.set_schema_to_public()
        worker.restart()
    wait_for(
        lambda: settled(upgrades, "change_options"),
        timeout=300,
        interval=1.0,
        what="every upgrade done",
        describe=lambda: _world_state(world),
    )

    upstream = list(UpstreamService.objects.filter(account=world.account))
    assert len(upstream) == orders
    prefix = world.wholesale_plan.code.removesuffix("web-s")
    choices = Counter(service.options[f"{prefix}ram"]["choice"] for service in upstream)
    assert choices == {"4gb": upgrades, "2gb": orders - upgrades}
    assert all(service.options[f"{prefix}ipv4"]["quantity"] == 2 for service in upstream)
    assert all(len(service.options) == 2 for service in upstream)
    debits = BalanceEntry.objects.filter(account=world.account, kind="order_debit")
    assert debits.count() == orders + upgrades
    # 40 × (2.50 + 3.00 + 2 × 1.50) and 10 × (5.00 − 3.00) for the whole period left.
    assert reseller_balance(account=world.account).amount == Decimal("0.00")

    def panel_settled() -> bool:
        _relay(world.schema)
        panel = SimulatedModule(world.server.connection()).all_accounts()
        rams = Counter(account["options"].get("ram_mb") for account in panel)
        return len(panel) == orders and rams == {
            1024 + 4096: upgrades,
            1024 + 2048: orders - upgrades,
        }

    wait_for(panel_settled, timeout=120, interval=1.0, what="the panel's resources")
    panel = SimulatedModule(world.server.connection()).all_accounts()
    assert all(account["options"]["ips"] == 2 for account in panel)
