"""The gateway interface: another provider plugs in without touching billing; bank
transfers; the tenant's payment settings and their secrets at rest."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from billing.errors import BillingError
from billing.models import CreditNote, Invoice, Payment
from billing.money import Money
from billing.payments.flows import invoice_pay_start, payment_refund_through_gateway
from billing.payments.gateways import _BUILDERS as BUILDERS
from billing.payments.gateways import (
    IntentStatus,
    PaymentGateway,
    PaymentRequest,
    PaymentState,
    RefundState,
    gateway_names,
    gateway_register,
)
from billing.payments.gateways.config import (
    payment_platform_fee_set,
    payment_settings_get,
    payment_settings_update,
    stripe_gateway_for_tenant,
    stripe_webhook_secret,
)
from billing.services import billing_settings_update

from .helpers import client_make, invoice_make

pytestmark = pytest.mark.django_db


class InstantGateway(PaymentGateway):
    """A provider that takes every payment at once (a stand-in for PayPal and friends)."""

    name = "instant"
    started: list[PaymentRequest] = []

    def payment_start(self, request: PaymentRequest, *, idempotency_key: str) -> PaymentState:
        self.started.append(request)
        return PaymentState(
            reference=f"inst-{idempotency_key}",
            status=IntentStatus.SUCCEEDED,
            amount=request.amount,
            amount_received=request.amount,
        )

    def payment_finish(self, *, reference: str) -> PaymentState:
        raise AssertionError("not needed: payments succeed at once")

    def refund(
        self,
        *,
        payment_reference: str,
        amount: Money,
        idempotency_key: str,
        reason: str = "",
        metadata: Mapping[str, str] | None = None,
    ) -> RefundState:
        return RefundState(
            reference=f"inst-re-{idempotency_key}",
            status="succeeded",
            amount=amount,
            payment_reference=payment_reference,
        )


@pytest.fixture
def instant():
    gateway_register("instant", InstantGateway)
    yield
    BUILDERS.pop("instant", None)


def test_another_provider_plugs_in_through_the_interface(tenant_a, instant):
    assert {"stripe", "bank_transfer", "instant"} <= set(gateway_names())
    with schema_context(tenant_a.schema):
        invoice = invoice_make(client_make(), "70.00")
        started = invoice_pay_start(invoice=invoice, gateway_name="instant", method_ref="wallet")
        invoice.refresh_from_db()
        payment = Payment.objects.get(invoice=invoice)
        assert invoice.status == Invoice.Status.PAID
        assert (payment.gateway, payment.gateway_reference) == (
            "instant",
            started.attempt.intent_ref,
        )
        refund = payment_refund_through_gateway(payment=payment, idempotency_key="back")
        invoice.refresh_from_db()
        assert refund.gateway_reference.startswith("inst-re-")
        assert invoice.status == Invoice.Status.CANCELLED
        assert CreditNote.objects.filter(invoice=invoice).count() == 1
    assert InstantGateway.started[-1].schema == tenant_a.schema


def test_bank_transfer_instructions_name_the_tenants_account(tenant_a):
    with schema_context(tenant_a.schema):
        billing_settings_update(
            legal_name="Alpha Hosting S.r.l.", iban="IT60X0542811101000000123456"
        )
        invoice = invoice_make(client_make(), "12.00")
        started = invoice_pay_start(invoice=invoice, gateway_name="bank_transfer")
    assert started.attempt is None
    assert started.instructions["iban"] == "IT60X0542811101000000123456"
    assert started.instructions["account_holder"] == "Alpha Hosting S.r.l."
    assert started.instructions["reference"].startswith("RF")
    assert started.instructions["amount"] == "12.00"


def test_secrets_are_stored_encrypted(tenant_a):
    key = "sk_test_alpha_secret_key_0123456789"
    with schema_context(tenant_a.schema):
        payment_settings_update(
            stripe_mode="own_keys", stripe_secret_key=key, stripe_webhook_secret="whsec_abc123"
        )
        row = payment_settings_get()
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM billing_paymentsettings")
            raw = " ".join(str(value) for value in cursor.fetchone())
        assert key not in raw and "whsec_abc123" not in raw
        assert stripe_gateway_for_tenant(row).api_key == key
        assert stripe_webhook_secret(row) == "whsec_abc123"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"stripe_secret_key": "pk_test_wrong"}, "sk_ or rk_"),
        ({"stripe_webhook_secret": "secret"}, "whsec_"),
        ({"stripe_mode": "own_keys"}, "secret key"),
        ({"dunning_days": [0, 3]}, "between 1 and"),
        ({"dunning_days": list(range(1, 12))}, "At most 10 dunning days"),
        ({"platform_fee_percent": "5"}, "cannot be changed here"),
        ({"stripe_account_id": "acct_123"}, "cannot be changed here"),
    ],
)
def test_tenant_settings_are_checked(tenant_a, changes, message):
    with schema_context(tenant_a.schema), pytest.raises(BillingError, match=message):
        payment_settings_update(**changes)


def test_the_platform_fee_is_the_providers_to_set(tenant_a):
    row = payment_platform_fee_set(tenant=tenant_a.tenant, percent="3.5")
    assert row.platform_fee_percent == Decimal("3.50")
    with pytest.raises(BillingError):
        payment_platform_fee_set(tenant=tenant_a.tenant, percent="100")
    with schema_context(tenant_a.schema):
        assert payment_settings_get().platform_fee_percent == Decimal("3.50")


def test_dunning_days_are_sorted_and_unique(tenant_a):
    with schema_context(tenant_a.schema):
        row = payment_settings_update(dunning_days=[5, 1, 3, 3])
    assert row.dunning_days == [1, 3, 5]
