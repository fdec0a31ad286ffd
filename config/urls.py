"""URLs of a tenant host: storefront, client area, reseller console and tenant API."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts.views import login_link
from portals.common import views as tenant_views
from portals.storefront import views as storefront_views

urlpatterns = [
    path("", storefront_views.home, name="home"),
    path("healthz", tenant_views.healthz, name="healthz"),
    path("login/", tenant_views.login_view, name="login"),
    # The same two pages under the names allauth's own pages link to.
    path("login/", tenant_views.login_view, name="account_login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("logout/", auth_views.LogoutView.as_view(), name="account_logout"),
    path("auth/", include("accounts.urls")),
    path("login/link/<str:uidb64>/<str:token>/", login_link, name="login-link"),
    path("console/", include(("portals.console.urls", "console"))),
    path("api/", include("api.urls")),
    path("payments/", include("billing.payments.urls")),
    path("account/", include("portals.client_area.urls")),
    path("", include("portals.storefront.urls")),
]
