"""The provider console pages for provisioning load, and never show a secret."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from provisioning.models import ProvisionedService, ProvisioningJob, Server
from provisioning.services import provisioned_service_create, provisioning_job_run
from sandbox.panels.whm import FakeWhm
from tests.provisioning.factories import whm_group

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(platform_client: Client) -> Client:
    platform_client.force_login(User.objects.get(email="admin@platform.test"))
    return platform_client


def test_pages_load_without_secrets(admin_browser: Client, whm: FakeWhm) -> None:
    group = whm_group(whm)
    service = provisioned_service_create(
        client_ref="c-1", group=group, package="starter", domain="a.example"
    )
    job = service.jobs.get()
    provisioning_job_run(job_id=job.pk)
    server = group.servers.get()
    pages = [
        "/admin/provisioning/servergroup/",
        "/admin/provisioning/server/",
        f"/admin/provisioning/server/{server.pk}/change/",
        "/admin/provisioning/planmapping/",
        "/admin/provisioning/provisionedservice/",
        f"/admin/provisioning/provisionedservice/{service.pk}/change/",
        "/admin/provisioning/provisioningjob/",
        f"/admin/provisioning/provisioningjob/{job.pk}/change/",
    ]
    for page in pages:
        response = admin_browser.get(page)
        assert response.status_code == 200, page
        body = response.content.decode()
        assert whm.token not in body and service.password not in body, page
        assert server.secret_encrypted not in body and service.password_encrypted not in body


def test_new_secret_replaces_the_stored_one(admin_browser: Client, whm: FakeWhm) -> None:
    server = whm_group(whm).servers.get()
    form = {
        "group": server.group_id,
        "name": server.name,
        "hostname": server.hostname,
        "port": server.port,
        "use_tls": "",
        "verify_tls": "on",
        "username": "root",
        "timeout_s": "5",
        "extra": "{}",
        "capacity": "0",
        "position": "0",
        "is_active": "on",
        "new_secret": "",
    }
    admin_browser.post(f"/admin/provisioning/server/{server.pk}/change/", form)
    server.refresh_from_db()
    assert server.secret == whm.token  # empty keeps the stored secret
    admin_browser.post(
        f"/admin/provisioning/server/{server.pk}/change/", {**form, "new_secret": "NEW-TOKEN-123"}
    )
    server.refresh_from_db()
    assert server.secret == "NEW-TOKEN-123" and server.timeout_s == 5


def test_actions(admin_browser: Client, whm: FakeWhm) -> None:
    server = whm_group(whm).servers.get()
    response = admin_browser.post(
        "/admin/provisioning/server/",
        {"action": "test_connection", "_selected_action": [server.pk]},
        follow=True,
    )
    assert f"WHM {FakeWhm.VERSION}" in response.content.decode()
    service = provisioned_service_create(
        client_ref="c-2", group=server.group, package="platinum", domain="b.example"
    )
    job = service.jobs.get()
    provisioning_job_run(job_id=job.pk)
    assert ProvisioningJob.objects.get(pk=job.pk).state == ProvisioningJob.State.FAILED
    admin_browser.post(
        "/admin/provisioning/provisioningjob/",
        {"action": "run_again", "_selected_action": [job.pk]},
    )
    assert ProvisioningJob.objects.get(pk=job.pk).state == ProvisioningJob.State.QUEUED
    assert ProvisionedService.objects.filter(pk=service.pk).exists()
    assert Server.objects.filter(pk=server.pk).exists()
