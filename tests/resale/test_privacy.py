"""The provider never learns who a reseller's client is: after orders, provisioning,
suspension and termination, no table of the public schema holds any of the client's
personal data."""

from datetime import timedelta

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from billing import services
from billing.billing_run import billing_run
from billing.models import Service
from resale.models import UpstreamCommand
from tests.resale.flow import resale_world_build, service_status, wait_for

pytestmark = pytest.mark.worker

PERSONAL = {
    "name": "Zebulon Quixote",
    "email": "zebulon.quixote@private-mail.test",
    "phone": "+39 333 7654321",
    "address_line1": "Via Segreta 42",
    "city": "Bergamo",
    "vat_number": "IT98765432109",
    "company_name": "Quixote Windmills S.r.l.",
}


def _public_text_columns() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type IN "
            "('character varying', 'text', 'jsonb', 'json', 'character')"
        )
        return cursor.fetchall()


def test_public_schema_holds_no_end_client_data(tenant_factory, celery_worker_process):
    created = tenant_factory("Private Hosting")
    world = resale_world_build(created, top_up="10.00")
    with schema_context(world.schema):
        client = services.client_create(
            kind="company", postal_code="24121", country="IT", **PERSONAL
        )
        cart = services.cart_create(client=client)
        services.cart_item_add(
            cart=cart, plan=world.plan, cycle="monthly", domain_name="shop-4711.example"
        )
        order = services.checkout_place(cart=cart, client=client, idempotency_key="pii-1")
        services.payment_record(
            invoice=order.invoice,
            amount=order.invoice.amount_due,
            method="bank_transfer",
            idempotency_key="pii-pay",
        )
        service = Service.objects.get(order_item__order=order)
    connection.set_schema_to_public()
    wait_for(lambda: service_status(world, service) == "active", what="activation")
    with schema_context(world.schema):
        due = Service.objects.get(pk=service.pk).next_due_date
        for day in range(3):
            billing_run(run_date=due + timedelta(days=day))
        services.service_terminate(service=Service.objects.get(pk=service.pk), reason="gone")

    def finished() -> bool:
        with schema_context(world.schema):
            return not UpstreamCommand.objects.exclude(state="done").exists()

    wait_for(finished, what="every command done")
    connection.set_schema_to_public()
    needles = [value.lower() for value in PERSONAL.values()] + ["zebulon", "quixote"]
    leaks = []
    with connection.cursor() as cursor:
        for table, column in _public_text_columns():
            cursor.execute(
                f'SELECT "{column}"::text FROM public."{table}" WHERE "{column}" IS NOT NULL'
            )
            for (value,) in cursor.fetchall():
                lowered = value.lower()
                leaks += [(table, column, n) for n in needles if n in lowered]
    assert leaks == []
    assert _provider_pages_showing(world, needles) == []


def _provider_pages_showing(world, needles: list[str]) -> list[tuple[str, str]]:
    """Every page of the provider console that names the reseller's client."""
    from django.conf import settings
    from django.test import Client

    from accounts.models import User
    from resale.models import PriceList, WholesalePlan

    browser = Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    browser.force_login(User.objects.get(email="admin@platform.test"))
    reseller = f"/provider/resellers/{world.account.public_id}/"
    pages = [
        "/provider/",
        "/provider/resellers/",
        reseller,
        f"{reseller}ledger.csv",
        "/provider/catalogue/",
        f"/provider/catalogue/{WholesalePlan.objects.get(code=world.wholesale_plan.code).pk}/",
        "/provider/price-lists/",
        *[f"/provider/price-lists/{pk}/" for pk in PriceList.objects.values_list("pk", flat=True)],
        "/provider/operations/",
        "/provider/servers/",
    ]
    shown = []
    for page in pages:
        response = browser.get(page)
        assert response.status_code == 200, page
        text = response.content.decode().lower()
        shown += [(page, needle) for needle in needles if needle in text]
    return shown
