import logging
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from django.core.cache import cache
from django.db import connection
from django.utils.module_loading import import_string
from django_tenants.utils import get_public_schema_name, schema_context

from tenants.due_work import due_work_claim, fan_out_progress, fan_out_start
from tenants.models import FanOutRun, Tenant
from tenants.pool import pool_fill

logger = logging.getLogger(__name__)


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


def fan_out_in_lanes(
    *, step: str, kind: str, schemas: list[str], lanes: int, args: list | None = None
) -> FanOutRun:
    """A daily fan-out of ``step`` (the dotted path of a function, called with ``args`` in
    each tenant's schema) over ``schemas``: at most ``lanes`` tenants at once, each lane
    one tenant after another, so a thousand tenants never flood the workers; its progress
    is the returned ``FanOutRun`` (and the worker's log every tenth of the way). A
    constant number of tasks is queued, whatever the number of tenants."""
    run = fan_out_start(kind=kind, total=len(schemas))
    lanes = max(1, lanes)
    for lane in range(min(lanes, len(schemas))):
        fan_out_lane_task.delay(run.pk, step, schemas[lane::lanes], args or [])
    return run


@shared_task(bind=True, acks_late=True)
def fan_out_lane_task(
    self, fan_out_id: int, step: str, schemas: list[str], args: list | None = None
) -> str:
    """One lane of ``fan_out_in_lanes``: the step in the first tenant's schema, then the
    rest of the lane as a new task. A tenant that fails is counted, named and logged, and
    the lane goes on. Killed mid-way, the lane is delivered again and its first tenant's
    step runs again, so a step must be safe to repeat."""
    args = args or []
    if self.request.is_eager:
        # Run inline (tests, benchmarks): a chain of eager tasks would nest one call per
        # tenant; a loop does the same work flat.
        for schema_name in schemas:
            _fan_out_lane_step(fan_out_id, step, schema_name, args)
        return schemas[-1]
    _fan_out_lane_step(fan_out_id, step, schemas[0], args)
    if schemas[1:]:
        fan_out_lane_task.delay(fan_out_id, step, schemas[1:], args)
    return schemas[0]


def _fan_out_lane_step(fan_out_id: int, step: str, schema_name: str, args: list) -> None:
    # By its dotted path: the steps live in apps that import this module.
    function = import_string(step)
    ok = True
    try:
        with schema_context(schema_name):
            function(*args)
    except Exception:
        logger.exception("%s in %s failed", step, schema_name)
        ok = False
    fan_out_progress(run_id=fan_out_id, schema_name=schema_name, ok=ok)


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
