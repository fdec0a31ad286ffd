"""URLs of the platform host: the provider console and the resale API."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts.views import login_link
from tenants import views as tenant_views

admin.site.site_header = "Provider console"
admin.site.site_title = "Provider console"

urlpatterns = [
    path("", tenant_views.platform_home, name="home"),
    path("healthz", tenant_views.healthz, name="healthz"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="accounts/login.html"),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("login/link/<str:uidb64>/<str:token>/", login_link, name="login-link"),
    path("api/resale/v1/", include("resale.api_urls")),
    path("payments/", include("billing.payment_urls")),
    path("admin/", admin.site.urls),
]
