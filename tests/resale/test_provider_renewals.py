from datetime import date, timedelta
from decimal import Decimal

import pytest

from resale.models import UpstreamService
from resale.services import (
    reseller_balance,
    reseller_balance_topup,
    upstream_command_accept,
    upstream_service_result,
    upstream_services_renew_due,
)
from tests.resale.factories import account_on, wholesale_catalogue

pytestmark = pytest.mark.django_db
TODAY = date(2026, 3, 1)


@pytest.fixture
def active_service(tenant_a):
    account = account_on(tenant_a.tenant, wholesale_catalogue()["price_list"])
    reseller_balance_topup(account=account, amount="2.50", reference="x", idempotency_key="t")
    ref = upstream_command_accept(
        account=account,
        idempotency_key="o1",
        action="create",
        payload={"plan": "web-s", "cycle": "monthly", "client_ref": "c1"},
    ).response["service_ref"]
    service = UpstreamService.objects.get(public_id=ref)
    upstream_service_result(
        service_id=service.pk, action="create", ok=True, today=TODAY - timedelta(days=31)
    )
    service.refresh_from_db()
    return account, service


def test_due_service_is_renewed_once(active_service):
    account, service = active_service
    reseller_balance_topup(account=account, amount="10", reference="x", idempotency_key="t2")
    assert service.next_due_date == date(2026, 2, 28)  # 29 January + 1 month, clamped
    first = upstream_services_renew_due(today=TODAY)
    second = upstream_services_renew_due(today=TODAY)
    service.refresh_from_db()
    assert first["renewed"] == 1
    assert second["renewed"] == 0
    assert service.next_due_date == date(2026, 3, 28)
    assert reseller_balance(account=account).amount == Decimal("7.50")


def test_short_balance_suspends_after_grace_and_top_up_restores(active_service):
    account, service = active_service
    due = service.next_due_date
    within_grace = upstream_services_renew_due(today=due + timedelta(days=1), grace_days=3)
    service.refresh_from_db()
    assert within_grace == {"renewed": 0, "short": 1, "suspended": 0}
    assert service.status == UpstreamService.Status.ACTIVE
    upstream_services_renew_due(today=due + timedelta(days=3), grace_days=3)
    service.refresh_from_db()
    assert service.status == UpstreamService.Status.SUSPENDED
    assert service.suspend_reason == UpstreamService.SuspendReason.UNPAID
    assert "did not cover the renewal" in service.last_error
    reseller_balance_topup(account=account, amount="5", reference="x", idempotency_key="t3")
    upstream_services_renew_due(today=due + timedelta(days=4), grace_days=3)
    service.refresh_from_db()
    assert service.suspend_reason == ""
    assert reseller_balance(account=account).amount == Decimal("2.50")
