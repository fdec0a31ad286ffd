"""The reconciliation pages: a reseller sees its own drift items and nobody else's, and
may start a run; the provider's list names services and pseudonymous references only,
and its action queues a run for the chosen resellers."""

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User
from resale.models import DriftItem, ResellerAccount
from tests.portals.conftest import staff_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def drift(tenant_a, tenant_b):
    account_a = ResellerAccount.objects.get(tenant=tenant_a.tenant)
    account_b = ResellerAccount.objects.get(tenant=tenant_b.tenant)
    mine = DriftItem.objects.create(
        account=account_a,
        service_ref="aaaaaaaa-0000-4000-8000-000000000001",
        kind=DriftItem.Kind.PLAN,
        expected="web-s",
        found="web-m",
    )
    theirs = DriftItem.objects.create(
        account=account_b,
        service_ref="bbbbbbbb-0000-4000-8000-000000000002",
        kind=DriftItem.Kind.OPTIONS,
        expected="ram=4gb×1",
        found="none",
    )
    return mine, theirs


def test_a_reseller_sees_only_its_own_items(drift, tenant_a):
    mine, theirs = drift
    page = tenant_a.client(tenant_a.readonly).get("/console/reconciliation/")
    assert page.status_code == 200
    html = page.content.decode()
    assert mine.service_ref in html and "Different plan" in html
    assert theirs.service_ref not in html


def test_starting_a_run_needs_the_service_capability(drift, tenant_a):
    billing = tenant_a.client(staff_member(tenant_a, "billing"))
    assert billing.post("/console/reconciliation/").status_code == 403
    support = tenant_a.client(staff_member(tenant_a, "support"))
    response = support.post("/console/reconciliation/", follow=True)
    assert response.status_code == 200
    assert "Reconciliation started" in response.content.decode()


def test_the_provider_list_and_its_run_now_action(drift, tenant_a, tenant_b):
    provider = Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    provider.force_login(User.objects.get(email="admin@platform.test"))
    page = provider.get("/admin/resale/driftitem/")
    assert page.status_code == 200
    html = page.content.decode()
    assert drift[0].service_ref in html and drift[1].service_ref in html
    account = ResellerAccount.objects.get(tenant=tenant_a.tenant)
    response = provider.post(
        "/admin/resale/reselleraccount/",
        {"action": "reconcile", "_selected_action": [str(account.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Reconciliation queued for 1 reseller(s)" in response.content.decode()
