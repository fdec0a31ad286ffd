"""Checkout and tax: the billing address decides the tax, which the page recomputes as
the country or VAT number changes; VIES's answer is told to the buyer; a sale that
needs a rate nobody configured is refused, naming what the reseller must add."""

from __future__ import annotations

from decimal import Decimal

from django.core.files.storage import default_storage
from django_tenants.utils import schema_context

from billing import demo, documents, services
from billing.models import Client, Invoice, Order, Plan, VatNumberCheck
from tests.billing.test_documents import pdf_text

ADDRESS_IE = {
    "address_line1": "12 Grafton Street",
    "postal_code": "D02 Y006",
    "city": "Dublin",
    "country": "IE",
}
SIGNUP = {"name": "Siobhan Murphy", "password": "a-long-and-unusual-passphrase"}


def _cart(tenant, shop):
    browser = tenant.client()
    browser.post(f"/store/plan/{shop.starter.public_id}/", {"action": "add", "cycle": "monthly"})
    return browser


def test_the_checkout_asks_for_the_billing_address(tenant_a, shop_a):
    page = _cart(tenant_a, shop_a).get("/checkout/").content.decode()
    for field in ("address_line1", "postal_code", "city", "region", "company_name", "vat_number"):
        assert f'name="{field}"' in page
    assert '<select name="country"' in page and '<option value="IE">Ireland</option>' in page


def test_an_irish_consumer_pays_irish_vat_and_the_invoice_keeps_the_evidence(
    tenant_a, shop_a, vies
):
    browser = _cart(tenant_a, shop_a)
    placed = browser.post(
        "/checkout/",
        {**SIGNUP, "email": "siobhan@example.test", **ADDRESS_IE},
        REMOTE_ADDR="87.198.0.1",
    )
    assert placed.status_code == 302
    with schema_context(tenant_a.schema):
        client = Client.objects.get(email="siobhan@example.test")
        assert (client.address_line1, client.postal_code, client.country) == (
            "12 Grafton Street", "D02 Y006", "IE",
        )  # fmt: skip
        invoice = Order.objects.get(client=client).invoice
        (line,) = invoice.lines.all()
        assert (line.tax_rate, line.vat_category) == (Decimal(23), "S")
        assert invoice.tax_total_amount == Decimal("2.30")
        location = invoice.buyer["tax"]["location"]
        assert location["billing_country"] == "IE" and location["ip_country"] == "IE"
        assert location["consistent"] and location["pieces"] == 2
        assert invoice.buyer["address"]["city"] == "Dublin"
    assert vies.requests == []  # no VAT number, nothing to ask


def test_the_tax_follows_the_country_and_the_vat_number_as_they_are_typed(tenant_a, shop_a, vies):
    browser = _cart(tenant_a, shop_a)
    irish = browser.get("/checkout/quote/", {"country": "IE"}).json()
    assert irish["ok"] and irish["tax_rate"] == "23" and irish["total"] == "12.30"
    business = browser.get("/checkout/quote/", {"country": "IE", "vat_number": "IE6388047V"}).json()
    assert business["tax"] == "0.00"
    assert "Article 196 of Directive 2006/112/EC" in business["html"]
    american = browser.get("/checkout/quote/", {"country": "US"}).json()
    assert american["tax"] == "0.00" and "outside the EU" in american["tax_note"]
    # Without script, the form's own button does the same.
    page = browser.post("/checkout/", {"action": "quote", "country": "FR"})
    assert page.status_code == 200 and "20 %" in page.content.decode()


def test_a_vat_number_vies_does_not_confirm_is_a_consumer_sale_and_the_buyer_is_told(
    tenant_a, shop_a, vies
):
    browser = _cart(tenant_a, shop_a)
    placed = browser.post(
        "/checkout/",
        {
            **SIGNUP,
            "email": "unknown@example.test",
            **ADDRESS_IE,
            "company_name": "Unknown Ltd",
            "vat_number": "IE9825613N",
        },
        follow=True,
    )
    assert placed.status_code == 200
    assert "VIES does not confirm the VAT number IE9825613N" in placed.content.decode()
    with schema_context(tenant_a.schema):
        invoice = Invoice.objects.get(client__email="unknown@example.test")
        assert not invoice.reverse_charge and invoice.tax_total_amount == Decimal("2.30")
        assert invoice.buyer["tax"]["vies"]["status"] == "invalid"


def test_a_confirmed_business_elsewhere_in_the_eu_is_reverse_charged(tenant_a, shop_a, vies):
    browser = _cart(tenant_a, shop_a)
    placed = browser.post(
        "/checkout/",
        {
            **SIGNUP,
            "email": "murphy@example.test",
            **ADDRESS_IE,
            "company_name": "Murphy Web Ltd",
            "vat_number": "IE 6388047 V",
        },
    )
    assert placed.status_code == 302
    with schema_context(tenant_a.schema):
        invoice = Invoice.objects.get(client__email="murphy@example.test")
        assert invoice.reverse_charge and invoice.tax_total_amount == 0
        assert invoice.tax_note == "Reverse charge — Article 196 of Directive 2006/112/EC"
        assert invoice.buyer["vat_number"] == "IE6388047V"
        assert invoice.buyer["tax"]["vies"]["request_identifier"]


def test_vies_down_makes_the_order_wait_when_the_reseller_says_so(tenant_a, shop_a, vies):
    with schema_context(tenant_a.schema):
        services.billing_settings_update(vies_unavailable="wait")
    vies.faults["IE"] = "MS_UNAVAILABLE"
    browser = _cart(tenant_a, shop_a)
    refused = browser.post(
        "/checkout/",
        {**SIGNUP, "email": "wait@example.test", **ADDRESS_IE, "vat_number": "IE6388047V"},
    )
    assert refused.status_code == 400
    assert "cannot be confirmed right now" in refused.content.decode()
    with schema_context(tenant_a.schema):
        assert not Client.objects.filter(email="wait@example.test").exists()


def test_a_country_without_a_rate_is_refused_naming_the_rule_to_add(tenant_a, shop_a):
    with schema_context(tenant_a.schema):
        # A seller in the United Kingdom, not registered for VAT in the EU.
        services.billing_settings_update(country="GB", vat_number="GB980780684")
    browser = _cart(tenant_a, shop_a)
    refused = browser.post(
        "/checkout/",
        {
            **SIGNUP,
            "email": "paris@example.test",
            "address_line1": "1 rue de Rivoli",
            "postal_code": "75001",
            "city": "Paris",
            "country": "FR",
        },
    )
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "No VAT rate is configured for FR" in body and "add a tax rule for FR" in body
    with schema_context(tenant_a.schema):
        assert not Client.objects.filter(email="paris@example.test").exists()
        assert not Invoice.objects.exclude(number="").exists()
    # Once the reseller adds it, the same checkout goes through.
    with schema_context(tenant_a.schema):
        services.tax_rule_set(country="FR", rate="20", name="TVA")
    placed = browser.post(
        "/checkout/",
        {
            **SIGNUP,
            "email": "paris@example.test",
            "address_line1": "1 rue de Rivoli",
            "postal_code": "75001",
            "city": "Paris",
            "country": "FR",
        },
    )
    assert placed.status_code == 302


def test_an_address_without_its_state_is_refused(tenant_a, shop_a):
    refused = _cart(tenant_a, shop_a).post(
        "/checkout/",
        {
            **SIGNUP,
            "email": "ny@example.test",
            "address_line1": "1 Main Street",
            "postal_code": "10001",
            "city": "New York",
            "country": "US",
        },
    )
    assert refused.status_code == 400
    assert "need a state or province" in refused.content.decode()


def test_a_vat_number_given_in_the_profile_or_the_console_is_asked_of_vies(tenant_a, shop_a, vies):
    saved = tenant_a.client(tenant_a.client_user).post(
        "/account/profile/",
        {
            "action": "profile",
            "name": "Mario Rossi",
            "email": "mario@example.test",
            "company_name": "Rossi S.r.l.",
            "country": "IT",
            "vat_number": "IT00743110157",
            "language": "en",
        },
    )
    assert saved.status_code == 302
    with schema_context(tenant_a.schema):
        check = VatNumberCheck.objects.get(client=shop_a.client)
        assert (check.vat_number, check.status) == ("IT00743110157", "valid")
        assert check.request_identifier
    assert [r.fields["vatNumber"] for r in vies.requests] == ["00743110157"]


def test_the_demo_tenant_taxes_italy_eu_consumers_and_eu_businesses_by_the_rules(
    db, tenant_a, vies
):
    """The demo's Italian seller, registered for the OSS: 22 % in Italy, the buyer's own
    rate to a consumer elsewhere in the EU, reverse charge to a business VIES confirms;
    and the order is taxed as the checkout said, never silently otherwise."""
    with schema_context(tenant_a.schema):
        demo.seed(tenant_a.tenant)
        starter = Plan.objects.get(product__slug=demo.DEMO_MARKER_SLUG, name="Starter")
    browser = tenant_a.client()
    browser.post(f"/store/plan/{starter.public_id}/", {"action": "add", "cycle": "monthly"})
    italy = browser.get("/checkout/quote/", {"country": "IT"}).json()
    assert (italy["tax_rate"], italy["tax"], italy["total"]) == ("22", "0.88", "4.87")
    germany = browser.get("/checkout/quote/", {"country": "DE"}).json()
    assert (germany["tax_rate"], germany["tax"]) == ("19", "0.76")
    assert "One-Stop Shop" in germany["tax_note"]
    business = browser.get(
        "/checkout/quote/", {"country": "DE", "vat_number": "DE136695976"}
    ).json()
    assert business["tax"] == "0.00" and "Article 196" in business["tax_note"]
    ireland = browser.get("/checkout/quote/", {"country": "IE"}).json()
    assert (ireland["tax_rate"], ireland["total"]) == ("23", "4.91")
    placed = browser.post(
        "/checkout/", {**SIGNUP, "email": "siobhan.kelly@example.test", **ADDRESS_IE}
    )
    assert placed.status_code == 302, placed.content.decode()[:2000]
    with schema_context(tenant_a.schema):
        invoice = Order.objects.get(client__email="siobhan.kelly@example.test").invoice
        (line,) = invoice.lines.all()
    assert line.tax_rate == Decimal(23) and invoice.total_amount == Decimal(ireland["total"])


def test_the_invoice_bills_the_full_address_given_at_checkout(tenant_a, shop_a, media_root):
    """Siobhan's invoice once read "Bill to: Siobhan Kelly, IE": the PDF and the client
    area now carry the street, postcode and city she typed."""
    browser = _cart(tenant_a, shop_a)
    placed = browser.post(
        "/checkout/",
        {**SIGNUP, "name": "Siobhan Kelly", "email": "kelly@example.test", **ADDRESS_IE},
    )
    assert placed.status_code == 302
    with schema_context(tenant_a.schema):
        invoice = Order.objects.get(client__email="kelly@example.test").invoice
        assert documents.invoice_pdf_render(invoice) is True
        invoice.refresh_from_db()
        with default_storage.open(invoice.pdf_file.name, "rb") as handle:
            pdf = pdf_text(handle.read())
    # The caption is set in capitals by the stylesheet.
    bill_to = pdf.split("BILL TO", 1)[1].split("DESCRIPTION", 1)[0]
    assert bill_to.split("\n")[1:5] == [
        "Siobhan Kelly",
        "12 Grafton Street",
        "D02 Y006 Dublin",
        "IE",
    ]
    page = browser.get(f"/account/invoices/{invoice.public_id}/").content.decode()
    billed = page.split("Billed to", 1)[1].split("</dd>", 1)[0]
    assert "12 Grafton Street<br>D02 Y006 Dublin<br>IE" in billed
