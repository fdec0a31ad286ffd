"""Who is acting, for the audit log.

A web request sets the actor through ``audit.middleware.AuditContextMiddleware``; the
user behind an API key is only known once the view authenticated it, so the request is
kept and read when an entry is written. Outside a request (Celery tasks, management
commands) the actor is the system unless code says otherwise with ``audit_actor``."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from celery.signals import task_postrun, task_prerun
from django.contrib.auth import get_user_model
from django.db import connection
from django_tenants.utils import get_public_schema_name


@dataclass(frozen=True)
class Actor:
    kind: str
    id: str = ""
    label: str = ""
    request_id: str = ""
    ip: str | None = None


SYSTEM = Actor(kind="system", label="system")

_actor: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("audit_actor", default=None)
_request: contextvars.ContextVar[Any] = contextvars.ContextVar("audit_request", default=None)


@contextmanager
def audit_actor(
    *, kind: str, id: str = "", label: str = "", request_id: str = "", ip: str | None = None
) -> Iterator[Actor]:
    """Names the actor for what runs inside, e.g. a task acting for a known user."""
    actor = Actor(kind=kind, id=str(id), label=label, request_id=request_id, ip=ip)
    token = _actor.set(actor)
    try:
        yield actor
    finally:
        _actor.reset(token)


def request_bind(request: Any) -> contextvars.Token:
    return _request.set(request)


def request_unbind(token: contextvars.Token) -> None:
    _request.reset(token)


def _from_request(request: Any) -> Actor:
    request_id = getattr(request, "audit_request_id", "")
    ip = request.META.get("REMOTE_ADDR") or None
    # DRF copies the authenticated credential onto the underlying request as ``auth``.
    auth = getattr(request, "auth", None)
    # Tenant API keys and the resale API's reseller credentials are both model rows.
    if auth is not None and getattr(auth, "pk", None) is not None:
        account = getattr(auth, "account", None)
        label = f"{auth} of {account}" if account is not None else str(auth)
        return Actor(
            kind="api_key",
            id=f"{auth.__class__.__name__.lower()}:{getattr(auth, 'public_id', auth.pk)}"[:64],
            label=label[:200],
            request_id=request_id,
            ip=ip,
        )
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return Actor(kind="system", label="anonymous request", request_id=request_id, ip=ip)
    if not isinstance(user, get_user_model()):
        # The resale API authenticates a reseller account with its API token, not a user.
        return Actor(
            kind="api_key",
            id=f"{user.__class__.__name__.lower()}:{user.pk}",
            label=str(user)[:200],
            request_id=request_id,
            ip=ip,
        )
    if connection.schema_name == get_public_schema_name():
        kind = "provider_staff"
    else:
        kind = "client" if getattr(user, "kind", "") == "client" else "staff"
    session = getattr(request, "session", None)
    history = session.get("hijack_history") if session is not None else None
    if history:
        # Staff seeing the client area as a client (login as client): what is done there
        # is the staff member's act, in the client's name.
        staff = get_user_model().objects.filter(pk=history[-1]).first()
        staff_email = staff.email if staff is not None else "?"
        return Actor(
            kind="staff",
            id=str(history[-1])[:64],
            label=f"{staff_email} as {user.email}"[:200],
            request_id=request_id,
            ip=ip,
        )
    return Actor(kind=kind, id=str(user.pk), label=user.email, request_id=request_id, ip=ip)


def current_actor() -> Actor:
    actor = _actor.get()
    if actor is not None:
        return actor
    request = _request.get()
    if request is not None:
        return _from_request(request)
    return SYSTEM


_task_tokens: dict[str, contextvars.Token] = {}


def _task_started(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    # The task's name says which job acted; a task queued from a request does not carry
    # the request's user, so it is the system acting.
    if task_id:
        name = getattr(task, "name", "") or "task"
        _task_tokens[task_id] = _actor.set(Actor(kind="system", label=name[:200]))


def _task_finished(task_id: str | None = None, **kwargs: Any) -> None:
    token = _task_tokens.pop(task_id, None) if task_id else None
    if token is not None:
        # Eager tasks can finish in another context; the value dies with it.
        with contextlib.suppress(ValueError):
            _actor.reset(token)


def task_signals_connect() -> None:
    task_prerun.connect(_task_started, weak=False, dispatch_uid="audit.task_started")
    task_postrun.connect(_task_finished, weak=False, dispatch_uid="audit.task_finished")
