"""A support desk in tenant A: two departments (one for every client, one that takes
guests and closes answered tickets after three days), SLA clocks and a canned reply."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from billing.models import Client, Service
from support import services
from support.models import CannedReply, Department
from tests.billing.conftest import Shop, shop_build


@dataclass
class Desk:
    shop: Shop
    client: Client
    general: Department
    sales: Department
    canned: CannedReply


def desk_build() -> Desk:
    shop = shop_build()
    general = services.department_save(name="Technical support", email="support@alpha.test")
    sales = services.department_save(
        name="Sales", email="sales@alpha.test", allow_guests=True, auto_close_days=3
    )
    services.sla_policy_set(priority="high", response_hours=4)
    services.sla_policy_set(priority="medium", response_hours=24)
    canned = services.canned_reply_save(
        title="Restarted", body="We restarted your service; it works again."
    )
    return Desk(shop, shop.client, general, sales, canned)


def service_for(client: Client, plan, *, status: str = "active", domain: str = "") -> Service:
    """A service as checkout would leave it, without going through checkout."""
    return Service.objects.create(
        client=client,
        plan=plan,
        status=status,
        billing_cycle="monthly",
        domain_name=domain,
        registration_date=timezone.localdate(),
        recurring_amount=Decimal("10.00"),
        currency="EUR",
    )


@pytest.fixture
def desk(db, tenant_a) -> Iterator[Desk]:
    with schema_context(tenant_a.schema):
        yield desk_build()


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
