"""What a Citus cluster with schema-based sharding needs of Tessera's schemas and SQL,
checked without Citus (ARCHITECTURE.md, "Past one database server"): 64-bit keys, no
foreign key across schemas, a clone plan of single commands with one constraint each,
schema-qualified sequence lookups, and sequence catch-ups that respect a node's range."""

from __future__ import annotations

import re

import pytest
import sqlparse
from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection, models, transaction
from django_tenants.utils import get_public_schema_name, schema_exists
from psycopg import sql

from tenants.cloning import plan_render, schema_clone, template_plan
from tenants.services import schema_create_undistributed
from tests.tenants.citus_probe import sharding_probe_install

# Public tables a tenant table may point at: those that could be Citus reference tables
# (small, read-mostly, the same for every tenant). None today.
REFERENCE_TABLES: set[str] = set()
# What Citus gives a worker's bigint sequences: a range starting at 2^48 times the
# node's group id (here group 1).
WORKER_SEQUENCE_START = 2**48 + 1


def _singleton(model) -> bool:
    """A settings row whose key is a constant (one per schema): no sequence hands it
    out and no foreign key points at it, so its width does not matter."""
    pk = model._meta.pk
    return not isinstance(pk, models.AutoField) and pk.has_default()


SINGLETON_TABLES = {model._meta.db_table for model in apps.get_models() if _singleton(model)}


def _schemas(tenant_a) -> list[str]:
    return [get_public_schema_name(), settings.TENANT_BASE_SCHEMA, tenant_a.schema]


def test_every_model_of_ours_has_a_64_bit_key():
    ours = {"tenants", "accounts", "billing", "resale", "provisioning", "audit", "api"}
    checked = 0
    for model in apps.get_models():
        if model._meta.app_label not in ours:
            continue
        pk = model._meta.pk
        if isinstance(pk, models.AutoField | models.IntegerField) and not _singleton(model):
            assert isinstance(pk, models.BigAutoField | models.BigIntegerField), model
            checked += 1
    assert settings.DEFAULT_AUTO_FIELD == "django.db.models.BigAutoField"
    assert checked > 50


@pytest.mark.django_db
def test_every_key_column_in_the_database_is_64_bit(tenant_a):
    """Django's and allauth's own tables too (accounts.0008 widened them)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT n.nspname, rel.relname, att.attname, format_type(att.atttypid, NULL) "
            "FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid "
            "JOIN pg_namespace n ON n.oid = rel.relnamespace "
            "JOIN pg_attribute att ON att.attrelid = rel.oid AND att.attnum = ANY (con.conkey) "
            "WHERE n.nspname = ANY (%s) AND con.contype IN ('p', 'f') "
            "AND att.atttypid IN ('int2'::regtype, 'int4'::regtype)",
            [_schemas(tenant_a)],
        )
        narrow = cursor.fetchall()
        cursor.execute(
            "SELECT count(*) FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = ANY (%s) AND s.seqtypid <> 'int8'::regtype",
            [_schemas(tenant_a)],
        )
        narrow_sequences = cursor.fetchone()[0]
    assert [row for row in narrow if row[1] not in SINGLETON_TABLES] == []
    assert len(SINGLETON_TABLES) < 6
    assert narrow_sequences == 0


@pytest.mark.django_db
def test_no_foreign_key_crosses_a_schema_but_to_reference_tables(tenant_a):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sn.nspname, src.relname, tn.nspname, dst.relname FROM pg_constraint con "
            "JOIN pg_class src ON src.oid = con.conrelid "
            "JOIN pg_namespace sn ON sn.oid = src.relnamespace "
            "JOIN pg_class dst ON dst.oid = con.confrelid "
            "JOIN pg_namespace tn ON tn.oid = dst.relnamespace "
            "WHERE con.contype = 'f' AND sn.nspname <> tn.nspname "
            "AND sn.nspname NOT LIKE 'pg\\_%%' AND sn.nspname <> 'information_schema'"
        )
        crossing = cursor.fetchall()
        cursor.execute(
            "SELECT count(*) FROM pg_constraint con "
            "JOIN pg_namespace n ON n.oid = con.connamespace "
            "WHERE con.contype = 'f' AND n.nspname = %s",
            [tenant_a.schema],
        )
        tenant_foreign_keys = cursor.fetchone()[0]
    # Into a tenant schema from anywhere else: never.
    tenant_schemas = {tenant_a.schema, settings.TENANT_BASE_SCHEMA}
    assert not [row for row in crossing if row[2] != get_public_schema_name()]
    # From a tenant schema into public: only to tables that can be reference tables.
    assert {row[3] for row in crossing if row[0] in tenant_schemas} <= REFERENCE_TABLES
    assert not [row for row in crossing if row[0] not in tenant_schemas]
    assert tenant_foreign_keys > 50


@pytest.mark.django_db
def test_the_clone_plan_is_single_commands_with_one_constraint_each():
    statements = plan_render(template_plan(settings.TENANT_BASE_SCHEMA), "tenant_new")
    assert len(statements) > 100
    for statement in statements:
        assert len([s for s in sqlparse.split(statement) if s.strip()]) == 1, statement
        assert not statement.rstrip().endswith(";")
        if statement.startswith("ALTER TABLE"):
            assert len(re.findall(r"\bADD CONSTRAINT\b", statement)) == 1, statement
        for literal in re.findall(r"pg_get_serial_sequence\('([^']*)'", statement):
            assert literal.startswith('"tenant_new".'), statement
        if "setval(" in statement:
            assert "GREATEST(" in statement and "start_value" in statement, statement
    created = [s for s in statements if s.startswith("CREATE TABLE")]
    assert created and all(s.startswith('CREATE TABLE "tenant_new".') for s in created)
    foreign = [s for s in statements if "FOREIGN KEY" in s]
    assert foreign and all(s.startswith("ALTER TABLE") for s in foreign)


@pytest.mark.django_db
def test_sequences_on_a_worker_range_stay_in_it():
    """Run statement by statement as a Citus coordinator would, with the new schema's
    sequences moved to a worker's range before the copied rows come in: the catch-up
    must not set them back below it (``setval`` would fail)."""
    schema = "tenant_citus_range"
    statements = plan_render(template_plan(settings.TENANT_BASE_SCHEMA), schema)
    first_insert = next(i for i, s in enumerate(statements) if s.startswith("INSERT INTO"))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        cursor.execute(
            sql.SQL("SET LOCAL search_path TO {}, public").format(sql.Identifier(schema))
        )
        for statement in statements[:first_insert]:
            cursor.execute(statement)
        cursor.execute(
            "SELECT format('%%I.%%I', schemaname, sequencename) FROM pg_sequences "
            "WHERE schemaname = %s",
            [schema],
        )
        for (sequence,) in cursor.fetchall():
            cursor.execute(
                f"ALTER SEQUENCE {sequence} MINVALUE {WORKER_SEQUENCE_START} "
                f"START {WORKER_SEQUENCE_START} RESTART"
            )
        for statement in statements[first_insert:]:
            cursor.execute(statement)
        cursor.execute(
            sql.SQL(
                "INSERT INTO {}.django_migrations (app, name, applied) "
                "VALUES ('probe', 'probe', now()) RETURNING id"
            ).format(sql.Identifier(schema))
        )
        assert cursor.fetchone()[0] > WORKER_SEQUENCE_START
        cursor.execute(
            sql.SQL("SELECT max(id) < %s FROM {}.django_migrations WHERE app <> 'probe'").format(
                sql.Identifier(schema)
            ),
            [WORKER_SEQUENCE_START],
        )
        assert cursor.fetchone()[0], "the copied rows keep their ids"
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_the_template_schema_is_not_distributed_but_tenant_schemas_are():
    """Citus distributes a schema when ``citus.enable_schema_based_sharding`` is on at its
    ``CREATE SCHEMA``. A probe, an event trigger at the end of each ``CREATE SCHEMA``,
    refuses one made with the setting on, as Citus would distribute it: the template's
    passes, and a tenant schema created afterwards in the same transaction does not (the
    setting is put back)."""
    with transaction.atomic(), connection.cursor() as cursor:
        sharding_probe_install(cursor)
        # What ALTER SYSTEM sets on the coordinator.
        cursor.execute("SET LOCAL citus.enable_schema_based_sharding TO on")

        schema_create_undistributed("tenant_template_probe")

        cursor.execute("SELECT current_setting('citus.enable_schema_based_sharding')")
        assert cursor.fetchone()[0] == "on"
        assert schema_exists("tenant_template_probe")
        with pytest.raises(DatabaseError, match="distributed schema"), transaction.atomic():
            schema_clone(template=settings.TENANT_BASE_SCHEMA, schema_name="tenant_probe")
        transaction.set_rollback(True)
