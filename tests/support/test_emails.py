"""The desk's e-mails: the client hears that its ticket arrived and that staff answered,
in its language and under the tenant's brand, with the ticket's reply address; staff
hear of waiting and overdue tickets in their own language. None goes out twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from support import emails, services
from support.events import ticket_event_listeners
from support.mail_parse import reply_token
from support.models import Ticket

pytestmark = pytest.mark.django_db


def _open(desk, **kwargs):
    values = {"department": desk.general, "subject": "Sito giù", "body": "Errore 500"}
    values.update(kwargs)
    values.setdefault("client", desk.client)
    return services.ticket_open(**values)


def test_the_client_hears_in_its_language_with_the_reply_address(desk, mailoutbox, tenant_a):
    desk.client.language = "it"
    desk.client.save()
    ticket = _open(desk)
    assert emails.ticket_email_send(emails.CLIENT_RECEIVED, ticket.pk, ticket.messages.get().pk)
    mail = mailoutbox[-1]
    assert mail.to == ["mario@example.test"]
    assert mail.subject == f"[#{ticket.number}] Abbiamo ricevuto la tua richiesta: Sito giù"
    assert "Gentile Mario Rossi" in mail.body
    assert mail.from_email == '"Alfa Servizi Internet S.r.l." <billing@alpha.test>'
    assert mail.reply_to == [f"support+{ticket.reply_token}@alpha.test"]
    # The reply address is one the inbound reader finds the ticket by.
    assert reply_token(mail.reply_to, "support@alpha.test") == ticket.reply_token
    assert mail.extra_headers["Auto-Submitted"] == "auto-replied"
    assert f"/account/support/{ticket.public_id}/" in mail.body
    html = mail.alternatives[0][0]
    assert "Alfa Servizi Internet S.r.l." in html and "Errore 500" not in html


def test_a_staff_answer_goes_to_the_client_and_threads(desk, mailoutbox, tenant_a):
    ticket = _open(desk)
    first = ticket.messages.get()
    first.message_id = "<original@client.test>"
    first.save()
    answer = services.message_add(
        ticket=ticket,
        body="Riavviato: ora funziona.",
        author_kind="staff",
        author_user=tenant_a.owner,
    )
    assert emails.ticket_email_send(emails.CLIENT_ANSWERED, ticket.pk, answer.pk)
    mail = mailoutbox[-1]
    assert mail.subject == f"[#{ticket.number}] Sito giù"
    assert mail.body.startswith("Riavviato: ora funziona.")
    assert mail.extra_headers["In-Reply-To"] == "<original@client.test>"
    assert "Auto-Submitted" not in mail.extra_headers
    answer.refresh_from_db()
    assert answer.message_id == mail.extra_headers["Message-ID"]
    # The same e-mail again: nothing is sent twice.
    assert not emails.ticket_email_send(emails.CLIENT_ANSWERED, ticket.pk, answer.pk)
    assert len([m for m in mailoutbox if m.subject.startswith(f"[#{ticket.number}] Sito")]) == 1


def test_an_internal_note_mails_nobody(desk, tenant_a, django_capture_on_commit_callbacks):
    ticket = _open(desk)
    queued = []
    ticket_event_listeners.append(queued.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.message_add(
                ticket=ticket,
                body="Secret",
                author_kind="staff",
                is_internal=True,
                author_user=tenant_a.owner,
            )
    finally:
        ticket_event_listeners.remove(queued.append)
    assert [event.kind for event in queued] == ["ticket.note_added"]
    # And the listener of the e-mails queues nothing for it.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        emails.on_ticket_event(queued[0])
    assert callbacks == []


def test_staff_hear_in_their_own_language(desk, mailoutbox, tenant_a):
    agent = User.objects.create_user(
        "agent@alpha.test",
        "x" * 12,
        kind=User.Kind.STAFF,
        role=User.Role.SUPPORT,
        language="ru",
    )
    services.department_save(department=desk.general, name="Technical support", staff=[agent])
    ticket = _open(desk)
    assert emails.ticket_email_send(emails.STAFF_WAITING, ticket.pk, ticket.messages.get().pk)
    mail = mailoutbox[-1]
    assert mail.to == ["agent@alpha.test"]
    assert mail.subject == f"[#{ticket.number}] Ждёт ответа: Sito giù"
    assert f"/console/support/{ticket.public_id}/" in mail.body
    assert mail.extra_headers["Auto-Submitted"] == "auto-generated"


def test_nobody_named_means_those_who_answer(desk, tenant_a):
    ticket = _open(desk)
    people = {u.email for u in emails.staff_recipients(ticket)}
    assert tenant_a.owner.email in people and tenant_a.readonly.email not in people
    services.ticket_assign(ticket=ticket, assignee=tenant_a.owner)
    ticket.refresh_from_db()
    assert [u.email for u in emails.staff_recipients(ticket)] == [tenant_a.owner.email]


def test_overdue_is_told_once_per_deadline(desk, mailoutbox, tenant_a):
    ticket = _open(desk, priority="high")
    Ticket.objects.filter(pk=ticket.pk).update(sla_due_at=timezone.now() - timedelta(minutes=5))
    assert emails.ticket_email_send(emails.STAFF_OVERDUE, ticket.pk)
    assert not emails.ticket_email_send(emails.STAFF_OVERDUE, ticket.pk)
    assert "overdue" in mailoutbox[-1].subject.lower()
    Ticket.objects.filter(pk=ticket.pk).update(sla_due_at=timezone.now() - timedelta(minutes=1))
    assert emails.ticket_email_send(emails.STAFF_OVERDUE, ticket.pk)


def test_a_guest_is_answered_at_its_address(desk, mailoutbox):
    ticket = _open(desk, department=desk.sales, client=None, guest_email="guest@else.test")
    assert emails.ticket_email_send(emails.CLIENT_RECEIVED, ticket.pk, ticket.messages.get().pk)
    assert mailoutbox[-1].to == ["guest@else.test"]
    assert mailoutbox[-1].reply_to == [f"sales+{ticket.reply_token}@alpha.test"]
