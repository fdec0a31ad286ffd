"""Inbound e-mail against the real Dovecot: a client's reply lands in its ticket with the
quote cut, found by the reply address's token or by the Message-IDs it answers, never by
the subject; automatic mail is never answered and a mail loop is braked; guests open
tickets only where the department takes them; bad, huge and oddly encoded mail is kept
whole and flagged; each message is processed once, whatever happens to the reader."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import override_settings
from django_tenants.utils import schema_context

from support.inbound import inbound_email_process, mailbox_fetch
from support.mail_parse import Flag, reply_address
from support.models import InboundEmail, Mailbox, Message, Ticket
from support.services import message_add, ticket_open
from tests.support.mail_desk import mail_desk_build

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(tenant_a, imap_server):
    return mail_desk_build(tenant_a.schema, tenant_a.host, imap_server)


def _mail(
    *,
    sender: str,
    to: str,
    subject: str = "Help",
    body: str = "Hello",
    message_id: str,
    headers: str = "",
    content_type: str = "text/plain; charset=utf-8",
) -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
        f"Date: Sun, 6 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: {content_type}\r\n{headers}\r\n{body}\r\n"
    ).encode()


def _fetch(desk, mailbox) -> None:
    with schema_context(desk.schema):
        result = mailbox_fetch(mailbox=Mailbox.objects.get(pk=mailbox.pk))
    assert not result.error, result.error


def _ticket_with_answer(desk) -> Ticket:
    with schema_context(desk.schema):
        ticket = ticket_open(
            department=desk.support,
            subject="Site down",
            body="My site is down.",
            client=desk.client,
        )
        message_add(ticket=ticket, body="We restarted the server.", author_kind="staff")
        return Ticket.objects.get(pk=ticket.pk)


REPLY = (
    "It works again, thank you!\r\n\r\nBest regards,\r\nMario\r\n\r\n"
    "On Sun, 6 Dec 2026 at 09:00, Support <{support}> wrote:\r\n"
    "> We restarted the server.\r\n"
)


def test_a_reply_threads_by_token_then_by_references_never_by_subject(desk):
    ticket = _ticket_with_answer(desk)
    support = desk.support.email
    desk.deliver(
        support,
        _mail(
            sender="Mario Rossi <mario.rossi@client-mail.test>",
            to=reply_address(support, ticket.reply_token),
            subject="Something else entirely",
            body=REPLY.format(support=support),
            message_id="<reply-1@client-mail.test>",
        ),
    )
    _fetch(desk, desk.support_mailbox)
    with schema_context(desk.schema):
        last = Message.objects.filter(ticket=ticket).last()
        assert last.body == "It works again, thank you!"
        assert last.author_kind == "client" and last.source == "email"
        assert last.message_id == "<reply-1@client-mail.test>"
        assert Ticket.objects.get(pk=ticket.pk).status == "customer_reply"
        assert Ticket.objects.count() == 1
    # Written to the plain address, answering the first reply: the References find it.
    desk.deliver(
        support,
        _mail(
            sender="mario.rossi@client-mail.test",
            to=support,
            subject="Site down",
            body="One more thing: the mail works too.",
            message_id="<reply-2@client-mail.test>",
            headers="In-Reply-To: <reply-1@client-mail.test>\r\n"
            "References: <unknown@elsewhere.test> <reply-1@client-mail.test>\r\n",
        ),
    )
    # The same subject with no thread headers is a new ticket.
    desk.deliver(
        support,
        _mail(
            sender="mario.rossi@client-mail.test",
            to=support,
            subject="Site down",
            body="A new problem.",
            message_id="<new-1@client-mail.test>",
        ),
    )
    _fetch(desk, desk.support_mailbox)
    with schema_context(desk.schema):
        assert Message.objects.filter(ticket=ticket).last().body == (
            "One more thing: the mail works too."
        )
        assert Ticket.objects.count() == 2
        assert Ticket.objects.exclude(pk=ticket.pk).get().client_id == desk.client.pk


def test_someone_else_using_the_token_does_not_write_into_the_ticket(desk):
    ticket = _ticket_with_answer(desk)
    desk.deliver(
        desk.support.email,
        _mail(
            sender="intruder@else.test",
            to=reply_address(desk.support.email, ticket.reply_token),
            body="Let me in.",
            message_id="<x-1@else.test>",
        ),
    )
    _fetch(desk, desk.support_mailbox)
    with schema_context(desk.schema):
        assert not Message.objects.filter(ticket=ticket, body__contains="Let me in").exists()
        record = InboundEmail.objects.get(message_id="<x-1@else.test>")
        assert record.outcome == "refused" and record.ticket is None


def test_automatic_mail_is_noted_never_answered_and_a_loop_is_braked(desk):
    ticket = _ticket_with_answer(desk)
    address = reply_address(desk.support.email, ticket.reply_token)
    desk.deliver(
        desk.support.email,
        _mail(
            sender="mario.rossi@client-mail.test",
            to=address,
            subject="Out of office",
            body="I am away until Monday.",
            message_id="<ooo-1@client-mail.test>",
            headers="Auto-Submitted: auto-replied\r\n",
        ),
    )
    desk.deliver(
        desk.support.email,
        _mail(
            sender="MAILER-DAEMON@mx.client-mail.test",
            to=desk.support.email,
            subject="Undelivered Mail Returned to Sender",
            body="--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b--",
            message_id="<dsn-1@mx.client-mail.test>",
            content_type='multipart/report; report-type=delivery-status; boundary="b"',
        ),
    )
    _fetch(desk, desk.support_mailbox)
    with schema_context(desk.schema):
        note = Message.objects.filter(ticket=ticket).last()
        assert note.is_internal and note.author_kind == "system"
        assert "I am away until Monday." in note.body
        # The ticket still waits for the client: nothing to answer, no SLA clock.
        assert Ticket.objects.get(pk=ticket.pk).status == "answered"
        bounce = InboundEmail.objects.get(message_id="<dsn-1@mx.client-mail.test>")
        assert bounce.outcome == "ignored_automatic" and bounce.ticket is None
        assert Ticket.objects.count() == 1

    # A responder that sends no such header, answering each of our mails: after the
    # limit its mail is kept and acts on nothing.
    with override_settings(SUPPORT_INBOUND_SENDER_LIMIT=3):
        for n in range(6):
            desk.deliver(
                desk.support.email,
                _mail(
                    sender="mario.rossi@client-mail.test",
                    to=address,
                    body=f"Echo {n}",
                    message_id=f"<echo-{n}@client-mail.test>",
                ),
            )
        _fetch(desk, desk.support_mailbox)
    with schema_context(desk.schema):
        outcomes = [
            InboundEmail.objects.get(message_id=f"<echo-{n}@client-mail.test>").outcome
            for n in range(6)
        ]
        # The out-of-office reply counts too: after three messages the brake is on.
        assert outcomes == ["message_added"] * 2 + ["rate_limited"] * 4


def test_guests_open_tickets_only_where_the_department_takes_them(desk):
    for address in (desk.support.email, desk.sales.email):
        desk.deliver(
            address,
            _mail(
                sender="Anna Bianchi <anna@prospect.test>",
                to=address,
                subject="Do you host WordPress?",
                body="Hi, do you host WordPress?\r\n\r\n-- \r\nAnna",
                message_id=f"<guest-{address}>",
            ),
        )
    _fetch(desk, desk.support_mailbox)
    _fetch(desk, desk.sales_mailbox)
    with schema_context(desk.schema):
        ticket = Ticket.objects.get()
        assert ticket.department_id == desk.sales.pk
        assert (ticket.guest_email, ticket.guest_name) == ("anna@prospect.test", "Anna Bianchi")
        assert ticket.messages.get().body == "Hi, do you host WordPress?"
        refused = InboundEmail.objects.get(mailbox=desk.support_mailbox)
        assert refused.outcome == "refused" and "guests" in refused.reason
        assert b"do you host WordPress" in bytes(refused.raw)


def test_bad_huge_and_oddly_encoded_mail_is_kept_and_flagged(desk):
    sender, to = "mario.rossi@client-mail.test", desk.support.email
    broken = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: cut off\r\nMessage-ID: <broken@c.test>\r\n"
        'Content-Type: multipart/mixed; boundary="zz"\r\n\r\n--zz\r\n'
        "Content-Type: text/plain\r\n\r\nThe attachment never came"
    ).encode()
    klingon = _mail(
        sender=sender,
        to=to,
        subject="charset",
        body="caf\u00e9 is closed",
        message_id="<charset@c.test>",
        content_type="text/plain; charset=x-klingon",
    )
    huge = _mail(
        sender=sender,
        to=to,
        subject="logs",
        body="x" * 4000,
        message_id="<huge@c.test>",
    )
    for raw in (broken, klingon, huge):
        desk.deliver(to, raw)
    with override_settings(SUPPORT_INBOUND_MAX_BYTES=2000):
        _fetch(desk, desk.support_mailbox)
    with schema_context(desk.schema):
        records = {r.message_id: r for r in InboundEmail.objects.all()}
        assert bytes(records["<broken@c.test>"].raw) == broken
        assert Flag.MALFORMED in records["<broken@c.test>"].flags
        assert Flag.CHARSET in records["<charset@c.test>"].flags
        assert Flag.OVERSIZE in records["<huge@c.test>"].flags
        assert bytes(records["<huge@c.test>"].raw) == huge
        assert all(r.outcome == "ticket_opened" for r in records.values())
        bodies = {r.message_id: r.ticket.messages.get().body for r in records.values()}
        assert "The attachment never came" in bodies["<broken@c.test>"]
        assert "café is closed" in bodies["<charset@c.test>"]
        assert "too large" in bodies["<huge@c.test>"]


def test_each_message_is_processed_once(desk):
    sender, to = "mario.rossi@client-mail.test", desk.support.email
    desk.deliver(to, _mail(sender=sender, to=to, body="First", message_id="<once-1@c.test>"))
    desk.deliver(to, _mail(sender=sender, to=to, body="Second", message_id="<once-2@c.test>"))
    with schema_context(desk.schema):
        mailbox = Mailbox.objects.get(pk=desk.support_mailbox.pk)
        # A reader dies after acting on the first message, before its commit.
        with pytest.raises(RuntimeError), transaction.atomic():
            inbound_email_process(
                mailbox=mailbox,
                uidvalidity=1,
                uid=1,
                raw=_mail(sender=sender, to=to, body="First", message_id="<once-1@c.test>"),
            )
            raise RuntimeError("worker killed")
        assert not InboundEmail.objects.exists() and not Ticket.objects.exists()
    _fetch(desk, desk.support_mailbox)
    _fetch(desk, desk.support_mailbox)
    with schema_context(desk.schema):
        assert Ticket.objects.count() == 2
        assert InboundEmail.objects.count() == 2
        # The mail store is rebuilt: a new UIDVALIDITY, every UID again from 1. The
        # messages are read again and recognised by their Message-ID.
        # What was read so far was read under the old one.
        InboundEmail.objects.update(uidvalidity=12345)
        Mailbox.objects.filter(pk=mailbox.pk).update(uidvalidity=12345, last_uid=99)
    _fetch(desk, desk.support_mailbox)
    with schema_context(desk.schema):
        assert Ticket.objects.count() == 2
        assert sorted(InboundEmail.objects.values_list("outcome", flat=True)) == [
            "duplicate",
            "duplicate",
            "ticket_opened",
            "ticket_opened",
        ]
        # Processing a recorded message again returns it and does nothing.
        record = InboundEmail.objects.filter(outcome="ticket_opened").first()
        again = inbound_email_process(
            mailbox=mailbox, uidvalidity=record.uidvalidity, uid=record.uid, raw=b"whatever"
        )
        assert again.pk == record.pk and Ticket.objects.count() == 2


def test_an_unreachable_mailbox_is_reported_and_read_later(desk):
    with schema_context(desk.schema):
        Mailbox.objects.filter(pk=desk.support_mailbox.pk).update(port=1)
        result = mailbox_fetch(mailbox=Mailbox.objects.get(pk=desk.support_mailbox.pk))
        assert result.error
        assert Mailbox.objects.get(pk=desk.support_mailbox.pk).last_error


def test_the_client_s_erasure_empties_the_originals_but_keeps_them_read(desk):
    from billing.gdpr import client_erase

    sender, to = "mario.rossi@client-mail.test", desk.support.email
    desk.deliver(to, _mail(sender=sender, to=to, body="Private", message_id="<gdpr@c.test>"))
    _fetch(desk, desk.support_mailbox)
    with schema_context(desk.schema):
        client_erase(desk.client)
        record = InboundEmail.objects.get()
        assert (bytes(record.raw), record.sender, record.subject) == (b"", "", "")
    _fetch(desk, desk.support_mailbox)
    with schema_context(desk.schema):
        assert InboundEmail.objects.count() == 1 and Ticket.objects.count() == 1
