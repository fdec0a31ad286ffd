"""The support desk's work on workers: its e-mails, and the periodic closing of quiet
answered tickets and marking of those whose answer is overdue. Beat queues one sweep
task per tenant; each runs in its schema."""

from __future__ import annotations

import smtplib

from celery import shared_task
from django.db import InterfaceError, OperationalError

from support import emails, escalations, inbound, services
from support.models import Escalation
from tenants.tasks import task_queue_in_every_tenant

TRANSIENT_ERRORS = (OperationalError, InterfaceError)
RETRY = {"max_retries": 5, "retry_backoff": 5, "retry_backoff_max": 300, "retry_jitter": True}


@shared_task(autoretry_for=TRANSIENT_ERRORS, **RETRY)
def tickets_auto_close_task() -> int:
    return services.tickets_auto_close()


@shared_task(autoretry_for=TRANSIENT_ERRORS, **RETRY)
def tickets_sla_overdue_task() -> int:
    return len(services.tickets_sla_overdue_mark())


@shared_task(autoretry_for=(*TRANSIENT_ERRORS, OSError, smtplib.SMTPException), **RETRY)
def ticket_email_task(kind: str, ticket_id: int, message_id: int | None = None) -> bool:
    return emails.ticket_email_send(kind, ticket_id, message_id)


@shared_task
def tickets_auto_close_all_tenants() -> int:
    return task_queue_in_every_tenant(tickets_auto_close_task)


@shared_task
def tickets_sla_overdue_all_tenants() -> int:
    return task_queue_in_every_tenant(tickets_sla_overdue_task)


@shared_task(autoretry_for=TRANSIENT_ERRORS, **RETRY)
def mailboxes_fetch_task() -> int:
    return inbound.mailboxes_fetch()


@shared_task
def mailboxes_fetch_all_tenants() -> int:
    return task_queue_in_every_tenant(mailboxes_fetch_task)


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
    return escalations.escalations_sync()


@shared_task
def escalations_sync_all_tenants() -> int:
    return task_queue_in_every_tenant(escalations_sync_task)
