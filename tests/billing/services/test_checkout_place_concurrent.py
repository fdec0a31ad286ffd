"""The last unit in stock, bought by two clients at the same moment."""

from __future__ import annotations

from django_tenants.utils import schema_context

from billing import services
from billing.errors import BillingError
from billing.models import Order, Product
from tests.billing.conftest import eur
from tests.billing.live import run_together


def test_the_last_unit_is_sold_once(tenant_factory):
    schema = tenant_factory(name="Stock Hosting").tenant.schema_name
    with schema_context(schema):
        group = services.product_group_create(name="Servers")
        product = services.product_create(group=group, name="Dedicated", type="dedicated", stock=1)
        plan = services.plan_create(product=product, name="D1", prices={"monthly": eur(99)})
        carts = []
        for i in range(3):
            client = services.client_create(name=f"C{i}", email=f"c{i}@example.test")
            cart = services.cart_create(client=client)
            services.cart_item_add(cart=cart, plan=plan, cycle="monthly")
            carts.append((cart, client))

    results = run_together(
        schema,
        [lambda c=c, k=k: services.checkout_place(cart=c, client=k) for c, k in carts],
    )
    orders = [r for r in results if isinstance(r, Order)]
    refused = [r for r in results if isinstance(r, BillingError)]
    assert len(orders) == 1 and len(refused) == 2, results
    with schema_context(schema):
        assert Product.objects.get(pk=product.pk).stock == 0
        assert Order.objects.count() == 1
