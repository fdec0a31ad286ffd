"""Jobs against a local WHM: success, transient failures with backoff, permanent failures,
lost replies, leases, ordering and fencing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from provisioning.models import ProvisionedService, ProvisioningJob, ServerGroup
from provisioning.services import (
    ProvisioningError,
    _job_claim,
    _job_succeed,
    provisioned_service_action,
    provisioned_service_create,
    provisioned_service_sso_url,
    provisioning_job_enqueue,
    provisioning_job_rerun,
    provisioning_job_run,
    provisioning_jobs_requeue_stale,
)
from sandbox.panels.whm import FakeWhm
from tests.provisioning.conftest import HANG_S
from tests.provisioning.factories import whm_group

pytestmark = pytest.mark.django_db

State = ProvisioningJob.State
Status = ProvisionedService.Status


def new_service(group: ServerGroup, package: str = "starter", **kwargs) -> ProvisionedService:
    return provisioned_service_create(
        client_ref=kwargs.pop("client_ref", "c-0001"),
        group=group,
        package=package,
        domain=kwargs.pop("domain", f"site-{ProvisionedService.objects.count()}.example"),
        **kwargs,
    )


def create_job(service: ProvisionedService) -> ProvisioningJob:
    return service.jobs.get(action=ProvisioningJob.Action.CREATE)


def make_due(job: ProvisioningJob) -> None:
    ProvisioningJob.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())


def run(job: ProvisioningJob) -> ProvisioningJob:
    provisioning_job_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def everything_said(job: ProvisioningJob) -> str:
    return json.dumps(job.log) + job.error + job.panel_message


def test_create_succeeds(whm: FakeWhm) -> None:
    service = new_service(whm_group(whm))
    job = run(create_job(service))
    service.refresh_from_db()
    assert job.state == State.SUCCEEDED and job.attempts == 1 and job.finished_at
    assert service.status == Status.ACTIVE and service.remote_id == service.username
    assert service.server.name.endswith("-1") and service.last_job == job
    assert list(whm.accounts) == [service.username]
    assert whm.accounts[service.username]["domain"] == service.domain
    assert service.password not in everything_said(job) and whm.token not in everything_said(job)
    assert [entry["line"].split(":")[0] for entry in job.log] == [
        "queued",
        "attempt 1",
        "succeeded",
    ]


def test_secrets_are_encrypted_at_rest(whm: FakeWhm) -> None:
    service = new_service(whm_group(whm))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret_encrypted FROM provisioning_server WHERE id = %s",
            [service.group.servers.get().pk],
        )
        stored_secret = cursor.fetchone()[0]
        cursor.execute(
            "SELECT password_encrypted FROM provisioning_provisionedservice WHERE id = %s",
            [service.pk],
        )
        stored_password = cursor.fetchone()[0]
    assert whm.token not in stored_secret and stored_secret.startswith("gAAAA")
    assert service.password not in stored_password
    assert service.group.servers.get().connection().secret == whm.token


def test_client_ref_must_be_pseudonymous(whm: FakeWhm) -> None:
    with pytest.raises(ProvisioningError, match="pseudonymous"):
        new_service(whm_group(whm), client_ref="jane.doe@example.com")


def test_http_500_is_retried_with_backoff(whm: FakeWhm) -> None:
    service = new_service(whm_group(whm))
    whm.fail_next(1, status=500)
    before = timezone.now()
    job = run(create_job(service))
    assert job.state == State.QUEUED and job.attempts == 1
    assert job.next_attempt_at > before + timedelta(seconds=10)
    assert "HTTP 500" in job.error and "500" in job.panel_message
    assert run(job).attempts == 1  # not due yet: nothing happens
    make_due(job)
    job = run(job)
    assert job.state == State.SUCCEEDED and job.attempts == 2
    assert list(whm.accounts) == [service.username]


def test_gives_up_after_max_attempts(whm: FakeWhm) -> None:
    service = new_service(whm_group(whm))
    job = create_job(service)
    ProvisioningJob.objects.filter(pk=job.pk).update(max_attempts=2)
    whm.fail_next(10, status=503)
    job = run(job)
    make_due(job)
    job = run(job)
    service.refresh_from_db()
    assert job.state == State.FAILED and job.attempts == 2
    assert job.error.startswith("Gave up after 2 attempts")
    assert service.status == Status.FAILED


def test_permanent_error_fails_at_once(whm: FakeWhm) -> None:
    service = new_service(whm_group(whm), package="platinum")
    job = run(create_job(service))
    service.refresh_from_db()
    assert job.state == State.FAILED and job.attempts == 1
    assert "does not exist" in job.panel_message
    assert service.status == Status.FAILED and whm.accounts == {}


def test_lost_reply_then_retry_makes_one_account(whm: FakeWhm) -> None:
    service = new_service(whm_group(whm))
    whm.hang_next(1, seconds=HANG_S, after=True, path="createacct")
    job = run(create_job(service))
    assert job.state == State.QUEUED and "did not answer" in job.error
    assert service.username in whm.accounts
    make_due(job)
    job = run(job)
    assert job.state == State.SUCCEEDED
    assert "reused" in job.log[-1]["line"]
    assert list(whm.accounts) == [service.username]


def test_running_job_is_left_alone_until_its_lease_runs_out(whm: FakeWhm) -> None:
    service = new_service(whm_group(whm))
    job, claimed = _job_claim(create_job(service).pk)
    assert claimed and job.state == State.RUNNING
    # A second delivery of the task while the first worker holds the lease.
    assert run(job).attempts == 1 and job.state == State.RUNNING
    assert provisioning_jobs_requeue_stale() == 0
    ProvisioningJob.objects.filter(pk=job.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert provisioning_jobs_requeue_stale() == 1
    job = run(job)
    assert job.state == State.SUCCEEDED and job.attempts == 2
    assert any("lease ran out" in entry["line"] for entry in job.log)


def test_an_attempt_that_lost_its_lease_records_nothing(whm: FakeWhm) -> None:
    service = new_service(whm_group(whm))
    stale_attempt, _ = _job_claim(create_job(service).pk)
    ProvisioningJob.objects.filter(pk=stale_attempt.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    provisioning_jobs_requeue_stale()
    job = run(stale_attempt)  # the second attempt runs and succeeds
    late = _job_succeed(stale_attempt, {"remote_id": "bogus"}, "late", [])
    service.refresh_from_db()
    assert late.attempts == job.attempts == 2
    assert service.remote_id == service.username


def test_queued_job_nobody_took_is_requeued(whm: FakeWhm) -> None:
    service = new_service(whm_group(whm))
    job = create_job(service)
    assert provisioning_jobs_requeue_stale() == 0
    later = timezone.now() + timedelta(minutes=10)
    assert provisioning_jobs_requeue_stale(now=later) == 1
    job.refresh_from_db()
    assert job.state == State.QUEUED and "no worker took it" in job.log[-1]["line"]


def test_actions_on_one_account_run_in_order(whm: FakeWhm) -> None:
    service = new_service(whm_group(whm))
    create = create_job(service)
    suspend = provisioned_service_action(service=service, action="suspend", reason="overdue")
    suspend = run(suspend)
    assert suspend.state == State.QUEUED and suspend.attempts == 0  # waits for the create
    assert run(create).state == State.SUCCEEDED
    make_due(suspend)
    assert run(suspend).state == State.SUCCEEDED
    service.refresh_from_db()
    assert service.status == Status.SUSPENDED
    assert whm.accounts[service.username]["suspendreason"] == "overdue"


def test_lifecycle(whm: FakeWhm) -> None:
    service = new_service(whm_group(whm))
    run(create_job(service))
    for action, kwargs, status in [
        ("suspend", {}, Status.SUSPENDED),
        ("unsuspend", {}, Status.ACTIVE),
        ("change_package", {"package": "business"}, Status.ACTIVE),
        ("terminate", {}, Status.TERMINATED),
    ]:
        job = run(provisioned_service_action(service=service, action=action, **kwargs))
        assert job.state == State.SUCCEEDED, job.log
        service.refresh_from_db()
        assert service.status == status
    assert service.package == "business" and whm.accounts == {}
    with pytest.raises(ProvisioningError, match="terminated"):
        provisioned_service_action(service=service, action="suspend")


def test_terminate_finds_an_account_whose_create_reply_was_lost(whm: FakeWhm) -> None:
    service = new_service(whm_group(whm))
    whm.hang_next(1, seconds=HANG_S, after=True, path="createacct")
    create = run(create_job(service))
    ProvisioningJob.objects.filter(pk=create.pk).update(state=State.FAILED)
    terminate = run(provisioned_service_action(service=service, action="terminate"))
    assert terminate.state == State.SUCCEEDED and whm.accounts == {}


def test_suspend_of_an_account_never_created_fails(whm: FakeWhm) -> None:
    service = new_service(whm_group(whm), package="platinum")
    run(create_job(service))
    job = run(provisioned_service_action(service=service, action="suspend"))
    assert job.state == State.FAILED and "never created" in job.error


def test_enqueue_is_deduplicated_and_sent_after_commit(
    whm: FakeWhm, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        service = new_service(whm_group(whm))
        again = provisioning_job_enqueue(service=service, action="create")
    assert again == create_job(service)
    assert len(callbacks) == 1


def test_rerun(whm: FakeWhm) -> None:
    service = new_service(whm_group(whm), package="platinum")
    job = run(create_job(service))
    assert job.state == State.FAILED
    whm.packages["platinum"] = "10000M"
    job = provisioning_job_rerun(job=job)
    assert job.state == State.QUEUED and job.max_attempts == 1 + 8
    assert run(job).state == State.SUCCEEDED
    with pytest.raises(ProvisioningError, match="already succeeded"):
        provisioning_job_rerun(job=job)


def test_rerun_of_a_running_job_needs_force(whm: FakeWhm) -> None:
    service = new_service(whm_group(whm))
    job, _ = _job_claim(create_job(service).pk)
    with pytest.raises(ProvisioningError, match="force"):
        provisioning_job_rerun(job=job)
    job = provisioning_job_rerun(job=job, force=True)
    assert run(job).state == State.SUCCEEDED


def test_sso_url(whm: FakeWhm) -> None:
    service = new_service(whm_group(whm))
    with pytest.raises(ProvisioningError):
        provisioned_service_sso_url(service=service)
    run(create_job(service))
    service.refresh_from_db()
    url = provisioned_service_sso_url(service=service)
    assert whm.sessions[-1] in url


def test_missing_job_is_ignored() -> None:
    assert provisioning_job_run(job_id=987654321) is None
