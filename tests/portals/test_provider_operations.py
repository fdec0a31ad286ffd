"""The provider console's operations queue and a reseller's commands: one that failed,
waits for funds or is stuck shows with its reason; cancelling it stops it in the
reseller's outbox with the reason, refunds an order the provider took money for and has
not delivered exactly once, and is audited on both sides. (The same with a real worker
behind it: tests/resale/test_operations_queue.py.)"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from audit.models import AuditEntry
from provisioning.models import ProvisioningJob
from resale.models import BalanceEntry, ResellerAccount, UpstreamCommand, UpstreamService
from resale.services import reseller_balance, reseller_balance_topup
from tests.portals.test_provider_console import _console, _failing_order
from tests.resale.factories import account_on, wholesale_catalogue

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return _console()


@pytest.fixture
def account(tenant_a) -> ResellerAccount:
    catalogue = wholesale_catalogue(code_prefix="pc-")
    return account_on(tenant_a.tenant, catalogue["price_list"])


def _tenant_command(tenant, key: str, **fields) -> UpstreamCommand:
    with schema_context(tenant.schema):
        return UpstreamCommand.objects.create(
            action=fields.pop("action", "create"),
            service_ref=fields.pop("service_ref", f"svc-{key}"),
            idempotency_key=key,
            **fields,
        )


def _cancel_path(account: ResellerAccount, command: UpstreamCommand) -> str:
    return f"/provider/operations/commands/{account.public_id}/{command.public_id}/cancel/"


def test_a_stuck_order_cancelled_twice_is_refunded_once(owner, tenant_a, account):
    reseller_balance_topup(account=account, amount="10", reference="w", idempotency_key="c1")
    # The reseller sent the order an hour and more ago; the provider debited it and its
    # panel job keeps failing, so the command is stuck in the reseller's outbox.
    job = _failing_order(account, "stuck-order", max_attempts=5)
    command = _tenant_command(
        tenant_a,
        "stuck-order",
        state=UpstreamCommand.State.SENT,
        sent_at=timezone.now() - timedelta(hours=2),
        last_error="",
    )
    assert reseller_balance(account=account).amount == Decimal("7.50")
    queue = owner.get("/provider/operations/").content.decode()
    assert command.public_id[:10] in queue
    assert "Stuck" in queue
    assert "€2.50" in queue  # what the provider holds for it
    assert "Cancel and refund" in queue

    path = _cancel_path(account, command)
    # No reason, no cancellation.
    refused = owner.post(path, {"reason": "  "}, follow=True).content.decode()
    assert "Say why the command is cancelled." in refused
    assert reseller_balance(account=account).amount == Decimal("7.50")

    done = owner.post(path, {"reason": "panel retired"}, follow=True).content.decode()
    assert "The command is cancelled and €2.50 refunded to the reseller." in done
    again = owner.post(path, {"reason": "double click"}, follow=True).content.decode()
    assert "already cancelled" in again
    assert reseller_balance(account=account).amount == Decimal("10")
    assert BalanceEntry.objects.filter(account=account, kind="refund").count() == 1

    # The provider's side: the order failed for good, its panel job is stopped.
    service = UpstreamService.objects.get(pk=job.service.upstream_service_id)
    assert service.status == UpstreamService.Status.FAILED
    job.refresh_from_db()
    assert job.state == ProvisioningJob.State.FAILED
    assert job.params["cancelled"]["reason"] == "panel retired"
    # The reseller's side: the command ended, with the reason its console shows.
    with schema_context(tenant_a.schema):
        command.refresh_from_db()
        assert command.state == UpstreamCommand.State.CANCELLED
        assert command.last_error == "Cancelled by the provider: panel retired"
        tenant_audit = AuditEntry.objects.get(action="upstream_command.cancelled")
        assert tenant_audit.after["reason"] == "panel retired"
    audit = AuditEntry.objects.get(action="upstream_command.cancelled", object_id=command.public_id)
    assert audit.actor_label or audit.actor_id
    assert audit.after["refunded"] == {"amount": "2.50", "currency": "EUR"}
    queue = owner.get("/provider/operations/").content.decode()
    assert command.public_id[:10] not in queue
    assert str(job.public_id)[:10] not in queue


def test_a_command_waiting_for_funds_is_cancelled_with_nothing_to_refund(owner, tenant_a, account):
    command = _tenant_command(
        tenant_a,
        "waiting-order",
        state=UpstreamCommand.State.AWAITING_FUNDS,
        last_error="The balance available (€0.00) does not cover €2.50.",
    )
    queue = owner.get("/provider/operations/").content.decode()
    assert "does not cover" in queue
    done = owner.post(_cancel_path(account, command), {"reason": "order withdrawn"}, follow=True)
    assert "nothing had been debited for it" in done.content.decode()
    assert not BalanceEntry.objects.filter(account=account).exists()
    with schema_context(tenant_a.schema):
        command.refresh_from_db()
        assert command.state == UpstreamCommand.State.CANCELLED


def test_a_command_done_is_not_cancelled(owner, tenant_a, account):
    command = _tenant_command(tenant_a, "done-order", state=UpstreamCommand.State.DONE)
    page = owner.post(_cancel_path(account, command), {"reason": "x"}, follow=True)
    assert "Only a failed, waiting or stuck command can be cancelled." in page.content.decode()
    with schema_context(tenant_a.schema):
        command.refresh_from_db()
        assert command.state == UpstreamCommand.State.DONE


def test_an_accepted_order_already_delivered_is_not_refunded(owner, tenant_a, account):
    reseller_balance_topup(account=account, amount="10", reference="w", idempotency_key="c2")
    job = _failing_order(account, "delivered", max_attempts=5)
    UpstreamService.objects.filter(pk=job.service.upstream_service_id).update(
        status=UpstreamService.Status.ACTIVE
    )
    command = _tenant_command(
        tenant_a,
        "delivered",
        state=UpstreamCommand.State.SENT,
        sent_at=timezone.now() - timedelta(hours=2),
    )
    page = owner.post(_cancel_path(account, command), {"reason": "x"}, follow=True)
    assert "already created this service" in page.content.decode()
    assert reseller_balance(account=account).amount == Decimal("7.50")
    with schema_context(tenant_a.schema):
        command.refresh_from_db()
        assert command.state == UpstreamCommand.State.SENT


def test_another_resellers_command_and_roles(tenant_a, tenant_b, account):
    command = _tenant_command(tenant_a, "roles", state=UpstreamCommand.State.FAILED)
    other = account_on(tenant_b.tenant, account.price_list)
    foreign = _cancel_path(other, command)
    assert _console().post(foreign, {"reason": "x"}).status_code == 404
    for role, allowed in (
        (User.Role.SUPPORT, True),
        (User.Role.BILLING, False),
        (User.Role.READONLY, False),
    ):
        browser = _console(role)
        queue = browser.get("/provider/operations/").content.decode()
        assert (_cancel_path(account, command) in queue) is allowed
        if not allowed:
            response = browser.post(_cancel_path(account, command), {"reason": "x"})
            assert response.status_code == 403
    with schema_context(tenant_a.schema):
        command.refresh_from_db()
        assert command.state == UpstreamCommand.State.FAILED
