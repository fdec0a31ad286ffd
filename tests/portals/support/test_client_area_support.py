"""The client's tickets in the client area: open one on a service with a file, read,
reply, close; another client's or another tenant's ticket and file are a 404."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from billing import services as billing_services
from support import services
from support.attachments import AttachmentUpload
from support.models import Ticket
from tests.support.conftest import PNG

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk_a(shop_a, tenant_a):
    with schema_context(tenant_a.schema):
        general = services.department_save(name="Technical support", email="help@alpha.test")
        services.department_save(name="Closed", is_active=False)
    return general


def _ticket_for(world, client, department, **kwargs):
    with schema_context(world.schema):
        return services.ticket_open(
            department=department, subject="Help", body="Please", client=client, **kwargs
        )


def test_the_client_opens_a_ticket_on_its_service_with_an_attachment(tenant_a, shop_a, desk_a):
    with schema_context(tenant_a.schema):
        service = billing_services.service_create(
            client=shop_a.client, plan=shop_a.starter, cycle="monthly", status="active"
        )
    browser = tenant_a.client(tenant_a.client_user)
    page = browser.get(f"/account/support/new/?service={service.public_id}")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Technical support" in body and "Closed" not in body
    response = browser.post(
        "/account/support/new/",
        {
            "department": str(desk_a.public_id),
            "service": str(service.public_id),
            "priority": "high",
            "subject": "Mail bounces",
            "body": "Every message bounces since this morning.",
            "attachments": [SimpleUploadedFile("bounce.png", PNG, content_type="text/html")],
        },
    )
    assert response.status_code == 302
    with schema_context(tenant_a.schema):
        ticket = Ticket.objects.get(subject="Mail bounces")
        assert ticket.service == service and ticket.client == shop_a.client
        attachment = ticket.attachments.get()
        # The type is the bytes', not what the browser claimed.
        assert attachment.content_type == "image/png"
    assert response["Location"] == f"/account/support/{ticket.public_id}/"
    page = browser.get(response["Location"])
    assert "Every message bounces" in page.content.decode()
    download = browser.get(f"/account/support/attachments/{attachment.public_id}/")
    assert download.status_code == 200
    assert download["Content-Type"] == "image/png"
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content) == PNG
    listing = browser.get("/account/support/")
    assert "Mail bounces" in listing.content.decode()


def test_a_refused_file_is_a_clear_error_and_opens_nothing(tenant_a, shop_a, desk_a):
    browser = tenant_a.client(tenant_a.client_user)
    response = browser.post(
        "/account/support/new/",
        {
            "department": str(desk_a.public_id),
            "priority": "medium",
            "subject": "Program",
            "body": "Run this",
            "attachments": [SimpleUploadedFile("setup.png", b"MZ\x90\x00\x03" + b"\x00" * 50)],
        },
    )
    assert response.status_code == 200
    assert "not a file type we accept" in response.content.decode()
    with schema_context(tenant_a.schema):
        assert not Ticket.objects.filter(subject="Program").exists()


def test_reply_and_close_and_internal_notes_stay_hidden(tenant_a, shop_a, desk_a):
    ticket = _ticket_for(tenant_a, shop_a.client, desk_a)
    with schema_context(tenant_a.schema):
        services.message_add(
            ticket=ticket,
            body="Secret staff note",
            author_kind="staff",
            is_internal=True,
            author_user=tenant_a.owner,
            attachments=[AttachmentUpload("internal.txt", b"private")],
        )
        hidden = ticket.attachments.get()
    browser = tenant_a.client(tenant_a.client_user)
    url = f"/account/support/{ticket.public_id}/"
    page = browser.get(url).content.decode()
    assert "Secret staff note" not in page and "internal.txt" not in page
    assert browser.get(f"/account/support/attachments/{hidden.public_id}/").status_code == 404
    response = browser.post(url, {"body": "Any news?"})
    assert response.status_code == 302
    with schema_context(tenant_a.schema):
        ticket.refresh_from_db()
        assert ticket.status == Ticket.Status.CUSTOMER_REPLY
    assert browser.get(f"{url}close/").status_code == 405
    assert browser.post(f"{url}close/").status_code == 302
    with schema_context(tenant_a.schema):
        ticket.refresh_from_db()
        assert ticket.status == Ticket.Status.CLOSED
    # An empty reply is refused with the form's error and changes nothing.
    response = browser.post(url, {"body": "  "})
    assert response.status_code == 200
    with schema_context(tenant_a.schema):
        assert ticket.messages.count() == 3


def test_another_clients_ticket_and_file_are_a_404(tenant_a, shop_a, desk_a):
    with schema_context(tenant_a.schema):
        other = billing_services.client_create(name="Other", email="o@x.test", country="IT")
    ticket = _ticket_for(
        tenant_a, other, desk_a, attachments=[AttachmentUpload("theirs.txt", b"theirs")]
    )
    with schema_context(tenant_a.schema):
        attachment = ticket.attachments.get()
    browser = tenant_a.client(tenant_a.client_user)
    assert browser.get(f"/account/support/{ticket.public_id}/").status_code == 404
    assert browser.post(f"/account/support/{ticket.public_id}/", {"body": "x"}).status_code == 404
    assert browser.post(f"/account/support/{ticket.public_id}/close/").status_code == 404
    assert browser.get(f"/account/support/attachments/{attachment.public_id}/").status_code == 404
    assert "Help" not in browser.get("/account/support/").content.decode()


def test_another_tenants_ticket_and_file_are_a_404_on_this_host(
    tenant_a, tenant_b, shop_a, shop_b, desk_a
):
    with schema_context(tenant_b.schema):
        department_b = services.department_save(name="B support")
    ticket_b = _ticket_for(
        tenant_b,
        shop_b.client,
        department_b,
        attachments=[AttachmentUpload("b.txt", b"tenant b file")],
    )
    with schema_context(tenant_b.schema):
        attachment_b = ticket_b.attachments.get()
    # Tenant B's own client and staff reach them on B's host...
    b_client = tenant_b.client(tenant_b.client_user)
    assert (
        b_client.get(f"/account/support/attachments/{attachment_b.public_id}/").status_code == 200
    )
    # ...and nobody does on A's host, whoever is signed in there.
    for user in (tenant_a.client_user,):
        browser = tenant_a.client(user)
        assert browser.get(f"/account/support/{ticket_b.public_id}/").status_code == 404
        assert (
            browser.get(f"/account/support/attachments/{attachment_b.public_id}/").status_code
            == 404
        )
    owner = tenant_a.client(tenant_a.owner)
    assert owner.get(f"/console/support/{ticket_b.public_id}/").status_code == 404
    assert owner.get(f"/console/support/attachments/{attachment_b.public_id}/").status_code == 404


def test_a_client_without_a_department_sees_why(tenant_a, shop_a):
    page = tenant_a.client(tenant_a.client_user).get("/account/support/new/")
    assert page.status_code == 200
    assert "no department you can write to" in page.content.decode()
