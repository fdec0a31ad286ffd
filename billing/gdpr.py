"""The client's rights under the GDPR: a copy of its data (art. 15 and 20) and erasure
(art. 17).

Erasure anonymises rather than deletes: issued invoices and credit notes, the ledger and
payments must be kept for the legal retention period, and they keep the buyer exactly as
it was frozen at issue. What goes is what identifies the person in the live records: the
client's name and contact details, its contacts, and the logins acting for it."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core import serializers
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from billing.models import (
    Client,
    Contact,
    CreditNote,
    Invoice,
    LedgerEntry,
    Order,
    Payment,
    Refund,
    Service,
)

# Fields that identify the person; everything else (country, kind, language, tax status)
# stays so that tax reports and statistics still add up.
CLIENT_PERSONAL_FIELDS = (
    "name",
    "company_name",
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "postal_code",
    "city",
    "region",
    "vat_number",
    "tax_id",
    "sdi_code",
    "pec_email",
    "notes",
)


@dataclass(frozen=True)
class ExportPart:
    """What another app holds about a client, for its export: sections of
    ``client.json`` and files (path in the zip, bytes)."""

    data: dict[str, Any]
    files: list[tuple[str, bytes]] = field(default_factory=list)


# Apps above billing add what they hold about a client (the support desk's tickets) from
# their AppConfig.ready: exporters give an ExportPart; erasers run inside the erasure's
# transaction, before the client's details are cleared (they may still read them).
client_export_contributors: list[Callable[[Client], ExportPart]] = []
client_erase_listeners: list[Callable[[Client], None]] = []


def rows_of(queryset: Any, *, exclude: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Rows as the export writes them (also for the exporters of other apps)."""
    return _rows(queryset, exclude=exclude)


def _rows(queryset: Any, *, exclude: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    rows = []
    for item in serializers.serialize("python", queryset):
        fields = {k: v for k, v in item["fields"].items() if k not in exclude}
        rows.append({"id": item["pk"], **fields})
    return rows


def _client_data(client: Client) -> dict[str, Any]:
    users = User.objects.filter(client_link__client=client)
    invoices = Invoice.objects.filter(client=client).prefetch_related("lines")
    return {
        "exported_at": timezone.now(),
        "client": _rows(Client.objects.filter(pk=client.pk))[0],
        "contacts": _rows(Contact.objects.filter(client=client)),
        # Credentials are not personal data the client gave us; they never leave.
        "users": _rows(
            users, exclude=("password", "groups", "user_permissions", "is_superuser", "is_staff")
        ),
        "services": _rows(Service.objects.filter(client=client)),
        "orders": _rows(Order.objects.filter(client=client)),
        "invoices": [
            {**row, "lines": _rows(invoice.lines.all())}
            for invoice, row in zip(invoices, _rows(invoices), strict=True)
        ],
        "credit_notes": _rows(CreditNote.objects.filter(client=client)),
        "payments": _rows(Payment.objects.filter(client=client)),
        "refunds": _rows(Refund.objects.filter(payment__client=client)),
        "ledger": _rows(LedgerEntry.objects.filter(client=client)),
    }


def _pdf_bytes(invoice: Invoice) -> bytes | None:
    # The stored file is the document the client received; a missing one is not
    # rendered here, so an export never waits for (or queues) WeasyPrint.
    if not invoice.pdf_file:
        return None
    try:
        with invoice.pdf_file.open("rb") as handle:
            return handle.read()
    except (FileNotFoundError, OSError):
        return None


def client_data_export(client: Client) -> bytes:
    """A zip with ``client.json`` (the client, contacts, logins, services, orders,
    invoices, credit notes, payments, refunds and ledger) and ``invoices/<number>.pdf`` for
    each issued invoice whose PDF is stored."""
    data = _client_data(client)
    parts = [contribute(client) for contribute in list(client_export_contributors)]
    for part in parts:
        data.update(part.data)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "client.json", json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
        )
        for invoice in Invoice.objects.filter(client=client).exclude(number=""):
            pdf = _pdf_bytes(invoice)
            if pdf is not None:
                safe = invoice.number.replace("/", "-")
                archive.writestr(f"invoices/{safe}.pdf", pdf)
        for part in parts:
            for path, content in part.files:
                archive.writestr(path, content)
    _audit("client.exported", client)
    return buffer.getvalue()


def _placeholder_email(tag: str) -> str:
    # .invalid never resolves (RFC 2606): nothing can be sent to an erased client.
    return f"erased-{tag}@erased.invalid"


@transaction.atomic
def client_erase(client: Client) -> Client:
    """Anonymises the client, its contacts and its logins (which are deactivated and
    lose their password). Issued invoices, credit notes, payments and the ledger are left
    as they are; their frozen buyer snapshot is kept for the retention period."""

    client = Client.objects.select_for_update().get(pk=client.pk)
    for erase in list(client_erase_listeners):
        erase(client)
    tag = uuid.uuid4().hex[:12]
    for name in CLIENT_PERSONAL_FIELDS:
        setattr(client, name, "")
    client.name = f"Erased client {tag}"
    client.email = _placeholder_email(tag)
    client.status = Client.Status.CLOSED
    client.save()
    for contact in Contact.objects.filter(client=client):
        contact.name = "Erased contact"
        contact.email = _placeholder_email(f"{tag}-c{contact.pk}")
        contact.phone = ""
        contact.save()
    for user in User.objects.filter(client_link__client=client):
        user.email = _placeholder_email(f"{tag}-u{user.pk}")
        user.full_name = ""
        user.is_active = False
        user.set_unusable_password()
        user.save()
    _audit("client.erased", client)
    return client


def _audit(action: str, client: Client) -> None:
    audit_record(action=action, object_type="client", object_id=client.public_id)
