"""What the provider side of resale writes into the audit log, connected once at start-up
(ResaleConfig.ready). Balance entries and accepted upstream requests are written once and
never changed, so a post_save on creation marks exactly one fact each."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models.signals import post_save
from django_tenants.utils import get_public_schema_name, schema_context

from audit.services import audit_record
from billing.money import money_json
from resale.models import BalanceEntry, UpstreamRequest
from resale.services import reseller_balance


def _in_public(record: dict[str, Any]) -> None:
    # Provider rows live in public whatever schema the caller had selected; their
    # entries belong with them, not in a tenant's log.
    if connection.schema_name == get_public_schema_name():
        audit_record(**record)
        return
    with schema_context(get_public_schema_name()):
        audit_record(**record)


_BALANCE_ACTIONS = {"topup": "balance.topup", "adjustment": "balance.adjusted"}


def on_balance_entry_saved(
    sender: Any, instance: BalanceEntry, created: bool, raw: bool, **kwargs: Any
) -> None:
    if not created or raw or instance.kind not in _BALANCE_ACTIONS:
        return
    account = instance.account
    after = reseller_balance(account=account)
    amount = instance.amount.amount
    _in_public(
        {
            "action": _BALANCE_ACTIONS[instance.kind],
            "object_type": "reseller_account",
            "object_id": account.pk,
            "before": {"balance": money_json(after.amount - amount, after.currency)},
            "after": {
                "balance": money_json(after.amount, after.currency),
                "amount": money_json(amount, instance.currency),
                "description": instance.description,
                "created_by": instance.created_by,
            },
        }
    )


def on_upstream_request_saved(
    sender: Any, instance: UpstreamRequest, created: bool, raw: bool, **kwargs: Any
) -> None:
    if not created or raw:
        return
    service = instance.upstream_service
    _in_public(
        {
            "action": "upstream_command.accepted",
            "object_type": "upstream_service" if service is not None else "reseller_account",
            "object_id": service.public_id if service is not None else instance.account_id,
            "after": {
                "account": instance.account_id,
                "command": instance.action,
                "idempotency_key": instance.idempotency_key,
                "status": (instance.response or {}).get("status", ""),
            },
        }
    )


def connect() -> None:
    post_save.connect(
        on_balance_entry_saved, sender=BalanceEntry, dispatch_uid="audit.balance_entry"
    )
    post_save.connect(
        on_upstream_request_saved, sender=UpstreamRequest, dispatch_uid="audit.upstream_request"
    )
