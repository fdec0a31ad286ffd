"""Invoice and credit note documents: a plain context, HTML, PDF.

The context is built from the document's own snapshot of seller and buyer, so a PDF
rendered years later shows the legal identity that issued the invoice, not whatever the
tenant's settings say today. The seller is always the tenant itself: nothing on a
document names the platform or the provider that hosts the tenant.

Rendering (WeasyPrint) is slow, so requests never call it: ``invoice_pdf_queue`` and
``credit_note_pdf_queue`` hand the work to a Celery task after the transaction commits.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel.dates import format_interval
from babel.numbers import format_decimal, format_percent
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.template import engines
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.text import get_valid_filename
from django.utils.translation import gettext

from billing.money import Money
from billing.payments.gateways.bank_transfer import payment_reference
from billing.selectors import billing_settings_get
from billing.snapshots import (
    period_last_day,
    snapshot_address_lines,
    snapshot_mapping,
)
from billing.snapshots import snapshot_text as _text
from core import locale
from core.locale import babel_locale, language_normalize, money_format

INVOICE_TEMPLATE = "billing/documents/invoice.html"
CREDIT_NOTE_TEMPLATE = "billing/documents/credit_note.html"
# Every template an invoice or credit note is made of: a change to any of them changes
# the template hash and so triggers a new rendering.
_SHARED_TEMPLATES = ("billing/documents/document.html", "billing/documents/document.css")

# PDF/A-3 keeps a document readable for the years the law asks it to be kept, and it is
# the base a Factur-X e-invoice is made from (billing.einvoices).
PDF_VARIANT = "pdf/a-3b"

DEFAULT_ACCENT_COLOR = "#1f3b57"
_COLOR_RE = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")


@dataclass(frozen=True)
class BankDetails:
    account_holder: str = ""
    bank_name: str = ""
    iban: str = ""
    bic: str = ""

    def __bool__(self) -> bool:
        return bool(self.iban or self.bank_name or self.bic)


@dataclass(frozen=True)
class DocumentParty:
    name: str
    address_lines: tuple[str, ...] = ()
    vat_number: str = ""
    tax_code: str = ""
    registration: str = ""
    email: str = ""


@dataclass(frozen=True)
class DocumentLine:
    description: str
    quantity: str
    unit_price: str
    tax_rate: str
    net_amount: str
    period: str = ""


@dataclass(frozen=True)
class TaxRow:
    rate: str
    taxable: str
    tax: str
    label: str = ""


@dataclass(frozen=True)
class DocumentContext:
    """Everything a document template shows, already formatted for ``language``: the
    template only places strings, so what the reader sees is decided here."""

    kind: str  # "invoice" or "credit_note"
    language: str
    number: str
    issue_date: str
    seller: DocumentParty
    buyer: DocumentParty
    lines: tuple[DocumentLine, ...]
    tax_summary: tuple[TaxRow, ...]
    currency: str
    subtotal: str
    tax_total: str
    total: str
    due_date: str = ""
    # An invoice with something to pay shows the seller's bank details.
    payable: bool = False
    reverse_charge: bool = False
    bank: BankDetails = field(default_factory=BankDetails)
    # What the client quotes on a transfer: the same reference the pages and e-mails give.
    payment_reference: str = ""
    related_number: str = ""
    related_date: str = ""
    reason: str = ""
    notes: tuple[str, ...] = ()
    footer_text: str = ""
    accent_color: str = DEFAULT_ACCENT_COLOR
    logo_data_uri: str = ""


@dataclass(frozen=True)
class DocumentSettings:
    """The tenant's settings that change how its documents look. They are part of the
    template hash: changing them re-renders documents on their next request."""

    accent_color: str = DEFAULT_ACCENT_COLOR
    footer_text: str = ""
    logo_data_uri: str = ""

    def fingerprint(self) -> dict[str, str]:
        return {
            "accent_color": self.accent_color,
            "footer_text": self.footer_text,
            # The logo bytes are large; their digest is enough to see a change.
            "logo": hashlib.sha256(self.logo_data_uri.encode()).hexdigest(),
        }


# --- formatting --------------------------------------------------------------------


def document_language(language: str | None) -> str:
    """One of the languages documents are translated into; anything else falls back to
    the site's default."""
    return language_normalize(language) or settings.LANGUAGE_CODE


def date_format(value: date | datetime | None, language: str) -> str:
    """A document's dates are days, written out in full."""
    if isinstance(value, datetime):
        value = value.date()
    return locale.date_format(value, language, format="long")


def quantity_format(value: Decimal | int | str, language: str) -> str:
    amount = Decimal(str(value))
    # Whole quantities print without decimals; fractional ones keep what they have.
    if amount == amount.to_integral_value():
        amount = amount.quantize(Decimal(1))
    return format_decimal(amount, locale=babel_locale(language))


def rate_format(rate: Decimal | int | str | None, language: str) -> str:
    """A tax rate given in percent (22 for 22 %)."""
    if rate is None or rate == "":
        return ""
    percent = Decimal(str(rate)).normalize()
    return format_percent(percent / 100, format="#,##0.##%", locale=babel_locale(language))


def accent_color_clean(value: str | None) -> str:
    # The colour is written into the stylesheet: only a plain hex colour gets there.
    value = (value or "").strip()
    return value if _COLOR_RE.match(value) else DEFAULT_ACCENT_COLOR


# --- rendering ---------------------------------------------------------------------


def document_template_name(kind: str) -> str:
    return {"invoice": INVOICE_TEMPLATE, "credit_note": CREDIT_NOTE_TEMPLATE}[kind]


def _template_source(name: str) -> str:
    # Resolved through the configured loaders, so an override in a template directory
    # listed earlier counts as a template change.
    return engines["django"].engine.get_template(name).source


def template_hash(kind: str, document_settings: DocumentSettings) -> str:
    """sha256 of the templates that make up the document and of the tenant's settings
    that change its look. A stored PDF with the same hash is still current."""
    digest = hashlib.sha256()
    for name in (document_template_name(kind), *_SHARED_TEMPLATES):
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(_template_source(name).encode())
        digest.update(b"\0")
    digest.update(json.dumps(document_settings.fingerprint(), sort_keys=True).encode())
    digest.update(PDF_VARIANT.encode())
    return digest.hexdigest()


def document_html(doc: DocumentContext) -> str:
    with translation.override(doc.language):
        return render_to_string(document_template_name(doc.kind), {"doc": doc})


def _url_fetcher():
    # WeasyPrint is heavy to load and only the documents worker renders PDFs.
    from weasyprint.urls import URLFetcher

    # A document needs nothing from the network or the disk (the logo is inlined), so a
    # line description or a setting can never make the worker fetch a URL.
    return URLFetcher(allowed_protocols={"data"}, allow_redirects=False)


def document_pdf(doc: DocumentContext) -> bytes:
    # WeasyPrint is heavy to load and only the documents worker renders PDFs.
    from weasyprint import HTML

    html = document_html(doc)
    return HTML(string=html, url_fetcher=_url_fetcher()).write_pdf(pdf_variant=PDF_VARIANT)


def logo_data_uri(file: Any) -> str:
    """A stored image inlined as a data: URI, or "" when there is none."""
    if not file:
        return ""
    name = getattr(file, "name", "") or ""
    mime = {
        ".png": "image/png",
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".svg": "image/svg+xml",
        ".gif": "image/gif",
        ".webp": "image/webp",
    }.get(name[name.rfind(".") :].lower() if "." in name else "")
    if mime is None:
        return ""
    try:
        file.open("rb")
        try:
            data = file.read()
        finally:
            file.close()
    except (OSError, ValueError):
        return ""
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def pdf_storage_name(kind: str, number: str, digest: str) -> str:
    # The hash in the name means a new rendering never overwrites the file a reader may
    # be downloading; the old one is removed once the row points at the new one.
    folder = {"invoice": "invoices", "credit_note": "credit-notes"}[kind]
    safe_number = get_valid_filename(number.replace("/", "-")) or "document"
    return f"billing/{folder}/{safe_number}-{digest[:12]}.pdf"


def _pdf_store(document: Any, *, kind: str, doc: DocumentContext, digest: str) -> bool:
    """Renders and stores the PDF of ``document``, then points its row at it.

    Returns False when another worker stored a rendering for this hash first."""
    pdf = document_pdf(doc)
    old_name = document.pdf_file.name if document.pdf_file else ""
    new_name = default_storage.save(pdf_storage_name(kind, doc.number, digest), ContentFile(pdf))
    # A queryset update, not save(): issued documents are immutable at the model
    # level, and the condition on the old hash lets two renderers race safely.
    updated = (
        type(document)
        ._default_manager.filter(pk=document.pk, pdf_template_hash=document.pdf_template_hash)
        .update(pdf_file=new_name, pdf_template_hash=digest)
    )
    if not updated:
        default_storage.delete(new_name)
        document.refresh_from_db(fields=["pdf_file", "pdf_template_hash"])
        return False
    document.pdf_file.name = new_name
    document.pdf_template_hash = digest
    if old_name and old_name != new_name:
        transaction.on_commit(lambda: default_storage.delete(old_name))
    return True


def _is_current(document: Any, digest: str) -> bool:
    return bool(
        document.pdf_template_hash == digest
        and document.pdf_file
        and default_storage.exists(document.pdf_file.name)
    )


def _queue(task: Any, object_id: int) -> None:
    # The schema is captured now, while the connection is in the tenant, and travels in
    # the task's headers: the worker runs it in the same schema.
    schema = connection.schema_name
    transaction.on_commit(
        lambda: task.apply_async(args=[object_id], headers={"_schema_name": schema})
    )


def party_from_snapshot(snapshot: Mapping[str, Any] | None) -> DocumentParty:
    """A seller or buyer as the document's snapshot recorded it at issue."""
    data = snapshot_mapping(snapshot)
    return DocumentParty(
        name=_text(data.get("name")),
        address_lines=snapshot_address_lines(data),
        vat_number=_text(data.get("vat_number")),
        tax_code=_text(data.get("tax_id")),
        registration=_text(data.get("registration")),
        email=_text(data.get("email")),
    )


def bank_from_snapshot(snapshot: Mapping[str, Any] | None) -> BankDetails:
    data = snapshot_mapping(snapshot)
    bank = data.get("bank") if isinstance(data.get("bank"), Mapping) else data
    return BankDetails(
        account_holder=_text(bank.get("account_holder")) or _text(data.get("name")),
        bank_name=_text(bank.get("bank_name")),
        iban=_text(bank.get("iban")),
        bic=_text(bank.get("bic")),
    )


def period_format(start: date | None, end: date | None, language: str) -> str:
    """The period a line covers; ``end`` is the first day not covered."""
    if start is None:
        return ""
    last = period_last_day(start, end) or start
    if last == start:
        return date_format(start, language)
    return format_interval(start, last, skeleton="yMMMd", locale=babel_locale(language))


def _lines_and_taxes(
    rows: Iterable[Any], currency: str, language: str
) -> tuple[tuple[DocumentLine, ...], tuple[TaxRow, ...]]:
    lines: list[DocumentLine] = []
    # One summary row per rate (and tax name): what the law asks an invoice to show.
    groups: dict[tuple[Decimal, str], tuple[Money, Money]] = {}
    for row in rows:
        lines.append(
            DocumentLine(
                description=row.description,
                quantity=quantity_format(row.quantity, language),
                unit_price=money_format(row.unit_price, language),
                tax_rate=rate_format(row.tax_rate, language),
                net_amount=money_format(row.net, language),
                period=period_format(
                    getattr(row, "period_start", None), getattr(row, "period_end", None), language
                ),
            )
        )
        key = (Decimal(row.tax_rate).normalize(), row.tax_name or "")
        taxable, tax = groups.get(key, (Money.zero(currency), Money.zero(currency)))
        groups[key] = (taxable + row.net, tax + row.tax)
    summary = tuple(
        TaxRow(
            rate=rate_format(rate, language),
            label=name,
            taxable=money_format(taxable, language),
            tax=money_format(tax, language),
        )
        for (rate, name), (taxable, tax) in sorted(groups.items(), key=lambda kv: kv[0])
    )
    return tuple(lines), summary


def _notes(*values: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in values if v and v.strip())


# What documents issued before the tax engine stored as their tax note, in English.
_LEGACY_REVERSE_CHARGE_NOTE = "Reverse charge"
_LEGACY_EXEMPT_NOTE = "Exempt from tax"


def tax_note_text(note: str, *, reverse_charge: bool) -> str:
    """The invoice's tax note in the active language. The tax engine stores the legal
    mention already in the document's language; documents issued before it stored a
    known English word, translated here (the reverse-charge one is said by the
    document's own legal statement)."""
    note = (note or "").strip()
    if note == _LEGACY_REVERSE_CHARGE_NOTE:
        return "" if reverse_charge else gettext("Reverse charge")
    if note == _LEGACY_EXEMPT_NOTE:
        return gettext("Exempt from tax")
    return note


def reverse_charge_statement(note: str, *, reverse_charge: bool) -> bool:
    """Whether the document prints the general reverse-charge statement: only when its
    own tax note does not carry the legal mention already."""
    return reverse_charge and (note or "").strip() in ("", _LEGACY_REVERSE_CHARGE_NOTE)


def invoice_document_context(
    invoice: Any, *, document_settings: DocumentSettings | None = None
) -> DocumentContext:
    document_settings = document_settings or document_settings_get()
    language = document_language(invoice.language)
    lines, taxes = _lines_and_taxes(invoice.lines.all(), invoice.currency, language)
    with translation.override(language):
        tax_note = tax_note_text(invoice.tax_note, reverse_charge=invoice.reverse_charge)
    return DocumentContext(
        kind="invoice",
        language=language,
        number=invoice.number,
        issue_date=date_format(invoice.issue_date, language),
        due_date=date_format(invoice.due_date, language),
        seller=party_from_snapshot(invoice.seller),
        buyer=party_from_snapshot(invoice.buyer),
        lines=lines,
        tax_summary=taxes,
        currency=invoice.currency,
        subtotal=money_format(invoice.subtotal, language),
        tax_total=money_format(invoice.tax_total, language),
        total=money_format(invoice.total, language),
        payable=invoice.total_amount > 0,
        reverse_charge=reverse_charge_statement(
            invoice.tax_note, reverse_charge=invoice.reverse_charge
        ),
        bank=bank_from_snapshot(invoice.seller),
        payment_reference=payment_reference(invoice.number) if invoice.number else "",
        notes=_notes(tax_note, invoice.notes),
        footer_text=document_settings.footer_text,
        accent_color=document_settings.accent_color,
        logo_data_uri=document_settings.logo_data_uri,
    )


def credit_note_document_context(
    credit_note: Any, *, document_settings: DocumentSettings | None = None
) -> DocumentContext:
    document_settings = document_settings or document_settings_get()
    language = document_language(credit_note.language)
    lines, taxes = _lines_and_taxes(credit_note.lines.all(), credit_note.currency, language)
    invoice = credit_note.invoice
    with translation.override(language):
        tax_note = tax_note_text(credit_note.tax_note, reverse_charge=credit_note.reverse_charge)
    return DocumentContext(
        kind="credit_note",
        language=language,
        number=credit_note.number,
        issue_date=date_format(credit_note.issue_date, language),
        seller=party_from_snapshot(credit_note.seller),
        buyer=party_from_snapshot(credit_note.buyer),
        lines=lines,
        tax_summary=taxes,
        currency=credit_note.currency,
        subtotal=money_format(credit_note.subtotal, language),
        tax_total=money_format(credit_note.tax_total, language),
        total=money_format(credit_note.total, language),
        reverse_charge=reverse_charge_statement(
            credit_note.tax_note, reverse_charge=credit_note.reverse_charge
        ),
        related_number=invoice.number,
        related_date=date_format(invoice.issue_date, language),
        reason=credit_note.reason,
        notes=_notes(tax_note),
        footer_text=document_settings.footer_text,
        accent_color=document_settings.accent_color,
        logo_data_uri=document_settings.logo_data_uri,
    )


# BillingSettings columns that change how documents look, when the tenant has them.
DOCUMENT_SETTING_FIELDS = {
    "accent_color": "document_accent_color",
    "footer_text": "document_footer",
    "logo": "document_logo",
}


def document_settings_get() -> DocumentSettings:
    """The current tenant's document look, from its billing settings."""

    row = billing_settings_get()
    return DocumentSettings(
        accent_color=accent_color_clean(getattr(row, DOCUMENT_SETTING_FIELDS["accent_color"], "")),
        footer_text=_text(getattr(row, DOCUMENT_SETTING_FIELDS["footer_text"], "")),
        logo_data_uri=logo_data_uri(getattr(row, DOCUMENT_SETTING_FIELDS["logo"], None)),
    )


def _pdf_render(
    document: Any,
    *,
    kind: str,
    build: Callable[..., DocumentContext],
    force: bool,
    document_settings: DocumentSettings | None,
) -> bool:
    document_settings = document_settings or document_settings_get()
    digest = template_hash(kind, document_settings)
    if not force and _is_current(document, digest):
        return False
    doc = build(document, document_settings=document_settings)
    return _pdf_store(document, kind=kind, doc=doc, digest=digest)


def invoice_pdf_render(
    invoice: Any,
    *,
    force: bool = False,
    document_settings: DocumentSettings | None = None,
) -> bool:
    """Renders the invoice's PDF into the tenant's storage and records it on the row,
    unless the stored PDF was made from the same templates and settings. Returns
    whether a new PDF was stored."""
    if invoice.status == invoice.Status.DRAFT or not invoice.number:
        raise ValueError(f"{invoice} is a draft: only issued invoices have a PDF.")
    return _pdf_render(
        invoice,
        kind="invoice",
        build=invoice_document_context,
        force=force,
        document_settings=document_settings,
    )


def credit_note_pdf_render(
    credit_note: Any,
    *,
    force: bool = False,
    document_settings: DocumentSettings | None = None,
) -> bool:
    """As ``invoice_pdf_render``, for a credit note."""
    return _pdf_render(
        credit_note,
        kind="credit_note",
        build=credit_note_document_context,
        force=force,
        document_settings=document_settings,
    )


def _pdf_get(document: Any, kind: str, queue: Callable[[Any], None]) -> Any:
    if _is_current(document, template_hash(kind, document_settings_get())):
        return document.pdf_file
    queue(document)
    return None


def invoice_pdf_get(invoice: Any) -> Any:
    """The invoice's stored PDF (a FieldFile) when it is current; otherwise None, and a
    rendering is queued. For views that offer the download: they say "being prepared"
    rather than make the request wait for WeasyPrint."""
    return _pdf_get(invoice, "invoice", invoice_pdf_queue)


def credit_note_pdf_get(credit_note: Any) -> Any:
    """As ``invoice_pdf_get``, for a credit note."""
    return _pdf_get(credit_note, "credit_note", credit_note_pdf_queue)


def invoice_pdf_queue(invoice: Any) -> None:
    """Queues the rendering of the invoice's PDF once the current transaction commits."""
    # billing.tasks imports this module; the task is looked up at call time.
    from billing.tasks import invoice_pdf_render_task

    _queue(invoice_pdf_render_task, invoice.pk)


def credit_note_pdf_queue(credit_note: Any) -> None:
    """Queues the rendering of the credit note's PDF once the current transaction
    commits."""
    # billing.tasks imports this module; the task is looked up at call time.
    from billing.tasks import credit_note_pdf_render_task

    _queue(credit_note_pdf_render_task, credit_note.pk)
