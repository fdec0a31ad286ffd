"""The support desk's part of a client's GDPR rights (``billing.gdpr`` calls it).

Export (art. 15, 20): every ticket of the client, every message in them (internal notes
too: they are data about the client) and the files attached, under ``support/``.
Erasure (art. 17): the client's tickets keep their numbers, dates and statuses (the
desk's statistics still add up) but lose what identifies or describes the person:
subjects, message texts, names and addresses, e-mail headers and every attached file.
Tickets a guest opened from the client's own address are erased alike.
"""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q, QuerySet

from billing.gdpr import (
    ExportPart,
    client_erase_listeners,
    client_export_contributors,
    rows_of,
)
from billing.models import Client
from support.inbound import inbound_emails_forget
from support.models import Attachment, Message, Ticket

ERASED = "[erased]"


def _tickets(client: Client) -> QuerySet[Ticket]:
    query = Q(client=client)
    if client.email:
        query |= Q(client__isnull=True, guest_email__iexact=client.email)
    return Ticket.objects.filter(query)


def client_support_export(client: Client) -> ExportPart:
    tickets = _tickets(client).order_by("id")
    messages = Message.objects.filter(ticket__in=tickets).order_by("ticket_id", "created_at", "id")
    attachments = Attachment.objects.filter(ticket__in=tickets).select_related("ticket")
    files: list[tuple[str, bytes]] = []
    for attachment in attachments:
        try:
            with attachment.file.open("rb") as handle:
                content = handle.read()
        except (FileNotFoundError, OSError):
            continue
        files.append(
            (f"support/{attachment.ticket.pk}/{attachment.pk}-{attachment.filename}", content)
        )
    return ExportPart(
        data={
            "support_tickets": rows_of(tickets, exclude=("reply_token",)),
            "support_messages": rows_of(messages),
            "support_attachments": rows_of(attachments, exclude=("file",)),
        },
        files=files,
    )


def client_support_erase(client: Client) -> None:
    # The ids first: the update below clears the guest address the query matches on.
    ids = list(_tickets(client).values_list("pk", flat=True))
    tickets = Ticket.objects.filter(pk__in=ids)
    tickets.update(subject=ERASED, guest_email="", guest_name="", domain_name="")
    Message.objects.filter(ticket__in=tickets).update(
        body=ERASED, author_name="", author_email="", message_id="", in_reply_to="", references=""
    )
    attachments = Attachment.objects.filter(ticket__in=tickets)
    names = [name for name in attachments.values_list("file", flat=True) if name]
    attachments.delete()
    # The files go once the erasure is durable: a rolled-back erasure keeps them.
    transaction.on_commit(lambda: [default_storage.delete(name) for name in names])


def client_inbound_erase(client: Client) -> None:
    inbound_emails_forget(client=client)


def connect() -> None:
    if client_support_export not in client_export_contributors:
        client_export_contributors.append(client_support_export)
    if client_support_erase not in client_erase_listeners:
        client_erase_listeners.append(client_support_erase)
    # The originals of the mail it sent, read before its address is replaced.
    if client_inbound_erase not in client_erase_listeners:
        client_erase_listeners.append(client_inbound_erase)
