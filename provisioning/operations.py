"""What the provider's operations pages read and do in provisioning: jobs that need a
person (failed, failing again and again, or stuck), servers and how full they are, and a
job cancelled by the provider's staff.

A cancelled job is a failed one that staff have decided about: it leaves the queue, and
the cancellation is kept in the job's ``params`` and log (no secret goes there)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from provisioning.models import ProvisionedService, ProvisioningJob, Server
from provisioning.selectors import OCCUPYING
from provisioning.services import (
    ProvisioningError,
    provisioning_job_finished_announce,
    provisioning_job_log,
)

State = ProvisioningJob.State

# A server this full is reported on the dashboard.
NEAR_CAPACITY = 0.8


def _not_cancelled() -> Q:
    return ~Q(params__has_key="cancelled")


def provisioning_jobs_needing_attention(*, now: datetime | None = None) -> QuerySet:
    """Failed jobs nobody has decided about, jobs whose attempts keep failing, and jobs no
    worker is looking after."""
    now = now or timezone.now()
    overdue = now - timedelta(seconds=settings.PROVISIONING_QUEUED_GRACE_S)
    return (
        ProvisioningJob.objects.filter(
            Q(state=State.FAILED)
            | Q(state=State.QUEUED, attempts__gt=0)
            | Q(state=State.QUEUED, next_attempt_at__lt=overdue)
            | Q(state=State.RUNNING, lease_expires_at__lt=now)
        )
        .filter(_not_cancelled())
        .select_related("service__server")
        .order_by("created_at")
    )


def provisioning_failed_job_count() -> int:
    return ProvisioningJob.objects.filter(state=State.FAILED).filter(_not_cancelled()).count()


@dataclass(frozen=True)
class ServerLoad:
    server: Server
    accounts: int

    @property
    def share(self) -> float | None:
        """How full the server is, 0..1; None for a server without a limit."""
        if not self.server.capacity:
            return None
        return self.accounts / self.server.capacity

    @property
    def near_capacity(self) -> bool:
        return self.share is not None and self.share >= NEAR_CAPACITY


def servers_load() -> list[ServerLoad]:
    rows = (
        Server.objects.select_related("group")
        .annotate(accounts=Count("services", filter=Q(services__status__in=OCCUPYING)))
        .order_by("group__name", "position", "name")
    )
    return [ServerLoad(server=row, accounts=row.accounts) for row in rows]


def servers_near_capacity() -> list[ServerLoad]:
    return [load for load in servers_load() if load.server.is_active and load.near_capacity]


def provisioning_job_cancel(*, job: ProvisioningJob, reason: str, cancelled_by: str) -> bool:
    """Stops a job for good. One still running or queued fails now, and the resale side is
    told as for any failed job (a create is refunded there, once). One that had already
    failed is only taken off the queue. Returns whether the job was stopped by this call."""
    reason = reason.strip()
    if not reason:
        raise ProvisioningError("Say why the job is cancelled.")
    with transaction.atomic():
        current = ProvisioningJob.objects.select_for_update().get(pk=job.pk)
        if current.state == State.SUCCEEDED:
            raise ProvisioningError("The job already succeeded.")
        if "cancelled" in (current.params or {}):
            raise ProvisioningError("The job was already cancelled.")
        leased = current.lease_expires_at and current.lease_expires_at > timezone.now()
        if current.state == State.RUNNING and leased:
            raise ProvisioningError("The job is running right now; cancel it once it stops.")
        stopped = current.state != State.FAILED
        current.params = {
            **(current.params or {}),
            "cancelled": {
                "by": cancelled_by,
                "reason": reason,
                "at": timezone.now().isoformat(timespec="seconds"),
            },
        }
        provisioning_job_log(job=current, line=f"cancelled by {cancelled_by}: {reason}")
        if stopped:
            current.state = State.FAILED
            current.finished_at = timezone.now()
            current.next_attempt_at = current.lease_expires_at = None
            current.error = f"Cancelled by the provider: {reason}"
            current.panel_message = ""
        current.save()
        if stopped:
            service = ProvisionedService.objects.select_for_update().get(pk=current.service_id)
            service.last_job = current
            if (
                current.action == ProvisioningJob.Action.CREATE
                and service.status == ProvisionedService.Status.PENDING
            ):
                service.status = ProvisionedService.Status.FAILED
            service.save()
            provisioning_job_finished_announce(job=current)
    return stopped
