"""The support desk's work on workers: its e-mails, and the periodic closing of quiet
answered tickets, marking of those whose answer is overdue, reading mailboxes and
syncing escalations. Beat queues each sweep only in the tenants with that work due
(``tenants.due_work``, marked by ``support.due_work``); the task settles the tenant's
mark when done."""

from __future__ import annotations

import smtplib
from datetime import timedelta

from celery import shared_task
from django.db import InterfaceError, OperationalError

from support import due_work, emails, escalations, inbound, services
from support.models import Escalation
from tenants.due_work import Kind, due_work_settle
from tenants.tasks import task_queue_for_due_tenants

TRANSIENT_ERRORS = (OperationalError, InterfaceError)
RETRY = {"max_retries": 5, "retry_backoff": 5, "retry_backoff_max": 300, "retry_jitter": True}
# How long a tenant whose sweep task was queued waits before a sweep queues it again,
# should the task be lost with its worker: longer than the task's retries take.
CLOSE_LEASE = timedelta(minutes=50)
SLA_LEASE = timedelta(minutes=15)
MAILBOX_LEASE = timedelta(minutes=5)
ESCALATION_LEASE = timedelta(minutes=5)


@shared_task(autoretry_for=TRANSIENT_ERRORS, **RETRY)
def tickets_auto_close_task() -> int:
    closed = services.tickets_auto_close()
    due_work_settle(kind=Kind.TICKETS_CLOSE, next_due=due_work.tickets_close_next_due)
    return closed


@shared_task(autoretry_for=TRANSIENT_ERRORS, **RETRY)
def tickets_sla_overdue_task() -> int:
    marked = services.tickets_sla_overdue_mark()
    due_work_settle(kind=Kind.TICKETS_SLA, next_due=due_work.tickets_sla_next_due)
    return len(marked)


@shared_task(autoretry_for=(*TRANSIENT_ERRORS, OSError, smtplib.SMTPException), **RETRY)
def ticket_email_task(kind: str, ticket_id: int, message_id: int | None = None) -> bool:
    return emails.ticket_email_send(kind, ticket_id, message_id)


@shared_task
def tickets_auto_close_all_tenants() -> int:
    return len(
        task_queue_for_due_tenants(
            tickets_auto_close_task, kind=Kind.TICKETS_CLOSE, lease=CLOSE_LEASE
        )
    )


@shared_task
def tickets_sla_overdue_all_tenants() -> int:
    return len(
        task_queue_for_due_tenants(tickets_sla_overdue_task, kind=Kind.TICKETS_SLA, lease=SLA_LEASE)
    )


@shared_task(autoretry_for=TRANSIENT_ERRORS, **RETRY)
def mailboxes_fetch_task() -> int:
    read = inbound.mailboxes_fetch()
    due_work_settle(kind=Kind.MAILBOXES, next_due=due_work.mailboxes_next_due)
    return read


@shared_task
def mailboxes_fetch_all_tenants() -> int:
    return len(
        task_queue_for_due_tenants(mailboxes_fetch_task, kind=Kind.MAILBOXES, lease=MAILBOX_LEASE)
    )


@shared_task(autoretry_for=TRANSIENT_ERRORS, **RETRY)
def escalation_push_task(escalation_id: int) -> int:
    escalation = Escalation.objects.filter(pk=escalation_id).first()
    return escalations.escalation_push(escalation=escalation) if escalation else 0


@shared_task(autoretry_for=TRANSIENT_ERRORS, **RETRY)
def escalation_pull_task(upstream_ref: str) -> int:
    escalation = Escalation.objects.filter(upstream_ref=upstream_ref).first()
    return escalations.escalation_pull(escalation=escalation) if escalation else 0


@shared_task(autoretry_for=TRANSIENT_ERRORS, **RETRY)
def escalations_sync_task() -> int:
    added = escalations.escalations_sync()
    due_work_settle(kind=Kind.ESCALATIONS, next_due=due_work.escalations_next_due)
    return added


@shared_task
def escalations_sync_all_tenants() -> int:
    return len(
        task_queue_for_due_tenants(
            escalations_sync_task, kind=Kind.ESCALATIONS, lease=ESCALATION_LEASE
        )
    )
