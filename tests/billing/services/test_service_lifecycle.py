"""Service lifecycle: transitions, events after commit, renewals paid, plan changes."""

from __future__ import annotations

from datetime import date

import pytest

from billing import services
from billing.errors import BillingError
from billing.events import ServiceEvent, service_event_listeners
from billing.models import Invoice, InvoiceLine, LedgerEntry, Service
from tests.billing.conftest import eur

pytestmark = pytest.mark.django_db


@pytest.fixture
def events():
    received: list[ServiceEvent] = []
    service_event_listeners.append(received.append)
    yield received
    service_event_listeners.remove(received.append)


def _active(shop, plan=None, cycle="monthly", start=date(2025, 1, 1)):
    service = services.service_create(
        client=shop.client, plan=plan or shop.starter, cycle=cycle, registration_date=start
    )
    return services.service_activate(service=service)


def test_each_transition_emits_its_event_after_commit(
    shop, events, tenant_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        service = _active(shop)
        service = services.service_suspend(service=service, reason="overdue")
        service = services.service_unsuspend(service=service)
        service = services.service_terminate(service=service)
    assert [e.kind for e in events] == ["activated", "suspended", "unsuspended", "terminated"]
    assert {e.service_id for e in events} == {service.pk}
    assert {e.tenant_schema for e in events} == {tenant_a.schema}
    assert events[1].payload["reason"] == "overdue"
    assert service.status == Service.Status.TERMINATED


def test_no_event_before_commit_nor_after_a_rollback(shop, events):
    from django.db import transaction

    service = services.service_create(client=shop.client, plan=shop.starter, cycle="monthly")
    with pytest.raises(RuntimeError), transaction.atomic():
        services.service_activate(service=service)
        raise RuntimeError
    service.refresh_from_db()
    assert service.status == Service.Status.PENDING
    services.service_activate(service=service)
    # Inside the test's transaction nothing has committed yet.
    assert events == []


def test_a_failing_listener_does_not_stop_the_others(
    shop, events, django_capture_on_commit_callbacks
):
    def broken(event):
        raise ValueError("listener bug")

    service_event_listeners.insert(0, broken)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _active(shop)
    finally:
        service_event_listeners.remove(broken)
    assert [e.kind for e in events] == ["activated"]


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda s: services.service_suspend(service=s), "cannot become suspended"),
        (lambda s: services.service_unsuspend(service=s), "cannot become active"),
        (lambda s: services.service_cancel(service=s, at_period_end=True), "active or suspended"),
    ],
)
def test_impossible_transitions_are_refused(shop, events, action, message):
    service = services.service_create(client=shop.client, plan=shop.starter, cycle="monthly")
    with pytest.raises(BillingError, match=message):
        action(service)
    service.refresh_from_db()
    assert service.status == Service.Status.PENDING


def test_cancel_now_or_at_period_end(shop, events, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        later = services.service_cancel(service=_active(shop), at_period_end=True)
        now = services.service_cancel(service=_active(shop), reason="No longer needed")
    assert later.status == Service.Status.ACTIVE and later.cancel_at_period_end
    assert now.status == Service.Status.CANCELLED and now.cancelled_at
    assert [e.kind for e in events].count("cancelled") == 1


def test_paying_a_renewal_renews_and_lifts_an_overdue_suspension(
    shop, events, django_capture_on_commit_callbacks
):
    service = _active(shop)
    assert service.next_due_date == date(2025, 2, 1)
    service = services.service_suspend(service=service, reason=services.SUSPENSION_OVERDUE)
    invoice = services.invoice_create(client=shop.client)
    services.invoice_line_add(
        invoice=invoice,
        kind=InvoiceLine.Kind.RENEWAL,
        description="Renewal",
        unit_price=service.recurring,
        service=service,
        period_start=date(2025, 2, 1),
        period_end=date(2025, 3, 1),
    )
    invoice = services.invoice_issue(invoice=invoice)
    with django_capture_on_commit_callbacks(execute=True):
        services.payment_record(
            invoice=invoice, amount=invoice.total, method="gateway", idempotency_key="r"
        )
    service.refresh_from_db()
    assert service.next_due_date == date(2025, 3, 1)
    assert service.status == Service.Status.ACTIVE
    assert [e.kind for e in events][-2:] == ["renewed", "unsuspended"]


# --- plan changes ------------------------------------------------------------------


def test_upgrade_mid_period_is_prorated_exactly(shop, events):
    # January has 31 days; 21 are left on the 11th.
    service = _active(shop)
    change = services.service_change_plan(service=service, plan=shop.pro, on_date=date(2025, 1, 11))
    assert change.credit == eur("6.77")  # 10.00 × 21/31 = 6.774...
    assert change.charge == eur("20.32")  # 30.00 × 21/31 = 20.322...
    invoice = change.invoice
    assert invoice.status == Invoice.Status.ISSUED
    assert invoice.subtotal == eur("13.55")
    assert invoice.total == eur("16.53")  # 20.32 + 4.47 − 6.77 − 1.49
    service.refresh_from_db()
    assert service.plan == shop.pro and service.recurring == eur(30)
    assert service.next_due_date == date(2025, 2, 1)


def test_downgrade_credits_the_gross_difference(shop, events):
    service = _active(shop, plan=shop.pro)
    change = services.service_change_plan(
        service=service, plan=shop.starter, on_date=date(2025, 1, 11)
    )
    assert change.invoice is None
    assert change.credited == eur("16.53")  # (20.32 − 6.77) × 1.22 = 16.531
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.CREDIT_ADDED)
    assert entry.money == -eur("16.53")
    service.refresh_from_db()
    assert service.recurring == eur(10)


def test_changing_the_cycle_starts_a_new_period(shop, events):
    service = _active(shop)
    change = services.service_change_plan(
        service=service, plan=shop.starter, cycle="annual", on_date=date(2025, 1, 11)
    )
    assert change.charge == eur(100)
    service.refresh_from_db()
    assert service.billing_cycle == "annual"
    assert service.next_due_date == date(2026, 1, 11)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cycle": "weekly"}, "not a recurring billing cycle"),
        ({"cycle": "one_time"}, "not a recurring billing cycle"),
        ({"on_date": date(2025, 3, 1)}, "current paid period"),
    ],
)
def test_bad_plan_changes_change_nothing(shop, kwargs, message):
    service = _active(shop)
    with pytest.raises(BillingError, match=message):
        services.service_change_plan(service=service, plan=shop.pro, **kwargs)
    service.refresh_from_db()
    assert service.plan == shop.starter
    assert not Invoice.objects.exists()


def test_a_plan_not_sold_in_the_cycle_is_refused(shop):
    service = _active(shop)
    with pytest.raises(BillingError, match="not sold"):
        services.service_change_plan(
            service=service, plan=shop.vps, cycle="annual", on_date=date(2025, 1, 5)
        )
