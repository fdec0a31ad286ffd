"""Dunning: collecting an invoice whose automatic charge failed.

The first failure opens an ``InvoiceDunning`` row on the invoice (``invoice.dunning``)
and schedules retries on the tenant's dunning days, counted from that failure (days 1,
3 and 5 by default). Every failure e-mails the client: when the next try is, or that
there will be none. A success, or the invoice being settled any other way, closes it.

Dunning never suspends anything itself: the invoice stays open, so the billing run's
overdue and suspension steps, which read the invoice's status, act on it as on any
unpaid invoice, and a payment lifts the suspension as it always does.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from django.db import transaction

from billing.models import Invoice
from billing.models.gateway import InvoiceDunning, PaymentAttempt
from billing.payments import emails as payment_emails
from billing.payments.gateways.config import payment_settings_get

logger = logging.getLogger(__name__)

D = InvoiceDunning.Status

# Declines where retrying the same card off-session cannot work: the bank wants the
# cardholder present.
NEEDS_CLIENT = {"authentication_required"}


def _schedule() -> list[int]:
    return sorted(payment_settings_get().dunning_days or [])


def dunning_failure_register(*, attempt: PaymentAttempt, on_date: date) -> InvoiceDunning:
    """Counts a failed automatic charge (once per attempt: the caller holds the attempt
    lock and calls this when it turns failed) and schedules the next try."""
    dunning, _created = InvoiceDunning.objects.select_for_update().get_or_create(
        invoice_id=attempt.invoice_id, defaults={"started_on": on_date}
    )
    if dunning.status != D.ACTIVE:
        return dunning
    dunning.failures += 1
    dunning.last_error = attempt.error_message[:500]
    days = _schedule()
    # The first failure is the charge itself; each one after it used up a retry.
    retries_used = dunning.failures - 1
    if retries_used < len(days):
        dunning.next_attempt_on = dunning.started_on + timedelta(days=days[retries_used])
    else:
        dunning.next_attempt_on = None
        dunning.status = D.EXHAUSTED
    dunning.save()
    _failure_email(attempt, dunning)
    return dunning


def dunning_payment_settled(*, invoice_id: int) -> None:
    """The invoice got paid: its dunning is over. Inside the payment's transaction."""
    invoice = Invoice.objects.get(pk=invoice_id)
    if invoice.is_open:
        return
    InvoiceDunning.objects.filter(invoice_id=invoice_id, status=D.ACTIVE).update(
        status=D.RECOVERED if invoice.status == Invoice.Status.PAID else D.STOPPED,
        next_attempt_on=None,
    )


def dunning_stop(*, invoice: Invoice) -> None:
    """Staff stop the retries (the client will pay another way)."""
    InvoiceDunning.objects.filter(invoice=invoice, status=D.ACTIVE).update(
        status=D.STOPPED, next_attempt_on=None
    )


def dunning_retries_due(*, on_date: date) -> list[PaymentAttempt]:
    """Tries again every invoice whose next dunning day has come."""
    # billing.payments.flows imports this module; looked up at call time.
    from billing.payments.flows import invoice_autocharge

    attempts: list[PaymentAttempt] = []
    due = InvoiceDunning.objects.filter(status=D.ACTIVE, next_attempt_on__lte=on_date)
    for dunning in due.select_related("invoice").order_by("next_attempt_on", "pk"):
        invoice = dunning.invoice
        if not invoice.is_open or invoice.amount_due.amount <= 0:
            dunning_payment_settled(invoice_id=invoice.pk)
            continue
        attempt = invoice_autocharge(
            invoice=invoice,
            on_date=on_date,
            kind=PaymentAttempt.Kind.RETRY,
            # One retry per dunning day, however often the step runs that day.
            idempotency_key=f"retry:{invoice.public_id}:{dunning.failures}",
        )
        if attempt is None:
            # No card to charge any more: nothing to retry, the invoice stays due.
            with transaction.atomic():
                InvoiceDunning.objects.filter(pk=dunning.pk, status=D.ACTIVE).update(
                    status=D.STOPPED, next_attempt_on=None
                )
            continue
        attempts.append(attempt)
    return attempts


def _failure_email(attempt: PaymentAttempt, dunning: InvoiceDunning) -> None:
    invoice = Invoice.objects.select_related("client").get(pk=attempt.invoice_id)
    method = attempt.method
    card = f"{method.brand} •••• {method.last4}".strip() if method else ""
    next_on = dunning.next_attempt_on
    needs_client = attempt.error_code in NEEDS_CLIENT

    def context(language: str) -> dict[str, Any]:
        return {
            "invoice_number": invoice.number,
            "amount": payment_emails.money_text(attempt.money, language),
            "card": card,
            "reason": attempt.error_message,
            "next_attempt": payment_emails.date_text(next_on, language) if next_on else "",
            "due_date": payment_emails.date_text(invoice.due_date, language),
            "needs_authentication": needs_client,
        }

    client = invoice.client
    payment_emails.after_commit(
        lambda: payment_emails.client_email_send(
            "autocharge_failed", client=client, context=context
        )
    )
