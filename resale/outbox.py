"""The tenant side of resale: the outbox of upstream commands.

A lifecycle change of a resold service writes an ``UpstreamCommand`` in the same
transaction as the change (``upstream_command_queue``). After commit a tenant-aware Celery
task sends it; ``upstream_commands_relay`` (Celery beat) resends whatever is still pending,
so a lost task or a killed worker delays a command but never loses it, and the upstream's
memory of idempotency keys makes a resend harmless. The relay visits only tenants with a
command due: writing a command marks the tenant in ``tenants.due_work`` in the same
transaction, and the relay settles the mark at the next command's time once done.
"""

from __future__ import annotations

import logging
import random
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Min
from django.utils import timezone

from resale.domain_bridge import domain_secrets_for, domain_state_apply
from resale.models import UpstreamCommand
from resale.upstreams import UpstreamRejected, UpstreamUnavailable, upstream_for_current_tenant
from tenants.due_work import Kind, due_work_mark

logger = logging.getLogger(__name__)

MAX_BACKOFF_S = 300


def _backoff(attempts: int) -> timedelta:
    base = min(2 ** max(attempts - 1, 0), MAX_BACKOFF_S)
    return timedelta(seconds=base * (0.5 + random.random() / 2))


def upstream_command_queue(
    *, action: str, service_ref: str, payload: dict, idempotency_key: str | None = None
) -> UpstreamCommand:
    """Writes the command in the caller's transaction and sends it once that commits. A
    key already queued returns the command it queued (a renewal paid twice, say)."""
    key = idempotency_key or f"{action}:{service_ref}:{uuid.uuid4().hex}"
    existing = UpstreamCommand.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            command = UpstreamCommand.objects.create(
                action=action,
                service_ref=service_ref,
                payload=payload,
                idempotency_key=key,
                next_attempt_at=timezone.now(),
            )
            due_work_mark(kind=Kind.OUTBOX, at=command.next_attempt_at)
    except IntegrityError:
        return UpstreamCommand.objects.get(idempotency_key=key)
    transaction.on_commit(lambda: _dispatch_later(command.pk), robust=True)
    return command


def _dispatch_later(command_id: int) -> None:
    # resale.tasks imports this module; the task is looked up at call time.
    from resale.tasks import upstream_command_dispatch_task

    try:
        upstream_command_dispatch_task.delay(command_id)
    # The broker being down must not fail the request that queued the command.
    except Exception:
        logger.warning(
            "Could not queue upstream command %s; the relay will send it", command_id, exc_info=True
        )


def upstream_command_dispatch(*, command_id: int) -> UpstreamCommand | None:
    """Sends one command. Row-locked, so two workers never send the same one at once."""
    with transaction.atomic():
        command = (
            UpstreamCommand.objects.select_for_update(skip_locked=True)
            .filter(
                pk=command_id,
                state__in=[UpstreamCommand.State.PENDING, UpstreamCommand.State.AWAITING_FUNDS],
            )
            .first()
        )
        if command is None:
            return None
        if _earlier_unsent(command):
            # Commands of one service go upstream in the order they were made: an
            # unsuspend must not overtake the suspend before it.
            command.next_attempt_at = timezone.now() + timedelta(seconds=2)
            command.save(update_fields=["next_attempt_at"])
            return command
        command.attempts += 1
        payload = dict(command.payload)
        try:
            reply = upstream_for_current_tenant().send(
                idempotency_key=command.idempotency_key,
                action=command.action,
                payload=payload,
                secrets=domain_secrets_for(command),
            )
        except UpstreamUnavailable as exc:
            command.last_error = str(exc)[:2000]
            command.next_attempt_at = timezone.now() + _backoff(command.attempts)
            command.save(update_fields=["attempts", "last_error", "next_attempt_at"])
            return command
        except UpstreamRejected as exc:
            command.state = UpstreamCommand.State.FAILED
            command.last_error = str(exc)[:2000]
            command.completed_at = timezone.now()
            command.save()
            transaction.on_commit(lambda: _notify_failed(command), robust=True)
            return command
        command.response = reply.response
        command.last_error = ""
        command.upstream_ref = reply.response.get("service_ref", command.upstream_ref)
        if reply.status == "awaiting_funds":
            was_waiting = command.state == UpstreamCommand.State.AWAITING_FUNDS
            command.state = UpstreamCommand.State.AWAITING_FUNDS
            command.last_error = reply.response.get("detail", "")
            # Released by a top-up; this is only a safety net.
            command.next_attempt_at = timezone.now() + timedelta(minutes=10)
            command.save()
            if not was_waiting:
                transaction.on_commit(lambda: _notify_awaiting_funds(command), robust=True)
            return command
        command.sent_at = command.sent_at or timezone.now()
        if reply.status == "done" or command.action == UpstreamCommand.Action.RENEW:
            _complete(command)
        else:
            command.state = UpstreamCommand.State.SENT
            command.next_attempt_at = timezone.now() + timedelta(
                seconds=settings.RESALE_SENT_RECHECK_S
            )
            command.save()
        following = _next_unsent(command)
        if following is not None:
            transaction.on_commit(lambda: _dispatch_later(following), robust=True)
        return command


_UNSENT = [UpstreamCommand.State.PENDING, UpstreamCommand.State.AWAITING_FUNDS]


def _earlier_unsent(command: UpstreamCommand) -> bool:
    return UpstreamCommand.objects.filter(
        service_ref=command.service_ref, pk__lt=command.pk, state__in=_UNSENT
    ).exists()


def _next_unsent(command: UpstreamCommand) -> int | None:
    return (
        UpstreamCommand.objects.filter(
            service_ref=command.service_ref, pk__gt=command.pk, state__in=_UNSENT
        )
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )


def _complete(command: UpstreamCommand) -> None:
    """Marks the command done and applies its result in the same transaction: a worker
    killed after the commit must not leave a command done and its service still pending."""
    # resale.hooks calls back into this module; it is looked up at call time.
    from resale import hooks

    command.state = UpstreamCommand.State.DONE
    command.completed_at = timezone.now()
    command.save()
    hooks.tenant_command_done(command)


def upstream_result_apply(
    *,
    idempotency_key: str | None = None,
    service_ref: str = "",
    upstream_ref: str = "",
    action: str,
    ok: bool,
    error: str = "",
    error_code: str = "",
) -> UpstreamCommand | None:
    """The upstream reports how a command ended (pushed for this installation's provider,
    polled for a remote one); a failure may come with why as a stable code
    (``resale.domains.failure_code``), which the command keeps in its response for the
    portals to word."""
    with transaction.atomic():
        commands = UpstreamCommand.objects.select_for_update().filter(
            state__in=[UpstreamCommand.State.SENT, UpstreamCommand.State.PENDING], action=action
        )
        if idempotency_key:
            commands = commands.filter(idempotency_key=idempotency_key)
        else:
            commands = commands.filter(upstream_ref=upstream_ref)
        command = commands.order_by("created_at").first()
        if command is None:
            return None
        if upstream_ref and not command.upstream_ref:
            command.upstream_ref = upstream_ref
        if ok:
            _complete(command)
        else:
            command.state = UpstreamCommand.State.FAILED
            command.last_error = error[:2000]
            if error_code:
                command.response = {**(command.response or {}), "error_code": error_code[:64]}
            command.completed_at = timezone.now()
            command.save()
            transaction.on_commit(lambda: _notify_failed(command), robust=True)
        return command


def upstream_command_retry(*, command: UpstreamCommand) -> UpstreamCommand:
    """A failed command goes back to the queue (from either console)."""
    with transaction.atomic():
        command = UpstreamCommand.objects.select_for_update().get(pk=command.pk)
        if command.state != UpstreamCommand.State.FAILED:
            return command
        command.state = UpstreamCommand.State.PENDING
        command.next_attempt_at = timezone.now()
        command.last_error = ""
        command.save()
        due_work_mark(kind=Kind.OUTBOX, at=command.next_attempt_at)
        transaction.on_commit(lambda: _dispatch_later(command.pk), robust=True)
    return command


def upstream_commands_release_awaiting_funds() -> int:
    """After a top-up: every command waiting for funds is sent again, oldest first."""
    waiting = list(
        UpstreamCommand.objects.filter(state=UpstreamCommand.State.AWAITING_FUNDS)
        .order_by("created_at")
        .values_list("pk", flat=True)
    )
    for command_id in waiting:
        upstream_command_dispatch(command_id=command_id)
    return len(waiting)


def upstream_commands_relay(*, now=None, limit: int = 500) -> dict:
    """Resends pending commands whose time has come and checks sent ones still open."""
    now = now or timezone.now()
    due = list(
        UpstreamCommand.objects.filter(
            state__in=[UpstreamCommand.State.PENDING, UpstreamCommand.State.AWAITING_FUNDS],
            next_attempt_at__lte=now,
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for command_id in due:
        upstream_command_dispatch(command_id=command_id)
    stale = list(
        UpstreamCommand.objects.filter(
            state=UpstreamCommand.State.SENT, next_attempt_at__lte=now
        ).values_list("pk", flat=True)[:limit]
    )
    for command_id in stale:
        upstream_command_check(command_id=command_id)
    return {"sent": len(due), "checked": len(stale)}


_OPEN = [*_UNSENT, UpstreamCommand.State.SENT]


def upstream_commands_next_due() -> datetime | None:
    """When the relay next has something to do in this tenant: the earliest time of a
    command still to send or to ask about."""
    return UpstreamCommand.objects.filter(state__in=_OPEN).aggregate(due=Min("next_attempt_at"))[
        "due"
    ]


def upstream_command_check(*, command_id: int) -> None:
    """Asks the upstream how a sent command ended (for when a push never arrived)."""
    command = UpstreamCommand.objects.get(pk=command_id)
    if not command.upstream_ref:
        return
    try:
        status = upstream_for_current_tenant().service_status(service_ref=command.upstream_ref)
    except (UpstreamUnavailable, UpstreamRejected) as exc:
        UpstreamCommand.objects.filter(pk=command_id).update(
            last_error=str(exc)[:2000],
            next_attempt_at=timezone.now() + timedelta(seconds=settings.RESALE_SENT_RECHECK_S),
        )
        return
    finished = {
        UpstreamCommand.Action.CREATE: {"active", "suspended"},
        UpstreamCommand.Action.SUSPEND: {"suspended"},
        UpstreamCommand.Action.UNSUSPEND: {"active"},
        UpstreamCommand.Action.TERMINATE: {"terminated"},
        UpstreamCommand.Action.CHANGE_PLAN: {"active", "suspended"},
        # The provider holds the new options from the moment it accepts the change.
        UpstreamCommand.Action.CHANGE_OPTIONS: {"active", "suspended"},
        UpstreamCommand.Action.DOMAIN_REGISTER: {"active"},
        UpstreamCommand.Action.DOMAIN_TRANSFER: {"active"},
        UpstreamCommand.Action.DOMAIN_RESTORE: {"active"},
        UpstreamCommand.Action.DOMAIN_RENEW: {"active", "expired"},
    }.get(command.action, set())
    if "domain" in status:
        # A domain: what its registry holds is the tenant's to keep.
        domain_state_apply(upstream_ref=command.upstream_ref, state=status)
        if status.get("operation"):
            finished = set()  # its registrar work is still under way
    if status.get("status") in finished and not status.get("last_error"):
        upstream_result_apply(
            idempotency_key=command.idempotency_key, action=command.action, ok=True
        )
    elif status.get("status") == "failed":
        upstream_result_apply(
            idempotency_key=command.idempotency_key,
            action=command.action,
            ok=False,
            error=status.get("last_error", ""),
            error_code=status.get("error_code", ""),
        )
    else:
        UpstreamCommand.objects.filter(pk=command_id).update(
            next_attempt_at=timezone.now() + timedelta(seconds=settings.RESALE_SENT_RECHECK_S)
        )


def _notify_failed(command: UpstreamCommand) -> None:
    # resale.hooks calls back into this module; it is looked up at call time.
    from resale import hooks

    hooks.tenant_command_failed(command)


def _notify_awaiting_funds(command: UpstreamCommand) -> None:
    # resale.hooks calls back into this module; it is looked up at call time.
    from resale import hooks

    hooks.tenant_awaiting_funds(command)
