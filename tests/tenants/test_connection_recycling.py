"""A persistent connection that has used more tenant schemas than
``SCHEMAS_PER_CONNECTION`` is closed where Django closes an obsolete connection (the end of
a request, between two Celery tasks), never in the middle of one, so no PostgreSQL backend
keeps the catalogue entries of thousands of schemas (config/db_backend/base.py). The scale
bench measures what that saves."""

from __future__ import annotations

from django.db import close_old_connections, connection
from django.test import Client

from config.db_backend.base import DatabaseWrapper


def _wrapper(limit: int) -> DatabaseWrapper:
    settings = {**connection.settings_dict, "CONN_MAX_AGE": None, "SCHEMAS_PER_CONNECTION": limit}
    return DatabaseWrapper(settings, "recycled")


def _backend(wrapper: DatabaseWrapper, schema: str) -> int:
    wrapper.set_schema(schema)
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_connection_is_recycled_after_its_share_of_schemas(live_db):
    wrapper = _wrapper(3)
    try:
        first = _backend(wrapper, "public")
        _backend(wrapper, "tenant_one")
        _backend(wrapper, "tenant_two")
        # Three schemas is its share: the end of the request keeps it.
        wrapper.close_if_unusable_or_obsolete()
        assert _backend(wrapper, "public") == first
        # A fourth: the connection serves on until the request ends...
        assert _backend(wrapper, "tenant_three") == first
        assert _backend(wrapper, "tenant_one") == first
        # ...and is closed there; the next one is a fresh backend with a fresh count.
        wrapper.close_if_unusable_or_obsolete()
        assert wrapper.connection is None
        second = _backend(wrapper, "tenant_four")
        assert second != first
        for schema in ("public", "tenant_one"):
            _backend(wrapper, schema)
        wrapper.close_if_unusable_or_obsolete()
        assert _backend(wrapper, "public") == second
    finally:
        wrapper.close()


def test_without_a_share_a_connection_lives_by_its_age_alone(live_db):
    wrapper = _wrapper(0)
    try:
        first = _backend(wrapper, "public")
        for index in range(20):
            _backend(wrapper, f"tenant_{index}")
        wrapper.close_if_unusable_or_obsolete()
        assert _backend(wrapper, "public") == first
    finally:
        wrapper.close()


def test_requests_to_many_tenants_get_a_fresh_backend_past_the_share(tenant_factory):
    """Through Django's request handler, as a web process serves: the request that takes
    the connection past its share ends with it closed, and the next opens another."""
    hosts = [tenant_factory(f"Recycled {index}").domain.domain for index in range(3)]
    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = None
    connection.schemas_per_connection = 2
    try:
        backends = []
        for host in hosts:
            assert Client(HTTP_HOST=host).get("/").status_code == 200
            # What a WSGI server's request_finished runs (Django's test client leaves it out).
            close_old_connections()
            raw = connection.connection
            backends.append(raw.info.backend_pid if raw is not None else None)
        # public and the first tenant are the share of two; the second tenant's request
        # took the connection past it and closed it at its end; the third opened another.
        assert backends[0] is not None and backends[1] is None
        assert backends[2] is not None and backends[2] != backends[0]
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = 0
        connection.schemas_per_connection = 0
        connection.close()
