"""The provider's desk: an escalation opens once per idempotency key, about a service of
the reseller's own account only; the provider's answer and status reach the reseller by
number; the resale API says the same to a remote installation, with problem documents
for what it refuses."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User
from resale.api import resale_credential_issue
from resale.escalations import (
    escalation_accept,
    escalation_changed_listeners,
    escalation_message_accept,
    escalation_provider_status_set,
    escalation_reply,
    escalation_reseller_status_set,
    escalation_view,
)
from resale.models import ProviderTicket, ResellerAccount, UpstreamService
from resale.services import ResaleError
from tests.conftest import PASSWORD
from tests.resale.factories import account_on, wholesale_catalogue

pytestmark = pytest.mark.django_db


def _service(account: ResellerAccount, plan, client_ref: str) -> UpstreamService:
    return UpstreamService.objects.create(
        account=account,
        plan=plan,
        cycle="monthly",
        client_ref=client_ref,
        price_amount="5.00",
        currency="EUR",
    )


@pytest.fixture
def desk(tenant_a, tenant_b):
    catalogue = wholesale_catalogue(code_prefix="desk-")
    account_a = account_on(tenant_a.tenant, catalogue["price_list"])
    account_b = account_on(tenant_b.tenant, catalogue["price_list"])
    return {
        "a": account_a,
        "b": account_b,
        "service_a": _service(account_a, catalogue["web-s"], "c_alpha_1"),
        "service_b": _service(account_b, catalogue["web-s"], "c_beta_1"),
    }


def test_an_escalation_opens_once_per_key_and_only_on_its_own_service(desk):
    first = escalation_accept(
        account=desk["a"],
        idempotency_key="esc-1",
        service_ref=desk["service_a"].public_id,
        subject="Site down",
        messages=["It answers 502.", "Since 10:00."],
    )
    again = escalation_accept(
        account=desk["a"],
        idempotency_key="esc-1",
        service_ref=desk["service_a"].public_id,
        subject="Site down",
        messages=["It answers 502.", "Since 10:00."],
    )
    assert again.pk == first.pk
    assert first.client_ref == "c_alpha_1"
    assert [m.body for m in first.messages.all()] == ["It answers 502.", "Since 10:00."]
    with pytest.raises(ResaleError) as foreign:
        escalation_accept(
            account=desk["a"],
            idempotency_key="esc-2",
            service_ref=desk["service_b"].public_id,
            subject="Not mine",
            messages=["x"],
        )
    assert foreign.value.code == "not_found"
    with pytest.raises(ResaleError) as conflict:
        escalation_accept(
            account=desk["b"],
            idempotency_key="esc-1",
            service_ref=desk["service_b"].public_id,
            subject="Other",
            messages=[],
        )
    assert conflict.value.code == "invalid"
    assert ProviderTicket.objects.filter(account=desk["b"]).count() == 0


def test_answers_and_status_travel_both_ways(desk, django_capture_on_commit_callbacks):
    heard: list[tuple[str, str]] = []
    escalation_changed_listeners.append(lambda schema, ref: heard.append((schema, ref)))
    try:
        ticket = escalation_accept(
            account=desk["a"],
            idempotency_key="esc-3",
            service_ref=desk["service_a"].public_id,
            subject="Mail bounces",
            messages=["Every message bounces."],
        )
        with django_capture_on_commit_callbacks(execute=True):
            escalation_reply(ticket=ticket, body="Fixed the MX.", author_label="Nora")
        assert heard == [(desk["a"].tenant.schema_name, ticket.public_id)]
    finally:
        escalation_changed_listeners.pop()
    view = escalation_view(account=desk["a"], ticket_ref=ticket.public_id, after=1)
    assert view["status"] == "answered"
    assert [(m["seq"], m["author"], m["body"]) for m in view["messages"]] == [
        (2, "provider", "Fixed the MX.")
    ]
    message = escalation_message_accept(
        account=desk["a"], ticket_ref=ticket.public_id, idempotency_key="m-1", body="Thanks!"
    )
    repeat = escalation_message_accept(
        account=desk["a"], ticket_ref=ticket.public_id, idempotency_key="m-1", body="Thanks!"
    )
    assert message.pk == repeat.pk and message.seq == 3
    escalation_reseller_status_set(account=desk["a"], ticket_ref=ticket.public_id, status="closed")
    assert ProviderTicket.objects.get(pk=ticket.pk).status == "closed"
    escalation_provider_status_set(ticket=ticket, status="open")
    assert escalation_view(account=desk["a"], ticket_ref=ticket.public_id)["status"] == "open"
    with pytest.raises(ResaleError):
        escalation_view(account=desk["b"], ticket_ref=ticket.public_id)


def _api(token: str) -> Client:
    return Client(HTTP_HOST=settings.PLATFORM_DOMAIN, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_the_resale_api_escalations(desk):
    _, token = resale_credential_issue(account=desk["a"], name="desk")
    _, token_b = resale_credential_issue(account=desk["b"], name="desk-b")
    api = _api(token)
    body = {
        "service_ref": desk["service_a"].public_id,
        "subject": "Disk full",
        "messages": ["Quota reached."],
    }
    opened = api.post(
        "/api/resale/v1/escalations/",
        json.dumps(body),
        "application/json",
        HTTP_IDEMPOTENCY_KEY="api-1",
    )
    assert opened.status_code == 201, opened.content
    ref = opened.json()["ref"]
    replay = api.post(
        "/api/resale/v1/escalations/",
        json.dumps(body),
        "application/json",
        HTTP_IDEMPOTENCY_KEY="api-1",
    )
    assert replay.json()["ref"] == ref
    no_key = api.post("/api/resale/v1/escalations/", json.dumps(body), "application/json")
    assert no_key.status_code == 400
    assert no_key["Content-Type"].startswith("application/problem+json")
    empty = api.post(
        "/api/resale/v1/escalations/",
        json.dumps({**body, "messages": []}),
        "application/json",
        HTTP_IDEMPOTENCY_KEY="api-2",
    )
    assert empty.status_code == 400
    assert api.get(f"/api/resale/v1/escalations/{ref}/?after=x").status_code == 400
    assert _api(token_b).get(f"/api/resale/v1/escalations/{ref}/").status_code == 404
    ticket = ProviderTicket.objects.get(public_id=ref)
    escalation_reply(ticket=ticket, body="More space added.", author_label="Nora")
    view = api.get(f"/api/resale/v1/escalations/{ref}/?after=1").json()
    assert view["status"] == "answered"
    assert [m["body"] for m in view["messages"]] == ["More space added."]
    sent = api.post(
        f"/api/resale/v1/escalations/{ref}/messages/",
        json.dumps({"body": "Thank you."}),
        "application/json",
        HTTP_IDEMPOTENCY_KEY="api-m-1",
    )
    assert sent.status_code == 201 and sent.json() == {"seq": 3}
    status = api.post(
        f"/api/resale/v1/escalations/{ref}/status/",
        json.dumps({"status": "answered"}),
        "application/json",
    )
    assert status.status_code == 400
    closed = api.post(
        f"/api/resale/v1/escalations/{ref}/status/",
        json.dumps({"status": "closed"}),
        "application/json",
    )
    assert closed.json() == {"status": "closed"}


def test_the_desk_pages_and_who_may_answer(desk):
    ticket = escalation_accept(
        account=desk["a"],
        idempotency_key="esc-page",
        service_ref=desk["service_a"].public_id,
        subject="Slow site",
        messages=["Pages take ten seconds."],
    )
    admin = User.objects.get(email="admin@platform.test")
    browser = Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    browser.force_login(admin)
    listing = browser.get("/provider/desk/")
    assert listing.status_code == 200 and "Slow site" in listing.content.decode()
    page = browser.get(f"/provider/desk/{ticket.public_id}/")
    assert "c_alpha_1" in page.content.decode()
    assert "Pages take ten seconds." in page.content.decode()
    empty = browser.post(f"/provider/desk/{ticket.public_id}/reply/", {"body": "  "})
    assert empty.status_code == 400
    assert ticket.messages.count() == 1
    browser.post(f"/provider/desk/{ticket.public_id}/reply/", {"body": "Caching enabled."})
    assert ticket.messages.last().body == "Caching enabled."
    assert ProviderTicket.objects.get(pk=ticket.pk).status == "answered"

    readonly = User.objects.create_user(
        "ro-desk@platform.test",
        PASSWORD,
        kind=User.Kind.STAFF,
        is_staff=True,
        role=User.Role.READONLY,
    )
    support = User.objects.create_user(
        "support-desk@platform.test",
        PASSWORD,
        kind=User.Kind.STAFF,
        is_staff=True,
        role=User.Role.SUPPORT,
    )
    looker = Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    looker.force_login(readonly)
    assert looker.get(f"/provider/desk/{ticket.public_id}/").status_code == 200
    refused = looker.post(f"/provider/desk/{ticket.public_id}/reply/", {"body": "Hi"})
    assert refused.status_code == 403
    helper = Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    helper.force_login(support)
    answered = helper.post(f"/provider/desk/{ticket.public_id}/status/", {"status": "closed"})
    assert answered.status_code == 302
    assert ProviderTicket.objects.get(pk=ticket.pk).status == "closed"
