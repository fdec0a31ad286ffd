"""Billing's side of resale: which lifecycle changes of a resold service become upstream
commands, and what billing does when the upstream reports a command done.

A service is resold when its plan names an upstream plan (``Plan.upstream_plan_ref``).
The listeners here run inside the transaction of the change itself (billing.events'
in-transaction listeners), so the outbox row commits or rolls back with the change.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from django.conf import settings
from django.db import connection

from billing.cycles import CYCLE_MONTHS
from billing.events import InvoiceEvent, InvoiceEventKind, ServiceEvent, ServiceEventKind
from billing.models import DomainAction, Invoice, InvoiceLine, Service, ServiceOption
from billing.services.subscriptions import service_activate
from resale.models import ResoldDomain, UpstreamCommand
from resale.outbox import upstream_command_queue
from resale.selectors import (
    CREATING_ACTIONS,
    service_is_resold,
    service_is_resold_domain,
    service_upstream_ref,
)

logger = logging.getLogger(__name__)

# Service events that the upstream must follow, and the command each becomes.
EVENT_COMMANDS = {
    ServiceEventKind.SUSPENDED: "suspend",
    ServiceEventKind.UNSUSPENDED: "unsuspend",
    ServiceEventKind.TERMINATED: "terminate",
    ServiceEventKind.CANCELLED: "terminate",
    ServiceEventKind.RENEWED: "renew",
    ServiceEventKind.PLAN_CHANGED: "change_plan",
    ServiceEventKind.OPTIONS_CHANGED: "change_options",
}

# The commands that carry the service's resold options.
CARRIES_OPTIONS = {"create", "renew", "change_plan", "change_options"}


def client_ref_for(client_id: int) -> str:
    """The pseudonym the provider knows this client by: stable for the client, useless
    for finding out who it is (a keyed hash of the tenant and the client's row)."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(),
        f"client-ref:{connection.schema_name}:{client_id}".encode(),
        hashlib.sha256,
    ).hexdigest()
    return f"c_{digest[:24]}"


def resold_options(service: Service) -> list[dict]:
    """The service's options the provider supplies, as the upstream knows them. The
    tenant's own add-ons (no upstream option) stay here and are never sent."""
    chosen = (
        ServiceOption.objects.filter(service=service)
        .exclude(option__upstream_option_ref="")
        .select_related("option", "choice")
        .order_by("option__upstream_option_ref")
    )
    return [
        {
            "option": o.option.upstream_option_ref,
            "choice": o.choice.upstream_choice_ref,
            "quantity": o.quantity,
        }
        for o in chosen
    ]


def upstream_create_queue(*, service: Service) -> None:
    upstream_command_queue(
        action="create",
        service_ref=str(service.public_id),
        idempotency_key=f"create:{service.public_id}",
        payload={
            "plan": service.plan.upstream_plan_ref,
            "cycle": service.plan.upstream_cycle or service.billing_cycle,
            "client_ref": client_ref_for(service.client_id),
            "domain": service.domain_name,
            "options": resold_options(service),
        },
    )


def domain_years(service: Service) -> int:
    """A domain plan's cycle is its registration period: annual, biennial, triennial."""
    return max(CYCLE_MONTHS.get(service.billing_cycle, 12) // 12, 1)


def upstream_domain_queue(*, service: Service) -> None:
    """A paid domain order: registered (or transferred in) by the provider. The
    registrant's contact and a transfer's auth code are not in the payload: the outbox
    reads them when it sends the command (``resale.domain_bridge``)."""
    item = service.order_item
    transfer = item is not None and item.domain_action == DomainAction.TRANSFER
    action = "domain_transfer" if transfer else "domain_register"
    payload = {
        "domain": service.domain_name,
        "client_ref": client_ref_for(service.client_id),
    }
    if not transfer:
        payload["years"] = domain_years(service)
    upstream_command_queue(
        action=action,
        service_ref=str(service.public_id),
        idempotency_key=f"{action}:{service.public_id}",
        payload=payload,
    )


def upstream_domain_restore_queue(*, service: Service) -> UpstreamCommand | None:
    """The restore of a domain in redemption, at the provider (which debits its restore
    fee). Once per redemption: the key names the expiry the domain lapsed on, so staff
    sending it and the client's restore invoice being paid queue one command. None when
    the domain is not in redemption (any more) or was never registered."""
    record = ResoldDomain.objects.filter(service_ref=str(service.public_id)).first()
    reference = service_upstream_ref(service=service)
    if record is None or record.status != "redemption" or not reference:
        return None
    return upstream_command_queue(
        action=UpstreamCommand.Action.DOMAIN_RESTORE,
        service_ref=str(service.public_id),
        payload={"service_ref": reference},
        idempotency_key=f"domain_restore:{service.public_id}:{record.expires_on}",
    )


def _restores_paid(invoice: Invoice) -> None:
    """A paid restore invoice (the client's restore from redemption) sends the restore."""
    lines = invoice.lines.filter(
        kind=InvoiceLine.Kind.DOMAIN_RESTORE, service__isnull=False
    ).select_related("service__plan")
    for line in lines:
        if service_is_resold_domain(line.service):
            upstream_domain_restore_queue(service=line.service)


def on_invoice_event(event: InvoiceEvent) -> None:
    """A paid order: its resold services are created upstream. A paid restore invoice:
    the domain is restored."""
    if event.kind != InvoiceEventKind.PAID:
        return
    invoice = Invoice.objects.filter(pk=event.invoice_id).select_related("order").first()
    if invoice is not None:
        _restores_paid(invoice)
    order = getattr(invoice, "order", None) if invoice else None
    if order is None:
        return
    pending = Service.objects.filter(
        order_item__order=order, status=Service.Status.PENDING
    ).select_related("plan")
    for service in pending.select_related("order_item"):
        if service_is_resold_domain(service):
            upstream_domain_queue(service=service)
        elif service_is_resold(service):
            upstream_create_queue(service=service)


def on_service_event(event: ServiceEvent) -> None:
    action = EVENT_COMMANDS.get(event.kind)
    if action is None:
        return
    service = Service.objects.select_related("plan").get(pk=event.service_id)
    if not service_is_resold(service):
        return
    if service_is_resold_domain(service):
        _on_domain_event(event, service)
        return
    upstream_ref = service_upstream_ref(service=service)
    if not upstream_ref:
        # Never created upstream (still pending, or failed): nothing to follow there.
        logger.info("Service %s has no upstream reference; %s not sent", service.pk, action)
        return
    payload: dict = {"service_ref": upstream_ref}
    if action == "change_plan":
        payload["plan"] = service.plan.upstream_plan_ref
    if action in CARRIES_OPTIONS:
        options = resold_options(service)
        if action == "change_options" and options == _options_sent(service):
            # Only the tenant's own add-ons changed: nothing for the upstream to do.
            return
        payload["options"] = options
    period = event.payload.get("period_end") or event.payload.get("next_due_date") or ""
    upstream_command_queue(
        action=action,
        service_ref=str(service.public_id),
        payload=payload,
        idempotency_key=f"{action}:{service.public_id}:{period}" if action == "renew" else None,
    )


def _on_domain_event(event: ServiceEvent, service: Service) -> None:
    """A paid renewal renews the domain at the registry. Nothing else follows a domain
    upstream: a domain nobody renews expires there by itself (then redemption)."""
    if event.kind != ServiceEventKind.RENEWED:
        return
    upstream_ref = service_upstream_ref(service=service)
    if not upstream_ref:
        logger.info("Domain service %s has no upstream reference; renew not sent", service.pk)
        return
    period = event.payload.get("next_due_date") or ""
    upstream_command_queue(
        action="domain_renew",
        service_ref=str(service.public_id),
        payload={"service_ref": upstream_ref, "years": domain_years(service)},
        idempotency_key=f"domain_renew:{service.public_id}:{period}",
    )


def _options_sent(service: Service) -> list[dict]:
    """The resold options last sent upstream for the service (by its latest command that
    carried them)."""
    last = (
        UpstreamCommand.objects.filter(
            service_ref=str(service.public_id), action__in=CARRIES_OPTIONS
        )
        .exclude(state__in=[UpstreamCommand.State.FAILED, UpstreamCommand.State.CANCELLED])
        .order_by("-created_at", "-id")
        .first()
    )
    return list(last.payload.get("options", [])) if last else []


def upstream_command_completed(*, command) -> None:
    """The upstream has carried a command out. A created service goes live (its client gets
    the welcome e-mail from the activation event)."""

    if command.action not in CREATING_ACTIONS:
        return
    service = Service.objects.filter(public_id=command.service_ref).first()
    if service is None or service.status != Service.Status.PENDING:
        return
    service_activate(service=service)
