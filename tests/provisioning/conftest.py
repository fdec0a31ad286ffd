"""Fixtures for the control-panel modules: each fake panel on a random local port,
a module pointed at it with a short timeout, and a throw-away Redis namespace for
the simulated panel and registrar. No database is involved."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

from provisioning.modules.base import AccountSpec, ServerConnection, generate_password
from provisioning.modules.cpanel import CpanelModule
from provisioning.modules.plesk import PleskModule
from provisioning.modules.proxmox import ProxmoxModule
from provisioning.modules.simulated import SimulatedModule
from provisioning.modules.vmmanager import VmmanagerModule
from sandbox.panels.plesk import FakePlesk
from sandbox.panels.proxmox import FakeProxmox
from sandbox.panels.vmmanager import FakeVmmanager
from sandbox.panels.whm import FakeWhm

# Short enough to keep hang tests fast, long enough for a loaded CI machine.
CLIENT_TIMEOUT_S = 0.5
HANG_S = 1.5
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def connection_to(fake, username: str, secret: str, **extra) -> ServerConnection:
    return ServerConnection(
        hostname=fake.hostname,
        port=fake.port,
        use_tls=False,
        username=username,
        secret=secret,
        timeout_s=CLIENT_TIMEOUT_S,
        extra=extra,
    )


def new_spec(package: str, domain: str = "", **options) -> AccountSpec:
    """An account with a unique username and domain, so tests never collide."""
    suffix = uuid.uuid4().hex[:7]
    return AccountSpec(
        username=f"u{suffix}",
        password=generate_password(),
        domain=domain or f"site-{suffix}.example",
        package=package,
        options=options,
    )


@pytest.fixture
def whm() -> Iterator[FakeWhm]:
    with FakeWhm() as fake:
        yield fake


@pytest.fixture
def cpanel(whm: FakeWhm) -> Iterator[CpanelModule]:
    with CpanelModule(connection_to(whm, whm.user, whm.token)) as module:
        yield module


@pytest.fixture
def plesk_panel() -> Iterator[FakePlesk]:
    with FakePlesk() as fake:
        yield fake


@pytest.fixture
def plesk(plesk_panel: FakePlesk) -> Iterator[PleskModule]:
    with PleskModule(connection_to(plesk_panel, "", plesk_panel.api_key)) as module:
        yield module


@pytest.fixture
def vmm_panel() -> Iterator[FakeVmmanager]:
    with FakeVmmanager() as fake:
        yield fake


@pytest.fixture
def vmmanager(vmm_panel: FakeVmmanager) -> Iterator[VmmanagerModule]:
    connection = connection_to(
        vmm_panel, vmm_panel.email, vmm_panel.password, job_poll_s=0.01, job_timeout_s=5
    )
    with VmmanagerModule(connection) as module:
        yield module


@pytest.fixture
def pve() -> Iterator[FakeProxmox]:
    with FakeProxmox() as fake:
        yield fake


@pytest.fixture
def proxmox(pve: FakeProxmox) -> Iterator[ProxmoxModule]:
    connection = connection_to(pve, pve.token_id, pve.secret, task_poll_s=0.01, task_timeout_s=5)
    with ProxmoxModule(connection) as module:
        yield module


@pytest.fixture
def redis_namespace() -> Iterator[str]:
    """A hostname no other test uses; every key under it is deleted afterwards."""
    hostname = f"sim-{uuid.uuid4().hex[:12]}.test"
    yield hostname
    client = redis.Redis.from_url(REDIS_URL)
    for kind in ("simpanel", "simregistrar"):
        keys = list(client.scan_iter(f"tessera:{kind}:{hostname}:*"))
        if keys:
            client.delete(*keys)
    client.close()


def simulated_connection(hostname: str, **extra) -> ServerConnection:
    return ServerConnection(
        hostname=hostname,
        port=0,
        secret="sim-secret-value",
        extra={"redis_url": REDIS_URL, **extra},
    )


@pytest.fixture
def simulated(redis_namespace: str) -> Iterator[SimulatedModule]:
    with SimulatedModule(simulated_connection(redis_namespace)) as module:
        yield module
