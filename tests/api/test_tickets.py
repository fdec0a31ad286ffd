"""The support desk in the API: tickets, messages and departments under the tickets
scopes, the ticket webhooks, and refusals as problem documents."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from accounts.models import WebhookDelivery
from api.hooks import on_ticket_event
from api.webhooks import webhook_endpoint_create
from support import services as support_services
from support.events import TicketEvent
from support.models import Department, Ticket
from tests.api.conftest import Api, make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(shop, tenant_a):
    with schema_context(tenant_a.schema):
        return Department.objects.get(name="API support")


def test_open_read_reply_and_update_a_ticket(shop, desk, tenant_a, api_a):
    response = api_a.call(
        "POST",
        "/api/v1/tickets/",
        {
            "department": str(desk.public_id),
            "client": str(shop.client.public_id),
            "service": str(shop.service.public_id),
            "subject": "Disk full",
            "body": "My disk is full",
            "priority": "urgent",
        },
    )
    assert response.status_code == 201, response.content
    ticket = response.json()
    assert ticket["status"] == "open" and ticket["priority"] == "urgent"
    assert ticket["service"] == str(shop.service.public_id)
    tid = ticket["id"]
    reply = api_a.call(
        "POST", f"/api/v1/tickets/{tid}/messages/", {"body": "Cleaned up", "author": "staff"}
    )
    assert reply.status_code == 201 and reply.json()["author_kind"] == "staff"
    note = api_a.call(
        "POST", f"/api/v1/tickets/{tid}/messages/", {"body": "Watch it", "internal": True}
    )
    assert note.json()["is_internal"] is True
    listed = api_a.call("GET", f"/api/v1/tickets/{tid}/messages/").json()
    assert [m["body"] for m in listed["results"]] == ["My disk is full", "Cleaned up", "Watch it"]
    assert api_a.call("GET", f"/api/v1/tickets/{tid}/").json()["status"] == "answered"
    patched = api_a.call(
        "PATCH",
        f"/api/v1/tickets/{tid}/",
        {"status": "closed", "assignee": tenant_a.owner.email},
    )
    assert patched.status_code == 200
    assert patched.json()["status"] == "closed"
    assert patched.json()["assignee"] == tenant_a.owner.email
    found = api_a.call("GET", "/api/v1/tickets/?status=closed&search=disk").json()
    assert [t["id"] for t in found["results"]] == [tid]
    departments = api_a.call("GET", "/api/v1/ticket-departments/").json()
    assert [d["name"] for d in departments["results"]] == ["API support"]


def test_refusals_are_problems_and_change_nothing(shop, desk, tenant_a, api_a):
    with schema_context(tenant_a.schema):
        before = Ticket.objects.count()
        ticket = Ticket.objects.get(subject="API ticket")
    bad = [
        ("POST", "/api/v1/tickets/", {"department": str(desk.public_id)}, 400),
        (
            "POST",
            "/api/v1/tickets/",
            {
                "department": str(desk.public_id),
                "client": str(shop.client.public_id),
                "subject": "  ",
                "body": "x",
            },
            400,
        ),
        (
            "POST",
            "/api/v1/tickets/",
            {
                "department": "00000000-0000-0000-0000-000000000000",
                "client": str(shop.client.public_id),
                "subject": "s",
                "body": "x",
            },
            400,
        ),
        ("PATCH", f"/api/v1/tickets/{ticket.public_id}/", {"status": "gone"}, 400),
        (
            "PATCH",
            f"/api/v1/tickets/{ticket.public_id}/",
            {"status": "closed", "assignee": "nobody@else.test"},
            422,
        ),
        ("POST", f"/api/v1/tickets/{ticket.public_id}/messages/", {"body": 5}, 400),
        (
            "POST",
            f"/api/v1/tickets/{ticket.public_id}/messages/",
            {"body": "x", "author": "client", "internal": True},
            422,
        ),
    ]
    for method, path, body, status in bad:
        response = api_a.call(method, path, body)
        assert response.status_code == status, (method, path, body, response.content)
        assert response["Content-Type"] == "application/problem+json"
    with schema_context(tenant_a.schema):
        assert Ticket.objects.count() == before
        ticket.refresh_from_db()
        assert ticket.status == "open" and ticket.assignee is None
        assert ticket.messages.count() == 1


def test_a_key_with_only_read_cannot_write(shop, desk, tenant_a):
    reader = Api(tenant_a.host, make_key(tenant_a, ["tickets:read"]))
    assert reader.call("GET", "/api/v1/tickets/").status_code == 200
    response = reader.call(
        "POST",
        "/api/v1/tickets/",
        {"department": str(desk.public_id), "client": str(shop.client.public_id)},
    )
    assert response.status_code == 403


def test_ticket_events_become_webhooks_once(
    shop, desk, tenant_a, django_capture_on_commit_callbacks
):
    with schema_context(tenant_a.schema):
        endpoint = webhook_endpoint_create(
            url="https://hooks.example.com/support",
            events=["ticket.opened", "ticket.staff_replied"],
        ).endpoint
        with django_capture_on_commit_callbacks(execute=True):
            ticket = support_services.ticket_open(
                department=desk, subject="Hook", body="Hello", client=shop.client
            )
        with django_capture_on_commit_callbacks(execute=True):
            support_services.message_add(ticket=ticket, body="Answer", author_kind="staff")
        with django_capture_on_commit_callbacks(execute=True):
            # Not subscribed: no delivery.
            support_services.ticket_close(ticket=ticket)
        deliveries = list(
            WebhookDelivery.objects.filter(endpoint=endpoint).order_by("created_at", "id")
        )
        assert [d.event_type for d in deliveries] == ["ticket.opened", "ticket.staff_replied"]
        opened = deliveries[0].payload["data"]
        assert opened["id"] == str(ticket.public_id)
        assert opened["message"]["body"] == "Hello"
        assert deliveries[1].payload["data"]["message"]["body"] == "Answer"
        # The same event told again reaches the endpoint once.
        message = ticket.messages.get(body="Answer")
        on_ticket_event(
            TicketEvent(
                kind="ticket.staff_replied",
                tenant_schema=tenant_a.schema,
                ticket_id=ticket.pk,
                message_id=message.pk,
            )
        )
        assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 2


def test_the_schema_documents_the_support_endpoints(tenant_a):
    text = tenant_a.client().get("/api/schema/").content.decode()
    for path in ("/tickets/", "/tickets/{id}/", "/tickets/{id}/messages/", "/ticket-departments/"):
        assert path in text
