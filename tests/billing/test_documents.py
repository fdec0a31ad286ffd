"""Invoice and credit note PDFs: the tenant's own identity, the reader's language, one
rendering per template version, stored in the tenant's own media folder."""

from __future__ import annotations

import io
import re
import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django_tenants.utils import schema_context
from pypdf import PdfReader

from billing import documents, services
from billing.models import Client, CreditNote, CreditNoteLine, Invoice, InvoiceLine
from billing.money import Money

TEMPLATES_DIR = Path(settings.BASE_DIR) / "templates" / "billing"

SELLER_A = {
    "name": "Alfa Servizi Internet S.r.l.",
    "address_lines": ["Via Roma 1", "00184 Roma (RM)", "IT"],
    "country": "IT",
    "vat_number": "IT01234567890",
    "tax_id": "01234567890",
    "email": "billing@alpha.test",
    "iban": "IT60X0542811101000000123456",
    "bic": "BPMOITM1XXX",
    "bank_name": "Banca Popolare",
}
BUYER = {
    "name": "Rossi Web S.r.l.",
    "address_lines": ["Corso Italia 10", "20122 Milano (MI)", "IT"],
    "country": "IT",
    "vat_number": "IT09876543210",
    "email": "mario@rossi.test",
}


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    # Babel separates thousands with no-break spaces in some locales.
    return re.sub(r"[\u00a0\u202f]", " ", text)


def stored_pdf(document) -> bytes:
    with default_storage.open(document.pdf_file.name, "rb") as handle:
        return handle.read()


def invoice_make(
    *,
    language: str = "en",
    number: str = "2025/00042",
    seller: dict | None = None,
    reverse_charge: bool = False,
) -> Invoice:
    """An issued invoice as issuing leaves it: lines written while a draft, then the
    number and the parties' snapshots."""
    client = Client.objects.create(
        name="Mario Rossi", company_name=BUYER["name"], email="mario@rossi.test", language=language
    )
    invoice = Invoice.objects.create(client=client, currency="EUR", language=language)
    # Reverse charge: the seller charges no VAT, the buyer accounts for it.
    rate = Decimal(0) if reverse_charge else Decimal(22)
    lines = [
        ("Shared hosting Pro", Decimal(1), Decimal("1234.56"), date(2025, 1, 1), date(2025, 2, 1)),
        ("Domain rossi.example", Decimal(2), Decimal("10.00"), None, None),
    ]
    subtotal = tax_total = Decimal(0)
    for position, (description, quantity, unit_price, start, end) in enumerate(lines, 1):
        net = quantity * unit_price
        tax = (net * rate / 100).quantize(Decimal("0.01"))
        InvoiceLine.objects.create(
            invoice=invoice,
            position=position,
            description=description,
            quantity=quantity,
            currency="EUR",
            unit_price_amount=unit_price,
            tax_rate=rate,
            tax_name="IVA" if rate else "",
            net_amount=net,
            tax_amount=tax,
            total_amount=net + tax,
            period_start=start,
            period_end=end,
        )
        subtotal += net
        tax_total += tax
    invoice.status = Invoice.Status.ISSUED
    invoice.number = number
    invoice.sequence_year = 2025
    invoice.sequence_number = 42
    invoice.issue_date = date(2025, 1, 15)
    invoice.due_date = date(2025, 1, 29)
    invoice.issued_at = datetime(2025, 1, 15, 9, 0, tzinfo=UTC)
    invoice.subtotal_amount = subtotal
    invoice.tax_total_amount = tax_total
    invoice.total_amount = subtotal + tax_total
    invoice.reverse_charge = reverse_charge
    invoice.seller = seller or SELLER_A
    invoice.buyer = BUYER
    invoice.save()
    return Invoice.objects.get(pk=invoice.pk)


@pytest.fixture
def in_tenant_a(tenant_a, db, media_root):
    with schema_context(tenant_a.schema):
        yield tenant_a


def test_invoice_pdf_shows_the_tenants_identity_and_nothing_else(in_tenant_a, tenant_b, media_root):
    invoice = invoice_make()

    assert documents.invoice_pdf_render(invoice) is True

    invoice.refresh_from_db()
    path = Path(default_storage.path(invoice.pdf_file.name))
    assert path.is_relative_to(media_root / in_tenant_a.schema), "stored in the tenant's folder"
    data = stored_pdf(invoice)
    reader = PdfReader(io.BytesIO(data))
    text = pdf_text(data)
    for expected in (SELLER_A["name"], "IT01234567890", "2025/00042", "Rossi Web S.r.l."):
        assert expected in text, expected
    assert "€1,530.56" in text
    assert "January 15, 2025" in text
    assert "IT60X0542811101000000123456" in text, "the seller's bank details"
    metadata = " ".join(str(v) for v in (reader.metadata or {}).values())
    for foreign in (tenant_b.tenant.name, in_tenant_a.tenant.name, settings.PLATFORM_NAME):
        assert foreign not in text
        assert foreign not in metadata
    assert invoice.pdf_template_hash == documents.template_hash(
        "invoice", documents.document_settings_get()
    )


@pytest.mark.parametrize(
    ("language", "labels", "amounts", "issued"),
    [
        (
            "it",
            ("Fattura", "Partita IVA", "Imponibile", "Aliquota IVA", "Scadenza", "Totale"),
            ("1.234,56 €", "1.530,56 €", "276,00 €"),
            "15 gennaio 2025",
        ),
        (
            "ru",
            ("Счёт", "Номер НДС", "Налоговая база", "Ставка НДС", "Срок оплаты", "Итого"),
            ("1 234,56 €", "1 530,56 €", "276,00 €"),
            "15 января 2025 г.",
        ),
    ],
)
def test_invoice_pdf_in_the_invoice_language(in_tenant_a, language, labels, amounts, issued):
    invoice = invoice_make(language=language)

    documents.invoice_pdf_render(invoice)

    invoice.refresh_from_db()
    text = pdf_text(stored_pdf(invoice))
    # Column headings are set in capitals by the stylesheet.
    folded = text.casefold()
    for label in labels:
        assert label.casefold() in folded, label
    for expected in (*amounts, issued):
        assert expected in text, expected
    assert "Invoice" not in text
    assert "€1,234.56" not in text


def test_reverse_charge_invoice_says_so(in_tenant_a):
    invoice = invoice_make(language="it", reverse_charge=True)

    documents.invoice_pdf_render(invoice)

    invoice.refresh_from_db()
    text = " ".join(pdf_text(stored_pdf(invoice)).split())
    assert "Inversione contabile" in text
    assert "articolo 196" in text
    assert "22%" not in text


@pytest.mark.parametrize(
    ("client", "expected", "untranslated"),
    [
        ("business_de", "Inversione contabile — articolo 196", "Reverse charge"),
        ("exempt", "Esente da IVA", "Exempt from VAT"),
    ],
)
def test_an_issued_invoice_states_its_tax_treatment_in_its_language(
    in_tenant_a, shop, client, expected, untranslated
):
    invoice = services.invoice_create(client=getattr(shop, client), language="it")
    services.invoice_line_add(
        invoice=invoice, description="Web hosting Pro", unit_price=Money(Decimal(300), "EUR")
    )
    invoice = services.invoice_issue(invoice=invoice)

    documents.invoice_pdf_render(invoice)

    invoice.refresh_from_db()
    text = " ".join(pdf_text(stored_pdf(invoice)).split())
    assert expected in text
    assert untranslated not in text
    assert "Alfa Servizi Internet S.r.l." in text
    assert invoice.number in text
    assert "300,00 €" in text


def test_rendering_is_skipped_while_the_hash_is_unchanged(in_tenant_a):
    invoice = invoice_make()
    assert documents.invoice_pdf_render(invoice) is True
    invoice.refresh_from_db()
    first_name, first_hash = invoice.pdf_file.name, invoice.pdf_template_hash
    first_bytes = stored_pdf(invoice)

    assert documents.invoice_pdf_render(invoice) is False
    invoice.refresh_from_db()
    assert (invoice.pdf_file.name, invoice.pdf_template_hash) == (first_name, first_hash)
    assert stored_pdf(invoice) == first_bytes


def test_a_template_change_renders_again(
    in_tenant_a, settings, tmp_path, django_capture_on_commit_callbacks
):
    invoice = invoice_make()
    documents.invoice_pdf_render(invoice)
    invoice.refresh_from_db()
    old_name, old_hash = invoice.pdf_file.name, invoice.pdf_template_hash

    # The same template with a new line, found before the project's own copy.
    override = tmp_path / "overrides" / "billing" / "documents" / "invoice.html"
    override.parent.mkdir(parents=True)
    source = (TEMPLATES_DIR / "documents" / "invoice.html").read_text()
    override.write_text(source + "\n{# payment terms moved #}\n")
    engine = dict(settings.TEMPLATES[0])
    engine["DIRS"] = [tmp_path / "overrides", *engine["DIRS"]]
    settings.TEMPLATES = [engine]

    with django_capture_on_commit_callbacks(execute=True):
        assert documents.invoice_pdf_render(invoice) is True

    invoice.refresh_from_db()
    assert invoice.pdf_template_hash != old_hash
    assert invoice.pdf_file.name != old_name
    assert default_storage.exists(invoice.pdf_file.name)
    assert not default_storage.exists(old_name), "the outdated PDF is removed"
    assert documents.invoice_pdf_render(invoice) is False


def test_a_change_of_the_document_settings_renders_again(in_tenant_a):
    invoice = invoice_make()
    documents.invoice_pdf_render(invoice)
    invoice.refresh_from_db()
    old_hash = invoice.pdf_template_hash

    red = documents.DocumentSettings(accent_color="#aa0000", footer_text="Thank you!")
    assert documents.invoice_pdf_render(invoice, document_settings=red) is True

    invoice.refresh_from_db()
    assert invoice.pdf_template_hash != old_hash
    assert "Thank you!" in pdf_text(stored_pdf(invoice))


def test_a_lost_file_is_rendered_again(in_tenant_a):
    invoice = invoice_make()
    documents.invoice_pdf_render(invoice)
    invoice.refresh_from_db()
    default_storage.delete(invoice.pdf_file.name)

    assert documents.invoice_pdf_render(invoice) is True


def test_a_view_gets_the_current_pdf_or_a_queued_rendering(
    in_tenant_a, django_capture_on_commit_callbacks
):
    invoice = invoice_make()

    with django_capture_on_commit_callbacks() as queued:
        assert documents.invoice_pdf_get(invoice) is None
    assert len(queued) == 1, "a rendering is queued after commit, not done in the request"

    documents.invoice_pdf_render(invoice)
    with django_capture_on_commit_callbacks() as queued:
        current = documents.invoice_pdf_get(invoice)
    assert current.name == invoice.pdf_file.name
    assert queued == []


def test_a_draft_has_no_pdf(in_tenant_a):
    client = Client.objects.create(name="Draft Client", email="draft@client.test")
    draft = Invoice.objects.create(client=client, currency="EUR")

    with pytest.raises(ValueError, match="draft"):
        documents.invoice_pdf_render(draft)


def test_credit_note_pdf(in_tenant_a):
    invoice = invoice_make(language="it")
    credit_note = CreditNote.objects.create(
        invoice=invoice,
        client=invoice.client,
        number="CN-2025/00003",
        sequence_year=2025,
        sequence_number=3,
        currency="EUR",
        language="it",
        issue_date=date(2025, 2, 3),
        issued_at=invoice.issued_at,
        reason="Servizio annullato",
        subtotal_amount=Decimal("20.00"),
        tax_total_amount=Decimal("4.40"),
        total_amount=Decimal("24.40"),
        seller=invoice.seller,
        buyer=invoice.buyer,
    )
    CreditNoteLine.objects.create(
        credit_note=credit_note,
        description="Domain rossi.example",
        quantity=Decimal("2"),
        currency="EUR",
        unit_price_amount=Decimal("10.00"),
        tax_rate=Decimal("22"),
        net_amount=Decimal("20.00"),
        tax_amount=Decimal("4.40"),
        total_amount=Decimal("24.40"),
    )

    assert documents.credit_note_pdf_render(credit_note) is True

    credit_note.refresh_from_db()
    assert credit_note.pdf_template_hash
    text = pdf_text(stored_pdf(credit_note))
    for expected in (
        "Nota di credito",
        "CN-2025/00003",
        "2025/00042",
        "15 gennaio 2025",
        "Servizio annullato",
        "Alfa Servizi Internet S.r.l.",
        "IT01234567890",
        "24,40 €",
    ):
        assert expected in text, expected
    assert documents.credit_note_pdf_render(credit_note) is False


def test_document_and_email_templates_carry_no_platform_brand():
    brand = settings.PLATFORM_NAME.lower()
    paths = [*(TEMPLATES_DIR / "documents").iterdir(), *(TEMPLATES_DIR / "emails").iterdir()]
    assert len(paths) > 10
    for path in paths:
        source = path.read_text().lower()
        assert brand not in source, path
        assert "platform" not in source, path
        assert "brand_name" not in source, path


def test_the_renderer_fetches_nothing(tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not an image")
    fetcher = documents._url_fetcher()
    for url in (f"file://{secret}", "http://127.0.0.1:9/x.png"):
        with pytest.raises(ValueError, match="disallowed"):
            fetcher(url)


# --- through a real worker ----------------------------------------------------------


def _invoice_in(schema: str, seller: dict) -> int:
    with schema_context(schema):
        invoice = invoice_make(seller=seller)
        documents.invoice_pdf_queue(invoice)
        return invoice.pk


def _wait_rendered(schema: str, invoice_id: int, timeout: float = 90) -> Invoice:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with schema_context(schema):
            invoice = Invoice.objects.get(pk=invoice_id)
            if invoice.pdf_template_hash:
                return invoice
        time.sleep(0.25)
    raise AssertionError(f"The invoice of {schema} was not rendered within {timeout} s")


@pytest.mark.worker
def test_the_task_renders_in_the_schema_it_was_queued_from(celery_worker_process, tenant_factory):
    first = tenant_factory(name="Gamma Hosting")
    second = tenant_factory(name="Delta Cloud")
    schemas = (first.tenant.schema_name, second.tenant.schema_name)
    try:
        # Fresh schemas: both invoices have the same id, so only the schema tells them
        # apart on the worker.
        gamma_id = _invoice_in(schemas[0], {**SELLER_A, "name": "Gamma Hosting S.p.A."})
        delta_id = _invoice_in(schemas[1], {**SELLER_A, "name": "Delta Cloud GmbH"})
        assert connection.schema_name == "public"

        gamma = _wait_rendered(schemas[0], gamma_id)
        delta = _wait_rendered(schemas[1], delta_id)

        with schema_context(schemas[0]):
            root = Path(default_storage.path(""))
            assert root.name == schemas[0]
            gamma_text = pdf_text(stored_pdf(gamma))
        with schema_context(schemas[1]):
            delta_text = pdf_text(stored_pdf(delta))
        assert "Gamma Hosting S.p.A." in gamma_text
        assert "Delta Cloud GmbH" not in gamma_text
        assert "Delta Cloud GmbH" in delta_text
        assert "Gamma Hosting S.p.A." not in delta_text
    finally:
        for schema in schemas:
            shutil.rmtree(Path(settings.MEDIA_ROOT) / schema, ignore_errors=True)
