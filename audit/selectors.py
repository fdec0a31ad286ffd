"""Reading the audit log of the current schema."""

from __future__ import annotations

from django.db.models import QuerySet

from audit.models import AuditEntry


def audit_entries_for(
    *, object_type: str, object_id: object, limit: int = 20
) -> QuerySet[AuditEntry]:
    """The latest ``limit`` entries about one object, newest first (the index on
    object type and id serves it)."""
    return AuditEntry.objects.filter(object_type=object_type, object_id=str(object_id)).order_by(
        "-at", "-id"
    )[:limit]
