"""Deploys that cost what changed.

django-tenants' ``migrate_schemas`` runs Django's whole ``migrate`` in every schema, even
when nothing is pending: it loads the migration graph, looks the history table up through
introspection that scans ``pg_class`` (which holds every relation of every tenant, so each
tenant costs more the more tenants there are) and compares the models with the
migrations. Here:

- the code's migration state is one digest (every migration's app and name, and which
  apps are shared and which are per tenant: ``code_migration_state``). Each tenant row
  records the digest its schema is at, written in the transaction that migrates it; public
  and the template record theirs in ``SchemaState``;
- ``migrate_schemas`` (through ``TesseraExecutor``, plugged in with django-tenants'
  ``GET_EXECUTOR_FUNCTION``) asks one query for the tenants not at the code's digest and
  migrates only those, the template first (new tenants are copies of it, see
  ``tenants.pool``);
- a bounded pool of forked worker processes migrates them, each tenant in one
  transaction (its migrations, their history rows and its new digest), so a tenant that
  fails is left exactly as it was, is reported by name, and the others go on; the run
  then fails, and the next run takes up only the tenants left behind;
- each worker keeps the migration graph its parent loaded and the model state rendered
  before the plan (the same for every tenant at the same point), so a tenant costs the
  plan's DDL and a few queries, not a full ``migrate``; a worker closes its connection
  every ``RECONNECT_EVERY`` tenants so the server's catalogue caches, which grow with
  every schema a session touches, stay bounded.

A run asked for something particular (an app or migration target, ``--fake``, ``--plan``,
``--check``, ``--prune``, ``--run-syncdb``) is Django's own migrate in each schema, as
django-tenants runs it, and forgets the recorded states of the schemas it touched, so the
next ordinary run looks at them again.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import sys
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.management.base import CommandError
from django.core.management.sql import emit_post_migrate_signal
from django.db import connection, connections, transaction
from django.db.migrations import operations
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState
from django.db.models import QuerySet
from django_tenants.migration_executors.base import MigrationExecutor, run_migrations
from django_tenants.migration_executors.standard import StandardExecutor
from django_tenants.utils import (
    get_public_schema_name,
    get_tenant_base_migrate_command_class,
    schema_exists,
)
from psycopg import sql
from tqdm import tqdm

from tenants.models import SchemaState, Tenant
from tenants.pool import pool_invalidate

# Options of migrate_schemas that ask for something other than "bring everything up to
# date": those runs go through Django's own migrate.
PARTICULAR_OPTIONS = (
    "app_label",
    "migration_name",
    "fake",
    "fake_initial",
    "plan",
    "check_unapplied",
    "prune",
    "run_syncdb",
)
RECONNECT_EVERY = 200
# Operations whose side effects outside the schema's tables (content types renamed or
# created with their permissions) only Django's full migrate looks after.
FULL_MIGRATE_OPERATIONS = (operations.RenameModel,)


def code_migration_state() -> str:
    """The digest of the migrations the code has: a schema that recorded it has them all."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    payload = {
        "migrations": sorted(f"{app}.{name}" for app, name in loader.graph.nodes),
        "shared": list(settings.SHARED_APPS),
        "tenant": list(settings.TENANT_APPS),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def migrate_options(**overrides) -> dict:
    """Every option of Django's migrate at its default, as django-tenants' per-schema
    ``run_migrations`` hands them to the command, with ``overrides``."""
    command = get_tenant_base_migrate_command_class()()
    options = vars(command.create_parser("manage.py", "migrate").parse_args([]))
    return {**options, "interactive": False, **overrides}


def schema_state_get(schema_name: str) -> str | None:
    """The recorded state of public or the template; None before public has the table
    (the very first migration of a database)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f"public.{SchemaState._meta.db_table}"])
        if cursor.fetchone()[0] is None:
            return None
    row = SchemaState.objects.filter(schema_name=schema_name).values_list("migration_state")
    return next(iter(row), (None,))[0]


def schema_state_set(*, schema_name: str, state: str) -> None:
    SchemaState.objects.update_or_create(
        schema_name=schema_name, defaults={"migration_state": state}
    )


def schema_states_forget(schema_names: Iterable[str]) -> None:
    """After a migration to a particular target nobody knows what a schema is at."""
    names = list(schema_names)
    if schema_state_get(get_public_schema_name()) is None:
        return
    SchemaState.objects.filter(schema_name__in=names).delete()
    Tenant.objects.filter(schema_name__in=names).update(migration_state="")


def tenants_behind(*, state: str, schemas: Iterable[str] | QuerySet | None = None) -> list[str]:
    """The tenants not at ``state``, in one query (``schemas`` narrows it, and may itself be
    a query)."""
    tenants = Tenant.objects.exclude(schema_name=get_public_schema_name()).exclude(
        migration_state=state
    )
    if schemas is not None:
        tenants = tenants.filter(schema_name__in=schemas)
    return list(tenants.order_by("schema_name").values_list("schema_name", flat=True))


class SchemaMigrator:
    """Brings one tenant schema to the code's migrations, in one transaction."""

    def __init__(self, state: str) -> None:
        self.state = state
        self.loader = MigrationLoader(None, ignore_no_migrations=True)
        graph = self.loader.graph
        plan: list[tuple[str, str]] = []
        seen: set[tuple[str, str]] = set()
        for leaf in sorted(graph.leaf_nodes()):
            for key in graph.forwards_plan(leaf):
                if key not in seen:
                    seen.add(key)
                    plan.append(key)
        self.full_plan = plan
        # Rendered states before a plan, by the migrations applied: tenants of one
        # deploy are nearly all at the same point, so this holds one or two.
        self._states: OrderedDict[frozenset, ProjectState] = OrderedDict()
        self.migrated = 0

    def _state_before(self, applied: frozenset) -> ProjectState:
        state = self._states.get(applied)
        if state is None:
            state = ProjectState(real_apps=self.loader.unmigrated_apps)
            for key in self.full_plan:
                if key in applied:
                    state = self.loader.graph.nodes[key].mutate_state(state, preserve=False)
            state.apps  # noqa: B018 -- rendering once is what makes the next tenants cheap
            self._states[applied] = state
            while len(self._states) > 2:
                self._states.popitem(last=False)
        return state.clone()

    def pending(self, applied: set[tuple[str, str]]) -> list[tuple[str, str]]:
        for key, migration in self.loader.graph.nodes.items():
            if migration.replaces and all(tuple(r) in applied for r in migration.replaces):
                applied.add(key)
        return [key for key in self.full_plan if key not in applied]

    def migrate(self, schema_name: str) -> int:
        """Applies what the schema lacks and records the code's state with it; returns how
        many migrations ran."""
        self.migrated += 1
        if self.migrated % RECONNECT_EVERY == 0:
            connection.close()
        connection.set_schema(schema_name)
        try:
            history = sql.SQL("{}.django_migrations").format(sql.Identifier(schema_name))
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(sql.SQL("SELECT app, name FROM {}").format(history))
                    applied = {tuple(row) for row in cursor.fetchall()}
                pending = self.pending(applied)
                migrations = [self.loader.graph.nodes[key] for key in pending]
                if any(
                    isinstance(op, FULL_MIGRATE_OPERATIONS)
                    for migration in migrations
                    for op in migration.operations
                ):
                    transaction.set_rollback(True)
                else:
                    self._apply(history, migrations, applied)
                    Tenant.objects.filter(schema_name=schema_name).update(
                        migration_state=self.state
                    )
                    return len(migrations)
            # Outside the transaction above: Django's migrate opens its own per migration.
            run_migrations([], migrate_options(verbosity=0), "tessera", schema_name)
            connection.set_schema(schema_name)
            Tenant.objects.filter(schema_name=schema_name).update(migration_state=self.state)
            return len(migrations)
        finally:
            ContentType.objects.clear_cache()
            connection.set_schema_to_public()

    def _apply(
        self, history: sql.Composable, migrations: list, applied: set[tuple[str, str]]
    ) -> None:
        if not migrations:
            return
        applied_keys = frozenset(key for key in self.full_plan if key in applied)
        state = self._state_before(applied_keys)
        for migration in migrations:
            with connection.schema_editor(atomic=migration.atomic) as editor:
                state = migration.apply(state, editor)
            with connection.cursor() as cursor:
                cursor.execute(
                    sql.SQL("INSERT INTO {} (app, name, applied) VALUES (%s, %s, now())").format(
                        history
                    ),
                    [migration.app_label, migration.name],
                )
        if any(
            isinstance(op, operations.CreateModel)
            for migration in migrations
            for op in migration.operations
        ):
            # New models: their content types and permissions, in this schema.
            emit_post_migrate_signal(
                0,
                False,
                connection.alias,
                apps=state.apps,
                plan=[(migration, False) for migration in migrations],
            )


@dataclass
class MigrationRun:
    migrated: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def raise_for_failures(self) -> None:
        if self.failed:
            names = ", ".join(sorted(self.failed))
            raise CommandError(
                f"{len(self.failed)} schema(s) failed to migrate: {names}. The others are "
                "migrated; run the command again to finish."
            )


# The forked workers' migrator: set in the parent just before the pool forks.
_worker_migrator: SchemaMigrator | None = None


def _worker_migrate(schema_name: str) -> tuple[str, str | None]:
    assert _worker_migrator is not None
    return _migrate_reporting(_worker_migrator, schema_name)


def _migrate_reporting(migrator: SchemaMigrator, schema_name: str) -> tuple[str, str | None]:
    try:
        migrator.migrate(schema_name)
    except Exception as exc:  # one tenant's failure is reported, never fatal to the run
        return schema_name, f"{type(exc).__name__}: {exc}".strip()
    return schema_name, None


def tenants_migrate(
    *, schemas: list[str], state: str, workers: int, progress: bool = False
) -> MigrationRun:
    """Migrates ``schemas`` (tenants) with at most ``workers`` processes; failures are
    collected by schema, never stop the others."""
    global _worker_migrator
    run = MigrationRun()
    if not schemas:
        return run
    migrator = SchemaMigrator(state)
    bar = tqdm(total=len(schemas), desc="migrating tenants", unit="tenant", disable=not progress)

    def done(schema_name: str, error: str | None) -> None:
        if error is None:
            run.migrated.append(schema_name)
        else:
            run.failed[schema_name] = error
            bar.write(f"{schema_name}: {error}", file=sys.stderr)
        bar.update(1)

    try:
        if workers <= 1 or len(schemas) == 1:
            for schema_name in schemas:
                done(*_migrate_reporting(migrator, schema_name))
            return run
        # Forked children must not share the parent's connection; the parent reopens
        # its own when it next needs it.
        connections.close_all()
        _worker_migrator = migrator
        waiting = list(schemas)
        while waiting:
            suspects = _pool_run(waiting, workers, done)
            # A worker died (killed, out of memory) with these in flight: each runs
            # again alone in a process of its own, so the one that kills its process
            # is named and the rest are migrated. What was never sent goes on.
            for schema_name in suspects:
                if _pool_run([schema_name], 1, done):
                    done(schema_name, "the process migrating it stopped")
            handled = set(run.migrated) | set(run.failed)
            waiting = [name for name in waiting if name not in handled]
    finally:
        _worker_migrator = None
        bar.close()
        connection.set_schema_to_public()
    return run


def _pool_run(schemas: list[str], workers: int, done) -> list[str]:
    """Migrates ``schemas`` in at most ``workers`` forked processes, never more tenants in
    flight than workers; stops at a dead worker and returns the tenants then in flight
    (empty when all went through)."""
    context = multiprocessing.get_context("fork")
    queue = iter(schemas)
    with ProcessPoolExecutor(max_workers=min(workers, len(schemas)), mp_context=context) as pool:
        in_flight = {}
        for name in queue:
            in_flight[pool.submit(_worker_migrate, name)] = name
            if len(in_flight) >= workers:
                break
        while in_flight:
            finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            suspects = []
            for future in finished:
                name = in_flight.pop(future)
                try:
                    outcome = future.result()
                except BrokenProcessPool:
                    suspects.append(name)
                    continue
                done(*outcome)
            if suspects:
                # The pool is broken: whatever else was in flight is lost with it.
                return sorted([*suspects, *in_flight.values()])
            for _ in finished:
                following = next(queue, None)
                if following is not None:
                    in_flight[pool.submit(_worker_migrate, following)] = following
    return []


class TesseraExecutor(MigrationExecutor):
    codename = "tessera"

    def run_migrations(self, tenants=None) -> None:
        if any(self.options.get(name) for name in PARTICULAR_OPTIONS):
            schemas = list(tenants or [])
            schema_states_forget(schemas)
            StandardExecutor(self.args, self.options).run_migrations(tenants=schemas)
            return
        verbosity = int(self.options.get("verbosity", 1))
        state = code_migration_state()
        special = {self.PUBLIC_SCHEMA_NAME, settings.TENANT_BASE_SCHEMA}
        if isinstance(tenants, QuerySet):
            # Every tenant: the template goes first, so tenants created meanwhile are
            # copies of a current one.
            if schema_exists(settings.TENANT_BASE_SCHEMA):
                self._special_migrate(settings.TENANT_BASE_SCHEMA, state, verbosity)
            behind = tenants_behind(state=state, schemas=tenants)
        else:
            schemas = list(tenants or [])
            for schema_name in [name for name in schemas if name in special]:
                self._special_migrate(schema_name, state, verbosity)
            others = [name for name in schemas if name not in special]
            behind = tenants_behind(state=state, schemas=others) if others else []
            known = Tenant.objects.filter(schema_name__in=others).values_list(
                "schema_name", flat=True
            )
            strangers = set(others) - set(known)
            if strangers:
                # A schema no tenant row describes (being restored, or made by hand):
                # nothing to record its state in, so Django's migrate as ever.
                StandardExecutor(self.args, self.options).run_migrations(tenants=sorted(strangers))
        if verbosity >= 1 and (tenants is None or isinstance(tenants, QuerySet) or behind):
            print(f"Tenants behind the code's migrations: {len(behind)}")
        workers = self.options.get("parallel") or settings.TENANT_MIGRATION_WORKERS
        run = tenants_migrate(schemas=behind, state=state, workers=workers, progress=verbosity >= 1)
        run.raise_for_failures()

    def _special_migrate(self, schema_name: str, state: str, verbosity: int) -> None:
        if schema_state_get(schema_name) == state:
            if verbosity >= 1:
                print(f"{schema_name}: already at the code's migrations")
            return
        run_migrations(self.args, self.options, self.codename, schema_name)
        connection.set_schema_to_public()
        schema_state_set(schema_name=schema_name, state=state)
        if schema_name == settings.TENANT_BASE_SCHEMA:
            # Copies of the old template are no longer good.
            pool_invalidate(state=state)

    def run_multi_type_migrations(self, tenants) -> None:
        raise NotImplementedError("Tessera has one kind of tenant schema.")


def executor_get(codename: str | None = None) -> type[MigrationExecutor]:
    """django-tenants' GET_EXECUTOR_FUNCTION: the one executor, whatever was asked."""
    return TesseraExecutor
