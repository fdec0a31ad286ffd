"""Where resale meets its neighbours: provisioning on the provider side, billing and the
reseller's staff on the tenant side. Kept in one module so the flow can be read in one
place. Each function runs after the transaction that caused it has committed, except
``provision`` and ``tenant_command_done``, which write their rows inside it so that a
killed worker cannot separate them from their cause (``services._provision``,
``outbox._complete``)."""

from __future__ import annotations

import logging

from django.core.mail import send_mail

from accounts.models import User
from billing.money import Money
from core.locale import money_format
from resale.billing_bridge import upstream_command_completed
from resale.domains import upstream_domain_state
from resale.models import ResellerAccount, UpstreamCommand, UpstreamDomain, UpstreamService
from resale.provisioning_bridge import (
    upstream_service_panel_login_reset,
    upstream_service_provision,
    upstream_service_sso_url,
)
from resale.tasks import (
    domain_result_apply_task,
    domain_state_apply_task,
    in_schema,
    reseller_auto_topups_task,
    tenant_staff_alert_task,
    upstream_commands_release_task,
    upstream_result_apply_task,
)

logger = logging.getLogger(__name__)


# --- provider side (public schema) ---------------------------------------------------


def provision(service: UpstreamService, action: str) -> None:
    """Queues the provisioning job that carries out ``action`` on the provider's servers."""

    upstream_service_provision(service=service, action=action)


def sso_url(service: UpstreamService, client_ip: str = "") -> str:
    return upstream_service_sso_url(service=service, client_ip=client_ip)


def panel_login_reset(service: UpstreamService) -> dict[str, str]:
    login = upstream_service_panel_login_reset(service=service)
    return {"url": login.url, "login": login.login, "password": login.password}


def report(service: UpstreamService, action: str, ok: bool, error: str) -> None:
    """Tells the reseller's installation how a command ended. Tenants of this installation
    get a task in their schema; remote installations poll (see outbox.upstream_command_check)."""

    in_schema(
        service.account.tenant.schema_name,
        upstream_result_apply_task,
        service.public_id,
        action,
        ok,
        error,
    )


def funds_arrived(account: ResellerAccount) -> None:
    in_schema(account.tenant.schema_name, upstream_commands_release_task)


def low_balance(account: ResellerAccount, balance: Money) -> None:
    # Resellers who chose automatic top-ups are charged before they are alarmed.
    reseller_auto_topups_task.delay()

    in_schema(
        account.tenant.schema_name,
        tenant_staff_alert_task,
        "Your balance at the provider is low",
        f"Your prepaid balance is {money_format(balance)}. Orders and renewals wait when it "
        "cannot cover them; top up to keep your clients' services running.",
    )


def tenant_command_cancelled(
    account: ResellerAccount, command: UpstreamCommand, refunded: Money | None
) -> None:
    """The provider's staff stopped one of the reseller's commands: its staff hear why and
    what came back to the balance; the command shows the reason in its console."""
    refund = (
        f"{money_format(refunded)} was refunded to your balance at the provider."
        if refunded
        else "Nothing had been debited for it."
    )
    in_schema(
        account.tenant.schema_name,
        tenant_staff_alert_task,
        f"Your provider cancelled an upstream command: {command.get_action_display()}",
        f"The command {command.public_id} ({command.action} for service "
        f"{command.service_ref}) was cancelled by your provider. {command.last_error}\n"
        f"{refund} The service stays as it is in your console: decide there what your "
        "client gets.",
    )


# --- tenant side (the reseller's schema) --------------------------------------------------


def staff_alert_send(*, subject: str, body: str) -> int:
    recipients = list(
        User.objects.filter(
            kind=User.Kind.STAFF,
            is_active=True,
            role__in=[User.Role.OWNER, User.Role.ADMIN, User.Role.BILLING],
        ).values_list("email", flat=True)
    )
    if not recipients:
        return 0
    return send_mail(subject, body, None, recipients)


def tenant_command_done(command: UpstreamCommand) -> None:
    upstream_command_completed(command=command)


def tenant_command_failed(command: UpstreamCommand) -> None:
    staff_alert_send(
        subject=f"Upstream command failed: {command.get_action_display()}",
        body=f"The command {command.public_id} ({command.action} for service "
        f"{command.service_ref}) failed: {command.last_error}\nRetry it from the console once "
        "the cause is fixed.",
    )


def tenant_awaiting_funds(command: UpstreamCommand) -> None:
    staff_alert_send(
        subject="An order is waiting for funds at the provider",
        body=f"The command {command.public_id} ({command.action} for service "
        f"{command.service_ref}) waits because your balance at the provider does not cover "
        f"it: {command.last_error}\nIt goes through by itself after a top-up.",
    )


def domain_report(row: UpstreamDomain, action: str, ok: bool, error: str) -> None:
    """Tells the reseller's installation how a domain command ended, with what the
    registry now holds (and for a failure, why as a code: ``resale.domains.failure_code``)."""
    in_schema(
        row.account.tenant.schema_name,
        domain_result_apply_task,
        row.public_id,
        action,
        ok,
        error,
        upstream_domain_state(row=row),
    )


def domain_state(row: UpstreamDomain) -> None:
    """The registry's status or expiry of a domain changed (the nightly read-back)."""
    in_schema(
        row.account.tenant.schema_name,
        domain_state_apply_task,
        row.public_id,
        upstream_domain_state(row=row),
    )
