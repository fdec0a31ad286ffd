"""A reseller's own domain serves its portal only once verified: before that, anybody
could point a name they do not control at the platform (or claim one a victim will
later use) and have the reseller's login page served under it."""

import pytest
from django.test import Client

from tenants.domains import custom_domain_add
from tenants.models import Domain

pytestmark = pytest.mark.django_db


def test_an_unverified_custom_domain_is_an_unknown_host(tenant_a):
    custom_domain_add(tenant=tenant_a.tenant, hostname="portal.alpha-own.example")

    for path in ("/", "/login/", "/console/"):
        response = Client(HTTP_HOST="portal.alpha-own.example").get(path)
        assert response.status_code == 404, path
        assert "Alpha Hosting" not in response.content.decode()
    # The tenant's own platform address keeps working meanwhile.
    assert Client(HTTP_HOST=tenant_a.host).get("/login/").status_code == 200


def test_a_verified_custom_domain_serves_the_portal(tenant_a):
    domain = custom_domain_add(tenant=tenant_a.tenant, hostname="shop.alpha-own.example")
    Domain.objects.filter(pk=domain.pk).update(is_verified=True)

    response = Client(HTTP_HOST="shop.alpha-own.example").get("/login/")
    assert response.status_code == 200
    assert response.wsgi_request.tenant == tenant_a.tenant
