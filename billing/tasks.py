"""Billing work that runs on Celery workers, never in a request.

Tasks are thin: load the rows, call the service, retry when the failure is transient.
Each task runs in the schema it was queued from: tenant-schemas-celery sends the schema
in the message headers, and the queue helpers (``billing.documents.invoice_pdf_queue``,
``billing.emails.email_queue``) pin it when they queue.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import date, timedelta

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

from billing import documents, emails
from billing.models import CreditNote, Invoice
from tenants.due_work import Kind as DueKind
from tenants.due_work import due_work_claim, due_work_release, due_work_settle
from tenants.tasks import fan_out_in_lanes

logger = logging.getLogger(__name__)

# Failures that may well pass on a later try: the database or the disk hiccuped.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, OSError)
# And for e-mail, the mail server did.
TRANSIENT_MAIL_ERRORS = (*TRANSIENT_ERRORS, smtplib.SMTPException)
RETRY = {"max_retries": 6, "retry_backoff": 5, "retry_backoff_max": 600, "retry_jitter": True}

# The kinds the billing run notifies in bulk (billing.billing_run._queue_emails).
NOTIFY_KINDS = {
    "issued": emails.EmailKind.INVOICE_ISSUED,
    "reminder": emails.EmailKind.PAYMENT_REMINDER,
    "overdue": emails.EmailKind.INVOICE_OVERDUE,
}


@shared_task(autoretry_for=TRANSIENT_ERRORS, **RETRY)
def invoice_pdf_render_task(invoice_id: int) -> bool:
    """Renders the invoice's PDF unless the stored one is current. Returns whether a new
    PDF was stored."""

    invoice = Invoice.objects.filter(pk=invoice_id).first()
    if invoice is None:
        # Not retried: a missing row does not appear later, and a task that ran in the
        # wrong schema should be loud in the log, not loop.
        logger.error("Invoice %s not found in schema %s", invoice_id, connection.schema_name)
        return False
    return documents.invoice_pdf_render(invoice)


@shared_task(autoretry_for=TRANSIENT_ERRORS, **RETRY)
def credit_note_pdf_render_task(credit_note_id: int) -> bool:
    credit_note = CreditNote.objects.filter(pk=credit_note_id).first()
    if credit_note is None:
        logger.error(
            "Credit note %s not found in schema %s", credit_note_id, connection.schema_name
        )
        return False
    return documents.credit_note_pdf_render(credit_note)


@shared_task(autoretry_for=TRANSIENT_MAIL_ERRORS, **RETRY)
def email_send_task(kind: str, object_id: int) -> bool:
    """Sends one client e-mail of ``kind`` about the row ``object_id`` (an invoice, a
    payment or a service, as the kind says). Returns whether a message went out."""
    return emails.email_send_for(emails.EmailKind(kind), object_id) is not None


@shared_task
def invoices_notify_task(kind: str, invoice_ids: list[int]) -> int:
    """E-mails a chunk of invoices from the billing run ("issued", "reminder" or
    "overdue"). An invoice that fails goes to a task of its own, which retries it
    alone: retrying the chunk would mail the others twice. Returns the number sent."""
    email_kind = NOTIFY_KINDS[kind]
    sent = 0
    for invoice_id in invoice_ids:
        try:
            sent += emails.email_send_for(email_kind, invoice_id) is not None
        except Exception:
            logger.exception("%s e-mail for invoice %s failed; retrying alone", kind, invoice_id)
            email_send_task.apply_async(
                args=[str(email_kind), invoice_id],
                headers={"_schema_name": connection.schema_name},
                countdown=60,
            )
    return sent


@shared_task(autoretry_for=TRANSIENT_ERRORS, **RETRY)
def billing_run_task(run_date: str | None = None) -> dict:
    """The billing run of the tenant the task was queued for (safe to run again: a run
    skips what is already done)."""
    return _billing_run_here(run_date).as_dict()


def _billing_run_here(run_date: str | None):
    # billing.billing_run imports this module; looked up at call time.
    from billing.billing_run import billing_run, billing_run_next_due

    result = billing_run(run_date=date.fromisoformat(run_date) if run_date else None)
    due_work_settle(kind=DueKind.BILLING_RUN, next_due=billing_run_next_due)
    return result


# A tenant claimed by a fan-out is not claimed again for this long, should its lane be
# lost with its worker; the next day's fan-out takes it then.
BILLING_RUN_LEASE = timedelta(hours=12)


@shared_task
def billing_run_all_tenants(run_date: str | None = None) -> dict:
    """The daily schedule: the billing run of every tenant with something to bill (and of
    no other), in at most ``BILLING_RUN_CONCURRENCY`` lanes at once, each lane one tenant
    after another, so a thousand tenants never flood the workers; its progress is a
    ``FanOutRun`` row (and the worker's log)."""
    schemas = due_work_claim(kind=DueKind.BILLING_RUN, lease=BILLING_RUN_LEASE)
    lanes = max(1, settings.BILLING_RUN_CONCURRENCY)
    run = fan_out_in_lanes(
        step="billing.tasks.billing_run_lane_step",
        kind=DueKind.BILLING_RUN,
        schemas=schemas,
        lanes=lanes,
        args=[run_date],
    )
    return {"fan_out": run.pk, "tenants": len(schemas), "lanes": min(lanes, len(schemas))}


def billing_run_lane_step(run_date: str | None = None) -> None:
    """One tenant of the fan-out, in its schema: its billing run (which skips what is
    done, so a lane delivered again repeats nothing). A tenant that fails has its mark
    released for the next fan-out, and the failure goes on to the lane, which counts it."""
    try:
        _billing_run_here(run_date)
    except Exception:
        due_work_release(kind=DueKind.BILLING_RUN, schema_name=connection.schema_name)
        raise


# Payment tasks live in their own module; importing them here registers them on workers.
from billing.payments.tasks import *  # noqa: E402, F403
