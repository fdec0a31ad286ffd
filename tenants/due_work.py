"""Which tenants have periodic work due: the index the sweeps read instead of visiting
every tenant.

- ``due_work_mark`` is called by the code that writes a tenant's row needing periodic
  work (an upstream command, a service to bill), in the same transaction: the row and
  the mark commit together or not at all. A mark only ever brings ``due_at`` earlier.
- ``due_work_claim`` is the sweep: one indexed query that leases and returns the active
  tenants whose work is due, so a tenant whose task is queued is not queued again on the
  next tick; a lease that runs out (the worker died with the task) frees the tenant for
  the next sweep, so nothing is lost.
- ``due_work_settle`` is called by the tenant's task once its work is done: under the
  row's lock it asks the tenant when its next work is due and moves the row there, or
  removes it. A mark committed meanwhile waits for the lock and lands on top, so a row
  written while the task ran is never wiped.
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


def due_work_mark(*, kind: str, at: datetime | None = None, schema_name: str | None = None) -> None:
    """Records, in the caller's transaction, that the current tenant (or ``schema_name``)
    has work of ``kind`` due from ``at`` (now by default)."""
    schema = _current_schema(schema_name)
    if schema is None:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "INSERT INTO {table} AS d (schema_name, kind, due_at) VALUES (%s, %s, %s) "
                "ON CONFLICT (schema_name, kind) DO UPDATE "
                "SET due_at = LEAST(d.due_at, EXCLUDED.due_at)"
            ).format(table=_table()),
            [schema, kind, at or timezone.now()],
        )


def due_work_mark_all(*, schema_name: str) -> None:
    """Every kind due now for one tenant: after rows arrived by a way that marks nothing
    (an import); the first sweep of each kind settles what is really due."""
    for kind in Kind.values:
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
        return sorted(row[0] for row in cursor.fetchall())


def due_work_settle(*, kind: str, next_due: Callable[[], datetime | None]) -> datetime | None:
    """After the current tenant's work of ``kind`` is done: the row moves to
    ``next_due()`` (asked under the row's lock, so it sees every command committed before
    any mark that is still waiting), or goes when nothing is left. Returns where it went."""
    schema = _current_schema(None)
    if schema is None:
        return None
    table = _table()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT 1 FROM {} WHERE schema_name = %s AND kind = %s FOR UPDATE").format(
                table
            ),
            [schema, kind],
        )
        held = cursor.fetchone() is not None
        when = next_due()
        if held and when is None:
            cursor.execute(
                sql.SQL("DELETE FROM {} WHERE schema_name = %s AND kind = %s").format(table),
                [schema, kind],
            )
        elif held:
            cursor.execute(
                sql.SQL(
                    "UPDATE {} SET due_at = %s, leased_until = NULL "
                    "WHERE schema_name = %s AND kind = %s"
                ).format(table),
                [when, schema, kind],
            )
        elif when is not None:
            # No row was there to lock: one a mark is inserting right now must keep its
            # own time if that is earlier.
            due_work_mark(kind=kind, at=when)
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
