"""Gapless document numbers, per tenant and per document type (and per year when the
tenant restarts numbering every year).

The counter is a row locked with SELECT ... FOR UPDATE inside the transaction that issues
the document: a concurrent issue waits for the lock, and a rolled-back issue rolls its
number back with it, so numbers are never skipped nor used twice."""

from __future__ import annotations

import string
from datetime import date

from django.db import connection

from billing.errors import BillingError
from billing.models import BillingSettings, NumberSequence

_ALLOWED_FIELDS = {"year", "seq", "prefix"}


def number_format_validate(template: str, *, yearly: bool) -> str:
    template = (template or "").strip()
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise BillingError(f"“{template}” is not a valid number format: {exc}.") from exc
    unknown = fields - _ALLOWED_FIELDS
    if unknown:
        raise BillingError(
            f"The number format may use {{year}}, {{prefix}} and {{seq}} only, "
            f"not {', '.join(sorted(unknown))}."
        )
    try:
        template.format(year=2000, seq=1, prefix="X")
    except (ValueError, IndexError, KeyError) as exc:
        raise BillingError(f"“{template}” is not a valid number format: {exc}.") from exc
    if "seq" not in fields:
        raise BillingError("The number format must contain {seq}, e.g. {year}/{seq:05d}.")
    if yearly and "year" not in fields:
        raise BillingError(
            "Numbering restarts every year, so the format must contain {year}; "
            "otherwise next year's numbers would repeat this year's."
        )
    if len(template.format(year=2000, seq=10**9, prefix="X" * 20)) > 64:
        raise BillingError("The number format makes numbers longer than 64 characters.")
    return template


def document_number_next(
    *, document_type: str, issue_date: date, settings: BillingSettings
) -> tuple[str, int, int]:
    """The next number for a document issued on ``issue_date``: (formatted number,
    sequence year, sequence number). Must run inside the issuing transaction."""
    if not connection.in_atomic_block:
        raise RuntimeError("Document numbers are taken inside the issuing transaction.")
    yearly = settings.number_reset == BillingSettings.NumberReset.YEARLY
    year = issue_date.year if yearly else 0
    NumberSequence.objects.bulk_create(
        [NumberSequence(document_type=document_type, year=year)], ignore_conflicts=True
    )
    sequence = NumberSequence.objects.select_for_update().get(
        document_type=document_type, year=year
    )
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    template = (
        settings.invoice_number_format
        if document_type == NumberSequence.DocumentType.INVOICE
        else settings.credit_note_number_format
    )
    number = template.format(
        year=issue_date.year, seq=sequence.last_number, prefix=settings.number_prefix
    )
    return number, year, sequence.last_number
