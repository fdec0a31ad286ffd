"""Tessera behind a real PgBouncer (Debian's package) in transaction pooling mode, one
server connection shared by every client: each tenant still sees only its own rows,
because the search path travels inside each transaction (config/db_backend/base.py)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection, connections
from django.test import Client
from django_tenants.utils import schema_context

from billing import services
from billing.money import Money
from config.db_backend.base import DatabaseWrapper

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def pgbouncer(live_db) -> Iterator[int]:
    """A PgBouncer in transaction mode in front of the test database, with one server
    connection for all its clients, so any session state would leak between them."""
    if not Path(PGBOUNCER).exists():
        pytest.fail("pgbouncer is not installed (apt-get install pgbouncer; .ci/run does)")
    db = connection.settings_dict
    port = _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="tessera-pgbouncer-"))
    (workdir / "users.txt").write_text(f'"{db.get("USER") or "postgres"}" ""\n')
    (workdir / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={db.get('HOST') or '127.0.0.1'} port={db.get('PORT') or 5432}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {workdir / 'users.txt'}\n"
        "pool_mode = transaction\n"
        "default_pool_size = 1\n"
        "max_client_conn = 100\n"
        # psycopg sends no such parameters by default; Django may set these.
        "ignore_startup_parameters = extra_float_digits,options\n"
    )
    workdir.chmod(0o755)
    for path in workdir.iterdir():
        path.chmod(0o644)
    # PgBouncer refuses to run as root; it drops to an unprivileged user if told.
    command = [PGBOUNCER, *(["-u", "nobody"] if os.geteuid() == 0 else []), "pgbouncer.ini"]
    process = subprocess.Popen(
        command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("pgbouncer did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def _pooled_settings(port: int) -> dict:
    settings_dict = dict(connections.settings["default"])
    settings_dict.update(
        HOST="127.0.0.1",
        PORT=port,
        TRANSACTION_POOLING=True,
        DISABLE_SERVER_SIDE_CURSORS=True,
        # Connections kept across requests, as in production: a session-level search
        # path would stay behind on the one server connection.
        CONN_MAX_AGE=600,
        OPTIONS={**settings_dict.get("OPTIONS", {}), "prepare_threshold": None},
    )
    return settings_dict


def _product_in(schema: str, name: str) -> None:
    with schema_context(schema):
        group = services.product_group_create(name="Hosting")
        product = services.product_create(group=group, name=name, type="shared_hosting")
        services.plan_create(
            product=product, name=f"{name} plan", prices={"monthly": Money(Decimal(5), "EUR")}
        )
    connection.set_schema_to_public()


def _names(wrapper: DatabaseWrapper, schema: str) -> set[str]:
    wrapper.set_schema(schema)
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT name FROM billing_product")
        return {row[0] for row in cursor.fetchall()}


def test_two_tenants_interleaved_on_one_server_connection_see_only_their_rows(
    pgbouncer, tenant_factory
):
    a = tenant_factory("Pooled A").tenant.schema_name
    b = tenant_factory("Pooled B").tenant.schema_name
    _product_in(a, "Alpha only")
    _product_in(b, "Beta only")
    first = DatabaseWrapper(_pooled_settings(pgbouncer), "pooled_a")
    second = DatabaseWrapper(_pooled_settings(pgbouncer), "pooled_b")
    try:
        for _ in range(3):
            # Statement by statement, alternating: both go through the same server
            # connection, each in its own autocommit transaction.
            assert _names(first, a) == {"Alpha only"}
            assert _names(second, b) == {"Beta only"}
        # And inside transactions, with a schema change in the middle of one.
        first.set_autocommit(False)
        assert _names(first, a) == {"Alpha only"}
        assert _names(first, b) == {"Beta only"}
        first.commit()
        first.set_autocommit(True)
        assert _names(second, b) == {"Beta only"}
        assert _names(first, a) == {"Alpha only"}
    finally:
        first.close()
        second.close()


def test_a_request_of_another_tenant_in_the_middle_of_one_changes_nothing_it_sees(
    pgbouncer, tenant_factory
):
    """Tenant A's request is held after its tenant is chosen, just before it reads the
    catalogue; tenant B's whole request runs on the same server connection meanwhile;
    then A's request goes on. A session-level search path would now be B's."""
    a = tenant_factory("Pooled Shop A")
    b = tenant_factory("Pooled Shop B")
    marker_a, marker_b = f"A-{uuid.uuid4().hex[:8]}", f"B-{uuid.uuid4().hex[:8]}"
    _product_in(a.tenant.schema_name, marker_a)
    _product_in(b.tenant.schema_name, marker_b)
    a_held, b_done = threading.Event(), threading.Event()

    def hold_once(execute, sql, params, many, context):
        if "billing_" in sql and not a_held.is_set():
            a_held.set()
            b_done.wait(timeout=60)
        return execute(sql, params, many, context)

    def get(host: str, hold: bool = False) -> str:
        try:
            if hold:
                # Outermost, so A holds no transaction (and no server connection) while
                # it waits: B's request gets the one server connection.
                connection.execute_wrappers.insert(0, hold_once)
            response = Client(HTTP_HOST=host).get("/store/hosting/")
            assert response.status_code == 200
            return response.content.decode()
        finally:
            if hold:
                connection.execute_wrappers.remove(hold_once)
            connections.close_all()

    original = connections.settings["default"]
    # Connections made from here on, in the request threads, go through PgBouncer.
    connections.settings["default"] = _pooled_settings(pgbouncer)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            page_a = pool.submit(get, a.domain.domain, True)
            assert a_held.wait(timeout=60), "A's request reached its catalogue"
            page_b = pool.submit(get, b.domain.domain).result()
            b_done.set()
            page_a = page_a.result()
    finally:
        b_done.set()
        connections.settings["default"] = original
    assert marker_b in page_b and marker_a not in page_b
    assert marker_a in page_a and marker_b not in page_a
