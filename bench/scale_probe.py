"""``python -m bench.scale_probe web|worker``: the peak memory of a process that touched
every tenant, for ``bench.scale``. Prints one JSON line.

- ``web``: this process serves the home page of every tenant through Django's request
  handler (middleware, tenant routing, templates), with the connection settings of
  production (a connection kept across requests, recycled by its age and its share of
  schemas as a WSGI server's end of request does), then reports its own peak RSS, the
  highest of its database backends' and how many backends it used;
- ``worker``: a real Celery worker (solo pool, so one process does all the work) on the
  queue named by ``CELERY_QUEUE`` runs the outbox relay in every tenant's schema; its
  peak RSS is read when all are done.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _peak_rss_mb(pid: int | str = "self") -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _schemas() -> list[str]:
    from tenants.models import Tenant

    return list(
        Tenant.objects.exclude(schema_name="public")
        .order_by("created_at")
        .values_list("schema_name", flat=True)
    )


def web() -> dict:
    from django.db import close_old_connections, connection
    from django.test import Client

    from tenants.models import Domain

    hosts = list(
        Domain.objects.exclude(tenant__schema_name="public")
        .filter(is_primary=True)
        .values_list("domain", flat=True)
    )
    statuses: dict[int, int] = {}
    backends: set[int] = set()
    backend_peak = 0.0
    for host in hosts:
        status = Client(HTTP_HOST=host).get("/").status_code
        statuses[status] = statuses.get(status, 0) + 1
        raw = connection.connection
        if raw is not None:
            backends.add(raw.info.backend_pid)
            backend_peak = max(backend_peak, _peak_rss_mb(raw.info.backend_pid) or 0.0)
        # What a WSGI server's request_finished runs, and Django's test client leaves out:
        # a connection past its age or its share of schemas is closed here.
        close_old_connections()
    return {
        "hosts": len(hosts),
        "statuses": statuses,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "db_backend_peak_rss_mb": backend_peak,
        "db_backends": len(backends),
    }


def worker() -> dict:
    from django_tenants.utils import schema_context

    from config.celery import app
    from resale.tasks import upstream_commands_relay_task

    queue = os.environ["CELERY_QUEUE"]
    name = f"{queue}@bench"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queue,
            "--pool",
            "solo",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
            "--hostname",
            name,
        ],
        cwd=ROOT,
        env=dict(os.environ),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not app.control.ping(destination=[name], timeout=0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the bench's worker did not start")
        results = []
        for schema_name in _schemas():
            with schema_context(schema_name):
                results.append(upstream_commands_relay_task.apply_async(queue=queue))
        for result in results:
            result.get(timeout=600)
        return {"tasks": len(results), "peak_rss_mb": _peak_rss_mb(process.pid)}
    finally:
        process.terminate()
        process.wait(timeout=60)


def main(kind: str) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    import django

    django.setup()
    figures = web() if kind == "web" else worker()
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
