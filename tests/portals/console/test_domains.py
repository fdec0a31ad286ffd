"""A reseller's own domains: added in the console, proven with a DNS TXT record through a
fake resolver, made primary; Caddy's TLS question follows."""

from __future__ import annotations

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import pytest
from django.test import Client

from tenants.domains import custom_domain_add, custom_domain_verify, resolver_override
from tenants.models import Domain

pytestmark = pytest.mark.django_db

TXT_NAME = "_tessera.billing.alpha-example.org"


class FakeResolver:
    """Answers TXT queries from a dict, with real dnspython TXT records."""

    def __init__(self, records: dict[str, list[str]] | None = None, error=None) -> None:
        self.records = records or {}
        self.error = error
        self.asked: list[tuple[str, str]] = []

    def resolve(self, qname: str, rdtype: str, **kwargs):
        self.asked.append((qname, rdtype))
        if self.error is not None:
            raise self.error
        if qname not in self.records:
            raise dns.resolver.NXDOMAIN()
        return [
            dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, text)
            for text in self.records[qname]
        ]


def tls_ask(host: str) -> int:
    return Client(HTTP_HOST="caddy.internal").get("/tls/ask", {"domain": host}).status_code


def _add(tenant_a, hostname="billing.alpha-example.org"):
    response = tenant_a.client(tenant_a.owner).post(
        "/console/domains/", {"action": "add", "hostname": hostname}
    )
    assert response.status_code == 302, response.content[:2000]
    return Domain.objects.get(domain=hostname)


def _post(tenant_a, action: str, domain: Domain, follow: bool = True):
    return tenant_a.client(tenant_a.owner).post(
        "/console/domains/", {"action": action, "domain": domain.pk}, follow=follow
    )


def test_domain_is_added_unverified_with_its_txt_instructions(tenant_a):
    domain = _add(tenant_a)
    assert not domain.is_verified and not domain.is_primary and domain.tenant == tenant_a.tenant
    page = tenant_a.client(tenant_a.owner).get("/console/domains/").content.decode()
    assert "_tessera.billing.alpha-example.org" in page
    assert domain.verification_token in page
    assert tls_ask("billing.alpha-example.org") == 404


def test_verification_with_the_right_token(tenant_a):
    domain = _add(tenant_a)
    # Long records arrive split into several strings; the value is their join.
    half = len(domain.verification_token) // 2
    record = f'"{domain.verification_token[:half]}" "{domain.verification_token[half:]}"'
    resolver = FakeResolver({"_tessera.billing.alpha-example.org": ['"unrelated"', record]})
    with resolver_override(resolver):
        page = _post(tenant_a, "verify", domain).content.decode()
    assert "The domain is verified." in page
    assert resolver.asked == [("_tessera.billing.alpha-example.org", "TXT")]
    domain.refresh_from_db()
    assert domain.is_verified and domain.verified_at is not None
    assert tls_ask("billing.alpha-example.org") == 200


@pytest.mark.parametrize(
    ("resolver", "message"),
    [
        (FakeResolver({}), "no TXT record"),
        (FakeResolver({TXT_NAME: ['"wrong-token"']}), "does not contain"),
        (FakeResolver(error=dns.resolver.NoAnswer()), "has no TXT record"),
        (FakeResolver(error=dns.exception.Timeout()), "did not answer"),
        (FakeResolver(error=dns.resolver.NoNameservers()), "did not answer"),
    ],
)
def test_verification_failures_say_why(tenant_a, resolver, message):
    domain = _add(tenant_a)
    with resolver_override(resolver):
        page = _post(tenant_a, "verify", domain).content.decode()
    assert message in page
    domain.refresh_from_db()
    assert not domain.is_verified
    assert tls_ask(domain.domain) == 404


def test_only_a_verified_domain_becomes_primary(tenant_a):
    domain = _add(tenant_a)
    refused = _post(tenant_a, "primary", domain).content.decode()
    assert "Verify the domain" in refused
    with resolver_override(
        FakeResolver({"_tessera.billing.alpha-example.org": [f'"{domain.verification_token}"']})
    ):
        custom_domain_verify(domain=domain)
    _post(tenant_a, "primary", domain)
    tenant_a.tenant.refresh_from_db()
    assert tenant_a.tenant.primary_domain.domain == "billing.alpha-example.org"
    assert Domain.objects.filter(tenant=tenant_a.tenant, is_primary=True).count() == 1
    # The primary domain cannot be removed; the platform address never can.
    assert "Make another domain primary" in _post(tenant_a, "remove", domain).content.decode()
    platform = Domain.objects.get(domain=tenant_a.host)
    assert "cannot be removed" in _post(tenant_a, "remove", platform).content.decode()
    _post(tenant_a, "primary", platform)
    _post(tenant_a, "remove", domain)
    assert not Domain.objects.filter(domain="billing.alpha-example.org").exists()
    tenant_a.tenant.refresh_from_db()
    assert tenant_a.tenant.primary_domain.domain == tenant_a.host


@pytest.mark.parametrize(
    ("hostname", "message"),
    [
        ("not a host", "not a valid host name"),
        ("beta.localhost", "not a valid host name"),  # tenant B's address
        ("shop2.localhost", "not an address of this platform"),
    ],
)
def test_unusable_domains_are_refused(tenant_a, tenant_b, hostname, message):
    response = tenant_a.client(tenant_a.owner).post(
        "/console/domains/", {"action": "add", "hostname": hostname}
    )
    assert response.status_code == 400 and message in response.content.decode()


def test_roles_and_other_tenants_domains(tenant_a, tenant_b):
    assert (
        tenant_a.client(tenant_a.readonly)
        .post("/console/domains/", {"action": "add", "hostname": "x.alpha-example.org"})
        .status_code
        == 403
    )
    theirs = custom_domain_add(tenant=tenant_b.tenant, hostname="billing.beta-example.org")
    response = tenant_a.client(tenant_a.owner).post(
        "/console/domains/", {"action": "verify", "domain": theirs.pk}
    )
    assert response.status_code == 404
    page = tenant_a.client(tenant_a.owner).get("/console/domains/").content.decode()
    assert "beta-example.org" not in page
