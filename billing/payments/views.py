"""The payment endpoints: Stripe's webhook and the page a client's browser returns to
after its bank. Thin: verify, call the service, answer. The same views serve the tenant
hosts and the platform host; the schema of the request says which side is meant."""

from __future__ import annotations

import logging
import uuid

from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django_tenants.utils import get_public_schema_name

from billing.payments import webhooks
from billing.payments.gateways import GatewayConfigError, GatewayUnavailable
from billing.payments.gateways.stripe import api as stripe_api

logger = logging.getLogger(__name__)


def _on_platform() -> bool:
    return connection.schema_name == get_public_schema_name()


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    # The raw body, byte for byte: the signature covers it, not a parsed form of it.
    payload = request.body
    signature = request.headers.get("Stripe-Signature", "")
    try:
        if _on_platform():
            outcome = webhooks.stripe_platform_webhook(payload, signature)
        else:
            outcome = webhooks.stripe_tenant_webhook(payload, signature)
    except webhooks.WebhookRefused as exc:
        return JsonResponse({"error": exc.reason}, status=400)
    except (GatewayUnavailable, stripe_api.PaymentTransientError):
        # Stripe delivers the event again later; nothing was recorded.
        return JsonResponse({"error": "Stripe could not be reached; try again."}, status=503)
    except GatewayConfigError as exc:
        logger.error("Stripe webhook failed on configuration: %s", exc.message)
        return JsonResponse({"error": "Payment configuration error."}, status=500)
    return JsonResponse({"outcome": outcome})


@require_GET
def payment_return(request: HttpRequest, reference: str) -> HttpResponse:
    """The browser is back from 3-D Secure: the payment's state is read from Stripe at
    once, so the page that follows shows it, whether or not the webhook came first.

    Both references, a top-up's and a payment attempt's, are UUIDs: anything else is a
    404 before it reaches a query."""
    reference_uuid = _uuid_or_404(reference)
    try:
        if _on_platform():
            from resale.models import ResellerTopUp
            from resale.topups import reseller_topup_sync

            topup = ResellerTopUp.objects.filter(public_id=reference_uuid.hex).first()
            if topup is None:
                raise Http404
            status = reseller_topup_sync(topup=topup).status
        else:
            from billing.models.gateway import PaymentAttempt
            from billing.payments.flows import payment_attempt_sync

            attempt = PaymentAttempt.objects.filter(public_id=reference_uuid).first()
            if attempt is None:
                raise Http404
            status = payment_attempt_sync(attempt=attempt).status
    except GatewayUnavailable:
        status = "processing"
    return redirect(f"/?payment={status}")


def _uuid_or_404(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Http404 from None
