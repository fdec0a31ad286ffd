"""The provider side of resale: balances, prices and the commands resellers send upstream.

Every command a reseller sends carries its own idempotency key. ``upstream_command_accept``
handles one in a single transaction with the reseller's account row locked, so concurrent
orders are serialised per reseller, the balance never goes below minus the credit limit,
and the same key twice returns the first response and moves no money.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from billing.cycles import CYCLE_MONTHS, add_months, cycle_end, cycle_validate
from billing.money import Money, amount_validate
from core.locale import money_format
from provisioning.services import ProvisioningError
from resale.models import (
    BalanceEntry,
    PriceList,
    ResellerAccount,
    UpstreamDomain,
    UpstreamRequest,
    UpstreamService,
    WholesaleOption,
    WholesaleOptionPrice,
    WholesalePlan,
    WholesalePrice,
)
from tenants.models import Tenant

logger = logging.getLogger(__name__)


class ResaleError(Exception):
    """A command the provider refuses, with a message the reseller can act on."""

    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class InsufficientFunds(ResaleError):
    code = "insufficient_funds"


_AT_COST = (
    "The provider's retail brand buys at cost: its account can only be on a price list "
    "marked as the provider's cost."
)


def retail_price_list_check(*, tenant: Tenant, price_list: PriceList | None) -> None:
    """The retail brand's account may only be put on a cost list."""
    if tenant.kind == Tenant.Kind.RETAIL and (price_list is None or not price_list.is_cost):
        raise ResaleError(_AT_COST, code="not_at_cost")


ACTIONS = {"create", "suspend", "unsuspend", "terminate", "renew", "change_plan", "change_options"}


def reseller_account_create(
    *,
    tenant: Tenant,
    legal_name: str,
    currency: str = "EUR",
    price_list: PriceList | None = None,
    credit_limit: Decimal = Decimal(0),
    address: str = "",
    country: str = "",
    vat_number: str = "",
    billing_email: str = "",
) -> ResellerAccount:
    retail = tenant.kind == Tenant.Kind.RETAIL
    if price_list is None and retail:
        price_list = PriceList.objects.filter(is_cost=True, currency=currency).first()
    elif price_list is None:
        price_list = PriceList.objects.filter(is_default=True, currency=currency).first()
    else:
        retail_price_list_check(tenant=tenant, price_list=price_list)
    if price_list is not None and price_list.currency != currency:
        raise ResaleError(
            f"The price list “{price_list.name}” is in {price_list.currency}, "
            f"not in the account's {currency}."
        )
    if credit_limit < 0:
        raise ResaleError("A credit limit cannot be negative.")
    return ResellerAccount.objects.create(
        tenant=tenant,
        legal_name=legal_name,
        currency=currency,
        price_list=price_list,
        credit_limit=credit_limit,
        address=address,
        country=country.upper(),
        vat_number=vat_number,
        billing_email=billing_email,
    )


def reseller_balance(*, account: ResellerAccount) -> Money:
    total = account.entries.aggregate(total=Sum("amount_value"))["total"] or Decimal(0)
    return Money(total, account.currency)


def reseller_available(*, account: ResellerAccount) -> Money:
    """What the reseller may still spend: its balance plus its credit limit."""
    return reseller_balance(account=account) + Money(account.credit_limit, account.currency)


def _entry_append(
    *,
    account: ResellerAccount,
    kind: str,
    amount: Money,
    description: str,
    idempotency_key: str | None = None,
    upstream_service: UpstreamService | None = None,
    created_by: str = "",
    upstream_domain: UpstreamDomain | None = None,
) -> tuple[BalanceEntry, bool]:
    if amount.currency != account.currency:
        raise ResaleError(
            f"The account is kept in {account.currency}; this amount is in {amount.currency}."
        )
    if idempotency_key:
        existing = BalanceEntry.objects.filter(
            account=account, idempotency_key=idempotency_key
        ).first()
        if existing:
            return existing, False
    try:
        with transaction.atomic():
            entry = BalanceEntry(
                account=account,
                kind=kind,
                description=description[:255],
                idempotency_key=idempotency_key,
                upstream_service=upstream_service,
                upstream_domain=upstream_domain,
                created_by=created_by,
            )
            entry.amount = amount.rounded()
            entry.save()
    except IntegrityError:
        # A concurrent twin won the unique key: its entry is the one.
        return BalanceEntry.objects.get(account=account, idempotency_key=idempotency_key), False
    return entry, True


def balance_entry_append(
    *,
    account: ResellerAccount,
    kind: str,
    amount: Money,
    description: str,
    idempotency_key: str | None = None,
    upstream_service: UpstreamService | None = None,
    created_by: str = "",
    upstream_domain: UpstreamDomain | None = None,
) -> tuple[BalanceEntry, bool]:
    """One ledger row, once per idempotency key; returns it and whether it is new. The
    caller holds the account's lock."""
    return _entry_append(
        account=account,
        kind=kind,
        amount=amount,
        description=description,
        idempotency_key=idempotency_key,
        upstream_service=upstream_service,
        created_by=created_by,
        upstream_domain=upstream_domain,
    )


def _lock(account: ResellerAccount) -> ResellerAccount:
    return ResellerAccount.objects.select_for_update().get(pk=account.pk)


@transaction.atomic
def reseller_balance_topup(
    *,
    account: ResellerAccount,
    amount: Any,
    reference: str,
    idempotency_key: str,
    created_by: str = "",
) -> BalanceEntry:
    """Money in. After commit, commands waiting for funds are released."""
    money = amount_validate(amount, account.currency)
    if not money:
        raise ResaleError("A top-up must be more than zero.")
    account = _lock(account)
    entry, created = _entry_append(
        account=account,
        kind=BalanceEntry.Kind.TOPUP,
        amount=money,
        description=f"Top-up {reference}".strip(),
        idempotency_key=idempotency_key,
        created_by=created_by,
    )
    if created:
        account.low_balance_alerted_at = None
        account.save(update_fields=["low_balance_alerted_at"])
        transaction.on_commit(lambda: _funds_arrived(account), robust=True)
    return entry


@transaction.atomic
def reseller_balance_adjust(
    *,
    account: ResellerAccount,
    amount: Any,
    reason: str,
    created_by: str,
    idempotency_key: str | None = None,
) -> BalanceEntry:
    if not reason.strip():
        raise ResaleError("An adjustment needs a reason.")
    money = amount_validate(amount, account.currency, allow_negative=True)
    if not money:
        raise ResaleError("An adjustment of zero changes nothing.")
    account = _lock(account)
    entry, created = _entry_append(
        account=account,
        kind=BalanceEntry.Kind.ADJUSTMENT,
        amount=money,
        description=reason,
        idempotency_key=idempotency_key,
        created_by=created_by,
    )
    if created and money.amount > 0:
        transaction.on_commit(lambda: _funds_arrived(account), robust=True)
    return entry


def _funds_arrived(account: ResellerAccount) -> None:
    # resale.hooks calls back into this module; it is looked up at call time.
    from resale import hooks

    hooks.funds_arrived(account)


def account_price_list_id(*, account: ResellerAccount) -> int | None:
    """The price list every wholesale price of ``account`` is read from. The retail brand
    is priced only from a cost list: were its account ever put on another (by hand, by an
    old row), its commands are refused rather than debited with a reseller's markup."""
    row = (
        ResellerAccount.objects.filter(pk=account.pk)
        .values("tenant__kind", "price_list__is_cost")
        .first()
    )
    if row and row["tenant__kind"] == Tenant.Kind.RETAIL and not row["price_list__is_cost"]:
        raise ResaleError(_AT_COST, code="not_at_cost")
    return account.price_list_id


def wholesale_price(*, account: ResellerAccount, plan: WholesalePlan, cycle: str) -> Money:
    try:
        row = WholesalePrice.objects.get(
            price_list=account_price_list_id(account=account), plan=plan, cycle=cycle
        )
    except WholesalePrice.DoesNotExist as exc:
        raise ResaleError(
            f"The plan “{plan.code}” has no {cycle} price on your price list.",
            code="no_price",
        ) from exc
    if row.currency != account.currency:
        raise ResaleError("The price list and the account use different currencies.")
    return Money(row.price_amount + row.setup_fee_amount, row.currency)


def wholesale_options_resolve(*, plan: WholesalePlan, requested: Any) -> dict[str, dict]:
    """The options a command asks for, checked against what the provider sells with the
    plan: ``[{"option": code, "choice": code, "quantity": n}]`` becomes the service's
    ``{option: {"choice", "quantity", "settings"}}``, with the module settings the choice
    makes (per unit, multiplied by the quantity)."""
    if requested in (None, ""):
        return {}
    if not isinstance(requested, list):
        raise ResaleError("options must be a list of {option, choice, quantity}.")
    wanted: dict[str, tuple[str, int]] = {}
    for item in requested:
        if not isinstance(item, dict):
            raise ResaleError("options must be a list of {option, choice, quantity}.")
        code, choice = str(item.get("option", "")), str(item.get("choice", ""))
        try:
            quantity = int(item.get("quantity", 1))
        except (TypeError, ValueError) as exc:
            raise ResaleError(f"The quantity of “{code}” is not a whole number.") from exc
        if code in wanted:
            raise ResaleError(f"The option “{code}” is given twice.")
        wanted[code] = (choice, quantity)
    if not wanted:
        return {}
    options = {
        option.code: option
        for option in WholesaleOption.objects.filter(code__in=wanted, plans=plan)
        .prefetch_related("choices")
        .distinct()
    }
    resolved: dict[str, dict] = {}
    for code, (choice_code, quantity) in sorted(wanted.items()):
        option = options.get(code)
        if option is None:
            raise ResaleError(
                f"The plan “{plan.code}” has no option “{code}”.", code="unknown_option"
            )
        if not option.is_active:
            raise ResaleError(
                f"The option “{code}” is withdrawn and takes no orders.", code="option_withdrawn"
            )
        choice = next((c for c in option.choices.all() if c.code == choice_code), None)
        if choice is None:
            raise ResaleError(
                f"The option “{code}” has no choice “{choice_code}”.", code="unknown_option"
            )
        limit = option.max_quantity if option.kind == WholesaleOption.Kind.QUANTITY else 1
        if not 0 < quantity <= limit:
            raise ResaleError(f"The quantity of “{code}” must be between 1 and {limit}.")
        resolved[code] = {
            "choice": choice.code,
            "quantity": quantity,
            "settings": _settings_times(choice.settings or {}, quantity),
        }
    return resolved


def _settings_times(settings: dict, quantity: int) -> dict:
    return {
        key: value * quantity if isinstance(value, int | float) and quantity != 1 else value
        for key, value in settings.items()
    }


def wholesale_options_price(
    *, account: ResellerAccount, options: dict[str, dict], cycle: str, with_setup: bool = True
) -> Money:
    """One period of the options at the account's price list (setup fees included when
    asked: they are paid once, with the order)."""
    total = Money.zero(account.currency)
    if not options:
        return total
    rows = {
        (row.choice.option.code, row.choice.code): row
        for row in WholesaleOptionPrice.objects.filter(
            price_list=account_price_list_id(account=account),
            cycle=cycle,
            choice__option__code__in=list(options),
        ).select_related("choice__option")
    }
    for code, chosen in options.items():
        row = rows.get((code, chosen["choice"]))
        if row is None:
            raise ResaleError(
                f"The option “{code}” has no {cycle} price on your price list.", code="no_price"
            )
        if row.currency != account.currency:
            raise ResaleError("The price list and the account use different currencies.")
        total += Money(row.price_amount, row.currency) * chosen["quantity"]
        if with_setup:
            total += Money(row.setup_fee_amount, row.currency) * chosen["quantity"]
    return total


def wholesale_recurring_price(
    *, account: ResellerAccount, plan: WholesalePlan, cycle: str, options: dict[str, dict]
) -> Money:
    """One period of plan and options, without setup fees: what a renewal debits."""
    try:
        row = WholesalePrice.objects.get(
            price_list=account_price_list_id(account=account), plan=plan, cycle=cycle
        )
    except WholesalePrice.DoesNotExist as exc:
        raise ResaleError(
            f"The plan “{plan.code}” has no {cycle} price on your price list.", code="no_price"
        ) from exc
    return Money(row.price_amount, row.currency) + wholesale_options_price(
        account=account, options=options, cycle=cycle, with_setup=False
    )


def _request_hash(action: str, payload: dict) -> str:
    return hashlib.sha256(json.dumps([action, payload], sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class CommandResult:
    status: str  # accepted | done | awaiting_funds | rejected
    response: dict
    replayed: bool = False


def reseller_funds_check(*, account: ResellerAccount, price: Money) -> None:
    """Raises InsufficientFunds when balance and credit limit do not cover ``price``."""
    _check_balance(account, price)


def _check_balance(account: ResellerAccount, price: Money) -> None:
    available = reseller_available(account=account)
    if available < price:
        raise InsufficientFunds(
            f"The balance available ({money_format(available)}) does not cover "
            f"{money_format(price)}.",
        )


# Commands whose handlers also take what travels beside the payload and is never stored
# as it came (a domain's registrant contact, a transfer's auth code): see resale.domains.
_HANDLERS_WITH_SECRETS: dict[str, Any] = {}


def command_handler_register(action: str, handler: Any) -> None:
    """Adds a command another module of resale handles (``handler(account, key, payload,
    secrets) -> (upstream_service or None, response)``), under the same idempotency and
    locking as every command."""
    ACTIONS.add(action)
    _HANDLERS_WITH_SECRETS[action] = handler


def upstream_command_accept(
    *,
    account: ResellerAccount,
    idempotency_key: str,
    action: str,
    payload: dict,
    secrets: Any = None,
) -> CommandResult:
    """Handles one command from a reseller, exactly once per idempotency key. ``secrets``
    (domain commands only) are in memory: neither remembered nor part of the request's
    hash."""
    if action not in ACTIONS:
        raise ResaleError(f"Unknown action “{action}”.")
    if not idempotency_key or len(idempotency_key) > 128:
        raise ResaleError("Every command needs an idempotency key of at most 128 characters.")
    request_hash = _request_hash(action, payload)
    try:
        with transaction.atomic():
            locked = _lock(account)
            previous = UpstreamRequest.objects.filter(
                account=locked, idempotency_key=idempotency_key
            ).first()
            if previous is not None:
                if previous.request_hash != request_hash:
                    raise ResaleError(
                        "This idempotency key was already used for a different command.",
                        code="idempotency_conflict",
                    )
                return CommandResult(
                    previous.response.get("status", "done"), previous.response, replayed=True
                )
            if locked.status != ResellerAccount.Status.ACTIVE:
                # Not remembered either: the command waits and goes through by itself
                # once the provider reactivates the account.
                return CommandResult(
                    "awaiting_funds",
                    {
                        "status": "awaiting_funds",
                        "code": "account_suspended",
                        "detail": "Your reseller account is suspended by the provider.",
                    },
                )
            if action in _HANDLERS_WITH_SECRETS:
                service, response = _HANDLERS_WITH_SECRETS[action](
                    locked, idempotency_key, payload, secrets
                )
            else:
                service, response = _HANDLERS[action](locked, idempotency_key, payload)
            UpstreamRequest.objects.create(
                account=locked,
                idempotency_key=idempotency_key,
                action=action,
                request_hash=request_hash,
                response=response,
                upstream_service=service,
            )
            transaction.on_commit(lambda: _low_balance_check(locked.pk), robust=True)
            return CommandResult(response.get("status", "accepted"), response)
    except InsufficientFunds as exc:
        # Not remembered: the same command goes through once the reseller tops up.
        transaction.on_commit(lambda: _low_balance_check(account.pk, force=True), robust=True)
        return CommandResult("awaiting_funds", {"status": "awaiting_funds", "detail": exc.message})


def _service_for(account: ResellerAccount, payload: dict) -> UpstreamService:
    reference = str(payload.get("service_ref", ""))
    service = (
        UpstreamService.objects.select_for_update()
        .filter(account=account, public_id=reference)
        .select_related("plan")
        .first()
    )
    if service is None:
        raise ResaleError(f"No service “{reference}” on your account.", code="not_found")
    return service


def _plan_for(payload: dict) -> WholesalePlan:
    code = str(payload.get("plan", ""))
    plan = WholesalePlan.objects.filter(code=code).first()
    if plan is None:
        raise ResaleError(f"No plan “{code}”.", code="not_found")
    if not plan.is_active:
        raise ResaleError(
            f"The plan “{code}” is withdrawn and takes no orders.", code="plan_withdrawn"
        )
    return plan


def _create(account, key, payload):
    plan = _plan_for(payload)
    try:
        cycle = cycle_validate(str(payload.get("cycle", "")))
    except ValueError as exc:
        raise ResaleError(str(exc)) from exc
    client_ref = str(payload.get("client_ref", ""))
    if not client_ref or "@" in client_ref or len(client_ref) > 64:
        raise ResaleError(
            "client_ref must be a pseudonymous reference of at most 64 "
            "characters, never an e-mail address."
        )
    options = wholesale_options_resolve(plan=plan, requested=payload.get("options"))
    price = wholesale_price(account=account, plan=plan, cycle=cycle) + wholesale_options_price(
        account=account, options=options, cycle=cycle
    )
    _check_balance(account, price)
    service = UpstreamService(
        account=account,
        plan=plan,
        cycle=cycle,
        client_ref=client_ref,
        domain=str(payload.get("domain", ""))[:253],
        currency=price.currency,
        options=options,
    )
    service.price = price
    service.save()
    described = ", ".join(f"{code}={o['choice']}×{o['quantity']}" for code, o in options.items())
    _entry_append(
        account=account,
        kind=BalanceEntry.Kind.ORDER_DEBIT,
        amount=-price,
        description=f"{plan.name} ({cycle})" + (f" + {described}" if described else ""),
        idempotency_key=f"order:{key}",
        upstream_service=service,
    )
    _provision(service, "create")
    return service, {
        "status": "accepted",
        "service_ref": service.public_id,
        "debited": str(price.amount),
        "currency": price.currency,
    }


def _renew(account, key, payload):
    service = _service_for(account, payload)
    if service.status in (UpstreamService.Status.TERMINATED, UpstreamService.Status.FAILED):
        raise ResaleError("A terminated service cannot be renewed.", code="invalid_state")
    result = upstream_service_renew(service=service, account=account)
    return service, {"status": "done", "service_ref": service.public_id, **result}


def upstream_service_renew(*, service: UpstreamService, account: ResellerAccount) -> dict:
    """Debits one wholesale period, once per period whoever asks first (the reseller's
    renew command or the provider's own renewal run). Caller holds the account lock."""
    period_start = service.next_due_date or timezone.localdate()
    price = Money(service.price_amount, service.currency)
    entry_key = f"renewal:{service.public_id}:{period_start.isoformat()}"
    if BalanceEntry.objects.filter(account=account, idempotency_key=entry_key).exists():
        return {
            "period_start": period_start.isoformat(),
            "next_due_date": service.next_due_date.isoformat() if service.next_due_date else None,
        }
    _check_balance(account, price)
    _entry_append(
        account=account,
        kind=BalanceEntry.Kind.RENEWAL_DEBIT,
        amount=-price,
        description=f"Renewal {service.plan.name} from {period_start}",
        idempotency_key=entry_key,
        upstream_service=service,
    )
    service.next_due_date = cycle_end(period_start, service.cycle)
    fields = ["next_due_date", "updated_at"]
    if service.suspend_reason == UpstreamService.SuspendReason.UNPAID:
        service.suspend_reason = ""
        fields.append("suspend_reason")
        _provision(service, "unsuspend")
    service.save(update_fields=fields)
    return {
        "period_start": period_start.isoformat(),
        "next_due_date": service.next_due_date.isoformat() if service.next_due_date else None,
    }


def _state_change(action: str, allowed_from: set[str], new_status: str | None):
    def handler(account, key, payload):
        service = _service_for(account, payload)
        if service.status not in allowed_from:
            raise ResaleError(
                f"Cannot {action.replace('_', ' ')} a service that is {service.status}.",
                code="invalid_state",
            )
        if new_status:
            service.status = new_status
            service.suspend_reason = (
                UpstreamService.SuspendReason.RESELLER if action == "suspend" else ""
            )
            service.save(update_fields=["status", "suspend_reason", "updated_at"])
        _provision(service, action)
        return service, {"status": "accepted", "service_ref": service.public_id}

    return handler


def _changeable(service: UpstreamService, what: str) -> None:
    if service.status not in (UpstreamService.Status.ACTIVE, UpstreamService.Status.SUSPENDED):
        raise ResaleError(
            f"Cannot change the {what} of a service that is {service.status}.",
            code="invalid_state",
        )


def _prorated(service: UpstreamService, difference: Money, on_date: date) -> Money:
    """The share of one period's ``difference`` left between ``on_date`` and the paid-until
    date; the whole difference when the service has no paid period yet."""
    end = service.next_due_date
    if end is None or service.cycle not in CYCLE_MONTHS:
        return difference
    start = add_months(end, -CYCLE_MONTHS[service.cycle])
    if not start <= on_date < end:
        return difference if on_date < start else Money.zero(difference.currency)
    days_total = Decimal((end - start).days)
    days_left = Decimal((end - on_date).days)
    return Money.of(difference.amount * days_left / days_total, difference.currency)


def _reprice(
    account: ResellerAccount,
    service: UpstreamService,
    key: str,
    *,
    plan: WholesalePlan,
    options: dict[str, dict],
    description: str,
) -> Money:
    """Moves the service to ``plan`` with ``options`` now: the reseller is debited the
    rest of the paid period at the new price less the old one, or credited the
    difference on a downgrade. Returns the signed movement (negative: a debit)."""
    old = wholesale_recurring_price(
        account=account, plan=service.plan, cycle=service.cycle, options=service.options or {}
    )
    new = wholesale_recurring_price(
        account=account, plan=plan, cycle=service.cycle, options=options
    )
    # Setup fees of options added now are due once, in full.
    added = {code: o for code, o in options.items() if code not in (service.options or {})}
    setup = wholesale_options_price(
        account=account, options=added, cycle=service.cycle
    ) - wholesale_options_price(
        account=account, options=added, cycle=service.cycle, with_setup=False
    )
    movement = -(_prorated(service, new - old, timezone.localdate()) + setup)
    if movement.amount < 0:
        _check_balance(account, -movement)
        _entry_append(
            account=account,
            kind=BalanceEntry.Kind.ORDER_DEBIT,
            amount=movement,
            description=description,
            idempotency_key=f"change:{key}",
            upstream_service=service,
        )
    elif movement.amount > 0:
        _entry_append(
            account=account,
            kind=BalanceEntry.Kind.REFUND,
            amount=movement,
            description=f"Credit: {description}",
            idempotency_key=f"change:{key}",
            upstream_service=service,
        )
    service.plan = plan
    service.options = options
    service.price = new
    service.save(update_fields=["plan", "options", "price_amount", "updated_at"])
    return movement


def _change_plan(account, key, payload):
    service = _service_for(account, payload)
    _changeable(service, "plan")
    plan = _plan_for(payload)
    options = service.options or {}
    if "options" in payload:
        options = wholesale_options_resolve(plan=plan, requested=payload["options"])
    movement = _reprice(
        account, service, key, plan=plan, options=options, description=f"Plan change to {plan.name}"
    )
    _provision(service, "change_plan")
    return service, {
        "status": "accepted",
        "service_ref": service.public_id,
        "moved": str(movement.amount),
    }


def _change_options(account, key, payload):
    service = _service_for(account, payload)
    _changeable(service, "options")
    options = wholesale_options_resolve(plan=service.plan, requested=payload.get("options", []))
    movement = _reprice(
        account,
        service,
        key,
        plan=service.plan,
        options=options,
        description=f"Options of {service.plan.name} changed",
    )
    _provision(service, "change_options")
    return service, {
        "status": "accepted",
        "service_ref": service.public_id,
        "moved": str(movement.amount),
    }


_ACTIVE = UpstreamService.Status.ACTIVE
_SUSPENDED = UpstreamService.Status.SUSPENDED
_PROVISIONING = UpstreamService.Status.PROVISIONING
_HANDLERS = {
    "create": _create,
    "renew": _renew,
    "change_plan": _change_plan,
    "change_options": _change_options,
    "suspend": _state_change("suspend", {_ACTIVE, _SUSPENDED}, _SUSPENDED),
    "unsuspend": _state_change("unsuspend", {_ACTIVE, _SUSPENDED}, _ACTIVE),
    "terminate": _state_change(
        "terminate",
        {_ACTIVE, _SUSPENDED, _PROVISIONING, UpstreamService.Status.FAILED},
        UpstreamService.Status.TERMINATED,
    ),
}


def _provision(service: UpstreamService, action: str) -> None:
    """Queues the panel job in the caller's transaction, so the accepted command and its
    job commit together: a worker killed right after the commit cannot leave a paid
    service with no job. Only the job's Celery message waits for the commit, and a lost
    one is sent again by ``provisioning_jobs_requeue_stale``. A job that cannot be made
    at all (no server for the plan) fails the service now, with the reason."""
    # resale.hooks calls back into this module; it is looked up at call time.
    from resale import hooks

    try:
        with transaction.atomic():
            hooks.provision(service, action)
    except ProvisioningError as exc:
        logger.warning("No panel job for %s %s: %s", action, service.public_id, exc)
        upstream_service_result(service_id=service.pk, action=action, ok=False, error=str(exc))


def _low_balance_check(account_id: int, *, force: bool = False) -> None:
    # resale.hooks calls back into this module; it is looked up at call time.
    from resale import hooks

    account = ResellerAccount.objects.get(pk=account_id)
    balance = reseller_balance(account=account)
    threshold = Money(account.low_balance_threshold, account.currency)
    if (balance < threshold or force) and account.low_balance_alerted_at is None:
        updated = ResellerAccount.objects.filter(
            pk=account_id, low_balance_alerted_at__isnull=True
        ).update(low_balance_alerted_at=timezone.now())
        if updated:
            hooks.low_balance(account, balance)


def upstream_service_result(
    *,
    service_id: int,
    action: str,
    ok: bool,
    error: str = "",
    provisioned_service_id: int | None = None,
    today: date | None = None,
) -> UpstreamService:
    """What provisioning reports back for a service; the reseller is told after commit."""
    with transaction.atomic():
        service = UpstreamService.objects.select_for_update().get(pk=service_id)
        if provisioned_service_id:
            service.provisioned_service_id = provisioned_service_id
        if ok:
            service.last_error = ""
            if action == "create" and service.status == UpstreamService.Status.PROVISIONING:
                service.status = UpstreamService.Status.ACTIVE
                start = today or timezone.localdate()
                service.next_due_date = cycle_end(start, service.cycle)
        else:
            service.last_error = error[:2000]
            if action == "create" and service.status == UpstreamService.Status.PROVISIONING:
                service.status = UpstreamService.Status.FAILED
                # Nothing was delivered, so nothing is owed.
                upstream_service_refund(
                    service=service,
                    description=f"Refund: {service.plan.name} could not be provisioned",
                )
        service.save()
        transaction.on_commit(lambda: _report(service, action, ok, error), robust=True)
    return service


def upstream_service_refund(*, service: UpstreamService, description: str) -> BalanceEntry | None:
    """Gives back what the account paid for a service net of earlier refunds, if
    anything: a service refunded once and never debited again is refunded no more. The
    caller holds the service's row lock, under which every debit of the service is made."""
    paid = -(service.balance_entries.aggregate(total=Sum("amount_value"))["total"] or Decimal(0))
    if paid <= 0:
        return None
    earlier = service.balance_entries.filter(kind=BalanceEntry.Kind.REFUND).count()
    key = f"refund:{service.public_id}" + (f":{earlier}" if earlier else "")
    entry, _created = _entry_append(
        account=service.account,
        kind=BalanceEntry.Kind.REFUND,
        amount=Money(paid, service.currency),
        description=description,
        idempotency_key=key,
        upstream_service=service,
    )
    return entry


def _report(service: UpstreamService, action: str, ok: bool, error: str) -> None:
    # resale.hooks calls back into this module; it is looked up at call time.
    from resale import hooks

    hooks.report(service, action, ok, error)


def upstream_services_renew_due(
    *, today: date | None = None, grace_days: int | None = None
) -> dict:
    """The provider's renewal run: every upstream service due by ``today`` is renewed from
    its reseller's balance; one that stays unpaid past the grace period is suspended, and
    the reseller's console shows why. Safe to run twice: renewals are keyed by period."""

    today = today or timezone.localdate()
    grace = settings.RESALE_RENEWAL_GRACE_DAYS if grace_days is None else grace_days
    due = (
        UpstreamService.objects.filter(
            status__in=[UpstreamService.Status.ACTIVE, UpstreamService.Status.SUSPENDED],
            next_due_date__lte=today,
        )
        .exclude(cycle="one_time")
        .values_list("pk", "account_id")
        .order_by("account_id", "next_due_date")
    )
    outcome = {"renewed": 0, "short": 0, "suspended": 0}
    for service_id, account_id in due:
        with transaction.atomic():
            account = ResellerAccount.objects.select_for_update().get(pk=account_id)
            service = (
                UpstreamService.objects.select_for_update()
                .select_related("plan")
                .get(pk=service_id)
            )
            if service.next_due_date is None or service.next_due_date > today:
                continue
            try:
                upstream_service_renew(service=service, account=account)
                outcome["renewed"] += 1
                continue
            except InsufficientFunds:
                outcome["short"] += 1
            overdue_days = (today - service.next_due_date).days
            if overdue_days >= grace and service.status == UpstreamService.Status.ACTIVE:
                service.status = UpstreamService.Status.SUSPENDED
                service.suspend_reason = UpstreamService.SuspendReason.UNPAID
                service.last_error = (
                    f"Suspended on {today}: the reseller balance did not cover the renewal "
                    f"due on {service.next_due_date}."
                )
                service.save(update_fields=["status", "suspend_reason", "last_error", "updated_at"])
                outcome["suspended"] += 1
                _provision(service, "suspend")
                transaction.on_commit(
                    lambda a=account: _low_balance_check(a.pk, force=True), robust=True
                )
    return outcome


def wholesale_plan_announce(*, plan: WholesalePlan) -> int:
    """Tells every reseller on a price list that carries the plan that it changed (or was
    withdrawn). Resellers decide about their own prices: nothing is repriced for them."""
    # resale.tasks imports this module; the task is looked up at call time.
    from resale.tasks import in_schema, wholesale_plan_changed_task

    schemas = set(
        ResellerAccount.objects.filter(price_list__prices__plan=plan).values_list(
            "tenant__schema_name", flat=True
        )
    )
    for schema in schemas:
        in_schema(
            schema, wholesale_plan_changed_task, plan.code, plan.name, plan.is_active, plan.version
        )
    return len(schemas)


def wholesale_option_announce(*, option: WholesaleOption) -> int:
    """Tells every reseller whose price list prices the option that it changed (or was
    withdrawn), as for plans: nothing is repriced for them."""
    from resale.tasks import in_schema, wholesale_option_changed_task

    schemas = set(
        ResellerAccount.objects.filter(
            price_list__option_prices__choice__option=option
        ).values_list("tenant__schema_name", flat=True)
    )
    for schema in schemas:
        in_schema(
            schema,
            wholesale_option_changed_task,
            option.code,
            option.name,
            option.is_active,
            option.version,
        )
    return len(schemas)
