"""Fixtures every test builds on.

The session starts with two tenants, A and B, each with an owner, a read-only staff
member and a client, plus a provider admin in the public schema: so any test of a view
or endpoint can check in one line that B's people get nothing from A. Tests that use the
``db`` fixture run in a transaction rolled back at the end; tests that need committed
rows (a real Celery worker reads them) use ``live_db`` and create what they need through
``tenant_factory``, which drops it afterwards.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.db import OperationalError, connection
from django.test import Client, override_settings
from django.utils import translation
from django_tenants.utils import schema_context

from sandbox.dovecot import DovecotServer
from sandbox.vies_server import DEMO_REGISTERED, ViesServer

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery-staple"


@dataclass
class TenantWorld:
    """One tenant as the tests see it."""

    tenant: object
    host: str
    owner: object
    readonly: object
    client_user: object

    @property
    def schema(self) -> str:
        return self.tenant.schema_name

    def client(self, user=None) -> Client:
        browser = Client(HTTP_HOST=self.host)
        if user is not None:
            with schema_context(self.schema):
                browser.force_login(user)
        return browser


def _make_world(name: str, label: str) -> TenantWorld:
    from accounts.models import User
    from resale.onboarding import reseller_create

    host = f"{label}.{settings.PLATFORM_DOMAIN}"
    created = reseller_create(
        name=name, hostname=host, admin_email=f"owner@{label}.test", schema_name=label
    )
    with schema_context(created.tenant.schema_name):
        owner = User.objects.get(email=f"owner@{label}.test")
        owner.set_password(PASSWORD)
        owner.full_name = f"{name} Owner"
        owner.save()
        readonly = User.objects.create_user(
            f"readonly@{label}.test", PASSWORD, kind=User.Kind.STAFF, role=User.Role.READONLY
        )
        client_user = User.objects.create_user(
            f"client@{label}.test", PASSWORD, kind=User.Kind.CLIENT
        )
    connection.set_schema_to_public()
    return TenantWorld(created.tenant, host, owner, readonly, client_user)


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker, django_db_keepdb):
    """The test database, always: pytest-django would create none when the selected
    tests use only ``live_db`` (no ``django_db`` mark)."""
    from django.test.utils import setup_databases, teardown_databases

    from accounts.models import User
    from tenants.services import platform_ensure, template_schema_migrate

    with django_db_blocker.unblock():
        databases = setup_databases(
            verbosity=request.config.option.verbose,
            interactive=False,
            keepdb=django_db_keepdb,
            aliases={"default"},
        )
        template_schema_migrate()
        platform_ensure()
        User.objects.create_superuser("admin@platform.test", PASSWORD)
        worlds = {
            "a": _make_world("Alpha Hosting", "alpha"),
            "b": _make_world("Beta Web", "beta"),
        }
    settings.TEST_WORLDS = worlds
    yield
    with django_db_blocker.unblock():
        # Workers and servers the tests started may still hold a connection.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        connection.close()
        teardown_databases(
            databases, verbosity=request.config.option.verbose, keepdb=django_db_keepdb
        )


@pytest.fixture
def tenant_a(django_db_setup) -> TenantWorld:
    return settings.TEST_WORLDS["a"]


@pytest.fixture
def tenant_b(django_db_setup) -> TenantWorld:
    return settings.TEST_WORLDS["b"]


@pytest.fixture
def platform_client(django_db_setup) -> Client:
    return Client(HTTP_HOST=settings.PLATFORM_DOMAIN)


@pytest.fixture(autouse=True)
def _back_to_public():
    yield
    connection.set_schema_to_public()
    # A request in Italian or Russian leaves its language active in this thread
    # (LocaleMiddleware activates, nothing deactivates): the next test would read its
    # messages in that language.
    translation.deactivate()


@pytest.fixture
def media_root(settings, tmp_path):
    """Stored files (rendered PDFs, logos, e-invoices) go to a folder of the test's own."""
    settings.MEDIA_ROOT = str(tmp_path)
    # TenantFileSystemStorage caches its root and only forgets it when this setting
    # changes (not when MEDIA_ROOT does).
    settings.MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"
    return tmp_path


@pytest.fixture
def live_db(django_db_setup, django_db_blocker) -> Iterator[None]:
    """Database access with autocommit, for tests whose rows other processes must see."""
    with django_db_blocker.unblock():
        yield
        connection.set_schema_to_public()


@pytest.fixture
def tenant_factory(live_db):
    """Creates committed tenants for one test and drops them (schema included) after it."""
    from resale.onboarding import reseller_create
    from tenants.models import Tenant

    made: list[Tenant] = []

    def make(name: str = "Temp Hosting", **kwargs):
        label = f"t{uuid.uuid4().hex[:10]}"
        created = reseller_create(
            name=name,
            hostname=kwargs.pop("hostname", f"{label}.{settings.PLATFORM_DOMAIN}"),
            admin_email=kwargs.pop("admin_email", f"owner@{label}.test"),
            schema_name=kwargs.pop("schema_name", label),
            **kwargs,
        )
        made.append(created.tenant)
        return created

    yield make
    connection.set_schema_to_public()
    for tenant in made:
        provider_rows_delete(tenant)
        tenant_drop(tenant)


def tenant_drop(tenant) -> None:
    """Drops a throw-away tenant and its schema. The session's worker may still be busy
    with a task the test queued in that schema (an invoice e-mail after a billing run);
    PostgreSQL then breaks the lock cycle by failing one side, and when that is the drop,
    it waits for the task and tries again."""
    for attempt in range(20):
        try:
            tenant.delete(force_drop=True)
            return
        except OperationalError as exc:
            if not isinstance(exc.__cause__, psycopg.errors.DeadlockDetected) or attempt == 19:
                raise
            time.sleep(0.5)


def provider_rows_delete(tenant) -> None:
    """Clears what the provider side recorded for a throw-away tenant. The ledger refuses
    deletes through the ORM (it is append-only), so the test cleanup speaks SQL."""
    statements = [
        "DELETE FROM resale_driftitem WHERE account_id IN ({accounts})",
        "DELETE FROM resale_providerticketmessage WHERE ticket_id IN "
        "(SELECT id FROM resale_providerticket WHERE account_id IN ({accounts}))",
        "DELETE FROM resale_providerticket WHERE account_id IN ({accounts})",
        "DELETE FROM resale_upstreamrequest WHERE account_id IN ({accounts})",
        "DELETE FROM resale_balanceentry WHERE account_id IN ({accounts})",
        "DELETE FROM resale_upstreamservice WHERE account_id IN ({accounts})",
        "DELETE FROM resale_upstreamdomain WHERE account_id IN ({accounts})",
        "DELETE FROM resale_registranthandle WHERE account_id IN ({accounts})",
    ]
    accounts = "SELECT id FROM resale_reselleraccount WHERE tenant_id = %s"
    with connection.cursor() as cursor:
        for statement in PROVIDER_CLEANUP_BEFORE + statements:
            cursor.execute(statement.format(accounts=accounts), [tenant.pk])


# Other apps add the statements that clear their own provider-side rows of a tenant,
# run before resale's (they may point at upstream services).
PROVIDER_CLEANUP_BEFORE: list[str] = []


def _test_database_url() -> str:
    db = connection.settings_dict
    host = db.get("HOST") or ""
    if host.startswith("/"):
        host = quote(host, safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    auth = db.get("USER") or "postgres"
    if db.get("PASSWORD"):
        auth += f":{quote(db['PASSWORD'], safe='')}"
    return f"postgresql://{auth}@{host}{port}/{db['NAME']}"


# Every queue a worker was started on, purged with the run's own when the session ends.
WORKER_QUEUES: set[str] = set()


@pytest.fixture(scope="session", autouse=True)
def _test_queues_purged():
    """Tasks that no worker took (queued by tests that start none, or left when a test's
    worker stopped) leave with the run instead of waiting in Redis for the next worker."""
    from config.celery import app

    run_queue = app.conf.task_default_queue
    yield
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue in {run_queue, *WORKER_QUEUES}:
            for name in (queue, f"{queue}-documents"):
                channel.queue_purge(name)


def _worker_launch(queue: str, extra_env: dict[str, str] | None = None) -> WorkerHandle:
    from config.celery import app

    WORKER_QUEUES.add(queue)

    env = dict(
        os.environ,
        DATABASE_URL=_test_database_url(),
        CELERY_QUEUE=queue,
        DJANGO_SETTINGS_MODULE="config.settings.test",
        **(extra_env or {}),
    )
    log_path = ROOT / ".local" / f"{queue}.log"
    log_path.parent.mkdir(exist_ok=True)
    log = log_path.open("ab")
    name = f"{queue}@{socket.gethostname()}"

    def start() -> subprocess.Popen:
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            f"{queue},{queue}-documents",
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            name,
        ]
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    handle = WorkerHandle(start, app, name)
    handle.start()
    return handle


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker):
    """A real Celery worker process on a queue of its own, reading the test database."""
    from config.celery import app

    queue = f"tessera-test-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = queue
    with django_db_blocker.unblock():
        handle = _worker_launch(queue)
    yield handle
    handle.stop()


@pytest.fixture
def celery_worker_factory(django_db_setup, django_db_blocker, celery_worker_process):
    """Starts a worker with extra environment (fault injection, short retries) on a queue
    of its own, which tasks queued by the test go to until the test ends."""
    from config.celery import app

    previous = app.conf.task_default_queue
    started: list[WorkerHandle] = []

    def start(**extra_env: str) -> WorkerHandle:
        queue = f"tessera-test-{uuid.uuid4().hex[:8]}"
        with django_db_blocker.unblock():
            handle = _worker_launch(queue, extra_env)
        app.conf.task_default_queue = queue
        started.append(handle)
        return handle

    yield start
    app.conf.task_default_queue = previous
    for handle in started:
        handle.stop()


class WorkerHandle:
    def __init__(self, starter, app, name: str) -> None:
        self._starter = starter
        self.app = app
        self.name = name
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = self._starter()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("The Celery worker exited at start; see .local/*.log")
            replies = self.app.control.ping(destination=[self.name], timeout=0.5)
            if replies:
                return
        raise RuntimeError("The Celery worker did not answer within 60 s")

    def kill(self) -> None:
        """Kills the worker at once, as a crash or an OOM kill would."""
        if self.process and self.process.poll() is None:
            # The whole process group: the pool's children die with the main process.
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)

    def restart(self) -> None:
        self.kill()
        self.start()


# Numbers the local VIES knows as registered: the demo's clients, and the test sellers
# (whose numbers are requesters of checkVatApprox).
VIES_REGISTERED = {
    **DEMO_REGISTERED,
    "IT01234567890": ("Alfa Servizi Internet S.r.l.", "Via Roma 1\n00184 Roma RM"),
    "BE0403019261": ("Brussels Web SA", "Rue Neuve 1\n1000 Bruxelles"),
    "ATU13585627": ("Wien Web GmbH", "Stephansplatz 1\n1010 Wien"),
}


@pytest.fixture
def tasks_inline() -> Iterator[None]:
    """Tasks queued on commit run in this process, so their e-mails reach the outbox."""
    from config.celery import app

    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False


@pytest.fixture(scope="session", autouse=True)
def vies_stand_in() -> Iterator[ViesServer]:
    """VIES for the whole run: no test ever asks the real one."""
    server = ViesServer(registered=dict(VIES_REGISTERED)).start()
    override = override_settings(VIES_URL=server.url, VIES_TIMEOUT_S=5)
    override.enable()
    yield server
    override.disable()
    server.stop()


@pytest.fixture
def vies(vies_stand_in: ViesServer) -> Iterator[ViesServer]:
    """The local VIES, with no fault and no request recorded yet."""
    vies_stand_in.faults.clear()
    vies_stand_in.requests.clear()
    yield vies_stand_in
    vies_stand_in.faults.clear()


@pytest.fixture
def imap_server() -> Iterator[DovecotServer]:
    """A real Dovecot IMAP server of its own for one test; ``user_add`` makes mailboxes,
    ``deliver`` puts mail in them."""
    server = DovecotServer().start()
    yield server
    server.stop()
