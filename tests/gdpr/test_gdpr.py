"""GDPR: a client's data export holds its records and invoice PDFs; erasure leaves no
personal data on the client, its contacts or its logins, and leaves invoices untouched."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from accounts.models import User
from audit.models import AuditEntry
from billing import services
from billing.gdpr import CLIENT_PERSONAL_FIELDS, client_data_export, client_erase
from billing.models import Client, Contact, Invoice, LedgerEntry, Payment
from tests.billing.conftest import eur, invoice_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(shop):
    client = shop.client
    Client.objects.filter(pk=client.pk).update(
        phone="+39 02 1234567",
        address_line1="Via Dante 5",
        postal_code="20121",
        vat_number="IT09876543210",
    )
    client.refresh_from_db()
    services.contact_create(client=client, name="Lucia Rossi", email="lucia@example.test")
    user = User.objects.create_user(
        "mario.login@example.test", "pw-123456789x", full_name="Mario R"
    )
    services.client_user_link(client=client, user=user)
    service = services.service_create(client=client, plan=shop.starter, cycle="monthly")
    invoice = invoice_for(client, ("Hosting", eur(100)))
    payment = services.payment_record(
        invoice=invoice,
        amount=eur(50),
        method=Payment.Method.MANUAL,
        idempotency_key=uuid.uuid4().hex,
    )
    return {
        "client": client,
        "user": user,
        "service": service,
        "invoice": invoice,
        "payment": payment,
    }


def _open(blob: bytes) -> tuple[zipfile.ZipFile, dict]:
    archive = zipfile.ZipFile(io.BytesIO(blob))
    return archive, json.loads(archive.read("client.json"))


def test_export_contains_the_clients_data(world):
    client, invoice = world["client"], world["invoice"]
    _archive, data = _open(client_data_export(client))
    assert data["client"]["email"] == "mario@example.test"
    assert data["client"]["vat_number"] == "IT09876543210"
    assert [c["email"] for c in data["contacts"]] == ["lucia@example.test"]
    assert [u["email"] for u in data["users"]] == ["mario.login@example.test"]
    assert all("password" not in u for u in data["users"])
    assert [s["public_id"] for s in data["services"]] == [str(world["service"].public_id)]
    [exported] = data["invoices"]
    assert exported["number"] == invoice.number and exported["total_amount"] == str(
        invoice.total_amount
    )
    assert [line["description"] for line in exported["lines"]] == ["Hosting"]
    assert [p["public_id"] for p in data["payments"]] == [str(world["payment"].public_id)]
    assert len(data["ledger"]) == LedgerEntry.objects.filter(client=client).count() >= 2
    assert AuditEntry.objects.filter(
        action="client.exported", object_id=str(client.public_id)
    ).exists()


def test_export_includes_stored_invoice_pdfs(world):
    invoice = world["invoice"]
    name = default_storage.save(
        f"invoices/test-{uuid.uuid4().hex}.pdf", ContentFile(b"%PDF-1.7 test")
    )
    Invoice.objects.filter(pk=invoice.pk).update(pdf_file=name)
    try:
        archive, _ = _open(client_data_export(world["client"]))
        assert archive.read(f"invoices/{invoice.number.replace('/', '-')}.pdf") == b"%PDF-1.7 test"
    finally:
        default_storage.delete(name)


def test_a_missing_pdf_file_does_not_break_the_export(world):
    Invoice.objects.filter(pk=world["invoice"].pk).update(pdf_file="invoices/gone.pdf")
    archive, data = _open(client_data_export(world["client"]))
    assert [n for n in archive.namelist() if n.endswith(".pdf")] == []
    assert data["invoices"]


def test_erase_removes_personal_data_and_keeps_invoices(world):
    client, user, invoice = world["client"], world["user"], world["invoice"]
    before = Invoice.objects.get(pk=invoice.pk)
    ledger_before = list(LedgerEntry.objects.filter(client=client).values_list("id", "amount"))

    client_erase(client)

    client.refresh_from_db()
    personal = {
        "Mario Rossi",
        "mario@example.test",
        "+39 02 1234567",
        "Via Dante 5",
        "IT09876543210",
    }
    assert not personal & {str(getattr(client, name)) for name in CLIENT_PERSONAL_FIELDS}
    assert client.email.endswith("@erased.invalid")
    assert client.status == Client.Status.CLOSED
    contact = Contact.objects.get(client=client)
    assert "lucia" not in contact.email and contact.name != "Lucia Rossi"
    user.refresh_from_db()
    assert not user.is_active and not user.has_usable_password()
    assert user.full_name == "" and "mario" not in user.email

    after = Invoice.objects.get(pk=invoice.pk)
    assert after.number == before.number and after.sequence_number == before.sequence_number
    assert after.buyer == before.buyer and after.buyer  # the frozen snapshot stays
    assert after.total == before.total and after.paid_amount == before.paid_amount
    assert (
        list(LedgerEntry.objects.filter(client=client).values_list("id", "amount")) == ledger_before
    )
    assert AuditEntry.objects.filter(
        action="client.erased", object_id=str(client.public_id)
    ).exists()


def test_numbering_continues_after_an_erase(world, shop):
    first = world["invoice"]
    client_erase(world["client"])
    following = invoice_for(shop.business_de, ("Hosting", eur(10)))
    assert following.sequence_number == first.sequence_number + 1


def test_an_erased_login_cannot_sign_in(world, tenant_a):
    from django.contrib.auth import authenticate

    client_erase(world["client"])
    assert authenticate(username="mario.login@example.test", password="pw-123456789x") is None
