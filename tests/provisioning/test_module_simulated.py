"""The simulated panel: Redis-backed state shared across processes, atomic creates,
configurable latency and failures."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import redis

from provisioning.modules.base import (
    AccountExistsError,
    PermanentModuleError,
    TransientModuleError,
)
from provisioning.modules.simulated import SimulatedModule
from tests.provisioning.conftest import REDIS_URL, new_spec, simulated_connection

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def account(simulated: SimulatedModule):
    return simulated.create_account(new_spec("starter"))


def test_full_lifecycle(simulated: SimulatedModule, redis_namespace: str) -> None:
    assert simulated.test_connection() == f"Simulated panel {redis_namespace}: 0 accounts"
    spec = new_spec("starter", disk_gb=10)
    created = simulated.create_account(spec)
    assert created.details == {"domain": spec.domain, "package": "starter", "status": "active"}
    assert simulated.find_account(spec.username) == created
    simulated.suspend(created.remote_id, "overdue")
    assert simulated.find_account(spec.username).details["status"] == "suspended"
    simulated.unsuspend(created.remote_id)
    simulated.change_package(created.remote_id, "business")
    assert simulated.find_account(spec.username).details["package"] == "business"
    assert simulated.sso_url(created.remote_id).startswith(f"https://{redis_namespace}/sso/")
    usage = simulated.usage(created.remote_id)
    assert usage.disk_mb > 0 and usage.extra["status"] == "active"
    assert simulated.test_connection().endswith(": 1 accounts")
    simulated.terminate(created.remote_id)
    simulated.terminate(created.remote_id)
    assert simulated.find_account(spec.username) is None
    assert simulated.all_accounts() == []


def test_keys_are_namespaced(simulated: SimulatedModule, redis_namespace: str, account) -> None:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    keys = list(client.scan_iter(f"*{redis_namespace}*"))
    client.close()
    assert keys and all(k.startswith(f"tessera:simpanel:{redis_namespace}:") for k in keys)


def test_no_password_is_stored(simulated: SimulatedModule, redis_namespace: str) -> None:
    spec = new_spec("starter")
    simulated.create_account(spec)
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    values = [
        client.get(k)
        for k in client.scan_iter(f"tessera:simpanel:{redis_namespace}:*")
        if client.type(k) == "string"
    ]
    client.close()
    assert not any(spec.password in (v or "") for v in values)


def test_create_is_idempotent(simulated: SimulatedModule, account) -> None:
    spec = new_spec("starter")
    first = simulated.create_account(spec)
    second = simulated.create_account(spec)
    assert second.remote_id == first.remote_id and second.details["reused"] is True
    assert len(simulated.all_accounts()) == 2


def test_username_taken_for_another_domain(simulated: SimulatedModule) -> None:
    spec = new_spec("starter")
    simulated.create_account(spec)
    with pytest.raises(AccountExistsError):
        simulated.create_account(replace(spec, domain="other.example"))


def test_racing_creates_make_one_account(redis_namespace: str) -> None:
    spec = new_spec("starter")
    results, errors = [], []
    barrier = threading.Barrier(8)

    def create() -> None:
        with SimulatedModule(simulated_connection(redis_namespace)) as module:
            barrier.wait()
            try:
                results.append(module.create_account(spec))
            except Exception as exc:  # collected to fail the test below with a reason
                errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({r.remote_id for r in results}) == 1
    with SimulatedModule(simulated_connection(redis_namespace)) as module:
        assert len(module.all_accounts()) == 1


def test_state_is_shared_across_processes(redis_namespace: str) -> None:
    spec = new_spec("starter")
    script = textwrap.dedent(f"""
        from provisioning.modules.base import AccountSpec
        from provisioning.modules.simulated import SimulatedModule
        from tests.provisioning.conftest import simulated_connection
        module = SimulatedModule(simulated_connection({redis_namespace!r}))
        spec = AccountSpec({spec.username!r}, "x-Password-123", {spec.domain!r}, "starter", {{}})
        print(module.create_account(spec).remote_id)
    """)
    child = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    with SimulatedModule(simulated_connection(redis_namespace)) as module:
        found = module.find_account(spec.username)
        assert found is not None and found.remote_id == child.stdout.strip()
        assert module.create_account(spec).details["reused"] is True
        assert len(module.all_accounts()) == 1


def test_latency(redis_namespace: str) -> None:
    with SimulatedModule(simulated_connection(redis_namespace, latency_s=0.2)) as module:
        started = time.monotonic()
        module.test_connection()
        assert time.monotonic() - started >= 0.2


def test_failure_rate_before(redis_namespace: str) -> None:
    spec = new_spec("starter")
    with (
        SimulatedModule(simulated_connection(redis_namespace, failure_rate=1)) as module,
        pytest.raises(TransientModuleError, match="injected failure"),
    ):
        module.create_account(spec)
    with SimulatedModule(simulated_connection(redis_namespace)) as module:
        assert module.find_account(spec.username) is None


def test_failure_after_the_change_then_retry(redis_namespace: str) -> None:
    spec = new_spec("starter")
    flaky = simulated_connection(redis_namespace, failure_rate=1, failure_point="after")
    with SimulatedModule(flaky) as module, pytest.raises(TransientModuleError):
        # find_account fails first; the create itself is what we want to lose the reply of.
        module._create_account(spec)
    with SimulatedModule(simulated_connection(redis_namespace)) as module:
        assert module.create_account(spec).details["reused"] is True
        assert len(module.all_accounts()) == 1


def test_partial_failure_rate(redis_namespace: str) -> None:
    outcomes = {"ok": 0, "failed": 0}
    with SimulatedModule(simulated_connection(redis_namespace, failure_rate=0.5)) as module:
        for _ in range(200):
            try:
                module.test_connection()
                outcomes["ok"] += 1
            except TransientModuleError:
                outcomes["failed"] += 1
    assert 40 < outcomes["failed"] < 160


def test_unknown_account_is_permanent(simulated: SimulatedModule) -> None:
    for action in (simulated.suspend, simulated.unsuspend, simulated.sso_url, simulated.usage):
        with pytest.raises(PermanentModuleError, match="does not exist"):
            action("424242")


def test_redis_down_is_transient(redis_namespace: str) -> None:
    connection = simulated_connection(redis_namespace, redis_url="redis://127.0.0.1:1/0")
    with (
        SimulatedModule(connection) as module,
        pytest.raises(TransientModuleError, match="state store"),
    ):
        module.find_account("abc")
