"""Instant tenants (tenants.pool): a new tenant takes a copy of the template made ahead of
time and renames it; a real worker refills the pool; two creations at once never take
the same copy; a migrated template invalidates the copies of the old one."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from django.test import override_settings
from django_tenants.utils import schema_context, schema_exists

from accounts.models import User
from bench.throwaway import migration_added
from tenants.deploys import code_migration_state, schema_state_set
from tenants.models import PooledSchema, Tenant
from tenants.pool import pool_fill, pool_invalidate, pool_take, template_state
from tenants.services import template_schema_migrate


def wait_for(condition: Callable[[], bool], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the worker")


@pytest.fixture
def empty_pool(live_db):
    pool_invalidate(state="", refill=False)
    yield
    pool_invalidate(state="", refill=False)


@pytest.fixture
def no_refill(empty_pool):
    """The pool as the test fills it: takes queue no refill for a worker to run."""
    with override_settings(TENANT_POOL_SIZE=0):
        yield


def test_a_new_tenant_takes_a_pooled_copy_and_the_worker_refills_the_pool(
    empty_pool, tenant_factory, celery_worker_process
):
    assert pool_fill(size=2) == 2
    pooled = set(PooledSchema.objects.values_list("schema_name", flat=True))

    created = tenant_factory()
    schema = created.tenant.schema_name

    left = set(PooledSchema.objects.values_list("schema_name", flat=True))
    assert len(pooled - left) == 1, "exactly one copy was taken"
    taken = (pooled - left).pop()
    assert not schema_exists(taken), "renamed, not copied"
    assert schema_exists(schema)
    tenant = Tenant.objects.get(schema_name=schema)
    assert tenant.migration_state == template_state() == code_migration_state()
    # The renamed copy is a working tenant schema: the owner was created in it.
    with schema_context(schema):
        assert User.objects.get(role=User.Role.OWNER).email.startswith("owner@")

    # The take queued a refill; the worker clones back up to the pool's size.
    wait_for(lambda: PooledSchema.objects.count() >= settings.TENANT_POOL_SIZE)
    # and is done with it before the test empties the pool again.
    inspector = celery_worker_process.app.control.inspect(destination=[celery_worker_process.name])
    wait_for(lambda: (inspector.active() or {}).get(celery_worker_process.name) == [])
    for name in PooledSchema.objects.values_list("schema_name", flat=True):
        assert schema_exists(name)


def test_concurrent_creations_never_take_the_same_copy(no_refill):
    assert pool_fill(size=2) == 2
    taken = threading.Event()
    release = threading.Event()
    outcome: dict[str, object] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                outcome["first"] = pool_take(schema_name="pool_test_first")
                taken.set()
                # Holds the copy it took (its row lock) while the other creation runs.
                release.wait(timeout=60)
        except Exception as exc:  # reported to the test thread
            outcome["first"] = exc
            taken.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert taken.wait(timeout=60)
        # SKIP LOCKED: the locked copy is passed over, not waited for.
        with transaction.atomic():
            second = pool_take(schema_name="pool_test_second")
    finally:
        release.set()
        thread.join()
    state = template_state()
    assert outcome["first"] == state
    assert second == state
    assert schema_exists("pool_test_first")
    assert schema_exists("pool_test_second")
    assert not PooledSchema.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA pool_test_first CASCADE")
        cursor.execute("DROP SCHEMA pool_test_second CASCADE")


def test_a_migrated_template_invalidates_the_copies_of_the_old_one(no_refill):
    assert pool_fill(size=1) == 1
    old = PooledSchema.objects.get()
    probe = ("audit", "9002_pool_probe")
    try:
        with migration_added(
            app_label=probe[0],
            name=probe[1],
            operations='migrations.RunSQL("CREATE TABLE pool_probe (id bigint)", '
            '"DROP TABLE pool_probe")',
        ):
            template_schema_migrate()
            new_state = template_state()
            assert new_state == code_migration_state() != old.migration_state
            # The copy of the old template is gone, and nothing is taken until a refill.
            assert not schema_exists(old.schema_name)
            assert not PooledSchema.objects.exists()
            assert pool_take(schema_name="pool_test_none") is None
            assert pool_fill(size=1) == 1
            fresh = PooledSchema.objects.get()
            assert fresh.migration_state == new_state
            with connection.cursor() as cursor:
                cursor.execute("SELECT to_regclass(%s)", [f"{fresh.schema_name}.pool_probe"])
                assert cursor.fetchone()[0] is not None
    finally:
        template = settings.TENANT_BASE_SCHEMA
        with connection.cursor() as cursor:
            cursor.execute(f'DROP TABLE IF EXISTS "{template}".pool_probe')
            cursor.execute(
                f'DELETE FROM "{template}".django_migrations WHERE app = %s AND name = %s',
                list(probe),
            )
        schema_state_set(schema_name=template, state=code_migration_state())
