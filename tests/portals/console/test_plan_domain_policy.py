"""Whether a hosting plan asks for its domain: the provider sets it on its wholesale plan
(the provider console's plan form), the reseller's import carries it into the catalogue,
and the reseller changes it on the catalogue page (audited); a value outside the list, or
a domain plan asked for another domain, changes nothing; read-only staff cannot change
it. The storefront then leads the client to the domain step."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from audit.models import AuditEntry
from billing.models import Plan
from resale.models import WholesalePlan
from tests.resale.factories import account_on, wholesale_catalogue

pytestmark = pytest.mark.django_db


def _url(plan) -> str:
    return f"/console/catalogue/plans/{plan.public_id}/domain-policy/"


def test_the_import_carries_the_providers_setting_and_the_reseller_changes_it(tenant_a, shop_a):
    catalogue = wholesale_catalogue(code_prefix="dp-")
    account_on(tenant_a.tenant, catalogue["price_list"])
    provider = Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    provider.force_login(User.objects.get(email="admin@platform.test"))
    plan = catalogue["web-s"]
    form = provider.get(f"/provider/catalogue/{plan.pk}/").content.decode()
    assert 'name="domain_policy"' in form and "Require a domain" in form
    saved = provider.post(
        f"/provider/catalogue/{plan.pk}/",
        {
            "name": plan.name,
            "description": "",
            "product_type": plan.product_type,
            "module": plan.module,
            "package": plan.package,
            "domain_policy": "require",
            "is_active": "on",
            # The plan's prices as they are: the form saves the plan with its prices.
            "prices-TOTAL_FORMS": "2",
            "prices-INITIAL_FORMS": "0",
            "prices-0-price_list": catalogue["price_list"].pk,
            "prices-0-cycle": "monthly",
            "prices-0-price": "2.50",
            "prices-1-price_list": catalogue["price_list"].pk,
            "prices-1-cycle": "annual",
            "prices-1-price": "27.50",
        },
    )
    assert saved.status_code == 302, saved.content.decode()[:3000]
    assert WholesalePlan.objects.get(pk=plan.pk).domain_policy == "require"

    connection.set_schema_to_public()
    owner = tenant_a.client(tenant_a.owner)
    imported = owner.post(
        "/console/catalogue/import/",
        {
            "action": "import",
            "plans": ["dp-web-s"],
            "kind": "percent",
            "value": "20",
            "rounding": "99",
        },
    )
    assert imported.status_code == 302
    with schema_context(tenant_a.schema):
        web = Plan.objects.get(upstream_plan_ref="dp-web-s")
        assert web.domain_policy == "require"
    connection.set_schema_to_public()

    page = owner.get("/console/catalogue/").content.decode()
    assert _url(web) in page and _url(shop_a.com) not in page  # a domain plan has none
    done = owner.post(_url(web), {"domain_policy": "offer"}, follow=True)
    assert done.status_code == 200 and "Offer a domain" in done.content.decode()
    for plan_, value in ((web, "sometimes"), (shop_a.com, "require")):
        refused = owner.post(_url(plan_), {"domain_policy": value}, follow=True)
        assert "Choose one of the domain settings in the list." in refused.content.decode()
    readonly = tenant_a.client(tenant_a.readonly)
    assert readonly.post(_url(web), {"domain_policy": "none"}).status_code == 403
    with schema_context(tenant_a.schema):
        web.refresh_from_db()
        shop_a.com.refresh_from_db()
        assert (web.domain_policy, shop_a.com.domain_policy) == ("offer", "none")
        entry = AuditEntry.objects.get(action="plan.domain_policy_changed")
        assert (entry.before, entry.after) == (
            {"domain_policy": "require"},
            {"domain_policy": "offer"},
        )
    connection.set_schema_to_public()

    # The plan's edit form in the console carries the setting too.
    form = owner.get(f"/console/catalogue/plans/{web.public_id}/").content.decode()
    assert 'name="domain_policy"' in form
    assert (
        'name="domain_policy"'
        not in owner.get(f"/console/catalogue/plans/{shop_a.com.public_id}/").content.decode()
    )
    edited = owner.post(
        f"/console/catalogue/plans/{web.public_id}/",
        {
            "name": web.name,
            "features": "",
            "domain_policy": "require",
            "is_active": "on",
            "sell_below_cost": "on",
            "prices-TOTAL_FORMS": "1",
            "prices-INITIAL_FORMS": "0",
            "prices-0-cycle": "monthly",
            "prices-0-price": "3.00",
            "prices-0-setup_fee": "0",
        },
    )
    assert edited.status_code == 302
    with schema_context(tenant_a.schema):
        web.refresh_from_db()
        assert web.domain_policy == "require"
    connection.set_schema_to_public()
    owner.post(_url(web), {"domain_policy": "offer"})

    # On the storefront, choosing the plan leads to its domain step.
    shopper = tenant_a.client()
    added = shopper.post(f"/store/plan/{web.public_id}/", {"action": "add", "cycle": "monthly"})
    assert added.status_code == 302 and added["Location"].endswith("/domain/")
    step = shopper.get(added["Location"]).content.decode()
    assert "Use a domain I already own" in step
