"""The provider console's Drift page: the open items reconciliation found (kind, reseller,
upstream service, age), filtered by kind and reseller; "run reconciliation now" for one
reseller or all; an item resolved by hand with a reason (audited, once); a repair refused
where only a person can decide; the dashboard's count; roles. (Repairs with a real worker
behind them: tests/resale/test_drift_repairs.py.)"""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEntry
from resale.models import DriftItem, ResellerAccount
from tests.portals.test_provider_console import _console

pytestmark = pytest.mark.django_db


@pytest.fixture
def items(tenant_a, tenant_b) -> tuple[DriftItem, DriftItem]:
    mine = DriftItem.objects.create(
        account=ResellerAccount.objects.get(tenant=tenant_a.tenant),
        service_ref="aaaaaaaa-0000-4000-8000-00000000d001",
        kind=DriftItem.Kind.PLAN,
        expected="web-s",
        found="web-m",
    )
    theirs = DriftItem.objects.create(
        account=ResellerAccount.objects.get(tenant=tenant_b.tenant),
        service_ref="bbbbbbbb-0000-4000-8000-00000000d002",
        kind=DriftItem.Kind.OPTIONS,
        expected="ram=4gb×1",
        found="none",
        repair="change_options",
        state=DriftItem.State.REPAIRING,
    )
    return mine, theirs


def test_open_items_are_listed_and_filtered(items, tenant_a):
    mine, theirs = items
    DriftItem.objects.create(
        account=mine.account,
        service_ref="cccccccc-0000-4000-8000-00000000d003",
        kind=DriftItem.Kind.CYCLE,
        state=DriftItem.State.RESOLVED,
        resolved_at=timezone.now(),
    )
    owner = _console()
    page = owner.get("/provider/drift/").content.decode()
    assert "Different plan" in page and "Different options at the provider" in page
    assert mine.account.legal_name in page and theirs.account.legal_name in page
    assert "Repair command sent" in page  # the state of the item being repaired
    assert "Different billing cycle" not in page.split("<tbody>")[1]  # resolved: gone
    by_kind = owner.get("/provider/drift/?kind=plan").content.decode().split("<tbody>")[1]
    assert mine.service_ref[:12] in by_kind and theirs.service_ref[:12] not in by_kind
    by_reseller = (
        owner.get(f"/provider/drift/?reseller={theirs.account.public_id}")
        .content.decode()
        .split("<tbody>")[1]
    )
    assert theirs.service_ref[:12] in by_reseller and mine.service_ref[:12] not in by_reseller
    # Nonsense in the filters filters nothing.
    assert owner.get("/provider/drift/?kind=nonsense&reseller=nobody").status_code == 200
    home = owner.get("/provider/").content.decode()
    assert "2 open items" in home


def test_an_item_is_resolved_by_hand_with_a_reason_once(items):
    mine, _theirs = items
    owner = _console()
    path = f"/provider/drift/{mine.pk}/resolve/"
    refused = owner.post(path, {"reason": " "}, follow=True).content.decode()
    assert "Say how the difference was resolved." in refused
    mine.refresh_from_db()
    assert mine.state == DriftItem.State.OPEN
    done = owner.post(
        path, {"reason": "plan changed by hand", "next": "/provider/drift/?kind=plan"}
    )
    assert done["Location"] == "/provider/drift/?kind=plan"
    again = owner.post(path, {"reason": "twice"}, follow=True).content.decode()
    assert "already resolved" in again
    mine.refresh_from_db()
    assert mine.state == DriftItem.State.RESOLVED
    entry = AuditEntry.objects.get(action="drift.resolved", object_id=str(mine.pk))
    assert entry.after["reason"] == "plan changed by hand"
    # Anywhere else than the list is not where the button leads.
    elsewhere = owner.post(
        f"/provider/drift/{items[1].pk}/resolve/", {"reason": "x", "next": "https://evil.test/"}
    )
    assert elsewhere["Location"] == "/provider/drift/"


def test_repairs_only_what_is_safe_and_only_once(items):
    mine, theirs = items
    owner = _console()
    page = owner.post(f"/provider/drift/{mine.pk}/repair/", follow=True).content.decode()
    assert "no safe repair" in page
    page = owner.post(f"/provider/drift/{theirs.pk}/repair/", follow=True).content.decode()
    assert "already on its way" in page
    assert owner.post("/provider/drift/999999/repair/").status_code == 404
    assert owner.post("/provider/drift/999999/resolve/", {"reason": "x"}).status_code == 404


def test_run_now_for_one_reseller_or_all(items):
    mine, _theirs = items
    owner = _console()
    one = owner.post("/provider/drift/run/", {"reseller": mine.account.public_id}, follow=True)
    assert "queued for 1 reseller;" in one.content.decode()
    every = owner.post("/provider/drift/run/", {"reseller": ""}, follow=True).content.decode()
    count = ResellerAccount.objects.count()
    assert f"queued for {count} resellers" in every
    assert owner.post("/provider/drift/run/", {"reseller": "nobody"}).status_code == 404


@pytest.mark.parametrize(
    ("role", "acts"),
    [
        (User.Role.OWNER, True),
        (User.Role.SUPPORT, True),
        (User.Role.BILLING, False),
        (User.Role.READONLY, False),
    ],
)
def test_roles(items, role, acts):
    mine, _theirs = items
    browser = _console(role)
    page = browser.get("/provider/drift/").content.decode()
    assert ("Run reconciliation now" in page) is acts
    assert (f"/provider/drift/{mine.pk}/resolve/" in page) is acts
    response = browser.post(f"/provider/drift/{mine.pk}/resolve/", {"reason": "x"})
    assert response.status_code == (302 if acts else 403)
    assert (browser.post("/provider/drift/run/").status_code == 403) is not acts
