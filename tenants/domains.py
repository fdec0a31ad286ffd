"""A reseller's own domains: add one, prove it with a DNS TXT record, make it primary.

The proof is a TXT record at ``_tessera.<domain>`` whose value is the domain's
verification token. Only a verified domain may become primary, and only a verified one
gets a certificate (``/tls/ask``). DNS is asked through a resolver object with dnspython's
``resolve(name, rdtype)`` interface: ``resolver_get`` returns dnspython's own, and tests
put a fake in its place with ``resolver_override``.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import dns.exception
import dns.resolver
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name, schema_context

from tenants.models import Domain, Tenant
from tenants.services import hostname_validate

TXT_LABEL = "_tessera"
DNS_TIMEOUT_S = 5.0


class Resolver(Protocol):
    def resolve(self, qname: str, rdtype: str, **kwargs: Any) -> Any: ...


_override: Resolver | None = None


def resolver_get() -> Resolver:
    if _override is not None:
        return _override
    resolver = dns.resolver.Resolver()
    resolver.lifetime = DNS_TIMEOUT_S
    return resolver


@contextmanager
def resolver_override(resolver: Resolver) -> Iterator[Resolver]:
    """Uses ``resolver`` for every verification inside the block (tests, diagnostics)."""
    global _override
    previous, _override = _override, resolver
    try:
        yield resolver
    finally:
        _override = previous


def txt_record_name(domain: Domain | str) -> str:
    return f"{TXT_LABEL}.{domain if isinstance(domain, str) else domain.domain}"


@dataclass(frozen=True)
class VerificationResult:
    verified: bool
    message: str


def _public():
    return schema_context(get_public_schema_name())


def tenant_domains(*, tenant: Tenant) -> list[Domain]:
    with _public():
        return list(Domain.objects.filter(tenant=tenant).order_by("-is_primary", "domain"))


def tenant_domain_get(*, tenant: Tenant, domain_id: int) -> Domain:
    with _public():
        return Domain.objects.get(tenant=tenant, pk=domain_id)


def is_platform_host(hostname: str) -> bool:
    platform = settings.PLATFORM_DOMAIN.lower()
    return hostname == platform or hostname.endswith(f".{platform}")


def custom_domain_add(*, tenant: Tenant, hostname: str) -> Domain:
    """A domain of the tenant's own, unverified until its TXT record is found."""
    try:
        hostname = hostname_validate(hostname)
    except ValidationError as exc:
        raise ValidationError(
            _("“%(host)s” is not a valid host name, or another site uses it already.")
            % {"host": hostname.strip()}
        ) from exc
    if is_platform_host(hostname):
        raise ValidationError(_("Add a domain of your own, not an address of this platform."))
    with _public(), transaction.atomic():
        return Domain.objects.create(
            domain=hostname, tenant=tenant, is_primary=False, is_verified=False
        )


def _txt_values(answer: Any) -> list[str]:
    values = []
    for record in answer:
        # A TXT record may be split in several character strings; its value is their join.
        strings = getattr(record, "strings", None)
        if strings is None:
            values.append(str(record).strip('"'))
        else:
            values.append(
                b"".join(s if isinstance(s, bytes) else s.encode() for s in strings).decode(
                    "utf-8", "replace"
                )
            )
    return values


def custom_domain_verify(*, domain: Domain, resolver: Resolver | None = None) -> VerificationResult:
    """Looks the TXT record up and marks the domain verified when it carries the token."""
    if domain.is_verified:
        return VerificationResult(True, _("The domain is verified."))
    resolver = resolver or resolver_get()
    name = txt_record_name(domain)
    try:
        answer = resolver.resolve(name, "TXT")
    except dns.resolver.NXDOMAIN:
        return VerificationResult(
            False, _("There is no TXT record at %(name)s yet.") % {"name": name}
        )
    except dns.resolver.NoAnswer:
        return VerificationResult(
            False, _("%(name)s exists but has no TXT record.") % {"name": name}
        )
    except (dns.resolver.NoNameservers, dns.exception.Timeout):
        return VerificationResult(
            False, _("The DNS servers of the domain did not answer; try again later.")
        )
    except dns.exception.DNSException:
        return VerificationResult(False, _("The DNS lookup failed; try again later."))
    token = domain.verification_token
    if not any(hmac.compare_digest(value.strip(), token) for value in _txt_values(answer)):
        return VerificationResult(
            False,
            _("The TXT record at %(name)s does not contain the verification code.")
            % {"name": name},
        )
    with _public(), transaction.atomic():
        row = Domain.objects.select_for_update().get(pk=domain.pk)
        row.is_verified = True
        row.verified_at = timezone.now()
        row.save(update_fields=["is_verified", "verified_at"])
    domain.is_verified, domain.verified_at = True, row.verified_at
    return VerificationResult(True, _("The domain is verified."))


def custom_domain_make_primary(*, domain: Domain) -> Domain:
    """The address used in links and e-mails. Only a verified domain qualifies."""
    if not domain.is_verified:
        raise ValidationError(_("Verify the domain before making it the primary address."))
    with _public(), transaction.atomic():
        list(Domain.objects.select_for_update().filter(tenant_id=domain.tenant_id))
        row = Domain.objects.get(pk=domain.pk)
        row.is_primary = True
        # DomainMixin.save takes the primary flag away from the tenant's other domains.
        row.save()
    domain.is_primary = True
    return domain


def custom_domain_remove(*, domain: Domain) -> None:
    if domain.is_primary:
        raise ValidationError(_("Make another domain primary before removing this one."))
    if is_platform_host(domain.domain):
        raise ValidationError(_("The platform address of your site cannot be removed."))
    with _public(), transaction.atomic():
        Domain.objects.filter(pk=domain.pk, is_primary=False).delete()
