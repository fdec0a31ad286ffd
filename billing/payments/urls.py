"""Payment routes of a tenant's host, included under ``payments/``: they serve the
tenant's clients and its Stripe account. The platform host's routes of the same names
are ``resale.payment_urls``."""

from django.urls import path

from billing.payments import views as payment_views

app_name = "payments"

urlpatterns = [
    path("stripe/webhook/", payment_views.stripe_webhook, name="stripe-webhook"),
    path("return/<str:reference>/", payment_views.payment_return, name="return"),
]
