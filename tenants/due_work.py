"""Which tenants have periodic work due: the index the sweeps read instead of visiting
every tenant.

- ``due_work_mark`` is called by the code that writes a tenant's row needing periodic
  work (an upstream command, a service to bill), in the same transaction: the row and
  the mark commit together or not at all. A mark only ever brings ``due_at`` earlier.
- ``due_work_claim`` is the sweep: one indexed query that leases and returns the active
  tenants whose work is due, so a tenant whose task is queued is not queued again on the
  next tick; a lease that runs out (the worker died with the task) frees the tenant for
  the next sweep, so nothing is lost.
- ``due_work_settle`` is called by the tenant's task once its work is done: it waits for
  every transaction that is marking the tenant's kind to end, asks the tenant when its
  next work is due and leaves one row there, or none. A mark that starts meanwhile waits
  for the settling and lands on top, so a row written while the task ran is never wiped.

Why marks never deadlock. Several transactions of one tenant (fifty orders at once, the
results applied from upstream) mark the same rows in different orders: an order marks
``billing_run`` then ``outbox``, a result ``outbox`` then ``billing_run``. Were a mark an
upsert of the one (tenant, kind) row, each would hold that row's lock until it commits,
and two of them holding one row each and wanting the other's deadlock (``ON CONFLICT DO
UPDATE … WHERE`` does not help: PostgreSQL locks the row even when the WHERE is false).
So a mark takes no row lock at all:

- it holds a *shared* transaction-level advisory lock on (tenant, kind) until it commits.
  Shared locks never wait for each other, so markers never wait for markers; only
  ``due_work_settle`` takes the same lock *exclusively*, in a short transaction of its own
  that holds nothing a marker holds. That lock is what the row lock used to give: the
  settling waits for every marker in flight, so it sees their rows once they commit.
- then, with a snapshot taken after the lock, it inserts a row only if none of
  (tenant, kind) is already due by then or leased to a task that will settle it. Rows are
  not unique per (tenant, kind): an insert waits for no one (a unique key would make the
  second of two inserters wait for the first), and two markers that both found nothing
  leave two rows, which the sweep returns once and the settling folds into one.

The row still commits with the work or not at all: a mark is never deferred past the
commit (``transaction.on_commit`` would lose it to a crash between the two).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name
from psycopg import sql

from tenants.models import FanOutRun, Tenant, TenantDueWork

logger = logging.getLogger(__name__)

Kind = TenantDueWork.Kind


def _table() -> sql.Composed:
    # Qualified: in a tenant's transaction the search path starts with the tenant.
    return sql.SQL("{}.{}").format(
        sql.Identifier(get_public_schema_name()), sql.Identifier(TenantDueWork._meta.db_table)
    )


def _current_schema(schema_name: str | None) -> str | None:
    schema = schema_name or connection.schema_name
    return None if schema == get_public_schema_name() else schema


# The advisory lock's first key: (tenant, kind) locks of this module, apart from any
# other user of advisory locks; the second key is a hash of the tenant and the kind (a
# collision only makes two pairs wait for each other's settling).
_LOCK_SPACE = 0x7E55E2A


def _lock(cursor, *, schema: str, kind: str, shared: bool) -> None:
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    cursor.execute(
        sql.SQL("SELECT {}(%s, hashtext(%s))").format(sql.Identifier(function)),
        [_LOCK_SPACE, f"{schema}:{kind}"],
    )


def due_work_mark(*, kind: str, at: datetime | None = None, schema_name: str | None = None) -> None:
    """Records, in the caller's transaction, that the current tenant (or ``schema_name``)
    has work of ``kind`` due from ``at`` (now by default). Takes no row lock and waits
    for no other mark (see the module's notes), only for a settling in progress."""
    schema = _current_schema(schema_name)
    if schema is None:
        return
    now = timezone.now()
    at = at or now
    table = _table()
    # Outside a transaction the lock would end with its own statement; inside one, no
    # savepoint is needed (two statements, and the caller's transaction decides).
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        _lock(cursor, schema=schema, kind=kind, shared=True)
        # A statement of its own: its snapshot (READ COMMITTED, the project's level: one
        # per statement) must be taken once the lock is held, so that a settling that ran
        # meanwhile is seen.
        cursor.execute(
            sql.SQL(
                "INSERT INTO {table} (schema_name, kind, due_at) SELECT %(schema)s, %(kind)s, "
                "%(at)s WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE schema_name = %(schema)s "
                "AND kind = %(kind)s AND (due_at <= %(at)s OR leased_until > %(now)s))"
            ).format(table=table),
            {"schema": schema, "kind": kind, "at": at, "now": now},
        )


def due_work_mark_all(*, schema_name: str) -> None:
    """Every kind due now for one tenant: after rows arrived by a way that marks nothing
    (an import); the first sweep of each kind settles what is really due."""
    for kind in sorted(set(Kind.values) - {Kind.RECONCILIATION}):
        due_work_mark(kind=kind, schema_name=schema_name)


def due_work_claim(
    *, kind: str, lease: timedelta, now: datetime | None = None, limit: int = 10_000
) -> list[str]:
    """The sweep: leases the active tenants with work of ``kind`` due at ``now`` and
    returns their schema names. One statement, on the (kind, due_at) index."""
    now = now or timezone.now()
    # One statement, so atomic by itself: no transaction around it.
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "UPDATE {table} AS d SET leased_until = %(until)s FROM ("
                "  SELECT w.id FROM {table} AS w JOIN {tenants} AS t "
                "  ON t.schema_name = w.schema_name AND t.status = %(active)s "
                "  WHERE w.kind = %(kind)s AND w.due_at <= %(now)s "
                "  AND (w.leased_until IS NULL OR w.leased_until <= %(now)s) "
                "  ORDER BY w.due_at LIMIT %(limit)s FOR UPDATE OF w SKIP LOCKED"
                ") AS due WHERE d.id = due.id RETURNING d.schema_name"
            ).format(
                table=_table(),
                tenants=sql.SQL("{}.{}").format(
                    sql.Identifier(get_public_schema_name()), sql.Identifier(Tenant._meta.db_table)
                ),
            ),
            {
                "until": now + lease,
                "active": Tenant.Status.ACTIVE,
                "kind": kind,
                "now": now,
                "limit": limit,
            },
        )
        # A tenant may have two rows of one kind (two marks that found none): once.
        return sorted({row[0] for row in cursor.fetchall()})


def due_work_settle(*, kind: str, next_due: Callable[[], datetime | None]) -> datetime | None:
    """After the current tenant's work of ``kind`` is done: one row at ``next_due()``, or
    none when nothing is left. ``next_due`` is asked under the exclusive lock, once every
    transaction marking this kind has ended, so it sees all their work; marks that start
    meanwhile wait and land after. Returns where the row went."""
    schema = _current_schema(None)
    if schema is None:
        return None
    table = _table()
    with transaction.atomic(), connection.cursor() as cursor:
        _lock(cursor, schema=schema, kind=kind, shared=False)
        when = next_due()
        cursor.execute(
            sql.SQL("DELETE FROM {} WHERE schema_name = %s AND kind = %s").format(table),
            [schema, kind],
        )
        if when is not None:
            cursor.execute(
                sql.SQL("INSERT INTO {} (schema_name, kind, due_at) VALUES (%s, %s, %s)").format(
                    table
                ),
                [schema, kind, when],
            )
    return when


def due_work_release(*, kind: str, schema_name: str) -> None:
    """Ends a lease early (the tenant's task failed): the next sweep takes it again."""
    TenantDueWork.objects.filter(tenant_id=schema_name, kind=kind).update(leased_until=None)


# --- fan-outs and their progress ------------------------------------------------------


def fan_out_start(*, kind: str, total: int) -> FanOutRun:
    return FanOutRun.objects.create(
        kind=kind, total=total, finished_at=None if total else timezone.now()
    )


def fan_out_progress(*, run_id: int, schema_name: str, ok: bool) -> FanOutRun | None:
    """One tenant of the fan-out finished (or failed): counted, and logged every tenth
    of the way so an operator can follow a run of thousands."""
    with transaction.atomic():
        run = FanOutRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            return None
        if ok:
            run.done += 1
        else:
            run.failed += 1
            run.failed_schemas = [*run.failed_schemas, schema_name]
        finished = run.done + run.failed
        if finished >= run.total and run.finished_at is None:
            run.finished_at = timezone.now()
        run.save(update_fields=["done", "failed", "failed_schemas", "finished_at"])
    step = max(1, run.total // 10)
    if finished % step == 0 or finished >= run.total:
        logger.info(
            "%s fan-out %s: %s of %s tenants done, %s failed",
            run.kind,
            run.pk,
            run.done,
            run.total,
            run.failed,
        )
    return run
