"""The provider's decisions about a reseller account: suspending and reactivating it, its
credit limit, price list and low-balance threshold, and reversing a ledger entry. Each is
audited in the public schema in the same transaction as the change.

A suspended reseller's sites show the "unavailable" page (its tenant is suspended too) and
the commands it sends wait, as commands short of funds do, until it is reactivated.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from billing.money import Money, money_json
from resale import hooks
from resale.models import BalanceEntry, PriceList, ResaleCredential, ResellerAccount
from resale.services import ResaleError, balance_entry_append, retail_price_list_check
from tenants.models import Tenant


def _locked(account: ResellerAccount) -> ResellerAccount:
    return ResellerAccount.objects.select_for_update().select_related("tenant").get(pk=account.pk)


@transaction.atomic
def reseller_account_suspend(*, account: ResellerAccount, reason: str) -> ResellerAccount:
    reason = reason.strip()
    if not reason:
        raise ResaleError("Say why the reseller is suspended.")
    account = _locked(account)
    if account.status == ResellerAccount.Status.SUSPENDED:
        raise ResaleError("The reseller is already suspended.")
    account.status = ResellerAccount.Status.SUSPENDED
    account.save(update_fields=["status"])
    Tenant.objects.filter(pk=account.tenant_id).update(status=Tenant.Status.SUSPENDED)
    audit_record(
        action="reseller.suspended",
        object_type="reseller_account",
        object_id=account.pk,
        before={"status": ResellerAccount.Status.ACTIVE},
        after={"status": ResellerAccount.Status.SUSPENDED, "reason": reason},
    )
    return account


@transaction.atomic
def reseller_account_reactivate(*, account: ResellerAccount, reason: str) -> ResellerAccount:
    """The account takes commands again; those that waited are sent after commit."""
    reason = reason.strip()
    if not reason:
        raise ResaleError("Say why the reseller is reactivated.")
    account = _locked(account)
    if account.status == ResellerAccount.Status.ACTIVE:
        raise ResaleError("The reseller is already active.")
    account.status = ResellerAccount.Status.ACTIVE
    account.save(update_fields=["status"])
    Tenant.objects.filter(pk=account.tenant_id).update(status=Tenant.Status.ACTIVE)
    audit_record(
        action="reseller.reactivated",
        object_type="reseller_account",
        object_id=account.pk,
        before={"status": ResellerAccount.Status.SUSPENDED},
        after={"status": ResellerAccount.Status.ACTIVE, "reason": reason},
    )
    transaction.on_commit(lambda: hooks.funds_arrived(account), robust=True)
    return account


@transaction.atomic
def reseller_account_terms_set(
    *,
    account: ResellerAccount,
    credit_limit: Decimal,
    low_balance_threshold: Decimal,
    price_list: PriceList | None,
) -> ResellerAccount:
    """Credit limit, low-balance threshold and price list; what changed is audited."""
    if credit_limit < 0 or low_balance_threshold < 0:
        raise ResaleError("Amounts cannot be negative.")
    retail_price_list_check(tenant=account.tenant, price_list=price_list)
    if price_list is not None and price_list.currency != account.currency:
        raise ResaleError(
            f"The price list “{price_list.name}” is in {price_list.currency}; "
            f"the account is kept in {account.currency}."
        )
    account = _locked(account)
    before: dict = {}
    after: dict = {}
    currency = account.currency
    for field, value in (
        ("credit_limit", Money(credit_limit, currency).rounded().amount),
        ("low_balance_threshold", Money(low_balance_threshold, currency).rounded().amount),
    ):
        old = getattr(account, field)
        if old != value:
            before[field] = money_json(old, currency)
            after[field] = money_json(value, currency)
            setattr(account, field, value)
    new_list = price_list.pk if price_list else None
    if account.price_list_id != new_list:
        before["price_list"] = str(account.price_list) if account.price_list_id else None
        after["price_list"] = str(price_list) if price_list else None
        account.price_list = price_list
    if not after:
        return account
    account.save(update_fields=["credit_limit", "low_balance_threshold", "price_list"])
    audit_record(
        action="reseller.terms_changed",
        object_type="reseller_account",
        object_id=account.pk,
        before=before,
        after=after,
    )
    return account


@transaction.atomic
def balance_entry_reverse(*, entry: BalanceEntry, reason: str, created_by: str) -> BalanceEntry:
    """A correcting entry of the opposite amount; the entry itself is never touched. Once
    per entry, whoever asks twice."""
    reason = reason.strip()
    if not reason:
        raise ResaleError("A reversal needs a reason.")
    account = _locked(entry.account)
    if entry.idempotency_key and entry.idempotency_key.startswith("reversal:"):
        raise ResaleError("A reversal cannot be reversed; add an adjustment instead.")
    reversal, created = balance_entry_append(
        account=account,
        kind=BalanceEntry.Kind.ADJUSTMENT,
        amount=-entry.amount,
        description=f"Reversal of “{entry.description}”: {reason}",
        idempotency_key=f"reversal:{entry.pk}",
        upstream_service=entry.upstream_service,
        created_by=created_by,
    )
    if not created:
        raise ResaleError("This entry was already reversed.")
    if reversal.amount.amount > 0:
        transaction.on_commit(lambda: hooks.funds_arrived(account), robust=True)
    return reversal


@transaction.atomic
def resale_credential_revoke(*, account: ResellerAccount, prefix: str) -> ResaleCredential:
    credential = (
        ResaleCredential.objects.select_for_update()
        .filter(account=account, prefix=prefix, revoked_at__isnull=True)
        .first()
    )
    if credential is None:
        raise ResaleError("No such credential in use.", code="not_found")
    credential.revoked_at = timezone.now()
    credential.save(update_fields=["revoked_at"])
    audit_record(
        action="reseller.credential_revoked",
        object_type="reseller_account",
        object_id=account.pk,
        after={"credential": credential.prefix},
    )
    return credential
