"""Provisioning jobs against the Proxmox and Plesk stand-ins: a locked VM is retried by
the job machinery, a failed task fails the job with its reason, and the panel login is
made for the client's own address."""

from __future__ import annotations

import uuid

import pytest

from provisioning.models import ProvisionedService, ProvisioningJob, ServerGroup
from provisioning.services import (
    provisioned_service_action,
    provisioned_service_create,
    provisioned_service_panel_login_reset,
    provisioned_service_sso_url,
    provisioning_job_run,
    server_create,
)
from sandbox.panels.base import FakePanel
from sandbox.panels.plesk import FakePlesk
from sandbox.panels.proxmox import FakeProxmox
from tests.provisioning.conftest import CLIENT_TIMEOUT_S

pytestmark = pytest.mark.django_db

State = ProvisioningJob.State


def panel_group(module: str, fake: FakePanel, username: str, secret: str, **extra) -> ServerGroup:
    group = ServerGroup.objects.create(name=f"{module}-{uuid.uuid4().hex[:8]}", module=module)
    server_create(
        group=group,
        name=f"{group.name}-1",
        hostname=fake.hostname,
        port=fake.port,
        use_tls=False,
        username=username,
        secret=secret,
        timeout_s=CLIENT_TIMEOUT_S,
        extra=extra,
    )
    return group


def run(job: ProvisioningJob) -> ProvisioningJob:
    provisioning_job_run(job_id=job.pk)
    job.refresh_from_db()
    return job


@pytest.fixture
def vps(pve: FakeProxmox) -> ProvisionedService:
    group = panel_group(
        "proxmox", pve, pve.token_id, pve.secret, task_poll_s=0.01, task_timeout_s=5
    )
    service = provisioned_service_create(client_ref="c-77", group=group, package="9000")
    assert run(service.jobs.get()).state == State.SUCCEEDED
    service.refresh_from_db()
    return service


def test_a_locked_vm_is_tried_again_later(vps: ProvisionedService, pve: FakeProxmox) -> None:
    pve.hold_lock(int(vps.remote_id), "backup", seconds=60)
    job = run(provisioned_service_action(service=vps, action="suspend"))
    assert job.state == State.QUEUED and job.next_attempt_at is not None
    assert "VM is locked (backup)" in job.panel_message
    assert pve.vms[int(vps.remote_id)]["status"] == "running"


def test_a_failed_task_fails_the_job_with_its_reason(
    vps: ProvisionedService, pve: FakeProxmox
) -> None:
    pve.end_next_task("resize", "lvextend: insufficient free space in volume group")
    job = run(provisioned_service_action(service=vps, action="change_package", package="9001"))
    assert job.state == State.FAILED
    assert job.panel_message == "lvextend: insufficient free space in volume group"


def test_plesk_login_is_made_for_the_clients_address(plesk_panel: FakePlesk) -> None:
    group = panel_group("plesk", plesk_panel, "", plesk_panel.api_key)
    service = provisioned_service_create(
        client_ref="c-78", group=group, package="Unlimited", domain="shop-78.example"
    )
    assert run(service.jobs.get()).state == State.SUCCEEDED
    service.refresh_from_db()
    provisioned_service_sso_url(service=service, client_ip="2001:db8::7")
    assert plesk_panel.session_ips[plesk_panel.sessions[-1]] == "2001:db8::7"


def test_proxmox_hands_the_client_a_login_for_its_vm(
    vps: ProvisionedService, pve: FakeProxmox
) -> None:
    login = provisioned_service_panel_login_reset(service=vps)
    assert login.login == f"{vps.username}@pve"
    assert pve.users[login.login]["password"] == login.password != vps.password
    assert provisioned_service_sso_url(service=vps) == login.url
