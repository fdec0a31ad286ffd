"""``python -m bench [name ...]``: runs benchmarks against their own database.

Each benchmark prints a readable table and, as its last line, one JSON object
``{"bench": "<name>", ...figures}``. Figures that matter are ratios against a baseline
measured in the same run, because shared machines are noisy.
"""

from __future__ import annotations

import importlib
import os
import sys
from urllib.parse import urlsplit, urlunsplit

BENCHMARKS = ["tenants", "billing", "orders", "api"]


def _bench_database_url(url: str) -> str:
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "tessera"
    if not name.endswith("_bench"):
        name = f"{name}_bench"
    return urlunsplit(parts._replace(path=f"/{name}"))


def _fresh_database(url: str) -> None:
    """A new database for every run: benchmarks create and drop hundreds of schemas, and
    the dead catalogue rows they leave (where autovacuum is off or behind) would slow
    the next run down and make runs incomparable."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main(names: list[str]) -> int:
    url = _bench_database_url(
        os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1/tessera")
    )
    _fresh_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("setup_platform", verbosity=0)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"Unknown benchmark(s): {', '.join(unknown)}. Known: {', '.join(BENCHMARKS)}")
        return 2
    for name in names or BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        module.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
