"""The job task: a transient failure becomes a Celery retry at the job's next attempt time."""

from __future__ import annotations

import pytest
from celery.exceptions import Retry

from provisioning.models import ProvisioningJob
from provisioning.services import provisioned_service_create
from provisioning.tasks import provisioning_job_run_task, provisioning_jobs_requeue_stale_task
from sandbox.panels.whm import FakeWhm
from tests.provisioning.factories import whm_group

pytestmark = pytest.mark.django_db


def test_transient_failure_is_retried_at_the_jobs_next_attempt(
    whm: FakeWhm, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = provisioned_service_create(
        client_ref="c-1", group=whm_group(whm), package="starter", domain="t.example"
    )
    job = service.jobs.get()
    asked: dict = {}

    def retry(countdown, exc):
        asked.update(countdown=countdown, exc=exc)
        return Retry(exc=exc, when=countdown)

    monkeypatch.setattr(provisioning_job_run_task, "retry", retry)
    whm.fail_next(1, status=502)
    with pytest.raises(Retry):
        provisioning_job_run_task.run(job.pk)
    job.refresh_from_db()
    assert job.state == ProvisioningJob.State.QUEUED
    assert 10 <= asked["countdown"] <= 20 and "HTTP 502" in str(asked["exc"])

    ProvisioningJob.objects.filter(pk=job.pk).update(next_attempt_at=None)
    assert provisioning_job_run_task.run(job.pk) == "succeeded"
    assert provisioning_job_run_task.run(job.pk) == "succeeded"  # a duplicate delivery
    assert provisioning_job_run_task.run(123456789) is None
    assert provisioning_jobs_requeue_stale_task.run() == 0
