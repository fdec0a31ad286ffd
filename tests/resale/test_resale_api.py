import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from resale.api import resale_credential_issue
from resale.services import reseller_balance_topup
from tests.resale.factories import account_on, wholesale_catalogue

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(tenant_a, tenant_b):
    catalogue = wholesale_catalogue()
    account_a = account_on(tenant_a.tenant, catalogue["price_list"])
    account_b = account_on(tenant_b.tenant, catalogue["price_list"])
    _, token_a = resale_credential_issue(account=account_a, name="remote A")
    credential_b, token_b = resale_credential_issue(account=account_b, name="remote B")
    reseller_balance_topup(account=account_a, amount="20", reference="x", idempotency_key="t")
    return {"a": (account_a, token_a), "b": (account_b, token_b, credential_b)}


def api(token: str | None = None) -> Client:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client(HTTP_HOST=settings.PLATFORM_DOMAIN, **headers)


def order(client: Client, key: str = "order-1") -> object:
    return client.post(
        "/api/resale/v1/commands/",
        {"action": "create", "payload": {"plan": "web-s", "cycle": "monthly", "client_ref": "c-9"}},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_order_over_the_api_is_idempotent(setup):
    _, token = setup["a"]
    first = order(api(token))
    again = order(api(token))
    assert first.status_code == 202
    assert again.status_code == 202 and again.json()["replayed"] is True
    assert first.json()["service_ref"] == again.json()["service_ref"]
    balance = api(token).get("/api/resale/v1/balance/").json()
    assert balance["balance"] == "17.5000"


def test_missing_key_and_bad_body_are_clear_errors(setup):
    _, token = setup["a"]
    response = api(token).post(
        "/api/resale/v1/commands/",
        {"action": "create", "payload": {}},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    bad = api(token).post(
        "/api/resale/v1/commands/",
        {"action": "explode", "payload": {}},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="x",
    )
    assert bad.status_code == 400


def test_credentials_are_checked(setup):
    _, token_b, credential_b = setup["b"]
    assert api().get("/api/resale/v1/balance/").status_code == 401
    assert api("tsr_nope_nope").get("/api/resale/v1/balance/").status_code == 401
    assert api(token_b[:-2] + "xx").get("/api/resale/v1/balance/").status_code == 401
    credential_b.revoked_at = timezone.now()
    credential_b.save()
    assert api(token_b).get("/api/resale/v1/balance/").status_code == 401


def test_another_resellers_service_is_404(setup):
    _, token_a = setup["a"]
    _, token_b, _ = setup["b"]
    ref = order(api(token_a)).json()["service_ref"]
    assert api(token_a).get(f"/api/resale/v1/services/{ref}/").status_code == 200
    assert api(token_b).get(f"/api/resale/v1/services/{ref}/").status_code == 404
    suspend = api(token_b).post(
        "/api/resale/v1/commands/",
        {"action": "suspend", "payload": {"service_ref": ref}},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="s-1",
    )
    assert suspend.status_code == 404


def test_catalogue_lists_the_accounts_prices(setup):
    _, token_a = setup["a"]
    plans = api(token_a).get("/api/resale/v1/catalogue/").json()["results"]
    codes = {plan["code"] for plan in plans}
    assert {"web-s", "web-m", "vps-1"} <= codes
    web_s = next(plan for plan in plans if plan["code"] == "web-s")
    assert {
        "cycle": "monthly",
        "price": "2.5000",
        "setup_fee": "0.0000",
        "currency": "EUR",
    } in web_s["prices"]


def test_sso_refuses_a_client_address_that_is_not_one(setup):
    _, token = setup["a"]
    ref = order(api(token)).json()["service_ref"]
    response = api(token).post(
        f"/api/resale/v1/services/{ref}/sso/",
        {"client_ip": "203.0.113.300"},
        content_type="application/json",
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_client_ip"


def test_panel_login_is_for_the_resellers_own_active_services(setup):
    _, token_a = setup["a"]
    _, token_b, _ = setup["b"]
    ref = order(api(token_a)).json()["service_ref"]
    url = f"/api/resale/v1/services/{ref}/panel-login/"
    assert api(token_b).post(url).status_code == 404
    pending = api(token_a).post(url)
    assert pending.status_code == 409 and pending.json()["code"] == "invalid_state"
