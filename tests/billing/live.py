"""Helpers for tests with committed rows and several threads, each with its own
database connection, as concurrent requests or workers would have."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection
from django_tenants.utils import schema_context


def run_together(schema: str, calls: list[Callable[[], Any]]) -> list[Any]:
    """Runs each call in its own thread, released at the same moment; returns each
    call's result or the exception it raised, in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def worker(index: int, call: Callable[[], Any]) -> None:
        try:
            with schema_context(schema):
                barrier.wait(timeout=30)
                results[index] = call()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results
