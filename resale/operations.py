"""The provider's operations queue: everything between a reseller's order and a running
account that needs a person. Provisioning jobs live in the public schema; the commands
a reseller's installation has not got through (failed, waiting for funds, stuck) live in
its own schema's outbox, so the queue reads each reseller's outbox in turn, never joining
across schemas.

Retrying a failed order debits it again (it was refunded when it failed) and sends the
reseller's own command again, so the reseller's service activates when the job succeeds.
Cancelling refunds what the reseller paid for the service and has not had back, once:
a job through ``provisioning_job_cancel``, a reseller's command through
``operations_command_cancel``, which also stops the command in the reseller's outbox so
that its console shows the cancellation and its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Min, Q, Sum
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from audit.services import audit_record
from billing.money import Money, money_json
from core.locale import money_format
from provisioning.models import ProvisioningJob
from provisioning.operations import provisioning_job_cancel, provisioning_jobs_needing_attention
from provisioning.services import ProvisioningError, provisioning_job_rerun
from resale import hooks
from resale.models import (
    BalanceEntry,
    ResellerAccount,
    UpstreamCommand,
    UpstreamRequest,
    UpstreamService,
)
from resale.outbox import upstream_command_check, upstream_command_dispatch, upstream_command_retry
from resale.services import (
    InsufficientFunds,
    ResaleError,
    balance_entry_append,
    reseller_available,
    upstream_service_refund,
)

# An order the provider accepted but has not delivered: cancelling it refunds it.
_UNDELIVERED = [UpstreamService.Status.PROVISIONING, UpstreamService.Status.FAILED]

# A command not sent after this long, or sent and not answered, is stuck.
PENDING_STUCK = timedelta(minutes=10)
SENT_STUCK = timedelta(hours=1)

FAILED, FAILING, STUCK, AWAITING_FUNDS = "failed", "failing", "stuck", "awaiting_funds"


@dataclass(frozen=True)
class QueueItem:
    kind: str  # "job" (provisioning, public schema) or "command" (a reseller's outbox)
    public_id: str
    account: ResellerAccount | None
    action: str
    state: str  # failed | failing | stuck | awaiting_funds
    reason: str
    since: datetime
    paid: Money | None  # what the reseller paid for the service and has not had back


def _net_paid(service: UpstreamService) -> Money:
    total = service.balance_entries.aggregate(total=Sum("amount_value"))["total"] or Decimal(0)
    return Money(-total, service.currency)


def _job_state(job: ProvisioningJob) -> str:
    if job.state == ProvisioningJob.State.FAILED:
        return FAILED
    if job.state == ProvisioningJob.State.QUEUED and job.attempts and job.error:
        return FAILING
    return STUCK


def _job_items(now: datetime) -> list[QueueItem]:
    jobs = list(provisioning_jobs_needing_attention(now=now)[:200])
    upstream_ids = [job.service.upstream_service_id for job in jobs if job.service]
    services = {
        service.pk: service
        for service in UpstreamService.objects.filter(pk__in=upstream_ids).select_related("account")
    }
    items = []
    for job in jobs:
        service = services.get(job.service.upstream_service_id)
        paid = _net_paid(service) if service else None
        items.append(
            QueueItem(
                kind="job",
                public_id=str(job.public_id),
                account=service.account if service else None,
                action=str(job.get_action_display()),
                state=_job_state(job),
                reason=job.error or job.panel_message,
                since=job.created_at,
                paid=paid if paid and paid.amount > 0 else None,
            )
        )
    return items


def _commands_needing_attention(now: datetime):
    return UpstreamCommand.objects.filter(
        Q(state__in=[UpstreamCommand.State.FAILED, UpstreamCommand.State.AWAITING_FUNDS])
        | Q(state=UpstreamCommand.State.PENDING, created_at__lt=now - PENDING_STUCK)
        | Q(state=UpstreamCommand.State.SENT, sent_at__lt=now - SENT_STUCK)
    ).order_by("created_at")


_COMMAND_STATE = {
    UpstreamCommand.State.FAILED: FAILED,
    UpstreamCommand.State.AWAITING_FUNDS: AWAITING_FUNDS,
}


def _accounts():
    return ResellerAccount.objects.select_related("tenant").order_by("pk")


def _orders_paid(account: ResellerAccount, keys: list[str]) -> dict[str, Money]:
    """What the provider holds for the orders the reseller sent under ``keys`` and has not
    delivered (a cancellation refunds it), by key."""
    requests = UpstreamRequest.objects.filter(
        account=account,
        idempotency_key__in=keys,
        action=UpstreamCommand.Action.CREATE,
        upstream_service__status__in=_UNDELIVERED,
    ).select_related("upstream_service")
    paid = {}
    for request in requests:
        net = _net_paid(request.upstream_service)
        if net.amount > 0:
            paid[request.idempotency_key] = net
    return paid


def _command_items(now: datetime) -> list[QueueItem]:
    items = []
    for account in _accounts():
        with schema_context(account.tenant.schema_name):
            commands = list(_commands_needing_attention(now)[:100])
        if not commands:
            continue
        paid = _orders_paid(account, [command.idempotency_key for command in commands])
        for command in commands:
            items.append(
                QueueItem(
                    kind="command",
                    public_id=command.public_id,
                    account=account,
                    action=str(command.get_action_display()),
                    state=_COMMAND_STATE.get(command.state, STUCK),
                    reason=command.last_error,
                    since=command.created_at,
                    paid=paid.get(command.idempotency_key),
                )
            )
    return items


def operations_queue(*, now: datetime | None = None, state: str = "") -> list[QueueItem]:
    """Oldest first: what has waited longest comes first."""
    now = now or timezone.now()
    items = _job_items(now) + _command_items(now)
    if state:
        items = [item for item in items if item.state == state]
    return sorted(items, key=lambda item: item.since)


@dataclass(frozen=True)
class CommandHealth:
    pending: int
    awaiting_funds: int
    failed: int
    oldest: datetime | None  # the oldest command not done yet


def upstream_command_health() -> CommandHealth:
    pending = awaiting = failed = 0
    oldest: datetime | None = None
    open_states = [
        UpstreamCommand.State.PENDING,
        UpstreamCommand.State.SENT,
        UpstreamCommand.State.AWAITING_FUNDS,
        UpstreamCommand.State.FAILED,
    ]
    for account in _accounts():
        with schema_context(account.tenant.schema_name):
            rows = UpstreamCommand.objects.filter(state__in=open_states)
            counts = {
                state: rows.filter(state=state).count()
                for state in (
                    UpstreamCommand.State.PENDING,
                    UpstreamCommand.State.SENT,
                    UpstreamCommand.State.AWAITING_FUNDS,
                    UpstreamCommand.State.FAILED,
                )
            }
            first = rows.aggregate(first=Min("created_at"))["first"]
        pending += counts[UpstreamCommand.State.PENDING] + counts[UpstreamCommand.State.SENT]
        awaiting += counts[UpstreamCommand.State.AWAITING_FUNDS]
        failed += counts[UpstreamCommand.State.FAILED]
        if first and (oldest is None or first < oldest):
            oldest = first
    return CommandHealth(pending=pending, awaiting_funds=awaiting, failed=failed, oldest=oldest)


# --- retry and cancel -----------------------------------------------------------------


def _job_get(public_id: str) -> ProvisioningJob:
    job = ProvisioningJob.objects.select_related("service").filter(public_id=public_id).first()
    if job is None:
        raise ResaleError("No such job.", code="not_found")
    return job


def _upstream_service_of(job: ProvisioningJob) -> UpstreamService | None:
    if job.service.upstream_service_id is None:
        return None
    return (
        UpstreamService.objects.select_related("account__tenant", "plan")
        .filter(pk=job.service.upstream_service_id)
        .first()
    )


def _order_debit_again(service: UpstreamService) -> None:
    """A failed order was refunded; running it again costs the reseller its price again.
    Locks the account, then the service, as the command path does."""
    account = ResellerAccount.objects.select_for_update().get(pk=service.account_id)
    service = UpstreamService.objects.select_for_update().select_related("plan").get(pk=service.pk)
    if service.status != UpstreamService.Status.FAILED:
        return
    price = Money(service.price_amount, service.currency)
    available = reseller_available(account=account)
    if available < price:
        raise InsufficientFunds(
            f"The reseller's available balance ({money_format(available)}) does not cover "
            f"{money_format(price)}."
        )
    debits = service.balance_entries.filter(kind=BalanceEntry.Kind.ORDER_DEBIT).count()
    balance_entry_append(
        account=account,
        kind=BalanceEntry.Kind.ORDER_DEBIT,
        amount=-price,
        description=f"{service.plan.name} ({service.cycle}), run again",
        idempotency_key=f"order:{service.public_id}:again:{debits}",
        upstream_service=service,
    )
    service.status = UpstreamService.Status.PROVISIONING
    service.last_error = ""
    service.save(update_fields=["status", "last_error", "updated_at"])


def _tenant_commands_retry(service: UpstreamService) -> None:
    """The reseller's own failed commands for the service go back to its queue; each
    commits inside the tenant's schema, so its task is queued there."""
    with schema_context(service.account.tenant.schema_name):
        for command in UpstreamCommand.objects.filter(
            upstream_ref=service.public_id, state=UpstreamCommand.State.FAILED
        ):
            upstream_command_retry(command=command)


def operations_job_retry(*, public_id: str) -> ProvisioningJob:
    job = _job_get(public_id)
    if "cancelled" in (job.params or {}):
        raise ResaleError("A cancelled job is not run again.")
    if job.state == ProvisioningJob.State.SUCCEEDED:
        raise ResaleError("The job already succeeded.")
    service = _upstream_service_of(job)
    if service is not None and job.action == ProvisioningJob.Action.CREATE:
        price = Money(service.price_amount, service.currency)
        if service.status == UpstreamService.Status.FAILED and (
            reseller_available(account=service.account) < price
        ):
            raise InsufficientFunds(
                f"The reseller's available balance does not cover {money_format(price)} to run "
                "it again."
            )
    if service is not None:
        # First, so that the job's result, however soon it comes, finds the reseller's
        # command waiting for it.
        _tenant_commands_retry(service)
    try:
        with transaction.atomic():
            if service is not None and job.action == ProvisioningJob.Action.CREATE:
                _order_debit_again(service)
            job = provisioning_job_rerun(job=job)
    except ProvisioningError as exc:
        raise ResaleError(str(exc)) from exc
    return job


def operations_job_cancel(*, public_id: str, reason: str, cancelled_by: str) -> Money | None:
    """Returns what was refunded by this cancellation, if anything."""
    job = _job_get(public_id)
    service = _upstream_service_of(job)
    before = _net_paid(service) if service else None
    try:
        provisioning_job_cancel(job=job, reason=reason, cancelled_by=cancelled_by)
    except ProvisioningError as exc:
        raise ResaleError(str(exc)) from exc
    if service is None or before is None:
        return None
    refunded = before - _net_paid(service)
    return refunded if refunded.amount > 0 else None


def operations_command_retry(*, account: ResellerAccount, public_id: str) -> UpstreamCommand:
    """A failed command of the reseller goes back to its queue; one waiting for funds (or
    for its account to be reactivated) is sent again now; one sent and never answered is
    asked after again."""
    with schema_context(account.tenant.schema_name):
        command = UpstreamCommand.objects.filter(public_id=public_id).first()
        if command is None:
            raise ResaleError("No such command.", code="not_found")
        if command.state == UpstreamCommand.State.FAILED:
            return upstream_command_retry(command=command)
        if command.state in (UpstreamCommand.State.AWAITING_FUNDS, UpstreamCommand.State.PENDING):
            return upstream_command_dispatch(command_id=command.pk) or command
        if command.state == UpstreamCommand.State.SENT:
            upstream_command_check(command_id=command.pk)
            command.refresh_from_db()
            return command
        raise ResaleError("Only a failed, waiting or stuck command can be sent again.")


_CANCELLABLE = [
    UpstreamCommand.State.FAILED,
    UpstreamCommand.State.AWAITING_FUNDS,
    UpstreamCommand.State.PENDING,
    UpstreamCommand.State.SENT,
]


def _order_cancel(
    account: ResellerAccount, command: UpstreamCommand, reason: str, cancelled_by: str
) -> Money | None:
    """The provider's side of a cancelled command, in the public schema and the caller's
    transaction. A command the provider never accepted took nothing. An accepted order
    not delivered is refunded what the reseller paid for it and has not had back (once:
    the refund is the service's net debit, taken under its row lock), and its panel jobs
    are stopped. Anything the provider has carried out, or another accepted command, is
    refused: undoing it is a decision about a running service, not a cancellation."""
    request = (
        UpstreamRequest.objects.filter(account=account, idempotency_key=command.idempotency_key)
        .select_related("upstream_service")
        .first()
    )
    if request is None:
        return None
    if request.action != UpstreamCommand.Action.CREATE or request.upstream_service is None:
        raise ResaleError(
            "The provider has accepted this command: cancel its provisioning job instead."
        )
    ResellerAccount.objects.select_for_update().get(pk=account.pk)
    service = (
        UpstreamService.objects.select_for_update()
        .select_related("plan", "account__tenant")
        .get(pk=request.upstream_service_id)
    )
    if service.status not in _UNDELIVERED:
        raise ResaleError(
            "The provider has already created this service: send the command again so that "
            "the reseller hears of it."
        )
    before = _net_paid(service)
    service.status = UpstreamService.Status.FAILED
    service.last_error = f"Cancelled by the provider: {reason}"[:2000]
    service.save(update_fields=["status", "last_error", "updated_at"])
    upstream_service_refund(
        service=service, description=f"Refund: {service.plan.name} cancelled by the provider"
    )
    open_jobs = ProvisioningJob.objects.filter(
        service__upstream_service_id=service.pk,
        state__in=[ProvisioningJob.State.QUEUED, ProvisioningJob.State.RUNNING],
    ).exclude(params__has_key="cancelled")
    for job in open_jobs:
        try:
            provisioning_job_cancel(job=job, reason=reason, cancelled_by=cancelled_by)
        except ProvisioningError as exc:
            raise ResaleError(str(exc)) from exc
    refunded = before - _net_paid(service)
    return refunded if refunded.amount > 0 else None


def operations_command_cancel(
    *, account: ResellerAccount, public_id: str, reason: str, cancelled_by: str
) -> Money | None:
    """Stops a reseller's failed, waiting or stuck command for good: the command ends
    cancelled in the reseller's outbox with the reason (its console shows it and its staff
    are told), an order the provider took money for and has not delivered is refunded,
    and both sides' audit logs keep who did it and why. The command's row lock makes a
    second cancellation, a double click or a replay, a refusal that changes nothing.
    Returns what was refunded, if anything."""
    reason = reason.strip()
    if not reason:
        raise ResaleError("Say why the command is cancelled.")
    schema = account.tenant.schema_name
    with transaction.atomic():
        with schema_context(schema):
            command = (
                UpstreamCommand.objects.select_for_update().filter(public_id=public_id).first()
            )
            if command is None:
                raise ResaleError("No such command.", code="not_found")
            if command.state == UpstreamCommand.State.CANCELLED:
                raise ResaleError("The command was already cancelled.")
            if command.state not in _CANCELLABLE:
                raise ResaleError("Only a failed, waiting or stuck command can be cancelled.")
        with schema_context(get_public_schema_name()):
            refunded = _order_cancel(account, command, reason, cancelled_by)
            record = {
                "action": "upstream_command.cancelled",
                "object_type": "upstream_command",
                "object_id": command.public_id,
                "before": {"state": command.state},
                "after": {
                    "state": UpstreamCommand.State.CANCELLED,
                    "reason": reason,
                    "action": command.action,
                    "reseller_account": account.public_id,
                    "refunded": money_json(refunded.amount, refunded.currency)
                    if refunded
                    else None,
                },
            }
            audit_record(**record)
        with schema_context(schema):
            command.state = UpstreamCommand.State.CANCELLED
            command.last_error = f"Cancelled by the provider: {reason}"[:2000]
            command.completed_at = timezone.now()
            command.next_attempt_at = None
            command.save()
            audit_record(**record)
        transaction.on_commit(
            lambda: hooks.tenant_command_cancelled(account, command, refunded), robust=True
        )
    return refunded
