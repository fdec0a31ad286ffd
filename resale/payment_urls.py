"""Payment routes of the platform host, included under ``payments/`` in its URLconf with
the same names as a tenant's (``billing.payments.urls``): the platform's Stripe webhook
and the return from a reseller's top-up."""

from django.urls import path

from resale import platform_payments

app_name = "payments"

urlpatterns = [
    path("stripe/webhook/", platform_payments.stripe_webhook, name="stripe-webhook"),
    path("return/<str:reference>/", platform_payments.payment_return, name="return"),
]
