"""What `manage.py` learns from the development stack without any URL being set: the
port and the stand-ins of a `make run` in progress, never over what the environment
says; and the port `make run` serves on when 8000 is taken."""

from __future__ import annotations

import json
import socket

from config import devstack


def test_manage_py_reads_the_running_make_run_without_overriding_the_environment(
    tmp_path, monkeypatch
):
    port_file = tmp_path / "run-port"
    env_file = tmp_path / "sandbox" / "env.json"
    env_file.parent.mkdir()
    port_file.write_text("8123")
    env_file.write_text(
        json.dumps({"STRIPE_API_BASE": "http://127.0.0.1:4242", "SIMULATED_PANEL_URL": "x"})
    )
    monkeypatch.setattr(devstack, "RUN_PORT_FILE", port_file)
    monkeypatch.setattr(devstack, "STANDINS_ENV_FILE", env_file)
    environ = {
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/elsewhere",
        "REDIS_URL": "redis://127.0.0.1:6379/3",
        "SIMULATED_PANEL_URL": "https://panel.example",
    }
    devstack.environ_fill(environ)
    assert environ == {
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/elsewhere",
        "REDIS_URL": "redis://127.0.0.1:6379/3",
        "SIMULATED_PANEL_URL": "https://panel.example",
        "TESSERA_URL_PORT": "8123",
        "STRIPE_API_BASE": "http://127.0.0.1:4242",
    }
    # No `make run` in progress: nothing but what was there.
    port_file.unlink()
    env_file.unlink()
    environ = {"DATABASE_URL": "postgresql://db/x", "REDIS_URL": "redis://r/0"}
    devstack.environ_fill(environ)
    assert environ == {"DATABASE_URL": "postgresql://db/x", "REDIS_URL": "redis://r/0"}


def test_make_run_takes_port_or_the_first_free_port(monkeypatch):
    assert devstack.run_port({"PORT": "8765"}) == 8765
    first = devstack.run_port({})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", first))
        taken.listen()
        assert devstack.run_port({}) > first
