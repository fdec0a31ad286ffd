"""Where resale meets its neighbours: provisioning on the provider side, billing and the
reseller's staff on the tenant side. Kept in one module so the flow can be read in one
place. Each function runs after the transaction that caused it has committed, except
``provision`` and ``tenant_command_done``, which write their rows inside it so that a
killed worker cannot separate them from their cause (``services._provision``,
``outbox._complete``)."""

from __future__ import annotations

import logging

from django.core.mail import send_mail

from billing.money import Money
from resale.models import ResellerAccount, UpstreamCommand, UpstreamService

logger = logging.getLogger(__name__)


# --- provider side (public schema) ---------------------------------------------------


def provision(service: UpstreamService, action: str) -> None:
    """Queues the provisioning job that carries out ``action`` on the provider's servers."""
    from provisioning.bridge import upstream_service_provision

    upstream_service_provision(service=service, action=action)


def server_states(upstream_service_ids: list[int]) -> dict:
    """What the servers report for these services (reconciliation's third view)."""
    from provisioning.bridge import upstream_services_server_state

    return upstream_services_server_state(upstream_service_ids=upstream_service_ids)


def server_expected(services: list[UpstreamService]) -> dict[int, tuple[str, dict]]:
    """The package and options each service should have on its server."""
    from provisioning.bridge import upstream_services_expected

    return upstream_services_expected(services=services)


def sso_url(service: UpstreamService) -> str:
    from provisioning.bridge import upstream_service_sso_url

    return upstream_service_sso_url(service=service)


def report(service: UpstreamService, action: str, ok: bool, error: str) -> None:
    """Tells the reseller's installation how a command ended. Tenants of this installation
    get a task in their schema; remote installations poll (see outbox.upstream_command_check)."""
    from resale.tasks import in_schema, upstream_result_apply_task

    in_schema(
        service.account.tenant.schema_name,
        upstream_result_apply_task,
        service.public_id,
        action,
        ok,
        error,
    )


def funds_arrived(account: ResellerAccount) -> None:
    from resale.tasks import in_schema, upstream_commands_release_task

    in_schema(account.tenant.schema_name, upstream_commands_release_task)


def low_balance(account: ResellerAccount, balance: Money) -> None:
    from billing.payments.tasks import reseller_auto_topups_task
    from resale.tasks import in_schema, tenant_staff_alert_task

    # Resellers who chose automatic top-ups are charged before they are alarmed.
    reseller_auto_topups_task.delay()

    in_schema(
        account.tenant.schema_name,
        tenant_staff_alert_task,
        "Your balance at the provider is low",
        f"Your prepaid balance is {balance}. Orders and renewals wait when it cannot cover "
        "them; top up to keep your clients' services running.",
    )


# --- tenant side (the reseller's schema) --------------------------------------------------


def staff_alert_send(*, subject: str, body: str) -> int:
    from accounts.models import User

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
    from resale.billing_bridge import upstream_command_completed

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
