"""Thousands of tenants on one PostgreSQL: ``make bench BENCH=scale`` (``BENCH_TENANTS``,
default 1,000; the issue's full run is 10,000).

With N tenants it measures: creating a tenant with the pool of pre-cloned schemas
(against cloning, the baseline, measured in the same run), a no-op ``setup_platform``
(against the same with no tenants), a migration adding one column to a tenant table
across all of them (a throwaway migration only this run applies), one idle sweep of
every periodic task in the beat schedule (run inline, the tenant fan-out included, as
the workers would run it), the home page's p50 on the first and the last tenant's host,
and the peak RSS of a web process and of a Celery worker after each touched every
tenant. The issue's goals are printed beside the figures; nothing is asserted.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

from celery.signals import task_prerun
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from django.utils.module_loading import import_string
from django_tenants.migration_executors.standard import StandardExecutor
from tqdm import tqdm

from bench.report import median, print_report
from bench.throwaway import migration_added
from config.celery import app
from tenants.deploys import migrate_options
from tenants.models import Domain, Tenant
from tenants.pool import pool_fill
from tenants.services import tenant_create

TENANTS = int(os.environ.get("BENCH_TENANTS", "1000"))
CLONE_BASELINE = int(os.environ.get("BENCH_CLONE_BASELINE", "20"))
STANDARD_BASELINE = int(os.environ.get("BENCH_STANDARD_BASELINE", "5"))
HOME_REQUESTS = int(os.environ.get("BENCH_HOME_REQUESTS", "50"))
# Tenants are made in batches: the pool is filled with a batch (what the background
# refill does between creations), then each creation of the batch is timed.
BATCH = 50
ROOT = Path(__file__).resolve().parent.parent

GOALS = {
    1000: {
        "setup_noop_s": "<= 5 s",
        "sweep_s": "<= 1 s",
        "create_pool_median_s": "<= 0.05 s",
        "home_last_vs_first": "within 20 %",
    },
    10000: {"setup_noop_s": "<= 10 s", "migrate_one_column_s": "<= 600 s"},
}


def _goal(key: str) -> str:
    scale = 10000 if TENANTS >= 10000 else 1000
    return GOALS[scale].get(key) or GOALS[1000].get(key, "")


def _timed(function, *args, **kwargs) -> float:
    started = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - started


def _setup_platform() -> float:
    return _timed(call_command, "setup_platform", verbosity=0, stdout=io.StringIO())


def _setup_platform_process() -> float:
    """The command as a deploy runs it: a process of its own, Python's start included."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "manage.py", "setup_platform", "--verbosity", "0"],
        cwd=ROOT,
        env=dict(os.environ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def _standard_noop_per_tenant() -> float:
    """The baseline: django-tenants' own executor (Django's migrate in each schema) on a
    few tenants with nothing to apply, per tenant."""
    schemas = list(
        Tenant.objects.exclude(schema_name="public")
        .order_by("-created_at")
        .values_list("schema_name", flat=True)[:STANDARD_BASELINE]
    )
    executor = StandardExecutor([], migrate_options(verbosity=0))
    with contextlib.redirect_stdout(io.StringIO()):
        elapsed = _timed(executor.run_migrations, tenants=schemas)
    connection.set_schema_to_public()
    return elapsed / len(schemas)


def _create(run_id: str, index: int) -> float:
    schema = f"s{run_id}_{index}"
    return _timed(
        tenant_create,
        name=f"Scale {index}",
        hostname=f"{schema.replace('_', '-')}.scale.test",
        schema_name=schema,
    )


def _tenants_made(run_id: str) -> tuple[list[float], list[float]]:
    """N tenants through the pool, and the cloning baseline; returns both timings."""
    pooled: list[float] = []
    cloned: list[float] = []
    for index in tqdm(range(CLONE_BASELINE), desc="clone (baseline)", unit="tenant"):
        cloned.append(_create(run_id, index))
    bar = tqdm(total=TENANTS, desc="create (pool)", unit="tenant")
    index = CLONE_BASELINE
    while index < TENANTS + CLONE_BASELINE:
        batch = min(BATCH, TENANTS + CLONE_BASELINE - index)
        pool_fill(size=batch)
        for _ in range(batch):
            pooled.append(_create(run_id, index))
            index += 1
            bar.update(1)
    bar.close()
    return pooled, cloned


def _sweep() -> tuple[float, dict[str, float], int]:
    """Every beat entry once, with its tasks run inline where a worker would run them."""
    runs: Counter[str] = Counter()

    def counted(sender=None, **kwargs) -> None:
        runs[sender.name] += 1

    task_prerun.connect(counted, weak=False)
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    per_entry: dict[str, float] = {}
    try:
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
            task = import_string(entry["task"])
            connection.set_schema_to_public()
            try:
                per_entry[name] = _timed(task.apply)
            except Exception as exc:  # a sweep that fails is reported, the others run
                print(f"{name}: {type(exc).__name__}: {exc}")
                per_entry[name] = float("nan")
    finally:
        app.conf.task_always_eager = previous
        task_prerun.disconnect(counted)
        connection.set_schema_to_public()
    return sum(per_entry.values()), per_entry, sum(runs.values())


def _home_p50s(first: str, last: str) -> tuple[float, float]:
    """The home page's p50 on two tenants' hosts, their requests taken in turn, so that
    the process warming up, the machine's load and its changes weigh on both alike
    (measured one after the other, the first tenant came out at 83 ms against the last
    one's 55 ms at 1,020 tenants)."""
    clients = [Client(HTTP_HOST=host) for host in (first, last)]
    for client in clients:
        client.get("/")
    times: list[list[float]] = [[], []]
    for _ in range(HOME_REQUESTS):
        for client, taken in zip(clients, times, strict=True):
            started = time.perf_counter()
            response = client.get("/")
            taken.append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code
    connection.set_schema_to_public()
    return median(times[0]), median(times[1])


def _probe(kind: str, queue: str) -> dict:
    """Peak RSS of a web process or a worker after it touched every tenant
    (``bench.scale_probe``)."""
    env = dict(os.environ, CELERY_QUEUE=queue)
    result = subprocess.run(
        [sys.executable, "-m", "bench.scale_probe", kind],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def run() -> None:
    # No refill task is queued (by a creation or a deploy): this run fills the pool itself,
    # and no worker of its own would take them.
    with override_settings(TENANT_POOL_SIZE=0):
        _run()


def _run() -> None:
    run_id = uuid.uuid4().hex[:5]
    setup_empty = _setup_platform()
    pooled, cloned = _tenants_made(run_id)
    tenants = Tenant.objects.exclude(schema_name="public").count()

    setup_noop = min(_setup_platform() for _ in range(3))
    standard_per_tenant = _standard_noop_per_tenant()

    operations = 'migrations.AddField("auditentry", "scale_probe", models.IntegerField(null=True))'
    with migration_added(app_label="audit", name="9900_scale_probe", operations=operations):
        migrate_one_column = _setup_platform()
        setup_after = _setup_platform()
    # The forked migration workers are the only children so far.
    migration_worker_rss = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    # The throwaway migration is gone from the code again, so every tenant's recorded state
    # is behind it, as after a deploy rolled back: one run brings them to the code's state
    # (timed: what such a roll-back costs), and only then is the process below a no-op
    # (measured straight after the block, it visited every tenant).
    migrate_back = _setup_platform()
    setup_noop_process = _setup_platform_process()

    sweep_total, sweep_entries, sweep_tasks = _sweep()

    hosts = list(
        Domain.objects.filter(tenant__schema_name__startswith=f"s{run_id}_")
        .order_by("tenant__created_at")
        .values_list("domain", flat=True)
    )
    home_first, home_last = _home_p50s(hosts[0], hosts[-1])

    queue = f"bench-scale-{run_id}"
    web = _probe("web", queue)
    worker = _probe("worker", queue)

    create_pool = median(pooled)
    create_clone = median(cloned)
    figures = {
        "tenants": tenants,
        "create_pool_median_s": round(create_pool, 4),
        "create_clone_median_s": round(create_clone, 4),
        "create_clone_vs_pool": round(create_clone / create_pool, 1),
        "setup_empty_s": round(setup_empty, 3),
        "setup_noop_s": round(setup_noop, 3),
        "setup_noop_process_s": round(setup_noop_process, 2),
        "standard_noop_per_tenant_s": round(standard_per_tenant, 3),
        "standard_noop_estimate_s": round(standard_per_tenant * tenants, 1),
        "standard_estimate_vs_noop": round(standard_per_tenant * tenants / setup_noop, 1),
        "migrate_one_column_s": round(migrate_one_column, 2),
        "migrate_one_column_per_tenant_ms": round(1000 * migrate_one_column / tenants, 2),
        "setup_noop_after_migration_s": round(setup_after, 3),
        "migrate_back_s": round(migrate_back, 2),
        "migration_workers": settings.TENANT_MIGRATION_WORKERS,
        "migration_worker_peak_rss_mb": migration_worker_rss,
        "sweep_s": round(sweep_total, 3),
        "sweep_tasks_run": sweep_tasks,
        "sweep_entries_s": {name: round(value, 3) for name, value in sweep_entries.items()},
        "home_first_p50_ms": round(1000 * home_first, 2),
        "home_last_p50_ms": round(1000 * home_last, 2),
        "home_last_vs_first": round(home_last / home_first, 3),
        "web_peak_rss_mb": web["peak_rss_mb"],
        "web_db_backend_peak_rss_mb": web.get("db_backend_peak_rss_mb"),
        "web_db_backends": web.get("db_backends"),
        "worker_peak_rss_mb": worker["peak_rss_mb"],
        "worker_tasks": worker["tasks"],
    }

    def row(label: str, value: str, goal: str = "") -> tuple[str, str]:
        return label, f"{value:<14} {('goal ' + goal) if goal else ''}".rstrip()

    rows = [
        row("tenants", str(tenants)),
        row(
            "create, with the pool, median (s)", f"{create_pool:.4f}", _goal("create_pool_median_s")
        ),
        row(f"create by clone, median of {CLONE_BASELINE} (s)", f"{create_clone:.4f}"),
        row("clone / pool", f"{create_clone / create_pool:.1f}x"),
        row("setup_platform, no tenants (s)", f"{setup_empty:.3f}"),
        row("setup_platform no-op (s)", f"{setup_noop:.3f}", _goal("setup_noop_s")),
        row("  the same as a process (s)", f"{setup_noop_process:.2f}"),
        row(
            f"  baseline: django-tenants' executor, per tenant ({STANDARD_BASELINE})",
            f"{standard_per_tenant:.3f} s",
        ),
        row(
            "  baseline x tenants / no-op",
            f"{standard_per_tenant * tenants:.0f} s, "
            f"{standard_per_tenant * tenants / setup_noop:.0f}x",
        ),
        row(
            "one-column migration, all tenants (s)",
            f"{migrate_one_column:.2f}",
            _goal("migrate_one_column_s"),
        ),
        row(
            "  per tenant, public and template included (ms)",
            f"{1000 * migrate_one_column / tenants:.2f}",
        ),
        row("  the same migration gone again, all tenants (s)", f"{migrate_back:.2f}"),
        row("  migration workers", str(settings.TENANT_MIGRATION_WORKERS)),
        row("  a migration worker's peak RSS (MB)", f"{migration_worker_rss}"),
        row("idle sweep, every periodic task (s)", f"{sweep_total:.3f}", _goal("sweep_s")),
        row("  tasks run by one sweep", str(sweep_tasks)),
        *[row(f"  {name} (s)", f"{value:.3f}") for name, value in sweep_entries.items()],
        row("home page p50, first tenant (ms)", f"{1000 * home_first:.2f}"),
        row("home page p50, last tenant (ms)", f"{1000 * home_last:.2f}"),
        row("last / first", f"{home_last / home_first:.3f}", _goal("home_last_vs_first")),
        row("web process peak RSS (MB)", f"{web['peak_rss_mb']}"),
        row("  its database backends, the largest (MB)", f"{web.get('db_backend_peak_rss_mb')}"),
        row("  database backends it used", f"{web.get('db_backends')}"),
        row("worker process peak RSS (MB)", f"{worker['peak_rss_mb']}"),
    ]
    print_report("scale", rows, figures)
