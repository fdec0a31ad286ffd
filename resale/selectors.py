"""Reads of resale: the provider's view of a reseller's account and services, and a
tenant's view of what it resells."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import connection
from django.db.models import QuerySet
from django_tenants.utils import get_public_schema_name, schema_context

from billing.models import Plan, Service
from billing.money import Money
from resale.domains import upstream_domain_state
from resale.models import (
    BalanceEntry,
    DriftItem,
    RemoteDriftItem,
    ResellerAccount,
    UpstreamCommand,
    UpstreamDomain,
    UpstreamLink,
    UpstreamService,
)
from resale.services import ResaleError, reseller_balance


def reseller_account_for_schema(*, schema_name: str) -> ResellerAccount | None:
    """The account at this installation's provider of the tenant with this schema, read
    in the public schema whatever schema the caller is in."""
    with schema_context(get_public_schema_name()):
        return (
            ResellerAccount.objects.select_related("payment_profile")
            .filter(tenant__schema_name=schema_name)
            .first()
        )


def reseller_account_for_current_tenant() -> ResellerAccount | None:
    """The current tenant's account at this installation's provider, if it has one."""
    return reseller_account_for_schema(schema_name=connection.schema_name)


def reseller_account_at_local_provider() -> ResellerAccount | None:
    """The current tenant's account when its provider is this installation; None when it
    resells another installation (its balance is topped up there)."""
    link = UpstreamLink.objects.first()
    if link is not None and link.kind != UpstreamLink.Kind.LOCAL:
        return None
    return reseller_account_for_current_tenant()


def reseller_ledger_rows(
    *,
    account: ResellerAccount,
    narrow: Callable[[QuerySet[BalanceEntry]], Iterable[BalanceEntry]],
) -> list[dict]:
    """Movements of the account's balance, read in the public schema where the ledger
    lives; ``narrow`` filters, orders and pages the entries while that schema is selected
    (an API list passes its own filters and paginator)."""
    with schema_context(get_public_schema_name()):
        return [
            {
                "kind": entry.kind,
                "amount": str(entry.amount_value),
                "currency": entry.currency,
                "description": entry.description,
                "created_at": entry.created_at,
            }
            for entry in narrow(BalanceEntry.objects.filter(account_id=account.pk))
        ]


# A tenant's domain plan bought upstream names the TLD: ``Plan.upstream_plan_ref`` "tld:com".
DOMAIN_PLAN_PREFIX = "tld:"
# The commands that create a service's counterpart upstream.
CREATING_ACTIONS = ("create", "domain_register", "domain_transfer")


def service_is_resold(service: Service) -> bool:
    """A tenant's service that an upstream runs (its plan names the upstream's plan)."""
    return bool(service.plan.upstream_plan_ref)


def plan_is_resold_domain(plan: Plan) -> bool:
    """A domain plan the provider registers (it names a TLD the provider sells)."""
    return plan.upstream_plan_ref.startswith(DOMAIN_PLAN_PREFIX)


def service_is_resold_domain(service: Service) -> bool:
    return plan_is_resold_domain(service.plan)


def service_upstream_ref(*, service: Service) -> str:
    """The upstream's reference of a tenant's resold service, reported when its creation
    completed; "" until then."""
    command = (
        UpstreamCommand.objects.filter(
            service_ref=str(service.public_id), action__in=CREATING_ACTIONS
        )
        .exclude(upstream_ref="")
        .order_by("-created_at")
        .first()
    )
    return command.upstream_ref if command else ""


def upstream_service_get(*, account: ResellerAccount, service_ref: str) -> UpstreamService:
    service = (
        UpstreamService.objects.filter(account=account, public_id=service_ref)
        .select_related("plan")
        .first()
    )
    if service is None:
        raise ResaleError(f"No service “{service_ref}” on your account.", code="not_found")
    return service


def _service_report(service: UpstreamService) -> dict:
    """What a reseller is told of one of its services: the provider's row, by the
    pseudonymous references alone (no client, no domain, no panel settings)."""
    return {
        "service_ref": service.public_id,
        "plan": service.plan.code,
        "cycle": service.cycle,
        "status": service.status,
        "suspend_reason": service.suspend_reason,
        "next_due_date": service.next_due_date.isoformat() if service.next_due_date else None,
        "options": [
            {
                "option": code,
                "choice": chosen.get("choice", ""),
                "quantity": chosen.get("quantity", 1),
            }
            for code, chosen in sorted((service.options or {}).items())
        ],
        "last_error": service.last_error,
    }


def upstream_service_status(*, account: ResellerAccount, service_ref: str) -> dict:
    domain = UpstreamDomain.objects.filter(account=account, public_id=service_ref).first()
    if domain is not None:
        return upstream_domain_state(row=domain)
    service = upstream_service_get(account=account, service_ref=service_ref)
    return _service_report(service)


SERVICES_PAGE_MAX = 500


def upstream_services_page(*, account: ResellerAccount, after: str = "", limit: int = 200) -> dict:
    """One page of the account's services, in the order of their references: what a
    reseller's reconciliation compares with what it bills. ``next`` is the ``after`` of
    the following page, None on the last one. One query a page."""
    limit = max(1, min(limit, SERVICES_PAGE_MAX))
    rows = list(
        UpstreamService.objects.filter(account=account, public_id__gt=after)
        .select_related("plan")
        .order_by("public_id")[: limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "results": [_service_report(service) for service in rows],
        "next": rows[-1].public_id if more else None,
    }


def upstream_service_sso_url(
    *, account: ResellerAccount, service_ref: str, client_ip: str = ""
) -> str:
    # resale.hooks calls back into this module; it is looked up at call time.
    from resale import hooks

    service = upstream_service_get(account=account, service_ref=service_ref)
    if service.status != UpstreamService.Status.ACTIVE:
        raise ResaleError(
            "The control panel opens only for an active service.", code="invalid_state"
        )
    return hooks.sso_url(service, client_ip=client_ip)


def upstream_service_panel_login_reset(
    *, account: ResellerAccount, service_ref: str
) -> dict[str, str]:
    """``{"url", "login", "password"}`` for a panel that cannot log in by link: a new
    password each time, handed to the client once and kept nowhere."""
    # resale.hooks calls back into this module; it is looked up at call time.
    from resale import hooks

    service = upstream_service_get(account=account, service_ref=service_ref)
    if service.status != UpstreamService.Status.ACTIVE:
        raise ResaleError(
            "The control panel opens only for an active service.", code="invalid_state"
        )
    return hooks.panel_login_reset(service)


def reseller_statement_summary(*, account: ResellerAccount) -> dict:
    balance = reseller_balance(account=account)
    return {
        "currency": account.currency,
        "balance": str(balance.amount),
        "credit_limit": str(account.credit_limit),
        "available": str((balance + Money(account.credit_limit, account.currency)).amount),
        "low_balance_threshold": str(account.low_balance_threshold),
    }


def upstream_command_list(
    *, state: str | None = None, service_ref: str | None = None, newest_first: bool = False
) -> QuerySet[UpstreamCommand]:
    """This tenant's outbox of commands to its upstream, oldest first unless asked."""
    commands = UpstreamCommand.objects.all()
    if state:
        commands = commands.filter(state=state)
    if service_ref is not None:
        commands = commands.filter(service_ref=service_ref)
    return commands.order_by("-created_at", "-id") if newest_first else commands


def drift_items_for_tenant(*, tenant_id: int, include_resolved: bool = False) -> list[DriftItem]:
    """What reconciliation reported for one reseller, newest first (at most 500)."""
    with schema_context(get_public_schema_name()):
        items = DriftItem.objects.filter(account__tenant_id=tenant_id)
        if not include_resolved:
            items = items.exclude(state=DriftItem.State.RESOLVED)
        return list(items.order_by("-last_seen_at", "-id")[:500])


def drift_items_for_current_tenant(
    *, include_resolved: bool = False
) -> list[DriftItem] | list[RemoteDriftItem]:
    """What reconciliation reported for the current tenant, newest first (at most 500):
    kept by this installation's provider, or in the tenant's own schema when it buys from
    a remote installation."""
    link = UpstreamLink.objects.first()
    if link is None or link.kind != UpstreamLink.Kind.REMOTE:
        return drift_items_for_tenant(
            tenant_id=connection.tenant.pk, include_resolved=include_resolved
        )
    items = RemoteDriftItem.objects.all()
    if not include_resolved:
        items = items.exclude(state=DriftItem.State.RESOLVED)
    return list(items.order_by("-last_seen_at", "-id")[:500])
