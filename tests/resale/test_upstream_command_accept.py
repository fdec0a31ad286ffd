import threading
import uuid
from decimal import Decimal

import pytest
from django.db import connection, connections

from billing.money import Money
from provisioning.models import PlanMapping, ServerGroup
from provisioning.services import server_create
from resale.models import BalanceEntry, UpstreamService
from resale.services import (
    ResaleError,
    reseller_balance,
    reseller_balance_adjust,
    reseller_balance_topup,
    upstream_command_accept,
)
from tests.resale.factories import account_on, wholesale_catalogue


@pytest.fixture
def account(db, tenant_a):
    catalogue = wholesale_catalogue()
    return account_on(tenant_a.tenant, catalogue["price_list"])


def _order(account, key, plan="web-s", cycle="monthly", client_ref="c-1"):
    return upstream_command_accept(
        account=account,
        idempotency_key=key,
        action="create",
        payload={"plan": plan, "cycle": cycle, "client_ref": client_ref},
    )


def test_order_debits_the_wholesale_price_once_per_key(account):
    reseller_balance_topup(account=account, amount="10.00", reference="bank", idempotency_key="t1")
    first = _order(account, "k1")
    again = _order(account, "k1")
    assert first.status == "accepted"
    assert again.replayed and again.response == first.response
    assert reseller_balance(account=account) == Money(Decimal("7.50"), "EUR")
    assert UpstreamService.objects.filter(account=account).count() == 1


def test_an_order_with_no_panel_job_possible_is_failed_and_refunded_at_once(account, monkeypatch):
    """The panel job is queued in the accepting transaction; when it cannot be made, the
    service fails with the reason there and then, instead of waiting for ever."""
    from provisioning.services import ProvisioningError

    def refuse(service, action):
        raise ProvisioningError("No server group offers this plan.")

    monkeypatch.setattr("resale.hooks.provision", refuse)
    monkeypatch.setattr("resale.hooks.report", lambda *args: None)
    reseller_balance_topup(account=account, amount="10.00", reference="bank", idempotency_key="t1")
    ref = _order(account, "k1").response["service_ref"]
    service = UpstreamService.objects.get(public_id=ref)
    assert service.status == UpstreamService.Status.FAILED
    assert service.last_error == "No server group offers this plan."
    assert reseller_balance(account=account) == Money(Decimal("10.00"), "EUR")


def test_same_key_with_another_command_is_refused(account):
    reseller_balance_topup(account=account, amount="10", reference="bank", idempotency_key="t1")
    _order(account, "k1")
    with pytest.raises(ResaleError, match="different command"):
        _order(account, "k1", plan="web-m")


def test_short_balance_waits_and_is_not_remembered(account):
    result = _order(account, "k1")
    assert result.status == "awaiting_funds"
    assert not BalanceEntry.objects.filter(account=account).exists()
    reseller_balance_topup(account=account, amount="5", reference="card", idempotency_key="t1")
    assert _order(account, "k1").status == "accepted"


def test_credit_limit_lets_the_balance_go_negative_that_far(account):
    account.credit_limit = Decimal("5")
    account.save()
    assert _order(account, "k1").status == "accepted"
    assert _order(account, "k2").status == "accepted"
    assert _order(account, "k3").status == "awaiting_funds"
    assert reseller_balance(account=account) == Money(Decimal("-5.00"), "EUR")


def test_top_up_is_idempotent_and_validated(account):
    reseller_balance_topup(account=account, amount="10", reference="x", idempotency_key="t1")
    reseller_balance_topup(account=account, amount="10", reference="x", idempotency_key="t1")
    assert reseller_balance(account=account).amount == Decimal("10")
    for bad in ["-1", "0", "abc", "1.234", "99999999999"]:
        with pytest.raises((ResaleError, ValueError)):
            reseller_balance_topup(
                account=account, amount=bad, reference="x", idempotency_key=f"bad-{bad}"
            )
    assert reseller_balance(account=account).amount == Decimal("10")


def test_adjustment_needs_a_reason(account):
    with pytest.raises(ResaleError, match="reason"):
        reseller_balance_adjust(account=account, amount="-3", reason=" ", created_by="staff")
    reseller_balance_adjust(
        account=account, amount="-3", reason="goodwill reversal", created_by="staff"
    )
    assert reseller_balance(account=account).amount == Decimal("-3")


def test_ledger_entries_cannot_change(account):
    entry = reseller_balance_topup(
        account=account, amount="10", reference="x", idempotency_key="t1"
    )
    with pytest.raises(Exception, match="append-only"):
        entry.save()
    with pytest.raises(Exception, match="append-only"):
        BalanceEntry.objects.filter(pk=entry.pk).update(amount_value=Decimal("99"))
    with pytest.raises(Exception, match="append-only"):
        entry.delete()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"plan": "nope", "cycle": "monthly", "client_ref": "c"}, "No plan"),
        ({"plan": "web-s", "cycle": "weekly", "client_ref": "c"}, "not a billing cycle"),
        ({"plan": "web-s", "cycle": "monthly", "client_ref": "jo@example.com"}, "pseudonymous"),
        ({"plan": "web-s", "cycle": "quarterly", "client_ref": "c"}, "no quarterly price"),
    ],
)
def test_bad_orders_are_clear_errors_and_change_nothing(account, payload, message):
    reseller_balance_topup(account=account, amount="10", reference="x", idempotency_key="t1")
    with pytest.raises(ResaleError, match=message):
        upstream_command_accept(
            account=account, idempotency_key="k", action="create", payload=payload
        )
    assert reseller_balance(account=account).amount == Decimal("10")
    assert not UpstreamService.objects.exists()


def test_lifecycle_state_rules(account):
    reseller_balance_topup(account=account, amount="10", reference="x", idempotency_key="t1")
    ref = _order(account, "k1").response["service_ref"]
    with pytest.raises(ResaleError, match="Cannot suspend a service that is provisioning"):
        upstream_command_accept(
            account=account, idempotency_key="s1", action="suspend", payload={"service_ref": ref}
        )
    with pytest.raises(ResaleError, match="No service"):
        upstream_command_accept(
            account=account,
            idempotency_key="s2",
            action="suspend",
            payload={"service_ref": "missing"},
        )


def test_concurrent_orders_never_overdraw(tenant_factory):
    """50 orders at once against a balance that covers 10: exactly 10 go through."""
    created = tenant_factory("Concurrent Hosting")
    catalogue = wholesale_catalogue(code_prefix=f"c{uuid.uuid4().hex[:6]}-")
    account = account_on(created.tenant, catalogue["price_list"])
    plan_code = catalogue["web-s"].code
    # A panel to provision on: an accepted order queues its job in the same transaction,
    # and a plan with nowhere to go would be failed and refunded at once.
    group = ServerGroup.objects.create(name=f"sim-{plan_code}", module="simulated")
    server_create(
        group=group, name=f"{plan_code}-node", hostname=f"{plan_code}.panel.test", port=443
    )
    PlanMapping.objects.create(plan_code=plan_code, group=group, package="web-s")
    reseller_balance_topup(account=account, amount="25.00", reference="x", idempotency_key="t")
    results: list[str] = []
    barrier = threading.Barrier(10)

    def worker(start: int) -> None:
        try:
            barrier.wait()
            for index in range(start, start + 5):
                outcome = upstream_command_accept(
                    account=account,
                    idempotency_key=f"order-{index}",
                    action="create",
                    payload={"plan": plan_code, "cycle": "monthly", "client_ref": f"c{index}"},
                )
                results.append(outcome.status)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n * 5,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    connection.set_schema_to_public()
    assert results.count("accepted") == 10
    assert results.count("awaiting_funds") == 40
    assert reseller_balance(account=account).amount == Decimal("0.00")
    assert UpstreamService.objects.filter(account=account).count() == 10
