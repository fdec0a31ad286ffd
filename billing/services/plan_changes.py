"""A service moving to another plan within its paid period: the unused part of the old
plan is credited, the new plan charged for the same days, an upgrade invoiced at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction

from billing.cycles import cycle_end
from billing.errors import BillingError
from billing.events import ServiceEventKind, service_event_emit
from billing.models import BillingCycle, Invoice, InvoiceLine, Plan, Service
from billing.money import Money
from billing.selectors import billing_settings_get, client_tax_decision
from billing.services._common import client_lock, service_lock, today
from billing.services.invoices import invoice_create, invoice_issue, invoice_line_add
from billing.services.payments import credit_add
from billing.services.subscriptions import service_recurring_price
from billing.taxes import line_amounts

S = Service.Status


@dataclass(frozen=True)
class PlanChange:
    service: Service
    credit: Money  # unused part of the old plan, in the price convention
    charge: Money  # the new plan up to the (new) next due date
    invoice: Invoice | None
    credited: Money  # gross amount added to account credit on a downgrade


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
    invoice = None
    credited = Money.zero(currency)
    difference = charge - credit
    if difference.amount > 0:
        invoice = invoice_create(client=service.client)
        invoice_line_add(
            invoice=invoice,
            kind=InvoiceLine.Kind.PRORATION,
            description=f"{plan} ({on_date:%Y-%m-%d} – {new_due:%Y-%m-%d})",
            unit_price=charge,
            service=service,
            period_start=on_date,
            period_end=new_due,
        )
        if credit.amount > 0:
            invoice_line_add(
                invoice=invoice,
                kind=InvoiceLine.Kind.PRORATION,
                description=f"Unused time on {old_plan} ({on_date:%Y-%m-%d} – "
                f"{period_end:%Y-%m-%d})",
                unit_price=-credit,
                service=service,
                period_start=on_date,
                period_end=period_end,
            )
        invoice = invoice_issue(invoice=invoice, issue_date=on_date)
    elif difference.amount < 0:
        # The client paid tax on the old plan: the credit is the gross difference.
        settings = billing_settings_get()
        gross = line_amounts(
            unit_price=-difference,
            quantity=1,
            decision=client_tax_decision(client=service.client, settings=settings),
            prices_include_tax=settings.prices_include_tax,
        ).total
        credited = gross
        credit_add(
            client=service.client,
            amount=gross,
            description=f"Downgrade of {service} from {old_plan} to {plan}",
            idempotency_key=f"downgrade:{service.public_id}:{on_date.isoformat()}:{plan.pk}",
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
