"""The provider's decisions about what reconciliation found (``DriftItem``): run it now
for one reseller or for all, send the repair of one safe item (the very command or panel
job reconciliation sends itself), or resolve an item by hand with a reason. Repairs and
resolutions are audited in the public schema. Items name services by the reseller's
random service id and the provider's upstream service, never a client."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from audit.services import audit_record
from resale.models import DriftItem, ResellerAccount, UpstreamService
from resale.provisioning_bridge import upstream_service_provision

# The repair reconciliation itself queues for a finding; one home for what a repair is.
from resale.reconciliation import Finding, _command_repair
from resale.services import ResaleError
from resale.tasks import in_schema, reconciliation_run_task

_SERVER = "server:"


def reconciliation_queue(*, account: ResellerAccount | None = None) -> int:
    """Queues a reconciliation run in the reseller's schema, or in every reseller's;
    returns how many were queued. Its findings replace the open items of each run."""
    accounts = ResellerAccount.objects.select_related("tenant").order_by("pk")
    if account is not None:
        accounts = accounts.filter(pk=account.pk)
    schemas = [a.tenant.schema_name for a in accounts]
    for schema in schemas:
        in_schema(schema, reconciliation_run_task)
    return len(schemas)


def _item_locked(item_id: int) -> DriftItem:
    item = (
        DriftItem.objects.select_for_update()
        .select_related("account__tenant")
        .filter(pk=item_id)
        .first()
    )
    if item is None:
        raise ResaleError("No such item.", code="not_found")
    if item.state == DriftItem.State.RESOLVED:
        raise ResaleError("The item is already resolved.")
    if not item.repair:
        raise ResaleError(
            "This difference has no safe repair: a person decides, then resolves it by hand."
        )
    if item.state == DriftItem.State.REPAIRING:
        # A second click must not send a second command.
        raise ResaleError(
            "Its repair is already on its way; run reconciliation again to see it done."
        )
    return item


def _repair_mark(item: DriftItem) -> None:
    item.state = DriftItem.State.REPAIRING
    item.save(update_fields=["state", "last_seen_at"])
    audit_record(
        action="drift.repair_sent",
        object_type="drift_item",
        object_id=item.pk,
        before={"state": DriftItem.State.OPEN},
        after={"state": item.state, "kind": item.kind, "repair": item.repair},
    )


def drift_item_repair(*, item_id: int) -> DriftItem:
    """Sends the item's repair once: a panel job on the provider's side, or a command in
    the reseller's outbox (written in its schema, so that its task is sent there)."""
    with schema_context(get_public_schema_name()), transaction.atomic():
        probe = _item_locked(item_id)
        if probe.repair.startswith(_SERVER):
            service = UpstreamService.objects.get(pk=probe.upstream_service_id)
            upstream_service_provision(service=service, action=probe.repair.removeprefix(_SERVER))
            _repair_mark(probe)
            return probe
        schema = probe.account.tenant.schema_name
    # A command repair commits in the reseller's schema: the outer transaction below is
    # the tenant's, and the item's row lock is taken again inside it.
    with schema_context(schema), transaction.atomic():
        with schema_context(get_public_schema_name()):
            item = _item_locked(item_id)
            _repair_mark(item)
        _command_repair(
            Finding(
                item.service_ref,
                item.kind,
                item.expected,
                item.found,
                item.upstream_service_id,
                item.repair,
            )
        )
    return item


@transaction.atomic
def drift_item_resolve(*, item_id: int, reason: str) -> DriftItem:
    """A person has dealt with the difference. If the next run finds it again, it is a
    new item."""
    reason = reason.strip()
    if not reason:
        raise ResaleError("Say how the difference was resolved.")
    item = DriftItem.objects.select_for_update().filter(pk=item_id).first()
    if item is None:
        raise ResaleError("No such item.", code="not_found")
    if item.state == DriftItem.State.RESOLVED:
        raise ResaleError("The item is already resolved.")
    before = item.state
    item.state = DriftItem.State.RESOLVED
    item.resolved_at = timezone.now()
    item.save(update_fields=["state", "resolved_at", "last_seen_at"])
    audit_record(
        action="drift.resolved",
        object_type="drift_item",
        object_id=item.pk,
        before={"state": before},
        after={"state": item.state, "kind": item.kind, "reason": reason},
    )
    return item
