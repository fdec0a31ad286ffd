from decimal import Decimal

from resale.models import (
    PriceList,
    ResellerAccount,
    WholesaleOption,
    WholesaleOptionChoice,
    WholesaleOptionPrice,
    WholesalePlan,
    WholesalePrice,
)


def wholesale_catalogue(*, code_prefix: str = "") -> dict:
    """A default price list with a shared-hosting plan and a VPS."""
    price_list, _ = PriceList.objects.get_or_create(
        name=f"Standard {code_prefix}".strip(), defaults={"currency": "EUR", "is_default": False}
    )
    plans = {}
    for code, name, kind, monthly in [
        ("web-s", "Web S", WholesalePlan.ProductType.SHARED, Decimal("2.50")),
        ("web-m", "Web M", WholesalePlan.ProductType.SHARED, Decimal("4.00")),
        ("vps-1", "VPS 1", WholesalePlan.ProductType.VPS, Decimal("7.00")),
    ]:
        plan, _ = WholesalePlan.objects.get_or_create(
            code=f"{code_prefix}{code}",
            defaults={"name": name, "product_type": kind, "package": code},
        )
        for cycle, months in [("monthly", 1), ("annual", 11)]:
            WholesalePrice.objects.get_or_create(
                price_list=price_list,
                plan=plan,
                cycle=cycle,
                defaults={"price_amount": monthly * months, "currency": "EUR"},
            )
        plans[code] = plan
    return {"price_list": price_list, **plans}


def account_on(tenant, price_list) -> ResellerAccount:
    account = ResellerAccount.objects.get(tenant=tenant)
    account.price_list = price_list
    account.save(update_fields=["price_list"])
    return account


def wholesale_options(*, price_list, plans, code_prefix: str = "") -> dict:
    """Extra RAM (pick one: +2 GB at 3.00, +4 GB at 5.00 a month) and IPv4 addresses (a
    quantity, 1.50 a month each, up to four) sold with ``plans``."""
    ram, _ = WholesaleOption.objects.get_or_create(
        code=f"{code_prefix}ram", defaults={"name": "Extra RAM"}
    )
    ipv4, _ = WholesaleOption.objects.get_or_create(
        code=f"{code_prefix}ipv4",
        defaults={"name": "IPv4 addresses", "kind": "quantity", "max_quantity": 4},
    )
    choices = {}
    for option, code, name, settings, monthly in [
        (ram, "2gb", "+2 GB", {"ram_mb": 2048}, Decimal("3.00")),
        (ram, "4gb", "+4 GB", {"ram_mb": 4096}, Decimal("5.00")),
        (ipv4, "ip", "1 address", {"ips": 1}, Decimal("1.50")),
    ]:
        choice, _ = WholesaleOptionChoice.objects.get_or_create(
            option=option, code=code, defaults={"name": name, "settings": settings}
        )
        for cycle, months in [("monthly", 1), ("annual", 11)]:
            WholesaleOptionPrice.objects.get_or_create(
                price_list=price_list,
                choice=choice,
                cycle=cycle,
                defaults={"price_amount": monthly * months, "currency": "EUR"},
            )
        choices[f"{option.code}:{code}"] = choice
    for option in (ram, ipv4):
        option.plans.add(*plans)
    return {"ram": ram, "ipv4": ipv4, **choices}
