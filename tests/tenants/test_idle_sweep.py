"""Idle cost ≈ 0: one sweep of every periodic task in the beat schedule, with no work due,
runs the same SQL whether there are a few tenants or thirty more, and queues nothing in
any tenant's schema (issue #18)."""

from __future__ import annotations

import json
import uuid

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.module_loading import import_string

from config.celery import app
from tenants.models import TenantDueWork

MORE_TENANTS = 30
# Every beat entry's own statements: a handful each, never one per tenant.
QUERY_BOUND = 5 * len(settings.CELERY_BEAT_SCHEDULE)


@pytest.fixture
def quiet_queue(settings):
    """Tasks queued during the test go to a queue no worker reads, to be looked at; no
    pool of schemas to refill, which would clone schemas of its own between sweeps."""
    settings.TENANT_POOL_SIZE = 0
    previous = app.conf.task_default_queue
    queue = f"tessera-test-quiet-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = queue
    yield queue
    app.conf.task_default_queue = previous
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)


def _queued(queue: str) -> list[tuple[str, str | None]]:
    """(task name, tenant schema) of every task waiting in ``queue``."""
    with app.connection_for_write() as conn:
        raw = conn.default_channel.client.lrange(queue, 0, -1)
    headers = [json.loads(message)["headers"] for message in raw]
    return [(h["task"], h.get("_schema_name")) for h in headers]


def _sweep(queue: str) -> tuple[list[str], list[tuple[str, str | None]]]:
    """Every beat entry once, as beat sends it and a worker runs it; returns its SQL and
    the tasks it queued."""
    before = len(_queued(queue))
    with CaptureQueriesContext(connection) as queries:
        for entry in settings.CELERY_BEAT_SCHEDULE.values():
            connection.set_schema_to_public()
            import_string(entry["task"]).apply(throw=True)
    connection.set_schema_to_public()
    return [query["sql"] for query in queries], _queued(queue)[before:]


def test_an_idle_sweep_of_every_periodic_task_does_not_grow_with_the_tenants(
    tenant_factory, quiet_queue
):
    # Work that earlier tests left due is not this test's business.
    TenantDueWork.objects.all().delete()
    # Whatever else earlier tests left behind on the provider's side, settled once.
    _sweep(quiet_queue)
    few_sql, few_tasks = _sweep(quiet_queue)

    made = [tenant_factory(f"Idle {n}").tenant.schema_name for n in range(MORE_TENANTS)]
    assert not TenantDueWork.objects.filter(tenant_id__in=made).exists(), "nothing due yet"
    more_sql, more_tasks = _sweep(quiet_queue)

    assert len(more_sql) == len(few_sql), "the same statements with thirty more tenants"
    assert len(more_sql) <= QUERY_BOUND, more_sql
    assert not [sql for sql in more_sql if any(schema in sql for schema in made)]
    assert [name for name, _ in more_tasks] == [name for name, _ in few_tasks]
    assert not [task for task in more_tasks if task[1] in made], "no task in an idle tenant"
