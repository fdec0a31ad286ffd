from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from django.core.cache import cache
from django.db import connection
from django_tenants.utils import get_public_schema_name, schema_context

from tenants.due_work import due_work_claim
from tenants.models import Tenant
from tenants.pool import pool_fill


def active_tenant_schemas() -> list[str]:
    return list(
        Tenant.objects.exclude(schema_name=get_public_schema_name())
        .filter(status=Tenant.Status.ACTIVE)
        .order_by("schema_name")
        .values_list("schema_name", flat=True)
    )


def task_queue_in_every_tenant(task: Task, *args: Any) -> int:
    """Beat entry points: queues ``task`` once in each active tenant's schema, so tenants
    run in parallel and one failing tenant stops no other. Returns how many."""
    schemas = active_tenant_schemas()
    for schema_name in schemas:
        with schema_context(schema_name):
            task.delay(*args)
    return len(schemas)


def task_queue_for_due_tenants(task: Task, *args: Any, kind: str, lease: timedelta) -> list[str]:
    """Beat entry points of periodic per-tenant work: queues ``task`` in the schema of
    each tenant with work of ``kind`` due (``tenants.due_work``), and in no other. The
    task settles the tenant's row when done; until then, or for ``lease`` if it never
    does, the tenant is not queued again. Returns the schemas queued."""
    schemas = due_work_claim(kind=kind, lease=lease)
    for schema_name in schemas:
        with schema_context(schema_name):
            task.delay(*args)
    return schemas


@shared_task
def schema_probe(cache_key: str | None = None) -> dict:
    """Reports the schema a task runs in (and what the cache holds there): lets an
    operator check that workers receive the tenant along with each task."""
    return {
        "schema": connection.schema_name,
        "cached": cache.get(cache_key) if cache_key else None,
    }


@shared_task(acks_late=True)
def tenant_pool_refill_task() -> int:
    """Tops the pool of pre-cloned tenant schemas up (after a take, a deploy, and by
    beat in case a refill was lost)."""
    return pool_fill()
