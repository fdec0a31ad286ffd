"""Celery tasks of provisioning. Thin: run the job's attempt, and when the job says
another attempt is due later (a transient panel error, with backoff), retry then.
Provisioning lives in the public schema; tasks are queued from there."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from provisioning.models import ProvisioningJob
from provisioning.modules.base import TransientModuleError
from provisioning.services import provisioning_job_run, provisioning_jobs_requeue_stale


@shared_task(bind=True, acks_late=True, max_retries=None)
def provisioning_job_run_task(self, job_id: int) -> str | None:
    with schema_context(get_public_schema_name()):
        job = provisioning_job_run(job_id=job_id)
    if job is None:
        return None
    if job.state == ProvisioningJob.State.QUEUED and job.next_attempt_at:
        # The job counts its attempts and gives up by itself: Celery only keeps time.
        countdown = max(1.0, (job.next_attempt_at - timezone.now()).total_seconds())
        raise self.retry(countdown=countdown, exc=TransientModuleError(job.error or "retry"))
    return job.state


@shared_task
def provisioning_jobs_requeue_stale_task() -> int:
    """Beat entry point for the relay; add it to CELERY_BEAT_SCHEDULE every minute."""
    with schema_context(get_public_schema_name()):
        return provisioning_jobs_requeue_stale()
