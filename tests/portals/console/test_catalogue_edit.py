"""Editing the catalogue in the console: product groups (create, rename, hide, move),
an import into an existing group, the tenant's own products and plans (ordered and paid
with nothing sent upstream), imported plans' texts and prices (below the provider's
price only when confirmed, the upstream plan untouched), options, stock, off sale,
positions, and translations read by the storefront. Bad input shows the form again with
its error and changes nothing; another tenant's rows are a 404; read-only staff only
read."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from audit.models import AuditEntry
from billing import services
from billing.models import (
    ConfigurableOption,
    ConfigurableOptionChoice,
    Order,
    Plan,
    PlanPrice,
    Product,
    ProductGroup,
    Service,
)
from resale.models import UpstreamCommand
from tests.portals.conftest import staff_member
from tests.resale.factories import account_on, wholesale_catalogue, wholesale_options

pytestmark = pytest.mark.django_db

CHECKOUT = {
    "name": "Giulia Bianchi",
    "email": "giulia@example.test",
    "password": "a-long-and-unusual-passphrase",
    "address_line1": "Via Roma 1",
    "postal_code": "00100",
    "city": "Roma",
    "country": "IT",
}


def _import(browser, codes: list[str], group: str = "") -> object:
    return browser.post(
        "/console/catalogue/import/",
        {
            "action": "import",
            "plans": codes,
            "kind": "percent",
            "value": "30",
            "rounding": "99",
            "group": group,
        },
    )


@pytest.fixture
def offer(tenant_a):
    catalogue = wholesale_catalogue(code_prefix="ce-")
    wholesale_options(
        price_list=catalogue["price_list"], plans=[catalogue["vps-1"]], code_prefix="ce-"
    )
    account_on(tenant_a.tenant, catalogue["price_list"])
    return catalogue


# --- groups ----------------------------------------------------------------------------


def test_groups_are_created_renamed_hidden_and_moved(tenant_a, shop_a):
    browser = tenant_a.client(tenant_a.owner)
    created = browser.post(
        "/console/catalogue/groups/", {"name": "Cloud VPS", "is_visible": "on"}, follow=True
    )
    assert created.status_code == 200 and "Cloud VPS" in created.content.decode()
    with schema_context(tenant_a.schema):
        names = list(ProductGroup.objects.values_list("name", flat=True))
        assert names == ["Domains", "Hosting", "Cloud VPS"], "a new group comes last"
        cloud = ProductGroup.objects.get(name="Cloud VPS")
        hosting = ProductGroup.objects.get(name="Hosting")
    browser.post(f"/console/catalogue/groups/{cloud.pk}/move/", {"direction": "up"})
    browser.post(f"/console/catalogue/groups/{cloud.pk}/move/", {"direction": "up"})
    with schema_context(tenant_a.schema):
        names = list(ProductGroup.objects.values_list("name", flat=True))
        assert names == ["Cloud VPS", "Domains", "Hosting"]
    # Renamed and hidden: its products leave the storefront.
    saved = browser.post(
        f"/console/catalogue/groups/{hosting.pk}/",
        {"name": "Web hosting plans", "description": "", "sort_order": "2"},
    )
    assert saved.status_code == 302
    with schema_context(tenant_a.schema):
        hosting.refresh_from_db()
        assert (hosting.name, hosting.is_visible) == ("Web hosting plans", False)
        entry = AuditEntry.objects.filter(action="catalogue.group_changed").latest("pk")
        assert entry.before == {"name": "Hosting", "is_visible": True}
        assert entry.after == {"name": "Web hosting plans", "is_visible": False}
    connection.set_schema_to_public()
    shop = tenant_a.client().get(f"/store/plan/{shop_a.starter.public_id}/")
    assert shop.status_code == 404


def test_a_group_without_a_name_is_refused_and_nothing_changes(tenant_a, shop_a):
    browser = tenant_a.client(tenant_a.owner)
    with schema_context(tenant_a.schema):
        hosting = ProductGroup.objects.get(name="Hosting")
    response = browser.post(f"/console/catalogue/groups/{hosting.pk}/", {"name": "  "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    response = browser.post("/console/catalogue/groups/", {"name": "X", "sort_order": "-1"})
    assert response.status_code == 400
    with schema_context(tenant_a.schema):
        assert ProductGroup.objects.count() == 2
        hosting.refresh_from_db()
        assert hosting.name == "Hosting"


def test_the_import_goes_into_an_existing_group(offer, tenant_a, shop_a):
    browser = tenant_a.client(tenant_a.owner)
    with schema_context(tenant_a.schema):
        cloud = services.product_group_save(group=None, name="Cloud VPS")
    page = browser.get("/console/catalogue/import/").content.decode()
    assert "Cloud VPS" in page and "A new group for each product type" in page
    assert _import(browser, ["ce-vps-1"], group=str(cloud.pk)).status_code == 302
    with schema_context(tenant_a.schema):
        plan = Plan.objects.get(upstream_plan_ref="ce-vps-1")
        assert plan.product.group == cloud and plan.product.type == "vps"
        assert not ProductGroup.objects.filter(name="VPS").exists()
    # Without a group the import keeps making one per product type.
    assert _import(browser, ["ce-web-s"]).status_code == 302
    with schema_context(tenant_a.schema):
        web = Plan.objects.get(upstream_plan_ref="ce-web-s")
        assert web.product.group.name == "Shared hosting"


# --- own products and plans ------------------------------------------------------------


def _own_product(browser, tenant_a, **fields) -> Product:
    with schema_context(tenant_a.schema):
        group = ProductGroup.objects.get(name="Hosting")
    data = {
        "group": group.pk,
        "type": "other",
        "name": "Website care",
        "description": "We keep your site up to date.",
        "tax_category": "electronic",
        "visibility": "public",
        "stock": "",
        "sort_order": "",
        "is_active": "on",
    }
    data.update(fields)
    response = browser.post("/console/catalogue/products/new/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    with schema_context(tenant_a.schema):
        return Product.objects.get(name=data["name"])


def _plan_post(browser, product, plan=None, **fields) -> object:
    data = {
        "name": "Care monthly",
        "description": "",
        "features": "Updates every week\nBackups",
        "sort_order": "",
        "is_active": "on",
        "prices-TOTAL_FORMS": "2",
        "prices-INITIAL_FORMS": "0",
        "prices-0-cycle": "monthly",
        "prices-0-price": "19,90",
        "prices-0-setup_fee": "10",
        "prices-1-cycle": "",
        "prices-1-price": "",
        "prices-1-setup_fee": "",
    }
    data.update(fields)
    url = (
        f"/console/catalogue/plans/{plan.public_id}/"
        if plan is not None
        else f"/console/catalogue/products/{product.public_id}/plans/new/"
    )
    return browser.post(url, data)


def test_an_own_plan_is_ordered_paid_and_set_up_without_any_upstream_command(tenant_a, shop_a):
    browser = tenant_a.client(tenant_a.owner)
    product = _own_product(browser, tenant_a)
    assert _plan_post(browser, product).status_code == 302
    with schema_context(tenant_a.schema):
        plan = Plan.objects.get(name="Care monthly")
        assert plan.upstream_plan_ref == "" and plan.features == ["Updates every week", "Backups"]
        price = plan.prices.get()
        assert (price.cycle, price.price_amount, price.setup_fee_amount) == (
            "monthly",
            Decimal("19.90"),
            Decimal("10"),
        )
        assert AuditEntry.objects.filter(action="catalogue.plan_created").exists()
        assert AuditEntry.objects.filter(action="catalogue.product_created").exists()
    shopper = tenant_a.client()
    shopper.post(f"/store/plan/{plan.public_id}/", {"action": "add", "cycle": "monthly"})
    assert shopper.post("/checkout/", CHECKOUT).status_code == 302
    with schema_context(tenant_a.schema):
        order = Order.objects.get(client__email="giulia@example.test")
        invoice = order.invoice
        services.payment_record(
            invoice=invoice, amount=invoice.total, method="bank_transfer", idempotency_key="own-1"
        )
        invoice.refresh_from_db()
        assert invoice.status == "paid"
        service = Service.objects.get(plan=plan)
        assert service.status == Service.Status.PENDING
        assert not UpstreamCommand.objects.exists(), "an own plan is never sent upstream"
    connection.set_schema_to_public()
    page = browser.get(f"/console/services/{service.public_id}/").content.decode()
    assert "Mark as set up" in page
    browser.post(f"/console/services/{service.public_id}/", {"action": "activate"})
    with schema_context(tenant_a.schema):
        service.refresh_from_db()
        assert service.status == Service.Status.ACTIVE
        assert not UpstreamCommand.objects.exists()


def test_an_unpaid_own_service_is_not_marked_as_set_up(tenant_a, shop_a):
    shopper = tenant_a.client()
    shopper.post(f"/store/plan/{shop_a.starter.public_id}/", {"action": "add", "cycle": "monthly"})
    shopper.post("/checkout/", CHECKOUT)
    with schema_context(tenant_a.schema):
        service = Service.objects.get(client__email="giulia@example.test")
    browser = tenant_a.client(tenant_a.owner)
    page = browser.post(
        f"/console/services/{service.public_id}/", {"action": "activate"}, follow=True
    ).content.decode()
    assert "Its order is not paid yet." in page
    with schema_context(tenant_a.schema):
        service.refresh_from_db()
        assert service.status == Service.Status.PENDING


def test_a_plan_with_bad_prices_shows_the_errors_and_saves_nothing(tenant_a, shop_a):
    browser = tenant_a.client(tenant_a.owner)
    product = shop_a.starter.product
    for fields, error in [
        ({"prices-0-price": "-3"}, "Prices cannot be negative."),
        ({"prices-0-price": "abc"}, "digits"),
        ({"prices-0-cycle": "", "prices-0-price": ""}, "at least one cycle"),
        (
            {"prices-1-cycle": "monthly", "prices-1-price": "5"},
            "Each cycle has one price.",
        ),
        ({"name": ""}, "This field is required."),
    ]:
        response = _plan_post(browser, product, **fields)
        assert response.status_code == 400
        assert error in response.content.decode()
    with schema_context(tenant_a.schema):
        assert not Plan.objects.filter(name="Care monthly").exists()


def test_a_cycle_live_services_renew_on_keeps_its_price(tenant_a, shop_a):
    with schema_context(tenant_a.schema):
        services.service_create(client=shop_a.client, plan=shop_a.starter, cycle="annual")
    browser = tenant_a.client(tenant_a.owner)
    response = _plan_post(browser, None, plan=shop_a.starter, name="Starter")
    assert response.status_code == 400
    assert "keep that price" in response.content.decode()
    with schema_context(tenant_a.schema):
        assert set(shop_a.starter.prices.values_list("cycle", flat=True)) == {"monthly", "annual"}


# --- imported plans --------------------------------------------------------------------


def test_an_imported_plan_below_the_wholesale_price_needs_a_confirmation(offer, tenant_a, shop_a):
    browser = tenant_a.client(tenant_a.owner)
    _import(browser, ["ce-web-s"])
    with schema_context(tenant_a.schema):
        plan = Plan.objects.get(upstream_plan_ref="ce-web-s")
    page = browser.get(f"/console/catalogue/plans/{plan.public_id}/").content.decode()
    assert "What the provider charges you" in page and "€2.50" in page
    edit = {
        "name": "Web Small",
        "description": "A small site",
        "features": "1 site",
        "prices-TOTAL_FORMS": "2",
        "prices-INITIAL_FORMS": "2",
        "prices-0-cycle": "monthly",
        "prices-0-price": "2.00",  # the provider charges 2.50
        "prices-0-setup_fee": "0",
        "prices-1-cycle": "annual",
        "prices-1-price": "40",
        "prices-1-setup_fee": "0",
    }
    refused = browser.post(f"/console/catalogue/plans/{plan.public_id}/", edit)
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "Below your cost" in body and "Tick “Sell below cost”" in body
    with schema_context(tenant_a.schema):
        plan.refresh_from_db()
        assert plan.name == "Web S"
        assert plan.prices.get(cycle="monthly").price_amount == Decimal("3.99")
    # Above the cost, no confirmation is asked.
    fine = browser.post(
        f"/console/catalogue/plans/{plan.public_id}/", {**edit, "prices-0-price": "2.60"}
    )
    assert fine.status_code == 302
    confirmed = browser.post(
        f"/console/catalogue/plans/{plan.public_id}/", {**edit, "sell_below_cost": "on"}
    )
    assert confirmed.status_code == 302
    with schema_context(tenant_a.schema):
        plan.refresh_from_db()
        assert (plan.name, plan.description, plan.features) == (
            "Web Small",
            "A small site",
            ["1 site"],
        )
        assert plan.prices.get(cycle="monthly").price_amount == Decimal("2.00")
        assert plan.upstream_plan_ref == "ce-web-s", "the upstream plan is untouched"
        entry = AuditEntry.objects.filter(action="catalogue.plan_changed").latest("pk")
        assert entry.before["prices"]["monthly"][0] == "2.6000"
        assert entry.after["prices"]["monthly"][0] == "2.0000"


def test_an_imported_plan_taken_off_sale_leaves_the_storefront_not_its_services(
    offer, tenant_a, shop_a
):
    browser = tenant_a.client(tenant_a.owner)
    _import(browser, ["ce-web-s"])
    with schema_context(tenant_a.schema):
        plan = Plan.objects.get(upstream_plan_ref="ce-web-s")
        running = services.service_create(client=shop_a.client, plan=plan, cycle="monthly")
        services.service_activate(service=running)
    response = browser.post(
        f"/console/catalogue/plans/{plan.public_id}/",
        {
            "name": "Web S",
            "prices-TOTAL_FORMS": "2",
            "prices-INITIAL_FORMS": "2",
            "prices-0-cycle": "monthly",
            "prices-0-price": "3.99",
            "prices-1-cycle": "annual",
            "prices-1-price": "35.99",
        },
    )
    assert response.status_code == 302
    connection.set_schema_to_public()
    assert tenant_a.client().get(f"/store/plan/{plan.public_id}/").status_code == 404
    with schema_context(tenant_a.schema):
        plan.refresh_from_db()
        running.refresh_from_db()
        assert plan.is_active is False and running.status == Service.Status.ACTIVE


# --- options ---------------------------------------------------------------------------


def test_a_resold_option_is_renamed_and_repriced_but_keeps_the_providers_choices(
    offer, tenant_a, shop_a
):
    browser = tenant_a.client(tenant_a.owner)
    _import(browser, ["ce-vps-1"])
    with schema_context(tenant_a.schema):
        ram = ConfigurableOption.objects.get(upstream_option_ref="ce-ram")
        two, four = ram.choices.order_by("sort_order")
        vps = Plan.objects.get(upstream_plan_ref="ce-vps-1")
    page = browser.get(f"/console/catalogue/options/{ram.pk}/").content.decode()
    assert "Resold" in page and "+2 GB" in page
    data = {
        "name": "More memory",
        "sort_order": "0",
        "plans": [vps.pk],
        "choices-TOTAL_FORMS": "2",
        "choices-INITIAL_FORMS": "2",
        "choices-0-key": str(two.pk),
        "choices-0-name": "2 GB more",
        "choices-0-sort_order": "0",
        "choices-1-key": str(four.pk),
        "choices-1-name": "4 GB more",
        "choices-1-sort_order": "1",
        "prices-TOTAL_FORMS": "2",
        "prices-INITIAL_FORMS": "2",
        "prices-0-choice": str(two.pk),
        "prices-0-cycle": "monthly",
        "prices-0-price": "4.50",
        "prices-1-choice": str(four.pk),
        "prices-1-cycle": "monthly",
        "prices-1-price": "7.50",
    }
    assert browser.post(f"/console/catalogue/options/{ram.pk}/", data).status_code == 302
    with schema_context(tenant_a.schema):
        ram.refresh_from_db()
        two.refresh_from_db()
        assert ram.name == "More memory" and two.name == "2 GB more"
        assert two.upstream_choice_ref == "2gb" and ram.upstream_option_ref == "ce-ram"
        assert {(p.cycle, p.price_amount) for p in two.prices.all()} == {
            ("monthly", Decimal("4.50"))
        }
        assert AuditEntry.objects.filter(action="catalogue.option_changed").exists()
    # Below the provider's price (3.00 a month for +2 GB) only when confirmed.
    cheap = {**data, "prices-0-price": "2.50"}
    refused = browser.post(f"/console/catalogue/options/{ram.pk}/", cheap)
    assert refused.status_code == 400 and "Below your cost" in refused.content.decode()
    with schema_context(tenant_a.schema):
        assert two.prices.get().price_amount == Decimal("4.50")
    confirmed = browser.post(
        f"/console/catalogue/options/{ram.pk}/", {**cheap, "sell_below_cost": "on"}
    )
    assert confirmed.status_code == 302
    with schema_context(tenant_a.schema):
        assert two.prices.get().price_amount == Decimal("2.50")
    # Removing one of the provider's choices, or selling it with an own plan, is refused.
    removed = browser.post(
        f"/console/catalogue/options/{ram.pk}/", {**data, "choices-1-DELETE": "on"}
    )
    assert removed.status_code == 400 and "rename and reprice them" in removed.content.decode()
    own = browser.post(
        f"/console/catalogue/options/{ram.pk}/", {**data, "plans": [vps.pk, shop_a.starter.pk]}
    )
    assert own.status_code == 400
    with schema_context(tenant_a.schema):
        assert ram.choices.count() == 2 and list(ram.plans.all()) == [vps]


def test_an_own_option_is_created_with_a_priced_choice_and_attached(tenant_a, shop_a):
    browser = tenant_a.client(tenant_a.owner)
    data = {
        "name": "Priority support",
        "kind": "select",
        "max_quantity": "1",
        "sort_order": "",
        "plans": [shop_a.starter.pk, shop_a.pro.pk],
        "choices-TOTAL_FORMS": "1",
        "choices-INITIAL_FORMS": "0",
        "choices-0-key": "",
        "choices-0-name": "Within an hour",
        "choices-0-sort_order": "",
        "prices-TOTAL_FORMS": "2",
        "prices-INITIAL_FORMS": "0",
        "prices-0-choice": "new-0",
        "prices-0-cycle": "monthly",
        "prices-0-price": "9",
        "prices-1-choice": "",
        "prices-1-cycle": "",
        "prices-1-price": "",
    }
    blank = browser.get("/console/catalogue/options/new/").content.decode()
    assert '<option value="new-0">The new choice of row 1</option>' in blank
    response = browser.post("/console/catalogue/options/new/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    with schema_context(tenant_a.schema):
        option = ConfigurableOption.objects.get(name="Priority support")
        assert option.upstream_option_ref == ""
        choice = option.choices.get()
        assert choice.name == "Within an hour" and choice.upstream_choice_ref == ""
        assert choice.prices.get().price_amount == Decimal("9")
        assert set(option.plans.all()) == {shop_a.starter, shop_a.pro}
    # Detached from Pro; a second choice added; the quantity option stays one choice.
    edit = {
        **data,
        "plans": [shop_a.starter.pk],
        "choices-TOTAL_FORMS": "2",
        "choices-INITIAL_FORMS": "1",
        "choices-0-key": str(choice.pk),
        "choices-1-key": "",
        "choices-1-name": "Next day",
        "choices-1-sort_order": "1",
        "prices-0-choice": str(choice.pk),
        "prices-1-choice": "new-1",
        "prices-1-cycle": "monthly",
        "prices-1-price": "3",
    }
    assert browser.post(f"/console/catalogue/options/{option.pk}/", edit).status_code == 302
    with schema_context(tenant_a.schema):
        assert list(option.plans.all()) == [shop_a.starter]
        assert list(option.choices.order_by("sort_order").values_list("name", flat=True)) == [
            "Within an hour",
            "Next day",
        ]
    quantity = browser.post(
        f"/console/catalogue/options/{option.pk}/", {**edit, "kind": "quantity"}
    )
    assert quantity.status_code == 400 and "exactly one choice" in quantity.content.decode()
    garbled = browser.post(
        f"/console/catalogue/options/{option.pk}/", {**edit, "choices-TOTAL_FORMS": "many"}
    )
    assert garbled.status_code == 400
    unpriced = browser.post(
        f"/console/catalogue/options/{option.pk}/", {**edit, "prices-1-choice": ""}
    )
    assert unpriced.status_code == 400
    with schema_context(tenant_a.schema):
        option.refresh_from_db()
        assert option.kind == "select" and option.choices.count() == 2


# --- stock, visibility, positions ------------------------------------------------------


def test_the_storefront_refuses_to_sell_beyond_the_stock(tenant_a, shop_a):
    browser = tenant_a.client(tenant_a.owner)
    product = shop_a.starter.product
    data = {
        "group": product.group_id,
        "type": product.type,
        "name": product.name,
        "description": "",
        "tax_category": "electronic",
        "visibility": "public",
        "stock": "1",
        "sort_order": "0",
        "is_active": "on",
    }
    assert (
        browser.post(f"/console/catalogue/products/{product.public_id}/", data).status_code == 302
    )
    with schema_context(tenant_a.schema):
        product.refresh_from_db()
        assert product.stock == 1
    shopper = tenant_a.client()
    url = f"/store/plan/{shop_a.starter.public_id}/"
    assert shopper.post(url, {"action": "add", "cycle": "monthly"}).status_code == 302
    again = shopper.post(url, {"action": "add", "cycle": "monthly"}).content.decode()
    assert "Only 1 of “Web hosting” is left; you asked for 2." in again
    assert shopper.post("/checkout/", CHECKOUT).status_code == 302
    with schema_context(tenant_a.schema):
        product.refresh_from_db()
        assert product.stock == 0
    other = tenant_a.client()
    other.cookies[settings.LANGUAGE_COOKIE_NAME] = "it"
    sold_out = other.post(url, {"action": "add", "cycle": "monthly"}, HTTP_ACCEPT_LANGUAGE="it")
    assert "esaurito" in sold_out.content.decode()
    # A negative stock is a form error, not a change.
    refused = browser.post(
        f"/console/catalogue/products/{product.public_id}/", {**data, "stock": "-2"}
    )
    assert refused.status_code == 400
    with schema_context(tenant_a.schema):
        product.refresh_from_db()
        assert product.stock == 0


def test_a_hidden_product_leaves_the_storefront_and_products_move(tenant_a, shop_a):
    browser = tenant_a.client(tenant_a.owner)
    second = _own_product(browser, tenant_a, name="Website care")
    with schema_context(tenant_a.schema):
        order = list(Product.objects.filter(group=second.group).order_by("sort_order", "name"))
        assert order[-1] == second
    browser.post(f"/console/catalogue/products/{second.public_id}/move/", {"direction": "up"})
    with schema_context(tenant_a.schema):
        first = Product.objects.filter(group=second.group).order_by("sort_order", "name").first()
        assert first == second
    product = shop_a.starter.product
    data = {
        "group": product.group_id,
        "type": product.type,
        "name": product.name,
        "tax_category": "electronic",
        "visibility": "hidden",
        "is_active": "on",
    }
    assert (
        browser.post(f"/console/catalogue/products/{product.public_id}/", data).status_code == 302
    )
    connection.set_schema_to_public()
    shopper = tenant_a.client()
    assert shopper.get(f"/store/plan/{shop_a.starter.public_id}/").status_code == 404


# --- translations ----------------------------------------------------------------------


def test_translations_are_saved_per_language_and_shown_on_the_storefront(tenant_a, shop_a):
    browser = tenant_a.client(tenant_a.owner)
    product, plan = shop_a.starter.product, shop_a.starter
    saved = browser.post(
        f"/console/catalogue/translations/product/{product.public_id}/",
        {
            "it-name": "Hosting web",
            "it-description": "Siti veloci",
            "ru-name": "Веб-хостинг",
            "ru-description": "",
        },
    )
    assert saved.status_code == 302
    browser.post(
        f"/console/catalogue/translations/plan/{plan.public_id}/",
        {"it-name": "Base", "it-description": "Per iniziare", "it-features": "10 GB SSD\n1 sito"},
    )
    browser.post(
        f"/console/catalogue/translations/option/{shop_a.extra_ip.pk}/",
        {"it-name": "Indirizzo IP aggiuntivo"},
    )
    browser.post(
        f"/console/catalogue/translations/choice/{shop_a.ip_choice.pk}/",
        {"it-name": "Indirizzo IPv4"},
    )
    with schema_context(tenant_a.schema):
        product.refresh_from_db()
        assert product.translations == {
            "it": {"name": "Hosting web", "description": "Siti veloci"},
            "ru": {"name": "Веб-хостинг"},
        }
        choice = ConfigurableOptionChoice.objects.get(pk=shop_a.ip_choice.pk)
        assert choice.translations == {"it": {"name": "Indirizzo IPv4"}}
        assert AuditEntry.objects.filter(action="catalogue.translation_changed").count() == 5
    form = browser.get(f"/console/catalogue/translations/plan/{plan.public_id}/").content.decode()
    assert "Per iniziare" in form and "1 sito" in form
    shopper = tenant_a.client()
    shopper.cookies[settings.LANGUAGE_COOKIE_NAME] = "it"
    page = shopper.get(f"/store/plan/{plan.public_id}/", HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert "Per iniziare" in page and "Indirizzo IP aggiuntivo" in page
    assert "Indirizzo IPv4" in page and "1 sito" in page
    # A name too long is a form error and nothing is saved in any language.
    refused = browser.post(
        f"/console/catalogue/translations/plan/{plan.public_id}/",
        {"it-name": "Nuovo", "ru-name": "x" * 300},
    )
    assert refused.status_code == 400
    with schema_context(tenant_a.schema):
        plan.refresh_from_db()
        assert plan.translations["it"]["name"] == "Base"


# --- isolation and roles ---------------------------------------------------------------


def test_another_tenants_catalogue_rows_are_a_404(tenant_a, tenant_b, shop_a, shop_b):
    browser = tenant_b.client(tenant_b.owner)
    product, plan = shop_a.starter.product, shop_a.starter
    for url in [
        f"/console/catalogue/products/{product.public_id}/",
        f"/console/catalogue/products/{product.public_id}/plans/new/",
        f"/console/catalogue/plans/{plan.public_id}/",
        f"/console/catalogue/translations/product/{product.public_id}/",
        f"/console/catalogue/translations/plan/{plan.public_id}/",
        "/console/catalogue/translations/product/not-a-uuid/",
        "/console/catalogue/translations/table/1/",
        "/console/catalogue/options/999999/",
        # Past the 64-bit range: still nothing, not a database error.
        "/console/catalogue/options/99999999999999999999999/",
        "/console/catalogue/groups/99999999999999999999999/",
        "/console/catalogue/translations/option/99999999999999999999999/",
    ]:
        assert browser.get(url).status_code == 404, url
        assert browser.post(url, {"name": "Taken"}).status_code == 404, url
    with schema_context(tenant_a.schema):
        product.refresh_from_db()
        assert product.name == "Web hosting"


def test_read_only_staff_read_the_pages_and_cannot_change_them(tenant_a, shop_a):
    browser = tenant_a.client(staff_member(tenant_a, "readonly"))
    product = shop_a.starter.product
    assert browser.get(f"/console/catalogue/products/{product.public_id}/").status_code == 200
    assert browser.get("/console/catalogue/groups/").status_code == 200
    response = browser.post("/console/catalogue/groups/", {"name": "Sneaky"})
    assert response.status_code == 403
    with schema_context(tenant_a.schema):
        assert not ProductGroup.objects.filter(name="Sneaky").exists()
        assert PlanPrice.objects.filter(plan=shop_a.starter).count() == 2
