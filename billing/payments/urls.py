"""Payment routes, included under ``payments/`` in both URLconfs: on a tenant's host
they serve the tenant's clients and its Stripe account, on the platform host the
provider's account (reseller top-ups) and Connect."""

from django.urls import path

from billing.payments import views as payment_views

app_name = "payments"

urlpatterns = [
    path("stripe/webhook/", payment_views.stripe_webhook, name="stripe-webhook"),
    path("return/<str:reference>/", payment_views.payment_return, name="return"),
]
