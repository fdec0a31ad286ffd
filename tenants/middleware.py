from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name

from tenants.domains import is_platform_host
from tenants.models import Domain, Tenant
from tenants.views import tls_ask


class TenantMiddleware(TenantMainMiddleware):
    """Picks the schema from the Host header. An unknown host is a plain 404 page and a
    suspended tenant a plain "unavailable" page, neither of which names anybody else.

    A reseller's own domain counts only once its TXT record is verified: until then it is
    an unknown host, or whoever points a name at the platform would get the reseller's
    portal (and its login page) under a name the reseller does not control."""

    def get_tenant(self, domain_model: type[Domain], hostname: str) -> Tenant:
        domain = domain_model.objects.select_related("tenant").get(domain=hostname)
        if not (domain.is_verified or is_platform_host(hostname)):
            raise domain_model.DoesNotExist(hostname)
        return domain.tenant

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        body = render_to_string("tenants/unknown_host.html", {"hostname": hostname})
        return HttpResponse(body, status=404)

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        if request.path == "/tls/ask":
            # Caddy asks from inside the network, under its own host name.
            connection.set_schema_to_public()
            return tls_ask(request)
        response = super().process_request(request)
        if response is not None:
            return response
        tenant = request.tenant
        if tenant.schema_name != get_public_schema_name() and not tenant.is_active:
            connection.set_schema_to_public()
            body = render_to_string("tenants/unavailable.html", {"tenant_name": tenant.name})
            return HttpResponse(body, status=503, headers={"Retry-After": "3600"})
        return None
