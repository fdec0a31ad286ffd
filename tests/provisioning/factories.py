"""Rows the provisioning tests build on: server groups pointed at a fake panel or at
the simulated one."""

from __future__ import annotations

import uuid

from provisioning.models import ServerGroup
from provisioning.services import server_create
from sandbox.panels.whm import FakeWhm
from tests.provisioning.conftest import CLIENT_TIMEOUT_S, REDIS_URL


def whm_group(
    whm: FakeWhm,
    *,
    servers: int = 1,
    capacity: int = 0,
    timeout_s: float = CLIENT_TIMEOUT_S,
    strategy: str = ServerGroup.FillStrategy.LEAST_ACCOUNTS,
) -> ServerGroup:
    group = ServerGroup.objects.create(
        name=f"whm-{uuid.uuid4().hex[:8]}", module="cpanel", fill_strategy=strategy
    )
    for index in range(servers):
        server_create(
            group=group,
            name=f"{group.name}-{index + 1}",
            hostname=whm.hostname,
            port=whm.port,
            use_tls=False,
            username=whm.user,
            secret=whm.token,
            timeout_s=timeout_s,
            capacity=capacity,
            position=index,
        )
    return group


def simulated_group(hostname: str, **extra) -> ServerGroup:
    group = ServerGroup.objects.create(name=f"sim-{uuid.uuid4().hex[:8]}", module="simulated")
    server_create(
        group=group,
        name=f"{group.name}-1",
        hostname=hostname,
        port=0,
        secret="simulated-secret",
        extra={"redis_url": REDIS_URL, **extra},
    )
    return group
