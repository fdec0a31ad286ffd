"""The production stack cannot run here (no Docker engine), so its files are checked
against the project: every command they name must exist."""

import importlib
import shlex
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _check_command(argv: list[str]) -> None:
    program = argv[0]
    if program == "python" and argv[1] == "manage.py":
        assert argv[2] in get_commands(), f"no management command {argv[2]}"
    elif program == "gunicorn":
        module_name, attribute = argv[1].split(":")
        assert hasattr(importlib.import_module(module_name), attribute)
    elif program == "celery":
        assert argv[1] == "-A"
        app = importlib.import_module(argv[2])
        assert hasattr(app, "celery_app")
        assert argv[3] in {"worker", "beat"}
    elif program in {"redis-server", "pg_isready"}:
        pass  # provided by the official images
    else:
        pytest.fail(f"unexpected program in docker-compose.yml: {program}")


@pytest.mark.parametrize("service", sorted(COMPOSE["services"]))
def test_every_compose_command_exists(service):
    definition = COMPOSE["services"][service]
    command = definition.get("command")
    if command:
        _check_command(command if isinstance(command, list) else shlex.split(command))
    healthcheck = definition.get("healthcheck", {}).get("test")
    if healthcheck:
        _check_command(healthcheck[1:])
    for volume in definition.get("volumes", []):
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (ROOT / source).exists(), f"{service} mounts missing {source}"
    if definition.get("build"):
        assert (ROOT / definition["build"] / "Dockerfile").exists()


def test_stack_has_every_role():
    assert {"postgres", "redis", "web", "worker", "beat", "caddy"} <= set(COMPOSE["services"])


def test_caddy_asks_the_app_before_issuing_certificates():
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "on_demand" in caddyfile
    assert "ask http://web:8000/tls/ask" in caddyfile


def test_dockerfile_command_exists():
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("CMD "):
            import json

            _check_command(json.loads(line[4:]))


@pytest.mark.django_db
def test_tls_ask_allows_only_verified_hosts(tenant_a):
    from django.test import Client

    from tenants.models import Domain

    Domain.objects.create(
        domain="unverified.example.com", tenant=tenant_a.tenant, is_primary=False, is_verified=False
    )
    caddy = Client(HTTP_HOST="web:8000")
    assert caddy.get("/tls/ask", {"domain": tenant_a.host}).status_code == 200
    assert caddy.get("/tls/ask", {"domain": "unverified.example.com"}).status_code == 404
    assert caddy.get("/tls/ask", {"domain": "nobody.example.org"}).status_code == 404


@pytest.mark.django_db
def test_the_app_serves_its_own_static_files(tenant_a, platform_client):
    """Caddy only proxies: gunicorn (through WhiteNoise) must serve the console's styles,
    on the platform host and on a tenant's host alike."""
    from django.test import Client

    for browser in (platform_client, Client(HTTP_HOST=tenant_a.host)):
        response = browser.get("/static/admin/css/base.css")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/css")
