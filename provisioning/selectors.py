"""Reads of the provisioning app."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Q, QuerySet

from provisioning.models import (
    PlanMapping,
    ProvisionedService,
    ProvisioningJob,
    Server,
    ServerGroup,
)

# Accounts that occupy room on a server.
OCCUPYING = (
    ProvisionedService.Status.PENDING,
    ProvisionedService.Status.ACTIVE,
    ProvisionedService.Status.SUSPENDED,
)


def servers_with_load(*, group: ServerGroup) -> QuerySet[Server]:
    """Active servers of the group, each annotated with ``accounts``: what it holds."""
    return group.servers.filter(is_active=True).annotate(
        accounts=Count("services", filter=Q(services__status__in=OCCUPYING))
    )


def server_for_placement(*, group: ServerGroup) -> Server | None:
    """The server a new account goes to, by the group's fill strategy, or None when full.

    Callers hold the group's row lock, so two placements never both take the last slot.
    """
    servers = servers_with_load(group=group)
    if group.fill_strategy == ServerGroup.FillStrategy.FILL_IN_ORDER:
        ordered = servers.order_by("position", "pk")
    else:
        ordered = servers.order_by("accounts", "position", "pk")
    for server in ordered:
        if server.capacity == 0 or server.accounts < server.capacity:
            return server
    return None


def plan_mapping_for(*, plan_code: str) -> PlanMapping | None:
    return (
        PlanMapping.objects.filter(plan_code=plan_code, is_active=True)
        .select_related("group")
        .first()
    )


def server_group_for_module(*, module: str) -> ServerGroup | None:
    """The fallback for a plan without a mapping: the first group running its module."""
    return ServerGroup.objects.filter(module=module).order_by("pk").first()


def provisioned_service_for_upstream(*, upstream_service_id: int) -> ProvisionedService | None:
    return (
        ProvisionedService.objects.filter(upstream_service_id=upstream_service_id)
        .select_related("server__group")
        .first()
    )


def provisioning_job_blocking(*, job: ProvisioningJob) -> ProvisioningJob | None:
    """An earlier unfinished job of the same service: actions on one account run in order."""
    return (
        ProvisioningJob.objects.filter(
            service_id=job.service_id,
            pk__lt=job.pk,
            state__in=[ProvisioningJob.State.QUEUED, ProvisioningJob.State.RUNNING],
        )
        .order_by("pk")
        .first()
    )


def provisioning_jobs_stale(*, now, queued_grace_s: float) -> QuerySet[ProvisioningJob]:
    """Jobs no worker is looking after: running past their lease (the worker died) or
    queued well past their due time (the task message was lost)."""
    overdue = now - timedelta(seconds=queued_grace_s)
    return ProvisioningJob.objects.filter(
        Q(state=ProvisioningJob.State.RUNNING, lease_expires_at__lt=now)
        | Q(state=ProvisioningJob.State.QUEUED, next_attempt_at__lt=overdue)
        | Q(
            state=ProvisioningJob.State.QUEUED,
            next_attempt_at__isnull=True,
            created_at__lt=overdue,
        )
    ).order_by("pk")
