"""Due-work marks written by concurrent transactions, each on its own connection to the
real PostgreSQL, in opposite orders: none waits for another, so none deadlocks (fifty
simultaneous orders and the results applied from upstream once did)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants.due_work import Kind, due_work_claim, due_work_mark, due_work_settle
from tenants.models import TenantDueWork

# A liveness bound only: a thread that waits for another's lock never reaches the
# barrier, and the test fails with what it found instead of hanging.
BARRIER_BOUND_S = 120
KINDS = [Kind.OUTBOX, Kind.BILLING_RUN, Kind.TICKETS_SLA, Kind.ESCALATIONS]


def _marking(schema: str, kinds: list[str], barrier: threading.Barrier, errors: list) -> None:
    """One transaction: marks its first kind, waits until every other transaction holds
    its own first mark, marks the rest, commits."""
    try:
        with schema_context(schema), transaction.atomic():
            due_work_mark(kind=kinds[0])
            barrier.wait()
            for kind in kinds[1:]:
                due_work_mark(kind=kind)
    except Exception as exc:  # reported by the test, with the thread's order
        errors.append((kinds, repr(exc)))
        barrier.abort()
    finally:
        connection.close()


def _run(schema: str, orders: list[list[str]]) -> list:
    errors: list = []
    barrier = threading.Barrier(len(orders), timeout=BARRIER_BOUND_S)
    threads = [
        threading.Thread(target=_marking, args=(schema, kinds, barrier, errors)) for kinds in orders
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def _rows(schema: str) -> list[TenantDueWork]:
    return list(TenantDueWork.objects.filter(tenant_id=schema).order_by("kind", "due_at"))


@pytest.mark.parametrize("before", ["none", "later"])
def test_two_transactions_marking_in_opposite_orders_both_commit(tenant_factory, before):
    """The deadlock's shape: one transaction marks outbox then billing run, the other
    billing run then outbox, each holding its first mark when it writes its second. With
    no row yet, or rows due later that both must bring earlier."""
    schema = tenant_factory().tenant.schema_name
    TenantDueWork.objects.filter(tenant_id=schema).delete()
    if before == "later":
        later = timezone.now() + timedelta(days=1)
        for kind in (Kind.OUTBOX, Kind.BILLING_RUN):
            TenantDueWork.objects.create(tenant_id=schema, kind=kind, due_at=later)

    errors = _run(schema, [[Kind.OUTBOX, Kind.BILLING_RUN], [Kind.BILLING_RUN, Kind.OUTBOX]])

    assert errors == []
    now = timezone.now()
    for kind in (Kind.OUTBOX, Kind.BILLING_RUN):
        assert due_work_claim(kind=kind, lease=timedelta(minutes=5), now=now) == [schema]


def test_many_transactions_in_every_order_mark_one_tenant_and_the_settling_folds_them(
    tenant_factory,
):
    schema = tenant_factory().tenant.schema_name
    TenantDueWork.objects.filter(tenant_id=schema).delete()
    orders = [KINDS[n:] + KINDS[:n] for n in range(len(KINDS))]
    orders += [list(reversed(order)) for order in orders]

    errors = _run(schema, orders)

    assert errors == []
    rows = _rows(schema)
    assert {row.kind for row in rows} == set(KINDS)
    # Each kind's tenant is queued once, however many rows its markers left.
    now = timezone.now()
    for kind in KINDS:
        assert due_work_claim(kind=kind, lease=timedelta(minutes=5), now=now) == [schema]
        assert due_work_claim(kind=kind, lease=timedelta(minutes=5), now=now) == []
    later = timezone.now() + timedelta(hours=1)
    with schema_context(schema):
        for kind in KINDS:
            assert due_work_settle(kind=kind, next_due=lambda: later) == later
    connection.set_schema_to_public()
    assert [(row.kind, row.due_at, row.leased_until) for row in _rows(schema)] == [
        (kind, later, None) for kind in sorted(KINDS)
    ], "one row a kind, at the next work's time, free for the next sweep"


def test_a_mark_waits_for_no_open_transaction_that_marked_the_same_rows(tenant_factory):
    """A request still open with its marks written: another transaction marks the same
    kinds in the other order and commits meanwhile."""
    schema = tenant_factory().tenant.schema_name
    TenantDueWork.objects.filter(tenant_id=schema).delete()
    errors: list = []
    # Two parties: the other transaction's first mark meets this one's open transaction.
    barrier = threading.Barrier(2, timeout=BARRIER_BOUND_S)
    other = threading.Thread(
        target=_marking, args=(schema, [Kind.BILLING_RUN, Kind.OUTBOX], barrier, errors)
    )
    with schema_context(schema), transaction.atomic():
        due_work_mark(kind=Kind.OUTBOX)
        due_work_mark(kind=Kind.BILLING_RUN)
        other.start()
        barrier.wait()
        # The other transaction commits while this one is still open.
        other.join()
        assert errors == []
    connection.set_schema_to_public()
    assert {row.kind for row in _rows(schema)} == {Kind.OUTBOX, Kind.BILLING_RUN}
