"""A task runs in the schema it was queued from, or not at all: when its tenant has gone
since, tenant-schemas-celery cannot switch, and the task must not run in whatever schema
the worker's connection happens to be in."""

from __future__ import annotations

import pytest
from django.db import connection

from config.celery import app

pytestmark = pytest.mark.django_db


@app.task(name="tests.schema_seen")
def schema_seen() -> str:
    return connection.schema_name


def test_a_task_runs_in_the_schema_it_was_queued_from(tenant_a):
    result = schema_seen.apply(headers={"_schema_name": tenant_a.tenant.schema_name})

    assert result.get() == tenant_a.tenant.schema_name


def test_a_task_whose_tenant_is_gone_does_not_run_anywhere(caplog):
    result = schema_seen.apply(headers={"_schema_name": "tenant_deleted_since"})

    assert result.get() is None
    assert "tenant_deleted_since, which has no tenant now" in caplog.text
    assert connection.schema_name == "public"
