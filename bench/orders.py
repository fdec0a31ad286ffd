"""Order → active latency through a real Celery worker: a client pays on a reseller's
storefront, the command goes upstream, the simulated panel (no delay) creates the account,
the result comes back and the service is active. Orders are placed one at a time so the
figure is latency, not queueing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context
from tqdm import tqdm

from bench.report import percentile, print_report
from billing.models import Service
from resale.onboarding import reseller_create
from tenants.models import Tenant

ORDERS = int(os.environ.get("BENCH_ORDERS", "100"))
ROOT = Path(__file__).resolve().parent.parent


def _worker(queue: str) -> subprocess.Popen:
    from config.celery import app

    env = dict(os.environ, CELERY_QUEUE=queue, LOG_LEVEL="WARNING")
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
            "--concurrency",
            "2",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"{queue}@bench",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if app.control.ping(destination=[f"{queue}@bench"], timeout=0.5):
            return process
    process.kill()
    raise RuntimeError("The benchmark's Celery worker did not start")


def run() -> None:
    from config.celery import app
    from tests.resale.flow import order_and_pay, resale_world_build

    run_id = uuid.uuid4().hex[:6]
    queue = f"bench-orders-{run_id}"
    app.conf.task_default_queue = queue
    worker = _worker(queue)
    latencies: list[float] = []
    checkout: list[float] = []
    schema = f"bo_{run_id}"
    try:
        created = reseller_create(
            name=f"Bench Orders {run_id}",
            hostname=f"bo-{run_id}.bench.test",
            admin_email=f"owner@bo-{run_id}.test",
            schema_name=schema,
        )
        world = resale_world_build(created, top_up=str(3 * ORDERS))
        for index in tqdm(range(ORDERS), desc="orders", unit="order"):
            ordered = time.perf_counter()
            service = order_and_pay(world, key=f"bench-{index}")
            # From the moment the payment is committed: the checkout itself is a web
            # request, timed apart.
            started = time.perf_counter()
            checkout.append(started - ordered)
            with schema_context(schema):
                while not Service.objects.filter(pk=service.pk, status="active").exists():
                    if time.perf_counter() - started > 30:
                        raise RuntimeError(f"Order {index} was not active after 30 s")
                    time.sleep(0.005)
            latencies.append(time.perf_counter() - started)
            connection.set_schema_to_public()
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(timeout=20)
        with app.connection_for_write() as conn:
            for name in (queue, f"{queue}-documents"):
                conn.default_channel.queue_purge(name)
        from tests.conftest import provider_rows_delete

        tenant = Tenant.objects.filter(schema_name=schema).first()
        if tenant is not None:
            provider_rows_delete(tenant)
            tenant.delete(force_drop=True)

    figures = {
        "orders": len(latencies),
        "p50_s": round(percentile(latencies, 0.50), 3),
        "p95_s": round(percentile(latencies, 0.95), 3),
        "max_s": round(max(latencies), 3),
        "checkout_p50_s": round(percentile(checkout, 0.50), 3),
    }
    print_report(
        "orders",
        [
            ("orders placed one at a time", str(len(latencies))),
            ("paid → active, p50 (s)", f"{figures['p50_s']:.3f}"),
            ("paid → active, p95 (s)", f"{figures['p95_s']:.3f}"),
            ("paid → active, max (s)", f"{figures['max_s']:.3f}"),
            ("checkout and payment request, p50 (s)", f"{figures['checkout_p50_s']:.3f}"),
            ("panel module", "simulated, zero latency"),
            ("worker", "real Celery worker, concurrency 2"),
            ("broker", settings.CELERY_BROKER_URL.split("@")[-1]),
        ],
        figures,
    )
