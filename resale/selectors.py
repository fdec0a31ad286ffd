from __future__ import annotations

from django_tenants.utils import get_public_schema_name, schema_context

from billing.money import Money
from resale.models import DriftItem, ResellerAccount, UpstreamService
from resale.services import ResaleError, reseller_balance


def upstream_service_get(*, account: ResellerAccount, service_ref: str) -> UpstreamService:
    service = (
        UpstreamService.objects.filter(account=account, public_id=service_ref)
        .select_related("plan")
        .first()
    )
    if service is None:
        raise ResaleError(f"No service “{service_ref}” on your account.", code="not_found")
    return service


def upstream_service_status(*, account: ResellerAccount, service_ref: str) -> dict:
    service = upstream_service_get(account=account, service_ref=service_ref)
    return {
        "service_ref": service.public_id,
        "plan": service.plan.code,
        "cycle": service.cycle,
        "status": service.status,
        "suspend_reason": service.suspend_reason,
        "next_due_date": service.next_due_date.isoformat() if service.next_due_date else None,
        "last_error": service.last_error,
    }


def upstream_service_sso_url(*, account: ResellerAccount, service_ref: str) -> str:
    from resale import hooks

    service = upstream_service_get(account=account, service_ref=service_ref)
    if service.status != UpstreamService.Status.ACTIVE:
        raise ResaleError(
            "The control panel opens only for an active service.", code="invalid_state"
        )
    return hooks.sso_url(service)


def reseller_statement_summary(*, account: ResellerAccount) -> dict:
    balance = reseller_balance(account=account)
    return {
        "currency": account.currency,
        "balance": str(balance.amount),
        "credit_limit": str(account.credit_limit),
        "available": str((balance + Money(account.credit_limit, account.currency)).amount),
        "low_balance_threshold": str(account.low_balance_threshold),
    }


def drift_items_for_tenant(*, tenant_id: int, include_resolved: bool = False) -> list[DriftItem]:
    """What reconciliation reported for one reseller, newest first (at most 500)."""
    with schema_context(get_public_schema_name()):
        items = DriftItem.objects.filter(account__tenant_id=tenant_id)
        if not include_resolved:
            items = items.exclude(state=DriftItem.State.RESOLVED)
        return list(items.order_by("-last_seen_at", "-id")[:500])
