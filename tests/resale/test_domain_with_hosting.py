"""A hosting plan that requires or offers a domain, through the storefront and a real
Celery worker: choosing the plan leads the client to a domain step; a plan that requires
a domain refuses checkout until its registration (or transfer) is in the same cart, and
then the hosting account at the panel is created on that domain; a plan that offers one
takes a domain the client already owns (an internationalised name, kept as A-labels).
Bad input at the step is a clear form error and changes nothing in the cart."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from billing import services
from billing.models import Cart, CartItem, Order, Service
from provisioning.models import ProvisionedService
from provisioning.modules.simulated import SimulatedModule
from resale.models import UpstreamCommand, UpstreamService
from tests.resale.domain_flow import DomainWorld, domain_world, local_service, upstream_domain
from tests.resale.flow import wait_for

pytestmark = pytest.mark.worker

# The client's billing address as the checkout form asks for it (the world's client).
ADDRESS = {
    "address_line1": "Via Roma 1",
    "postal_code": "00100",
    "city": "Roma",
    "country": "IT",
}


def _client_browser(dworld: DomainWorld) -> Client:
    browser = Client(HTTP_HOST=dworld.host)
    with schema_context(dworld.schema):
        user = User.objects.create_user(
            "maria.login@client.test", "Pass-word-123", kind=User.Kind.CLIENT
        )
        services.client_user_link(client=dworld.client, user=user)
        browser.force_login(user)
    connection.set_schema_to_public()
    return browser


def _policy(dworld: DomainWorld, policy: str) -> None:
    with schema_context(dworld.schema):
        services.plan_domain_policy_set(plan=dworld.world.plan, domain_policy=policy)
    connection.set_schema_to_public()


def _cart_items(dworld: DomainWorld) -> list[tuple[str, str, str]]:
    """The open cart as (plan name, domain name, domain action), in order."""
    with schema_context(dworld.schema):
        found = list(
            CartItem.objects.filter(cart__status=Cart.Status.OPEN)
            .order_by("pk")
            .values_list("plan__name", "domain_name", "domain_action")
        )
    connection.set_schema_to_public()
    return found


def _choose_plan(dworld: DomainWorld, browser: Client) -> str:
    """Adds the hosting plan to the cart; returns the domain step it leads to."""
    added = browser.post(
        f"/store/plan/{dworld.world.plan.public_id}/", {"action": "add", "cycle": "monthly"}
    )
    assert added.status_code == 302 and added["Location"].endswith("/domain/")
    return added["Location"]


def _checkout_and_pay(dworld: DomainWorld, browser: Client) -> list[Service]:
    placed = browser.post("/checkout/", ADDRESS)
    assert placed.status_code == 302, placed.content.decode()[:2000]
    with schema_context(dworld.schema):
        order = Order.objects.get(client=dworld.client)
        services.payment_record(
            invoice=order.invoice,
            amount=order.invoice.amount_due,
            method="bank_transfer",
            idempotency_key=f"pay-{order.public_id}",
        )
        found = list(Service.objects.filter(order_item__order=order).order_by("order_item_id"))
    connection.set_schema_to_public()
    return found


def _panel_domain(dworld: DomainWorld, hosting: Service) -> str:
    """The domain of the hosting account as the panel holds it."""
    with schema_context(dworld.schema):
        reference = UpstreamCommand.objects.get(
            service_ref=str(hosting.public_id), action="create"
        ).upstream_ref
    connection.set_schema_to_public()
    upstream = UpstreamService.objects.get(public_id=reference)
    panel = ProvisionedService.objects.get(upstream_service_id=upstream.pk)
    module = SimulatedModule(dworld.world.server.connection())
    try:
        return module._load_by_id(panel.remote_id)["domain"]
    finally:
        module.close()


def test_required_domain_is_registered_in_the_same_order(tenant_factory, celery_worker_process):
    with domain_world(tenant_factory, "Hosting Needs Domains") as dworld:
        tld = dworld.tld
        _policy(dworld, "require")
        browser = _client_browser(dworld)
        step = _choose_plan(dworld, browser)
        page = browser.get(step).content.decode()
        assert "Register a new domain" in page and "Transfer a domain" in page
        # A required domain is registered or transferred here, never "one I own".
        assert "Use a domain I already own" not in page

        # Without a domain: the cart says so and checkout is refused, nothing ordered.
        assert 'id="domain-missing"' in browser.get("/cart/").content.decode()
        refused = browser.post("/checkout/", ADDRESS)
        assert refused.status_code == 400
        assert "needs a domain: register one or transfer one in" in refused.content.decode()
        with schema_context(dworld.schema):
            assert not Order.objects.exists()
        connection.set_schema_to_public()

        # Bad input at the step: a clear message each, and the cart as it was.
        for data, message in (
            ({"choice": "own", "domain": "mine.example"}, "Select a valid choice"),
            ({"choice": "register", "domain": "not a name!"}, "That is not a domain name."),
            ({"choice": "register", "domain": "shop.unsold-xyz"}, "We do not sell that"),
            ({"choice": "register", "domain": f"taken.{tld}"}, "is not available for registr"),
            ({"choice": "register", "domain": f"gold.{tld}"}, "is a premium name"),
            ({"choice": "transfer", "domain": f"moving.{tld}"}, "needs the domain&#x27;s auth"),
        ):
            response = browser.post(step, data)
            assert response.status_code == 400 and message in response.content.decode(), data
        assert _cart_items(dworld) == [("Web Start", "", "")]

        # Registered with it, for two years: the hosting item takes the name.
        name = f"bottega-rossi.{tld}"
        chosen = browser.post(step, {"choice": "register", "domain": name, "cycle": "biennial"})
        assert chosen.status_code == 302 and chosen["Location"].endswith("/cart/")
        assert _cart_items(dworld) == [("Web Start", name, ""), (f".{tld}", name, "register")]
        cart = browser.get("/cart/").content.decode()
        assert 'id="domain-missing"' not in cart and f"Domain: {name}" in cart

        # Removing the registration again leaves the hosting without its domain.
        with schema_context(dworld.schema):
            domain_item = CartItem.objects.get(plan__name=f".{tld}")
            item_pk = domain_item.pk
        connection.set_schema_to_public()
        browser.post("/cart/", {"action": "remove", "item": item_pk})
        assert browser.post("/checkout/", ADDRESS).status_code == 400
        browser.post(step, {"choice": "register", "domain": name, "cycle": "biennial"})

        hosting, domain = _checkout_and_pay(dworld, browser)
        assert hosting.domain_name == name and domain.billing_cycle == "biennial"
        wait_for(
            lambda: local_service(dworld, domain).status == "active",
            what="the registration",
            describe=lambda: upstream_domain(dworld, domain),
        )
        wait_for(lambda: local_service(dworld, hosting).status == "active", what="hosting")
        # The panel's account is created on the domain the client chose.
        assert _panel_domain(dworld, hosting) == name
        with dworld.registry() as registry:
            assert registry.info(name) is not None


def test_offered_domain_takes_one_the_client_owns(tenant_factory, celery_worker_process):
    with domain_world(tenant_factory, "Hosting Offers Domains") as dworld:
        _policy(dworld, "offer")
        browser = _client_browser(dworld)
        step = _choose_plan(dworld, browser)
        assert "Use a domain I already own" in browser.get(step).content.decode()
        for data, message in (
            ({"choice": "own", "domain": "spaces not allowed.it"}, "That is not a domain name."),
            ({"choice": "own", "domain": "localhost"}, "with its extension"),
        ):
            response = browser.post(step, data)
            assert response.status_code == 400 and message in response.content.decode()
        assert _cart_items(dworld) == [("Web Start", "", "")]

        # An internationalised name, kept and sent as its A-labels.
        chosen = browser.post(step, {"choice": "own", "domain": "Caffè-Müller.it"})
        assert chosen.status_code == 302
        ascii_name = "xn--caff-mller-26a6v.it"
        assert _cart_items(dworld) == [("Web Start", ascii_name, "")]

        (hosting,) = _checkout_and_pay(dworld, browser)
        assert hosting.domain_name == ascii_name
        wait_for(lambda: local_service(dworld, hosting).status == "active", what="hosting")
        assert _panel_domain(dworld, hosting) == ascii_name
        # Nothing was registered: the domain is the client's own.
        with schema_context(dworld.schema):
            assert not UpstreamCommand.objects.filter(action__startswith="domain_").exists()
        connection.set_schema_to_public()
