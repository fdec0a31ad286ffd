"""The provider's side of the demo: a wholesale catalogue, a price list, a simulated
panel to provision on, and a prepaid balance for every reseller. Idempotent."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from billing.money import Money
from provisioning.models import PlanMapping, ServerGroup
from provisioning.services import server_create
from resale.models import PriceList, ResellerAccount, WholesalePlan, WholesalePrice
from resale.services import reseller_balance_topup
from tenants.models import Tenant

# (code, name, type, monthly, annual) — the codes the demo storefronts resell
# (billing.demo).
WHOLESALE = [
    ("shared-starter", "Shared Starter", "shared", "2.00", "20.00"),
    ("shared-business", "Shared Business", "shared", "4.00", "40.00"),
    ("vps-2g", "VPS 2 GB", "vps", "7.00", "70.00"),
]

# The demo's cost is this share of the resellers' standard price.
COST_SHARE = Decimal("0.75")


@transaction.atomic
def seed_provider() -> PriceList:
    price_list, _ = PriceList.objects.get_or_create(
        name="Standard", defaults={"currency": "EUR", "is_default": True}
    )
    # What the plans cost the provider: the list its own retail brand buys on.
    cost_list, _ = PriceList.objects.get_or_create(
        name="Provider cost", defaults={"currency": "EUR", "is_cost": True}
    )
    group, created = ServerGroup.objects.get_or_create(
        name="Demo panels", defaults={"module": "simulated"}
    )
    if created:
        server_create(
            group=group,
            name="sim1",
            hostname="sim1.demo.test",
            port=443,
            extra={"latency_s": 0.3, "failure_rate": 0},
        )
    for code, name, kind, monthly, annual in WHOLESALE:
        plan, _ = WholesalePlan.objects.get_or_create(
            code=code, defaults={"name": name, "product_type": kind, "package": code}
        )
        for cycle, price in (("monthly", monthly), ("annual", annual)):
            for prices, share in ((price_list, Decimal(1)), (cost_list, COST_SHARE)):
                WholesalePrice.objects.get_or_create(
                    price_list=prices,
                    plan=plan,
                    cycle=cycle,
                    defaults={
                        "price_amount": Money(Decimal(price) * share, "EUR").rounded().amount,
                        "currency": "EUR",
                    },
                )
        PlanMapping.objects.get_or_create(
            plan_code=code, defaults={"group": group, "package": code}
        )
    return price_list


def seed_account(account: ResellerAccount, price_list: PriceList) -> None:
    if account.tenant.kind == Tenant.Kind.RETAIL:
        # The retail brand buys at cost, also in a demo seeded before cost lists existed.
        price_list = PriceList.objects.get(name="Provider cost")
        if account.price_list_id != price_list.pk:
            account.price_list = price_list
            account.save(update_fields=["price_list"])
    elif account.price_list_id is None:
        account.price_list = price_list
        account.save(update_fields=["price_list"])
    reseller_balance_topup(
        account=account, amount="100.00", reference="demo", idempotency_key="demo-opening-balance"
    )
