"""Creating a tenant schema as a copy of the template schema.

django-tenants ships a generic PL/pgSQL ``clone_schema`` that walks the catalogue object by
object on every call; with a few dozen tables it takes the better part of a second. Here
the template is read once per migration state into a plan of plain DDL, and a new schema
is that plan run in one pipelined round trip. The copy keeps every constraint and index
name of the template (later migrations find them by name), its identity columns,
triggers, and the rows the template holds (migration history, content types,
permissions).

The plan also runs unchanged on a Citus coordinator with schema-based sharding (see
"Past one database server" in ARCHITECTURE.md), which propagates DDL to the workers by
its text (https://docs.citusdata.com/en/v13.0/admin_guide/cluster_management.html and
https://docs.citusdata.com/en/v13.0/develop/reference_ddl.html, Citus 13):

- one statement per command, never a multi-statement string;
- one ``ADD CONSTRAINT`` per ``ALTER TABLE``;
- every table this module names is qualified with the new schema, string literals
  included (``pg_get_serial_sequence('"schema"."table"', 'id')``);
- ``setval`` never goes below a sequence's own range (Citus starts each worker's bigint
  sequences at 2^48 times its group id), so it takes the greatest of the copied rows'
  largest id and the sequence's start and last values.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from django.db import connection, transaction
from psycopg import sql


@dataclass(frozen=True)
class _Schema:
    """Where the new schema's quoted name goes in a planned statement."""


SCHEMA = _Schema()
Statement = tuple[str | _Schema, ...]

_plans: dict[tuple[str, str], list[Statement]] = {}
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


def _build_plan(cursor, template: str) -> list[Statement]:
    """The statements that rebuild the template in another schema (``SCHEMA`` in each
    stands for the new schema's quoted name)."""
    quoted_template = _ident(template)
    # PostgreSQL qualifies names in index and trigger definitions whatever the search
    # path; the template's qualifier becomes the new schema's.
    qualifier = re.compile(rf'(?<![\w"])(?:"{re.escape(template)}"|{re.escape(template)})\.')

    def requalified(definition: str) -> Statement:
        parts: list[str | _Schema] = []
        for index, piece in enumerate(qualifier.split(definition)):
            if index:
                parts.extend((SCHEMA, "."))
            parts.append(piece)
        return tuple(parts)

    def unqualified(definition: str) -> str:
        # Inside a table's definition (its constraints), names resolve through the
        # search path the clone sets: the new schema first.
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
    indexes = [requalified(row[0]) for row in cursor.fetchall()]
    cursor.execute(
        "SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND NOT t.tgisinternal ORDER BY t.tgname",
        [template],
    )
    triggers = [requalified(row[0]) for row in cursor.fetchall()]

    # A table comes with its keys, unique and check constraints in its CREATE TABLE; its
    # foreign keys, which need the other tables, afterwards, one ALTER TABLE each.
    own: dict[str, list[str]] = {table: [] for table in tables}
    foreign: list[Statement] = []
    for table, name, definition, kind in constraints:
        clause = f"CONSTRAINT {_ident(name)} {unqualified(definition)}"
        if kind == "f":
            foreign.append((SCHEMA, f".{_ident(table)} ADD {clause}"))
        else:
            own[table].append(clause)
    statements: list[Statement] = [
        ("CREATE SEQUENCE ", SCHEMA, f".{_ident(name)}") for name in free_sequences
    ]
    for table in tables:
        columns = ", ".join(
            [
                f"LIKE {quoted_template}.{_ident(table)} INCLUDING DEFAULTS INCLUDING "
                "IDENTITY INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS",
                *own[table],
            ]
        )
        statements.append(("CREATE TABLE ", SCHEMA, f".{_ident(table)} ({columns})"))
    for table in tables:
        cursor.execute(
            sql.SQL("SELECT EXISTS (SELECT 1 FROM {}.{})").format(
                sql.Identifier(template), sql.Identifier(table)
            )
        )
        if cursor.fetchone()[0]:
            target = _ident(table)
            statements.append(
                ("INSERT INTO ", SCHEMA, f".{target} SELECT * FROM {quoted_template}.{target}")
            )
            statements.append(_sequence_catch_up(target))
    statements.extend(("ALTER TABLE ", *addition) for addition in foreign)
    statements.extend(indexes)
    statements.extend(triggers)
    return statements


def _sequence_catch_up(quoted_table: str) -> Statement:
    """Moves the table's id sequence past the copied rows, never below its own range."""
    # Schema names never hold a quote (django-tenants validates them), so the qualified
    # name can sit inside a string literal as it is.
    return (
        "SELECT setval(s.seq, GREATEST(COALESCE((SELECT max(id) FROM ",
        SCHEMA,
        f".{quoted_table}), 0), q.start_value, COALESCE(q.last_value, 0))) "
        "FROM (SELECT pg_get_serial_sequence('",
        SCHEMA,
        f".{quoted_table}', 'id') AS seq) s "
        # The sequence by its oid: the pg_sequences view would read every sequence of
        # every schema, which makes each clone slower with each tenant.
        "CROSS JOIN LATERAL (SELECT seqstart AS start_value, "
        "pg_sequence_last_value(seqrelid) AS last_value FROM pg_sequence "
        "WHERE seqrelid = s.seq::regclass) q",
    )


def template_plan(template: str) -> list[Statement]:
    # In a transaction of its own (or the caller's): the plan is read with a search path
    # of the template alone, so names outside it (public's trigger functions) come
    # qualified, and SET LOCAL is a no-op outside a transaction.
    with transaction.atomic(), connection.cursor() as cursor:
        state = _template_state(cursor, template)
        key = (template, state)
        with _plans_lock:
            if key not in _plans:
                _plans.clear()
                _plans[key] = _build_plan(cursor, template)
            return _plans[key]


def plan_render(plan: list[Statement], schema_name: str) -> list[str]:
    """The plan's statements for ``schema_name``, one SQL command each."""
    quoted = _ident(schema_name)
    return ["".join(quoted if part is SCHEMA else part for part in statement) for statement in plan]


def schema_clone(*, template: str, schema_name: str) -> None:
    """Creates ``schema_name`` as a copy of ``template``. Runs inside the caller's
    transaction (DDL is transactional in PostgreSQL), so a failure leaves nothing."""
    if connection.in_atomic_block:
        _clone(template, schema_name)
    else:
        with transaction.atomic():
            _clone(template, schema_name)


def _clone(template: str, schema_name: str) -> None:
    statements = plan_render(template_plan(template), schema_name)
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema_name)))
        # The new schema first, for the names inside constraint definitions; public for
        # the trigger functions the tables call.
        cursor.execute(
            sql.SQL("SET LOCAL search_path TO {}, public").format(sql.Identifier(schema_name))
        )
        # One command per statement (Citus propagates DDL command by command), sent in
        # one pipeline so the round trips do not add up.
        raw = cursor.cursor
        with connection.connection.pipeline():
            for statement in statements:
                raw.execute(statement)
        # Back to what django-tenants expects for the rest of the transaction.
        cursor.execute("SET LOCAL search_path TO public")
