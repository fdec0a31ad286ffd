"""The tenant URLconf with the payment routes included the way config/urls.py will."""

from django.urls import include, path

from config.urls import urlpatterns as tenant_urlpatterns

urlpatterns = [*tenant_urlpatterns, path("payments/", include("billing.payments.urls"))]
