"""The tenant's balance and ledger at its provider, and its upstream commands."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from resale.models import ResellerAccount, UpstreamCommand
from resale.services import reseller_balance_topup

pytestmark = pytest.mark.django_db


def test_balance_and_ledger_at_the_provider(api_a, tenant_a, tenant_b):
    account = ResellerAccount.objects.get(tenant=tenant_a.tenant)
    reseller_balance_topup(account=account, amount="50", reference="wire", idempotency_key="t1")
    reseller_balance_topup(account=account, amount="25", reference="wire", idempotency_key="t2")
    other = ResellerAccount.objects.get(tenant=tenant_b.tenant)
    reseller_balance_topup(account=other, amount="999", reference="wire", idempotency_key="t3")

    balance = api_a.get("/api/v1/reseller/balance/")
    assert balance.status_code == 200
    assert balance.json()["balance"] == "75.0000" and balance.json()["currency"] == "EUR"

    ledger = api_a.get("/api/v1/reseller/ledger/?page_size=1").json()
    assert ledger["count"] == 2 and ledger["results"][0]["amount"] == "25.0000"
    assert api_a.get("/api/v1/reseller/ledger/?kind=refund").json()["count"] == 0
    assert api_a.get("/api/v1/reseller/ledger/?ordering=nope").status_code == 400


def test_a_failed_command_can_be_retried(api_a, shop, tenant_a):
    command_id = api_a.get("/api/v1/upstream-commands/?state=failed").json()["results"][0]["id"]
    retried = api_a.post(f"/api/v1/upstream-commands/{command_id}/retry/")
    assert retried.status_code == 202 and retried.json()["state"] == "pending"
    with schema_context(tenant_a.schema):
        assert UpstreamCommand.objects.get(idempotency_key="seed-command").state == "pending"
    listed = api_a.get(f"/api/v1/upstream-commands/?service={shop.service.public_id}").json()
    assert listed["count"] == 1


def test_sso_needs_a_resold_service(api_a, shop):
    response = api_a.post(f"/api/v1/services/{shop.service.public_id}/sso/")
    assert response.status_code == 422
    assert "provider" in response.json()["detail"]


def test_sso_of_a_resold_service_asks_the_provider(api_a, shop, tenant_a):
    from django_tenants.utils import get_public_schema_name

    from billing.models import Plan
    from resale.services import upstream_command_accept
    from tests.resale.factories import account_on, wholesale_catalogue

    with schema_context(get_public_schema_name()):
        catalogue = wholesale_catalogue(code_prefix="api-")
        account = account_on(tenant_a.tenant, catalogue["price_list"])
        reseller_balance_topup(account=account, amount="20", reference="x", idempotency_key="sso")
        created = upstream_command_accept(
            account=account,
            idempotency_key="sso-create",
            action="create",
            payload={"plan": "api-web-s", "cycle": "monthly", "client_ref": "c_sso"},
        )
    with schema_context(tenant_a.schema):
        Plan.objects.filter(pk=shop.plan.pk).update(upstream_plan_ref="api-web-s")
        UpstreamCommand.objects.create(
            idempotency_key=f"create:{shop.service.public_id}",
            action="create",
            service_ref=str(shop.service.public_id),
            state=UpstreamCommand.State.SENT,
            upstream_ref=created.response["service_ref"],
        )
    # Still provisioning at the provider: the panel does not open yet.
    response = api_a.post(f"/api/v1/services/{shop.service.public_id}/sso/")
    assert response.status_code == 409
    assert response.json()["code"] == "upstream_refused"
    assert "active" in response.json()["detail"]


def test_sso_takes_only_an_ip_address_as_the_clients_address(api_a, shop):
    response = api_a.post(
        f"/api/v1/services/{shop.service.public_id}/sso/", {"client_ip": "not-an-address"}
    )
    assert response.status_code == 400
    assert "client_ip" in str(response.json())


def _resold(shop, tenant_a, *, status: str) -> None:
    from billing.models import Plan, Service

    with schema_context(tenant_a.schema):
        Plan.objects.filter(pk=shop.plan.pk).update(upstream_plan_ref="web-s")
        Service.objects.filter(pk=shop.service.pk).update(status=status)
        UpstreamCommand.objects.create(
            idempotency_key=f"create:{shop.service.public_id}",
            action="create",
            service_ref=str(shop.service.public_id),
            state=UpstreamCommand.State.DONE,
            upstream_ref="up-123",
        )


def test_sso_opens_only_for_an_active_service(api_a, shop, tenant_a, monkeypatch):
    from resale import upstreams

    asked = []

    def sso_url(self, *, service_ref, client_ip=""):
        asked.append(service_ref)
        return "https://panel.example/login?token=one-time"

    monkeypatch.setattr(upstreams.LocalUpstream, "sso_url", sso_url)
    _resold(shop, tenant_a, status="suspended")
    response = api_a.post(f"/api/v1/services/{shop.service.public_id}/sso/")
    assert response.status_code == 422
    assert "active" in response.json()["detail"]
    assert asked == []


def test_sso_refuses_an_address_that_is_not_a_web_page(api_a, shop, tenant_a, monkeypatch):
    from resale import upstreams

    monkeypatch.setattr(
        upstreams.LocalUpstream,
        "sso_url",
        lambda self, *, service_ref, client_ip="": "javascript:alert(1)",
    )
    _resold(shop, tenant_a, status="active")
    response = api_a.post(f"/api/v1/services/{shop.service.public_id}/sso/")
    assert response.status_code == 409
    assert response.json()["code"] == "upstream_refused"
    assert "javascript" not in response.content.decode()

    monkeypatch.setattr(
        upstreams.LocalUpstream,
        "sso_url",
        lambda self, *, service_ref, client_ip="": "https://panel.example/login?token=one-time",
    )
    opened = api_a.post(f"/api/v1/services/{shop.service.public_id}/sso/")
    assert opened.status_code == 200
    assert opened.json()["url"] == "https://panel.example/login?token=one-time"
