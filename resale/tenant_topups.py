"""Top-ups as a reseller's console reaches them, from the reseller's own schema: each
function reads or writes the provider's rows in the public schema itself, so no view
switches schema."""

from __future__ import annotations

from typing import Any

from django_tenants.utils import get_public_schema_name, schema_context

from billing.payments.gateways import GatewayConfigError, GatewayUnavailable
from resale.models import ResellerAccount, ResellerPaymentProfile, ResellerTopUp
from resale.services import ResaleError
from resale.topups import (
    reseller_auto_topup_configure,
    reseller_payment_profile_get,
    reseller_topup_checkout_finish,
    reseller_topup_checkout_start,
)

RECENT_TOPUPS = 10


def tenant_topups_overview(
    *, account: ResellerAccount
) -> tuple[ResellerPaymentProfile, list[ResellerTopUp]]:
    """The account's card and automatic top-up settings and its latest top-ups."""
    with schema_context(get_public_schema_name()):
        profile = reseller_payment_profile_get(account=account)
        topups = list(account.topups.order_by("-created_at", "-id")[:RECENT_TOPUPS])
    return profile, topups


def tenant_topup_checkout_start(*, account: ResellerAccount, **options: Any) -> str:
    """Starts a top-up on the provider's payment page; returns the page's address."""
    with schema_context(get_public_schema_name()):
        _topup, url = reseller_topup_checkout_start(account=account, **options)
    return url


def tenant_auto_topup_configure(
    *, account: ResellerAccount, enabled: bool, threshold: Any, amount: Any
) -> ResellerPaymentProfile:
    with schema_context(get_public_schema_name()):
        return reseller_auto_topup_configure(
            account=account, enabled=enabled, threshold=threshold, amount=amount
        )


def tenant_topup_return(
    *, account: ResellerAccount, topup_ref: str, session: str, cancelled: bool
) -> ResellerTopUp | None:
    """The reseller is back from the payment page: the top-up as Stripe says it is now
    (still processing when Stripe cannot be asked), or None when the top-up is not the
    account's or the page is not the top-up's."""
    with schema_context(get_public_schema_name()):
        topup = ResellerTopUp.objects.filter(account=account, public_id=topup_ref).first()
        if topup is None:
            return None
        if session and not cancelled:
            try:
                topup = reseller_topup_checkout_finish(topup=topup, reference=session)
            except ResaleError:
                return None
            except (GatewayConfigError, GatewayUnavailable):
                topup.status = ResellerTopUp.Status.PROCESSING
    return topup
