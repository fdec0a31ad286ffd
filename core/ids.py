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
