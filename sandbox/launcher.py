"""Starts the local stand-ins of the outside systems, for ``make run`` and for the tests
that walk the same journey.

``standins_start(environ)`` looks at what is configured and starts a stand-in only for a
system that has no real one:

- Stripe: real when ``STRIPE_SECRET_KEY`` is set; else ``sandbox.stripe``, the API
  and its hosted Checkout page.
- RDAP (the storefront's domain search): real when ``RDAP_BOOTSTRAP_FILE`` or
  ``RDAP_BASE_URL`` is set; else ``sandbox.rdap_server``, answering for ``DEMO_TLDS``.
- the simulated panel: ``SIMULATED_PANEL_URL`` when set; else ``sandbox.simpanel``, the
  page its single sign-on links open.
- VIES (the EU's check of VAT numbers): real when ``VIES_URL`` is set; else
  ``sandbox.vies_server``, which knows the demo's VAT numbers.
- the simulated registrar (no outside part; its state is in Redis): ``sandbox.simpanel``'s
  ``/registrar/`` page lists what it holds.
- the EPP registry that registers the domains sold: real when ``EPP_HOST`` is set (with
  ``EPP_USERNAME``/``EPP_PASSWORD``); else ``sandbox.epp``, over TLS with a certificate of
  its own (``EPP_CAFILE``), holding ``DEMO_REGISTERED`` for another registrar.

A real panel (cPanel/WHM, Plesk, VMmanager, Proxmox) is a server added in the provider
console with its own API token: it is reached directly and needs no stand-in.

The result says what runs where (``describe()``) and carries the environment the app's
processes need to use the stand-ins (``env``). Nothing is started under the production
settings: ``standins_start`` refuses, and so do the production settings when handed a
stand-in's variables.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.epp.server import EppServer
from sandbox.rdap_server import RdapServer
from sandbox.simpanel import SimulatedPanelServer
from sandbox.stripe import StripeServer
from sandbox.vies_server import DEMO_REGISTERED as VIES_REGISTERED
from sandbox.vies_server import ViesServer

# The TLDs the local RDAP server answers for, and names it reports as registered.
DEMO_TLDS = ("com", "net", "org", "it", "de", "eu", "io", "dev")
DEMO_REGISTERED = frozenset(
    {"example.com", "example.net", "example.org", "google.com", "taken.com", "acme.com"}
)
# The demo tenants of ``manage.py seed_demo``: each collects card payments on an account
# of its own on the Stripe stand-in, opened by this key.
DEMO_STRIPE_TENANTS = ("shop", "acme", "nimbus")
STRIPE_PLATFORM_KEY = "sk_test_sandbox_platform"
STRIPE_WEBHOOK_SECRET = "whsec_sandbox_platform"
STRIPE_CONNECT_WEBHOOK_SECRET = "whsec_sandbox_connect"
PRODUCTION_SETTINGS = "config.settings.production"


class StandinsRefused(RuntimeError):
    """Stand-ins asked for where they must never run."""


def stripe_server_class() -> type[StripeServer]:
    """The Stripe stand-in: the one place that names its class."""
    return StripeServer


def stripe_tenant_key(label: str) -> str:
    return f"sk_test_sandbox_{label}"


@dataclass
class Standin:
    name: str
    url: str
    note: str


@dataclass
class Standins:
    """The stand-ins started, the real services kept, and the environment that points the
    app at the stand-ins. A context manager: leaving it stops them."""

    env: dict[str, str] = field(default_factory=dict)
    started: list[Standin] = field(default_factory=list)
    real: list[str] = field(default_factory=list)
    _stops: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def __enter__(self) -> Standins:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        while self._stops:
            self._stops.pop()()

    def describe(self) -> list[str]:
        lines = [f"stand-in  {s.name:<20} {s.url:<32} {s.note}" for s in self.started]
        lines.extend(f"real      {line}" for line in self.real)
        return lines


def standins_refuse_in_production(environ: Mapping[str, str]) -> None:
    if environ.get("DJANGO_SETTINGS_MODULE", "") == PRODUCTION_SETTINGS:
        raise StandinsRefused(
            "The local stand-ins never run under the production settings "
            f"(DJANGO_SETTINGS_MODULE={PRODUCTION_SETTINGS})."
        )


def _rdap_bootstrap_write(path: Path, base_url: str) -> None:
    document = {
        "description": "Local RDAP bootstrap of the development stand-ins",
        "publication": "2026-01-01T00:00:00Z",
        "services": [[list(DEMO_TLDS), [base_url if base_url.endswith("/") else base_url + "/"]]],
        "version": "1.0",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")


def _start_stripe(result: Standins) -> None:
    server = stripe_server_class()()
    server.start()
    result._stops.append(server.stop)
    server.register_key(STRIPE_PLATFORM_KEY)
    keys = []
    for label in DEMO_STRIPE_TENANTS:
        server.register_key(stripe_tenant_key(label))
        keys.append(f"{label}={stripe_tenant_key(label)}")
    result.env.update(
        STRIPE_API_BASE=server.url,
        STRIPE_SECRET_KEY=STRIPE_PLATFORM_KEY,
        STRIPE_WEBHOOK_SECRET=STRIPE_WEBHOOK_SECRET,
        STRIPE_CONNECT_WEBHOOK_SECRET=STRIPE_CONNECT_WEBHOOK_SECRET,
        TESSERA_SANDBOX_STRIPE_KEYS=",".join(keys),
    )
    result.started.append(
        Standin(
            "Stripe",
            server.url,
            f"hosted Checkout at {server.url}/c/pay/…; test card 4242 4242 4242 4242",
        )
    )


def _start_rdap(result: Standins, state_dir: Path) -> None:
    server = RdapServer(registered=set(DEMO_REGISTERED)).start()
    result._stops.append(server.stop)
    bootstrap = state_dir / "rdap-bootstrap.json"
    _rdap_bootstrap_write(bootstrap, server.base_url)
    result.env["RDAP_BOOTSTRAP_FILE"] = str(bootstrap)
    result.started.append(
        Standin(
            "RDAP",
            server.base_url,
            f".{', .'.join(DEMO_TLDS)}; taken: {', '.join(sorted(DEMO_REGISTERED))}",
        )
    )


def _start_panel(result: Standins, redis_url: str) -> None:
    server = SimulatedPanelServer(redis_url=redis_url).start()
    result._stops.append(server.stop)
    result.env["SIMULATED_PANEL_URL"] = server.url
    result.started.append(
        Standin("simulated panel", f"{server.url}/", "single sign-on pages of its accounts")
    )
    result.started.append(
        Standin(
            "simulated registrar",
            f"{server.url}/registrar/",
            "the domains it holds (kept in Redis)",
        )
    )


def _start_vies(result: Standins) -> None:
    server = ViesServer(registered=dict(VIES_REGISTERED)).start()
    result._stops.append(server.stop)
    result.env["VIES_URL"] = server.url
    result.started.append(
        Standin("VIES", server.url, f"valid: {', '.join(sorted(VIES_REGISTERED))}")
    )


def _start_epp(result: Standins, state_dir: Path) -> None:
    # Transfers in are approved by the registry a minute after they are asked for.
    server = EppServer(state_dir=state_dir / "epp", transfer_delay_s=60).start()
    result._stops.append(server.stop)
    for name in sorted(DEMO_REGISTERED):
        server.seed_domain(name)
    username, password = next(iter(server.accounts.items()))
    result.env.update(
        EPP_HOST="127.0.0.1",
        EPP_PORT=str(server.port),
        EPP_USERNAME=username,
        EPP_PASSWORD=password,
        EPP_CAFILE=server.cafile,
    )
    result.started.append(
        Standin(
            "EPP registry",
            f"epp://127.0.0.1:{server.port}",
            f"TLS; .{', .'.join(server.tlds)}; login {username}",
        )
    )


def standins_start(environ: Mapping[str, str], *, state_dir: Path) -> Standins:
    """Starts what ``environ`` has no real service for; see the module's table.

    ``state_dir`` receives the files a stand-in needs the app to read (the RDAP
    bootstrap). ``environ`` must name the Redis the app uses (``REDIS_URL``)."""
    standins_refuse_in_production(environ)
    result = Standins()
    try:
        if environ.get("STRIPE_SECRET_KEY"):
            base = environ.get("STRIPE_API_BASE") or "https://api.stripe.com"
            result.real.append(f"Stripe               {base} (STRIPE_SECRET_KEY is set)")
        else:
            _start_stripe(result)
        if environ.get("RDAP_BOOTSTRAP_FILE"):
            result.real.append(f"RDAP                 servers of {environ['RDAP_BOOTSTRAP_FILE']}")
        elif environ.get("RDAP_BASE_URL"):
            bootstrap = state_dir / "rdap-bootstrap.json"
            _rdap_bootstrap_write(bootstrap, environ["RDAP_BASE_URL"])
            result.env["RDAP_BOOTSTRAP_FILE"] = str(bootstrap)
            result.real.append(f"RDAP                 {environ['RDAP_BASE_URL']} (RDAP_BASE_URL)")
        else:
            _start_rdap(result, state_dir)
        if environ.get("SIMULATED_PANEL_URL"):
            result.real.append(f"simulated panel      {environ['SIMULATED_PANEL_URL']}")
        else:
            _start_panel(result, environ["REDIS_URL"])
        if environ.get("EPP_HOST"):
            port = environ.get("EPP_PORT") or "700"
            result.real.append(f"EPP registry         {environ['EPP_HOST']}:{port} (EPP_HOST)")
        else:
            _start_epp(result, state_dir)
        if environ.get("VIES_URL"):
            result.real.append(f"VIES                 {environ['VIES_URL']}")
        else:
            _start_vies(result)
    except BaseException:
        result.stop()
        raise
    if result.started:
        result.env["TESSERA_SANDBOX"] = "1"
    return result
