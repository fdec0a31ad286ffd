"""Reading what an issued document recorded at issue (the seller and buyer snapshots of
``billing.services.parties``, the periods of its lines), shared by its PDF rendering
(``billing.documents``) and its e-invoice (``billing.einvoices``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any


def snapshot_text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def snapshot_mapping(snapshot: Any) -> Mapping[str, Any]:
    """The snapshot, or an empty one when the document has none (or a broken one)."""
    return snapshot if isinstance(snapshot, Mapping) else {}


def snapshot_address_lines(data: Mapping[str, Any]) -> tuple[str, ...]:
    """The party's printed address, line by line, blank lines left out."""
    lines = data.get("address_lines") or ()
    if isinstance(lines, str):
        lines = lines.splitlines()
    return tuple(snapshot_text(line) for line in lines if snapshot_text(line))


def period_last_day(start: date | None, end: date | None) -> date | None:
    """The last day a line covers: the model stores ``end`` as the first day not covered.
    None when the line has no period of more than one day's span to show."""
    if start is None or end is None or end <= start:
        return None
    return end - timedelta(days=1)
