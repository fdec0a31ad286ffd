"""A new reseller: its tenant, its account at the provider and its first admin."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django_tenants.utils import schema_context

from accounts.models import User
from accounts.tokens import login_link_make
from core.hosts import portal_url_for
from resale.services import reseller_account_create
from tenants.models import Domain, Tenant
from tenants.services import tenant_create


def on_tenant_imported(tenant: Tenant) -> None:
    """A reseller restored from an export gets its account at the provider again."""
    if tenant.kind == Tenant.Kind.RESELLER:
        reseller_account_create(tenant=tenant, legal_name=tenant.name)


@dataclass(frozen=True)
class NewTenant:
    tenant: Tenant
    domain: Domain
    portal_url: str
    login_url: str


@transaction.atomic
def reseller_create(
    *,
    name: str,
    hostname: str,
    admin_email: str,
    schema_name: str | None = None,
    kind: str = Tenant.Kind.RESELLER,
    default_language: str = "en",
) -> NewTenant:
    """The tenant, its domain, its account at the provider and its first admin, all or
    nothing."""
    name = name.strip()
    if not name:
        raise ValidationError("A reseller needs a name.")
    admin_email = admin_email.strip().lower()
    try:
        validate_email(admin_email)
    except ValidationError as exc:
        raise ValidationError(f"“{admin_email}” is not a valid e-mail address.") from exc

    tenant, domain = tenant_create(
        name=name,
        hostname=hostname,
        kind=kind,
        schema_name=schema_name,
        default_language=default_language,
    )
    reseller_account_create(tenant=tenant, legal_name=name)
    with schema_context(tenant.schema_name):
        admin = User.objects.create_user(
            admin_email, kind=User.Kind.STAFF, role=User.Role.OWNER, is_staff=True
        )
        login_url = login_link_make(user=admin, hostname=domain.domain)
    connection.set_schema_to_public()
    return NewTenant(
        tenant=tenant,
        domain=domain,
        portal_url=portal_url_for(domain.domain),
        login_url=login_url,
    )
