"""Outgoing webhooks: signed, retried with backoff by a real worker, logged, replayable,
fed by billing events after commit."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import WebhookDelivery
from api import webhooks
from api.keys import SCOPES, api_key_create
from billing import services
from billing.money import Money
from tests.api.conftest import Api, shop_build

# --- signatures and endpoint rules ---------------------------------------------------------


def _delivery(**kwargs) -> WebhookDelivery:
    event_id = uuid.uuid4()
    return WebhookDelivery(
        event_id=event_id,
        event_type="invoice.paid",
        payload={"id": str(event_id), "type": "invoice.paid", "data": {"amount": "12.20"}},
        **kwargs,
    )


def test_signature_verifies_and_detects_tampering():
    secret = webhooks.secret_new()
    body, headers = webhooks.webhook_request(_delivery(), secret=secret)
    assert headers["webhook-signature"].startswith("v1,")
    assert webhooks.webhook_signature_verify(secret=secret, headers=headers, body=body)
    assert not webhooks.webhook_signature_verify(
        secret=secret, headers=headers, body=body.replace(b"12.20", b"99.99")
    )
    assert not webhooks.webhook_signature_verify(
        secret=webhooks.secret_new(), headers=headers, body=body
    )
    late = time.time() + webhooks.SIGNATURE_TOLERANCE_S + 5
    assert not webhooks.webhook_signature_verify(
        secret=secret, headers=headers, body=body, now=late
    )
    forged = {**headers, "webhook-timestamp": str(int(time.time()) + 1)}
    assert not webhooks.webhook_signature_verify(secret=secret, headers=forged, body=body)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://10.0.0.5/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost/hook",
        "http://billing.internal/hook",
        "ftp://hooks.example.com/x",
        "https://user:pw@hooks.example.com/x",
    ],
)
def test_the_api_refuses_private_or_odd_targets(api_a, url):
    response = api_a.post("/api/v1/webhook-endpoints/", {"url": url})
    assert response.status_code in (400, 422), response.content


@pytest.mark.django_db
def test_the_secret_is_shown_once(api_a):
    created = api_a.post(
        "/api/v1/webhook-endpoints/",
        {"url": "https://hooks.example.com/t", "events": ["invoice.paid"]},
    )
    assert created.status_code == 201
    assert created.json()["secret"].startswith("whsec_")
    shown = api_a.get(f"/api/v1/webhook-endpoints/{created.json()['id']}/").json()
    assert "secret" not in shown and shown["events"] == ["invoice.paid"]


# --- billing events become deliveries --------------------------------------------------------


@pytest.fixture
def queued(monkeypatch):
    """The deliveries handed to Celery (not sent: the worker tests below send for real)."""
    sent: list[int] = []
    monkeypatch.setattr(webhooks, "_queue", sent.append)
    return sent


@pytest.mark.django_db
def test_billing_events_are_published_after_commit(
    tenant_a, queued, django_capture_on_commit_callbacks
):
    with schema_context(tenant_a.schema):
        every = webhooks.webhook_endpoint_create(url="https://a.example.com/all").endpoint
        paid_only = webhooks.webhook_endpoint_create(
            url="https://b.example.com/paid", events=["invoice.paid"]
        ).endpoint
        webhooks.webhook_endpoint_create(url="https://c.example.com/off", is_active=False)
        with django_capture_on_commit_callbacks(execute=True):
            shop = shop_build()
        types = set(
            WebhookDelivery.objects.filter(endpoint=every).values_list("event_type", flat=True)
        )
        assert {"invoice.issued", "service.activated"} <= types
        assert set(
            WebhookDelivery.objects.filter(endpoint=paid_only).values_list("event_type", flat=True)
        ) <= {"invoice.paid"}
        shop.invoice.refresh_from_db()
        with django_capture_on_commit_callbacks(execute=True):
            services.payment_record(
                invoice=shop.invoice,
                amount=shop.invoice.amount_due,
                method="bank_transfer",
                idempotency_key="pay-rest",
            )
        paid = WebhookDelivery.objects.get(endpoint=paid_only, event_type="invoice.paid")
        assert paid.payload["data"]["id"] == str(shop.invoice.public_id)
        assert paid.payload["data"]["status"] == "paid"
        assert paid.pk in queued


@pytest.mark.django_db
def test_a_failed_payment_attempt_is_one_event(
    tenant_a, queued, django_capture_on_commit_callbacks
):
    from billing.models.gateway import PaymentAttempt

    with schema_context(tenant_a.schema):
        shop = shop_build()
        endpoint = webhooks.webhook_endpoint_create(
            url="https://a.example.com/pf", events=["payment.failed"]
        ).endpoint
        with django_capture_on_commit_callbacks(execute=True):
            attempt = PaymentAttempt.objects.create(
                invoice=shop.invoice,
                client=shop.client,
                gateway="stripe",
                currency="EUR",
                amount=Decimal("7.20"),
                idempotency_key="attempt-1",
                status=PaymentAttempt.Status.FAILED,
                error_code="card_declined",
            )
        with django_capture_on_commit_callbacks(execute=True):
            attempt.save()  # saved again in the same state: still one event
        deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
        assert deliveries.count() == 1
        data = deliveries.get().payload["data"]
        assert data["error_code"] == "card_declined" and data["amount"] == "7.20"


# --- attempts, backoff, giving up ------------------------------------------------------------


@pytest.mark.django_db
def test_failures_back_off_and_end_failed(tenant_a):
    with schema_context(tenant_a.schema):
        endpoint = webhooks.webhook_endpoint_create(url="https://hooks.example.com/x").endpoint
        delivery = webhooks.webhook_event_publish(event_type="ping", data={})[0]
        failing = httpx.MockTransport(lambda request: httpx.Response(503, text="down"))
        waits = []
        for attempt in range(1, webhooks.MAX_ATTEMPTS + 1):
            before = timezone.now()
            sent = webhooks.webhook_delivery_send(delivery_id=delivery.pk, transport=failing)
            assert sent.attempts == attempt and sent.last_status_code == 503
            if sent.next_attempt_at:
                waits.append((sent.next_attempt_at - before).total_seconds())
        assert sent.state == WebhookDelivery.State.FAILED
        assert waits == sorted(waits) and waits[0] < 2 and waits[-1] > 3600
        assert webhooks.webhook_delivery_send(delivery_id=delivery.pk) is None
        # Replaying a failed delivery is a new, pending entry of the same event.
        replay = webhooks.webhook_delivery_replay(delivery=sent)
        assert replay.state == WebhookDelivery.State.PENDING
        assert replay.event_id == sent.event_id and replay.replay_of_id == sent.pk
        assert endpoint.deliveries.count() == 2


@pytest.mark.django_db
def test_a_private_address_is_refused_at_send_time(tenant_a):
    with schema_context(tenant_a.schema):
        endpoint = webhooks.webhook_endpoint_create(url="https://hooks.example.com/x").endpoint
        # As if DNS now pointed the name at an internal address.
        endpoint.url = "http://127.0.0.1:9/hook"
        endpoint.save()
        delivery = webhooks.webhook_event_publish(event_type="ping", data={})[0]
        sent = webhooks.webhook_delivery_send(delivery_id=delivery.pk)
        assert "private address" in sent.last_error and sent.last_status_code is None


# --- end to end with a real worker -----------------------------------------------------------


class Receiver:
    """A local HTTP endpoint that fails its first ``fail`` calls, then accepts."""

    def __init__(self, fail: int = 1) -> None:
        self.calls: list[tuple[int, dict, bytes]] = []
        self.fail = fail
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 500 if len(receiver.calls) < receiver.fail else 200
                receiver.calls.append((status, dict(self.headers), body))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"boom")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(self.calls) >= count, f"{len(self.calls)} calls, expected {count}"

    def close(self) -> None:
        self.server.shutdown()


def _wait_state(schema: str, delivery_filter: dict, state: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with schema_context(schema):
            row = WebhookDelivery.objects.filter(**delivery_filter).order_by("created_at").last()
        if row is not None and row.state == state:
            return row
        time.sleep(0.2)
    raise AssertionError(f"delivery not {state}: {row and (row.state, row.last_error)}")


@pytest.mark.worker
def test_an_invoice_event_reaches_the_endpoint_signed_after_a_retry(
    tenant_factory, celery_worker_process
):
    created = tenant_factory("Hooked Hosting")
    schema, host = created.tenant.schema_name, created.domain.domain
    receiver = Receiver(fail=1)
    try:
        with schema_context(schema):
            endpoint = webhooks.webhook_endpoint_create(
                url=receiver.url, events=["invoice.issued"], private_network_allowed=True
            )
            token = api_key_create(name="ops", scopes=sorted(SCOPES)).token
            client = services.client_create(name="Hook Client", email="hook@example.test")
            invoice = services.invoice_create(client=client)
            services.invoice_line_add(
                invoice=invoice, description="Setup", unit_price=Money(Decimal("10"), "EUR")
            )
            services.invoice_issue(invoice=invoice)  # commits: the event goes out

        receiver.wait_for(2)
        delivery = _wait_state(schema, {"event_type": "invoice.issued"}, "succeeded")
        assert delivery.attempts == 2 and delivery.last_status_code == 200
        (first_status, first_headers, _), (status, headers, body) = receiver.calls[:2]
        assert (first_status, status) == (500, 200)
        assert webhooks.webhook_signature_verify(secret=endpoint.secret, headers=headers, body=body)
        assert first_headers["webhook-id"] == headers["webhook-id"] == str(delivery.event_id)
        event = json.loads(body)
        assert event["type"] == "invoice.issued"
        assert event["data"]["id"] == str(invoice.public_id)

        # The log shows it; a replay sends the same event once more.
        api = Api(host, token)
        log = api.get(f"/api/v1/webhook-deliveries/?endpoint={endpoint.endpoint.public_id}")
        assert [row["state"] for row in log.json()["results"]] == ["succeeded"]
        replay = api.post(f"/api/v1/webhook-deliveries/{delivery.public_id}/replay/")
        assert replay.status_code == 202 and replay.json()["replay_of"] == str(delivery.public_id)
        receiver.wait_for(3)
        _wait_state(schema, {"replay_of__isnull": False}, "succeeded")
        assert receiver.calls[2][1]["webhook-id"] == str(delivery.event_id)
        assert webhooks.webhook_signature_verify(
            secret=endpoint.secret, headers=receiver.calls[2][1], body=receiver.calls[2][2]
        )
    finally:
        receiver.close()


def test_retry_delays_grow_with_jitter():
    first = [webhooks.retry_delay(1).total_seconds() for _ in range(20)]
    assert all(0.8 <= wait <= 1.2 for wait in first)
    assert webhooks.retry_delay(5) > timedelta(minutes=20)
