"""Where new accounts go: the group's fill strategy, capacity, inactive servers."""

from __future__ import annotations

import pytest

from provisioning.models import ProvisionedService, ProvisioningJob, ServerGroup
from provisioning.selectors import server_for_placement
from provisioning.services import provisioned_service_create, provisioning_job_run
from sandbox.panels.whm import FakeWhm
from tests.provisioning.factories import whm_group

pytestmark = pytest.mark.django_db


def place(group: ServerGroup, count: int) -> list[str]:
    """Creates ``count`` accounts and returns the server each landed on."""
    servers = []
    for index in range(count):
        service = provisioned_service_create(
            client_ref=f"c-{index}",
            group=group,
            package="starter",
            domain=f"p{index}-{group.pk}.example",
        )
        provisioning_job_run(job_id=service.jobs.get().pk)
        service.refresh_from_db()
        servers.append(service.server.name.rsplit("-", 1)[1] if service.server else "-")
    return servers


def test_least_accounts_spreads_evenly(whm: FakeWhm) -> None:
    group = whm_group(whm, servers=3)
    assert place(group, 6) == ["1", "2", "3", "1", "2", "3"]


def test_fill_in_order_fills_one_server_then_the_next(whm: FakeWhm) -> None:
    group = whm_group(whm, servers=3, capacity=2, strategy=ServerGroup.FillStrategy.FILL_IN_ORDER)
    assert place(group, 5) == ["1", "1", "2", "2", "3"]


def test_full_group_waits_and_retries(whm: FakeWhm) -> None:
    group = whm_group(whm, servers=1, capacity=1)
    place(group, 1)
    service = provisioned_service_create(
        client_ref="c-x", group=group, package="starter", domain="full.example"
    )
    job = service.jobs.get()
    provisioning_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == ProvisioningJob.State.QUEUED and "has room" in job.error
    assert server_for_placement(group=group) is None
    group.servers.update(capacity=2)
    ProvisioningJob.objects.filter(pk=job.pk).update(next_attempt_at=None)
    provisioning_job_run(job_id=job.pk)
    service.refresh_from_db()
    assert service.status == ProvisionedService.Status.ACTIVE


def test_terminated_accounts_free_their_slot_and_inactive_servers_get_none(whm: FakeWhm) -> None:
    group = whm_group(whm, servers=2, capacity=1)
    place(group, 2)
    assert server_for_placement(group=group) is None
    ProvisionedService.objects.filter(server__name__endswith="-2").update(
        status=ProvisionedService.Status.TERMINATED
    )
    assert server_for_placement(group=group).name.endswith("-2")
    group.servers.filter(name__endswith="-2").update(is_active=False)
    assert server_for_placement(group=group) is None


def test_no_group_fails_the_job() -> None:
    service = provisioned_service_create(client_ref="c-1", group=None, package="x")
    provisioning_job_run(job_id=service.jobs.get().pk)
    job = service.jobs.get()
    assert job.state == ProvisioningJob.State.FAILED and "No server group" in job.error
