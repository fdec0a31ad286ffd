"""The periodic fetch in a real Celery worker: beat's entry point queues one task per
tenant whose mailboxes are due (``tenants.due_work``), each reads its own tenant's
mailboxes in its own schema, and a client's reply by e-mail lands in its ticket with the
quote cut; running it again adds nothing."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from support.mail_parse import reply_address
from support.models import InboundEmail, Mailbox, Message, Ticket
from support.services import message_add, ticket_open
from support.tasks import mailboxes_fetch_all_tenants
from tenants.due_work import Kind
from tenants.models import TenantDueWork
from tests.resale.flow import wait_for
from tests.support.mail_desk import mail_desk_build

pytestmark = pytest.mark.worker


def test_the_periodic_fetch_brings_a_reply_into_its_ticket(
    tenant_factory, imap_server, celery_worker_process
):
    created = tenant_factory("Mail Hosting")
    host = created.tenant.domains.first().domain
    desk = mail_desk_build(created.tenant.schema_name, host, imap_server)
    other = tenant_factory("Other Hosting")
    other_desk = mail_desk_build(
        other.tenant.schema_name, other.tenant.domains.first().domain, imap_server
    )
    with schema_context(desk.schema):
        ticket = ticket_open(
            department=desk.support,
            subject="DNS",
            body="My domain does not resolve.",
            client=desk.client,
        )
        message_add(ticket=ticket, body="Fixed the zone, please check.", author_kind="staff")
    connection.set_schema_to_public()
    raw = (
        "From: Mario Rossi <mario.rossi@client-mail.test>\r\n"
        f"To: {reply_address(desk.support.email, ticket.reply_token)}\r\n"
        "Subject: Re: DNS\r\nMessage-ID: <worker-1@client-mail.test>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "Grazie, ora funziona.\r\n\r\n"
        f"Il giorno dom 6 dic 2026 alle ore 10:00 Supporto <{desk.support.email}> ha scritto:"
        "\r\n> Fixed the zone, please check.\r\n"
    ).encode()
    desk.deliver(desk.support.email, raw)

    def landed() -> bool:
        with schema_context(desk.schema):
            return Message.objects.filter(ticket=ticket, source="email").exists()

    mailboxes_fetch_all_tenants.delay().get(timeout=60)
    wait_for(landed, timeout=60, what="the reply in its ticket")
    with schema_context(desk.schema):
        reply = Message.objects.get(ticket=ticket, source="email")
        assert reply.body == "Grazie, ora funziona."
        assert Ticket.objects.get(pk=ticket.pk).status == "customer_reply"
    marks = TenantDueWork.objects.filter(
        kind=Kind.MAILBOXES, tenant_id__in=[desk.schema, other_desk.schema]
    )

    def settled() -> bool:
        # Each tenant's task, once done, moves its mark to the next round.
        return marks.filter(leased_until__isnull=True, due_at__gt=timezone.now()).count() == 2

    wait_for(settled, timeout=60, what="both tenants' fetches to settle")
    # The next round, as if its time had come.
    marks.update(due_at=timezone.now())
    assert mailboxes_fetch_all_tenants.delay().get(timeout=60) >= 2
    wait_for(settled, timeout=60, what="both tenants' second fetches to settle")

    def all_checked() -> bool:
        with schema_context(desk.schema):
            first = Mailbox.objects.get(pk=desk.support_mailbox.pk)
        with schema_context(other_desk.schema):
            second = Mailbox.objects.get(pk=other_desk.support_mailbox.pk)
        return first.last_checked_at and second.last_checked_at

    wait_for(all_checked, timeout=60, what="both tenants' mailboxes read")
    with schema_context(desk.schema):
        assert Message.objects.filter(ticket=ticket, source="email").count() == 1
        assert InboundEmail.objects.count() == 1
    # The other tenant's desk saw nothing of it.
    with schema_context(other_desk.schema):
        assert not InboundEmail.objects.exists() and not Ticket.objects.exists()
