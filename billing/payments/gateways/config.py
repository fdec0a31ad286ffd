"""A tenant's payment configuration, and the gateways built from it.

Card money always lands on the tenant's own Stripe account: a Connect account the
platform created for it (direct charges: the ``Stripe-Account`` header names it on every
call) or an account whose secret key the tenant entered. When neither is set up, card
payments are refused; nothing ever falls back to the platform's own account, which only
collects reseller top-ups (``resale.topups``).

Services run in the tenant's schema; ``payment_platform_fee_set`` is the provider's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings as django_settings
from django.db import connection, transaction
from django_tenants.utils import schema_context

from audit.services import audit_record
from billing.errors import BillingError
from billing.models.gateway import PaymentSettings
from billing.payments.gateways.bank_transfer import BankTransferGateway
from billing.payments.gateways.base import GatewayConfigError, GatewayUnavailable
from billing.payments.gateways.stripe import api as stripe_api
from billing.payments.gateways.stripe.gateway import StripeGateway
from billing.selectors import billing_settings_get
from core.crypto import secret_decrypt, secret_encrypt
from tenants.models import Tenant

MAX_DUNNING_DAY = 60
# Each retry e-mails the client: more than this is harassment, not collection.
MAX_DUNNING_RETRIES = 10

SECRET_KEY_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_")
PUBLISHABLE_KEY_PREFIXES = ("pk_test_", "pk_live_")
WEBHOOK_SECRET_PREFIX = "whsec_"

# Told of a tenant's new connected account (resale routes the platform's Connect events by
# it), each called with ``tenant=`` and ``account_id=`` in the transaction that records the
# account; added by the app that needs it in its AppConfig.ready.
connected_account_listeners: list[Callable[..., None]] = []


def payment_settings_get() -> PaymentSettings:
    """The tenant's payment settings; the first call in a schema creates them."""
    found = PaymentSettings.objects.filter(pk=PaymentSettings.SINGLETON_ID).first()
    if found is not None:
        return found
    PaymentSettings.objects.bulk_create(
        [PaymentSettings(pk=PaymentSettings.SINGLETON_ID)], ignore_conflicts=True
    )
    return PaymentSettings.objects.get(pk=PaymentSettings.SINGLETON_ID)


def _locked() -> PaymentSettings:
    payment_settings_get()
    return PaymentSettings.objects.select_for_update().get(pk=PaymentSettings.SINGLETON_ID)


def _dunning_days(value: Any) -> list[int]:
    try:
        days = sorted({int(day) for day in value})
    except (TypeError, ValueError) as exc:
        raise BillingError("Dunning days are whole numbers of days.") from exc
    if any(day < 1 or day > MAX_DUNNING_DAY for day in days):
        raise BillingError(f"Dunning days are between 1 and {MAX_DUNNING_DAY}.")
    if len(days) > MAX_DUNNING_RETRIES:
        raise BillingError(f"At most {MAX_DUNNING_RETRIES} dunning days.")
    return days


def secret_masked(value: str) -> str:
    """A secret as people may see it: its kind and last four characters
    (``sk_live_…abcd``), enough to tell which key is stored, useless to anyone else."""
    if not value:
        return ""
    kind = ""
    for prefix in (*SECRET_KEY_PREFIXES, WEBHOOK_SECRET_PREFIX):
        if value.startswith(prefix):
            kind = prefix
            break
    # A short secret would be shown almost whole: only its kind then.
    tail = value[-4:] if len(value) >= len(kind) + 12 else ""
    return f"{kind}…{tail}"


# What the tenant's staff may change; the connected account and its state come from
# Stripe, the platform fee from the provider.
_TENANT_FIELDS = {
    "stripe_mode",
    "stripe_secret_key",
    "stripe_publishable_key",
    "stripe_webhook_secret",
    "bank_transfer_enabled",
    "autocharge_when",
    "dunning_days",
}


_SECRET_FIELDS = {
    "stripe_secret_key": "stripe_secret_key_encrypted",
    "stripe_webhook_secret": "stripe_webhook_secret_encrypted",
}


def _tenant_values(row: PaymentSettings) -> dict[str, Any]:
    """The tenant's settings with the secrets in clear: compared, never written out."""
    values = {name: getattr(row, name) for name in _TENANT_FIELDS - set(_SECRET_FIELDS)}
    values["dunning_days"] = list(row.dunning_days or [])
    for name, column in _SECRET_FIELDS.items():
        values[name] = secret_decrypt(getattr(row, column))
    return values


def _audit_changes(before: dict[str, Any], after: dict[str, Any]) -> None:
    changed = sorted(name for name in after if after[name] != before[name])
    if not changed:
        return

    def shown(values: dict[str, Any]) -> dict[str, Any]:
        # A replaced secret may keep its last four characters; it is listed all the same.
        return {
            name: secret_masked(values[name]) if name in _SECRET_FIELDS else values[name]
            for name in changed
        }

    audit_record(
        action="payment_settings.updated",
        object_type="payment_settings",
        object_id=PaymentSettings.SINGLETON_ID,
        before=shown(before),
        after=shown(after),
    )


@transaction.atomic
def payment_settings_update(**changes: Any) -> PaymentSettings:
    """Changes the tenant's payment settings. Secrets are given in clear and stored
    encrypted; an empty string removes one. What changed is audited, secrets masked."""
    unknown = set(changes) - _TENANT_FIELDS
    if unknown:
        raise BillingError(f"These payment settings cannot be changed here: {sorted(unknown)}.")
    row = _locked()
    before = _tenant_values(row)
    if "stripe_mode" in changes:
        if changes["stripe_mode"] not in PaymentSettings.StripeMode.values:
            raise BillingError(f"“{changes['stripe_mode']}” is not a Stripe mode.")
        row.stripe_mode = changes["stripe_mode"]
    if "stripe_secret_key" in changes:
        key = (changes["stripe_secret_key"] or "").strip()
        if key and not key.startswith(SECRET_KEY_PREFIXES):
            raise BillingError("A Stripe secret key starts with sk_ or rk_.")
        if key and key == (django_settings.STRIPE_SECRET_KEY or None):
            raise BillingError("That is the platform's key; enter the key of your own account.")
        row.stripe_secret_key_encrypted = secret_encrypt(key)
    if "stripe_publishable_key" in changes:
        key = (changes["stripe_publishable_key"] or "").strip()
        if key and not key.startswith(PUBLISHABLE_KEY_PREFIXES):
            raise BillingError("A Stripe publishable key starts with pk_.")
        row.stripe_publishable_key = key
    if "stripe_webhook_secret" in changes:
        secret = (changes["stripe_webhook_secret"] or "").strip()
        if secret and not secret.startswith(WEBHOOK_SECRET_PREFIX):
            raise BillingError("A Stripe webhook signing secret starts with whsec_.")
        row.stripe_webhook_secret_encrypted = secret_encrypt(secret)
    if "bank_transfer_enabled" in changes:
        row.bank_transfer_enabled = bool(changes["bank_transfer_enabled"])
    if "autocharge_when" in changes:
        if changes["autocharge_when"] not in PaymentSettings.AutochargeWhen.values:
            raise BillingError(f"“{changes['autocharge_when']}” is not an auto-charge moment.")
        row.autocharge_when = changes["autocharge_when"]
    if "dunning_days" in changes:
        row.dunning_days = _dunning_days(changes["dunning_days"])
    if row.stripe_mode == PaymentSettings.StripeMode.OWN_KEYS and not (
        row.stripe_secret_key_encrypted
    ):
        raise BillingError("Enter the secret key of your Stripe account to use your own keys.")
    row.save()
    _audit_changes(before, _tenant_values(row))
    return row


def payment_platform_fee_set(*, tenant: Any, percent: Decimal | str) -> PaymentSettings:
    """The provider's cut of each card payment a tenant collects on its Connect account."""
    try:
        value = Decimal(str(percent))
    except InvalidOperation as exc:
        raise BillingError(f"“{percent}” is not a percentage.") from exc
    if not (0 <= value < 100) or value != value.quantize(Decimal("0.01")):
        raise BillingError("The platform fee is a percentage from 0 to 99.99.")
    with schema_context(tenant.schema_name), transaction.atomic():
        row = _locked()
        before = row.platform_fee_percent
        row.platform_fee_percent = value
        row.save(update_fields=["platform_fee_percent", "updated_at"])
        if before != value:
            # In the tenant's own log: the reseller sees when the provider changed its cut.
            audit_record(
                action="payment_settings.platform_fee_set",
                object_type="payment_settings",
                object_id=PaymentSettings.SINGLETON_ID,
                before={"platform_fee_percent": before},
                after={"platform_fee_percent": value},
            )
        return row


def stripe_keys_check(*, secret_key: str) -> stripe_api.ConnectedAccount:
    """Asks Stripe which account ``secret_key`` opens. Changes nothing; Stripe's refusal
    comes back as ``GatewayConfigError`` with Stripe's own message, an unreachable Stripe
    as ``GatewayUnavailable``."""
    try:
        return stripe_api.account_current_retrieve(api_key=secret_key)
    except stripe_api.PaymentTransientError as exc:
        raise GatewayUnavailable(exc.message, code=exc.code) from exc
    except stripe_api.PaymentError as exc:
        raise GatewayConfigError(exc.message, code=exc.code) from exc


def stripe_webhook_secret(row: PaymentSettings | None = None) -> str:
    row = row or payment_settings_get()
    return secret_decrypt(row.stripe_webhook_secret_encrypted)


def stripe_livemode(row: PaymentSettings | None = None) -> bool:
    """Whether the tenant's Stripe payments are real ones: live events only then."""
    row = row or payment_settings_get()
    if row.stripe_mode == PaymentSettings.StripeMode.OWN_KEYS:
        key = secret_decrypt(row.stripe_secret_key_encrypted)
    else:
        key = django_settings.STRIPE_SECRET_KEY or ""
    return key.startswith(("sk_live_", "rk_live_"))


def stripe_gateway_for_tenant(row: PaymentSettings | None = None) -> StripeGateway:
    row = row or payment_settings_get()
    if row.stripe_mode == PaymentSettings.StripeMode.CONNECT:
        if not row.stripe_account_id:
            raise GatewayConfigError("Card payments are not set up: finish Stripe onboarding.")
        if not django_settings.STRIPE_SECRET_KEY:
            raise GatewayConfigError("The platform has no Stripe key configured.")
        return StripeGateway(
            api_key=django_settings.STRIPE_SECRET_KEY,
            account=row.stripe_account_id,
            platform_fee_percent=row.platform_fee_percent,
        )
    if row.stripe_mode == PaymentSettings.StripeMode.OWN_KEYS:
        return StripeGateway(api_key=secret_decrypt(row.stripe_secret_key_encrypted))
    raise GatewayConfigError("Card payments are not set up for this site.")


def stripe_gateway_for_platform() -> StripeGateway:
    """The provider's own Stripe account: reseller top-ups, never a tenant's clients."""
    if not django_settings.STRIPE_SECRET_KEY:
        raise GatewayConfigError("The platform has no Stripe key configured.")
    return StripeGateway(api_key=django_settings.STRIPE_SECRET_KEY)


def bank_transfer_gateway_for_tenant(row: PaymentSettings | None = None) -> BankTransferGateway:
    row = row or payment_settings_get()
    if not row.bank_transfer_enabled:
        raise GatewayConfigError("Bank transfers are not accepted on this site.")
    billing = billing_settings_get()
    return BankTransferGateway(
        account_holder=billing.legal_name, iban=billing.iban, bic=billing.bic
    )


# --- Stripe Connect onboarding --------------------------------------------------------


@dataclass(frozen=True)
class OnboardingLink:
    account_id: str
    url: str
    expires_at: int


def _current_tenant() -> Any:
    return Tenant.objects.get(schema_name=connection.schema_name)


def _platform_key() -> str:
    if not django_settings.STRIPE_SECRET_KEY:
        raise GatewayConfigError("The platform has no Stripe key configured.")
    return django_settings.STRIPE_SECRET_KEY


def stripe_connect_onboard_start(
    *,
    refresh_url: str,
    return_url: str,
    country: str = "",
    email: str = "",
    account_type: str = "standard",
) -> OnboardingLink:
    """Creates the tenant's connected account (once) and a link where its owner fills in
    Stripe's onboarding. The link is single-use and short-lived: ``refresh_url`` should
    call this again."""
    tenant = _current_tenant()
    api_key = _platform_key()
    row = payment_settings_get()
    account_id = row.stripe_account_id
    if not account_id:
        try:
            account = stripe_api.account_create(
                api_key=api_key,
                # The same key for the same tenant: a retried click never opens two accounts.
                idempotency_key=f"connect-account:{tenant.schema_name}",
                type=account_type,  # type: ignore[arg-type]
                country=country or None,
                email=email or None,
                metadata={stripe_api.META_TENANT_SCHEMA: tenant.schema_name},
            )
        except stripe_api.PaymentError as exc:
            raise GatewayConfigError(exc.message, code=exc.code) from exc
        account_id = account.id
        with transaction.atomic():
            row = _locked()
            if not row.stripe_account_id:
                before = {"stripe_account_id": "", "stripe_mode": row.stripe_mode}
                row.stripe_account_id = account_id
                row.stripe_mode = PaymentSettings.StripeMode.CONNECT
                row.save(update_fields=["stripe_account_id", "stripe_mode", "updated_at"])
                audit_record(
                    action="payment_settings.connect_account_created",
                    object_type="payment_settings",
                    object_id=PaymentSettings.SINGLETON_ID,
                    before=before,
                    after={"stripe_account_id": account_id, "stripe_mode": row.stripe_mode},
                )
            account_id = row.stripe_account_id
            for listener in connected_account_listeners:
                listener(tenant=tenant, account_id=account_id)
    try:
        link = stripe_api.account_link_create(
            api_key=api_key, account=account_id, refresh_url=refresh_url, return_url=return_url
        )
    except stripe_api.PaymentError as exc:
        raise GatewayConfigError(exc.message, code=exc.code) from exc
    return OnboardingLink(account_id=account_id, url=link.url, expires_at=link.expires_at)


def stripe_connect_status_apply(account: stripe_api.ConnectedAccount) -> PaymentSettings | None:
    """Records what Stripe says about the tenant's connected account."""
    with transaction.atomic():
        row = _locked()
        if row.stripe_account_id != account.id:
            return None
        before = {
            "stripe_charges_enabled": row.stripe_charges_enabled,
            "stripe_details_submitted": row.stripe_details_submitted,
        }
        after = {
            "stripe_charges_enabled": account.charges_enabled,
            "stripe_details_submitted": account.details_submitted,
        }
        if before == after:
            return row
        row.stripe_charges_enabled = account.charges_enabled
        row.stripe_details_submitted = account.details_submitted
        row.save(update_fields=["stripe_charges_enabled", "stripe_details_submitted", "updated_at"])
        audit_record(
            action="payment_settings.connect_status",
            object_type="payment_settings",
            object_id=PaymentSettings.SINGLETON_ID,
            before=before,
            after=after,
        )
        return row


def stripe_connect_refresh() -> PaymentSettings:
    """Asks Stripe how far the tenant's onboarding went (after the return URL)."""
    row = payment_settings_get()
    if not row.stripe_account_id:
        raise GatewayConfigError("This site has no Stripe account yet.")
    try:
        account = stripe_api.account_retrieve(
            api_key=_platform_key(), account=row.stripe_account_id
        )
    except stripe_api.PaymentError as exc:
        raise GatewayConfigError(exc.message, code=exc.code) from exc
    return stripe_connect_status_apply(account) or row
