"""A real Celery worker dies in the middle of a create; the job runs again on a new
worker and the panel ends up with exactly one account."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from provisioning.models import ProvisionedService, ProvisioningJob
from provisioning.services import provisioned_service_create, provisioning_jobs_requeue_stale
from sandbox.panels.whm import FakeWhm
from tests.provisioning.factories import whm_group

pytestmark = pytest.mark.worker


def wait_for(condition: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the worker")


def job_state(job: ProvisioningJob) -> str:
    job.refresh_from_db()
    return job.state


def test_worker_killed_mid_create_then_rerun_makes_one_account(
    live_db, celery_worker_process, whm: FakeWhm
) -> None:
    group = whm_group(whm, timeout_s=60)
    try:
        # WHM makes the account, then answers far later than the test is willing to wait.
        whm.hang_next(1, seconds=120, after=True, path="createacct")
        service = provisioned_service_create(
            client_ref="c-worker-kill", group=group, package="starter", domain="kill.example"
        )
        job = service.jobs.get()

        wait_for(lambda: service.username in whm.accounts)
        assert job_state(job) == ProvisioningJob.State.RUNNING and job.attempts == 1
        celery_worker_process.kill()
        assert job_state(job) == ProvisioningJob.State.RUNNING  # nobody will finish it

        celery_worker_process.start()
        # Time passes: the dead worker's lease runs out and the relay hands the job on.
        ProvisioningJob.objects.filter(pk=job.pk).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
        assert provisioning_jobs_requeue_stale() == 1
        wait_for(lambda: job_state(job) == ProvisioningJob.State.SUCCEEDED)

        assert list(whm.accounts) == [service.username]
        assert job.attempts == 2 and "reused" in job.log[-1]["line"]
        service.refresh_from_db()
        assert service.status == ProvisionedService.Status.ACTIVE
        assert service.remote_id == service.username
    finally:
        ProvisionedService.objects.filter(group=group).delete()
        group.servers.all().delete()
        group.delete()
