"""What a client sees of an order, from the storefront to the client area, agrees with
the invoice: one payment reference, every invoice line, the paid invoices too; and the
catalogue speaks the visitor's language where the tenant has translated it."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django_tenants.utils import schema_context

from billing import documents, services
from billing.models import Client, Order
from billing.payments.flows import invoice_payment_reference
from tests.billing.test_documents import pdf_text
from tests.portals.storefront.test_storefront import ADDRESS_IT

pytestmark = pytest.mark.django_db


def _order_starter_annual(tenant, shop, language: str | None = None) -> tuple:
    """A new client orders Starter for a year: 100.00 plus a 5.00 setup fee (browsing
    in ``language``, when given)."""
    browser = tenant.client()
    if language:
        browser.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    browser.post(f"/store/plan/{shop.starter.public_id}/", {"action": "add", "cycle": "annual"})
    placed = browser.post(
        "/checkout/",
        {
            "name": "Giulia Bianchi",
            "email": "giulia@example.test",
            "password": "a-long-and-unusual-passphrase",
            **ADDRESS_IT,
        },
    )
    assert placed.status_code == 302, placed.content.decode()[:2000]
    with schema_context(tenant.schema):
        order = Order.objects.select_related("invoice").get(
            client=Client.objects.get(email="giulia@example.test")
        )
    return browser, placed["Location"], order


def test_the_order_page_and_the_pdf_give_the_same_payment_reference(tenant_a, shop_a, media_root):
    browser, location, order = _order_starter_annual(tenant_a, shop_a)
    page = browser.get(location).content.decode()
    with schema_context(tenant_a.schema):
        invoice = order.invoice
        reference = invoice_payment_reference(invoice)
        assert documents.invoice_pdf_render(invoice) is True
        invoice.refresh_from_db()
        with default_storage.open(invoice.pdf_file.name, "rb") as handle:
            pdf = pdf_text(handle.read())
    assert reference.startswith("RF") and reference in page
    assert reference in pdf, "the PDF asks for the reference the order page gives"


def test_the_order_confirmation_lists_the_setup_fee_as_the_invoice_does(tenant_a, shop_a):
    browser, location, order = _order_starter_annual(tenant_a, shop_a)
    page = browser.get(location).content.decode()
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert "€100.00" in body and "€5.00" in body and "Setup fee" in body
    assert "€105.00" in page.split("<tfoot>", 1)[1], "the net is the sum of the lines"
    with schema_context(tenant_a.schema):
        lines = list(order.invoice.lines.order_by("position"))
    assert len(lines) == body.count("<tr>") == 2


def test_a_client_with_only_paid_invoices_has_nothing_to_pay_and_sees_them(tenant_a, shop_a):
    with schema_context(tenant_a.schema):
        invoice = services.invoice_create(client=shop_a.client)
        services.invoice_line_add(
            invoice=invoice,
            description="Consulting",
            unit_price=shop_a.starter.prices.first().price,
        )
        invoice = services.invoice_issue(invoice=invoice)
        services.payment_record(
            invoice=invoice, amount=invoice.total, method="bank_transfer", idempotency_key="paid-1"
        )
    page = tenant_a.client(tenant_a.client_user).get("/account/").content.decode()
    assert "No invoices yet" not in page
    assert "Nothing to pay" in page
    assert invoice.number in page, "the recent invoices are listed"


def test_the_storefront_shows_the_italian_names_and_descriptions(tenant_a, shop_a):
    with schema_context(tenant_a.schema):
        product = shop_a.starter.product
        services.catalogue_translation_set(
            item=product, language="it", name="Hosting web", description="Siti veloci"
        )
        services.catalogue_translation_set(
            item=shop_a.starter, language="it", name="Base", description="Per iniziare"
        )
        services.catalogue_translation_set(
            item=shop_a.extra_ip, language="it", name="Indirizzo IP aggiuntivo"
        )
        group_slug = product.group.slug
    browser = tenant_a.client()
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "it"
    group = browser.get(f"/store/{group_slug}/", HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert "Hosting web" in group and "Base" in group and "Per iniziare" in group
    plan = browser.get(
        f"/store/plan/{shop_a.starter.public_id}/", HTTP_ACCEPT_LANGUAGE="it"
    ).content.decode()
    assert "Indirizzo IP aggiuntivo" in plan and "Per iniziare" in plan
    browser.post(
        f"/store/plan/{shop_a.starter.public_id}/",
        {"action": "add", "cycle": "monthly"},
        HTTP_ACCEPT_LANGUAGE="it",
    )
    cart = browser.get("/cart/", HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert "Hosting web – Base – Mensile" in cart, "the cart line in Italian too"
    # Russian has no translation here: the tenant's own names are shown.
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"
    russian = browser.get(f"/store/{group_slug}/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Web hosting" in russian and "Starter" in russian and "Hosting web" not in russian


def test_a_translation_in_an_unknown_language_is_refused(tenant_a, shop_a):
    from billing.errors import BillingError

    with schema_context(tenant_a.schema):
        with pytest.raises(BillingError):
            services.catalogue_translation_set(item=shop_a.starter, language="xx", name="Nope")
        shop_a.starter.refresh_from_db()
        assert shop_a.starter.translations == {}


def _product_described(tenant, shop) -> None:
    with schema_context(tenant.schema):
        product = shop.starter.product
        product.description = "Fast sites on SSD storage, with e-mail and backups included."
        product.save(update_fields=["description"])


def test_product_cards_show_the_lowest_price_per_month_a_description_and_features(tenant_a, shop_a):
    _product_described(tenant_a, shop_a)
    home = tenant_a.client().get("/").content.decode()
    cards = [c.split("</article>", 1)[0] for c in home.split('class="card product-card"')[1:]]
    card = next(c for c in cards if "Web hosting" in c)
    assert "Web hosting" in card and "Fast sites on SSD storage" in card
    assert "10 GB SSD" in card and "1 website" in card, "the cheapest plan's features"
    # Starter: 10.00 a month, or 100.00 a year = 8.33 a month; Pro costs more.
    assert "€8.33" in card and "/ month" in card
    assert "/store/hosting/#product-web-hosting" in card
    domains = next(c for c in cards if "Domain registration" in c)
    assert "€12.00" in domains and "/ year" in domains, "a domain is priced by the year"
    # In Italian the price is formatted the Italian way.
    browser = tenant_a.client()
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "it"
    italian = browser.get("/").content.decode()
    assert "8,33\xa0€" in italian and "al mese" in italian


def test_the_group_page_compares_plans_feature_by_feature_and_cycle_by_cycle(tenant_a, shop_a):
    with schema_context(tenant_a.schema):
        shop_a.pro.features = ["10 GB SSD", "Websites: unlimited"]
        shop_a.pro.save(update_fields=["features"])
        shop_a.starter.features = ["10 GB SSD", "Websites: 1"]
        shop_a.starter.save(update_fields=["features"])
    page = tenant_a.client().get("/store/hosting/").content.decode()
    table = page.split('<table class="compare">', 1)[1].split("</table>", 1)[0]
    header = table.split("</thead>", 1)[0]
    assert header.index("Starter") < header.index("Pro"), "plans are the columns"
    rows = {
        row.split("</th>", 1)[0].rsplit(">", 1)[1]: row
        for row in table.split("<tr")
        if 'scope="row"' in row
    }
    assert "unlimited" in rows["Websites"] and ">1<" in rows["Websites"]
    assert rows["10 GB SSD"].count("✓") == 2
    assert "€10.00" in rows["Monthly"] and "€30.00" in rows["Monthly"]
    assert "€100.00" in rows["Annually"] and "€300.00" in rows["Annually"]


def test_the_language_select_applies_itself_and_keeps_a_button_without_script(tenant_a, shop_a):
    page = tenant_a.client().get("/").content.decode()
    form = page.split('<form class="lang"', 1)[1].split("</li>", 1)[0]
    # Without script the button submits the choice; with script it is hidden and the
    # select submits on change (the browser test shows it).
    assert 'id="site-language-go"' in form and "button.hidden = true" in form
    assert 'addEventListener("change"' in form
    response = tenant_a.client().post("/language/", {"language": "ru", "next": "/store/hosting/"})
    assert (
        response.status_code == 302
        and response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ru"
    )


@pytest.mark.parametrize(
    ("language", "setup_fee"),
    [("it", "Costo di attivazione – Web hosting – Starter"), ("ru", "Плата за подключение")],
)
def test_the_setup_fee_line_is_in_the_invoices_language(tenant_a, shop_a, language, setup_fee):
    with schema_context(tenant_a.schema):
        services.catalogue_translation_set(item=shop_a.starter, language="ru", name="Старт")
    _browser, _location, order = _order_starter_annual(tenant_a, shop_a, language)
    with schema_context(tenant_a.schema):
        invoice = order.invoice
        assert invoice.language == language
        descriptions = [line.description for line in invoice.lines.order_by("position")]
    assert len(descriptions) == 2 and descriptions[1].startswith(setup_fee)
    assert "Setup fee" not in descriptions[1]
    if language == "ru":
        assert "Старт" in descriptions[1], "the plan by its Russian name too"


def test_the_storefront_shows_the_russian_names_of_products_plans_and_options(tenant_a, shop_a):
    with schema_context(tenant_a.schema):
        product = shop_a.starter.product
        services.catalogue_translation_set(item=product, language="ru", name="Веб-хостинг")
        services.catalogue_translation_set(
            item=shop_a.starter, language="ru", name="Старт", description="Для начала"
        )
        services.catalogue_translation_set(
            item=shop_a.extra_ip, language="ru", name="Дополнительный IP-адрес"
        )
        group_slug = product.group.slug
    browser = tenant_a.client()
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"
    group = browser.get(f"/store/{group_slug}/").content.decode()
    assert "Веб-хостинг" in group and "Старт" in group and "Для начала" in group
    assert "Web hosting" not in group.split("<main", 1)[1]
    plan = browser.get(f"/store/plan/{shop_a.starter.public_id}/").content.decode()
    assert "Дополнительный IP-адрес" in plan and "Extra IP address" not in plan
    browser.post(f"/store/plan/{shop_a.starter.public_id}/", {"action": "add", "cycle": "monthly"})
    cart = browser.get("/cart/").content.decode()
    assert "Веб-хостинг – Старт" in cart, "the cart line in Russian too"
