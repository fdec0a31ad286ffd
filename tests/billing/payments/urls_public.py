"""The platform URLconf with the payment routes included the way config/urls_public.py will."""

from django.urls import include, path

from config.urls_public import urlpatterns as public_urlpatterns

urlpatterns = [*public_urlpatterns, path("payments/", include("resale.payment_urls"))]
