from __future__ import annotations

from django.db.models import QuerySet

from billing.money import Money
from resale.models import ResellerAccount, UpstreamCommand, UpstreamService
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


def upstream_service_sso_url(
    *, account: ResellerAccount, service_ref: str, client_ip: str = ""
) -> str:
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
