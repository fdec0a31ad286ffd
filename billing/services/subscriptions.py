"""The life of a client's service: pending → active ⇄ suspended → terminated, or
cancelled. Every change emits a ServiceEvent after commit (billing.events)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing.cycles import cycle_end
from billing.errors import BillingError
from billing.events import ServiceEventKind, service_event_emit
from billing.models import (
    BillingCycle,
    ConfigurableOption,
    ConfigurableOptionChoice,
    ConfigurableOptionPrice,
    Invoice,
    InvoiceLine,
    Plan,
    PlanPrice,
    Service,
    ServiceOption,
)
from billing.money import Money
from billing.selectors import billing_settings_get, client_tax_decision
from billing.services._common import client_lock, today
from billing.taxes import line_amounts

S = Service.Status


def _lock(service: Service) -> Service:
    return Service.objects.select_for_update().select_related("plan").get(pk=service.pk)


def _transition(
    service: Service,
    *,
    allowed: Iterable[str],
    to: str,
    event: str,
    payload: dict | None = None,
    **fields,
) -> Service:
    service = _lock(service)
    if service.status not in allowed:
        raise BillingError(f"A {service.get_status_display().lower()} service cannot become {to}.")
    previous = service.status
    service.status = to
    for name, value in fields.items():
        setattr(service, name, value)
    service.save()
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
        service = _lock(service)
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
def service_renew(*, service: Service, period_end: date) -> Service:
    """The service is paid up to ``period_end`` (exclusive): its next due date moves
    there unless it is already later (renewing twice changes nothing more)."""
    service = _lock(service)
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


@dataclass(frozen=True)
class PlanChange:
    service: Service
    credit: Money  # unused part of the old plan, in the price convention
    charge: Money  # the new plan up to the (new) next due date
    invoice: Invoice | None
    credited: Money  # gross amount added to account credit on a downgrade


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


def _proration_settle(
    *,
    service: Service,
    credit: Money,
    charge: Money,
    on_date: date,
    new_due: date,
    charge_label: str,
    credit_label: str,
    idempotency_key: str,
    downgrade_description: str,
) -> tuple[Invoice | None, Money]:
    """Bills a change within the paid period: an upgrade's difference is invoiced at
    once (the new price for the days left, less the unused time at the old one); a
    downgrade's difference becomes account credit, gross of the tax the client paid."""
    from billing.services.invoices import invoice_create, invoice_issue, invoice_line_add
    from billing.services.payments import credit_add

    period_end = service.next_due_date
    credited = Money.zero(service.currency)
    difference = charge - credit
    if difference.amount > 0:
        invoice = invoice_create(client=service.client)
        invoice_line_add(
            invoice=invoice,
            kind=InvoiceLine.Kind.PRORATION,
            description=f"{charge_label} ({on_date:%Y-%m-%d} – {new_due:%Y-%m-%d})",
            unit_price=charge,
            service=service,
            period_start=on_date,
            period_end=new_due,
        )
        if credit.amount > 0:
            invoice_line_add(
                invoice=invoice,
                kind=InvoiceLine.Kind.PRORATION,
                description=f"Unused time on {credit_label} ({on_date:%Y-%m-%d} – "
                f"{period_end:%Y-%m-%d})",
                unit_price=-credit,
                service=service,
                period_start=on_date,
                period_end=period_end,
            )
        return invoice_issue(invoice=invoice, issue_date=on_date), credited
    if difference.amount < 0:
        # The client paid tax on the old price: the credit is the gross difference.
        settings = billing_settings_get()
        credited = line_amounts(
            unit_price=-difference,
            quantity=1,
            decision=client_tax_decision(client=service.client, settings=settings),
            prices_include_tax=settings.prices_include_tax,
        ).total
        credit_add(
            client=service.client,
            amount=credited,
            description=downgrade_description,
            idempotency_key=idempotency_key,
        )
    return None, credited


@transaction.atomic
def service_change_plan(
    *,
    service: Service,
    plan: Plan,
    cycle: str | None = None,
    on_date: date | None = None,
) -> PlanChange:
    """Moves an active service to another plan now. The client is credited the unused
    part of the current period and charged the new plan for the same days (or, when
    the cycle changes too, for a whole new period from today). An upgrade is invoiced
    at once; a downgrade's difference becomes account credit. Fractions are exact:
    each amount is rounded once, with the one rounding rule."""
    # Client before service: issuing the proration invoice locks the client, and
    # paying an invoice locks the client and then its services.
    client_lock(service.client)
    service = _lock(service)
    on_date = on_date or today()
    cycle = cycle or service.billing_cycle
    if cycle not in BillingCycle.values or cycle == BillingCycle.ONE_TIME:
        raise BillingError(f"“{cycle}” is not a recurring billing cycle.")
    if service.status != S.ACTIVE:
        raise BillingError("Only an active service can change plan.")
    if not service.is_recurring or service.next_due_date is None:
        raise BillingError("A one-time purchase cannot change plan.")
    if plan.pk == service.plan_id and cycle == service.billing_cycle:
        raise BillingError("The service is already on that plan.")
    if not plan.is_active:
        raise BillingError(f"“{plan}” is no longer sold.")
    period_start = service.current_period_start
    period_end = service.next_due_date
    if not (period_start <= on_date < period_end):
        raise BillingError("The plan can change only within the current paid period.")

    currency = service.currency
    new_recurring = service_recurring_price(service=service, plan=plan, cycle=cycle)
    days_total = Decimal((period_end - period_start).days)
    days_left = Decimal((period_end - on_date).days)
    # Multiply before dividing: the quotient is then exact whenever it can be.
    credit = Money.of(service.recurring_amount * days_left / days_total, currency)
    if cycle == service.billing_cycle:
        new_due = period_end
        charge = Money.of(new_recurring.amount * days_left / days_total, currency)
    else:
        new_due = cycle_end(on_date, cycle)
        charge = new_recurring

    old_plan, old_cycle = service.plan, service.billing_cycle
    invoice, credited = _proration_settle(
        service=service,
        credit=credit,
        charge=charge,
        on_date=on_date,
        new_due=new_due,
        charge_label=str(plan),
        credit_label=str(old_plan),
        idempotency_key=f"downgrade:{service.public_id}:{on_date.isoformat()}:{plan.pk}",
        downgrade_description=f"Downgrade of {service} from {old_plan} to {plan}",
    )

    service.plan = plan
    service.billing_cycle = cycle
    service.recurring_amount = new_recurring.amount
    service.next_due_date = new_due
    service.save(
        update_fields=["plan", "billing_cycle", "recurring_amount", "next_due_date", "updated_at"]
    )
    service_event_emit(
        kind=ServiceEventKind.PLAN_CHANGED,
        service_id=service.pk,
        payload={
            "old_plan_id": old_plan.pk,
            "new_plan_id": plan.pk,
            "old_cycle": old_cycle,
            "new_cycle": cycle,
            "upstream_plan_ref": plan.upstream_plan_ref,
        },
    )
    return PlanChange(service, credit, charge, invoice, credited)


@dataclass(frozen=True)
class OptionsChange:
    service: Service
    credit: Money  # unused part of the old options, in the price convention
    charge: Money  # the new options up to the next due date
    invoice: Invoice | None
    credited: Money  # gross amount added to account credit on a downgrade


OptionPick = ConfigurableOptionChoice | tuple[ConfigurableOptionChoice, int] | None


@transaction.atomic
def service_change_options(
    *,
    service: Service,
    options: dict[ConfigurableOption, OptionPick],
    on_date: date | None = None,
) -> OptionsChange:
    """Upgrades or downgrades an active service's options now, like a plan change within
    the paid period: the unused part of the old price is credited and the new price is
    charged for the days left; an upgrade is invoiced at once, a downgrade becomes
    account credit. ``options`` maps an option to its new choice (or (choice, quantity)
    for a quantity option), or to None to drop it; options not named stay as they are."""
    client_lock(service.client)
    service = _lock(service)
    on_date = on_date or today()
    if service.status != S.ACTIVE:
        raise BillingError("Only an active service can change its options.")
    if not service.is_recurring or service.next_due_date is None:
        raise BillingError("A one-time purchase cannot change its options.")
    period_start, period_end = service.current_period_start, service.next_due_date
    if not (period_start <= on_date < period_end):
        raise BillingError("Options can change only within the current paid period.")
    current = {o.option_id: o for o in service.options.select_related("option", "choice")}
    wanted = {pk: (o.choice, o.quantity) for pk, o in current.items()}
    offered = set(service.plan.configurable_options.values_list("pk", flat=True))
    for option, picked in options.items():
        if picked is None:
            wanted.pop(option.pk, None)
            continue
        choice, quantity = picked if isinstance(picked, tuple) else (picked, 1)
        if option.pk not in offered:
            raise BillingError(f"“{option}” is not offered with “{service.plan}”.")
        if choice.option_id != option.pk:
            raise BillingError(f"“{choice}” is not a choice of “{option}”.")
        if option.kind == ConfigurableOption.Kind.SELECT and quantity != 1:
            raise BillingError(f"“{option}” takes one choice.")
        if not (isinstance(quantity, int) and 1 <= quantity <= option.max_quantity):
            raise BillingError(f"“{option}” takes 1 to {option.max_quantity}.")
        wanted[option.pk] = (choice, quantity)
    before = {pk: (o.choice_id, o.quantity) for pk, o in current.items()}
    after = {pk: (choice.pk, quantity) for pk, (choice, quantity) in wanted.items()}
    if before == after:
        raise BillingError("The service already has those options.")

    currency = service.currency
    new_recurring = service_recurring_price(
        service=service, plan=service.plan, cycle=service.billing_cycle, options=wanted.values()
    )
    days_total = Decimal((period_end - period_start).days)
    days_left = Decimal((period_end - on_date).days)
    credit = Money.of(service.recurring_amount * days_left / days_total, currency)
    charge = Money.of(new_recurring.amount * days_left / days_total, currency)
    names = ", ".join(str(choice) for choice, _ in wanted.values()) or str(service.plan)
    change_key = hashlib.sha256(repr(sorted(after.items())).encode()).hexdigest()[:16]
    invoice, credited = _proration_settle(
        service=service,
        credit=credit,
        charge=charge,
        on_date=on_date,
        new_due=period_end,
        charge_label=f"{service.plan}: {names}",
        credit_label=f"the previous options of {service.plan}",
        idempotency_key=f"options:{service.public_id}:{on_date.isoformat()}:{change_key}",
        downgrade_description=f"Options of {service} reduced",
    )
    for pk in set(before) - set(after):
        current[pk].delete()
    for pk, (choice, quantity) in wanted.items():
        ServiceOption.objects.update_or_create(
            service=service, option_id=pk, defaults={"choice": choice, "quantity": quantity}
        )
    service.recurring_amount = new_recurring.amount
    service.save(update_fields=["recurring_amount", "updated_at"])
    service_event_emit(
        kind=ServiceEventKind.OPTIONS_CHANGED,
        service_id=service.pk,
        payload={
            "old_options": {str(pk): list(v) for pk, v in before.items()},
            "new_options": {str(pk): list(v) for pk, v in after.items()},
        },
    )
    return OptionsChange(service, credit, charge, invoice, credited)


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
    from billing.services._common import money_input

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
    return Service.objects.create(
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
