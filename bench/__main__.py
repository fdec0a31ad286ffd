"""``python -m bench [name ...]``: runs benchmarks against their own database.

Each benchmark prints a readable table and, as its last line, one JSON object
``{"bench": "<name>", ...figures}``. Figures that matter are ratios against a baseline
measured in the same run, because shared machines are noisy.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCHMARKS = ["tenants", "billing", "orders", "api"]
# Run only when named: thousands of tenants take the better part of an hour.
ON_REQUEST = ["scale"]


def _bench_database_url(url: str) -> str:
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "tessera"
    if not name.endswith("_bench"):
        name = f"{name}_bench"
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin_execute(url: str, *statements: str) -> None:
    import psycopg

    admin_url = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _fresh_database(url: str) -> None:
    """A new database for every run: benchmarks create and drop hundreds of schemas, and
    the dead catalogue rows they leave (where autovacuum is off or behind) would slow
    the next run down and make runs incomparable. A run that was interrupted leaves its
    database behind; it goes here."""
    name = _database_name(url)
    _admin_execute(
        url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
    )


def _drop_database(url: str) -> None:
    """Dropped when the run ends: nothing is left behind, and the tens of thousands of
    files it deletes are gone before the next run rather than at its start (creating files
    stays slow for a minute or two after such a deletion, and a clone creates hundreds)."""
    from django.db import connections

    connections.close_all()
    _admin_execute(url, f'DROP DATABASE IF EXISTS "{_database_name(url)}" WITH (FORCE)')


CLEANED_UP_AT = Path(__file__).resolve().parent.parent / ".local" / "bench-cleaned-up-at"
# ext4 without a journal will not reuse an inode freed in the last minute, so for about
# that long after tens of thousands of files were deleted, creating each new one means
# stepping over them: a run started right after another measured the deletion, at twice
# the clone's real cost. The previous run's clean-up is known; this waits it out.
SETTLE_SECONDS = 90


def _after_previous_cleanup() -> None:
    try:
        elapsed = time.time() - float(CLEANED_UP_AT.read_text())
    except (OSError, ValueError):
        return
    remaining = SETTLE_SECONDS - elapsed
    if remaining > 0:
        print(
            f"Waiting {remaining:.0f} s: the previous run deleted its database "
            f"{elapsed:.0f} s ago, and file creation is slow for a minute after that."
        )
        time.sleep(remaining)


def _cleaned_up_now() -> None:
    CLEANED_UP_AT.parent.mkdir(exist_ok=True)
    CLEANED_UP_AT.write_text(str(time.time()))


def main(names: list[str]) -> int:
    unknown = [name for name in names if name not in BENCHMARKS + ON_REQUEST]
    if unknown:
        known = ", ".join(BENCHMARKS + ON_REQUEST)
        print(f"Unknown benchmark(s): {', '.join(unknown)}. Known: {known}")
        return 2
    url = _bench_database_url(
        os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1/tessera")
    )
    _after_previous_cleanup()
    _fresh_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("setup_platform", verbosity=0)
    try:
        for name in names or BENCHMARKS:
            module = importlib.import_module(f"bench.{name}")
            module.run()
    finally:
        _drop_database(url)
        _cleaned_up_now()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
