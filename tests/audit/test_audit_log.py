"""The audit log: every money-moving or state-changing service writes one entry, in its
own transaction and schema, naming who acted; entries can be neither changed nor removed."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import RequestFactory
from django_tenants.utils import get_public_schema_name, schema_context

from audit.context import audit_actor, request_bind, request_unbind
from audit.models import AuditEntry, AuditImmutableError
from audit.services import audit_export, audit_record
from billing import services
from billing.models import Payment
from tests.billing.conftest import eur, invoice_for, shop_build

pytestmark = pytest.mark.django_db


def _key() -> str:
    return uuid.uuid4().hex


def _last(action: str) -> AuditEntry:
    entry = AuditEntry.objects.filter(action=action).order_by("-id").first()
    assert entry is not None, f"no audit entry for {action}"
    return entry


def _service(shop, plan=None):
    service = services.service_create(
        client=shop.client,
        plan=plan or shop.starter,
        cycle="monthly",
        registration_date=date(2025, 1, 1),
    )
    return services.service_activate(service=service)


def _invoice(shop):
    return invoice_for(shop.client, ("Hosting", eur(100)))


# Each case runs one service in tenant A and names the entry it must leave.
def case_invoice_issue(shop):
    invoice = invoice_for(shop.client, ("Hosting", eur(100)), issue=False)
    invoice = services.invoice_issue(invoice=invoice)
    return "invoice.issued", str(invoice.public_id)


def case_payment_record(shop):
    invoice = _invoice(shop)
    payment = services.payment_record(
        invoice=invoice,
        amount=invoice.total,
        method=Payment.Method.BANK_TRANSFER,
        idempotency_key=_key(),
    )
    return "payment.recorded", str(payment.public_id)


def case_payment_refund(shop):
    invoice = _invoice(shop)
    payment = services.payment_record(
        invoice=invoice, amount=invoice.total, method=Payment.Method.MANUAL, idempotency_key=_key()
    )
    refund = services.payment_refund(payment=payment, amount=eur(10), idempotency_key=_key())
    return "payment.refunded", str(refund.public_id)


def case_credit_note_issue(shop):
    invoice = _invoice(shop)
    note = services.credit_note_issue(invoice=invoice, reason="Wrong product")
    return "credit_note.issued", str(note.public_id)


def case_credit_apply(shop):
    invoice = _invoice(shop)
    services.credit_add(client=shop.client, amount=eur(50), idempotency_key=_key())
    payment = services.credit_apply(invoice=invoice)
    return "credit.applied", str(payment.public_id)


def case_service_activate(shop):
    service = _service(shop)
    return "service.activated", str(service.public_id)


def case_service_suspend(shop):
    service = services.service_suspend(service=_service(shop), reason="overdue")
    return "service.suspended", str(service.public_id)


def case_service_unsuspend(shop):
    service = services.service_suspend(service=_service(shop))
    service = services.service_unsuspend(service=service)
    return "service.unsuspended", str(service.public_id)


def case_service_terminate(shop):
    service = services.service_terminate(service=_service(shop))
    return "service.terminated", str(service.public_id)


def case_service_cancel(shop):
    service = services.service_cancel(service=_service(shop))
    return "service.cancelled", str(service.public_id)


def case_service_change_plan(shop):
    service = _service(shop)
    change = services.service_change_plan(service=service, plan=shop.pro, on_date=date(2025, 1, 11))
    return "service.plan_changed", str(change.service.public_id)


def case_platform_fee_set(shop):
    from billing.models.gateway import PaymentSettings
    from billing.payments.gateways.config import payment_platform_fee_set

    payment_platform_fee_set(tenant=connection.tenant, percent="2.50")
    return "payment_settings.platform_fee_set", str(PaymentSettings.SINGLETON_ID)


def case_connect_status(shop):
    from billing.models.gateway import PaymentSettings
    from billing.payments.gateways.config import payment_settings_get, stripe_connect_status_apply
    from billing.payments.gateways.stripe import api as stripe_api

    row = payment_settings_get()
    row.stripe_account_id = "acct_audit"
    row.save(update_fields=["stripe_account_id"])
    stripe_connect_status_apply(
        stripe_api.ConnectedAccount(
            id="acct_audit",
            type="standard",
            country="IT",
            email=None,
            default_currency="eur",
            charges_enabled=True,
            payouts_enabled=True,
            details_submitted=True,
            requirements_due=(),
            metadata={},
        )
    )
    return "payment_settings.connect_status", str(PaymentSettings.SINGLETON_ID)


TENANT_CASES = [
    case_platform_fee_set,
    case_connect_status,
    case_invoice_issue,
    case_payment_record,
    case_payment_refund,
    case_credit_note_issue,
    case_credit_apply,
    case_service_activate,
    case_service_suspend,
    case_service_unsuspend,
    case_service_terminate,
    case_service_cancel,
    case_service_change_plan,
]


@pytest.mark.parametrize("case", TENANT_CASES, ids=lambda case: case.__name__[5:])
def test_each_tenant_service_writes_an_entry(shop, tenant_a, case):
    action, object_id = case(shop)
    entry = _last(action)
    assert entry.object_id == object_id
    assert entry.actor_kind == AuditEntry.ActorKind.SYSTEM
    with schema_context(get_public_schema_name()):
        assert not AuditEntry.objects.filter(action=action, object_id=object_id).exists()


def test_money_changes_keep_amounts_before_and_after(shop):
    invoice = _invoice(shop)
    payment = services.payment_record(
        invoice=invoice, amount=eur(40), method=Payment.Method.MANUAL, idempotency_key=_key()
    )
    entry = _last("payment.recorded")
    assert entry.after["amount"] == {"amount": "40.00", "currency": "EUR"}
    assert entry.after["invoice"] == invoice.number
    services.payment_refund(payment=payment, amount=eur("12.50"), idempotency_key=_key())
    refund = _last("payment.refunded")
    assert refund.before == {"refunded": {"amount": "0.00", "currency": "EUR"}}
    assert refund.after["amount"] == {"amount": "12.50", "currency": "EUR"}
    issued = _last("invoice.issued")
    assert issued.before == {"status": "draft"} and issued.after["number"] == invoice.number


def test_service_transition_records_previous_and_new_status(shop):
    service = services.service_suspend(service=_service(shop), reason="overdue")
    entry = _last("service.suspended")
    assert entry.object_id == str(service.public_id)
    assert entry.before == {"status": "active"}
    assert entry.after["status"] == "suspended"
    assert entry.after["details"] == {"reason": "overdue"}


def test_an_entry_rolls_back_with_its_change(shop):
    service = services.service_create(client=shop.client, plan=shop.starter, cycle="monthly")
    with pytest.raises(RuntimeError), transaction.atomic():
        services.service_activate(service=service)
        raise RuntimeError
    assert not AuditEntry.objects.filter(object_id=str(service.public_id)).exists()


# --- provider side (public schema) --------------------------------------------------------


@pytest.fixture
def account(db, tenant_a):
    from tests.resale.factories import account_on, wholesale_catalogue

    return account_on(tenant_a.tenant, wholesale_catalogue()["price_list"])


def test_reseller_balance_topup_writes_a_provider_entry(account):
    from resale.services import reseller_balance_topup

    reseller_balance_topup(
        account=account, amount="25.00", reference="bank", idempotency_key=_key()
    )
    entry = _last("balance.topup")
    assert connection.schema_name == get_public_schema_name()
    assert entry.object_type == "reseller_account" and entry.object_id == str(account.pk)
    assert entry.after["amount"] == {"amount": "25.00", "currency": "EUR"}
    before = entry.before["balance"]["amount"]
    assert float(entry.after["balance"]["amount"]) - float(before) == 25.0


def test_reseller_balance_adjust_writes_a_provider_entry(account):
    from resale.services import reseller_balance_adjust

    reseller_balance_adjust(
        account=account, amount="-5.00", reason="Goodwill reversal", created_by="ops"
    )
    entry = _last("balance.adjusted")
    assert entry.after["amount"] == {"amount": "-5.00", "currency": "EUR"}
    assert entry.after["created_by"] == "ops"


def test_upstream_command_accept_writes_a_provider_entry(account):
    from resale.services import reseller_balance_topup, upstream_command_accept

    reseller_balance_topup(
        account=account, amount="10.00", reference="bank", idempotency_key=_key()
    )
    key = _key()
    payload = {"plan": "web-s", "cycle": "monthly", "client_ref": "c-1"}
    upstream_command_accept(account=account, idempotency_key=key, action="create", payload=payload)
    entry = _last("upstream_command.accepted")
    assert entry.after["idempotency_key"] == key and entry.after["command"] == "create"
    # A replay of the same key is not a second command.
    upstream_command_accept(account=account, idempotency_key=key, action="create", payload=payload)
    assert AuditEntry.objects.filter(action="upstream_command.accepted").count() == 1


def test_provider_rows_written_from_a_tenant_schema_are_logged_in_public(account, tenant_a):
    from resale.services import reseller_balance_topup

    key = _key()
    with schema_context(tenant_a.schema):
        reseller_balance_topup(account=account, amount="3.00", reference="x", idempotency_key=key)
        assert not AuditEntry.objects.filter(action="balance.topup").exists()
    assert _last("balance.topup").after["amount"]["amount"] == "3.00"


# --- actor, immutability, export ----------------------------------------------------------


def test_the_request_user_is_the_actor(shop, tenant_a):
    request = RequestFactory().post("/", HTTP_X_REQUEST_ID="req-42", REMOTE_ADDR="203.0.113.9")
    request.user = tenant_a.owner
    request.audit_request_id = "req-42"
    token = request_bind(request)
    try:
        service = _service(shop)
    finally:
        request_unbind(token)
    entry = _last("service.activated")
    assert entry.object_id == str(service.public_id)
    assert entry.actor_kind == AuditEntry.ActorKind.STAFF
    assert entry.actor_id == str(tenant_a.owner.pk) and entry.actor_label == tenant_a.owner.email
    assert entry.request_id == "req-42" and entry.ip == "203.0.113.9"


def test_a_client_user_is_recorded_as_client(shop, tenant_a):
    request = RequestFactory().get("/")
    request.user = tenant_a.client_user
    token = request_bind(request)
    try:
        audit_record(action="client.viewed", object_type="client", object_id="x")
    finally:
        request_unbind(token)
    assert _last("client.viewed").actor_kind == AuditEntry.ActorKind.CLIENT


def test_the_middleware_binds_the_request(tenant_a):
    from audit.middleware import AuditContextMiddleware

    seen = {}

    def view(request):
        from audit.context import current_actor

        seen["actor"] = current_actor()
        from django.http import HttpResponse

        return HttpResponse()

    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="abc-1")
    request.user = tenant_a.readonly
    with schema_context(tenant_a.schema):
        AuditContextMiddleware(view)(request)
    assert seen["actor"].kind == "staff" and seen["actor"].request_id == "abc-1"
    from audit.context import current_actor

    assert current_actor().kind == "system"


def test_explicit_actor_for_tasks(shop):
    with audit_actor(kind="system", label="billing run"):
        _service(shop)
    assert _last("service.activated").actor_label == "billing run"


def test_entries_cannot_be_changed_or_deleted(shop):
    entry = audit_record(action="test.fact", object_type="x", object_id="1", after={"a": 1})
    entry.action = "test.other"
    with pytest.raises(AuditImmutableError):
        entry.save()
    with pytest.raises(AuditImmutableError):
        entry.delete()
    for sql in (
        "UPDATE audit_auditentry SET action = 'x' WHERE id = %s",
        "DELETE FROM audit_auditentry WHERE id = %s",
    ):
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [entry.pk])


def test_a_cloned_tenant_schema_keeps_the_trigger(tenant_b):
    with schema_context(tenant_b.schema):
        entry = audit_record(action="test.fact")
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM audit_auditentry WHERE id = %s", [entry.pk])


def test_export_is_csv_of_the_schema(shop):
    _service(shop)
    rows = list(csv.DictReader(io.StringIO(audit_export(action_prefix="service."))))
    assert rows and {row["action"] for row in rows} == {"service.activated"}
    assert rows[0]["actor_kind"] == "system"
    assert '"status": "active"' in rows[0]["after"]


def test_shop_fixture_still_builds_twice(in_tenant_a):
    # The shop builder is shared with the billing tests; audit listeners must not get in
    # its way (a second build in another schema-level transaction).
    shop_build()


def test_an_api_credential_is_the_actor(shop, tenant_a):
    class Credential:
        pk = 7
        public_id = "k-7"
        account = "Alpha Hosting"

        def __str__(self) -> str:
            return "tsk_abc"

    request = RequestFactory().post("/api/v1/x", REMOTE_ADDR="198.51.100.1")
    request.auth = Credential()
    # The resale API puts the reseller account, not a user, on the request.
    request.user = object()
    token = request_bind(request)
    try:
        audit_record(action="test.api")
    finally:
        request_unbind(token)
    entry = _last("test.api")
    assert entry.actor_kind == AuditEntry.ActorKind.API_KEY
    assert entry.actor_id == "credential:k-7" and entry.actor_label == "tsk_abc of Alpha Hosting"


def test_a_celery_task_names_itself_as_the_system_actor(shop):
    from audit.context import _task_finished, _task_started, current_actor

    class Task:
        name = "billing.tasks.billing_run_task"

    _task_started(task_id="t-1", task=Task())
    try:
        assert current_actor().label == "billing.tasks.billing_run_task"
        _service(shop)
    finally:
        _task_finished(task_id="t-1")
    entry = _last("service.activated")
    assert entry.actor_kind == "system" and entry.actor_label == "billing.tasks.billing_run_task"
    assert current_actor().label == "system"


def test_provider_staff_on_the_platform_host(db):
    from accounts.models import User

    admin = User.objects.get(email="admin@platform.test")
    request = RequestFactory().post("/admin/")
    request.user = admin
    token = request_bind(request)
    try:
        audit_record(action="test.provider", object_type="x", object_id="1")
    finally:
        request_unbind(token)
    entry = _last("test.provider")
    assert entry.actor_kind == AuditEntry.ActorKind.PROVIDER_STAFF
    assert entry.actor_label == "admin@platform.test"
