"""Reconciliation: for every resold service, what the reseller bills, what the provider
holds and what the server reports, compared; every difference is a ``DriftItem``.

It runs in one reseller's schema (the Celery beat fans it out to every tenant that buys
from this installation's provider, retail brand included; either console can start it
for one tenant). Services are read in batches with a fixed number of queries each, plus
one panel read per service. Safe differences are repaired by commands the normal flow
already knows:

- the reseller bills options the provider does not hold → a ``change_options`` command;
- suspended at the provider by the reseller while active and paid here → ``unsuspend``;
  active at the provider while suspended here → ``suspend``;
- the server's status or resources differ from the provider's → the provisioning job
  that sets them again.

Everything else (a different plan or cycle, a service the provider does not hold or has
terminated, a paid-until date behind, an account missing on the server, a service the
provider holds that the reseller no longer bills) waits for a person. A service with a
command still in flight is left for the next run. Running twice finds the same items
and repairs nothing twice; once the repairs are done, a run finds nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from billing.models import Service, ServiceOption
from resale.billing_bridge import CARRIES_OPTIONS, resold_options
from resale.models import (
    DriftItem,
    RemoteDriftItem,
    ResaleCredential,
    ResellerAccount,
    UpstreamCommand,
    UpstreamLink,
    UpstreamService,
)
from resale.outbox import upstream_command_queue
from resale.provisioning_bridge import (
    upstream_service_provision,
    upstream_services_expected,
    upstream_services_server_state,
)
from resale.upstreams import (
    Upstream,
    UpstreamRejected,
    UpstreamUnavailable,
    upstream_for_current_tenant,
)

logger = logging.getLogger(__name__)

BATCH = 200
K = DriftItem.Kind
# Compared numerically: a panel may report 4096.0 for 4096.
_NUMBER = (int, float)


@dataclass(frozen=True)
class Finding:
    service_ref: str
    kind: str
    expected: str
    found: str
    upstream_service_id: int | None = None
    repair: str = ""  # the command or job that repairs it; empty: a person decides


@dataclass
class ReconciliationResult:
    checked: int = 0
    found: list[Finding] = field(default_factory=list)
    repaired: int = 0

    @property
    def kinds(self) -> set[str]:
        return {finding.kind for finding in self.found}


def _options_key(options: list[dict] | dict) -> list[tuple[str, str, int]]:
    """Options as comparable (option, choice, quantity) triples, from either the
    command's list or the provider's mapping."""
    if isinstance(options, dict):
        items = [{"option": code, **value} for code, value in options.items()]
    else:
        items = options
    return sorted(
        (str(o.get("option", "")), str(o.get("choice", "")), int(o.get("quantity", 1)))
        for o in items
    )


def _describe(options: list[tuple[str, str, int]]) -> str:
    return ", ".join(f"{o}={c}×{q}" for o, c, q in options) or "none"


def _same(expected: Any, found: Any) -> bool:
    if isinstance(expected, _NUMBER) and isinstance(found, _NUMBER):
        return float(expected) == float(found)
    if isinstance(expected, list) and isinstance(found, list):
        return sorted(map(str, expected)) == sorted(map(str, found))
    return expected == found


def _account() -> ResellerAccount | None:
    schema = connection.schema_name
    with schema_context(get_public_schema_name()):
        return ResellerAccount.objects.filter(tenant__schema_name=schema).first()


def reconciliation_run(*, repair: bool = True, batch: int = BATCH) -> ReconciliationResult:
    """Reconciles the current tenant's resold services (run in the tenant's schema)."""
    result = ReconciliationResult()
    if UpstreamLink.objects.filter(kind=UpstreamLink.Kind.REMOTE).exists():
        return _remote_run(upstream_for_current_tenant(), repair=repair, batch=batch)
    account = _account()
    if account is None:
        return result
    schema = connection.schema_name
    seen_upstream: set[int] = set()
    seen_refs: set[str] = set()
    last_pk = 0
    while True:
        services = _services_batch(last_pk, batch)
        if not services:
            break
        last_pk = services[-1].pk
        findings, upstream_ids, refs = _batch_compare(account, services)
        seen_upstream |= upstream_ids
        seen_refs |= {str(s.public_id) for s in services}
        result.checked += len(services)
        result.found += findings
        result.repaired += _record(account, schema, findings, refs, repair=repair)
    api_refs = _api_refs(account)
    if api_refs:
        # The account buys over the resale API: what it bills is another installation's
        # to compare (it asks GET services/). Here the provider's own servers are checked.
        unbilled = _servers_only(account, seen_upstream)
        refs = api_refs | {f.service_ref for f in unbilled}
        result.repaired += _record(account, schema, unbilled, refs, repair=repair)
    else:
        unbilled = _unbilled(account, seen_upstream)
        refs = {f.service_ref for f in unbilled}
        _record(account, schema, unbilled, refs, repair=False)
    result.found += unbilled
    _resolve_gone(account, seen_refs | refs)
    return result


@dataclass(frozen=True)
class Held:
    """What the provider holds of one service, from its own row or from its resale API."""

    ref: str
    plan: str
    cycle: str
    status: str
    suspend_reason: str
    next_due_date: date | None
    options: list[dict] | dict
    pk: int | None = None

    @classmethod
    def of(cls, service: UpstreamService) -> Held:
        return cls(
            service.public_id,
            service.plan.code,
            service.cycle,
            service.status,
            service.suspend_reason,
            service.next_due_date,
            service.options or {},
            service.pk,
        )

    @classmethod
    def reported(cls, row: dict) -> Held:
        due = row.get("next_due_date")
        return cls(
            str(row.get("service_ref", "")),
            str(row.get("plan", "")),
            str(row.get("cycle", "")),
            str(row.get("status", "")),
            str(row.get("suspend_reason") or ""),
            date.fromisoformat(due) if due else None,
            list(row.get("options") or []),
        )


@dataclass(frozen=True)
class Billed:
    """What the tenant bills for a batch of services, read in its schema."""

    upstream_refs: dict[str, str]  # service ref -> the upstream's ref
    in_flight: set[str]
    options: dict[int, list[dict]]  # service pk -> resold options


def _billed(services: list[Service]) -> Billed:
    refs = [str(s.public_id) for s in services]
    creates = dict(
        UpstreamCommand.objects.filter(service_ref__in=refs, action="create")
        .exclude(upstream_ref="")
        .values_list("service_ref", "upstream_ref")
    )
    in_flight = set(
        UpstreamCommand.objects.filter(
            service_ref__in=refs,
            state__in=[
                UpstreamCommand.State.PENDING,
                UpstreamCommand.State.SENT,
                UpstreamCommand.State.AWAITING_FUNDS,
            ],
        ).values_list("service_ref", flat=True)
    )
    local_options: dict[int, list[dict]] = {}
    for option in (
        ServiceOption.objects.filter(service__in=services)
        .exclude(option__upstream_option_ref="")
        .select_related("option", "choice")
    ):
        local_options.setdefault(option.service_id, []).append(
            {
                "option": option.option.upstream_option_ref,
                "choice": option.choice.upstream_choice_ref,
                "quantity": option.quantity,
            }
        )
    return Billed(creates, in_flight, local_options)


def _provider_compare(
    service: Service, found: Held, billed: Billed, add: Callable[..., None]
) -> tuple[bool, bool] | None:
    """Compares what the tenant bills with what the provider holds. None when the
    provider's service is not live (nothing more to compare); else whether the options
    and the status differ."""
    if found.status not in _LIVE:
        if found.status != UpstreamService.Status.PROVISIONING:
            add(K.UPSTREAM_TERMINATED, service.status, found.status)
        return None
    if found.plan != service.plan.upstream_plan_ref:
        add(K.PLAN, service.plan.upstream_plan_ref, found.plan)
    cycle = service.plan.upstream_cycle or service.billing_cycle
    if found.cycle != cycle:
        add(K.CYCLE, cycle, found.cycle)
    wanted = _options_key(billed.options.get(service.pk, []))
    held = _options_key(found.options)
    options_drift = wanted != held
    if options_drift:
        add(K.OPTIONS, _describe(wanted), _describe(held), "change_options")
    status_drift = _status_compare(service, found, add)
    today = timezone.localdate()
    if found.next_due_date and found.next_due_date < today and service.status == "active":
        add(K.PAID_UNTIL, f"paid beyond {today}", str(found.next_due_date))
    return options_drift, status_drift


def _services_batch(last_pk: int, batch: int) -> list[Service]:
    """The next batch of the tenant's live resold services."""
    return list(
        Service.objects.filter(
            pk__gt=last_pk,
            status__in=[Service.Status.ACTIVE, Service.Status.SUSPENDED],
        )
        .exclude(plan__upstream_plan_ref="")
        .select_related("plan")
        .order_by("pk")[:batch]
    )


def _batch_compare(
    account: ResellerAccount, services: list[Service]
) -> tuple[list[Finding], set[int], set[str]]:
    """Findings of one batch, the provider's services it matched, and the references
    compared (a service with a command in flight is left for the next run)."""
    billed = _billed(services)
    with schema_context(get_public_schema_name()):
        upstream = {
            u.public_id: u
            for u in UpstreamService.objects.filter(
                account=account, public_id__in=list(billed.upstream_refs.values())
            ).select_related("plan")
        }
        live = [u for u in upstream.values() if u.status in _LIVE]
        servers = upstream_services_server_state(upstream_service_ids=[u.pk for u in live])
        expected = upstream_services_expected(services=live)

    findings: list[Finding] = []
    for service in services:
        ref = str(service.public_id)
        if ref in billed.in_flight:
            continue
        found = upstream.get(billed.upstream_refs.get(ref, ""))
        if found is None:
            findings.append(Finding(ref, K.MISSING_UPSTREAM, "a service at the provider", "none"))
            continue
        add = _adder(findings, ref, found.pk)
        compared = _provider_compare(service, Held.of(found), billed, add)
        if compared is None:
            continue
        options_drift, status_drift = compared
        state = servers.get(found.pk)
        if state is None:
            continue  # the panel could not be asked: next run
        if state.status == "missing":
            add(K.SERVER_MISSING, "an account on the server", "none")
            continue
        if not status_drift and state.status != found.status:
            repair = "server:unsuspend" if found.status == "active" else "server:suspend"
            add(K.SERVER_STATUS, found.status, state.status, repair)
        if not options_drift:
            package, options = expected[found.pk]
            differs = _server_differences(package, options, state)
            if differs:
                wanted, reported = differs
                add(K.SERVER_OPTIONS, wanted, reported, "server:change_options")
    compared = {str(s.public_id) for s in services} - billed.in_flight
    return findings, {u.pk for u in upstream.values()}, compared


_LIVE = (UpstreamService.Status.ACTIVE, UpstreamService.Status.SUSPENDED)


def _adder(findings: list[Finding], ref: str, upstream_id: int | None) -> Callable[..., None]:
    def add(kind: str, expected: Any, found: Any, repair: str = "") -> None:
        findings.append(
            Finding(ref, kind, str(expected)[:500], str(found)[:500], upstream_id, repair)
        )

    return add


def _status_compare(service: Service, found: Held, add: Callable[..., None]) -> bool:
    if service.status == Service.Status.ACTIVE and found.status == UpstreamService.Status.SUSPENDED:
        if found.suspend_reason == UpstreamService.SuspendReason.UNPAID:
            # The reseller's balance did not cover the renewal: a top-up repairs it.
            add(K.SUSPENDED_UPSTREAM, "active", "suspended (renewal unpaid)")
        else:
            add(K.SUSPENDED_UPSTREAM, "active", "suspended", "unsuspend")
        return True
    if service.status == Service.Status.SUSPENDED and found.status == UpstreamService.Status.ACTIVE:
        add(K.ACTIVE_UPSTREAM, "suspended", "active", "suspend")
        return True
    return False


def _server_differences(package: str, options: dict, state) -> tuple[str, str] | None:
    """What the server should hold and what it reports, for the resources it can report."""
    wanted, reported = [], []
    expected_package = str(options.get("package") or package)
    if state.package and expected_package and state.package != expected_package:
        wanted.append(f"package={expected_package}")
        reported.append(f"package={state.package}")
    for key, value in sorted(state.options.items()):
        if key in options and not _same(options[key], value):
            wanted.append(f"{key}={options[key]}")
            reported.append(f"{key}={value}")
    if not wanted:
        return None
    return ", ".join(wanted), ", ".join(reported)


def _api_refs(account: ResellerAccount) -> set[str]:
    """The references of the live services of an account that buys over the resale API
    (one with a credential in force); empty for any other account."""
    if not ResaleCredential.objects.filter(account=account, revoked_at__isnull=True).exists():
        return set()
    with schema_context(get_public_schema_name()):
        return {
            f"upstream:{public_id}"
            for public_id in UpstreamService.objects.filter(
                account=account, status__in=_LIVE
            ).values_list("public_id", flat=True)
        }


def _servers_only(account: ResellerAccount, seen_upstream: set[int]) -> list[Finding]:
    """The provider against its servers, for services billed by another installation:
    status and resources as the module reports them, a batch at a time."""
    findings: list[Finding] = []
    last_pk = 0
    with schema_context(get_public_schema_name()):
        while True:
            batch = list(
                UpstreamService.objects.filter(account=account, status__in=_LIVE, pk__gt=last_pk)
                .exclude(pk__in=seen_upstream)
                .select_related("plan")
                .order_by("pk")[:BATCH]
            )
            if not batch:
                return findings
            last_pk = batch[-1].pk
            servers = upstream_services_server_state(upstream_service_ids=[u.pk for u in batch])
            expected = upstream_services_expected(services=batch)
            for found in batch:
                state = servers.get(found.pk)
                if state is None:
                    continue
                add = _adder(findings, f"upstream:{found.public_id}", found.pk)
                if state.status == "missing":
                    add(K.SERVER_MISSING, "an account on the server", "none")
                    continue
                if state.status != found.status:
                    repair = "server:unsuspend" if found.status == "active" else "server:suspend"
                    add(K.SERVER_STATUS, found.status, state.status, repair)
                package, options = expected[found.pk]
                differs = _server_differences(package, options, state)
                if differs:
                    add(K.SERVER_OPTIONS, *differs, "server:change_options")


def _unbilled(account: ResellerAccount, seen_upstream: set[int]) -> list[Finding]:
    """Services the provider runs (and charges for) that the reseller no longer bills."""
    findings = []
    with schema_context(get_public_schema_name()):
        rows = (
            UpstreamService.objects.filter(account=account, status__in=_LIVE)
            .exclude(pk__in=seen_upstream)
            .values_list("pk", "public_id", "status")
        )
        for pk, public_id, status in rows.iterator(chunk_size=BATCH):
            findings.append(
                Finding(f"upstream:{public_id}", K.NOT_BILLED, "not billed", status, pk)
            )
    return findings


def _record(
    account: ResellerAccount,
    schema: str,
    findings: list[Finding],
    refs: set[str],
    *,
    repair: bool,
) -> int:
    """Writes the batch's items (one per service and kind), resolves the batch's items not
    found again, and sends the repairs. Returns how many repairs were sent."""
    repaired = 0
    with schema_context(get_public_schema_name()), transaction.atomic():

        def create(finding: Finding, state: str) -> None:
            DriftItem.objects.create(
                account=account,
                upstream_service_id=finding.upstream_service_id,
                service_ref=finding.service_ref,
                kind=finding.kind,
                state=state,
                expected=finding.expected,
                found=finding.found,
                repair=finding.repair,
            )

        _items_write(
            DriftItem.objects.filter(account=account), create, findings, refs, repair=repair
        )
        for finding in findings:
            if repair and finding.repair.startswith("server:"):
                service = UpstreamService.objects.get(pk=finding.upstream_service_id)
                upstream_service_provision(
                    service=service, action=finding.repair.removeprefix("server:")
                )
                repaired += 1
    if repair:
        with schema_context(schema), transaction.atomic():
            for finding in findings:
                if finding.repair and not finding.repair.startswith("server:"):
                    _command_repair(finding)
                    repaired += 1
    return repaired


_OPEN_STATES = [DriftItem.State.OPEN, DriftItem.State.REPAIRING]


def _items_write(
    items: QuerySet,
    create: Callable[[Finding, str], None],
    findings: list[Finding],
    refs: set[str],
    *,
    repair: bool,
) -> None:
    """One live item per service and kind: new findings are added, those found again
    updated, and the live items of ``refs`` not found again resolved. The caller holds
    the transaction."""
    live = {
        (item.service_ref, item.kind): item
        for item in items.select_for_update().filter(service_ref__in=refs, state__in=_OPEN_STATES)
    }
    current = {(f.service_ref, f.kind) for f in findings}
    gone = [item.pk for key, item in live.items() if key not in current]
    items.filter(pk__in=gone).update(state=DriftItem.State.RESOLVED, resolved_at=timezone.now())
    for finding in findings:
        item = live.get((finding.service_ref, finding.kind))
        state = DriftItem.State.REPAIRING if finding.repair and repair else DriftItem.State.OPEN
        if item is None:
            create(finding, state)
        else:
            item.expected, item.found, item.state = finding.expected, finding.found, state
            item.save(update_fields=["expected", "found", "state", "last_seen_at"])


def _command_repair(finding: Finding) -> None:
    """Queues the tenant command that brings the provider in line with what is billed."""
    service = Service.objects.get(public_id=finding.service_ref)
    upstream_ref = (
        UpstreamCommand.objects.filter(service_ref=finding.service_ref, action="create")
        .exclude(upstream_ref="")
        .values_list("upstream_ref", flat=True)
        .first()
    )
    payload: dict[str, Any] = {"service_ref": upstream_ref}
    if finding.repair in CARRIES_OPTIONS:
        payload["options"] = resold_options(service)
    upstream_command_queue(action=finding.repair, service_ref=finding.service_ref, payload=payload)


def _resolve_gone(account: ResellerAccount, seen_refs: set[str]) -> None:
    """Items of services that are no longer resold here (terminated since) are over."""
    with schema_context(get_public_schema_name()):
        DriftItem.objects.filter(account=account, state__in=_OPEN_STATES).exclude(
            service_ref__in=seen_refs
        ).update(state=DriftItem.State.RESOLVED, resolved_at=timezone.now())


# --- a tenant that buys from a remote installation ----------------------------------------


def _remote_run(upstream: Upstream, *, repair: bool, batch: int) -> ReconciliationResult:
    """What this tenant bills against what its remote provider reports through the resale
    API (``GET services/``: plan, cycle, status, paid-until, options). Items live in this
    tenant's schema (``RemoteDriftItem``); the safe kinds are repaired by the same
    commands, which travel over the API. The provider's servers are that installation's
    to reconcile. An upstream that cannot be read changes nothing: the next run tries."""
    result = ReconciliationResult()
    try:
        held = _remote_services(upstream, batch)
    except (UpstreamUnavailable, UpstreamRejected) as exc:
        logger.warning("Reconciliation could not read the remote upstream: %s", exc)
        return result
    matched: set[str] = set()
    seen_refs: set[str] = set()
    last_pk = 0
    while True:
        services = _services_batch(last_pk, batch)
        if not services:
            break
        last_pk = services[-1].pk
        billed = _billed(services)
        findings: list[Finding] = []
        for service in services:
            ref = str(service.public_id)
            seen_refs.add(ref)
            upstream_ref = billed.upstream_refs.get(ref, "")
            if upstream_ref:
                matched.add(upstream_ref)
            if ref in billed.in_flight:
                continue
            found = held.get(upstream_ref)
            if found is None:
                findings.append(
                    Finding(ref, K.MISSING_UPSTREAM, "a service at the provider", "none")
                )
                continue
            _provider_compare(service, found, billed, _adder(findings, ref, None))
        compared = {str(s.public_id) for s in services} - billed.in_flight
        result.checked += len(services)
        result.found += findings
        result.repaired += _remote_record(findings, compared, billed.upstream_refs, repair=repair)
    unbilled = [
        Finding(f"upstream:{ref}", K.NOT_BILLED, "not billed", found.status)
        for ref, found in sorted(held.items())
        if ref not in matched and found.status in _LIVE
    ]
    result.found += unbilled
    _remote_record(unbilled, {f.service_ref for f in unbilled}, {}, repair=False)
    RemoteDriftItem.objects.filter(state__in=_OPEN_STATES).exclude(
        service_ref__in=seen_refs | {f.service_ref for f in unbilled}
    ).update(state=DriftItem.State.RESOLVED, resolved_at=timezone.now())
    return result


def _remote_services(upstream: Upstream, batch: int) -> dict[str, Held]:
    """Every service the remote provider holds for this tenant, a page per call."""
    held: dict[str, Held] = {}
    after = ""
    while True:
        page = upstream.services(after=after, limit=batch)
        for row in page["results"]:
            found = Held.reported(row)
            held[found.ref] = found
        after = page.get("next") or ""
        if not after:
            return held


def _remote_record(
    findings: list[Finding], refs: set[str], upstream_refs: dict[str, str], *, repair: bool
) -> int:
    repaired = 0
    with transaction.atomic():

        def create(finding: Finding, state: str) -> None:
            RemoteDriftItem.objects.create(
                service_ref=finding.service_ref,
                upstream_ref=upstream_refs.get(finding.service_ref)
                or finding.service_ref.removeprefix("upstream:"),
                kind=finding.kind,
                state=state,
                expected=finding.expected,
                found=finding.found,
                repair=finding.repair,
            )

        _items_write(RemoteDriftItem.objects.all(), create, findings, refs, repair=repair)
        if repair:
            for finding in findings:
                if finding.repair:
                    _command_repair(finding)
                    repaired += 1
    return repaired
