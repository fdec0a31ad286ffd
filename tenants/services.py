"""Creating tenants, their domains and their first people."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.management import call_command
from django.core.validators import validate_email
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.text import slugify
from django.utils.translation import gettext
from django_tenants.utils import get_public_schema_name, schema_context, schema_exists

from accounts.models import User
from billing.money import currency_validate
from resale.models import PriceList
from resale.services import ResaleError, reseller_account_create, reseller_balance_topup
from tenants.cloning import schema_clone
from tenants.models import Domain, Tenant

HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$"
)
SCHEMA_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
RESERVED_SCHEMAS = {"public", "information_schema", settings.TENANT_BASE_SCHEMA}


@dataclass(frozen=True)
class NewTenant:
    tenant: Tenant
    domain: Domain
    portal_url: str
    login_url: str


def portal_url_for(hostname: str, path: str = "/") -> str:
    port = settings.PUBLIC_URL_PORT
    default_port = {"http": 80, "https": 443}[settings.PUBLIC_URL_SCHEME]
    suffix = "" if port == default_port else f":{port}"
    return f"{settings.PUBLIC_URL_SCHEME}://{hostname}{suffix}{path}"


def hostname_validate(hostname: str) -> str:
    hostname = hostname.strip().lower().rstrip(".")
    if not HOSTNAME_RE.match(hostname):
        raise ValidationError(
            f"“{hostname}” is not a valid host name: use letters, digits, hyphens and dots, "
            "like acme.example.com."
        )
    if Domain.objects.filter(domain=hostname).exists():
        raise ValidationError(f"The domain “{hostname}” is already used by another site.")
    return hostname


def schema_name_validate(schema_name: str) -> str:
    if not SCHEMA_NAME_RE.match(schema_name) or schema_name.startswith("pg_"):
        raise ValidationError(
            f"“{schema_name}” is not a valid schema name: start with a letter and use only "
            "lower-case letters, digits and underscores (at most 63)."
        )
    if schema_name in RESERVED_SCHEMAS:
        raise ValidationError(f"The schema name “{schema_name}” is reserved.")
    if Tenant.objects.filter(schema_name=schema_name).exists() or schema_exists(schema_name):
        raise ValidationError(f"The schema name “{schema_name}” is already taken.")
    return schema_name


def schema_name_from_hostname(hostname: str) -> str:
    label = slugify(hostname.split(".")[0]).replace("-", "_")
    if not label or not label[0].isalpha():
        label = f"t_{label}"
    return label[:63]


def template_schema_migrate(*, verbosity: int = 0) -> None:
    """Brings the template every tenant is cloned from up to the latest migrations."""
    template = settings.TENANT_BASE_SCHEMA
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{template}"')
    call_command("migrate_schemas", schema_name=template, interactive=False, verbosity=verbosity)
    connection.set_schema_to_public()


def tenant_schema_clone(*, schema_name: str) -> None:
    """A new tenant schema as a copy of the template, tables, indexes and the migration
    history included, so no migration needs to run for it."""
    if not schema_exists(settings.TENANT_BASE_SCHEMA):
        template_schema_migrate()
    connection.set_schema_to_public()
    schema_clone(template=settings.TENANT_BASE_SCHEMA, schema_name=schema_name)


@transaction.atomic
def tenant_create(
    *,
    name: str,
    hostname: str,
    kind: str = Tenant.Kind.RESELLER,
    schema_name: str | None = None,
    default_language: str = "en",
) -> tuple[Tenant, Domain]:
    hostname = hostname_validate(hostname)
    schema_name = schema_name_validate(schema_name or schema_name_from_hostname(hostname))
    slug = schema_name.replace("_", "-")
    if Tenant.objects.filter(slug=slug).exists():
        raise ValidationError(f"A tenant with the short name “{slug}” already exists.")
    tenant = Tenant.objects.create(
        schema_name=schema_name,
        name=name.strip(),
        slug=slug,
        kind=kind,
        default_language=default_language,
    )
    domain = Domain.objects.create(
        domain=hostname, tenant=tenant, is_primary=True, is_verified=True
    )
    tenant_schema_clone(schema_name=schema_name)
    return tenant, domain


def login_link_make(*, user, hostname: str) -> str:
    """A link that logs the user in once: the token hashes last_login, so using it
    invalidates it."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("login-link", kwargs={"uidb64": uid, "token": token}, urlconf="config.urls")
    return portal_url_for(hostname, path)


@dataclass(frozen=True)
class ResellerTerms:
    """What the provider agrees with a new reseller: its legal identity as the provider's
    customer, the currency and price list it buys on, its credit and its opening balance."""

    legal_name: str = ""
    address: str = ""
    country: str = ""
    vat_number: str = ""
    billing_email: str = ""
    currency: str = "EUR"
    price_list_id: int | None = None
    credit_limit: Decimal = Decimal(0)
    opening_balance: Decimal = Decimal(0)


def _reseller_terms_validate(terms: ResellerTerms) -> None:
    try:
        currency_validate(terms.currency)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    if terms.credit_limit < 0:
        raise ValidationError("A credit limit cannot be negative.")
    if terms.opening_balance < 0:
        raise ValidationError("An opening balance cannot be negative.")
    if terms.country and not re.fullmatch(r"[A-Za-z]{2}", terms.country):
        raise ValidationError("A country is its two-letter ISO code, such as IT or DE.")
    if terms.billing_email:
        try:
            validate_email(terms.billing_email)
        except ValidationError as exc:
            raise ValidationError(
                f"“{terms.billing_email}” is not a valid e-mail address."
            ) from exc
    if terms.price_list_id is not None:
        price_list = PriceList.objects.filter(pk=terms.price_list_id).first()
        if price_list is None:
            raise ValidationError("No such price list.")
        if price_list.currency != terms.currency:
            raise ValidationError(
                f"The price list “{price_list.name}” is in {price_list.currency}, "
                f"not in {terms.currency}."
            )


@transaction.atomic
def reseller_create(
    *,
    name: str,
    hostname: str,
    admin_email: str,
    schema_name: str | None = None,
    kind: str = Tenant.Kind.RESELLER,
    default_language: str = "en",
    terms: ResellerTerms | None = None,
    created_by: str = "",
) -> NewTenant:
    """The tenant, its domain, its account at the provider (with its opening balance) and
    its first admin, who is sent an invitation with a one-time login link: all or
    nothing. The console's form and ``create_reseller`` both come here."""
    terms = terms or ResellerTerms()
    name = name.strip()
    if not name:
        raise ValidationError("A reseller needs a name.")
    admin_email = admin_email.strip().lower()
    try:
        validate_email(admin_email)
    except ValidationError as exc:
        raise ValidationError(f"“{admin_email}” is not a valid e-mail address.") from exc
    _reseller_terms_validate(terms)

    tenant, domain = tenant_create(
        name=name,
        hostname=hostname,
        kind=kind,
        schema_name=schema_name,
        default_language=default_language,
    )
    price_list = PriceList.objects.filter(pk=terms.price_list_id).first()
    try:
        account = reseller_account_create(
            tenant=tenant,
            legal_name=terms.legal_name.strip() or name,
            currency=terms.currency,
            price_list=price_list,
            credit_limit=terms.credit_limit,
            address=terms.address.strip(),
            country=terms.country.strip(),
            vat_number=terms.vat_number.strip(),
            billing_email=terms.billing_email.strip(),
        )
        if terms.opening_balance > 0:
            reseller_balance_topup(
                account=account,
                amount=terms.opening_balance,
                reference="opening balance",
                idempotency_key="opening-balance",
                created_by=created_by,
            )
    except ResaleError as exc:
        raise ValidationError(exc.message) from exc
    with schema_context(tenant.schema_name):
        admin = User.objects.create_user(
            admin_email, kind=User.Kind.STAFF, role=User.Role.OWNER, is_staff=True
        )
        login_url = login_link_make(user=admin, hostname=domain.domain)
    connection.set_schema_to_public()
    context = {"site_name": name, "link": login_url, "platform": settings.PLATFORM_NAME}
    # The reseller exists once this commits: a mail server that is down is logged, not
    # turned into an error page for a creation that succeeded.
    transaction.on_commit(
        lambda: _invitation_send(admin_email, context, language=default_language), robust=True
    )
    return NewTenant(
        tenant=tenant,
        domain=domain,
        portal_url=portal_url_for(domain.domain),
        login_url=login_url,
    )


def _invitation_send(email: str, context: dict, *, language: str) -> None:
    """The first admin's invitation, in the language the reseller's site speaks."""
    with translation.override(language):
        send_mail(
            gettext("Your site %(site)s is ready") % {"site": context["site_name"]},
            render_to_string("tenants/emails/reseller_invitation.txt", context),
            None,
            [email],
        )


def platform_ensure(*, hostname: str | None = None) -> Tenant:
    """The row for the public schema, which serves the provider console."""
    hostname = hostname or settings.PLATFORM_DOMAIN
    tenant, _ = Tenant.objects.get_or_create(
        schema_name=get_public_schema_name(),
        defaults={"name": settings.PLATFORM_NAME, "slug": "platform", "kind": Tenant.Kind.PLATFORM},
    )
    Domain.objects.get_or_create(
        domain=hostname, defaults={"tenant": tenant, "is_primary": True, "is_verified": True}
    )
    return tenant
