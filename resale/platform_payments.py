"""The platform host's side of payments: Stripe's webhook for the platform's own account
(reseller top-ups, ``resale.topups``) and for Connect events of the tenants' connected
accounts, each handled in the schema of the tenant the account belongs to
(``ConnectedAccountRoute``), and the page a reseller's browser returns to after a top-up.
A tenant's host has its own endpoints in ``billing.payments.views``."""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_tenants.utils import tenant_context

from billing.models.gateway import PaymentSettings
from billing.payments.gateways.config import payment_settings_get
from billing.payments.views import return_view, webhook_answer
from billing.payments.webhooks import WebhookRefused, event_verify, stripe_event_process
from core.ids import uuid_or_none
from resale.models import ConnectedAccountRoute, ResellerTopUp
from resale.topups import platform_event_process, reseller_topup_sync
from tenants.models import Tenant

logger = logging.getLogger(__name__)


def connected_account_route_record(*, tenant: Tenant, account_id: str) -> None:
    """The platform's endpoint finds the tenant of a connected account's events here."""
    ConnectedAccountRoute.objects.update_or_create(
        account_id=account_id, defaults={"tenant": tenant}
    )


def stripe_platform_webhook(payload: bytes, signature: str) -> str:
    """Handles one delivery to the platform's endpoint, in the public schema."""
    event = event_verify(
        payload,
        signature,
        [settings.STRIPE_WEBHOOK_SECRET, settings.STRIPE_CONNECT_WEBHOOK_SECRET],
    )
    platform_live = (settings.STRIPE_SECRET_KEY or "").startswith(("sk_live_", "rk_live_"))
    if event.livemode != platform_live:
        raise WebhookRefused("The event's live mode is not the platform's.")
    if event.account is None:
        return platform_event_process(event)
    route = (
        ConnectedAccountRoute.objects.select_related("tenant")
        .filter(account_id=event.account)
        .first()
    )
    if route is None:
        # Not one of ours (or removed): acknowledged so Stripe stops sending it.
        logger.warning("Stripe event %s for unknown account %s", event.id, event.account)
        return "ignored"
    with tenant_context(route.tenant):
        row = payment_settings_get()
        if row.stripe_mode != PaymentSettings.StripeMode.CONNECT or (
            row.stripe_account_id != event.account
        ):
            raise WebhookRefused("The connected account is not this tenant's any more.")
        return stripe_event_process(event)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    return webhook_answer(request, stripe_platform_webhook)


# A reseller's browser is back from paying a top-up.
payment_return = return_view(
    # A top-up's reference is the hex of a UUID: anything else finds nothing, before a
    # query (a NUL character would be refused by PostgreSQL).
    lambda reference: ResellerTopUp.objects.filter(
        public_id=(uuid.UUID(canonical).hex if (canonical := uuid_or_none(reference)) else None)
    ).first(),
    lambda topup: reseller_topup_sync(topup=topup).status,
)
