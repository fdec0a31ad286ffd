"""Every page of the provider console, opened by each provider staff role: every role
reads every page; the buttons of a write show only to the roles that may make it
(accounts.roles: billing the money, resellers and catalogue; support the servers, jobs,
commands and drift; owners and administrators everything)."""

from __future__ import annotations

import pytest

from accounts.models import User
from provisioning.models import ServerGroup
from provisioning.services import server_create
from resale.models import DriftItem, WholesalePlan
from tests.portals.test_provider_console import _console
from tests.resale.factories import account_on, wholesale_catalogue, wholesale_options

pytestmark = pytest.mark.django_db

# The mark of each kind of write, and the roles that see it.
MONEY_AND_CATALOGUE = {User.Role.OWNER, User.Role.ADMIN, User.Role.BILLING}
OPERATIONS = {User.Role.OWNER, User.Role.ADMIN, User.Role.SUPPORT}


@pytest.mark.parametrize("role", list(User.Role.values))
def test_each_role_reads_every_page_and_sees_only_its_own_buttons(role, tenant_a):
    if role not in MONEY_AND_CATALOGUE | OPERATIONS | {User.Role.READONLY}:
        pytest.fail(f"The role {role} has no expectation here: add it.")
    catalogue = wholesale_catalogue(code_prefix="rp-")
    account = account_on(tenant_a.tenant, catalogue["price_list"])
    plan = WholesalePlan.objects.get(code="rp-web-s")
    option = wholesale_options(price_list=account.price_list, plans=[plan], code_prefix="rp-")
    group = ServerGroup.objects.create(name="rp-sim", module="simulated")
    server_create(group=group, name="rp-node", hostname="rp-node.panel.test", port=443)
    DriftItem.objects.create(account=account, service_ref="rp-ref", kind=DriftItem.Kind.PLAN)
    browser = _console(role)
    money = role in MONEY_AND_CATALOGUE
    operations = role in OPERATIONS
    pages = {
        "/provider/": {},
        "/provider/resellers/": {"New reseller": money},
        "/provider/resellers/new/": {},
        f"/provider/resellers/{account.public_id}/": {"Move money": money, "Suspend": money},
        "/provider/catalogue/": {"New plan": money},
        "/provider/catalogue/new/": {"Save the plan": money},
        f"/provider/catalogue/{plan.pk}/": {"Save the plan": money, "New option": money},
        f"/provider/catalogue/{plan.pk}/options/new/": {"Save the option": money},
        f"/provider/catalogue/{plan.pk}/options/{option['ram'].pk}/": {"Save the option": money},
        "/provider/price-lists/": {},
        f"/provider/price-lists/{account.price_list_id}/": {},
        "/provider/operations/": {},
        "/provider/servers/": {"Test the connection": operations},
        "/provider/drift/": {"Run reconciliation now": operations, "Resolve": operations},
    }
    for path, marks in pages.items():
        response = browser.get(path)
        assert response.status_code == 200, (role, path)
        html = response.content.decode()
        for mark, shown in marks.items():
            assert (mark in html) is shown, (role, path, mark)
