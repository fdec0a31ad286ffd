"""Deploys that cost what changed (tenants.deploys): tenants at the code's migrations are
skipped with one query; the rest migrate in parallel, each on its own, and a tenant that
fails is named, left as it was, and finished by the next run."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from bench.throwaway import migration_added
from tenants.deploys import code_migration_state, schema_state_set, tenants_behind
from tenants.models import Tenant

PROBE = ("audit", "9001_deploy_probe")
PROBE_SQL = 'migrations.RunSQL("CREATE TABLE deploy_probe (id bigint)", "DROP TABLE deploy_probe")'


@pytest.fixture(autouse=True)
def _no_pool_refill():
    """These runs migrate the template: no refill of the pool is queued for a worker of
    the session to make while the probe is there."""
    with override_settings(TENANT_POOL_SIZE=0):
        yield


def _has_probe(schema: str) -> tuple[bool, bool]:
    """(the probe's table exists, the probe's migration is recorded) in ``schema``."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f'"{schema}".deploy_probe'])
        table = cursor.fetchone()[0]
        cursor.execute(
            f'SELECT EXISTS (SELECT 1 FROM "{schema}".django_migrations '
            "WHERE app = %s AND name = %s)",
            list(PROBE),
        )
        return table, cursor.fetchone()[0]


def _probe_removed(probe: tuple[str, str] = PROBE) -> None:
    """Takes the probe out of every schema and records the real code's state again."""
    schemas = [settings.TENANT_BASE_SCHEMA, *Tenant.objects.values_list("schema_name", flat=True)]
    with connection.cursor() as cursor:
        for schema in schemas:
            cursor.execute(f'DROP TABLE IF EXISTS "{schema}".deploy_probe')
            cursor.execute(f'DROP TABLE IF EXISTS "{schema}".deploy_kill')
            cursor.execute(
                f'DELETE FROM "{schema}".django_migrations WHERE app = %s AND name = %s',
                list(probe),
            )
    state = code_migration_state()
    Tenant.objects.exclude(schema_name="public").update(migration_state=state)
    schema_state_set(schema_name=settings.TENANT_BASE_SCHEMA, state=state)


def test_a_run_with_nothing_to_do_skips_every_tenant_in_one_query(live_db, tenant_factory, capsys):
    for _ in range(3):
        tenant_factory()
    call_command("migrate_schemas", tenant=True, interactive=False, verbosity=0)
    assert tenants_behind(state=code_migration_state()) == []
    capsys.readouterr()

    with CaptureQueriesContext(connection) as queries:
        call_command("migrate_schemas", tenant=True, interactive=False, verbosity=1)

    output = capsys.readouterr().out
    assert "Tenants behind the code's migrations: 0" in output
    assert f"{settings.TENANT_BASE_SCHEMA}: already at the code's migrations" in output
    sql = [query["sql"] for query in queries.captured_queries]
    # No tenant schema was looked into: no history table read, no search path set.
    assert not [statement for statement in sql if "django_migrations" in statement]
    assert not [statement for statement in sql if "search_path" in statement.lower()]
    # One query for the tenants behind, whatever their number; the template's state and
    # whether the template exists are the others.
    behind = [statement for statement in sql if '"tenants_tenant"' in statement]
    assert len(behind) == 1, behind
    assert len(sql) <= 4, sql


def test_a_tenant_that_fails_is_named_the_others_migrate_and_the_next_run_finishes(
    tenant_factory,
):
    made = [tenant_factory().tenant.schema_name for _ in range(3)]
    broken = made[1]
    # Something in one tenant's schema that the next migration will collide with.
    with schema_context(broken), connection.cursor() as cursor:
        cursor.execute(f'CREATE TABLE "{broken}".deploy_probe (note text)')
    connection.set_schema_to_public()
    try:
        with migration_added(app_label=PROBE[0], name=PROBE[1], operations=PROBE_SQL):
            state = code_migration_state()
            with pytest.raises(CommandError) as failure:
                call_command(
                    "migrate_schemas", tenant=True, interactive=False, verbosity=0, parallel=2
                )
            message = str(failure.value)
            assert broken in message
            assert not [name for name in made if name != broken and name in message]
            assert "run the command again" in message

            # Every other tenant is migrated and says so; the broken one is as it was.
            assert _has_probe(settings.TENANT_BASE_SCHEMA) == (True, True)
            for name in made:
                tenant = Tenant.objects.get(schema_name=name)
                if name == broken:
                    assert _has_probe(name) == (True, False)
                    assert tenant.migration_state != state
                else:
                    assert _has_probe(name) == (True, True)
                    assert tenant.migration_state == state
            assert tenants_behind(state=state) == [broken]
            with connection.cursor() as cursor:
                cursor.execute(f'SELECT count(*) FROM "{broken}".deploy_probe')
                assert cursor.fetchone() == (0,)

            # Fixed by hand; the next run migrates that one tenant and nothing else.
            with connection.cursor() as cursor:
                cursor.execute(f'DROP TABLE "{broken}".deploy_probe')
            call_command("migrate_schemas", tenant=True, interactive=False, verbosity=0)
            assert tenants_behind(state=state) == []
            assert _has_probe(broken) == (True, True)
    finally:
        _probe_removed()


def test_setup_platform_names_the_failed_tenant_and_exits_non_zero(tenant_factory):
    made = [tenant_factory().tenant.schema_name for _ in range(2)]
    broken = made[0]
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE TABLE "{broken}".deploy_probe (note text)')
    try:
        with migration_added(app_label=PROBE[0], name=PROBE[1], operations=PROBE_SQL):
            with pytest.raises(CommandError, match=broken):
                call_command("setup_platform", verbosity=0)
            assert _has_probe(made[1]) == (True, True)
            # The platform is still made ready, and the public schema migrated.
            assert _has_probe("public") == (True, True)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS public.deploy_probe")
            cursor.execute(
                "DELETE FROM public.django_migrations WHERE app = %s AND name = %s", list(PROBE)
            )
        _probe_removed()
        schema_state_set(schema_name="public", state=code_migration_state())


def test_a_migration_to_a_particular_target_forgets_the_recorded_state(tenant_factory):
    schema = tenant_factory().tenant.schema_name
    assert Tenant.objects.get(schema_name=schema).migration_state == code_migration_state()
    call_command("migrate_schemas", "audit", schema_name=schema, interactive=False, verbosity=0)
    assert Tenant.objects.get(schema_name=schema).migration_state == ""
    # The next ordinary run looks at it again (nothing to apply) and records it.
    call_command("migrate_schemas", tenant=True, interactive=False, verbosity=0)
    assert Tenant.objects.get(schema_name=schema).migration_state == code_migration_state()


KILLER = ("audit", "9003_deploy_killer")


def process_killed_if_marked(apps, schema_editor) -> None:
    """The throwaway migration below: in a schema holding a ``deploy_kill`` table it ends
    the process at once, as an out-of-memory kill would."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('deploy_kill')")
        if cursor.fetchone()[0] is not None:
            os._exit(9)


def test_a_tenant_whose_migration_kills_its_worker_is_named_and_the_others_migrate(
    tenant_factory,
):
    made = [tenant_factory().tenant.schema_name for _ in range(4)]
    victim = made[2]
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE TABLE "{victim}".deploy_kill (id bigint)')
    operations = (
        'migrations.RunPython(__import__("tests.tenants.test_deploys", fromlist=["_"])'
        ".process_killed_if_marked, migrations.RunPython.noop)"
    )
    try:
        with migration_added(app_label=KILLER[0], name=KILLER[1], operations=operations):
            state = code_migration_state()
            with pytest.raises(CommandError) as failure:
                call_command(
                    "migrate_schemas", tenant=True, interactive=False, verbosity=0, parallel=2
                )
            message = str(failure.value)
            assert victim in message
            assert not [name for name in made if name != victim and name in message]
            assert tenants_behind(state=state) == [victim]

            with connection.cursor() as cursor:
                cursor.execute(f'DROP TABLE "{victim}".deploy_kill')
            call_command("migrate_schemas", tenant=True, interactive=False, verbosity=0)
            assert tenants_behind(state=state) == []
    finally:
        _probe_removed(KILLER)


RENAMER = ("audit", "9004_deploy_renamer")
CREATOR = ("audit", "9004_deploy_creator")


def _probe_content_types(schema: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT id, model FROM "{schema}".django_content_type WHERE app_label = %s '
            "AND model LIKE 'deployprobe%%'",
            ["audit"],
        )
        return cursor.fetchall()


def test_a_renamed_model_goes_through_djangos_migrate_and_its_content_type_follows(
    tenant_factory,
):
    schema = tenant_factory().tenant.schema_name
    schemas = [settings.TENANT_BASE_SCHEMA, schema]
    create = (
        'migrations.CreateModel("DeployProbe", [("id", models.BigAutoField(primary_key=True))])'
    )
    rename = 'migrations.RenameModel("DeployProbe", "DeployProbeRenamed")'
    try:
        with migration_added(app_label=CREATOR[0], name=CREATOR[1], operations=create):
            call_command("migrate_schemas", tenant=True, interactive=False, verbosity=0)
            [(content_type_id, model)] = _probe_content_types(schema)
            assert model == "deployprobe"
            with migration_added(app_label=RENAMER[0], name=RENAMER[1], operations=rename):
                state = code_migration_state()
                call_command("migrate_schemas", tenant=True, interactive=False, verbosity=0)
                assert tenants_behind(state=state) == []
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT to_regclass(%s)", [f'"{schema}".audit_deployproberenamed']
                    )
                    assert cursor.fetchone()[0] is not None
                # Renamed in place (its permissions keep pointing at it), not a new one.
                assert _probe_content_types(schema) == [(content_type_id, "deployproberenamed")]
    finally:
        with connection.cursor() as cursor:
            for name in schemas:
                cursor.execute(f'DROP TABLE IF EXISTS "{name}".audit_deployproberenamed')
                cursor.execute(f'DROP TABLE IF EXISTS "{name}".audit_deployprobe')
                cursor.execute(
                    f'DELETE FROM "{name}".auth_permission WHERE content_type_id IN ('
                    f'SELECT id FROM "{name}".django_content_type WHERE app_label = %s '
                    "AND model LIKE 'deployprobe%%')",
                    ["audit"],
                )
                cursor.execute(
                    f'DELETE FROM "{name}".django_content_type WHERE app_label = %s '
                    "AND model LIKE 'deployprobe%%'",
                    ["audit"],
                )
        _probe_removed(RENAMER)
        _probe_removed(CREATOR)
