"""GDPR and the support desk: a client's export holds its tickets, messages (internal
notes too) and attached files; erasure leaves the tickets' numbers and statuses but no
text, name, address or file of the client, nor of the guest tickets from its address."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.files.storage import default_storage

from billing import services as billing_services
from billing.gdpr import client_data_export, client_erase
from support import services
from support.attachments import AttachmentUpload
from support.models import Attachment, Message, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(shop, tenant_a):
    client = shop.client
    department = services.department_save(name="Help", allow_guests=True)
    ticket = services.ticket_open(
        department=department,
        subject="Mario's mailbox",
        body="My address is Via Dante 5",
        client=client,
        attachments=[AttachmentUpload("id-card.pdf", b"%PDF-1.4 mario's id")],
    )
    services.message_add(
        ticket=ticket,
        body="Mario is upset",
        author_kind="staff",
        is_internal=True,
        author_user=tenant_a.owner,
    )
    guest = services.ticket_open(
        department=department,
        subject="Before I was a client",
        body="Hello from Mario",
        client=None,
        guest_email=client.email.upper(),
        guest_name="Mario",
    )
    other_client = billing_services.client_create(name="Other", email="o@x.test", country="IT")
    other = services.ticket_open(
        department=department, subject="Not Mario", body="Other's text", client=other_client
    )
    return {"client": client, "ticket": ticket, "guest": guest, "other": other}


def test_the_export_holds_the_clients_tickets_and_files(desk):
    archive = zipfile.ZipFile(io.BytesIO(client_data_export(desk["client"])))
    data = json.loads(archive.read("client.json"))
    subjects = {row["subject"] for row in data["support_tickets"]}
    assert subjects == {"Mario's mailbox", "Before I was a client"}
    bodies = {row["body"] for row in data["support_messages"]}
    assert {"My address is Via Dante 5", "Mario is upset", "Hello from Mario"} <= bodies
    assert "Other's text" not in bodies
    assert all("reply_token" not in row for row in data["support_tickets"])
    attachment = Attachment.objects.get(ticket=desk["ticket"])
    name = f"support/{desk['ticket'].pk}/{attachment.pk}-id-card.pdf"
    assert archive.read(name) == b"%PDF-1.4 mario's id"


def test_erasure_empties_the_tickets_and_deletes_the_files(
    desk, django_capture_on_commit_callbacks
):
    stored = Attachment.objects.get(ticket=desk["ticket"]).file.name
    with django_capture_on_commit_callbacks(execute=True):
        client_erase(desk["client"])
    for key in ("ticket", "guest"):
        ticket = Ticket.objects.get(pk=desk[key].pk)
        assert ticket.subject == "[erased]" and ticket.guest_email == ""
        assert set(ticket.messages.values_list("body", flat=True)) == {"[erased]"}
        assert not ticket.messages.exclude(author_email="").exists()
    # The ticket stays, with its number and status, for the desk's statistics.
    assert Ticket.objects.get(pk=desk["ticket"].pk).status == "open"
    assert not Attachment.objects.filter(ticket=desk["ticket"]).exists()
    assert not default_storage.exists(stored)
    # Nobody else's ticket is touched.
    other = Ticket.objects.get(pk=desk["other"].pk)
    assert other.subject == "Not Mario"
    assert Message.objects.filter(ticket=other, body="Other's text").exists()
