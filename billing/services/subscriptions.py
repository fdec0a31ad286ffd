"""The life of a client's service: pending → active ⇄ suspended → terminated, or
cancelled. Every change emits a ServiceEvent after commit (billing.events)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from billing.cycles import cycle_end
from billing.errors import BillingError
from billing.events import ServiceEventKind, service_event_emit
from billing.models import (
    BillingCycle,
    ConfigurableOptionChoice,
    ConfigurableOptionPrice,
    Plan,
    PlanPrice,
    Service,
    ServiceMrrChange,
)
from billing.money import Money
from billing.selectors import billing_settings_get, service_mrr
from billing.services._common import money_input, service_lock, today

S = Service.Status


def _transition(
    service: Service,
    *,
    allowed: Iterable[str],
    to: str,
    event: str,
    payload: dict | None = None,
    **fields,
) -> Service:
    service = service_lock(service)
    if service.status not in allowed:
        raise BillingError(f"A {service.get_status_display().lower()} service cannot become {to}.")
    previous = service.status
    service.status = to
    for name, value in fields.items():
        setattr(service, name, value)
    service.save()
    service_mrr_record(service=service, on_date=today())
    service_event_emit(
        kind=event,
        service_id=service.pk,
        payload={"previous_status": previous, **(payload or {})},
    )
    return service


@transaction.atomic
def service_activate(*, service: Service) -> Service:
    return _transition(
        service,
        allowed=[S.PENDING],
        to=S.ACTIVE,
        event=ServiceEventKind.ACTIVATED,
        activated_at=timezone.now(),
    )


@transaction.atomic
def service_manual_activate(*, service: Service) -> Service:
    """Staff mark a service of the tenant's own plan as set up. Such a plan names no
    upstream plan, so nothing is sent anywhere on payment: the tenant sets the service
    up by hand and says so here, once its order is paid. A resold service is activated
    by the upstream's answer only."""
    service = service_lock(service)
    if service.plan.upstream_plan_ref:
        raise BillingError(
            gettext("This service is set up by the provider; it becomes active by itself.")
        )
    order = service.order_item.order if service.order_item_id else None
    invoice = order.invoice if order is not None else None
    if invoice is not None and invoice.status != invoice.Status.PAID:
        raise BillingError(gettext("Its order is not paid yet."))
    return service_activate(service=service)


@transaction.atomic
def service_suspend(*, service: Service, reason: str = "") -> Service:
    return _transition(
        service,
        allowed=[S.ACTIVE],
        to=S.SUSPENDED,
        event=ServiceEventKind.SUSPENDED,
        payload={"reason": reason},
        suspended_at=timezone.now(),
        suspension_reason=reason[:200],
    )


@transaction.atomic
def service_unsuspend(*, service: Service) -> Service:
    return _transition(
        service,
        allowed=[S.SUSPENDED],
        to=S.ACTIVE,
        event=ServiceEventKind.UNSUSPENDED,
        suspended_at=None,
        suspension_reason="",
    )


@transaction.atomic
def service_terminate(*, service: Service, reason: str = "") -> Service:
    return _transition(
        service,
        allowed=[S.PENDING, S.ACTIVE, S.SUSPENDED],
        to=S.TERMINATED,
        event=ServiceEventKind.TERMINATED,
        payload={"reason": reason},
        terminated_at=timezone.now(),
    )


@transaction.atomic
def service_cancel(*, service: Service, at_period_end: bool = False, reason: str = "") -> Service:
    """At once: the service stops now. At period end: it runs until its next due date,
    is not renewed, and the billing run cancels it then (the event comes at that
    moment, when something actually stops)."""
    if at_period_end:
        service = service_lock(service)
        if service.status not in (S.ACTIVE, S.SUSPENDED):
            raise BillingError("Only an active or suspended service can be cancelled later.")
        if not service.is_recurring:
            raise BillingError("A one-time purchase has no period end to cancel at.")
        service.cancel_at_period_end = True
        service.cancellation_reason = reason
        service.save(update_fields=["cancel_at_period_end", "cancellation_reason", "updated_at"])
        return service
    return _transition(
        service,
        allowed=[S.PENDING, S.ACTIVE, S.SUSPENDED],
        to=S.CANCELLED,
        event=ServiceEventKind.CANCELLED,
        payload={"reason": reason},
        cancelled_at=timezone.now(),
        cancellation_reason=reason,
    )


@transaction.atomic
def service_auto_renew_set(*, service: Service, renews: bool) -> Service:
    """Whether the service renews at its period end (a domain's auto-renew): off, it
    runs until its next due date and is cancelled then; on again, it renews as before."""
    if not renews:
        return service_cancel(service=service, at_period_end=True, reason="Auto-renew off")
    service = service_lock(service)
    if service.cancel_at_period_end and service.status in (S.ACTIVE, S.SUSPENDED):
        service.cancel_at_period_end = False
        service.cancellation_reason = ""
        service.save(update_fields=["cancel_at_period_end", "cancellation_reason", "updated_at"])
    return service


@transaction.atomic
def service_renew(*, service: Service, period_end: date) -> Service:
    """The service is paid up to ``period_end`` (exclusive): its next due date moves
    there unless it is already later (renewing twice changes nothing more)."""
    service = service_lock(service)
    if service.status in (S.TERMINATED, S.CANCELLED):
        raise BillingError("A terminated or cancelled service cannot be renewed.")
    if not service.is_recurring:
        raise BillingError("A one-time purchase is not renewed.")
    previous = service.next_due_date
    if previous is None or period_end > previous:
        service.next_due_date = period_end
        service.save(update_fields=["next_due_date", "updated_at"])
    service_event_emit(
        kind=ServiceEventKind.RENEWED,
        service_id=service.pk,
        payload={
            "previous_due_date": previous.isoformat() if previous else None,
            "next_due_date": service.next_due_date.isoformat(),
        },
    )
    return service


@transaction.atomic
def service_due_date_align(*, service: Service, next_due_date: date) -> Service:
    """The service is paid up to what an outside record of truth says (a domain's expiry
    at its registry): the due date follows it, without an invoice or a renewal event."""
    service = service_lock(service)
    if service.status in (S.TERMINATED, S.CANCELLED) or not service.is_recurring:
        return service
    if service.next_due_date != next_due_date:
        service.next_due_date = next_due_date
        service.save(update_fields=["next_due_date", "updated_at"])
    return service


def service_recurring_price(
    *,
    service: Service,
    plan: Plan,
    cycle: str,
    options: Iterable[tuple[ConfigurableOptionChoice, int]] | None = None,
) -> Money:
    """One period of the plan and of the service's options (or of ``options``, as
    (choice, quantity) pairs) for ``cycle``."""
    price = PlanPrice.objects.filter(plan=plan, cycle=cycle).first()
    if price is None:
        raise BillingError(f"“{plan}” is not sold {BillingCycle(cycle).label.lower()}.")
    if options is None:
        options = [(o.choice, o.quantity) for o in service.options.select_related("choice")]
    total = price.price
    for choice, quantity in options:
        option_price = ConfigurableOptionPrice.objects.filter(choice=choice, cycle=cycle).first()
        if option_price is None:
            raise BillingError(f"The option “{choice}” has no {cycle} price.")
        total += option_price.price * quantity
    return total


@transaction.atomic
def service_create(
    *,
    client,
    plan: Plan,
    cycle: str,
    registration_date: date | None = None,
    next_due_date: date | None = None,
    recurring_amount: Money | None = None,
    domain_name: str = "",
    status: str = S.PENDING,
    order_item=None,
) -> Service:
    """A service row, priced from the plan unless ``recurring_amount`` is given. By
    default its first period starts on the registration date and is due at its end.
    Checkout creates services this way; so can an import of existing subscriptions."""
    if cycle not in BillingCycle.values:
        raise BillingError(f"“{cycle}” is not a billing cycle.")
    if status not in S.values:
        raise BillingError(f"“{status}” is not a service status.")
    currency = billing_settings_get().currency
    if recurring_amount is None:
        price = PlanPrice.objects.filter(plan=plan, cycle=cycle).first()
        if price is None:
            raise BillingError(f"“{plan}” is not sold {BillingCycle(cycle).label.lower()}.")
        recurring = price.price
    else:
        recurring = money_input(
            recurring_amount, currency=currency, what="The recurring amount", allow_zero=True
        )
    registration_date = registration_date or today()
    if next_due_date is None:
        next_due_date = cycle_end(registration_date, cycle)
    service = Service.objects.create(
        client=client,
        plan=plan,
        order_item=order_item,
        status=status,
        billing_cycle=cycle,
        currency=currency,
        recurring_amount=recurring.amount,
        domain_name=domain_name,
        registration_date=registration_date,
        next_due_date=next_due_date,
    )
    # An imported subscription that is already running earns from its registration.
    service_mrr_record(service=service, on_date=registration_date)
    return service


def service_mrr_record(*, service: Service, on_date: date) -> ServiceMrrChange | None:
    """Appends a change of the service's MRR when what it earns now differs from what
    was last recorded; the caller has saved the service and holds its lock."""
    last = service.mrr_changes.order_by("-id").values_list("mrr_after_amount", flat=True).first()
    before = Money(last if last is not None else 0, service.currency)
    after = service_mrr(service=service)
    if after == before:
        return None
    return ServiceMrrChange.objects.create(
        service=service,
        on_date=on_date,
        currency=service.currency,
        mrr_before_amount=before.amount,
        mrr_after_amount=after.amount,
    )
