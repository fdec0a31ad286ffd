"""Creating a tenant schema as a copy of the template schema.

django-tenants ships a generic PL/pgSQL ``clone_schema`` that walks the catalogue object by
object on every call; with a few dozen tables it takes the better part of a second. Here
the template is read once per migration state into a plan of plain DDL, and a new schema
is one round trip of that plan. The copy keeps every constraint and index name of the
template (later migrations find them by name), its identity columns, triggers, and the
rows the template holds (migration history, content types, permissions).
"""

from __future__ import annotations

import re
import threading

from django.db import connection, transaction
from psycopg import sql

_plans: dict[tuple[str, str], str] = {}
_plans_lock = threading.Lock()


def _ident(name: str) -> str:
    return sql.Identifier(name).as_string(connection.connection)


def _template_state(cursor, template: str) -> str:
    """The template changes only through migrations, so its migration history says
    whether a cached plan is still good (cheap: no catalogue scan, which grows with every
    tenant)."""
    cursor.execute(
        sql.SQL("SELECT count(*), coalesce(max(id), 0) FROM {}.django_migrations").format(
            sql.Identifier(template)
        )
    )
    count, last_id = cursor.fetchone()
    return f"{count}:{last_id}"


def _build_plan(cursor, template: str) -> str:
    """DDL that rebuilds the template in whatever schema is first on the search path."""
    quoted_template = _ident(template)
    # PostgreSQL qualifies names in index and trigger definitions whatever the search
    # path; with the qualifier removed, the plan targets the schema first on the path.
    qualifier = re.compile(rf'(?<![\w"])("{re.escape(template)}"|{re.escape(template)})\.')

    def unqualified(definition: str) -> str:
        return qualifier.sub("", definition)

    cursor.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(template)))
    cursor.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname",
        [template],
    )
    tables = [row[0] for row in cursor.fetchall()]
    cursor.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind = 'S' AND NOT EXISTS ("
        "  SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))",
        [template],
    )
    free_sequences = [row[0] for row in cursor.fetchall()]
    cursor.execute(
        "SELECT rel.relname, con.conname, pg_get_constraintdef(con.oid), con.contype "
        "FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace "
        "JOIN pg_class rel ON rel.oid = con.conrelid "
        "WHERE n.nspname = %s AND con.contype IN ('p', 'u', 'x', 'c', 'f') "
        "ORDER BY con.contype = 'f', rel.relname, con.conname",
        [template],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND NOT EXISTS ("
        "  SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid"
        "  AND con.contype IN ('p', 'u', 'x')) ORDER BY c.relname",
        [template],
    )
    indexes = [unqualified(row[0]) for row in cursor.fetchall()]
    cursor.execute(
        "SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND NOT t.tgisinternal ORDER BY t.tgname",
        [template],
    )
    triggers = [unqualified(row[0]) for row in cursor.fetchall()]

    # Few statements, since each one costs catalogue work: a table comes with its keys,
    # unique and check constraints in its CREATE TABLE; its foreign keys, which need the
    # other tables, in one ALTER TABLE afterwards.
    own: dict[str, list[str]] = {table: [] for table in tables}
    foreign: dict[str, list[str]] = {table: [] for table in tables}
    for table, name, definition, kind in constraints:
        clause = f"CONSTRAINT {_ident(name)} {unqualified(definition)}"
        (foreign if kind == "f" else own)[table].append(clause)
    statements = [f"CREATE SEQUENCE {_ident(name)}" for name in free_sequences]
    for table in tables:
        columns = ", ".join(
            [
                f"LIKE {quoted_template}.{_ident(table)} INCLUDING DEFAULTS INCLUDING "
                "IDENTITY INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS",
                *own[table],
            ]
        )
        statements.append(f"CREATE TABLE {_ident(table)} ({columns})")
    for table in tables:
        cursor.execute(
            sql.SQL("SELECT EXISTS (SELECT 1 FROM {}.{})").format(
                sql.Identifier(template), sql.Identifier(table)
            )
        )
        if cursor.fetchone()[0]:
            statements.append(
                f"INSERT INTO {_ident(table)} SELECT * FROM {quoted_template}.{_ident(table)}"
            )
            statements.append(
                "SELECT setval(s.seq, greatest((SELECT max(id) FROM "
                f"{_ident(table)}), 1)) FROM (SELECT pg_get_serial_sequence("
                f"'{_ident(table)}', 'id') AS seq) s WHERE s.seq IS NOT NULL"
            )
    for table, clauses in foreign.items():
        if clauses:
            additions = ", ".join(f"ADD {clause}" for clause in clauses)
            statements.append(f"ALTER TABLE {_ident(table)} {additions}")
    statements.extend(indexes)
    statements.extend(triggers)
    return ";\n".join(statements) + ";"


def template_plan(template: str) -> str:
    with connection.cursor() as cursor:
        state = _template_state(cursor, template)
        key = (template, state)
        with _plans_lock:
            if key not in _plans:
                _plans.clear()
                _plans[key] = _build_plan(cursor, template)
            return _plans[key]


def schema_clone(*, template: str, schema_name: str) -> None:
    """Creates ``schema_name`` as a copy of ``template``. Runs inside the caller's
    transaction (DDL is transactional in PostgreSQL), so a failure leaves nothing."""
    if connection.in_atomic_block:
        _clone(template, schema_name)
    else:
        with transaction.atomic():
            _clone(template, schema_name)


def _clone(template: str, schema_name: str) -> None:
    plan = template_plan(template)
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema_name)))
        # public too: the trigger functions the tables call live there.
        cursor.execute(
            sql.SQL("SET LOCAL search_path TO {}, public").format(sql.Identifier(schema_name))
        )
        cursor.execute(plan)
        # Back to what django-tenants expects for the rest of the transaction.
        cursor.execute("SET LOCAL search_path TO public")
