"""A shop in tenant A for the portal tests: an Italian seller with a bank account, VAT
rules, hosting plans with an option, domain plans for .com and .net, and tenant A's client
user linked to a client. Plus a local RDAP server the storefront's domain search talks to,
and staff of every role."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from billing import services
from billing.models import BillingSettings, Client, Plan
from billing.money import Money
from sandbox.rdap_server import RdapServer
from tests.conftest import PASSWORD


def eur(value: str | int) -> Money:
    return Money(Decimal(str(value)), "EUR")


@dataclass
class Shop:
    settings: BillingSettings
    starter: Plan  # 10.00 monthly, 100.00 + 5.00 setup annual
    pro: Plan  # 30.00 monthly, 300.00 annual
    com: Plan  # .com, 12.00 annual
    net: Plan  # .net, 14.00 annual
    extra_ip: object  # quantity option, 2.00 monthly per address
    ip_choice: object  # its single choice
    client: Client  # tenant A's client user acts for it


def shop_build(client_user) -> Shop:
    settings = services.billing_settings_update(
        legal_name="Alpha Hosting S.r.l.",
        address_line1="Via Roma 1",
        postal_code="00184",
        city="Roma",
        country="IT",
        vat_number="IT01234567890",
        bank_name="Banca Test",
        iban="IT60X0542811101000000123456",
        bic="BPMOIT22XXX",
        email_from_address="billing@alpha.test",
    )
    services.tax_rule_set(country="IT", rate="22")
    services.tax_rule_set(country="DE", rate="19")
    hosting_group = services.product_group_create(name="Hosting")
    hosting = services.product_create(
        group=hosting_group, name="Web hosting", type="shared_hosting"
    )
    starter = services.plan_create(
        product=hosting,
        name="Starter",
        prices={"monthly": eur("10.00"), "annual": (eur("100.00"), eur("5.00"))},
        features=["10 GB SSD", "1 website"],
    )
    pro = services.plan_create(
        product=hosting, name="Pro", prices={"monthly": eur("30.00"), "annual": eur("300.00")}
    )
    extra_ip = services.configurable_option_create(
        name="Extra IP address",
        kind="quantity",
        max_quantity=4,
        choices={"IPv4": {"monthly": eur(2), "annual": eur(20)}},
        plans=[starter, pro],
    )
    domains_group = services.product_group_create(name="Domains")
    domain_product = services.product_create(
        group=domains_group, name="Domain registration", type="domain"
    )
    com = services.plan_create(product=domain_product, name=".com", prices={"annual": eur(12)})
    net = services.plan_create(product=domain_product, name=".net", prices={"annual": eur(14)})
    client = services.client_create(
        name="Mario Rossi", email="mario@example.test", country="IT", city="Milano"
    )
    services.client_user_link(client=client, user=client_user)
    return Shop(settings, starter, pro, com, net, extra_ip, extra_ip.choices.get(), client)


@pytest.fixture
def shop_a(db, tenant_a) -> Iterator[Shop]:
    with schema_context(tenant_a.schema):
        built = shop_build(tenant_a.client_user)
    connection.set_schema_to_public()
    yield built


@pytest.fixture
def shop_b(db, tenant_b) -> Iterator[Shop]:
    with schema_context(tenant_b.schema):
        built = shop_build(tenant_b.client_user)
    connection.set_schema_to_public()
    yield built


def staff_member(world, role: str):
    """A staff login of ``world`` with ``role`` (created once per test database)."""
    from accounts.models import User

    with schema_context(world.schema):
        user, created = User.objects.get_or_create(
            email=f"{role}@{world.schema}.test",
            defaults={"kind": User.Kind.STAFF, "role": role},
        )
        if created:
            user.set_password(PASSWORD)
            user.save()
    connection.set_schema_to_public()
    return user


@pytest.fixture
def rdap_server() -> Iterator[RdapServer]:
    server = RdapServer(
        registered={"taken.com", "example.com", "example.net", "alphabet.com"},
        faults={
            "broken.com": "500",
            "busy.com": "429",
            "garbage.com": "garbage",
            "odd.com": "wrong-class",
            "moved.com": "redirect",
        },
    ).start()
    yield server
    server.stop()


@pytest.fixture
def rdap_bootstrap(rdap_server, tmp_path, settings):
    """The storefront's RDAP bootstrap points .com, .net and .test at the local server."""
    path = tmp_path / "dns.json"
    path.write_text(json.dumps(rdap_server.bootstrap(["com", "net", "test"])))
    settings.RDAP_BOOTSTRAP_FILE = str(path)
    return path
