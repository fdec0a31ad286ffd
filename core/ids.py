"""Identifiers as they arrive from outside: a query string, a form, a Stripe metadata
field."""

from __future__ import annotations

import uuid


def uuid_or_none(value: object) -> str | None:
    """The canonical text of a UUID, or None when ``value`` is not one; a lookup by it
    then finds nothing instead of failing on the database's type check."""
    if isinstance(value, uuid.UUID):
        return str(value)
    try:
        return str(uuid.UUID(str(value or "")))
    except ValueError:
        return None


# The largest value of a 64-bit row id (PostgreSQL's bigint).
ROW_ID_MAX = 2**63 - 1


def row_id_or_none(value: object) -> int | None:
    """A row id from a URL or a form, or None when ``value`` is not one (not digits, or
    past the 64-bit range, which the database would refuse with an error)."""
    text = str(value if value is not None else "")
    if not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if 0 < number <= ROW_ID_MAX else None
