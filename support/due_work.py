"""The support desk's periodic work in ``tenants.due_work``, so its sweeps visit only the
tenants that have some:

- ``tickets_close``: an answered ticket in a department that closes them, due at
  ``answered_at`` + the department's days;
- ``tickets_sla``: a ticket whose answer is owed, due at its ``sla_due_at``;
- ``mailboxes``: an active mailbox, due every ``MAILBOX_INTERVAL``;
- ``escalations``: an escalation with a send waiting or a live thread at the provider,
  due every ``ESCALATION_INTERVAL``.

Each write of such a row marks its tenant (post_save receivers, connected by
``support_due_marks_connect``, so no service function can forget): the mark commits
with the row. Each ``*_next_due`` answers, for the current tenant, when the work is next
due; the tenant's task settles its mark with it once done. Bulk updates need no mark:
the only one (the SLA sweep's ``sla_breached_at``) takes work away, and the settling
that follows it accounts for that.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Min
from django.db.models.signals import post_save
from django.utils import timezone

from support.models import Department, Escalation, EscalationSend, Mailbox, Ticket
from tenants.due_work import Kind, due_work_mark

Status = Ticket.Status

# A little under the beat's minute, so a tenant settled by one tick is due at the next.
MAILBOX_INTERVAL = timedelta(seconds=50)
ESCALATION_INTERVAL = timedelta(seconds=50)


def tickets_close_next_due() -> datetime | None:
    """When the current tenant's first answered ticket falls quiet long enough to close,
    or None if no answered ticket sits in a department that closes them."""
    days = dict(
        Department.objects.filter(auto_close_days__isnull=False).values_list(
            "pk", "auto_close_days"
        )
    )
    if not days:
        return None
    earliest = (
        Ticket.objects.filter(
            status=Status.ANSWERED, department_id__in=days, answered_at__isnull=False
        )
        .values("department_id")
        .annotate(first=Min("answered_at"))
    )
    return min(
        (row["first"] + timedelta(days=days[row["department_id"]]) for row in earliest),
        default=None,
    )


def tickets_sla_next_due() -> datetime | None:
    """The earliest answer owed and not yet reported overdue (the partial SLA index)."""
    return Ticket.objects.filter(sla_due_at__isnull=False, sla_breached_at__isnull=True).aggregate(
        first=Min("sla_due_at")
    )["first"]


def mailboxes_next_due() -> datetime | None:
    if not Mailbox.objects.filter(is_active=True, department__is_active=True).exists():
        return None
    return timezone.now() + MAILBOX_INTERVAL


def escalations_next_due() -> datetime | None:
    # A closed or refused thread is not asked about any more; the provider's own change
    # notices (``resale.escalations``) still reach the tenant at once.
    waiting = EscalationSend.objects.filter(state=EscalationSend.State.PENDING).exists()
    live = (
        Escalation.objects.exclude(upstream_ref="")
        .exclude(status__in=[Escalation.Status.FAILED, Escalation.Status.CLOSED])
        .exists()
    )
    return timezone.now() + ESCALATION_INTERVAL if waiting or live else None


def _ticket_saved(sender, instance: Ticket, **kwargs) -> None:
    if instance.sla_due_at is not None and instance.sla_breached_at is None:
        due_work_mark(kind=Kind.TICKETS_SLA, at=instance.sla_due_at)
    if instance.status == Status.ANSWERED and instance.answered_at is not None:
        days = (
            Department.objects.filter(pk=instance.department_id)
            .values_list("auto_close_days", flat=True)
            .first()
        )
        if days is not None:
            due_work_mark(kind=Kind.TICKETS_CLOSE, at=instance.answered_at + timedelta(days=days))


def _department_saved(sender, instance: Department, **kwargs) -> None:
    # Its days may have changed for tickets answered long ago: the sweep finds out when.
    if instance.auto_close_days is not None:
        due_work_mark(kind=Kind.TICKETS_CLOSE)


def _mailbox_saved(sender, instance: Mailbox, **kwargs) -> None:
    if instance.is_active:
        due_work_mark(kind=Kind.MAILBOXES)


def _escalation_saved(sender, instance: Escalation, **kwargs) -> None:
    if instance.status not in (Escalation.Status.FAILED, Escalation.Status.CLOSED):
        due_work_mark(kind=Kind.ESCALATIONS)


def _escalation_send_saved(sender, instance: EscalationSend, **kwargs) -> None:
    if instance.state == EscalationSend.State.PENDING:
        due_work_mark(kind=Kind.ESCALATIONS)


def support_due_marks_connect() -> None:
    post_save.connect(_ticket_saved, sender=Ticket, dispatch_uid="support_due_ticket")
    post_save.connect(_department_saved, sender=Department, dispatch_uid="support_due_department")
    post_save.connect(_mailbox_saved, sender=Mailbox, dispatch_uid="support_due_mailbox")
    post_save.connect(_escalation_saved, sender=Escalation, dispatch_uid="support_due_escalation")
    post_save.connect(
        _escalation_send_saved, sender=EscalationSend, dispatch_uid="support_due_escalation_send"
    )
