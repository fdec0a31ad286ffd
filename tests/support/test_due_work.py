"""The support desk's sweeps visit only tenants with work due: a ticket opened or answered
marks its tenant with the ticket, each sweep queues its task in the marked tenants only,
the task settles the mark, and a task lost with its worker is queued again later."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from support import services
from support.due_work import escalations_next_due, mailboxes_next_due
from support.models import Department, Escalation, Mailbox, Message, Ticket
from support.tasks import (
    escalations_sync_all_tenants,
    mailboxes_fetch_all_tenants,
    tickets_auto_close_all_tenants,
    tickets_auto_close_task,
    tickets_sla_overdue_all_tenants,
    tickets_sla_overdue_task,
)
from tenants.due_work import Kind, due_work_claim, due_work_settle
from tenants.models import TenantDueWork
from tests.resale.flow import wait_for
from tests.tenants import test_due_work as tenant_due_work

Status = Ticket.Status
_queue_length = tenant_due_work._queue_length
_queue_purge = tenant_due_work._queue_purge
# The tenants' due-work tests' fixture: tasks go to a queue no worker reads, to be counted.
quiet_queue = tenant_due_work.quiet_queue


def _desk(schema: str) -> Department:
    with schema_context(schema), transaction.atomic():
        services.sla_policy_set(priority="high", response_hours=4)
        department = services.department_save(
            name="Sales", email=f"sales@{schema}.test", allow_guests=True, auto_close_days=3
        )
    connection.set_schema_to_public()
    return department


def _ticket_open(schema: str, department: Department, priority: str = "high") -> Ticket:
    with schema_context(schema):
        ticket = services.ticket_open(
            department=department,
            subject="The site is down",
            body="Since this morning.",
            guest_email=f"guest-{uuid.uuid4().hex[:6]}@example.test",
            priority=priority,
        )
    connection.set_schema_to_public()
    return ticket


def _ticket_answer(schema: str, ticket: Ticket) -> Ticket:
    with schema_context(schema):
        services.message_add(
            ticket=ticket, body="Restarted; it works again.", author_kind=Message.AuthorKind.STAFF
        )
        ticket.refresh_from_db()
    connection.set_schema_to_public()
    return ticket


def _marks(kind: str) -> dict[str, TenantDueWork]:
    return {row.tenant_id: row for row in TenantDueWork.objects.filter(kind=kind)}


def _time_passes(schema: str, kind: str, **delta: float) -> None:
    """As if ``delta`` had passed: the tenant's tickets and its mark move back together."""
    back = timedelta(**delta)
    with schema_context(schema):
        for ticket in Ticket.objects.all():
            Ticket.objects.filter(pk=ticket.pk).update(
                sla_due_at=ticket.sla_due_at - back if ticket.sla_due_at else None,
                answered_at=ticket.answered_at - back if ticket.answered_at else None,
            )
    connection.set_schema_to_public()
    for mark in TenantDueWork.objects.filter(tenant_id=schema, kind=kind):
        TenantDueWork.objects.filter(pk=mark.pk).update(due_at=mark.due_at - back)


def test_the_sla_sweep_queues_only_the_two_tenants_with_an_answer_overdue(
    tenant_factory, quiet_queue
):
    tenants = [tenant_factory(f"Desk {n}").tenant.schema_name for n in range(6)]
    TenantDueWork.objects.exclude(tenant_id__in=tenants).delete()
    busy = tenants[2], tenants[5]
    desks = {schema: _desk(schema) for schema in busy}
    assert _marks(Kind.TICKETS_SLA) == {}, "a desk with no ticket owes nothing"
    tickets = {schema: _ticket_open(schema, desks[schema]) for schema in busy}
    marks = _marks(Kind.TICKETS_SLA)
    assert set(marks) == set(busy), "the ticket and its mark committed together"
    for schema in busy:
        assert marks[schema].due_at == tickets[schema].sla_due_at
    before = _queue_length(quiet_queue)

    assert tickets_sla_overdue_all_tenants() == 0, "nothing is overdue yet"
    for schema in busy:
        _time_passes(schema, Kind.TICKETS_SLA, hours=5)
    with CaptureQueriesContext(connection) as queries:
        assert tickets_sla_overdue_all_tenants() == 2
    assert len(queries) == 1, [q["sql"] for q in queries]
    assert _queue_length(quiet_queue) - before == 2
    assert tickets_sla_overdue_all_tenants() == 0, "queued once while the lease runs"
    assert _queue_length(quiet_queue) - before == 2

    # The task as a worker runs it: the answer is reported overdue and the mark goes.
    schema = busy[0]
    with schema_context(schema):
        assert tickets_sla_overdue_task.run() == 1
        assert Ticket.objects.get().sla_breached_at is not None
    connection.set_schema_to_public()
    assert schema not in _marks(Kind.TICKETS_SLA), "nothing owed: out of the sweeps"


def test_an_answered_ticket_is_due_to_close_after_the_departments_days(tenant_factory, quiet_queue):
    tenants = [tenant_factory(f"Quiet {n}").tenant.schema_name for n in range(5)]
    TenantDueWork.objects.exclude(tenant_id__in=tenants).delete()
    busy = tenants[1], tenants[4]
    for schema in tenants:
        _desk(schema)
    # Saving a department that closes tickets marks it once; its first sweep settles it.
    assert set(_marks(Kind.TICKETS_CLOSE)) == set(tenants)
    for schema in tenants:
        with schema_context(schema):
            tickets_auto_close_task.run()
    connection.set_schema_to_public()
    assert _marks(Kind.TICKETS_CLOSE) == {}, "no answered ticket: nothing to close"

    answered = {}
    for schema in busy:
        department = _desk_department(schema)
        answered[schema] = _ticket_answer(schema, _ticket_open(schema, department))
    marks = _marks(Kind.TICKETS_CLOSE)
    assert set(marks) == set(busy)
    for schema in busy:
        assert marks[schema].due_at == answered[schema].answered_at + timedelta(days=3)
    assert tickets_auto_close_all_tenants() == 0, "not quiet long enough yet"

    for schema in busy:
        _time_passes(schema, Kind.TICKETS_CLOSE, days=3, seconds=1)
    before = _queue_length(quiet_queue)
    assert tickets_auto_close_all_tenants() == 2
    assert _queue_length(quiet_queue) - before == 2

    schema = busy[1]
    with schema_context(schema):
        # A second answered ticket, quiet for a day: the mark moves to its time.
        second = _ticket_answer(schema, _ticket_open(schema, _desk_department(schema)))
    connection.set_schema_to_public()
    _time_passes(schema, Kind.TICKETS_CLOSE, days=1)
    with schema_context(schema):
        assert tickets_auto_close_task.run() == 1
        second.refresh_from_db()
        assert second.status == Status.ANSWERED
    connection.set_schema_to_public()
    mark = _marks(Kind.TICKETS_CLOSE)[schema]
    assert mark.due_at == second.answered_at + timedelta(days=3)
    assert mark.leased_until is None


def _desk_department(schema: str) -> Department:
    with schema_context(schema):
        department = Department.objects.get(name="Sales")
    connection.set_schema_to_public()
    return department


def test_a_priority_raised_brings_the_mark_earlier(tenant_factory, quiet_queue):
    schema = tenant_factory().tenant.schema_name
    with schema_context(schema):
        services.sla_policy_set(priority="medium", response_hours=24)
    department = _desk(schema)
    ticket = _ticket_open(schema, department, priority="medium")
    assert _marks(Kind.TICKETS_SLA)[schema].due_at == ticket.sla_due_at
    with schema_context(schema):
        ticket = services.ticket_priority_set(ticket=ticket, priority="high")
    connection.set_schema_to_public()
    assert _marks(Kind.TICKETS_SLA)[schema].due_at == ticket.sla_due_at
    assert ticket.sla_due_at < ticket.created_at + timedelta(hours=5)


def test_idle_desks_cost_no_task_in_any_support_sweep(tenant_factory, quiet_queue):
    tenants = [tenant_factory(f"Idle {n}").tenant.schema_name for n in range(3)]
    TenantDueWork.objects.exclude(tenant_id__in=tenants).delete()
    for schema in tenants:
        _desk(schema)
    TenantDueWork.objects.all().delete()
    before = _queue_length(quiet_queue)
    assert tickets_auto_close_all_tenants() == 0
    assert tickets_sla_overdue_all_tenants() == 0
    assert mailboxes_fetch_all_tenants() == 0
    assert escalations_sync_all_tenants() == 0
    assert _queue_length(quiet_queue) == before


@pytest.mark.worker
def test_an_overdue_answer_whose_worker_was_killed_is_reported_by_a_later_sweep(
    tenant_factory, celery_worker_factory
):
    worker = celery_worker_factory()
    queue = worker_queue = _default_queue()
    schema = tenant_factory().tenant.schema_name
    department = _desk(schema)
    ticket = _ticket_open(schema, department)
    _time_passes(schema, Kind.TICKETS_SLA, hours=5)
    worker.kill()
    _queue_purge(queue)  # the ticket's e-mails: not this test's business

    assert tickets_sla_overdue_all_tenants() >= 1
    # The task goes down with the worker, before any of it ran.
    _queue_purge(worker_queue)
    assert schema not in due_work_claim(kind=Kind.TICKETS_SLA, lease=timedelta(minutes=5))
    # Its lease runs out.
    TenantDueWork.objects.filter(tenant_id=schema, kind=Kind.TICKETS_SLA).update(
        leased_until=timezone.now() - timedelta(seconds=1)
    )
    worker.start()
    assert tickets_sla_overdue_all_tenants() >= 1

    def reported() -> bool:
        with schema_context(schema):
            return Ticket.objects.get(pk=ticket.pk).sla_breached_at is not None

    wait_for(reported, what="the sweep to report the overdue answer")
    wait_for(
        lambda: schema not in _marks(Kind.TICKETS_SLA), what="the task to settle the mark away"
    )


def _default_queue() -> str:
    from config.celery import app

    return app.conf.task_default_queue


def test_a_mailbox_and_an_escalation_keep_their_tenant_due_while_live(tenant_factory):
    schema = tenant_factory().tenant.schema_name
    department = _desk(schema)
    ticket = _ticket_open(schema, department)
    with schema_context(schema):
        mailbox = Mailbox.objects.create(
            department=department, host="imap.example.test", username="sales"
        )
        escalation = Escalation.objects.create(ticket=ticket, service_ref="svc-1")
    connection.set_schema_to_public()
    assert schema in _marks(Kind.MAILBOXES) and schema in _marks(Kind.ESCALATIONS)

    with schema_context(schema):
        # Live: the next round comes a little under a beat minute later.
        assert due_work_settle(kind=Kind.MAILBOXES, next_due=mailboxes_next_due) is not None
        escalation.upstream_ref = "esc-1"
        escalation.status = Escalation.Status.OPEN
        escalation.save()
        assert due_work_settle(kind=Kind.ESCALATIONS, next_due=escalations_next_due) is not None
    connection.set_schema_to_public()
    assert _marks(Kind.MAILBOXES)[schema].due_at > timezone.now()
    assert _marks(Kind.ESCALATIONS)[schema].due_at > timezone.now()

    with schema_context(schema):
        mailbox.is_active = False
        mailbox.save()
        escalation.status = Escalation.Status.CLOSED
        escalation.save()
        assert due_work_settle(kind=Kind.MAILBOXES, next_due=mailboxes_next_due) is None
        assert due_work_settle(kind=Kind.ESCALATIONS, next_due=escalations_next_due) is None
    connection.set_schema_to_public()
    assert schema not in _marks(Kind.MAILBOXES), "a mailbox switched off is not read"
    assert schema not in _marks(Kind.ESCALATIONS), "a closed thread is not asked about"
