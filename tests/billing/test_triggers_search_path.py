"""The database guards of issued documents read the tables of the row's own schema
(``TG_TABLE_SCHEMA``), not whatever the search path finds first: on a Citus worker the
search path is not the tenant's. Here another schema on the path holds a
``billing_invoice`` that says the opposite of the tenant's."""

from __future__ import annotations

import re
import uuid

import psycopg
import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from psycopg import sql

from tests.billing.conftest import eur, invoice_for


@pytest.fixture
def decoy_schema(shop):
    """A schema whose ``billing_invoice`` has every id, with the status given per test."""
    name = f"decoy_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        cursor.execute(
            sql.SQL("CREATE TABLE {}.billing_invoice (id bigint, status text)").format(
                sql.Identifier(name)
            )
        )
    return name


def _decoy(schema: str, invoice_id: int, status: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("INSERT INTO {}.billing_invoice VALUES (%s, %s)").format(
                sql.Identifier(schema)
            ),
            [invoice_id, status],
        )


def _update_line(tenant_schema: str, decoy: str, line_id: int):
    """Updates one line of the tenant, qualified, with only the decoy on the path."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SHOW search_path")
        previous = cursor.fetchone()[0]
        cursor.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(decoy)))
        cursor.execute(
            sql.SQL(
                "UPDATE {}.billing_invoiceline SET description = 'changed' WHERE id = %s"
            ).format(sql.Identifier(tenant_schema)),
            [line_id],
        )
        # The test's transaction outlives this block: the tenant's path comes back.
        cursor.execute("SELECT set_config('search_path', %s, true)", [previous])


def test_an_issued_invoice_line_stays_frozen_whatever_the_search_path(shop, decoy_schema):
    invoice = invoice_for(shop.client, ("Hosting", eur(10)))
    line = invoice.lines.get()
    # The decoy says the invoice is a draft: an unqualified lookup would let the edit in.
    _decoy(decoy_schema, invoice.pk, "draft")
    with pytest.raises(DatabaseError) as caught:
        _update_line(connection.schema_name, decoy_schema, line.pk)
    assert isinstance(caught.value.__cause__, psycopg.errors.RestrictViolation)


def test_a_draft_invoice_line_can_change_whatever_the_search_path(shop, decoy_schema):
    invoice = invoice_for(shop.client, ("Hosting", eur(10)), issue=False)
    line = invoice.lines.get()
    # The decoy says the invoice is issued: an unqualified lookup would refuse the edit.
    _decoy(decoy_schema, invoice.pk, "issued")
    _update_line(connection.schema_name, decoy_schema, line.pk)
    line.refresh_from_db()
    assert line.description == "changed"


def test_no_trigger_function_names_a_table_without_its_schema(shop):
    """Every function a tenant's trigger calls reaches tables through TG_TABLE_SCHEMA (or
    names none): a static check over the functions' bodies."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT p.proname, p.prosrc FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_proc p ON p.oid = t.tgfoid WHERE n.nspname = %s AND NOT t.tgisinternal",
            [connection.schema_name],
        )
        functions = cursor.fetchall()
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v')",
            [connection.schema_name],
        )
        tables = {row[0] for row in cursor.fetchall()}
    assert {name for name, _ in functions} >= {"billing_invoice_line_frozen", "audit_append_only"}
    for name, body in functions:
        named = re.findall(r"\b(?:FROM|JOIN|UPDATE|INTO|TABLE)\s+([A-Za-z_][\w]*)\b", body)
        assert not set(named) & tables, f"{name} names {set(named) & tables} unqualified"
