"""The billing run on a clock the test controls: renewal, reminder, overdue, suspension,
termination, and unsuspension on payment; and a second or concurrent run that creates
nothing new."""

import threading
from datetime import date, timedelta

import pytest
from django.db import connection, connections
from django_tenants.utils import schema_context

from billing import services
from billing.billing_run import billing_run
from billing.events import service_event_listeners
from billing.models import Invoice, InvoiceLine, LedgerEntry, Service
from billing.selectors import client_balance
from tests.billing.conftest import shop_build

START = date(2026, 1, 10)


@pytest.fixture
def events():
    seen = []
    listener = seen.append
    service_event_listeners.append(listener)
    yield seen
    service_event_listeners.remove(listener)


def _active_service(shop, next_due: date) -> Service:
    service = services.service_create(
        client=shop.client,
        plan=shop.starter,
        cycle="monthly",
        registration_date=next_due - timedelta(days=31),
        next_due_date=next_due,
        status=Service.Status.ACTIVE,
    )
    return service


def test_renewal_invoice_is_issued_lead_days_before_due(shop):
    services.billing_settings_update(renewal_lead_days=7)
    service = _active_service(shop, START + timedelta(days=10))
    assert billing_run(run_date=START).invoices == 0
    result = billing_run(run_date=START + timedelta(days=3))
    assert result.invoices == 1
    line = InvoiceLine.objects.get(service=service)
    invoice = line.invoice
    assert line.kind == InvoiceLine.Kind.RENEWAL
    assert (line.period_start, line.period_end) == (date(2026, 1, 20), date(2026, 2, 20))
    assert invoice.status == Invoice.Status.ISSUED
    assert invoice.number.endswith("00001")
    assert invoice.due_date == date(2026, 1, 20)
    assert str(invoice.total_amount) == "12.2000"  # 10.00 + 22 % Italian VAT
    assert invoice.seller["name"] == "Alfa Servizi Internet S.r.l."
    assert client_balance(client=shop.client).amount == invoice.total_amount
    assert LedgerEntry.objects.filter(invoice=invoice).count() == 1


def test_second_run_for_the_same_date_creates_nothing(shop):
    for days in range(5):
        _active_service(shop, START + timedelta(days=days))
    first = billing_run(run_date=START + timedelta(days=4))
    second = billing_run(run_date=START + timedelta(days=4))
    assert first.invoices == 5
    assert second.invoices == 0
    numbers = sorted(Invoice.objects.values_list("sequence_number", flat=True))
    assert numbers == [1, 2, 3, 4, 5]


def test_lifecycle_from_renewal_to_termination_and_back(
    shop, events, django_capture_on_commit_callbacks
):
    services.billing_settings_update(
        renewal_lead_days=0,
        payment_terms_days=0,
        grace_days=3,
        termination_days=10,
        reminder_days=[],
    )
    service = _active_service(shop, START)
    with django_capture_on_commit_callbacks(execute=True):
        _lifecycle_steps(service)


def _lifecycle_steps(service: Service) -> None:
    billing_run(run_date=START)
    invoice = Invoice.objects.get(lines__service=service)
    billing_run(run_date=START + timedelta(days=1))
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OVERDUE
    billing_run(run_date=START + timedelta(days=2))
    service.refresh_from_db()
    assert service.status == Service.Status.ACTIVE, "still within the grace days"
    billing_run(run_date=START + timedelta(days=3))
    service.refresh_from_db()
    assert service.status == Service.Status.SUSPENDED
    services.payment_record(
        invoice=invoice, amount=invoice.total, method="bank_transfer", idempotency_key="bank-1"
    )
    service.refresh_from_db()
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert service.status == Service.Status.ACTIVE
    assert service.next_due_date == date(2026, 2, 10)


def test_lifecycle_events_reach_listeners(shop, events, django_capture_on_commit_callbacks):
    services.billing_settings_update(
        renewal_lead_days=0,
        payment_terms_days=0,
        grace_days=3,
        termination_days=10,
        reminder_days=[],
    )
    service = _active_service(shop, START)
    with django_capture_on_commit_callbacks(execute=True):
        _lifecycle_steps(service)
    kinds = [event.kind for event in events if event.service_id == service.pk]
    assert kinds == ["suspended", "renewed", "unsuspended"]


def test_unpaid_service_is_terminated_after_termination_days(
    shop, events, django_capture_on_commit_callbacks
):
    services.billing_settings_update(
        renewal_lead_days=0,
        payment_terms_days=0,
        grace_days=2,
        termination_days=5,
        reminder_days=[],
    )
    service = _active_service(shop, START)
    with django_capture_on_commit_callbacks(execute=True):
        for day in range(0, 7):
            billing_run(run_date=START + timedelta(days=day))
    service.refresh_from_db()
    assert service.status == Service.Status.TERMINATED
    assert [e.kind for e in events if e.service_id == service.pk] == ["suspended", "terminated"]


def test_reminder_is_sent_once_per_reminder_day(shop):
    services.billing_settings_update(renewal_lead_days=10, reminder_days=[3])
    _active_service(shop, START + timedelta(days=10))
    billing_run(run_date=START)
    reminder_day = START + timedelta(days=7)
    assert billing_run(run_date=reminder_day).reminders == 1
    assert billing_run(run_date=reminder_day).reminders == 0
    assert Invoice.objects.get().reminder_count == 1


def test_concurrent_runs_create_nothing_twice(tenant_factory):
    created = tenant_factory("Concurrent Billing")
    schema = created.tenant.schema_name
    with schema_context(schema):
        shop = shop_build()
        for index in range(30):
            _active_service(shop, START + timedelta(days=index % 3))
    totals: list[int] = []

    def run() -> None:
        try:
            with schema_context(schema):
                totals.append(billing_run(run_date=START + timedelta(days=5)).invoices)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    connection.set_schema_to_public()
    assert sorted(totals)[-1] + sum(sorted(totals)[:-1]) == 30
    with schema_context(schema):
        assert Invoice.objects.count() == 30
        numbers = sorted(Invoice.objects.values_list("sequence_number", flat=True))
        assert numbers == list(range(1, 31))
