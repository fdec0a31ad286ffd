"""Domains resold like hosting, on the provider's side (public schema).

A reseller's paid domain order reaches ``upstream_command_accept`` as a
``domain_register``, ``domain_transfer``, ``domain_renew`` or ``domain_restore`` command.
The handlers here run inside that command's transaction, with the reseller's account
row locked: they check the price on the reseller's price list, debit the balance once per
idempotency key and leave the registrar work on the ``UpstreamDomain`` row
(``operation``). ``upstream_domain_operation_run`` carries it out after commit, and
``upstream_domains_relay`` (Celery beat) picks up whatever a lost task or a killed
worker left, and polls pending transfers until the registry says how they ended.

Privacy: the registrant's contact data travels beside the command, never in it
(``DomainSecrets``, in memory only). ``registrant_handle_ensure`` hands it to the
registrar, which answers with its contact handle; the handle is all that is stored
here. A transfer's auth code is kept encrypted until the registry has the request.

Registrar errors come back as the reseller's ``last_error``, and nothing is owed for
work that failed: a refused registration, transfer, renewal or restore is refunded.
The registry's expiry date is the truth: ``upstream_domains_sync`` (nightly) reads it
back, and every change of status or expiry is told to the reseller's installation.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.money import Money
from core.crypto import secret_decrypt, secret_encrypt
from provisioning.modules.base import (
    MASK,
    ModuleError,
    PermanentModuleError,
    TransientModuleError,
)
from provisioning.registrars.accounts import registrar_for_tld
from provisioning.registrars.base import (
    Contact,
    DomainInfo,
    DomainStatus,
    DsRecord,
    ErrorKind,
    Registrar,
    RegistryError,
    check_years,
    normalize_domain,
    normalize_host,
    normalize_nameservers,
)
from resale.models import (
    BalanceEntry,
    RegistrantHandle,
    ResellerAccount,
    UpstreamDomain,
    UpstreamRequest,
    WholesaleTld,
    WholesaleTldPrice,
)
from resale.services import (
    ResaleError,
    balance_entry_append,
    command_handler_register,
    reseller_funds_check,
    upstream_command_accept,
)

logger = logging.getLogger(__name__)

REGISTER, TRANSFER, RENEW, RESTORE = (
    "domain_register",
    "domain_transfer",
    "domain_renew",
    "domain_restore",
)
DOMAIN_ACTIONS = (REGISTER, TRANSFER, RENEW, RESTORE)
MAX_BACKOFF_S = 3600
_HELD = [
    UpstreamDomain.Status.PENDING,
    UpstreamDomain.Status.PENDING_TRANSFER,
    UpstreamDomain.Status.ACTIVE,
    UpstreamDomain.Status.EXPIRED,
    UpstreamDomain.Status.REDEMPTION,
]


@dataclass(frozen=True)
class DomainSecrets:
    """What travels beside a domain command and is never stored as it came: the
    registrant's contact (for a registration or a transfer) and a transfer's auth code."""

    contact: Contact | None = None
    auth_code: str = ""

    def __repr__(self) -> str:
        return f"DomainSecrets({MASK})"

    __str__ = __repr__


# --- prices -------------------------------------------------------------------------------


def wholesale_tld_get(*, tld: str) -> WholesaleTld:
    row = WholesaleTld.objects.filter(tld=tld).first()
    if row is None:
        raise ResaleError(f"The provider does not sell .{tld} domains.", code="unsupported_tld")
    if not row.is_active:
        raise ResaleError(f".{tld} is withdrawn and takes no orders.", code="unsupported_tld")
    return row


def wholesale_tld_price(*, account: ResellerAccount, tld: WholesaleTld) -> WholesaleTldPrice:
    row = WholesaleTldPrice.objects.filter(price_list=account.price_list_id, tld=tld).first()
    if row is None:
        raise ResaleError(f".{tld.tld} has no price on your price list.", code="no_price")
    if row.currency != account.currency:
        raise ResaleError("The price list and the account use different currencies.")
    return row


def _years(payload: dict) -> int:
    try:
        years = int(payload.get("years", 1))
        check_years(years)
    except (TypeError, ValueError, RegistryError) as exc:
        raise ResaleError("A domain is registered or renewed for 1 to 10 years.") from exc
    return years


def _domain_name(payload: dict) -> str:
    try:
        return normalize_domain(str(payload.get("domain", "")))
    except RegistryError as exc:
        raise ResaleError(
            f"“{payload.get('domain', '')}” is not a domain name.", code="invalid_domain"
        ) from exc


def _client_ref(payload: dict) -> str:
    client_ref = str(payload.get("client_ref", ""))
    if not client_ref or "@" in client_ref or len(client_ref) > 64:
        raise ResaleError(
            "client_ref must be a pseudonymous reference of at most 64 "
            "characters, never an e-mail address."
        )
    return client_ref


# --- the registrar ------------------------------------------------------------------------


def _registrar(tld: str) -> Registrar:
    try:
        return registrar_for_tld(tld)
    except RegistryError as exc:
        raise ResaleError(
            f"No registrar serves .{tld} at the provider.", code="unsupported_tld"
        ) from exc


def registrar_key(registrar: Registrar) -> str:
    """Which registrar account a handle belongs to, as ``module@host``."""
    return f"{registrar.name}@{registrar.connection.hostname}"[:100]


def registrant_handle_ensure(
    *, account: ResellerAccount, client_ref: str, domain: str, contact: Contact | None
) -> str:
    """The registrar's handle of the client's contact, created (or brought up to date)
    from ``contact`` now. Runs outside the command's transaction: a registrar call
    must not hold the reseller's lock. The same client keeps one handle per registrar,
    so a retried command finds the handle it made and creates no second contact."""
    tld = domain.rsplit(".", 1)[-1]
    with _registrar(tld) as registrar:
        key = registrar_key(registrar)
        row = RegistrantHandle.objects.filter(
            account=account, client_ref=client_ref, registrar=key
        ).first()
        if contact is None:
            if row is None:
                raise ResaleError(
                    "The registrant's contact is needed to register a domain.",
                    code="contact_missing",
                )
            return row.handle
        try:
            if row is not None:
                registrar.contact_update(row.handle, contact)
                return row.handle
            handle = registrar.contact_create(contact)
        except TransientModuleError:
            raise
        except PermanentModuleError as exc:
            raise ResaleError(_registry_message(exc), code="contact_refused") from exc
    try:
        with transaction.atomic():
            RegistrantHandle.objects.create(
                account=account, client_ref=client_ref, registrar=key, handle=handle
            )
    except IntegrityError:
        # A concurrent twin stored its handle first; that one is the client's.
        return RegistrantHandle.objects.get(
            account=account, client_ref=client_ref, registrar=key
        ).handle
    return handle


def domain_command_prepare(
    *, account: ResellerAccount, action: str, payload: dict, secrets: DomainSecrets | None
) -> None:
    """What a domain command needs done before it is accepted: the registrant's contact
    handed to the registrar. Registrar trouble here is transient for the caller."""
    if action not in (REGISTER, TRANSFER):
        return
    registrant_handle_ensure(
        account=account,
        client_ref=_client_ref(payload),
        domain=_domain_name(payload),
        contact=secrets.contact if secrets else None,
    )


def _registry_message(exc: Exception) -> str:
    """A reseller-readable reason; the registry's own words where it gave some. Never an
    auth code or contact data: the modules keep those out of their errors."""
    kind = getattr(exc, "kind", None)
    reason = {
        ErrorKind.EXISTS: "The domain is not available.",
        ErrorKind.AUTHORIZATION: "The registry refused the auth code.",
        ErrorKind.NOT_FOUND: "The registry has no such domain.",
        ErrorKind.PROHIBITED: "The domain's status forbids this at the registry.",
        ErrorKind.POLICY: "The registry's policy refuses this.",
        ErrorKind.UNSUPPORTED: "The registry does not offer this.",
        ErrorKind.INVALID: "The registry refused the request as invalid.",
        ErrorKind.PENDING: "A transfer is already pending or none is.",
        ErrorKind.BILLING: "The provider's registrar account cannot pay for this now.",
    }.get(kind, "The registry refused the command.")
    code = getattr(exc, "code", 0)
    detail = str(exc)
    return f"{reason} ({code}: {detail})" if code else f"{reason} ({detail})"


# --- the commands (inside upstream_command_accept's transaction) -------------------------


def _held(domain: str) -> UpstreamDomain | None:
    return (
        UpstreamDomain.objects.select_for_update().filter(domain=domain, status__in=_HELD).first()
    )


def _domain_for(account: ResellerAccount, payload: dict) -> UpstreamDomain:
    reference = str(payload.get("service_ref", ""))
    row = (
        UpstreamDomain.objects.select_for_update()
        .filter(account=account, public_id=reference)
        .select_related("tld")
        .first()
    )
    if row is None:
        raise ResaleError(f"No domain “{reference}” on your account.", code="not_found")
    return row


def _debit(
    account: ResellerAccount, row: UpstreamDomain, key: str, price: Money, what: str
) -> None:
    reseller_funds_check(account=account, price=price)
    balance_entry_append(
        account=account,
        kind=BalanceEntry.Kind.RENEWAL_DEBIT
        if what == "renewal"
        else BalanceEntry.Kind.ORDER_DEBIT,
        amount=-price,
        description=f"Domain {what} {row.domain}",
        idempotency_key=f"domain:{key}",
        upstream_domain=row,
    )


def _operation_start(row: UpstreamDomain, operation: str, key: str, years: int) -> None:
    row.operation = operation
    row.operation_key = key
    row.operation_years = years
    row.operation_attempts = 0
    row.operation_from_expiry = row.expires_on
    row.next_attempt_at = timezone.now()
    row.last_error = ""
    row.failure_code = ""
    row.save()
    transaction.on_commit(lambda: _run_later(row.pk), robust=True)


def _accepted(row: UpstreamDomain, price: Money) -> tuple[None, dict]:
    return None, {
        "status": "accepted",
        "service_ref": row.public_id,
        "debited": str(price.amount),
        "currency": price.currency,
    }


def _new_domain(account, key, payload, secrets, *, transfer: bool):
    name = _domain_name(payload)
    years = 1 if transfer else _years(payload)
    client_ref = _client_ref(payload)
    tld = wholesale_tld_get(tld=name.rsplit(".", 1)[-1])
    row_price = wholesale_tld_price(account=account, tld=tld)
    price = (row_price.transfer if transfer else row_price.register) * years
    auth_code = (secrets.auth_code if secrets else "").strip()
    if transfer and not auth_code:
        raise ResaleError("A transfer needs the domain's auth code.", code="auth_code_missing")
    handle = (
        RegistrantHandle.objects.filter(account=account, client_ref=client_ref)
        .order_by("-updated_at")
        .values_list("handle", "registrar")
        .first()
    )
    if handle is None:
        raise ResaleError(
            "The registrant's contact is needed to register a domain.", code="contact_missing"
        )
    if _held(name) is not None:
        raise ResaleError(f"{name} is not available.", code="domain_unavailable")
    nameservers = payload.get("nameservers") or []
    if nameservers:
        try:
            nameservers = list(normalize_nameservers(list(nameservers)))
        except RegistryError as exc:
            raise ResaleError(str(exc), code="invalid_nameservers") from exc
    reseller_funds_check(account=account, price=price)
    row = UpstreamDomain.objects.create(
        account=account,
        tld=tld,
        domain=name,
        client_ref=client_ref,
        registrant_handle=handle[0],
        registrar=handle[1],
        status=UpstreamDomain.Status.PENDING,
        nameservers=nameservers,
        auth_code_encrypted=secret_encrypt(auth_code) if transfer else "",
    )
    _debit(account, row, key, price, "transfer" if transfer else "registration")
    _operation_start(
        row,
        UpstreamDomain.Operation.TRANSFER if transfer else UpstreamDomain.Operation.REGISTER,
        key,
        years,
    )
    return _accepted(row, price)


def _register(account, key, payload, secrets):
    return _new_domain(account, key, payload, secrets, transfer=False)


def _transfer(account, key, payload, secrets):
    return _new_domain(account, key, payload, secrets, transfer=True)


def _renew(account, key, payload, secrets):
    row = _domain_for(account, payload)
    years = _years(payload)
    if row.status not in (UpstreamDomain.Status.ACTIVE, UpstreamDomain.Status.EXPIRED):
        raise ResaleError(
            f"A domain that is {row.get_status_display().lower()} cannot be renewed.",
            code="invalid_state",
        )
    if row.operation:
        raise ResaleError("The domain has registrar work in progress.", code="busy")
    price = wholesale_tld_price(account=account, tld=row.tld).renew * years
    _debit(account, row, key, price, "renewal")
    _operation_start(row, UpstreamDomain.Operation.RENEW, key, years)
    return _accepted(row, price)


def _restore(account, key, payload, secrets):
    row = _domain_for(account, payload)
    if row.status != UpstreamDomain.Status.REDEMPTION:
        raise ResaleError("Only a domain in redemption can be restored.", code="invalid_state")
    if row.operation:
        raise ResaleError("The domain has registrar work in progress.", code="busy")
    prices = wholesale_tld_price(account=account, tld=row.tld)
    # The registry reinstates the domain with the year its expiry auto-renewed (RFC
    # 3915), charging its restore fee and that renewal: so does the provider.
    price = prices.restore + prices.renew
    _debit(account, row, key, price, "restore")
    _operation_start(row, UpstreamDomain.Operation.RESTORE, key, 1)
    return _accepted(row, price)


command_handler_register(REGISTER, _register)
command_handler_register(TRANSFER, _transfer)
command_handler_register(RENEW, _renew)
command_handler_register(RESTORE, _restore)


# --- the registrar work (after commit, in the provider's worker) --------------------------


def _run_later(domain_id: int) -> None:
    # resale.tasks imports this module; the task is looked up at call time.
    from resale.tasks import upstream_domain_operation_task

    try:
        upstream_domain_operation_task.delay(domain_id)
    # The broker being down must not undo the accepted command: the relay runs it.
    except Exception:
        logger.warning("Could not queue domain work %s; the relay will run it", domain_id)


def _backoff(attempts: int) -> timedelta:
    base = min(2 ** max(attempts, 1), MAX_BACKOFF_S)
    return timedelta(seconds=base * (0.5 + random.random() / 2))


def _apply_info(row: UpstreamDomain, info: DomainInfo) -> None:
    row.remote_id = info.remote_id or row.remote_id
    row.expires_on = info.expires_on or row.expires_on
    row.nameservers = list(info.nameservers)
    row.locked = info.locked
    row.status = _STATUS.get(info.status, row.status)
    row.synced_at = timezone.now()


_STATUS = {
    DomainStatus.ACTIVE: UpstreamDomain.Status.ACTIVE,
    DomainStatus.PENDING_CREATE: UpstreamDomain.Status.PENDING,
    DomainStatus.PENDING_TRANSFER: UpstreamDomain.Status.PENDING_TRANSFER,
    DomainStatus.EXPIRED: UpstreamDomain.Status.EXPIRED,
    DomainStatus.REDEMPTION: UpstreamDomain.Status.REDEMPTION,
    DomainStatus.PENDING_DELETE: UpstreamDomain.Status.REDEMPTION,
}

_ACTION_OF = {
    UpstreamDomain.Operation.REGISTER: REGISTER,
    UpstreamDomain.Operation.TRANSFER: TRANSFER,
    UpstreamDomain.Operation.RENEW: RENEW,
    UpstreamDomain.Operation.RESTORE: RESTORE,
}


def _perform(row: UpstreamDomain, registrar: Registrar) -> bool:
    """Does the row's registrar work; True when it is finished, False when the registry
    has yet to decide (a transfer). Raises the module's errors."""
    operation = row.operation
    if operation == UpstreamDomain.Operation.REGISTER:
        info = registrar.register(
            row.domain,
            row.operation_years,
            list(row.nameservers) or list(settings.DOMAIN_DEFAULT_NAMESERVERS),
            row.registrant_handle,
        )
        _apply_info(row, info)
        return True
    if operation == UpstreamDomain.Operation.TRANSFER:
        if row.status != UpstreamDomain.Status.PENDING_TRANSFER:
            transfer = registrar.transfer_request(
                row.domain,
                secret_decrypt(row.auth_code_encrypted),
                years=1,
                contact_ref=row.registrant_handle,
            )
            # The registry has the request: the code is no longer ours to keep.
            row.auth_code_encrypted = ""
            row.status = UpstreamDomain.Status.PENDING_TRANSFER
        else:
            transfer = registrar.transfer_query(row.domain)
        if transfer.pending:
            return False
        if not transfer.completed:
            raise RegistryError(
                f"the transfer ended {transfer.status}", kind=ErrorKind.AUTHORIZATION
            )
        info = registrar.info(row.domain)
        if info is None:
            raise RegistryError("the registry has no such domain", kind=ErrorKind.NOT_FOUND)
        if row.registrant_handle and info.registrant != row.registrant_handle:
            # A transfer keeps the losing side's registrant: ours takes its place.
            info = registrar.set_registrant(row.domain, row.registrant_handle)
        _apply_info(row, info)
        return True
    if operation == UpstreamDomain.Operation.RENEW:
        info = registrar.info(row.domain)
        if info is None or info.expires_on is None:
            raise RegistryError("the registry has no such domain", kind=ErrorKind.NOT_FOUND)
        extended = row.operation_from_expiry and info.expires_on > row.operation_from_expiry
        if not extended:
            # The renew names the expiry it extends: a replay after it succeeded is
            # refused by the registry instead of charged twice, and read back above.
            info = registrar.renew(row.domain, row.operation_years, current_expiry=info.expires_on)
        _apply_info(row, info)
        return True
    if operation == UpstreamDomain.Operation.RESTORE:
        info = registrar.restore(row.domain)
        _apply_info(row, info)
        return True
    return True


def upstream_domain_operation_run(*, domain_id: int) -> UpstreamDomain | None:
    """Carries out a domain's pending registrar work once. Row-locked, so two workers
    never do it at once; a transient failure waits for the relay with backoff."""
    with transaction.atomic():
        # Waits for a transaction still holding the row (the one that accepted the command
        # may not have let go yet) rather than skipping it: a skipped run would leave the
        # work to the next relay round. Work already done is seen as done after the wait.
        row = (
            UpstreamDomain.objects.select_for_update()
            .filter(pk=domain_id)
            .exclude(operation="")
            .select_related("account__tenant")
            .first()
        )
        if row is None:
            return None
        operation = row.operation
        row.operation_attempts += 1
        try:
            with _registrar(row.tld.tld) as registrar:
                finished = _perform(row, registrar)
        except TransientModuleError as exc:
            row.last_error = str(exc)[:2000]
            row.next_attempt_at = timezone.now() + _backoff(row.operation_attempts)
            row.save()
            return row
        except (PermanentModuleError, ResaleError) as exc:
            _failed(row, operation, exc)
            return row
        if not finished:
            row.last_error = ""
            row.next_attempt_at = timezone.now() + timedelta(
                seconds=settings.DOMAIN_TRANSFER_POLL_S
            )
            row.save()
            return row
        row.operation = ""
        row.last_error = ""
        row.next_attempt_at = None
        row.save()
        _report(row, _ACTION_OF[operation], True, "")
    return row


def _failed(row: UpstreamDomain, operation: str, exc: Exception) -> None:
    """Permanent: the reseller gets back what it paid for this operation and hears why."""
    message = exc.message if isinstance(exc, ResaleError) else _registry_message(exc)
    debit = BalanceEntry.objects.filter(
        account=row.account, idempotency_key=f"domain:{row.operation_key}"
    ).first()
    if debit is not None and debit.amount_value < 0:
        account = ResellerAccount.objects.select_for_update().get(pk=row.account_id)
        balance_entry_append(
            account=account,
            kind=BalanceEntry.Kind.REFUND,
            amount=Money(-debit.amount_value, debit.currency),
            description=f"Refund: domain {row.domain}: {operation} failed",
            idempotency_key=f"domain-refund:{row.operation_key}",
            upstream_domain=row,
        )
    if operation in (UpstreamDomain.Operation.REGISTER, UpstreamDomain.Operation.TRANSFER):
        row.status = UpstreamDomain.Status.FAILED
        row.auth_code_encrypted = ""
    row.operation = ""
    row.next_attempt_at = None
    row.last_error = message[:2000]
    row.failure_code = failure_code(exc)
    row.save()
    logger.info("Domain %s: %s failed: %s", row.public_id, operation, message)
    _report(row, _ACTION_OF[operation], False, message)


def failure_code(exc: Exception) -> str:
    """Why a domain operation failed, as a stable code the reseller's installation words
    in its client's language (the message itself is the provider's, in English)."""
    if isinstance(exc, ResaleError):
        return exc.code or "refused"
    if getattr(exc, "kind", None) == ErrorKind.AUTHORIZATION:
        return "auth_code_refused"
    if getattr(exc, "kind", None) == ErrorKind.EXISTS:
        return "domain_unavailable"
    return "registry_refused"


def _report(row: UpstreamDomain, action: str, ok: bool, error: str) -> None:
    """The reseller's installation hears how the command ended and what the registry
    now holds (why it failed included), after commit."""
    transaction.on_commit(lambda: _tell(row, action, ok, error), robust=True)


def _tell(row: UpstreamDomain, action: str, ok: bool, error: str) -> None:
    # resale.hooks calls back into this module; it is looked up at call time.
    from resale import hooks

    hooks.domain_report(row, action, ok, error)


def upstream_domain_state(*, row: UpstreamDomain) -> dict:
    """What the reseller sees of a domain: no contact data, no auth code."""
    return {
        "service_ref": row.public_id,
        "domain": row.domain,
        "status": row.status,
        "expires_on": row.expires_on.isoformat() if row.expires_on else None,
        "nameservers": list(row.nameservers or []),
        "locked": row.locked,
        "operation": row.operation,
        "last_error": row.last_error,
        "error_code": row.failure_code,
    }


# --- periodic work ------------------------------------------------------------------------


def upstream_domains_relay(*, now=None, limit: int = 500) -> int:
    """Runs every domain's registrar work whose time has come (work a lost task left,
    retries after a transient failure, transfers still pending)."""
    now = now or timezone.now()
    due = list(
        UpstreamDomain.objects.exclude(operation="")
        .filter(next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for domain_id in due:
        upstream_domain_operation_run(domain_id=domain_id)
    return len(due)


def upstream_domain_sync(*, domain_id: int) -> UpstreamDomain | None:
    """Reads one domain back from its registrar; a change of status or expiry is told to
    the reseller. Domains with registrar work in progress are left to that work."""
    with transaction.atomic():
        row = (
            UpstreamDomain.objects.select_for_update(skip_locked=True)
            .filter(pk=domain_id, operation="", status__in=_HELD)
            .select_related("tld", "account__tenant")
            .first()
        )
        if row is None:
            return None
        before = (row.status, row.expires_on)
        try:
            with _registrar(row.tld.tld) as registrar:
                info = registrar.info(row.domain)
        except (TransientModuleError, ResaleError) as exc:
            row.last_error = str(exc)[:2000]
            row.save(update_fields=["last_error", "updated_at"])
            return row
        except PermanentModuleError as exc:
            row.last_error = _registry_message(exc)[:2000]
            row.save(update_fields=["last_error", "updated_at"])
            return row
        if info is None:
            # Gone from the registry (deleted after redemption, or moved away from us).
            row.status = UpstreamDomain.Status.TRANSFERRED_AWAY
            row.synced_at = timezone.now()
        else:
            _apply_info(row, info)
        row.save()
        if (row.status, row.expires_on) != before:
            transaction.on_commit(lambda: _tell_state(row), robust=True)
    return row


def _tell_state(row: UpstreamDomain) -> None:
    # resale.hooks calls back into this module; it is looked up at call time.
    from resale import hooks

    hooks.domain_state(row)


def upstream_domains_sync(*, limit: int = 5000) -> dict:
    """The nightly read-back of every held domain's status and expiry."""
    ids = list(
        UpstreamDomain.objects.filter(status__in=_HELD, operation="")
        .order_by("synced_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for domain_id in ids:
        upstream_domain_sync(domain_id=domain_id)
    return {"checked": len(ids)}


def upstream_domain_get(*, account: ResellerAccount, service_ref: str) -> UpstreamDomain:
    row = (
        UpstreamDomain.objects.filter(account=account, public_id=service_ref)
        .select_related("tld")
        .first()
    )
    if row is None:
        raise ResaleError(f"No domain “{service_ref}” on your account.", code="not_found")
    return row


# --- receiving a command ------------------------------------------------------------------

CONTACT_FIELDS = (
    "name",
    "email",
    "phone",
    "street",
    "city",
    "postcode",
    "country_code",
    "organisation",
    "state",
)


def contact_from_dict(data: object) -> Contact | None:
    """The registrant as the resale API receives it (beside the command, never in it)."""
    if not data:
        return None
    if not isinstance(data, dict) or set(data) - set(CONTACT_FIELDS):
        raise ResaleError(f"contact takes the fields {', '.join(CONTACT_FIELDS)}.")
    street = data.get("street") or ()
    if isinstance(street, str):
        street = (street,)
    required = ("name", "email", "phone", "city", "postcode", "country_code")
    if any(not str(data.get(name) or "").strip() for name in required) or not street:
        raise ResaleError(
            "The registrant needs a name, e-mail, phone, street, city, postcode and country.",
            code="contact_incomplete",
        )
    return Contact(
        name=str(data["name"]),
        email=str(data["email"]),
        phone=str(data["phone"]),
        street=tuple(str(line) for line in street if line)[:3],
        city=str(data["city"]),
        postcode=str(data["postcode"]),
        country_code=str(data["country_code"]).upper(),
        organisation=str(data.get("organisation") or ""),
        state=str(data.get("state") or ""),
    )


def contact_as_dict(contact: Contact) -> dict:
    return {
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "street": list(contact.street),
        "city": contact.city,
        "postcode": contact.postcode,
        "country_code": contact.country_code,
        "organisation": contact.organisation,
        "state": contact.state,
    }


def domain_command_receive(
    *,
    account: ResellerAccount,
    idempotency_key: str,
    action: str,
    payload: dict,
    secrets: DomainSecrets | None,
):
    """A domain command from a reseller (this installation's tenants and the resale API
    alike): the registrant goes to the registrar first, then the command is accepted as
    any other. A registrar that cannot answer raises ``TransientModuleError``."""
    replay = UpstreamRequest.objects.filter(
        account=account, idempotency_key=idempotency_key
    ).exists()
    if not replay:
        domain_command_prepare(account=account, action=action, payload=payload, secrets=secrets)
    return upstream_command_accept(
        account=account,
        idempotency_key=idempotency_key,
        action=action,
        payload=payload,
        secrets=secrets,
    )


# --- managing a held domain (the client area, through the upstream interface) -------------

MANAGE_OPERATIONS = ("info", "nameservers", "lock", "auth_code", "host", "dnssec", "contact")


def _ds_records(params: dict) -> list[DsRecord]:
    records = []
    for item in params.get("ds_records") or []:
        try:
            records.append(
                DsRecord(
                    key_tag=int(item["key_tag"]),
                    algorithm=int(item["algorithm"]),
                    digest_type=int(item["digest_type"]),
                    digest=str(item["digest"]).strip(),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ResaleError(
                "A DS record has a key tag, an algorithm, a digest type and a digest.",
                code="invalid_ds",
            ) from exc
    return records


def _manage_on(
    registrar: Registrar, row: UpstreamDomain, operation: str, params: dict, secrets
) -> dict:
    result: dict = {}
    if operation == "info":
        info = registrar.info(row.domain)
        if info is None:
            raise ResaleError("The registry has no such domain.", code="not_found")
        _apply_info(row, info)
        result = {
            "hosts": list(info.hosts),
            "ds_records": [vars(ds) for ds in info.ds_records],
            "registrant": info.registrant,
        }
    elif operation == "nameservers":
        _apply_info(row, registrar.set_nameservers(row.domain, list(params.get("nameservers", []))))
    elif operation == "lock":
        _apply_info(row, registrar.set_lock(row.domain, bool(params.get("locked"))))
    elif operation == "auth_code":
        # A new code each time it is asked for: one shown earlier stops working.
        result = {"auth_code": registrar.auth_code_reset(row.domain)}
    elif operation == "host":
        name = normalize_host(str(params.get("name", "")))
        if not name.endswith(f".{row.domain}"):
            raise ResaleError(f"A glue record is a host under {row.domain}.", code="invalid_host")
        host = registrar.host_create(name, [str(a) for a in params.get("addresses") or []])
        result = {"host": host.name, "addresses": list(host.addresses)}
    elif operation == "dnssec":
        info = registrar.set_dnssec(row.domain, _ds_records(params))
        _apply_info(row, info)
        result = {"ds_records": [vars(ds) for ds in info.ds_records]}
    elif operation == "contact":
        contact = secrets.contact if secrets else None
        if contact is None:
            raise ResaleError("The registrant's new details are missing.", code="contact_missing")
        registrar.contact_update(row.registrant_handle, contact)
    return result


def upstream_domain_manage(
    *,
    account: ResellerAccount,
    service_ref: str,
    operation: str,
    params: dict | None = None,
    secrets: DomainSecrets | None = None,
) -> dict:
    """One change (or a fresh read) of a held domain at its registrar, now. Returns the
    domain's state and what the operation answers (a new auth code is returned once and
    stored nowhere). Registry refusals come back as ``ResaleError`` with the reason."""
    if operation not in MANAGE_OPERATIONS:
        raise ResaleError(f"Unknown domain operation “{operation}”.")
    params = params or {}
    with transaction.atomic():
        row = (
            UpstreamDomain.objects.select_for_update()
            .filter(account=account, public_id=service_ref)
            .select_related("tld")
            .first()
        )
        if row is None:
            raise ResaleError(f"No domain “{service_ref}” on your account.", code="not_found")
        if operation != "info" and (row.status != UpstreamDomain.Status.ACTIVE or row.operation):
            raise ResaleError(
                "The domain can be changed once it is active and nothing else is under way.",
                code="invalid_state",
            )
        try:
            with _registrar(row.tld.tld) as registrar:
                result = _manage_on(registrar, row, operation, params, secrets)
        except TransientModuleError as exc:
            raise ResaleError(
                "The registrar cannot be reached right now; try again shortly.",
                code="registrar_unavailable",
            ) from exc
        except PermanentModuleError as exc:
            raise ResaleError(_registry_message(exc), code="registry_refused") from exc
        row.save()
    return {**upstream_domain_state(row=row), **result}


def upstream_domains_check(*, account: ResellerAccount, domains: list[str]) -> list[dict]:
    """Availability of names under the TLDs the provider sells, from their registrars:
    ``{"domain", "available", "premium", "reason"}`` each, in the order given. A name
    whose registrar cannot answer now is ``available: None`` (never offered as free)."""
    by_tld: dict[str, list[str]] = {}
    for name in domains[:20]:
        try:
            ascii_name = normalize_domain(name)
        except RegistryError:
            continue
        tld = ascii_name.rsplit(".", 1)[-1]
        if WholesaleTld.objects.filter(tld=tld, is_active=True).exists():
            by_tld.setdefault(tld, []).append(ascii_name)
    found: dict[str, dict] = {}
    for tld, names in by_tld.items():
        try:
            with _registrar(tld) as registrar:
                answers = registrar.check(names)
        except (ModuleError, ResaleError) as exc:
            logger.info("Availability of .%s unknown: %s", tld, exc)
            answers = []
            for name in names:
                found[name] = {"domain": name, "available": None, "premium": False, "reason": ""}
        for answer in answers:
            found[answer.domain] = {
                "domain": answer.domain,
                "available": answer.available,
                "premium": answer.premium,
                "reason": answer.reason,
            }
    return [found[name] for name in dict.fromkeys(found)]
