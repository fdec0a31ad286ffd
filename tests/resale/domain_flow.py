"""A reseller world that sells domains, with committed rows, for tests that go through a
real Celery worker: the provider's registrar account (the simulated registry, in a Redis
namespace of the test's own) serving a TLD, the TLD on the reseller's price list, and the
reseller's catalogue with the TLD imported (a domain plan ".<tld>")."""

from __future__ import annotations

import os
import random
import string
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection
from django_tenants.utils import schema_context

from billing import services
from billing.models import Client, Plan, Service
from provisioning.models import RegistrarAccount
from provisioning.registrars.accounts import registrar_account_tlds_set, registrar_for_account
from provisioning.registrars.base import Registrar
from resale.catalogue_import import Markup, wholesale_tlds_import
from resale.models import UpstreamCommand, UpstreamDomain, WholesaleTld
from resale.wholesale import TldPriceRow, wholesale_tld_save
from sandbox.epp.server import EppServer
from tests.resale.flow import ResaleWorld, resale_world_build, wait_for

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# Wholesale prices per year (restore once) of the test TLD.
REGISTER, TRANSFER, RENEW, RESTORE = (
    Decimal("8.00"),
    Decimal("7.00"),
    Decimal("9.00"),
    Decimal("40.00"),
)


@dataclass
class DomainWorld:
    world: ResaleWorld
    tld: str
    registrar_account: RegistrarAccount
    domain_plan: Plan
    host: str

    @property
    def schema(self) -> str:
        return self.world.schema

    @property
    def client(self) -> Client:
        return self.world.client

    def registry(self) -> Registrar:
        return registrar_for_account(self.registrar_account)


def random_tld() -> str:
    """A TLD no other test (and no real registry) uses, so committed rows never meet."""
    return "zz" + "".join(random.choices(string.ascii_lowercase, k=8))


def domain_world_build(
    created, *, top_up: str = "100.00", epp: EppServer | None = None, tld: str = ""
) -> DomainWorld:
    """The simulated registry, or with ``epp`` the local EPP registry over TLS (serving
    ``tld``)."""
    world = resale_world_build(created, top_up=top_up)
    tld = tld or random_tld()
    if epp is not None:
        fields = epp.registrar_account_fields()
        password = fields.pop("password")
        registrar_account = RegistrarAccount(name=f"epp-{uuid.uuid4().hex[:8]}", **fields)
        registrar_account.secret = password
    else:
        registrar_account = RegistrarAccount(
            name=f"sim-{uuid.uuid4().hex[:8]}",
            module="simulated",
            hostname=f"{uuid.uuid4().hex[:10]}.registry.test",
            port=0,
            extra={
                "redis_url": REDIS_URL,
                "transfer_delay_s": 0,
                "taken_domains": [f"taken.{tld}"],
                "premium_domains": [f"gold.{tld}"],
            },
        )
        registrar_account.secret = "registry-Password-1"
    registrar_account.save()
    registrar_account_tlds_set(account=registrar_account, tlds=[tld])
    wholesale_tld_save(
        tld=tld,
        prices=[
            TldPriceRow(
                price_list=world.account.price_list,
                register=REGISTER,
                transfer=TRANSFER,
                renew=RENEW,
                restore=RESTORE,
            )
        ],
    )
    with schema_context(world.schema):
        services.client_update(
            client=world.client,
            phone="+39 06 1234 5678",
            address_line1="Via Roma 1",
            postal_code="00100",
            city="Roma",
        )
        result = wholesale_tlds_import(
            tenant=created.tenant, tlds=[tld], markup=Markup(kind="percent", value=Decimal(25))
        )
        plan = result.created[0]
    connection.set_schema_to_public()
    return DomainWorld(world, tld, registrar_account, plan, created.domain.domain)


def domain_world_cleanup(dworld: DomainWorld) -> None:
    """What the world left in public beyond the tenant's own rows (those go with it)."""
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM resale_balanceentry WHERE upstream_domain_id IN "
            "(SELECT id FROM resale_upstreamdomain WHERE tld_id IN "
            "(SELECT id FROM resale_wholesaletld WHERE tld = %s))",
            [dworld.tld],
        )
        cursor.execute(
            "DELETE FROM resale_upstreamdomain WHERE tld_id IN "
            "(SELECT id FROM resale_wholesaletld WHERE tld = %s)",
            [dworld.tld],
        )
    WholesaleTld.objects.filter(tld=dworld.tld).delete()
    dworld.registrar_account.delete()


@contextmanager
def domain_world(
    tenant_factory, name: str = "Domain Hosting", *, epp: EppServer | None = None, tld: str = ""
) -> Iterator[DomainWorld]:
    dworld = domain_world_build(tenant_factory(name), epp=epp, tld=tld)
    try:
        yield dworld
    finally:
        domain_world_cleanup(dworld)


def order_and_pay_items(dworld: DomainWorld, *, key: str, items: list[dict[str, Any]]) -> list:
    """One cart with ``items`` (keyword arguments of ``cart_item_add``), checked out and
    paid by bank transfer; the order's services, in the order of the items."""
    with schema_context(dworld.schema):
        cart = services.cart_create(client=dworld.client)
        for item in items:
            services.cart_item_add(cart=cart, **item)
        order = services.checkout_place(cart=cart, client=dworld.client, idempotency_key=key)
        invoice = order.invoice
        services.payment_record(
            invoice=invoice,
            amount=invoice.amount_due,
            method="bank_transfer",
            idempotency_key=f"pay-{key}",
        )
        found = list(Service.objects.filter(order_item__order=order).order_by("order_item_id"))
    connection.set_schema_to_public()
    return found


def transfer_ordered(dworld: DomainWorld, name: str, *, key: str) -> Service:
    """A client orders and pays the transfer of ``name`` with its auth code; returns the
    service once the registry has the request."""
    (service,) = order_and_pay_items(
        dworld,
        key=key,
        items=[
            {
                "plan": dworld.domain_plan,
                "cycle": "annual",
                "domain_name": name,
                "domain_action": "transfer",
                "auth_code": "Auth-Code-9876",
            }
        ],
    )
    wait_for(
        lambda: (
            (upstream_domain(dworld, service) or UpstreamDomain()).status
            == UpstreamDomain.Status.PENDING_TRANSFER
        ),
        what="the transfer request",
    )
    return service


def upstream_domain(dworld: DomainWorld, service: Service) -> UpstreamDomain | None:
    with schema_context(dworld.schema):
        command = (
            UpstreamCommand.objects.filter(
                service_ref=str(service.public_id),
                action__in=["domain_register", "domain_transfer"],
            )
            .exclude(upstream_ref="")
            .first()
        )
    connection.set_schema_to_public()
    if command is None:
        return None
    return UpstreamDomain.objects.filter(public_id=command.upstream_ref).first()


def local_service(dworld: DomainWorld, service: Service) -> Service:
    with schema_context(dworld.schema):
        return Service.objects.get(pk=service.pk)


def registry_clock_forward(dworld: DomainWorld, domain: str, expires_on: date) -> None:
    """The registry's own time passes: the domain's expiry is now ``expires_on``."""
    with dworld.registry() as registry:
        record = registry._load(domain)
        record["expires_on"] = expires_on.isoformat()
        registry._save(record)


def commands(dworld: DomainWorld) -> list[tuple[str, str, str]]:
    """The tenant's domain commands as (action, state, last error), for timeouts."""
    with schema_context(dworld.schema):
        found = list(UpstreamCommand.objects.values_list("action", "state", "last_error"))
    connection.set_schema_to_public()
    return found
