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
