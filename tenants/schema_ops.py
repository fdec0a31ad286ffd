"""Migration operations that touch the schema being migrated and nothing else.

django-tenants migrates a tenant with ``search_path`` set to the tenant's schema and then
public, so an unqualified ``DROP … IF EXISTS`` run in a tenant that no longer has the
object would find public's and drop that. Every name here is qualified with the schema
being migrated."""

from __future__ import annotations

from django.db import migrations
from django_tenants.utils import get_public_schema_name


def _schema(schema_editor) -> str:
    return getattr(schema_editor.connection, "schema_name", None) or get_public_schema_name()


def drop_indexes(indexes: dict[str, str]) -> migrations.RunPython:
    """Drops the named indexes; ``indexes`` maps each name to the table and columns it
    covers (``"auth_group (name varchar_pattern_ops)"``), to build it again on reverse."""

    def forward(apps, schema_editor) -> None:
        schema = schema_editor.quote_name(_schema(schema_editor))
        for name in indexes:
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema}.{schema_editor.quote_name(name)}")

    def backward(apps, schema_editor) -> None:
        schema = schema_editor.quote_name(_schema(schema_editor))
        for name, target in indexes.items():
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {schema_editor.quote_name(name)} ON {schema}.{target}"
            )

    return migrations.RunPython(forward, backward)


def drop_table_in_tenants(table: str) -> migrations.RunPython:
    """Drops a table that tenant schemas no longer have (its app became provider-only);
    public keeps it."""

    def forward(apps, schema_editor) -> None:
        schema = _schema(schema_editor)
        if schema != get_public_schema_name():
            quoted = schema_editor.quote_name
            schema_editor.execute(f"DROP TABLE IF EXISTS {quoted(schema)}.{quoted(table)}")

    return migrations.RunPython(forward, migrations.RunPython.noop)


def integer_keys_to_bigint() -> migrations.RunPython:
    """Widens every 32-bit primary-key and foreign-key column of the schema being
    migrated to 64 bits (the tables of Django's and allauth's own apps, which choose
    ``AutoField``). Identity sequences follow their column; a serial column's sequence is
    widened too. Idempotent: a schema with none left is untouched. Citus gives each node's
    sequences a range starting at 2^48 times its group id, past any 32-bit column."""

    def forward(apps, schema_editor) -> None:
        schema = _schema(schema_editor)
        quoted = schema_editor.quote_name
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT rel.relname, att.attname, att.attidentity = '' AND "
                "pg_get_serial_sequence(format('%%I.%%I', n.nspname, rel.relname), att.attname) "
                "IS NOT NULL FROM pg_constraint con "
                "JOIN pg_class rel ON rel.oid = con.conrelid "
                "JOIN pg_namespace n ON n.oid = rel.relnamespace "
                "JOIN pg_attribute att ON att.attrelid = rel.oid AND att.attnum = ANY (con.conkey) "
                "WHERE n.nspname = %s AND con.contype IN ('p', 'f') "
                "AND att.atttypid IN ('int2'::regtype, 'int4'::regtype) "
                "ORDER BY 1, 2",
                [schema],
            )
            found = cursor.fetchall()
        columns: dict[str, list[str]] = {}
        for table, column, _serial in found:
            columns.setdefault(table, []).append(column)
        for table, names in columns.items():
            changes = ", ".join(f"ALTER COLUMN {quoted(name)} TYPE bigint" for name in names)
            schema_editor.execute(f"ALTER TABLE {quoted(schema)}.{quoted(table)} {changes}")
        for table, column, serial in found:
            if serial:
                with schema_editor.connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_get_serial_sequence(%s, %s)",
                        [f"{quoted(schema)}.{quoted(table)}", column],
                    )
                    sequence = cursor.fetchone()[0]
                schema_editor.execute(f"ALTER SEQUENCE {sequence} AS bigint")

    return migrations.RunPython(forward, migrations.RunPython.noop)
