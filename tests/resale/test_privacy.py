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
from resale.models import RegistrantHandle, UpstreamCommand
from tests.resale.domain_flow import (
    domain_world,
    local_service,
    order_and_pay_items,
    upstream_domain,
)
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
    # With options, so that the console's option pages are scanned too.
    world = resale_world_build(created, top_up="10.00", with_options=True)
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
    needles = _needles()
    assert _public_leaks(needles) == []
    assert _provider_pages_showing(world, needles) == []


def _needles() -> list[str]:
    return [value.lower() for value in PERSONAL.values()] + ["zebulon", "quixote"]


def _public_leaks(needles: list[str]) -> list[tuple[str, str, str]]:
    """Every text column of the public schema that holds one of ``needles``."""
    leaks = []
    with connection.cursor() as cursor:
        for table, column in _public_text_columns():
            cursor.execute(
                f'SELECT "{column}"::text FROM public."{table}" WHERE "{column}" IS NOT NULL'
            )
            for (value,) in cursor.fetchall():
                lowered = value.lower()
                leaks += [(table, column, n) for n in needles if n in lowered]
    return leaks


def test_public_schema_holds_no_registrant_data(tenant_factory, celery_worker_process):
    """The registrant's contact reaches the registry, through the provider in memory
    only: after a registration and a transfer in, public holds the registrar's contact
    handle and nothing of the person."""
    with domain_world(tenant_factory, "Private Domains") as dworld:
        with schema_context(dworld.schema):
            client = services.client_create(
                kind="company", postal_code="24121", country="IT", **PERSONAL
            )
        dworld.world.client = client
        registered, transferred = order_and_pay_items(
            dworld,
            key="pii-domains",
            items=[
                {
                    "plan": dworld.domain_plan,
                    "cycle": "annual",
                    "domain_name": f"quixote-windmills.{dworld.tld}",
                },
                {
                    "plan": dworld.domain_plan,
                    "cycle": "annual",
                    "domain_name": f"zebulon.{dworld.tld}",
                    "domain_action": "transfer",
                    "auth_code": "Secret-Transfer-Code-1",
                },
            ],
        )
        wait_for(
            lambda: local_service(dworld, registered).status == "active",
            what="registration",
            timeout=120,
        )
        wait_for(
            lambda: (
                upstream_domain(dworld, transferred) is not None
                and upstream_domain(dworld, transferred).status == "pending_transfer"
            ),
            what="the transfer request",
            timeout=120,
        )
        handle = RegistrantHandle.objects.get(account=dworld.world.account).handle
        assert upstream_domain(dworld, registered).registrant_handle == handle
        connection.set_schema_to_public()
        # The domain names are the client's choice, not personal data; the person is.
        needles = [n for n in _needles() if n not in ("zebulon", "quixote")]
        needles += ["secret-transfer-code-1"]
        assert _public_leaks(needles) == []


def _provider_pages_showing(world, needles: list[str]) -> list[tuple[str, str]]:
    """Every page of the provider console that names the reseller's client."""
    from django.conf import settings
    from django.test import Client

    from accounts.models import User
    from resale.models import PriceList, WholesalePlan

    browser = Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    browser.force_login(User.objects.get(email="admin@platform.test"))
    reseller = f"/provider/resellers/{world.account.public_id}/"
    plan = WholesalePlan.objects.get(code=world.wholesale_plan.code)
    pages = [
        "/provider/",
        "/provider/resellers/",
        reseller,
        f"{reseller}ledger.csv",
        "/provider/catalogue/",
        f"/provider/catalogue/{plan.pk}/",
        f"/provider/catalogue/{plan.pk}/options/new/",
        *[f"/provider/catalogue/{plan.pk}/options/{o.pk}/" for o in plan.options.all()],
        "/provider/price-lists/",
        *[f"/provider/price-lists/{pk}/" for pk in PriceList.objects.values_list("pk", flat=True)],
        "/provider/operations/",
        "/provider/servers/",
        "/provider/drift/",
        f"/provider/drift/?reseller={world.account.public_id}",
    ]
    shown = []
    for page in pages:
        response = browser.get(page)
        assert response.status_code == 200, page
        text = response.content.decode().lower()
        shown += [(page, needle) for needle in needles if needle in text]
    return shown
