"""Writing and reading the audit log of the current schema."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from audit.context import current_actor
from audit.models import AuditEntry


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    # Decimals become strings, never floats: the log must show the exact amounts.
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def audit_record(
    *,
    action: str,
    object_type: str = "",
    object_id: Any = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Appends one entry in the current schema, in the caller's transaction: the entry
    exists exactly when the change it describes does."""
    actor = current_actor()
    return AuditEntry.objects.create(
        actor_kind=actor.kind,
        actor_id=actor.id[:64],
        actor_label=actor.label[:200],
        action=action[:64],
        object_type=object_type[:64],
        object_id=str(object_id)[:64],
        before=_jsonable(before),
        after=_jsonable(after),
        request_id=actor.request_id[:64],
        ip=actor.ip,
    )


EXPORT_COLUMNS = [
    "at",
    "actor_kind",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
    "request_id",
    "ip",
]


def audit_export(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    action_prefix: str = "",
    object_type: str = "",
    object_id: str = "",
) -> str:
    """The log of the current schema as CSV, oldest first."""
    entries = AuditEntry.objects.order_by("at", "id")
    if since is not None:
        entries = entries.filter(at__gte=since)
    if until is not None:
        entries = entries.filter(at__lt=until)
    if action_prefix:
        entries = entries.filter(action__startswith=action_prefix)
    if object_type:
        entries = entries.filter(object_type=object_type)
    if object_id:
        entries = entries.filter(object_id=object_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for entry in entries.iterator():
        writer.writerow(
            [
                entry.at.isoformat(),
                entry.actor_kind,
                entry.actor_id,
                entry.actor_label,
                entry.action,
                entry.object_type,
                entry.object_id,
                "" if entry.before is None else json.dumps(entry.before, sort_keys=True),
                "" if entry.after is None else json.dumps(entry.after, sort_keys=True),
                entry.request_id,
                entry.ip or "",
            ]
        )
    return out.getvalue()
