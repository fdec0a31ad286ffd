"""Instant tenants: a few copies of the template, made ahead of time.

Cloning the template creates every table, index and sequence of a tenant (hundreds of
files for PostgreSQL, a good tenth of a second). A tenant created from the pool takes a
copy made earlier and renames it (``ALTER SCHEMA … RENAME TO``: one catalogue row), inside
the transaction that creates the tenant row. The pool is refilled in the background
(``tenants.tasks.tenant_pool_refill_task``, queued after each take and by beat).

Each copy records the template's migration state it was made at (``tenants.deploys``
keeps the template's in ``SchemaState``). Only copies at the template's current state are
taken; when a deploy migrates the template, ``pool_invalidate`` drops the older copies
and the refill makes new ones. Concurrent creations lock the copy they take with
``FOR UPDATE SKIP LOCKED``: two never take the same one, and neither waits for the other.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import connection, transaction
from django_tenants.utils import schema_exists
from psycopg import sql

from tenants.cloning import schema_clone
from tenants.models import PooledSchema, SchemaState

POOL_PREFIX = "pool_"
# pg_try_advisory_xact_lock key: one refill at a time, so concurrent refills never
# overshoot the pool's size.
POOL_LOCK_KEY = 0x7E55E2A0001


def template_state() -> str | None:
    """The migration state the template is at, as the last deploy recorded it."""
    return (
        SchemaState.objects.filter(schema_name=settings.TENANT_BASE_SCHEMA)
        .values_list("migration_state", flat=True)
        .first()
    )


def pool_take(*, schema_name: str) -> str | None:
    """Renames a pooled copy of the current template to ``schema_name``, in the caller's
    transaction, and returns the migration state it is at; None when the pool has none."""
    state = template_state()
    if state is None:
        return None
    with transaction.atomic():
        pooled = (
            PooledSchema.objects.select_for_update(skip_locked=True)
            .filter(migration_state=state)
            .order_by("id")
            .first()
        )
        if pooled is None:
            return None
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(
                    sql.Identifier(pooled.schema_name), sql.Identifier(schema_name)
                )
            )
        pooled.delete()
    if settings.TENANT_POOL_SIZE:
        transaction.on_commit(_refill_later)
    return state


def _refill_later() -> None:
    # The task module imports this one (its task calls pool_fill).
    from tenants.tasks import tenant_pool_refill_task

    tenant_pool_refill_task.delay()


def pool_fill(*, size: int | None = None) -> int:
    """Clones the template until the pool holds ``size`` good copies; returns how many it
    made. A refill already at work elsewhere makes this one return at once."""
    size = settings.TENANT_POOL_SIZE if size is None else size
    made = 0
    while True:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [POOL_LOCK_KEY])
                if not cursor.fetchone()[0]:
                    return made
            state = template_state()
            if state is None or not schema_exists(settings.TENANT_BASE_SCHEMA):
                return made
            if PooledSchema.objects.filter(migration_state=state).count() >= size:
                return made
            schema_name = f"{POOL_PREFIX}{uuid.uuid4().hex[:20]}"
            schema_clone(template=settings.TENANT_BASE_SCHEMA, schema_name=schema_name)
            PooledSchema.objects.create(schema_name=schema_name, migration_state=state)
            made += 1


def pool_invalidate(*, state: str, refill: bool = True) -> int:
    """Drops the copies not made at ``state`` (the template's new one) and asks for a
    refill; returns how many went. A copy being taken right now is left to its taker.
    ``state=""`` empties the pool."""
    dropped = 0
    for pk in PooledSchema.objects.exclude(migration_state=state).values_list("pk", flat=True):
        with transaction.atomic():
            pooled = PooledSchema.objects.select_for_update(skip_locked=True).filter(pk=pk).first()
            if pooled is None:
                continue
            with connection.cursor() as cursor:
                cursor.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                        sql.Identifier(pooled.schema_name)
                    )
                )
            pooled.delete()
            dropped += 1
    if refill and settings.TENANT_POOL_SIZE:
        transaction.on_commit(_refill_later)
    return dropped
