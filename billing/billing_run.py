"""The daily billing run of one tenant.

For a date D it: issues renewal invoices for services due within the tenant's lead days,
sends payment reminders, marks unpaid invoices overdue, suspends services overdue past
the grace days, terminates those overdue past the termination days, lifts suspensions
that payment has cleared, and ends services cancelled at period end.

Renewals are written in batches: one query reads a batch of due services with their
clients, numbers come from one locked counter update per batch, and invoices, lines and
ledger entries are inserted in bulk. The run holds a per-tenant advisory lock, and every
renewal line is unique per (service, period start), so a second or concurrent run for
the same date creates nothing new.
"""

from __future__ import annotations

import dataclasses
import logging
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum

from django.db import connection, models, transaction
from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.functions import Coalesce, NullIf
from django.db.models.signals import post_save
from django.utils import timezone
from psycopg import sql as psycopg_sql
from psycopg.types.json import Jsonb

from billing.cycles import cycle_end
from billing.models import (
    BillingSettings,
    Client,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    NumberSequence,
    Plan,
    Service,
)
from billing.money import Money
from billing.payments.flows import payments_autocharge_due
from billing.selectors import billing_settings_get, client_tax_decision, seller_tax_profile
from billing.services.invoice_status import SUSPENSION_OVERDUE
from billing.services.parties import party_buyer, party_seller, tax_record
from billing.services.subscriptions import service_suspend, service_terminate, service_unsuspend
from billing.tasks import invoices_notify_task
from billing.taxes import SellerProfile, TaxDecision, ViesUnavailable, legal_mentions, line_amounts
from tenants.due_work import Kind as DueKind
from tenants.due_work import due_work_mark

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000
ProgressCallback = Callable[[str, int], None]


@dataclass
class BillingRunResult:
    schema: str
    run_date: date
    invoices: int = 0
    reminders: int = 0
    overdue: int = 0
    suspended: int = 0
    terminated: int = 0
    unsuspended: int = 0
    cancelled: int = 0
    invoice_ids: list[int] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        return {
            "schema": self.schema,
            "date": self.run_date.isoformat(),
            "invoices": self.invoices,
            "reminders": self.reminders,
            "overdue": self.overdue,
            "suspended": self.suspended,
            "terminated": self.terminated,
            "unsuspended": self.unsuspended,
            "cancelled": self.cancelled,
        }


def _advisory_lock() -> None:
    """One billing run per tenant at a time; a second one waits, then finds the work
    done."""
    key = zlib.crc32(f"billing-run:{connection.schema_name}".encode())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def billing_run(
    *, run_date: date | None = None, progress: ProgressCallback | None = None
) -> BillingRunResult:
    """Runs every step for the current tenant schema."""
    run_date = run_date or timezone.localdate()
    settings = billing_settings_get()
    result = BillingRunResult(schema=connection.schema_name, run_date=run_date)
    renewals_issue(run_date=run_date, settings=settings, result=result, progress=progress)
    reminders_send(run_date=run_date, settings=settings, result=result)
    # Auto-charges due today go first: a card that pays keeps the invoice off the overdue
    # list.
    payments_autocharge_due(run_date)
    invoices_mark_overdue(run_date=run_date, result=result)
    services_suspend_overdue(run_date=run_date, settings=settings, result=result)
    services_terminate_overdue(run_date=run_date, settings=settings, result=result)
    services_unsuspend_cleared(result=result)
    services_cancel_at_period_end(run_date=run_date, result=result)
    _notify_after_commit(result)
    return result


# --- which tenants the daily run visits ----------------------------------------------
# A tenant with nothing the run could act on (no live service, no open invoice) is not
# visited: ``tenants.due_work`` holds the others. A service or an open invoice written
# marks its tenant in the same transaction; the run, once done, keeps the mark for the
# next day while there is anything left, and removes it when there is not.

_OPEN = [Invoice.Status.ISSUED, Invoice.Status.PARTIALLY_PAID]
_LIVE_SERVICE = [Service.Status.PENDING, Service.Status.ACTIVE, Service.Status.SUSPENDED]


def billing_run_next_due() -> datetime | None:
    """When the current tenant next needs the billing run: the start of tomorrow while it
    has a live service or an open invoice, else never (until one is written)."""
    if not (
        Service.objects.filter(status__in=_LIVE_SERVICE).exists()
        or Invoice.objects.filter(status__in=_OPEN).exists()
    ):
        return None
    tomorrow = timezone.localdate() + timedelta(days=1)
    return timezone.make_aware(datetime.combine(tomorrow, time.min))


def _service_saved(sender, instance: Service, **kwargs) -> None:
    if instance.status in _LIVE_SERVICE:
        due_work_mark(kind=DueKind.BILLING_RUN)


def _invoice_saved(sender, instance: Invoice, **kwargs) -> None:
    if instance.status in _OPEN:
        due_work_mark(kind=DueKind.BILLING_RUN)


def billing_due_marks_connect() -> None:
    """Every write of a live service or an open invoice marks its tenant, whichever
    service function wrote it (a receiver, so no write path can forget). Bulk updates
    (the run's own) need none: the run settles the mark afterwards."""
    post_save.connect(_service_saved, sender=Service, dispatch_uid="billing_due_service")
    post_save.connect(_invoice_saved, sender=Invoice, dispatch_uid="billing_due_invoice")


# --- renewals -----------------------------------------------------------------------


def _due_services(run_date: date, settings: BillingSettings):
    horizon = run_date + timedelta(days=settings.renewal_lead_days)
    already_invoiced = InvoiceLine.objects.filter(
        service=OuterRef("pk"),
        period_start=OuterRef("next_due_date"),
        kind__in=[InvoiceLine.Kind.RENEWAL, InvoiceLine.Kind.SERVICE],
    )
    return (
        Service.objects.filter(
            status=Service.Status.ACTIVE,
            next_due_date__isnull=False,
            next_due_date__lte=horizon,
            cancel_at_period_end=False,
        )
        .exclude(billing_cycle="one_time")
        .exclude(Exists(already_invoiced))
        .order_by("pk")
    )


def renewals_due_count(*, run_date: date) -> int:
    return _due_services(run_date, billing_settings_get()).count()


def _numbers_reserve(count: int, issue_date: date, settings: BillingSettings) -> Iterator[tuple]:
    """``count`` consecutive numbers from the tenant's gapless sequence, in one locked
    update; they roll back with the transaction if the batch fails."""
    yearly = settings.number_reset == BillingSettings.NumberReset.YEARLY
    year = issue_date.year if yearly else 0
    NumberSequence.objects.bulk_create(
        [NumberSequence(document_type=NumberSequence.DocumentType.INVOICE, year=year)],
        ignore_conflicts=True,
    )
    sequence = NumberSequence.objects.select_for_update().get(
        document_type=NumberSequence.DocumentType.INVOICE, year=year
    )
    first = sequence.last_number + 1
    sequence.last_number += count
    sequence.save(update_fields=["last_number"])
    template = settings.invoice_number_format
    for seq in range(first, first + count):
        yield (
            template.format(year=issue_date.year, seq=seq, prefix=settings.number_prefix),
            year,
            seq,
        )


def renewals_issue(
    *,
    run_date: date,
    settings: BillingSettings,
    result: BillingRunResult,
    progress: ProgressCallback | None = None,
    batch_size: int = BATCH_SIZE,
) -> int:
    # A renewal cannot wait for VIES: a number VIES does not confirm now is a consumer's.
    tax_seller = dataclasses.replace(
        seller_tax_profile(settings=settings, on_date=run_date),
        vies_unavailable=ViesUnavailable.CONSUMER,
    )
    seller = party_seller(settings)
    currency = settings.currency
    plan_names = dict(Plan.objects.values_list("pk", "name"))
    plan_supply = dict(Plan.objects.values_list("pk", "product__tax_category"))
    while True:
        with transaction.atomic():
            _advisory_lock()
            batch = list(
                _due_services(run_date, settings)
                .select_for_update(skip_locked=True)
                .values_list(
                    "pk",
                    "client_id",
                    "plan_id",
                    "recurring_amount",
                    "billing_cycle",
                    "next_due_date",
                    Coalesce(NullIf("label", Value("")), "domain_name"),
                )[:batch_size]
            )
            if not batch:
                return result.invoices
            created = _renewal_batch_write(
                batch, run_date, settings, tax_seller, seller, currency, plan_names, plan_supply
            )
            result.invoices += len(created)
            result.invoice_ids.extend(created)
        if progress:
            progress("renewals", len(batch))


def _ids_reserve(model, count: int) -> list[int]:
    """Primary keys taken from the table's own identity sequence, so rows can be written
    with COPY and still point at each other."""
    # The table by its schema too: on a Citus coordinator the name is resolved there, not
    # through the tenant's search path on a worker.
    quote = connection.ops.quote_name
    table = f"{quote(connection.schema_name)}.{quote(model._meta.db_table)}"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, count],
        )
        return [row[0] for row in cursor.fetchall()]


class CopyWriter:
    """Rows of one model written with COPY, several times faster than INSERT for
    thousands of rows. Defaults are worked out once from a blank instance; callable
    defaults (public ids) are drawn again for every row. Per-row triggers run as for any
    insert."""

    def __init__(self, model) -> None:
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.index = {field.attname: i for i, field in enumerate(self.fields)}
        self.converters = [_copy_converter(field) for field in self.fields]
        blank = model()
        self.template = [
            convert(field.pre_save(blank, add=True))
            for field, convert in zip(self.fields, self.converters, strict=True)
        ]
        self.drawn = [
            (i, field.default)
            for i, field in enumerate(self.fields)
            if field.has_default() and callable(field.default) and field.default not in (dict, list)
        ]
        self.rows: list[list] = []

    def add(self, **values) -> list:
        row = self.template.copy()
        for i, default in self.drawn:
            row[i] = default()
        for name, value in values.items():
            i = self.index[name]
            row[i] = self.converters[i](value)
        self.rows.append(row)
        return row

    def value(self, row: list, name: str):
        return row[self.index[name]]

    def write(self) -> None:
        if not self.rows:
            return
        statement = psycopg_sql.SQL("COPY {} ({}) FROM STDIN").format(
            psycopg_sql.Identifier(self.model._meta.db_table),
            psycopg_sql.SQL(", ").join(psycopg_sql.Identifier(f.column) for f in self.fields),
        )
        with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
            for row in self.rows:
                copy.write_row(row)


def _copy_converter(field):
    """psycopg writes Decimal, date, datetime, UUID, bool and str as they are; only JSON,
    files and choice enums need a word."""
    if isinstance(field, models.JSONField):
        return lambda value: Jsonb(value)
    if isinstance(field, models.FileField):
        return lambda value: value.name or "" if value else ""
    if field.choices:
        return lambda value: value.value if isinstance(value, Enum) else value
    return lambda value: value


def _renewal_batch_write(
    services: list[tuple],
    run_date: date,
    settings: BillingSettings,
    tax_seller: SellerProfile,
    seller: dict,
    currency: str,
    plan_names: dict[int, str],
    plan_supply: dict[int, str],
) -> list[int]:
    clients = Client.objects.in_bulk({row[1] for row in services})
    decisions: dict[tuple[int, str], TaxDecision] = {}
    buyers: dict[tuple[int, str], dict] = {}
    due_date = run_date + timedelta(days=settings.payment_terms_days)
    issued_at = timezone.now()
    numbers = _numbers_reserve(len(services), run_date, settings)
    invoice_ids = _ids_reserve(Invoice, len(services))
    line_ids = _ids_reserve(InvoiceLine, len(services))
    invoices, lines, entries = CopyWriter(Invoice), CopyWriter(InvoiceLine), []
    for service, (number, year, seq), invoice_id, line_id in zip(
        services, numbers, invoice_ids, line_ids, strict=True
    ):
        service_id, client_id, plan_id, recurring, cycle, period_start, label = service
        client = clients[client_id]
        supply = plan_supply[plan_id]
        decision = decisions.get((client_id, supply))
        if decision is None:
            decision = decisions[(client_id, supply)] = client_tax_decision(
                client=client,
                supply=supply,
                on_date=run_date,
                sale_amount=recurring,
                seller=tax_seller,
            )
            buyers[(client_id, supply)] = {
                **party_buyer(client),
                "tax": tax_record(client, [decision], None),
            }
        period_end = cycle_end(period_start, cycle)
        amounts = line_amounts(
            unit_price=Money(recurring, currency),
            quantity=1,
            decision=decision,
            prices_include_tax=settings.prices_include_tax,
        )
        description = (
            f"{plan_names[plan_id]}{f' — {label}' if label else ''} "
            f"({period_start:%Y-%m-%d} – {period_end - timedelta(days=1):%Y-%m-%d})"
        )
        invoice = invoices.add(
            id=invoice_id,
            client_id=client_id,
            # Written as drafts, issued once their lines are in: the database refuses
            # lines on an issued invoice.
            status=Invoice.Status.DRAFT,
            number=number,
            sequence_year=year,
            sequence_number=seq,
            currency=currency,
            language=client.language or settings.default_language,
            issue_date=run_date,
            # Due when the paid period ends, or after the usual terms if that is past.
            due_date=period_start if period_start > run_date else due_date,
            issued_at=issued_at,
            subtotal_amount=amounts.net.amount,
            tax_total_amount=amounts.tax.amount,
            total_amount=amounts.total.amount,
            prices_include_tax=settings.prices_include_tax,
            reverse_charge=decision.reverse_charge,
            tax_note=legal_mentions([decision], client.language or settings.default_language)[:300],
            seller=seller,
            buyer=buyers[(client_id, supply)],
        )
        lines.add(
            id=line_id,
            invoice_id=invoice_id,
            position=1,
            kind=InvoiceLine.Kind.RENEWAL,
            description=description[:500],
            quantity=Decimal(1),
            currency=currency,
            unit_price_amount=recurring,
            tax_rate=decision.rate,
            tax_name=decision.name,
            supply_type=supply,
            vat_category=decision.category,
            tax_rule=decision.rule,
            net_amount=amounts.net.amount,
            tax_amount=amounts.tax.amount,
            total_amount=amounts.total.amount,
            service_id=service_id,
            period_start=period_start,
            period_end=period_end,
        )
        if amounts.total.amount:
            entries.append(
                (
                    client_id,
                    amounts.total.amount,
                    invoice_id,
                    number,
                    invoices.value(invoice, "public_id"),
                )
            )
    invoices.write()
    lines.write()
    Invoice.objects.filter(pk__in=invoice_ids).update(status=Invoice.Status.ISSUED)
    ledger = CopyWriter(LedgerEntry)
    for (client_id, total, invoice_id, number, public_id), entry_id in zip(
        entries, _ids_reserve(LedgerEntry, len(entries)), strict=True
    ):
        ledger.add(
            id=entry_id,
            client_id=client_id,
            kind=LedgerEntry.Kind.INVOICE_ISSUED,
            amount=total,
            currency=currency,
            invoice_id=invoice_id,
            description=f"Invoice {number}",
            idempotency_key=f"invoice-issued:{public_id}",
        )
    ledger.write()
    return invoice_ids


# --- reminders and overdue ---------------------------------------------------------------


def reminders_send(*, run_date: date, settings: BillingSettings, result: BillingRunResult) -> int:
    """A reminder on each of the tenant's reminder days before the due date, once a day."""
    due_dates = [run_date + timedelta(days=days) for days in settings.reminder_days or []]
    if not due_dates:
        return 0
    with transaction.atomic():
        candidates = (
            Invoice.objects.select_for_update(skip_locked=True)
            .filter(status__in=_OPEN, due_date__in=due_dates)
            .filter(Q(last_reminder_at__isnull=True) | Q(last_reminder_at__date__lt=run_date))
        )
        ids = list(candidates.values_list("pk", flat=True))
        if ids:
            Invoice.objects.filter(pk__in=ids).update(
                reminder_count=F("reminder_count") + 1, last_reminder_at=timezone.now()
            )
            transaction.on_commit(lambda: _queue_emails("reminder", ids), robust=True)
    result.reminders += len(ids)
    return len(ids)


def invoices_mark_overdue(*, run_date: date, result: BillingRunResult) -> int:
    with transaction.atomic():
        ids = list(
            Invoice.objects.select_for_update(skip_locked=True)
            .filter(status__in=_OPEN, due_date__lt=run_date)
            .values_list("pk", flat=True)
        )
        if ids:
            Invoice.objects.filter(pk__in=ids).update(
                status=Invoice.Status.OVERDUE, updated_at=timezone.now()
            )
            transaction.on_commit(lambda: _queue_emails("overdue", ids), robust=True)
    result.overdue += len(ids)
    return len(ids)


# --- service lifecycle -------------------------------------------------------------------


def _overdue_since(cutoff: date):
    return InvoiceLine.objects.filter(
        service=OuterRef("pk"),
        invoice__status=Invoice.Status.OVERDUE,
        invoice__due_date__lte=cutoff,
    )


def services_suspend_overdue(
    *, run_date: date, settings: BillingSettings, result: BillingRunResult
) -> int:
    cutoff = run_date - timedelta(days=settings.grace_days)
    ids = list(
        Service.objects.filter(status=Service.Status.ACTIVE)
        .filter(Exists(_overdue_since(cutoff)))
        .values_list("pk", flat=True)
    )
    for service_id in ids:
        with transaction.atomic():
            service = Service.objects.select_for_update().get(pk=service_id)
            if service.status == Service.Status.ACTIVE:
                service_suspend(service=service, reason=SUSPENSION_OVERDUE)
                result.suspended += 1
    return result.suspended


def services_terminate_overdue(
    *, run_date: date, settings: BillingSettings, result: BillingRunResult
) -> int:
    cutoff = run_date - timedelta(days=settings.termination_days)
    ids = list(
        Service.objects.filter(
            status=Service.Status.SUSPENDED, suspension_reason=SUSPENSION_OVERDUE
        )
        .filter(Exists(_overdue_since(cutoff)))
        .values_list("pk", flat=True)
    )
    for service_id in ids:
        with transaction.atomic():
            service = Service.objects.select_for_update().get(pk=service_id)
            if service.status == Service.Status.SUSPENDED:
                service_terminate(service=service, reason="Unpaid")
                result.terminated += 1
    return result.terminated


def services_unsuspend_cleared(*, result: BillingRunResult) -> int:
    """Suspended for non-payment, and nothing is overdue any more: back on."""

    still_overdue = InvoiceLine.objects.filter(
        service=OuterRef("pk"), invoice__status=Invoice.Status.OVERDUE
    )
    ids = list(
        Service.objects.filter(
            status=Service.Status.SUSPENDED, suspension_reason=SUSPENSION_OVERDUE
        )
        .exclude(Exists(still_overdue))
        .values_list("pk", flat=True)
    )
    for service_id in ids:
        with transaction.atomic():
            service = Service.objects.select_for_update().get(pk=service_id)
            if service.status == Service.Status.SUSPENDED:
                service_unsuspend(service=service)
                result.unsuspended += 1
    return result.unsuspended


def services_cancel_at_period_end(*, run_date: date, result: BillingRunResult) -> int:
    ids = list(
        Service.objects.filter(
            status__in=[Service.Status.ACTIVE, Service.Status.SUSPENDED],
            cancel_at_period_end=True,
            next_due_date__lte=run_date,
        ).values_list("pk", flat=True)
    )
    for service_id in ids:
        with transaction.atomic():
            service = Service.objects.select_for_update().get(pk=service_id)
            if service.cancel_at_period_end and service.status != Service.Status.TERMINATED:
                service_terminate(service=service, reason="Cancelled at the end of the period")
                result.cancelled += 1
    return result.cancelled


# --- notifications -----------------------------------------------------------------------


def _notify_after_commit(result: BillingRunResult) -> None:
    if result.invoice_ids:
        ids = list(result.invoice_ids)
        transaction.on_commit(lambda: _queue_emails("issued", ids), robust=True)


def _queue_emails(kind: str, invoice_ids: list[int]) -> None:
    """One task per chunk, not per invoice: a run of 100,000 renewals queues 100 tasks."""

    for start in range(0, len(invoice_ids), 1000):
        invoices_notify_task.delay(kind, invoice_ids[start : start + 1000])
