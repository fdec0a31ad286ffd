"""Requests per second of an authenticated list endpoint of the tenant API
(``GET /api/v1/clients/``, 50 per page: key lookup, scope, Redis rate limit, filters,
count and page queries, serializers) against a bare Django JSON view that returns the same
page with the same two queries and nothing else, both served by the same gunicorn, in the
same run, alternating rounds so that the machine's noise hits both alike.

Figures: ``rps`` (the API), ``baseline_rps`` (the bare view), ``ratio`` (their quotient;
the goal is at least 0.4) and ``p99_ms`` (the API's 99th percentile latency).

This module is also the URLconf the gunicorn workers run with: the tenant URLs plus the
bare view under /bench/baseline/ (``wsgi_application`` points ROOT_URLCONF here).
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECONDS = float(os.environ.get("BENCH_API_SECONDS", "8"))
ROUNDS = int(os.environ.get("BENCH_API_ROUNDS", "2"))
WORKERS = int(os.environ.get("BENCH_API_WORKERS", str(max(2, os.cpu_count() or 2))))
CONCURRENCY = int(os.environ.get("BENCH_API_CONCURRENCY", str(WORKERS * 2)))
CLIENTS = int(os.environ.get("BENCH_API_CLIENTS", "200"))
PAGE = 50
API_PATH = f"/api/v1/clients/?page_size={PAGE}"
BASELINE_PATH = f"/bench/baseline/?page_size={PAGE}"
FIELDS = ("public_id", "kind", "name", "company_name", "email", "country", "status")


# --- the server side: URLconf and WSGI entry point of the gunicorn workers ---------------


def baseline(request):
    """The same page of clients as the API returns, as plain Django would: two queries
    and a JsonResponse, no authentication, no framework."""
    from django.http import JsonResponse

    from billing.models import Client

    clients = Client.objects.order_by("name", "pk")
    rows = list(clients.values(*FIELDS)[:PAGE])
    for row in rows:
        row["id"] = str(row.pop("public_id"))
    return JsonResponse({"count": clients.count(), "results": rows})


def __getattr__(name: str):
    # Built on first use, inside a worker where Django is set up.
    if name == "urlpatterns":
        from django.urls import path

        from config.urls import urlpatterns as tenant_urlpatterns

        return [path("bench/baseline/", baseline), *tenant_urlpatterns]
    raise AttributeError(name)


_application = None


def wsgi_application(environ, start_response):
    global _application
    if _application is None:
        from django.conf import settings
        from django.core.wsgi import get_wsgi_application

        _application = get_wsgi_application()
        settings.ROOT_URLCONF = "bench.api"
    return _application(environ, start_response)


# --- the load side ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, host: str, path: str, token: str | None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Host": host}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


def _load(args: tuple) -> tuple[int, int, list[float]]:
    port, host, path, token, seconds = args
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    while True:
        started = time.perf_counter()
        if started >= deadline:
            break
        status = _get(port, host, path, token)
        latencies.append(time.perf_counter() - started)
        if status != 200:
            errors += 1
    return len(latencies), errors, latencies


def _measure(pool, port: int, host: str, path: str, token: str | None) -> dict:
    started = time.perf_counter()
    results = pool.map(_load, [(port, host, path, token, SECONDS)] * CONCURRENCY)
    elapsed = time.perf_counter() - started
    count = sum(r[0] for r in results)
    latencies = sorted(latency for r in results for latency in r[2])
    return {
        "requests": count,
        "errors": sum(r[1] for r in results),
        "rps": count / elapsed,
        "latencies": latencies,
    }


def _server(port: int) -> subprocess.Popen:
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE=os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.base"),
        LOG_LEVEL="WARNING",
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "bench.api:wsgi_application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WORKERS),
            "--worker-class",
            "sync",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )


def _wait_ready(server: subprocess.Popen, port: int, host: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("gunicorn exited at start")
        try:
            if _get(port, host, "/healthz", None) == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer within 60 s")


def _seed(host: str):
    from api.keys import api_key_create
    from billing.models import Client
    from tenants.services import tenant_create

    schema = f"bench_api_{uuid.uuid4().hex[:8]}"
    tenant_create(name="Bench API", hostname=host, schema_name=schema)
    from django_tenants.utils import schema_context

    with schema_context(schema):
        Client.objects.bulk_create(
            Client(
                name=f"Client {index:04d}",
                email=f"client{index}@bench.test",
                country="IT",
            )
            for index in range(CLIENTS)
        )
        token = api_key_create(
            name="bench", scopes=["clients:read"], rate_limit_per_minute=10**9
        ).token
    return schema, token


def _p99_ms(latencies: list[float]) -> float:
    from bench.report import percentile

    return round(percentile(latencies, 0.99) * 1000, 2)


def run() -> None:
    from django.db import connection

    from bench.report import print_report
    from tenants.models import Tenant

    host = f"bench-api-{uuid.uuid4().hex[:6]}.bench.test"
    schema, token = _seed(host)
    port = _free_port()
    server = _server(port)
    try:
        _wait_ready(server, port, host)
        assert _get(port, host, API_PATH, token) == 200, "the API refused the bench key"
        assert _get(port, host, BASELINE_PATH, None) == 200
        api_rounds, baseline_rounds = [], []
        with multiprocessing.get_context("spawn").Pool(CONCURRENCY) as pool:
            # Warm every worker (connections, imports) before measuring.
            pool.map(_load, [(port, host, API_PATH, token, 1.0)] * CONCURRENCY)
            pool.map(_load, [(port, host, BASELINE_PATH, None, 1.0)] * CONCURRENCY)
            for _ in range(ROUNDS):
                baseline_rounds.append(_measure(pool, port, host, BASELINE_PATH, None))
                api_rounds.append(_measure(pool, port, host, API_PATH, token))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        connection.set_schema_to_public()
        Tenant.objects.filter(schema_name=schema).first().delete(force_drop=True)

    rps = sum(r["rps"] for r in api_rounds) / len(api_rounds)
    baseline_rps = sum(r["rps"] for r in baseline_rounds) / len(baseline_rounds)
    api_latencies = sorted(lat for r in api_rounds for lat in r["latencies"])
    baseline_latencies = sorted(lat for r in baseline_rounds for lat in r["latencies"])
    errors = sum(r["errors"] for r in api_rounds + baseline_rounds)
    figures = {
        "rps": round(rps, 1),
        "baseline_rps": round(baseline_rps, 1),
        "ratio": round(rps / baseline_rps, 3),
        "p99_ms": _p99_ms(api_latencies),
        "baseline_p99_ms": _p99_ms(baseline_latencies),
        "errors": errors,
        "workers": WORKERS,
        "concurrency": CONCURRENCY,
        "seconds": SECONDS * ROUNDS,
        "page_size": PAGE,
    }
    print_report(
        "api",
        [
            ("endpoint", f"GET {API_PATH}"),
            ("baseline", f"GET {BASELINE_PATH} (bare Django JsonResponse)"),
            ("gunicorn sync workers / client processes", f"{WORKERS} / {CONCURRENCY}"),
            ("API requests per second", f"{rps:.1f}"),
            ("baseline requests per second", f"{baseline_rps:.1f}"),
            ("API / baseline (goal >= 0.4)", f"{rps / baseline_rps:.3f}"),
            ("API p99 (ms)", f"{figures['p99_ms']}"),
            ("baseline p99 (ms)", f"{figures['baseline_p99_ms']}"),
            ("non-200 answers", str(errors)),
        ],
        figures,
    )
