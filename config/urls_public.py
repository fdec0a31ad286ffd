"""URLs of the platform host: the provider console and the resale API."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts.views import admin_login, login_link, login_view
from core.locale import localized
from portals.common import views as tenant_views

admin.site.site_header = "Provider console"
admin.site.site_title = "Provider console"
# The admin's own password-only form would skip two-factor authentication.
admin.site.login = admin_login

platform_login = localized(login_view)

urlpatterns = [
    path("", tenant_views.platform_home, name="home"),
    path("healthz", tenant_views.healthz, name="healthz"),
    path("login/", platform_login, name="login"),
    # The same two pages under the names allauth's own pages link to.
    path("login/", platform_login, name="account_login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("logout/", auth_views.LogoutView.as_view(), name="account_logout"),
    path("auth/", include("accounts.urls")),
    path("login/link/<str:uidb64>/<str:token>/", login_link, name="login-link"),
    path("api/resale/v1/", include("resale.api_urls")),
    path("payments/", include("resale.payment_urls")),
    path("provider/", include(("portals.provider.urls", "provider"))),
    path("admin/", admin.site.urls),
]
