from decimal import Decimal

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from billing import services
from billing.money import Money
from resale.tasks import wholesale_plan_changed_task
from tests.resale.factories import account_on, wholesale_catalogue

pytestmark = pytest.mark.django_db


@pytest.fixture
def resold(tenant_a):
    catalogue = wholesale_catalogue()
    account_on(tenant_a.tenant, catalogue["price_list"])
    with schema_context(tenant_a.schema):
        group = services.product_group_create(name="Hosting")
        product = services.product_create(group=group, name="Web", type="shared_hosting")
        plan = services.plan_create(
            product=product,
            name="Web Start",
            prices={"monthly": Money(Decimal("4.99"), "EUR")},
            upstream_plan_ref="web-s",
            upstream_cycle="monthly",
        )
    return catalogue, plan


def test_withdrawn_plan_stops_new_orders_and_staff_hear(resold, tenant_a):
    _, plan = resold
    with schema_context(tenant_a.schema):
        assert wholesale_plan_changed_task("web-s", "Web S", False, 2)
        plan.refresh_from_db()
        assert plan.is_active is False
        assert plan.prices.get(cycle="monthly").price_amount == Decimal("4.99")
    assert "withdrawn" in mail.outbox[-1].body
    assert tenant_a.owner.email in mail.outbox[-1].to


def test_changed_plan_keeps_client_prices(resold, tenant_a):
    _, plan = resold
    with schema_context(tenant_a.schema):
        wholesale_plan_changed_task("web-s", "Web S", True, 3)
        plan.refresh_from_db()
        assert plan.is_active and plan.prices.get(cycle="monthly").price_amount == Decimal("4.99")
    assert "have not been changed" in mail.outbox[-1].body


def test_editing_a_plan_in_the_console_bumps_its_version_and_announces(
    resold, django_capture_on_commit_callbacks
):
    catalogue, _ = resold
    plan = catalogue["web-s"]
    provider = Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    provider.force_login(User.objects.get(email="admin@platform.test"))
    page = provider.get(f"/admin/resale/wholesaleplan/{plan.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form.initial.get(name, "") for name in form.fields}
    data.update(
        {
            "name": "Web S (2026)",
            "is_active": "on",
            "prices-TOTAL_FORMS": "0",
            "prices-INITIAL_FORMS": "0",
        }
    )
    response = provider.post(f"/admin/resale/wholesaleplan/{plan.pk}/change/", data)
    assert response.status_code == 302, response.content[:2000]
    plan.refresh_from_db()
    assert plan.version == 2
