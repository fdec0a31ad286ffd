from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEntry
from billing import services as billing_services
from support import selectors, services
from support.attachments import AttachmentUpload, content_type_sniff
from support.errors import SupportError
from support.models import Department, Message, Ticket
from tests.support.conftest import PDF, PNG, service_for

pytestmark = pytest.mark.django_db


def _open(desk, **kwargs):
    values = {
        "department": desk.general,
        "subject": "Site down",
        "body": "My site answers 500.",
        "client": desk.client,
    }
    values.update(kwargs)
    return services.ticket_open(**values)


def test_a_client_opens_a_ticket_with_an_attachment_and_the_sla_clock_starts(desk):
    before = timezone.now()
    ticket = _open(desk, priority="high", attachments=[AttachmentUpload("screen shot.png", PNG)])
    assert ticket.status == Ticket.Status.OPEN
    assert ticket.reply_token.isalnum() and ticket.reply_token == ticket.reply_token.lower()
    assert before + timedelta(hours=4) <= ticket.sla_due_at <= timezone.now() + timedelta(hours=4)
    message = ticket.messages.get()
    assert message.author_kind == Message.AuthorKind.CLIENT
    attachment = ticket.attachments.get()
    assert attachment.content_type == "image/png"
    assert attachment.filename == "screen_shot.png"
    # Stored under the tenant's own folder, under a name that is not the client's.
    assert default_storage.path(attachment.file.name).split("/")[-4] == "alpha"
    assert "screen" not in attachment.file.name
    with attachment.file.open("rb") as handle:
        assert handle.read() == PNG


def test_staff_answer_then_client_reply_then_close(desk, tenant_a):
    ticket = _open(desk)
    services.message_add(
        ticket=ticket, body="Fixed.", author_kind="staff", author_user=tenant_a.owner
    )
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.ANSWERED
    assert ticket.sla_due_at is None and ticket.answered_at is not None
    services.message_add(ticket=ticket, body="Thanks, again broken", author_kind="client")
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CUSTOMER_REPLY
    assert ticket.sla_due_at is not None
    services.ticket_close(ticket=ticket)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CLOSED and ticket.closed_at is not None
    # Replying to a closed ticket reopens it.
    services.message_add(ticket=ticket, body="Still broken", author_kind="client")
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CUSTOMER_REPLY and ticket.closed_at is None


def test_an_internal_note_changes_nothing_the_client_sees(desk, tenant_a):
    ticket = _open(desk)
    services.message_add(
        ticket=ticket,
        body="Check the logs",
        author_kind="staff",
        is_internal=True,
        author_user=tenant_a.owner,
    )
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN
    assert list(selectors.ticket_public_messages(ticket=ticket).values_list("body", flat=True)) == [
        "My site answers 500."
    ]
    with pytest.raises(SupportError):
        services.message_add(ticket=ticket, body="x", author_kind="client", is_internal=True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"MZ\x90\x00" + b"\x00" * 60, "not a file type"),
        (b"", "empty"),
        (b"plain\x00text", "not a file type"),
    ],
)
def test_refused_attachments_change_nothing(desk, data, message):
    before = Ticket.objects.count()
    with pytest.raises(SupportError, match=message):
        _open(desk, attachments=[AttachmentUpload("evil.png", data)])
    assert Ticket.objects.count() == before


def test_attachment_size_and_count_limits(desk, settings):
    settings.SUPPORT_ATTACHMENT_MAX_BYTES = 100
    with pytest.raises(SupportError, match="larger than"):
        _open(desk, attachments=[AttachmentUpload("big.txt", b"a" * 101)])
    settings.SUPPORT_ATTACHMENTS_PER_MESSAGE = 2
    with pytest.raises(SupportError, match="At most 2"):
        _open(desk, attachments=[AttachmentUpload(f"{i}.txt", b"hi") for i in range(3)])


def test_content_types_come_from_the_bytes():
    assert content_type_sniff(PDF) == "application/pdf"
    assert content_type_sniff(PNG) == "image/png"
    assert content_type_sniff(b"\xff\xd8\xff\xe0JFIF") == "image/jpeg"
    assert content_type_sniff(b"GIF89a...") == "image/gif"
    assert content_type_sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert content_type_sniff(b"PK\x03\x04rest") == "application/zip"
    assert content_type_sniff("Ciao, è rotto".encode()) == "text/plain"
    assert content_type_sniff(b"<html>\x01") is None
    assert content_type_sniff(b"\xc3\x28") is None


def test_department_rules_for_clients_and_guests(desk):
    restricted = services.department_save(
        name="VIP", client_access=Department.ClientAccess.SELECTED
    )
    with pytest.raises(SupportError, match="cannot open"):
        _open(desk, department=restricted)
    services.department_save(
        department=restricted,
        name="VIP",
        client_access=Department.ClientAccess.SELECTED,
        allowed_clients=[desk.client],
    )
    assert _open(desk, department=restricted).department == restricted
    # Guests: only where the department allows them.
    with pytest.raises(SupportError, match="only its clients"):
        _open(desk, client=None, guest_email="someone@else.test")
    guest = _open(desk, department=desk.sales, client=None, guest_email="someone@else.test")
    assert guest.messages.get().author_kind == Message.AuthorKind.GUEST
    assert guest.requester_email == "someone@else.test"


def test_a_ticket_on_a_service_and_a_service_of_another_client(desk):
    service = service_for(desk.client, desk.shop.starter, domain="rossi.example")
    ticket = _open(desk, service=service)
    assert ticket.service == service and ticket.domain_name == "rossi.example"
    other = billing_services.client_create(name="Other", email="o@example.test", country="IT")
    with pytest.raises(SupportError, match="not the client"):
        _open(desk, client=other, service=service)


def test_a_department_for_clients_with_an_active_service(desk):
    hosting = services.department_save(
        name="Hosting", client_access=Department.ClientAccess.WITH_SERVICE
    )
    with pytest.raises(SupportError, match="cannot open"):
        _open(desk, department=hosting)
    service_for(desk.client, desk.shop.starter)
    assert _open(desk, department=hosting).department == hosting


def test_bad_input_is_refused(desk):
    with pytest.raises(SupportError, match="Subject cannot be empty"):
        _open(desk, subject="  ")
    with pytest.raises(SupportError, match="priority"):
        _open(desk, priority="whenever")
    ticket = _open(desk)
    with pytest.raises(SupportError, match="status"):
        services.ticket_status_set(ticket=ticket, status="gone")


def test_assign_is_audited_and_only_staff_are_assignees(desk, tenant_a):
    ticket = _open(desk)
    services.ticket_assign(ticket=ticket, assignee=tenant_a.owner)
    entry = AuditEntry.objects.filter(action="support.ticket.assign").latest("id")
    assert entry.object_id == str(ticket.public_id)
    assert entry.after == {"assignee": tenant_a.owner.email}
    with pytest.raises(SupportError, match="staff only"):
        services.ticket_assign(ticket=ticket, assignee=tenant_a.client_user)
    assert User.objects.get(pk=tenant_a.owner.pk) == Ticket.objects.get(pk=ticket.pk).assignee


def test_merge_moves_messages_and_is_audited(desk):
    first = _open(desk, subject="Mail down")
    second = _open(desk, subject="Mail still down", attachments=[AttachmentUpload("a.pdf", PDF)])
    target = services.ticket_merge(source=second, target=first)
    assert target.messages.count() == 2 and target.attachments.count() == 1
    second.refresh_from_db()
    assert second.merged_into == first and second.status == Ticket.Status.CLOSED
    assert AuditEntry.objects.filter(
        action="support.ticket.merge", object_id=str(first.public_id)
    ).exists()
    with pytest.raises(SupportError, match="merged"):
        services.message_add(ticket=second, body="hello", author_kind="client")
    other_client = billing_services.client_create(name="B", email="b@example.test", country="IT")
    foreign = _open(desk, client=other_client)
    with pytest.raises(SupportError, match="same client"):
        services.ticket_merge(source=foreign, target=first)


def test_split_moves_the_chosen_messages_to_a_new_ticket(desk):
    ticket = _open(desk, attachments=[AttachmentUpload("a.txt", b"log")])
    second = services.message_add(
        ticket=ticket,
        body="Also, billing question",
        author_kind="client",
        attachments=[AttachmentUpload("b.txt", b"invoice")],
    )
    new = services.ticket_split(ticket=ticket, messages=[second], subject="Billing question")
    assert list(new.messages.values_list("body", flat=True)) == ["Also, billing question"]
    assert list(new.attachments.values_list("filename", flat=True)) == ["b.txt"]
    assert ticket.messages.count() == 1 and ticket.attachments.count() == 1
    assert new.client == ticket.client and new.department == ticket.department
    assert AuditEntry.objects.filter(action="support.ticket.split").exists()
    first_message = ticket.messages.get()
    with pytest.raises(SupportError, match="must stay"):
        services.ticket_split(ticket=ticket, messages=[first_message], subject="x")


def test_auto_close_closes_quiet_answered_tickets_only(desk, tenant_a):
    quiet = _open(desk, department=desk.sales)
    services.message_add(
        ticket=quiet, body="Answer", author_kind="staff", author_user=tenant_a.owner
    )
    fresh = _open(desk, department=desk.sales, subject="Fresh")
    services.message_add(
        ticket=fresh, body="Answer", author_kind="staff", author_user=tenant_a.owner
    )
    never = _open(desk, subject="General")
    services.message_add(
        ticket=never, body="Answer", author_kind="staff", author_user=tenant_a.owner
    )
    Ticket.objects.filter(pk__in=[quiet.pk, never.pk]).update(
        answered_at=timezone.now() - timedelta(days=4)
    )
    assert services.tickets_auto_close() == 1
    statuses = dict(Ticket.objects.values_list("pk", "status"))
    assert statuses[quiet.pk] == "closed"
    assert statuses[fresh.pk] == "answered"
    assert statuses[never.pk] == "answered"  # its department never closes by itself


def test_sla_overdue_is_marked_once(desk):
    late = _open(desk, priority="high")
    _open(desk, priority="low")  # no clock for low
    Ticket.objects.filter(pk=late.pk).update(sla_due_at=timezone.now() - timedelta(minutes=1))
    assert services.tickets_sla_overdue_mark() == [late.pk]
    assert services.tickets_sla_overdue_mark() == []
    late.refresh_from_db()
    assert selectors.ticket_is_overdue(late)


def test_priority_change_restarts_the_clock(desk):
    ticket = _open(desk, priority="medium")
    services.ticket_priority_set(ticket=ticket, priority="high")
    ticket.refresh_from_db()
    assert ticket.sla_due_at <= ticket.created_at + timedelta(hours=4, seconds=5)
    services.ticket_priority_set(ticket=ticket, priority="low")
    ticket.refresh_from_db()
    assert ticket.sla_due_at is None


def test_queues_follow_department_staff(desk, tenant_a):
    ticket = _open(desk)
    readonly = tenant_a.readonly
    assert list(selectors.staff_ticket_list(user=readonly)) == [ticket]
    services.department_save(
        department=desk.general, name="Technical support", staff=[tenant_a.owner]
    )
    assert list(selectors.staff_ticket_list(user=readonly)) == []
    assert selectors.staff_ticket_get(user=readonly, public_id=ticket.public_id) is None
    assert list(selectors.staff_ticket_list(user=tenant_a.owner)) == [ticket]
    assert list(selectors.staff_ticket_list(user=tenant_a.owner, query="answers 500")) == [ticket]
    assert list(selectors.staff_ticket_list(user=tenant_a.owner, query="nothing")) == []
