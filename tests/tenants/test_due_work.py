"""Idle tenants cost nothing: the periodic sweeps read ``tenants.due_work`` with one query
and queue work only for the tenants it names; a mark is written with the row that needs
the work, settled when the work is done, and never lost with a worker."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from config.celery import app
from resale import outbox
from resale.models import UpstreamCommand
from resale.tasks import upstream_commands_relay_all_tenants, upstream_commands_relay_task
from tenants.due_work import Kind, due_work_claim, due_work_mark, due_work_settle
from tenants.models import FanOutRun, TenantDueWork
from tests.resale.flow import order_and_pay, resale_world_build, service_status, wait_for


def _queue_length(queue: str) -> int:
    with app.connection_for_write() as conn:
        return conn.default_channel.client.llen(queue)


def _queue_purge(queue: str) -> None:
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)


@pytest.fixture
def quiet_queue():
    """Tasks queued during the test go to a queue no worker reads, to be counted."""
    previous = app.conf.task_default_queue
    queue = f"tessera-test-quiet-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = queue
    yield queue
    app.conf.task_default_queue = previous
    _queue_purge(queue)


def _command_queue(schema: str) -> None:
    with schema_context(schema), transaction.atomic():
        outbox.upstream_command_queue(
            action=UpstreamCommand.Action.SUSPEND,
            service_ref=f"svc-{uuid.uuid4().hex[:8]}",
            payload={},
        )
    connection.set_schema_to_public()


def _marks(kind: str = Kind.OUTBOX) -> dict[str, TenantDueWork]:
    return {row.tenant_id: row for row in TenantDueWork.objects.filter(kind=kind)}


def test_one_sweep_queues_the_relay_only_for_the_two_tenants_with_a_command(
    tenant_factory, quiet_queue
):
    tenants = [tenant_factory(f"Idle {n}").tenant.schema_name for n in range(10)]
    busy = tenants[3], tenants[7]
    # Only this test's tenants: others the session left marked are not its business.
    TenantDueWork.objects.exclude(tenant_id__in=tenants).delete()
    assert _marks() == {}, "a new tenant has nothing due"
    for schema in busy:
        _command_queue(schema)
    assert set(_marks()) == set(busy), "the command and its mark committed together"
    after_commands = _queue_length(quiet_queue)  # the commands' own dispatch tasks

    with CaptureQueriesContext(connection) as queries:
        queued = upstream_commands_relay_all_tenants()
    assert queued == 2
    assert _queue_length(quiet_queue) - after_commands == 2
    # One statement finds and leases them, however many tenants there are.
    assert len(queries) == 1, [q["sql"] for q in queries]

    # The next tick, with both still queued: nothing is queued twice.
    assert upstream_commands_relay_all_tenants() == 0
    assert _queue_length(quiet_queue) - after_commands == 2


def test_a_mark_is_settled_at_the_next_commands_time_or_removed(tenant_factory, quiet_queue):
    schema = tenant_factory().tenant.schema_name
    _command_queue(schema)
    later = timezone.now() + timedelta(hours=1)
    with schema_context(schema):
        UpstreamCommand.objects.update(state=UpstreamCommand.State.SENT, next_attempt_at=later)
        # The relay task as a worker runs it (no upstream call: nothing is due yet).
        upstream_commands_relay_task.run()
    mark = _marks()[schema]
    assert mark.due_at == later and mark.leased_until is None
    with schema_context(schema):
        UpstreamCommand.objects.update(state=UpstreamCommand.State.DONE)
        upstream_commands_relay_task.run()
    assert schema not in _marks(), "nothing open: the tenant drops out of the sweeps"


def test_a_command_committed_while_the_relay_settles_keeps_its_mark(tenant_factory, quiet_queue):
    """The relay finds nothing left and removes the mark while a request is committing a
    command: the request's mark waits for the settling and lands after it."""
    schema = tenant_factory().tenant.schema_name
    _command_queue(schema)
    with schema_context(schema):
        UpstreamCommand.objects.update(state=UpstreamCommand.State.DONE)
    connection.set_schema_to_public()
    request_pid: list[int] = []
    request = threading.Thread(target=_request_queueing_a_command, args=(schema, request_pid))

    def next_due_while_a_request_commits():
        request.start()
        # The request has written its command and waits for the mark's row lock.
        wait_for(lambda: request_pid and _waiting_for_a_lock(request_pid[0]), what="the request")
        # Its command is not committed: the relay sees nothing left.
        return outbox.upstream_commands_next_due()

    with schema_context(schema):
        assert due_work_settle(kind=Kind.OUTBOX, next_due=next_due_while_a_request_commits) is None
    connection.set_schema_to_public()
    request.join()
    assert schema in _marks(), "the command's mark survived"
    with schema_context(schema):
        assert UpstreamCommand.objects.filter(state=UpstreamCommand.State.PENDING).count() == 1
    connection.set_schema_to_public()


def _request_queueing_a_command(schema: str, pid: list[int]) -> None:
    try:
        with schema_context(schema), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pid.append(cursor.fetchone()[0])
            outbox.upstream_command_queue(
                action=UpstreamCommand.Action.SUSPEND, service_ref="svc-late", payload={}
            )
    finally:
        connection.close()


def _waiting_for_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted)", [pid]
        )
        return cursor.fetchone()[0]


@pytest.mark.worker
def test_a_command_whose_worker_was_killed_is_sent_by_a_later_sweep(
    tenant_factory, celery_worker_factory
):
    worker = celery_worker_factory()
    queue = app.conf.task_default_queue
    worker.kill()
    world = resale_world_build(tenant_factory())
    service = order_and_pay(world, key=f"o-{uuid.uuid4().hex[:8]}")
    with schema_context(world.schema):
        command = UpstreamCommand.objects.get(service_ref=service.public_id)
    connection.set_schema_to_public()
    assert command.state == UpstreamCommand.State.PENDING
    assert world.schema in _marks()
    # The dispatch task went down with the killed worker.
    _queue_purge(queue)

    assert world.schema in due_work_claim(kind=Kind.OUTBOX, lease=timedelta(minutes=5))
    # The relay queued for it is lost the same way; while its lease runs, the tenant is
    # not queued again.
    assert world.schema not in due_work_claim(kind=Kind.OUTBOX, lease=timedelta(minutes=5))
    # The lease runs out.
    TenantDueWork.objects.filter(tenant_id=world.schema, kind=Kind.OUTBOX).update(
        leased_until=timezone.now() - timedelta(seconds=1)
    )
    worker.start()
    assert upstream_commands_relay_all_tenants() >= 1

    def sent() -> bool:
        with schema_context(world.schema):
            return UpstreamCommand.objects.get(pk=command.pk).state != "pending"

    wait_for(sent, what="the relay to send the command")
    with schema_context(world.schema):
        command.refresh_from_db()
    connection.set_schema_to_public()
    assert command.attempts == 1, "sent once"

    def settled() -> bool:
        mark = _marks().get(world.schema)
        return mark is None or (mark.due_at > command.created_at and mark.leased_until is None)

    # The relay task settles the mark after sending: at the sent command's check, or gone.
    wait_for(settled, what="the relay to settle the tenant's mark")


@pytest.mark.worker
def test_the_daily_billing_run_visits_only_tenants_with_something_to_bill(
    tenant_factory, celery_worker_process
):
    idle = [tenant_factory(f"Idle {n}").tenant.schema_name for n in range(3)]
    world = resale_world_build(tenant_factory())
    service = order_and_pay(world, key=f"o-{uuid.uuid4().hex[:8]}")
    # The worker activates the service, a save that marks the tenant due now: done before
    # the run, so no mark lands after the run has settled.
    wait_for(lambda: service_status(world, service) == "active", what="the service's activation")
    TenantDueWork.objects.exclude(tenant_id__in=[*idle, world.schema]).delete()
    assert set(_marks(Kind.BILLING_RUN)) == {world.schema}, "the live service marked it"

    from billing.tasks import billing_run_all_tenants

    started = billing_run_all_tenants()
    assert started["tenants"] == 1 and started["lanes"] == 1

    def finished() -> FanOutRun | None:
        return FanOutRun.objects.filter(pk=started["fan_out"], finished_at__isnull=False).first()

    run = wait_for(finished, what="the fan-out to finish")
    assert (run.total, run.done, run.failed) == (1, 1, 0)
    mark = _marks(Kind.BILLING_RUN)[world.schema]
    assert mark.due_at > timezone.now() and mark.leased_until is None, "tomorrow again"


@pytest.mark.worker
def test_a_tenant_whose_billing_run_fails_is_named_and_the_lane_goes_on(
    tenant_factory, celery_worker_process, settings
):
    settings.BILLING_RUN_CONCURRENCY = 1
    broken, sound = (tenant_factory(f"Lane {n}").tenant.schema_name for n in range(2))
    TenantDueWork.objects.exclude(tenant_id__in=[broken, sound]).delete()
    for schema in (broken, sound):
        due_work_mark(kind=Kind.BILLING_RUN, schema_name=schema)
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE "{broken}".billing_service RENAME TO billing_service_gone')

    from billing.tasks import billing_run_all_tenants

    started = billing_run_all_tenants()
    assert started["tenants"] == 2 and started["lanes"] == 1, "one lane, one tenant at a time"

    def finished() -> FanOutRun | None:
        return FanOutRun.objects.filter(pk=started["fan_out"], finished_at__isnull=False).first()

    run = wait_for(finished, what="the fan-out to finish")
    assert (run.total, run.done, run.failed, run.failed_schemas) == (2, 1, 1, [broken])
    marks = _marks(Kind.BILLING_RUN)
    assert sound not in marks, "nothing to bill: settled away"
    assert marks[broken].leased_until is None, "released for the next run"
    assert marks[broken].due_at <= timezone.now()
