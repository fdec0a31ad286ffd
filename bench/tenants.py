"""How long creating a tenant takes: by cloning the template (what Tessera does) against
replaying every migration (the baseline), with N tenants already present."""

from __future__ import annotations

import os
import time
import uuid

from django.core.management import call_command
from django.db import connection
from tqdm import tqdm

from bench.report import median, print_report
from tenants.models import Tenant
from tenants.services import tenant_create

TENANTS = int(os.environ.get("BENCH_TENANTS", "200"))
MIGRATED = int(os.environ.get("BENCH_MIGRATED", "3"))


def _create_by_migration(schema: str) -> float:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema}"')
    call_command("migrate_schemas", schema_name=schema, interactive=False, verbosity=0)
    connection.set_schema_to_public()
    return time.perf_counter() - started


def run() -> None:
    run_id = uuid.uuid4().hex[:6]
    clone_times: list[float] = []
    migrate_times: list[float] = []
    made: list[str] = []
    try:
        for index in tqdm(range(TENANTS), desc="clone", unit="tenant"):
            schema = f"bench_{run_id}_{index}"
            started = time.perf_counter()
            tenant_create(
                name=f"Bench {index}",
                hostname=f"{schema}.bench.test".replace("_", "-"),
                schema_name=schema,
            )
            clone_times.append(time.perf_counter() - started)
            made.append(schema)
        for index in tqdm(range(MIGRATED), desc="migrate", unit="tenant"):
            schema = f"bench_{run_id}_m{index}"
            made.append(schema)
            migrate_times.append(_create_by_migration(schema))
    finally:
        for schema in tqdm(made, desc="clean up", unit="schema"):
            with connection.cursor() as cursor:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        Tenant.objects.filter(schema_name__startswith=f"bench_{run_id}_").delete()

    clone_median = median(clone_times)
    migrate_median = median(migrate_times)
    last_50 = median(clone_times[-50:])
    figures = {
        "tenants": TENANTS,
        "clone_median_s": round(clone_median, 4),
        "clone_median_last50_s": round(last_50, 4),
        "migrate_median_s": round(migrate_median, 4),
        "ratio": round(migrate_median / clone_median, 1),
    }
    print_report(
        "tenants",
        [
            ("tenants created by clone", str(TENANTS)),
            ("median clone (s)", f"{clone_median:.4f}"),
            ("median clone, last 50 (s)", f"{last_50:.4f}"),
            (f"median migrate, {MIGRATED} tenants (s)", f"{migrate_median:.4f}"),
            ("migrate / clone", f"{migrate_median / clone_median:.1f}x"),
        ],
        figures,
    )
