"""The database backend: django-tenants' (the search path follows the current tenant),
made safe behind a connection pooler in transaction mode.

PgBouncer with ``pool_mode = transaction`` (https://www.pgbouncer.org/config.html,
PgBouncer 1.18 as Debian ships it; https://www.pgbouncer.org/features.html lists what a
session setting does not survive) hands each transaction to whichever server connection
is free. django-tenants sets the search path once per connection with a session-level
``SET``, which then sticks to a server connection another client gets next: one tenant's
query would run in another tenant's schema. PgBouncer 1.20's ``track_extra_parameters``
could carry ``search_path``, but only from a ``SET`` sent outside a transaction, and
Debian's 1.18 has no such setting.

With ``DATABASES[...]["TRANSACTION_POOLING"]`` on (``DATABASE_TRANSACTION_POOLING=1``),
no session-level ``SET`` is sent. Instead every statement runs in a transaction that
starts with ``set_config('search_path', ..., true)`` (``SET LOCAL``): inside Django's
``atomic`` blocks once per transaction (again after a schema change or a rolled-back
savepoint), and a statement in autocommit gets a transaction of its own around it. The
settings also turn off what else needs a session: server-side cursors and psycopg's
prepared statements.

Each PostgreSQL backend caches the catalogue entries of every table it touched, and keeps
them until it ends: about half a megabyte per tenant schema, so a persistent connection
that serves many tenants grows without bound (the scale bench measured a backend of
1.7 GB after one minute of requests over 10,000 tenants, recycled only by
``CONN_MAX_AGE``). With ``DATABASES[...]["SCHEMAS_PER_CONNECTION"]``
(``DATABASE_SCHEMAS_PER_CONNECTION``) set, a connection that has used more tenant schemas
than that is closed where Django closes an obsolete one (the end of a request, between two
Celery tasks), never in the middle of one, and the next opens a fresh backend.
"""

from __future__ import annotations

import time
from typing import Any

from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper
from django_tenants.utils import quote_schema_name

SET_PATH = "SELECT set_config('search_path', %s, true)"


class DatabaseWrapper(TenantDatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.transaction_pooling = bool(self.settings_dict.get("TRANSACTION_POOLING"))
        # The search path set in the open transaction, if any.
        self._transaction_search_path: str | None = None
        self.schemas_per_connection = int(self.settings_dict.get("SCHEMAS_PER_CONNECTION") or 0)
        # The schemas this connection has used since it was opened.
        self._schemas_used: set[str] = set()
        if self.transaction_pooling:
            self.execute_wrappers.append(self._search_path_in_transaction)

    def connect(self) -> None:
        self._schemas_used = set()
        super().connect()

    def _cursor(self, name=None):
        cursor = super()._cursor(name=name)
        if self.schemas_per_connection and self.schema_name not in self._schemas_used:
            self._schemas_used.add(self.schema_name)
            if len(self._schemas_used) > self.schemas_per_connection:
                # Obsolete from now: close_if_unusable_or_obsolete() closes it at the end
                # of the request or task.
                self.close_at = time.monotonic()
        return cursor

    def _handle_search_path(self, cursor=None) -> None:
        if not self.transaction_pooling:
            super()._handle_search_path(cursor)

    def _search_path(self) -> str:
        return ",".join(quote_schema_name(name) for name in self._get_cursor_search_paths())

    def _search_path_in_transaction(self, execute, sql, params, many, context):
        raw = context["cursor"].cursor
        path = self._search_path()
        if not self.get_autocommit():
            if self._transaction_search_path != path:
                raw.execute(SET_PATH, [path])
                self._transaction_search_path = path
            return execute(sql, params, many, context)
        # Autocommit: the pooler may give each statement another server connection, so
        # the path and the statement go in one transaction.
        with self.connection.transaction():
            raw.execute(SET_PATH, [path])
            return execute(sql, params, many, context)

    # A transaction's end, or a savepoint rolled back, takes its SET LOCAL with it.
    def _commit(self) -> None:
        self._transaction_search_path = None
        super()._commit()

    def _rollback(self) -> None:
        self._transaction_search_path = None
        super()._rollback()

    def _savepoint_rollback(self, sid) -> None:
        self._transaction_search_path = None
        super()._savepoint_rollback(sid)

    def _set_autocommit(self, autocommit: bool) -> None:
        self._transaction_search_path = None
        super()._set_autocommit(autocommit)

    def close(self) -> None:
        self._transaction_search_path = None
        self._schemas_used = set()
        super().close()
