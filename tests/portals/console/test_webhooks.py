"""Webhooks in the console of tenant A: an endpoint added here receives signed events from
a local HTTP server's point of view, its delivery log shows them, a delivery is replayed;
the secret is shown once and can be rotated; addresses are checked; only owners and
administrators act; another tenant's endpoint is a 404."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from accounts.models import WebhookDelivery, WebhookEndpoint
from api import webhooks
from audit.models import AuditEntry
from billing import services
from billing.money import Money
from tests.api.test_webhooks import Receiver
from tests.portals.conftest import staff_member

pytestmark = pytest.mark.django_db

PAGE = "/console/webhooks/"
SECRET_RE = re.compile(r'value="(whsec_[A-Za-z0-9+/=]+)"')


@pytest.fixture
def queued(monkeypatch):
    """Deliveries handed to Celery; the tests send them themselves, for real, over HTTP."""
    sent: list[int] = []
    monkeypatch.setattr(webhooks, "_queue", sent.append)
    return sent


def _send(world, queued: list[int]) -> None:
    with schema_context(world.schema):
        while queued:
            webhooks.webhook_delivery_send(delivery_id=queued.pop(0))


@pytest.fixture
def receiver():
    made = Receiver(fail=0)
    yield made
    made.close()


def test_an_endpoint_added_in_the_console_gets_events_logged_and_replayed(
    tenant_a, settings, receiver, queued, django_capture_on_commit_callbacks
):
    # A developer's machine: plain http to localhost is accepted in DEBUG only.
    settings.DEBUG = True
    browser = tenant_a.client(tenant_a.owner)
    response = browser.post(PAGE, {"url": receiver.url, "events": ["invoice.issued"]})
    assert response.status_code == 200, response.content.decode()
    assert response["Cache-Control"] == "no-store"
    secrets_shown = SECRET_RE.findall(response.content.decode())
    assert len(secrets_shown) == 1
    secret = secrets_shown[0]
    with schema_context(tenant_a.schema):
        endpoint = WebhookEndpoint.objects.get()
        assert webhooks.secret_of(endpoint) == secret
        assert endpoint.events == ["invoice.issued"] and endpoint.private_network_allowed
        assert AuditEntry.objects.filter(
            action="webhook_endpoint.created", object_id=str(endpoint.public_id)
        ).exists()
    page = f"/console/webhooks/{endpoint.public_id}/"
    assert secret not in browser.get(PAGE).content.decode()
    assert secret not in browser.get(page).content.decode()

    # A billing event of tenant A: an invoice is issued.
    with schema_context(tenant_a.schema), django_capture_on_commit_callbacks(execute=True):
        client = services.client_create(name="Hook Client", email="hook@example.test")
        invoice = services.invoice_create(client=client)
        services.invoice_line_add(
            invoice=invoice, description="Setup", unit_price=Money(Decimal("10"), "EUR")
        )
        invoice = services.invoice_issue(invoice=invoice)
    assert len(queued) == 1
    _send(tenant_a, queued)
    receiver.wait_for(1)
    status, headers, body = receiver.calls[0]
    assert status == 200 and headers["Tessera-Event"] == "invoice.issued"
    assert webhooks.webhook_signature_verify(secret=secret, headers=headers, body=body)

    log = browser.get(page).content.decode()
    assert "invoice.issued" in log and "Succeeded" in log and ">200<" in log
    with schema_context(tenant_a.schema):
        delivery = WebhookDelivery.objects.get()
        assert delivery.attempts == 1 and delivery.response_excerpt == "ok"

    # Replay: the same event, same id, as a new entry of the log.
    with django_capture_on_commit_callbacks(execute=True):
        replayed = browser.post(f"{page}deliveries/{delivery.public_id}/replay/")
    assert replayed.status_code == 302 and replayed["Location"] == page
    _send(tenant_a, queued)
    receiver.wait_for(2)
    assert receiver.calls[1][1]["webhook-id"] == str(delivery.event_id)
    with schema_context(tenant_a.schema):
        replay = WebhookDelivery.objects.get(replay_of=delivery)
        assert replay.state == WebhookDelivery.State.SUCCEEDED
        assert AuditEntry.objects.filter(action="webhook_delivery.replayed").count() == 1
    assert "replay" in browser.get(page).content.decode()

    # A test event from the console reaches it too, whatever it subscribed to.
    with django_capture_on_commit_callbacks(execute=True):
        assert browser.post(page, {"action": "ping"}).status_code == 302
    _send(tenant_a, queued)
    receiver.wait_for(3)
    assert receiver.calls[2][1]["Tessera-Event"] == "ping"


def test_rotating_the_secret_shows_the_new_one_once(tenant_a, queued):
    browser = tenant_a.client(tenant_a.owner)
    first = SECRET_RE.findall(
        browser.post(PAGE, {"url": "https://hooks.example.com/billing"}).content.decode()
    )[0]
    with schema_context(tenant_a.schema):
        endpoint = WebhookEndpoint.objects.get()
    rotate = f"/console/webhooks/{endpoint.public_id}/rotate-secret/"
    confirm = browser.get(rotate)
    assert confirm.status_code == 200 and "stops working at once" in confirm.content.decode()
    with schema_context(tenant_a.schema):
        assert webhooks.secret_of(WebhookEndpoint.objects.get()) == first

    response = browser.post(rotate)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    second = SECRET_RE.findall(response.content.decode())[0]
    assert second != first
    with schema_context(tenant_a.schema):
        assert webhooks.secret_of(WebhookEndpoint.objects.get()) == second
        assert AuditEntry.objects.filter(action="webhook_endpoint.secret_rotated").count() == 1
    assert second not in browser.get(f"/console/webhooks/{endpoint.public_id}/").content.decode()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/billing", "Use an https:// address"),
        ("http://127.0.0.1:8000/hook", "Use an https:// address"),  # DEBUG is off
        ("https://10.0.0.5/hook", "not a private network"),
        ("https://billing.internal/hook", "not a private network"),
        ("https://user:pw@hooks.example.com/x", "Leave the user name and password out"),
        ("not a url", "Enter a valid URL"),
    ],
)
def test_bad_addresses_are_explained_and_nothing_is_created(tenant_a, url, message):
    response = tenant_a.client(tenant_a.owner).post(PAGE, {"url": url})
    assert response.status_code == 400
    assert message in response.content.decode()
    with schema_context(tenant_a.schema):
        assert not WebhookEndpoint.objects.exists()


def test_an_endpoint_can_be_changed_and_deleted(tenant_a):
    browser = tenant_a.client(tenant_a.owner)
    browser.post(PAGE, {"url": "https://hooks.example.com/billing"})
    with schema_context(tenant_a.schema):
        endpoint = WebhookEndpoint.objects.get()
    page = f"/console/webhooks/{endpoint.public_id}/"
    saved = browser.post(
        page,
        {"action": "update", "url": "https://hooks.example.com/v2", "events": ["invoice.paid"]},
    )
    assert saved.status_code == 302
    with schema_context(tenant_a.schema):
        endpoint.refresh_from_db()
        assert endpoint.url == "https://hooks.example.com/v2"
        assert endpoint.events == ["invoice.paid"] and not endpoint.is_active
    refused = browser.post(page, {"action": "update", "url": "https://192.168.1.1/x"})
    assert refused.status_code == 400 and "not a private network" in refused.content.decode()

    delete = f"/console/webhooks/{endpoint.public_id}/delete/"
    assert browser.get(delete).status_code == 200
    assert browser.post(delete)["Location"] == PAGE
    with schema_context(tenant_a.schema):
        assert not WebhookEndpoint.objects.exists()
        assert AuditEntry.objects.filter(action="webhook_endpoint.deleted").count() == 1


def test_read_only_staff_see_the_log_but_no_secret_and_no_action(tenant_a, queued):
    with schema_context(tenant_a.schema):
        endpoint = webhooks.webhook_endpoint_create(
            url="https://hooks.example.com/billing?token=hush"
        ).endpoint
        delivery = webhooks.webhook_endpoint_ping(endpoint=endpoint)
    browser = tenant_a.client(tenant_a.readonly)
    listing = browser.get(PAGE).content.decode()
    assert "hooks.example.com/billing" in listing and "hush" not in listing
    assert "Add an endpoint" not in listing
    page = f"/console/webhooks/{endpoint.public_id}/"
    detail = browser.get(page)
    assert detail.status_code == 200
    body = detail.content.decode()
    assert "ping" in body and "hush" not in body
    assert "Replay" not in body and "rotate-secret" not in body and 'name="url"' not in body

    assert browser.post(PAGE, {"url": "https://hooks.example.com/x"}).status_code == 403
    assert browser.post(page, {"action": "ping"}).status_code == 403
    for action in ("rotate-secret/", "delete/"):
        assert browser.get(page + action).status_code == 403
        assert browser.post(page + action).status_code == 403
    replay = f"{page}deliveries/{delivery.public_id}/replay/"
    assert browser.post(replay).status_code == 403
    with schema_context(tenant_a.schema):
        assert WebhookEndpoint.objects.count() == 1 and WebhookDelivery.objects.count() == 1


@pytest.mark.parametrize("role", ["admin", "billing", "support"])
def test_only_owners_and_administrators_manage_webhooks(tenant_a, role):
    response = tenant_a.client(staff_member(tenant_a, role)).post(
        PAGE, {"url": "https://hooks.example.com/x"}
    )
    assert response.status_code == (200 if role == "admin" else 403)


def test_another_tenants_endpoint_and_deliveries_are_404(tenant_a, tenant_b, queued):
    with schema_context(tenant_b.schema):
        endpoint = webhooks.webhook_endpoint_create(url="https://beta.example.com/h").endpoint
        delivery = webhooks.webhook_endpoint_ping(endpoint=endpoint)
    with schema_context(tenant_a.schema):
        mine = webhooks.webhook_endpoint_create(url="https://alpha.example.com/h").endpoint
    browser = tenant_a.client(tenant_a.owner)
    page = f"/console/webhooks/{endpoint.public_id}/"
    for url in (page, page + "rotate-secret/", page + "delete/"):
        assert browser.get(url).status_code == 404, url
        assert browser.post(url, {"action": "ping"}).status_code == 404, url
    for url in (
        f"{page}deliveries/{delivery.public_id}/replay/",
        # B's delivery under A's own endpoint is no better.
        f"/console/webhooks/{mine.public_id}/deliveries/{delivery.public_id}/replay/",
    ):
        assert browser.post(url).status_code == 404, url
    assert "beta.example.com" not in browser.get(PAGE).content.decode()
    with schema_context(tenant_b.schema):
        assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1


def test_the_page_and_its_errors_are_translated(tenant_a):
    browser = tenant_a.client(tenant_a.owner)
    browser.cookies["django_language"] = "it"
    response = browser.post(PAGE, {"url": "http://hooks.example.com/x"})
    body = response.content.decode()
    assert "Aggiungi un endpoint" in body and "Usa un indirizzo https://" in body
