"""The stand-ins `make run` starts: one for each outside system that has no real one
configured, each named with its URL; none where the real service is configured; never
under the production settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from provisioning.modules.base import ServerConnection
from provisioning.modules.simulated import SimulatedModule
from provisioning.registrars.epp import EppRegistrar
from provisioning.registrars.simulated import SimulatedRegistrar
from sandbox.launcher import (
    DEMO_TLDS,
    STRIPE_PLATFORM_KEY,
    StandinsRefused,
    standins_start,
)
from tests.provisioning.conftest import REDIS_URL, new_spec

ROOT = Path(__file__).resolve().parents[2]


def _get(url: str) -> httpx.Response:
    with httpx.Client(trust_env=False, timeout=5) as client:
        return client.get(url)


def test_with_nothing_configured_every_outside_system_gets_a_stand_in(tmp_path):
    with standins_start({"REDIS_URL": REDIS_URL}, state_dir=tmp_path) as standins:
        names = [s.name for s in standins.started]
        assert names == [
            "Stripe",
            "RDAP",
            "simulated panel",
            "simulated registrar",
            "EPP registry",
            "VIES",
        ]
        assert standins.real == []
        described = "\n".join(standins.describe())
        for standin in standins.started:
            assert standin.url.startswith(("http://127.0.0.1:", "epp://127.0.0.1:"))
            assert standin.url in described
        env = standins.env
        assert env["TESSERA_SANDBOX"] == "1"
        assert env["STRIPE_SECRET_KEY"] == STRIPE_PLATFORM_KEY
        # The app's Stripe client talks to the stand-in, which knows the platform key.
        account = _get_with_key(env["STRIPE_API_BASE"] + "/v1/account", STRIPE_PLATFORM_KEY)
        assert account.status_code == 200 and account.json()["object"] == "account"
        # RDAP: the bootstrap the app reads sends the demo TLDs to the local server.
        bootstrap = json.loads(Path(env["RDAP_BOOTSTRAP_FILE"]).read_text())
        ((tlds, (base,)),) = bootstrap["services"]
        assert set(tlds) == set(DEMO_TLDS)
        assert _get(f"{base}domain/example.com").status_code == 200
        assert _get(f"{base}domain/surely-free-{uuid.uuid4().hex[:8]}.com").status_code == 404
        assert _get(env["SIMULATED_PANEL_URL"] + "/").status_code == 200
        assert _get(env["SIMULATED_PANEL_URL"] + "/registrar/").status_code == 200
        # EPP: the registry the app registers domains with, over TLS with its own CA.
        epp = EppRegistrar(
            ServerConnection(
                hostname=env["EPP_HOST"],
                port=int(env["EPP_PORT"]),
                username=env["EPP_USERNAME"],
                secret=env["EPP_PASSWORD"],
                timeout_s=10,
                extra={"cafile": env["EPP_CAFILE"]},
            )
        )
        with epp:
            assert [a.available for a in epp.check(["example.com", "fresh-demo.dev"])] == [
                False,
                True,
            ]
        # VIES: the app's check of VAT numbers asks the stand-in.
        assert env["VIES_URL"].startswith("http://127.0.0.1:")
    # Leaving the block stops them.
    with pytest.raises(httpx.ConnectError):
        _get(env["SIMULATED_PANEL_URL"] + "/")


def _get_with_key(url: str, key: str) -> httpx.Response:
    with httpx.Client(trust_env=False, timeout=5) as client:
        return client.get(url, headers={"Authorization": f"Bearer {key}"})


def test_configured_real_services_get_no_stand_in(tmp_path):
    environ = {
        "REDIS_URL": REDIS_URL,
        "STRIPE_SECRET_KEY": "sk_live_configured",
        "RDAP_BASE_URL": "https://rdap.registrar.example/",
        "SIMULATED_PANEL_URL": "https://panel.example",
        "VIES_URL": "https://vies.example/checkVatService",
        "EPP_HOST": "epp.registry.example",
    }
    with standins_start(environ, state_dir=tmp_path) as standins:
        assert standins.started == []
        assert "STRIPE_API_BASE" not in standins.env
        assert "STRIPE_SECRET_KEY" not in standins.env
        assert "TESSERA_SANDBOX" not in standins.env
        assert "VIES_URL" not in standins.env
        assert "EPP_PORT" not in standins.env
        assert len(standins.real) == 5
        bootstrap = json.loads(Path(standins.env["RDAP_BOOTSTRAP_FILE"]).read_text())
        assert bootstrap["services"][0][1] == ["https://rdap.registrar.example/"]
    with standins_start(
        {"REDIS_URL": REDIS_URL, "RDAP_BOOTSTRAP_FILE": "data/rdap/dns.json"}, state_dir=tmp_path
    ) as standins:
        assert [s.name for s in standins.started] == [
            "Stripe",
            "simulated panel",
            "simulated registrar",
            "EPP registry",
            "VIES",
        ]
        assert "RDAP_BOOTSTRAP_FILE" not in standins.env


def test_stand_ins_are_refused_under_the_production_settings(tmp_path):
    environ = {"REDIS_URL": REDIS_URL, "DJANGO_SETTINGS_MODULE": "config.settings.production"}
    with pytest.raises(StandinsRefused):
        standins_start(environ, state_dir=tmp_path)
    # And the production settings refuse a stand-in's variables.
    child = subprocess.run(
        [sys.executable, "-c", "import config.settings.production"],
        cwd=ROOT,
        env={
            **os.environ,
            "SECRET_KEY": "x" * 50,
            "FIELD_ENCRYPTION_KEY": "dGVzc2VyYS1kZXZlbG9wbWVudC1vbmx5LWtleS0wMDA=",
            "TESSERA_SANDBOX": "1",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode != 0
    assert "development only" in child.stderr


def test_a_single_sign_on_link_of_the_simulated_panel_opens_its_page(tmp_path, settings):
    hostname = f"sim-{uuid.uuid4().hex[:8]}.panel.test"
    with standins_start({"REDIS_URL": REDIS_URL}, state_dir=tmp_path) as standins:
        settings.SIMULATED_PANEL_URL = standins.env["SIMULATED_PANEL_URL"]
        connection = ServerConnection(hostname=hostname, port=443, extra={"redis_url": REDIS_URL})
        with SimulatedModule(connection) as panel:
            spec = new_spec("starter")
            account = panel.create_account(spec)
            link = panel.sso_url(account.remote_id)
            assert link.startswith(settings.SIMULATED_PANEL_URL + "/sso/")
            page = _get(link)
            assert page.status_code == 200
            assert spec.domain in page.text and "starter" in page.text
            # A sign-on link works once.
            assert _get(link).status_code == 403
            panel.terminate(account.remote_id)
        registrar = SimulatedRegistrar(
            ServerConnection(hostname=hostname, port=443, extra={"redis_url": REDIS_URL})
        )
        name = f"standin-{uuid.uuid4().hex[:8]}.com"
        registrar.register(name, 1, [], "c_test")
        try:
            assert name in _get(standins.env["SIMULATED_PANEL_URL"] + "/registrar/").text
        finally:
            registrar._redis.delete(registrar._key(name))
            registrar.close()
