"""Saved cards, automatic charges on the due date (or on issue), and dunning: retries on
the tenant's days, the client told each time, the invoice's state for the billing run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django_tenants.utils import schema_context

from billing.billing_run import BillingRunResult, invoices_mark_overdue
from billing.models import Invoice, Payment
from billing.models.gateway import InvoiceDunning, PaymentAttempt, SavedPaymentMethod
from billing.payments.flows import (
    invoice_pay_start,
    invoice_payment_state,
    payment_method_remove,
    payment_method_setup_start,
    payments_autocharge_due,
)
from billing.payments.gateways.config import payment_settings_update
from billing.payments.tasks import payments_autocharge_due_task

from .helpers import client_make, deliver, invoice_make, platform_configure, shop_connect

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(tenant_a, stripe_server, platform, stripe_settings, settings):
    platform_configure(stripe_settings, settings)
    return shop_connect(tenant_a, stripe_server, platform)


def _card(client, card="pm_card_visa", autocharge=True):
    setup = payment_method_setup_start(client=client, method_ref=card, autocharge=autocharge)
    return setup, SavedPaymentMethod.objects.get(method_ref=setup.method_ref)


def test_a_saved_card_keeps_brand_and_last_four_only(shop):
    with schema_context(shop.schema):
        client = client_make()
        _setup, method = _card(client, "pm_card_mastercard")
    assert (method.brand, method.last4, method.autocharge) == ("mastercard", "4444", True)
    stored = {f.name for f in SavedPaymentMethod._meta.fields}
    assert not stored & {"number", "exp_month", "exp_year", "cvc", "fingerprint"}


def test_a_card_confirmed_in_the_browser_is_saved_by_the_webhook(shop, stripe_server):
    with schema_context(shop.schema):
        client = client_make()
        setup = payment_method_setup_start(client=client)
        assert setup.client_secret and not SavedPaymentMethod.objects.exists()
    mark = len(stripe_server.events(shop.account))
    stripe_server.complete_setup_intent(setup.reference, "pm_card_visa")
    for event in stripe_server.events(shop.account)[mark:]:
        assert deliver(shop.browser(), stripe_server, event, shop.webhook_secret).status_code == 200
    with schema_context(shop.schema):
        (method,) = SavedPaymentMethod.objects.filter(client=client)
        assert (method.last4, method.autocharge, method.is_active) == ("4242", True, True)


def test_the_card_is_charged_on_the_due_date_not_before_and_once(shop, stripe_server):
    with schema_context(shop.schema):
        client = client_make()
        _card(client)
        invoice = invoice_make(client, "30.00")
        early = payments_autocharge_due(invoice.due_date - timedelta(days=1))
        assert early.charged == 0 and stripe_server.charges == []
        run = payments_autocharge_due(invoice.due_date)
        again = payments_autocharge_due(invoice.due_date)
        invoice.refresh_from_db()
        attempt = PaymentAttempt.objects.get(invoice=invoice)
        assert Payment.objects.filter(invoice=invoice).count() == 1
    assert (run.charged, again.charged) == (1, 0)
    assert invoice.status == Invoice.Status.PAID
    assert attempt.kind == PaymentAttempt.Kind.AUTOCHARGE
    (charge,) = stripe_server.charges
    assert charge.account == shop.account


def test_the_celery_task_runs_the_step(shop, stripe_server):
    with schema_context(shop.schema):
        client = client_make()
        _card(client)
        invoice = invoice_make(client, "30.00")
        outcome = payments_autocharge_due_task.apply(args=[invoice.due_date.isoformat()]).get()
        invoice.refresh_from_db()
    assert outcome["charged"] == 1
    assert invoice.status == Invoice.Status.PAID


def test_clients_without_consent_are_not_charged(shop, stripe_server):
    with schema_context(shop.schema):
        client = client_make()
        _card(client, autocharge=False)
        invoice = invoice_make(client, "30.00")
        assert payments_autocharge_due(invoice.due_date).charged == 0
        removed = client_make("Bob", "bob@example.test")
        _setup, method = _card(removed)
        payment_method_remove(method=method)
        other = invoice_make(removed, "30.00")
        assert payments_autocharge_due(other.due_date).charged == 0
    assert stripe_server.charges == []


def test_charge_on_issue_when_the_tenant_says_so(shop, stripe_server):
    with schema_context(shop.schema):
        payment_settings_update(autocharge_when="issue")
        client = client_make()
        _card(client)
        invoice = invoice_make(client, "30.00")
        run = payments_autocharge_due(invoice.issue_date)
        invoice.refresh_from_db()
    assert run.charged == 1 and invoice.status == Invoice.Status.PAID


def test_a_checkout_under_way_keeps_the_automatic_charge_away(shop, stripe_server):
    with schema_context(shop.schema):
        client = client_make()
        _card(client)
        invoice = invoice_make(client, "30.00")
        invoice_pay_start(invoice=invoice, method_ref="pm_card_authenticationRequired")
        assert payments_autocharge_due(invoice.due_date).charged == 0
    assert stripe_server.charges == []


def test_failed_charge_dunning_then_paid(shop, stripe_server, django_capture_on_commit_callbacks):
    with schema_context(shop.schema):
        client = client_make()
        _card(client, "pm_card_chargeCustomerFail")
        invoice = invoice_make(client, "30.00")
        due = invoice.due_date

        with django_capture_on_commit_callbacks(execute=True):
            first = payments_autocharge_due(due)
        dunning = InvoiceDunning.objects.get(invoice=invoice)
        assert first.failed == 1
        assert (dunning.status, dunning.failures) == (InvoiceDunning.Status.ACTIVE, 1)
        assert dunning.next_attempt_on == due + timedelta(days=1)
        state = invoice_payment_state(invoice=Invoice.objects.get(pk=invoice.pk))
        assert state.dunning_status == "active" and state.next_attempt_on == dunning.next_attempt_on
        (notice,) = mail.outbox
        assert notice.to == [client.email] and invoice.number in notice.subject
        assert "try again" in notice.body

        # Nothing happens between the dunning days.
        assert payments_autocharge_due(due).retried == 0
        with django_capture_on_commit_callbacks(execute=True):
            second = payments_autocharge_due(due + timedelta(days=1))
        dunning.refresh_from_db()
        assert (second.retried, second.failed) == (1, 1)
        assert dunning.failures == 2 and dunning.next_attempt_on == due + timedelta(days=3)

        # The client saves a working card; the next retry takes it.
        _card(client, "pm_card_visa")
        with django_capture_on_commit_callbacks(execute=True):
            third = payments_autocharge_due(due + timedelta(days=3))
        dunning.refresh_from_db()
        invoice.refresh_from_db()
        assert third.charged == 1
        assert dunning.status == InvoiceDunning.Status.RECOVERED
        assert invoice.status == Invoice.Status.PAID
        assert Payment.objects.filter(invoice=invoice).count() == 1

        # The billing run's overdue step reads the status: a paid invoice is left alone.
        result = BillingRunResult(schema=shop.schema, run_date=due + timedelta(days=10))
        assert invoices_mark_overdue(run_date=due + timedelta(days=10), result=result) == 0
    assert len(mail.outbox) == 2, "one notice per failure, none for the success"


def test_retries_run_out_and_the_billing_run_takes_over(shop, django_capture_on_commit_callbacks):
    with schema_context(shop.schema):
        payment_settings_update(dunning_days=[2, 4])
        client = client_make()
        _card(client, "pm_card_chargeCustomerFail")
        invoice = invoice_make(client, "30.00")
        due = invoice.due_date
        with django_capture_on_commit_callbacks(execute=True):
            for day in range(0, 8):
                payments_autocharge_due(due + timedelta(days=day))
        dunning = InvoiceDunning.objects.get(invoice=invoice)
        assert (dunning.status, dunning.failures) == (InvoiceDunning.Status.EXHAUSTED, 3)
        assert dunning.next_attempt_on is None
        assert PaymentAttempt.objects.filter(invoice=invoice).count() == 3
        assert "will not try this card again" in mail.outbox[-1].body
        result = BillingRunResult(schema=shop.schema, run_date=due + timedelta(days=8))
        assert invoices_mark_overdue(run_date=due + timedelta(days=8), result=result) == 1
        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.OVERDUE


def test_a_card_that_needs_the_client_asks_the_client(
    shop, stripe_server, django_capture_on_commit_callbacks
):
    with schema_context(shop.schema):
        client = client_make()
        setup = payment_method_setup_start(
            client=client, method_ref="pm_card_authenticationRequired"
        )
        assert setup.status == "requires_action"
    mark = len(stripe_server.events(shop.account))
    stripe_server.complete_3ds(setup.reference)
    for event in stripe_server.events(shop.account)[mark:]:
        deliver(shop.browser(), stripe_server, event, shop.webhook_secret)
    with schema_context(shop.schema):
        assert SavedPaymentMethod.objects.get(client=client).autocharge
        invoice = invoice_make(client, "30.00")
        with django_capture_on_commit_callbacks(execute=True):
            run = payments_autocharge_due(invoice.due_date)
        attempt = PaymentAttempt.objects.get(invoice=invoice)
    assert run.failed == 1
    assert attempt.error_code == "authentication_required"
    (notice,) = mail.outbox
    assert "confirm this payment yourself" in notice.body
