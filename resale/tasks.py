"""Celery tasks of resale. Thin: load, call the service, let Celery retry what is transient.
Tenant tasks get their schema from tenant-schemas-celery (queued inside the tenant's
schema); provider tasks are queued from the public schema."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from billing.cycles import add_months
from billing.models import ConfigurableOption, Plan
from resale import domains, outbox
from resale.domain_bridge import domain_state_apply
from resale.models import DriftItem, ResellerAccount, UpstreamRequest, UpstreamService
from resale.reconciliation import reconciliation_run
from resale.selectors import DOMAIN_PLAN_PREFIX
from resale.services import upstream_services_renew_due
from resale.statements import wholesale_invoices_issue_month
from resale.topups import reseller_auto_topups_run
from tenants.due_work import Kind, due_work_settle
from tenants.models import Tenant
from tenants.tasks import fan_out_in_lanes, task_queue_for_due_tenants


@shared_task(acks_late=True)
def upstream_command_dispatch_task(command_id: int) -> str | None:
    command = outbox.upstream_command_dispatch(command_id=command_id)
    return command.state if command else None


# How long a tenant queued for the relay waits before a sweep queues it again, should its
# task be lost with its worker: longer than a relay of 500 commands takes.
RELAY_LEASE = timedelta(minutes=5)


@shared_task(acks_late=True)
def upstream_commands_relay_task() -> dict:
    """The relay in one tenant's schema; then the tenant's due mark moves to its next
    command's time, or goes."""
    result = outbox.upstream_commands_relay()
    due_work_settle(kind=Kind.OUTBOX, next_due=outbox.upstream_commands_next_due)
    return result


@shared_task
def upstream_commands_relay_all_tenants() -> int:
    """Beat entry point: queues the relay in the schema of each tenant with a command due,
    and in no other. Returns how many."""
    return len(
        task_queue_for_due_tenants(
            upstream_commands_relay_task, kind=Kind.OUTBOX, lease=RELAY_LEASE
        )
    )


@shared_task(acks_late=True)
def upstream_commands_release_task() -> int:
    return outbox.upstream_commands_release_awaiting_funds()


# A result lands in a tenant's schema beside other writers (orders, the client's own
# changes): a deadlock on the tenant's rows or a dropped connection rolls the whole
# application back, so it is safe and necessary to try again; a result that is never
# applied leaves a paid service waiting. (Due-work marks, where fifty simultaneous orders
# once deadlocked, take no row lock any more: tenants.due_work.)
_RESULT_RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    "max_retries": 8,
    "retry_backoff": 1,
    "retry_backoff_max": 60,
    "retry_jitter": True,
}


@shared_task(acks_late=True, **_RESULT_RETRY)
def upstream_result_apply_task(
    service_ref: str, action: str, ok: bool, error: str = "", idempotency_key: str = ""
) -> bool:
    command = outbox.upstream_result_apply(
        idempotency_key=idempotency_key or None,
        upstream_ref=service_ref,
        action=action,
        ok=ok,
        error=error,
    )
    return command is not None


@shared_task(acks_late=True)
def tenant_staff_alert_task(subject: str, body: str) -> int:
    # resale.hooks calls back into this module; it is looked up at call time.
    from resale.hooks import staff_alert_send

    return staff_alert_send(subject=subject, body=body)


def in_schema(schema_name: str, task, *args) -> None:
    """Queues ``task`` to run in ``schema_name``, whatever schema the caller is in."""
    with schema_context(schema_name):
        task.delay(*args)


@shared_task(acks_late=True)
def wholesale_option_changed_task(code: str, name: str, active: bool, version: int) -> bool:
    """In a reseller's schema: if it resells the option, its staff hear about the change.
    Client prices stay as they are; a withdrawn option is left for staff to remove."""
    # resale.hooks calls back into this module; it is looked up at call time.
    from resale.hooks import staff_alert_send

    if not ConfigurableOption.objects.filter(upstream_option_ref=code).exists():
        return False
    if not active:
        body = (
            f"The provider has withdrawn the option “{name}”. New orders with it will be "
            "refused upstream: remove it from your plans. Existing services keep it."
        )
    else:
        body = (
            f"The provider has changed the option “{name}” (version {version}). Check your "
            "price and margin in the catalogue: your clients' prices have not been changed."
        )
    staff_alert_send(subject=f"Provider option changed: {name}", body=body)
    return True


@shared_task
def provider_renewals_task() -> dict:
    return upstream_services_renew_due()


@shared_task
def wholesale_invoices_task() -> int:
    """On the first of each month: last month's wholesale invoices."""

    last_month = add_months(timezone.localdate().replace(day=1), -1)
    return wholesale_invoices_issue_month(year=last_month.year, month=last_month.month)


@shared_task
def wholesale_plan_changed_task(code: str, name: str, active: bool, version: int) -> bool:
    """In a reseller's schema: if it resells the plan, its staff hear about the change; a
    withdrawn plan stops taking new orders here too. Client prices stay as they are."""
    # resale.hooks calls back into this module; it is looked up at call time.
    from resale.hooks import staff_alert_send

    plans = Plan.objects.filter(upstream_plan_ref=code)
    if not plans.exists():
        return False
    if not active:
        plans.update(is_active=False)
        body = (
            f"The provider has withdrawn “{name}”. Your plan built on it no longer takes "
            "new orders; existing services keep running at the prices your clients pay."
        )
    else:
        body = (
            f"The provider has changed “{name}” (version {version}). Check your price "
            "and margin in the catalogue: your clients' prices have not been changed."
        )
    staff_alert_send(subject=f"Provider plan changed: {name}", body=body)
    return True


@shared_task(
    autoretry_for=(OperationalError, InterfaceError),
    max_retries=6,
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
)
def reseller_auto_topups_task() -> int:
    """Provider side (public schema): automatic top-ups of low balances."""
    return reseller_auto_topups_run()


@shared_task(acks_late=True)
def reconciliation_run_task() -> dict:
    """In one tenant's schema: compares, records and repairs (resale.reconciliation)."""
    result = reconciliation_run()
    return {"checked": result.checked, "found": len(result.found), "repaired": result.repaired}


def reconciliation_due_schemas() -> list[str]:
    """The active tenants with something to reconcile, by one query on public tables: an
    account that holds services at the provider, has sent it commands, or has findings
    still open. A tenant that buys nothing is not visited."""
    has = {
        "services": UpstreamService.objects.filter(account=OuterRef("pk")),
        "requests": UpstreamRequest.objects.filter(account=OuterRef("pk")),
        "drift": DriftItem.objects.filter(account=OuterRef("pk")).exclude(
            state=DriftItem.State.RESOLVED
        ),
    }
    return list(
        ResellerAccount.objects.exclude(tenant__schema_name=get_public_schema_name())
        .filter(tenant__status=Tenant.Status.ACTIVE)
        .filter(Exists(has["services"]) | Exists(has["requests"]) | Exists(has["drift"]))
        .order_by("tenant__schema_name")
        .values_list("tenant__schema_name", flat=True)
    )


@shared_task
def reconciliation_run_all_task() -> int:
    """Beat entry point: reconciliation in every active tenant that buys from this
    installation's provider (resellers and the retail brand alike) and has something to
    compare, in at most ``RECONCILIATION_CONCURRENCY`` lanes with its progress in a
    ``FanOutRun``. Returns how many tenants."""
    schemas = reconciliation_due_schemas()
    fan_out_in_lanes(
        step="resale.reconciliation.reconciliation_run",
        kind=Kind.RECONCILIATION,
        schemas=schemas,
        lanes=settings.RECONCILIATION_CONCURRENCY,
    )
    return len(schemas)


@shared_task(acks_late=True)
def upstream_domain_operation_task(domain_id: int) -> str | None:
    """Provider side (public schema): a domain's registrar work."""
    row = domains.upstream_domain_operation_run(domain_id=domain_id)
    return row.status if row else None


@shared_task
def upstream_domains_relay_task() -> int:
    """Beat entry point (public schema): registrar work left behind, pending transfers."""
    return domains.upstream_domains_relay()


@shared_task
def upstream_domains_sync_task() -> dict:
    """Beat entry point (public schema): the nightly read-back of expiry and status."""
    return domains.upstream_domains_sync()


@shared_task(acks_late=True, **_RESULT_RETRY)
def domain_result_apply_task(
    upstream_ref: str, action: str, ok: bool, error: str, state: dict
) -> bool:
    """In a reseller's schema: a domain command ended; the registry's state comes along."""
    with transaction.atomic():
        command = outbox.upstream_result_apply(
            upstream_ref=upstream_ref,
            action=action,
            ok=ok,
            error=error,
            error_code=state.get("error_code", ""),
        )
        domain_state_apply(upstream_ref=upstream_ref, state=state)
    return command is not None


@shared_task(acks_late=True)
def domain_state_apply_task(upstream_ref: str, state: dict) -> bool:
    """In a reseller's schema: the registry's status or expiry of a domain changed."""
    return domain_state_apply(upstream_ref=upstream_ref, state=state) is not None


@shared_task(acks_late=True)
def wholesale_tld_changed_task(tld: str, active: bool, version: int) -> bool:
    """In a reseller's schema: if it sells the TLD, its staff hear about the change; a
    withdrawn TLD stops taking new orders here too. Client prices stay as they are."""
    # resale.hooks calls back into this module; it is looked up at call time.
    from resale.hooks import staff_alert_send

    plans = Plan.objects.filter(upstream_plan_ref=f"{DOMAIN_PLAN_PREFIX}{tld}")
    if not plans.exists():
        return False
    if not active:
        plans.update(is_active=False)
        body = (
            f"The provider has withdrawn .{tld}. Your .{tld} domains no longer take new "
            "orders; registered domains keep running and renewing."
        )
    else:
        body = (
            f"The provider has changed its .{tld} prices (version {version}). Check your "
            "prices and margin in the catalogue: your clients' prices have not been changed."
        )
    staff_alert_send(subject=f"Provider domain prices changed: .{tld}", body=body)
    return True
