"""A new reseller: its tenant, its account at the provider and its first admin."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext
from django_tenants.utils import schema_context

from accounts.models import User
from accounts.tokens import login_link_make
from billing.money import currency_validate
from core.hosts import portal_url_for
from resale.models import PriceList
from resale.services import ResaleError, reseller_account_create, reseller_balance_topup
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
    nothing. The provider console's form and ``create_reseller`` both come here."""
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
