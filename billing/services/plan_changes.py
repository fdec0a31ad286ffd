"""A service moving to another plan, or changing its options, within its paid period:
the unused part of the old price is credited, the new price charged for the same days,
an upgrade invoiced at once, a downgrade turned into account credit."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction

from billing.cycles import cycle_end
from billing.errors import BillingError
from billing.events import ServiceEventKind, service_event_emit
from billing.models import (
    BillingCycle,
    ConfigurableOption,
    ConfigurableOptionChoice,
    Invoice,
    InvoiceLine,
    Plan,
    Service,
    ServiceOption,
)
from billing.money import Money
from billing.selectors import billing_settings_get, client_tax_decision
from billing.services._common import client_lock, service_lock, today
from billing.services.invoices import invoice_create, invoice_issue, invoice_line_add
from billing.services.payments import credit_add
from billing.services.subscriptions import service_mrr_record, service_recurring_price
from billing.taxes import line_amounts

S = Service.Status


@dataclass(frozen=True)
class PlanChange:
    service: Service
    credit: Money  # unused part of the old plan, in the price convention
    charge: Money  # the new plan up to the (new) next due date
    invoice: Invoice | None
    credited: Money  # gross amount added to account credit on a downgrade


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
    service = service_lock(service)
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
    service_mrr_record(service=service, on_date=on_date)
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
    service = service_lock(service)
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
    service_mrr_record(service=service, on_date=on_date)
    service_event_emit(
        kind=ServiceEventKind.OPTIONS_CHANGED,
        service_id=service.pk,
        payload={
            "old_options": {str(pk): list(v) for pk, v in before.items()},
            "new_options": {str(pk): list(v) for pk, v in after.items()},
        },
    )
    return OptionsChange(service, credit, charge, invoice, credited)
