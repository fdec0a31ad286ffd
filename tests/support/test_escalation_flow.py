"""Escalation end to end, with a real worker: the reseller's staff choose what to share
and see it before it goes; the provider's desk gets a ticket naming the upstream service
and the client reference only, and no table of the public schema nor page of the
provider console holds the client's personal data; the provider's answer comes back as
an internal note the reseller forwards under its own brand; the status follows both
ways; the same over a remote upstream (the resale API of another installation)."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client as Browser
from django_tenants.utils import schema_context

from accounts.models import User
from audit.models import AuditEntry
from billing.models import Client, Service
from core.crypto import secret_encrypt
from resale.api import resale_credential_issue
from resale.escalations import escalation_reply
from resale.models import ProviderTicket, UpstreamLink
from support.escalations import escalations_sync, ticket_escalate
from support.models import Escalation, Message, Ticket
from support.services import department_save, message_add, ticket_open
from tests.resale.flow import order_and_pay, resale_world_build, service_status, wait_for
from tests.resale.test_privacy import _public_text_columns
from tests.resale.test_remote_upstream import provider_installation  # noqa: F401

pytestmark = pytest.mark.worker

PERSONAL = {
    "name": "Ottavio Zanzibar",
    "email": "ottavio.zanzibar@private-mail.test",
    "phone": "+39 333 7651234",
    "address_line1": "Via Nascosta 17",
    "company_name": "Zanzibar Vetri S.r.l.",
    "vat_number": "IT11223344556",
}
NEEDLES = [v.lower() for v in PERSONAL.values()] + ["ottavio", "zanzibar"]


def _client_ticket(world, service: Service) -> Ticket:
    with schema_context(world.schema):
        Client.objects.filter(pk=world.client.pk).update(**PERSONAL)
        client = Client.objects.get(pk=world.client.pk)
        department = department_save(name="Technical", email="help@escalating.test")
        ticket = ticket_open(
            department=department,
            subject="Zanzibar shop is down",
            body=(
                "Hello, this is Ottavio Zanzibar of Zanzibar Vetri S.r.l. (VAT IT11223344556)."
                "\nThe site answers 502 since this morning. Call me on +39 333 7651234 or "
                "write to ottavio.zanzibar@private-mail.test.\n\nOttavio"
            ),
            client=client,
            service=Service.objects.get(pk=service.pk),
        )
        message_add(
            ticket=ticket,
            body="Ottavio is a long-standing client; he lives at Via Nascosta 17.",
            author_kind="staff",
            is_internal=True,
        )
        return ticket


def _leaks() -> list[tuple[str, str, str]]:
    connection.set_schema_to_public()
    found = []
    with connection.cursor() as cursor:
        for table, column in _public_text_columns():
            cursor.execute(
                f'SELECT "{column}"::text FROM public."{table}" WHERE "{column}" IS NOT NULL'
            )
            for (value,) in cursor.fetchall():
                found += [(table, column, n) for n in NEEDLES if n in value.lower()]
    return found


def _console(world, host: str) -> Browser:
    browser = Browser(HTTP_HOST=host)
    with schema_context(world.schema):
        browser.force_login(User.objects.filter(role=User.Role.OWNER).first())
    connection.set_schema_to_public()
    return browser


def _provider() -> Browser:
    browser = Browser(HTTP_HOST=settings.PLATFORM_DOMAIN)
    browser.force_login(User.objects.get(email="admin@platform.test"))
    return browser


def _notes(world, ticket: Ticket) -> list[str]:
    with schema_context(world.schema):
        return list(
            Message.objects.filter(ticket=ticket, is_internal=True, author_kind="system")
            .order_by("id")
            .values_list("body", flat=True)
        )


def test_an_escalation_reaches_the_provider_without_the_client_and_comes_back(
    tenant_factory, celery_worker_process
):
    created = tenant_factory("Escalating Hosting")
    host = created.tenant.domains.first().domain
    world = resale_world_build(created, top_up="10.00")
    service = order_and_pay(world, key="esc-order", domain="esc-shop.example")
    wait_for(lambda: service_status(world, service) == "active", what="activation")
    ticket = _client_ticket(world, service)
    console = _console(world, host)
    base = f"/console/support/{ticket.public_id}/"
    with schema_context(world.schema):
        client_message = ticket.messages.get(is_internal=False)
    connection.set_schema_to_public()

    page = console.get(f"{base}escalate/")
    assert page.status_code == 200
    choice = {"subject": "Shop of Ottavio Zanzibar is down", "messages": [client_message.pk]}
    nothing = console.post(f"{base}escalate/", {**choice, "messages": [], "action": "preview"})
    assert nothing.status_code == 400
    preview = console.post(f"{base}escalate/", {**choice, "action": "preview"})
    assert preview.status_code == 200
    shown = " ".join(re.findall(r'data-preview="[a-z]+">([^<]*)<', preview.content.decode()))
    assert "The site answers 502 since this morning." in shown
    assert not [n for n in NEEDLES if n in shown.lower()], shown
    assert "long-standing" not in shown  # the note nobody chose
    sent = console.post(f"{base}escalate/", {**choice, "action": "send"})
    assert sent.status_code == 302
    assert console.post(f"{base}escalate/", {**choice, "action": "send"}).status_code == 302

    def at_provider() -> ProviderTicket | None:
        connection.set_schema_to_public()
        return ProviderTicket.objects.filter(account=world.account).first()

    provider_ticket = wait_for(at_provider, what="the provider's ticket")
    assert ProviderTicket.objects.filter(account=world.account).count() == 1
    assert provider_ticket.upstream_service.public_id == service_upstream(world, service)
    texts = [m.body for m in provider_ticket.messages.all()]
    assert len(texts) == 1 and "[client]" in texts[0]
    assert "The site answers 502 since this morning." in texts[0]
    assert " ".join(texts) in shown  # exactly what the reseller saw
    assert _leaks() == []
    provider = _provider()
    for page_url in ("/provider/desk/", f"/provider/desk/{provider_ticket.public_id}/"):
        body = provider.get(page_url).content.decode().lower()
        assert not [n for n in NEEDLES if n in body], page_url
        assert provider_ticket.client_ref.lower() in body

    # The provider answers; the reseller's ticket gets it as an internal note at once.
    answer = "We replaced a failed disk on the node; the site is back."
    provider.post(f"/provider/desk/{provider_ticket.public_id}/reply/", {"body": answer})
    wait_for(lambda: answer in _notes(world, ticket), what="the answer in the ticket")
    with schema_context(world.schema):
        escalation = Escalation.objects.get(ticket=ticket)
        assert escalation.status == "answered"
        note = Message.objects.get(ticket=ticket, body=answer)
        assert note.is_internal
        assert ticket.messages.filter(body=answer).count() == 1
    connection.set_schema_to_public()
    page = console.get(base).content.decode()
    assert f"escalation/forward/{note.public_id}/" in page
    forward = f"{base}escalation/forward/{note.public_id}/"
    assert console.get(forward).status_code == 200
    console.post(forward, {"body": "Good news: the site is back. Thank you for waiting!"})
    with schema_context(world.schema):
        reply = Message.objects.filter(ticket=ticket).last()
        assert (reply.author_kind, reply.is_internal) == ("staff", False)
        assert Ticket.objects.get(pk=ticket.pk).status == "answered"
    connection.set_schema_to_public()

    # Status both ways: the provider closes, the reseller sees it; the reseller reopens.
    provider.post(f"/provider/desk/{provider_ticket.public_id}/status/", {"status": "closed"})

    def escalation_status() -> str:
        with schema_context(world.schema):
            return Escalation.objects.get(ticket=ticket).status

    wait_for(lambda: escalation_status() == "closed", what="the provider's close")
    console.post(f"{base}escalation/status/", {"status": "open"})
    wait_for(
        lambda: ProviderTicket.objects.get(pk=provider_ticket.pk).status == "open",
        what="the reseller's reopen at the provider",
    )
    console.post(f"{base}escalation/message/", {"body": "Ottavio says thanks, all fine."})
    wait_for(
        lambda: ProviderTicket.objects.get(pk=provider_ticket.pk).messages.count() == 3,
        what="the reseller's message at the provider",
    )
    assert ProviderTicket.objects.get(pk=provider_ticket.pk).messages.last().body == (
        "[client] says thanks, all fine."
    )
    assert _leaks() == []
    with schema_context(world.schema):
        assert AuditEntry.objects.filter(action="ticket.escalated").count() == 1
    connection.set_schema_to_public()
    assert AuditEntry.objects.filter(
        action="escalation.received", object_id=provider_ticket.public_id
    ).exists()


def service_upstream(world, service: Service) -> str:
    from resale.selectors import service_upstream_ref

    with schema_context(world.schema):
        return service_upstream_ref(service=Service.objects.get(pk=service.pk))


def test_the_same_over_a_remote_upstream(tenant_factory, provider_installation):  # noqa: F811
    at_provider = tenant_factory("Remote Escalations")
    world = resale_world_build(at_provider, top_up="10.00")
    _, token = resale_credential_issue(account=world.account, name="escalations")
    service = order_and_pay(world, key="remote-esc-order", domain="remote-esc.example")
    wait_for(lambda: service_status(world, service) == "active", what="activation")
    with schema_context(world.schema):
        UpstreamLink.objects.create(
            kind=UpstreamLink.Kind.REMOTE,
            base_url=provider_installation,
            token_encrypted=secret_encrypt(token),
        )
    ticket = _client_ticket(world, service)
    with schema_context(world.schema):
        chosen = [ticket.messages.get(is_internal=False).pk]
        ticket_escalate(ticket=ticket, message_ids=chosen)

    def pushed() -> ProviderTicket | None:
        with schema_context(world.schema):
            escalations_sync()
        connection.set_schema_to_public()
        return ProviderTicket.objects.filter(account=world.account).first()

    provider_ticket = wait_for(pushed, timeout=90, interval=0.5, what="the remote ticket")
    with schema_context(world.schema):
        escalation = Escalation.objects.get(ticket=ticket)
        assert escalation.upstream_ref == provider_ticket.public_id
    assert _leaks() == []
    connection.set_schema_to_public()
    escalation_reply(ticket=provider_ticket, body="Remote answer: fixed.", author_label="Nora")

    def answered() -> bool:
        with schema_context(world.schema):
            escalations_sync()
        return "Remote answer: fixed." in _notes(world, ticket)

    wait_for(answered, timeout=90, interval=0.5, what="the remote answer in the ticket")
    with schema_context(world.schema):
        assert Message.objects.filter(ticket=ticket, body="Remote answer: fixed.").count() == 1
        assert Escalation.objects.get(ticket=ticket).status == "answered"
