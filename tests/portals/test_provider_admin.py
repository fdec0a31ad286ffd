"""The raw model pages still mounted on the platform host (/admin/) keep the console's
rules: nothing that looks like a ledger row (balance entries, upstream services and
requests, wholesale invoices, drift items, credentials, panel jobs and accounts) can be
deleted or edited there; a reseller's terms and status change only in the console, where
they are audited; module and currency are choices, not free text."""

from __future__ import annotations

import pytest

from provisioning.models import ProvisionedService, ProvisioningJob
from resale.api import resale_credential_issue
from resale.models import (
    BalanceEntry,
    DriftItem,
    PriceList,
    ResaleCredential,
    ResellerAccount,
    UpstreamService,
)
from resale.services import reseller_balance_topup
from tests.portals.test_provider_console import _console, _failing_order
from tests.resale.factories import account_on, wholesale_catalogue

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(tenant_a) -> ResellerAccount:
    catalogue = wholesale_catalogue(code_prefix="pc-")
    return account_on(tenant_a.tenant, catalogue["price_list"])


def test_no_ledger_like_row_is_deleted_or_edited(account):
    owner = _console()
    reseller_balance_topup(account=account, amount="10", reference="w", idempotency_key="pa-1")
    job = _failing_order(account, "pa-order", max_attempts=5)
    service = UpstreamService.objects.get(pk=job.service.upstream_service_id)
    resale_credential_issue(account=account, name="remote")
    DriftItem.objects.create(account=account, service_ref="pa-ref", kind=DriftItem.Kind.PLAN)
    rows = {
        "resale/balanceentry": BalanceEntry.objects.filter(account=account).first(),
        "resale/upstreamservice": service,
        "resale/upstreamrequest": service.requests.get(),
        "resale/driftitem": DriftItem.objects.get(service_ref="pa-ref"),
        "resale/resalecredential": ResaleCredential.objects.get(account=account),
        "provisioning/provisioningjob": job,
        "provisioning/provisionedservice": ProvisionedService.objects.get(pk=job.service_id),
    }
    for model, row in rows.items():
        listing = owner.get(f"/admin/{model}/").content.decode()
        assert "delete_selected" not in listing, model
        assert owner.get(f"/admin/{model}/{row.pk}/delete/").status_code == 403, model
        assert owner.post(f"/admin/{model}/{row.pk}/delete/", {"post": "yes"}).status_code == 403
        assert type(row).objects.filter(pk=row.pk).exists(), model
    # Amounts as Babel writes them, in the currency's precision: never "10.0000 EUR".
    accounts = owner.get("/admin/resale/reselleraccount/").content.decode()
    assert "€7.50" in accounts and "7.5000" not in accounts
    entry = rows["resale/balanceentry"]
    page = owner.get(f"/admin/resale/balanceentry/{entry.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    assert owner.post(f"/admin/resale/balanceentry/{entry.pk}/change/", {}).status_code == 403
    assert ProvisioningJob.objects.filter(pk=job.pk).exists()


def test_terms_and_status_change_only_in_the_console(account):
    owner = _console()
    page = owner.get(f"/admin/resale/reselleraccount/{account.pk}/change/").content.decode()
    for field in ("credit_limit", "price_list", "status", "low_balance_threshold"):
        assert f'name="{field}"' not in page, field
    owner.post(
        f"/admin/resale/reselleraccount/{account.pk}/change/",
        {
            "legal_name": account.legal_name,
            "credit_limit": "99999",
            "status": "suspended",
            "_save": "Save",
        },
    )
    account.refresh_from_db()
    assert (account.credit_limit, account.status) == (0, ResellerAccount.Status.ACTIVE)


def test_module_and_currency_are_choices(account):
    owner = _console()
    plan_form = owner.get("/admin/resale/wholesaleplan/add/").content.decode()
    assert '<select name="module"' in plan_form
    assert 'name="prices-0-currency"' not in plan_form  # the price list's, not typed
    list_form = owner.get("/admin/resale/pricelist/add/").content.decode()
    assert '<select name="currency"' in list_form
    refused = owner.post(
        "/admin/resale/pricelist/add/", {"name": "Typed", "currency": "XXL", "_save": "Save"}
    )
    assert refused.status_code == 200
    assert not PriceList.objects.filter(name="Typed").exists()
