"""A small shop in tenant A for billing tests: settings of an Italian seller, tax rules,
a catalogue and clients from three countries. Tests run inside tenant A's schema."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from billing import services
from billing.models import BillingSettings, Client, Plan, Product
from billing.money import Money


def eur(value: str | int) -> Money:
    return Money(Decimal(str(value)), "EUR")


@dataclass
class Shop:
    settings: BillingSettings
    hosting: Product
    starter: Plan  # 10.00 monthly, 100.00 annual + 5.00 setup
    pro: Plan  # 30.00 monthly, 300.00 annual
    vps: Plan
    domain: Plan
    client: Client  # a person in Italy
    business_de: Client  # a German company with a VAT number VIES confirmed
    exempt: Client


def flat(text: str) -> str:
    """The text with each run of spaces (no-break ones too, as locales put in amounts) as
    one plain space."""
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


def html_part(message) -> str:
    """The HTML alternative of an e-mail."""
    (html, mimetype) = message.alternatives[0]
    assert mimetype == "text/html"
    return html


def shop_build(**settings_changes) -> Shop:
    settings = services.billing_settings_update(
        legal_name="Alfa Servizi Internet S.r.l.",
        address_line1="Via Roma 1",
        postal_code="00184",
        city="Roma",
        country="IT",
        vat_number="IT01234567890",
        iban="IT60X0542811101000000123456",
        email_from_address="billing@alpha.test",
        **settings_changes,
    )
    services.tax_rule_set(country="IT", rate="22")
    services.tax_rule_set(country="DE", rate="19")
    group = services.product_group_create(name="Hosting")
    hosting = services.product_create(group=group, name="Web hosting", type="shared_hosting")
    starter = services.plan_create(
        product=hosting,
        name="Starter",
        prices={"monthly": eur("10.00"), "annual": (eur("100.00"), eur("5.00"))},
    )
    pro = services.plan_create(
        product=hosting, name="Pro", prices={"monthly": eur("30.00"), "annual": eur("300.00")}
    )
    vps_product = services.product_create(group=group, name="VPS", type="vps", stock=2)
    vps = services.plan_create(product=vps_product, name="VPS S", prices={"monthly": eur(20)})
    domain_product = services.product_create(group=group, name="Domains", type="domain")
    domain = services.plan_create(product=domain_product, name=".com", prices={"annual": eur(12)})
    client = services.client_create(
        name="Mario Rossi", email="mario@example.test", country="IT", city="Milano"
    )
    business_de = services.client_create(
        name="Hans Weber",
        kind="company",
        company_name="Weber GmbH",
        email="hans@weber.test",
        country="DE",
        vat_number="DE136695976",
    )
    # VIES (the local stand-in) confirms the number: a business for VAT.
    services.client_vat_number_verify(client=business_de, settings=settings)
    exempt = services.client_create(
        name="Charity", email="info@charity.test", country="IT", tax_exempt=True
    )
    return Shop(settings, hosting, starter, pro, vps, domain, client, business_de, exempt)


@pytest.fixture
def in_tenant_a(db, tenant_a) -> Iterator[None]:
    with schema_context(tenant_a.schema):
        yield


@pytest.fixture
def shop(in_tenant_a) -> Shop:
    return shop_build()


def invoice_for(client: Client, *lines: tuple[str, Money], issue: bool = True, **line_kwargs):
    invoice = services.invoice_create(client=client)
    for description, price in lines:
        services.invoice_line_add(
            invoice=invoice, description=description, unit_price=price, **line_kwargs
        )
    if issue:
        invoice = services.invoice_issue(invoice=invoice)
    return invoice
