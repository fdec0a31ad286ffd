"""The payment endpoints of a tenant's host: Stripe's webhook and the page a client's
browser returns to after its bank. Thin: verify, call the service, answer. The platform
host's endpoints (reseller top-ups, Connect) are ``resale.payment_views``; both answer
through ``webhook_answer`` and ``return_view``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from billing.models.gateway import PaymentAttempt
from billing.payments import webhooks
from billing.payments.flows import payment_attempt_sync
from billing.payments.gateways import GatewayConfigError, GatewayUnavailable
from billing.payments.gateways.stripe import api as stripe_api
from core.ids import uuid_or_none

logger = logging.getLogger(__name__)

T = TypeVar("T")


def webhook_answer(request: HttpRequest, handle: Callable[[bytes, str], str]) -> HttpResponse:
    """Runs ``handle`` on a Stripe delivery and answers Stripe: 400 for an event refused,
    503 when Stripe must deliver it again, the outcome otherwise."""
    # The raw body, byte for byte: the signature covers it, not a parsed form of it.
    payload = request.body
    signature = request.headers.get("Stripe-Signature", "")
    try:
        outcome = handle(payload, signature)
    except webhooks.WebhookRefused as exc:
        return JsonResponse({"error": exc.reason}, status=400)
    except (GatewayUnavailable, stripe_api.PaymentTransientError):
        # Stripe delivers the event again later; nothing was recorded.
        return JsonResponse({"error": "Stripe could not be reached; try again."}, status=503)
    except GatewayConfigError as exc:
        logger.error("Stripe webhook failed on configuration: %s", exc.message)
        return JsonResponse({"error": "Payment configuration error."}, status=500)
    return JsonResponse({"outcome": outcome})


def return_view(
    find: Callable[[str], T | None], sync: Callable[[T], str]
) -> Callable[[HttpRequest, str], HttpResponse]:
    """The page a browser comes back to from Stripe: ``find`` looks up what was paid by
    its reference (a 404 when nothing), ``sync`` reads its state from Stripe now, so the
    page that follows shows it whether or not the webhook came first."""

    @require_GET
    def payment_return(request: HttpRequest, reference: str) -> HttpResponse:
        paid = find(reference)
        if paid is None:
            raise Http404
        try:
            status = sync(paid)
        except GatewayUnavailable:
            status = "processing"
        return redirect(f"/?payment={status}")

    return payment_return


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    return webhook_answer(request, webhooks.stripe_tenant_webhook)


# The browser is back from 3-D Secure or a hosted payment page.
payment_return = return_view(
    lambda reference: PaymentAttempt.objects.filter(public_id=uuid_or_none(reference)).first(),
    lambda attempt: payment_attempt_sync(attempt=attempt).status,
)
