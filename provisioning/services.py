"""Writes of the provisioning app: servers, accounts, and the jobs that drive the panels.

A job attempt has three steps, so no database lock is held while a panel answers:

1. claim, in one transaction with the job row locked: queued → running, one more
   attempt, and a lease on the job until a deadline;
2. the panel call through the server's module, outside any transaction;
3. record, in one transaction: succeeded, failed, or queued again after a backoff.
   The attempt number is the fencing token: an attempt that lost its lease (its
   worker was presumed dead and the job handed to another) records nothing.

A worker killed during step 2 leaves the job running until its lease runs out; the
relay (``provisioning_jobs_requeue_stale``) then queues it again. The rerun uses the
same username, and ``create_account`` looks for the account before making one, so it
finds what the dead worker made instead of making a second account.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from core.crypto import SecretUnreadable
from provisioning.models import ProvisionedService, ProvisioningJob, Server, ServerGroup
from provisioning.modules.base import (
    MASK,
    AccountSpec,
    AccountState,
    ModuleError,
    PanelLogin,
    PermanentModuleError,
    ServerModule,
    TransientModuleError,
    generate_password,
    generate_username,
    get_module_class,
)
from provisioning.selectors import (
    provisioning_job_blocking,
    provisioning_jobs_stale,
    server_for_placement,
)

logger = logging.getLogger(__name__)

Job = ProvisioningJob
Action = ProvisioningJob.Action
State = ProvisioningJob.State
Status = ProvisionedService.Status

# Who is told when a job ends (resale, for the jobs of an upstream service): each is called
# with ``job=`` in the job's transaction. Apps add their listener in AppConfig.ready, so
# provisioning imports none of them.
job_finished_listeners: list[Callable[..., None]] = []

LOG_LINES_KEPT = 200
# Jobs queued behind an unfinished earlier job of the same account look again this often.
BLOCKED_RETRY_S = 10
# A task may arrive a little before the time it was scheduled for.
EARLY_DELIVERY_S = 2


def _setting(name: str, default: float) -> float:
    return getattr(settings, name, default)


class ProvisioningError(Exception):
    """A request the provisioning side refuses, with a message staff can act on."""


# --- servers ----------------------------------------------------------------------------


def server_create(
    *,
    group: ServerGroup,
    name: str,
    hostname: str,
    port: int,
    username: str = "",
    secret: str = "",
    use_tls: bool = True,
    verify_tls: bool = True,
    timeout_s: float = 30.0,
    extra: dict[str, Any] | None = None,
    capacity: int = 0,
    position: int = 0,
) -> Server:
    server = Server(
        group=group,
        name=name,
        hostname=hostname,
        port=port,
        username=username,
        use_tls=use_tls,
        verify_tls=verify_tls,
        timeout_s=timeout_s,
        extra=extra or {},
        capacity=capacity,
        position=position,
    )
    server.secret = secret
    server.full_clean()
    server.save()
    return server


def server_secret_set(*, server: Server, secret: str) -> Server:
    server.secret = secret
    server.save(update_fields=["secret_encrypted", "updated_at"])
    return server


def module_for(server: Server) -> ServerModule:
    return get_module_class(server.module)(server.connection())


def server_connection_test(*, server: Server) -> str:
    """Asks the panel who it is; raises ModuleError when it cannot be reached or refuses."""
    with module_for(server) as module:
        return module.test_connection()


# --- accounts ---------------------------------------------------------------------------


def _client_ref_validate(client_ref: str) -> str:
    if not client_ref or "@" in client_ref or len(client_ref) > 64:
        raise ProvisioningError(
            "client_ref must be a pseudonymous reference of at most 64 characters, "
            "never an e-mail address."
        )
    return client_ref


@transaction.atomic
def provisioned_service_create(
    *,
    client_ref: str,
    group: ServerGroup | None,
    package: str,
    domain: str = "",
    options: dict[str, Any] | None = None,
    plan_code: str = "",
    upstream_service_id: int | None = None,
    username_seed: str | None = None,
    upstream_action: str = "",
) -> ProvisionedService:
    """Records the account to make and queues its create job. The server is picked when
    the job first runs; the username and password are fixed now, so every attempt of the
    job uses the same ones."""
    service = ProvisionedService(
        client_ref=_client_ref_validate(client_ref),
        domain=domain,
        plan_code=plan_code,
        group=group,
        package=package,
        options=options or {},
        username=generate_username(username_seed),
        upstream_service_id=upstream_service_id,
    )
    service.password = generate_password()
    service.save()
    params = {"upstream_action": upstream_action} if upstream_action else {}
    provisioning_job_enqueue(service=service, action=Action.CREATE, params=params)
    return service


@transaction.atomic
def provisioned_service_action(
    *,
    service: ProvisionedService,
    action: str,
    package: str = "",
    options: dict[str, Any] | None = None,
    reason: str = "",
    upstream_action: str = "",
) -> ProvisioningJob:
    """Queues suspend / unsuspend / terminate / change_package / change_options for an
    account. A package or options change carries the whole new set of ``options``."""
    changes = (Action.CHANGE_PACKAGE, Action.CHANGE_OPTIONS)
    if action not in (Action.SUSPEND, Action.UNSUSPEND, Action.TERMINATE, *changes):
        raise ProvisioningError(f"Unknown provisioning action “{action}”.")
    if service.status == Status.TERMINATED:
        raise ProvisioningError("The account is terminated.")
    params: dict[str, Any] = {}
    if action in changes:
        if not package:
            raise ProvisioningError("A package change needs the new package.")
        params["package"] = package
        # A package change without options lets the package alone set the resources.
        if options or (options is not None and action == Action.CHANGE_OPTIONS):
            params["options"] = options
    if reason:
        params["reason"] = reason[:200]
    if upstream_action:
        params["upstream_action"] = upstream_action
    return provisioning_job_enqueue(service=service, action=action, params=params)


def provisioned_services_read(
    *, services: Iterable[ProvisionedService]
) -> dict[int, AccountState | None]:
    """What each account's panel reports now, by provisioned service id (None when the
    panel could not be asked). One module connection per server."""
    by_server: dict[int, list[ProvisionedService]] = {}
    states: dict[int, AccountState | None] = {}
    for service in services:
        if not service.server_id or not service.remote_id:
            states[service.pk] = AccountState(status="missing")
            continue
        by_server.setdefault(service.server_id, []).append(service)
    servers = Server.objects.in_bulk(list(by_server))
    for server_id, group in by_server.items():
        with module_for(servers[server_id]) as module:
            for service in group:
                try:
                    states[service.pk] = module.read_account(service.remote_id)
                except ModuleError as exc:
                    logger.warning("Reading %s from its panel failed: %s", service.username, exc)
                    states[service.pk] = None
    return states


def provisioned_service_sso_url(*, service: ProvisionedService, client_ip: str = "") -> str:
    """A single sign-on link into the panel, for the browser at ``client_ip`` (panels
    such as Plesk bind the session to it). Never stored, never logged."""
    if service.status not in (Status.ACTIVE, Status.SUSPENDED) or not service.server_id:
        raise ProvisioningError("The control panel opens only for an account that exists.")
    with module_for(service.server) as module:
        return module.sso_url(service.remote_id, client_ip=client_ip)


def provisioned_service_panel_login_reset(*, service: ProvisionedService) -> PanelLogin:
    """A new password for the client's own panel user, on panels that cannot log anyone
    in by link (Proxmox). Never stored, never logged: the caller shows it once."""
    if service.status not in (Status.ACTIVE, Status.SUSPENDED) or not service.server_id:
        raise ProvisioningError("The control panel opens only for an account that exists.")
    with module_for(service.server) as module:
        return module.panel_login_reset(service.remote_id)


# --- jobs -------------------------------------------------------------------------------


@transaction.atomic
def provisioning_job_enqueue(
    *, service: ProvisionedService, action: str, params: dict[str, Any] | None = None
) -> ProvisioningJob:
    """Queues a job, once: the same action with the same parameters still pending is
    returned instead of doubled. The task is sent after commit."""
    params = params or {}
    pending = service.jobs.filter(
        action=action, params=params, state__in=[State.QUEUED, State.RUNNING]
    )
    existing = pending.order_by("pk").first()
    if existing is not None:
        return existing
    job = ProvisioningJob(
        service=service,
        action=action,
        params=params,
        max_attempts=int(_setting("PROVISIONING_JOB_MAX_ATTEMPTS", 8)),
    )
    _log(job, f"queued: {action}")
    job.save()
    transaction.on_commit(lambda: _task_send(job.pk), robust=True)
    return job


def _task_send(job_id: int, countdown: float | None = None) -> None:
    # provisioning.tasks imports this module; the task is looked up at call time.
    from provisioning.tasks import provisioning_job_run_task

    # Provisioning lives in public: the task must not inherit a tenant's schema.
    with schema_context(get_public_schema_name()):
        provisioning_job_run_task.apply_async((job_id,), countdown=countdown)


def provisioning_job_run(*, job_id: int) -> ProvisioningJob | None:
    """Runs one attempt of a job if it is due and nobody else is running it.

    Returns the job as it stands afterwards: ``queued`` with ``next_attempt_at`` when
    another attempt is due later, ``running`` when another worker holds it, or
    finished. Returns None for a job that does not exist (any more).
    """
    job, claimed = _job_claim(job_id)
    if job is None or not claimed:
        return job
    service = job.service
    secrets: list[str] = []
    try:
        secrets.append(service.password)
        if job.action == Action.CREATE and service.server_id is None:
            _service_place(service)
        if service.server is None:
            raise PermanentModuleError("The account has no server.")
        secrets.append(service.server.secret)
        with module_for(service.server) as module:
            changes, line = _perform(job, service, module)
    except TransientModuleError as exc:
        return _job_attempt_failed(job, exc, secrets)
    except ModuleError as exc:
        return _job_fail(job, exc.message, exc.panel_message, secrets)
    except SecretUnreadable as exc:
        return _job_fail(job, str(exc), "", secrets)
    except DatabaseError:
        raise  # the lease runs out and the relay tries again
    except Exception as exc:
        logger.exception("Provisioning job %s crashed", job.pk)
        return _job_fail(
            job, f"Internal error ({type(exc).__name__}); see the worker log.", "", secrets
        )
    return _job_succeed(job, changes, line, secrets)


def _job_claim(job_id: int) -> tuple[ProvisioningJob | None, bool]:
    now = timezone.now()
    with transaction.atomic():
        job = (
            ProvisioningJob.objects.select_for_update(of=("self",))
            .select_related("service__server__group")
            .filter(pk=job_id)
            .first()
        )
        if job is None:
            logger.warning("Provisioning job %s does not exist", job_id)
            return None, False
        if job.is_finished:
            return job, False
        if job.state == State.RUNNING and job.lease_expires_at and job.lease_expires_at > now:
            return job, False
        due = job.next_attempt_at
        if job.state == State.QUEUED and due and due > now + timedelta(seconds=EARLY_DELIVERY_S):
            return job, False
        blocking = provisioning_job_blocking(job=job)
        if blocking is not None:
            job.state = State.QUEUED
            job.next_attempt_at = now + timedelta(seconds=BLOCKED_RETRY_S)
            job.save(update_fields=["state", "next_attempt_at"])
            return job, False
        if job.state == State.RUNNING:
            _log(job, f"attempt {job.attempts} did not finish before its lease ran out")
        job.state = State.RUNNING
        job.attempts += 1
        job.started_at = job.started_at or now
        job.next_attempt_at = None
        job.lease_expires_at = now + timedelta(seconds=_setting("PROVISIONING_JOB_LEASE_S", 1800))
        where = job.service.server.name if job.service.server_id else "a server to be chosen"
        _log(job, f"attempt {job.attempts}: {job.action} on {where}")
        job.save()
    return job, True


def _service_place(service: ProvisionedService) -> None:
    """Picks the server for a new account, with the group locked so capacity holds."""
    if service.group_id is None:
        raise PermanentModuleError("No server group runs this plan; map the plan to a group.")
    with transaction.atomic():
        group = ServerGroup.objects.select_for_update().get(pk=service.group_id)
        locked = ProvisionedService.objects.select_for_update().get(pk=service.pk)
        if locked.server_id is None:
            server = server_for_placement(group=group)
            if server is None:
                raise TransientModuleError(
                    f"No server in group {group.name} has room for another account; "
                    "add a server or raise a capacity."
                )
            locked.server = server
            locked.save(update_fields=["server", "updated_at"])
    service.refresh_from_db(fields=["server"])


def _perform(
    job: ProvisioningJob, service: ProvisionedService, module: ServerModule
) -> tuple[dict[str, Any], str]:
    """The panel call. Returns the service's new field values and a log line."""
    if job.action == Action.CREATE:
        spec = AccountSpec(
            username=service.username,
            password=service.password,
            domain=service.domain,
            package=service.package,
            options=dict(service.options or {}),
        )
        result = module.create_account(spec)
        reused = " (it already existed: reused)" if result.details.get("reused") else ""
        return (
            {"remote_id": result.remote_id, "details": result.details, "status": Status.ACTIVE},
            f"account {result.username} is on {service.server.name} as {result.remote_id}{reused}",
        )
    if job.action == Action.TERMINATE:
        remote_id = service.remote_id
        if not remote_id:
            # A create whose reply was lost may still have made the account.
            found = module.find_account(service.username)
            remote_id = found.remote_id if found else ""
        if remote_id:
            module.terminate(remote_id)
        return {"status": Status.TERMINATED}, "terminated" if remote_id else "nothing to remove"
    if not service.remote_id:
        raise PermanentModuleError("The account was never created on the panel.")
    if job.action == Action.SUSPEND:
        module.suspend(service.remote_id, job.params.get("reason", ""))
        return {"status": Status.SUSPENDED}, "suspended"
    if job.action == Action.UNSUSPEND:
        module.unsuspend(service.remote_id)
        return {"status": Status.ACTIVE}, "unsuspended"
    if job.action == Action.CHANGE_PACKAGE and "options" not in job.params:
        package = job.params["package"]
        module.change_package(service.remote_id, package)
        return {"package": package}, f"package changed to {package}"
    if job.action in (Action.CHANGE_PACKAGE, Action.CHANGE_OPTIONS):
        package, options = job.params["package"], dict(job.params.get("options") or {})
        if job.action == Action.CHANGE_PACKAGE:
            module.change_package(service.remote_id, package)
        module.change_options(service.remote_id, package, options)
        return {"package": package, "options": options}, f"options set to {options}"
    raise PermanentModuleError(f"Unknown action {job.action}.")


def _locked_attempt(job: ProvisioningJob) -> ProvisioningJob | None:
    """The job, locked, if this attempt still owns it; None if another attempt took over."""
    current = ProvisioningJob.objects.select_for_update().get(pk=job.pk)
    if current.state != State.RUNNING or current.attempts != job.attempts:
        logger.warning("Provisioning job %s: attempt %s lost its lease", job.pk, job.attempts)
        return None
    return current


def _job_succeed(
    job: ProvisioningJob, changes: dict[str, Any], line: str, secrets: Iterable[str]
) -> ProvisioningJob:
    with transaction.atomic():
        current = _locked_attempt(job)
        if current is None:
            return ProvisioningJob.objects.get(pk=job.pk)
        service = ProvisionedService.objects.select_for_update().get(pk=job.service_id)
        for field, value in changes.items():
            setattr(service, field, value)
        service.last_job = current
        service.save()
        current.state = State.SUCCEEDED
        current.finished_at = timezone.now()
        current.lease_expires_at = None
        current.error = current.panel_message = ""
        _log(current, f"succeeded: {line}", secrets)
        current.save()
        # In the same transaction: a worker that dies right after the commit cannot leave
        # resale believing the job is still running.
        _report(current.pk)
    return current


def _job_attempt_failed(
    job: ProvisioningJob, exc: TransientModuleError, secrets: Iterable[str]
) -> ProvisioningJob:
    with transaction.atomic():
        current = _locked_attempt(job)
        if current is None:
            return ProvisioningJob.objects.get(pk=job.pk)
        if current.attempts >= current.max_attempts:
            return _job_fail(
                current,
                f"Gave up after {current.attempts} attempts: {exc.message}",
                exc.panel_message,
                secrets,
                locked=True,
            )
        delay = _backoff(current.attempts)
        current.state = State.QUEUED
        current.next_attempt_at = timezone.now() + timedelta(seconds=delay)
        current.lease_expires_at = None
        current.error = _mask(exc.message, secrets)
        current.panel_message = _mask(exc.panel_message, secrets)
        _log(current, f"attempt {current.attempts} failed, next in {delay:.0f} s: {exc}", secrets)
        current.save()
    return current


def _job_fail(
    job: ProvisioningJob,
    message: str,
    panel_message: str,
    secrets: Iterable[str],
    *,
    locked: bool = False,
) -> ProvisioningJob:
    with transaction.atomic():
        current = job if locked else _locked_attempt(job)
        if current is None:
            return ProvisioningJob.objects.get(pk=job.pk)
        current.state = State.FAILED
        current.finished_at = timezone.now()
        current.lease_expires_at = current.next_attempt_at = None
        current.error = _mask(message, secrets)
        current.panel_message = _mask(panel_message, secrets)
        _log(
            current,
            f"failed: {message}" + (f" (panel said: {panel_message})" if panel_message else ""),
            secrets,
        )
        current.save()
        service = ProvisionedService.objects.select_for_update().get(pk=current.service_id)
        service.last_job = current
        if current.action == Action.CREATE and service.status == Status.PENDING:
            service.status = Status.FAILED
        service.save()
        _report(current.pk)
    return current


def _backoff(attempt: int) -> float:
    base = _setting("PROVISIONING_RETRY_BASE_S", 15)
    ceiling = _setting("PROVISIONING_RETRY_MAX_S", 900)
    delay = min(ceiling, base * 2 ** (attempt - 1))
    return delay * random.uniform(0.8, 1.2)  # spread retries of many jobs hitting one panel


def provisioning_job_finished_announce(*, job: ProvisioningJob) -> None:
    """Tells whoever listens (resale, for upstream services) that ``job`` has ended."""
    for listener in job_finished_listeners:
        listener(job=job)


def _report(job_id: int) -> None:
    job = ProvisioningJob.objects.select_related("service").get(pk=job_id)
    provisioning_job_finished_announce(job=job)


def provisioning_job_rerun(*, job: ProvisioningJob, force: bool = False) -> ProvisioningJob:
    """Staff's "run again": a failed job gets a fresh set of attempts; a running one is
    taken over only with ``force`` (its worker is known to be gone) or once its lease
    has run out."""
    with transaction.atomic():
        current = ProvisioningJob.objects.select_for_update().get(pk=job.pk)
        now = timezone.now()
        if current.state == State.SUCCEEDED:
            raise ProvisioningError("The job already succeeded.")
        leased = current.lease_expires_at and current.lease_expires_at > now
        if current.state == State.RUNNING and leased and not force:
            raise ProvisioningError("The job is running; force it only if its worker is gone.")
        if current.state == State.FAILED:
            current.max_attempts = current.attempts + int(
                _setting("PROVISIONING_JOB_MAX_ATTEMPTS", 8)
            )
            current.finished_at = None
        current.state = State.QUEUED
        current.next_attempt_at = now
        current.lease_expires_at = None
        _log(current, "queued again by staff" + (" (forced)" if force else ""))
        current.save()
        transaction.on_commit(lambda: _task_send(current.pk), robust=True)
    return current


def provisioning_jobs_requeue_stale(*, now: datetime | None = None) -> int:
    """The relay: queues again every job whose worker died (lease run out) or whose task
    was lost (queued well past due). Safe to run often and from several places."""
    now = now or timezone.now()
    grace = _setting("PROVISIONING_QUEUED_GRACE_S", 120)
    requeued = 0
    with transaction.atomic():
        stale = provisioning_jobs_stale(now=now, queued_grace_s=grace).select_for_update(
            skip_locked=True
        )
        for job in stale[:500]:
            why = (
                "its worker's lease ran out" if job.state == State.RUNNING else "no worker took it"
            )
            job.state = State.QUEUED
            job.next_attempt_at = now
            job.lease_expires_at = None
            _log(job, f"queued again: {why}")
            job.save(update_fields=["state", "next_attempt_at", "lease_expires_at", "log"])
            transaction.on_commit(lambda pk=job.pk: _task_send(pk), robust=True)
            requeued += 1
    return requeued


# --- log --------------------------------------------------------------------------------


def _mask(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    return text


def _log(job: ProvisioningJob, line: str, secrets: Iterable[str] = ()) -> None:
    entry = {
        "at": timezone.now().isoformat(timespec="seconds"),
        "line": _mask(line, secrets)[:1000],
    }
    job.log = [*(job.log or []), entry][-LOG_LINES_KEPT:]


def provisioning_job_log(*, job: ProvisioningJob, line: str) -> None:
    """Appends a line to the job's log (saved with the job by the caller)."""
    _log(job, line)
