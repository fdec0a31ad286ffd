from decimal import Decimal

from resale.models import PriceList, ResellerAccount, WholesalePlan, WholesalePrice


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
