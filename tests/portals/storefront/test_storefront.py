"""The storefront of tenant A, from catalogue to order confirmation, with the Django test
client and the local RDAP server."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from accounts.models import User
from billing.models import Cart, Client, Invoice, Order, Service
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

# A billing address in Italy, as the checkout form asks for it.
ADDRESS_IT = {
    "address_line1": "Via Garibaldi 3",
    "postal_code": "10121",
    "city": "Torino",
    "country": "IT",
}


def row_of(response, domain: str) -> str:
    """The results table row of ``domain``."""
    rows = response.content.decode().split("<tr>")
    return next(row for row in rows if f"<strong>{domain}</strong>" in row)


def test_catalogue_shows_groups_and_plans(tenant_a, shop_a):
    browser = tenant_a.client()
    home = browser.get("/")
    assert home.status_code == 200
    assert b"Hosting" in home.content and b"/store/hosting/" in home.content
    group = browser.get("/store/hosting/")
    assert group.status_code == 200
    body = group.content.decode()
    assert "Starter" in body and "Pro" in body and "€10.00" in body
    assert f"/store/plan/{shop_a.starter.public_id}/" in body


def test_unknown_group_and_plan_are_404(tenant_a, shop_a, shop_b):
    browser = tenant_a.client()
    assert browser.get("/store/nothing-here/").status_code == 404
    # Tenant B's plan id means nothing on tenant A's host.
    assert browser.get(f"/store/plan/{shop_b.starter.public_id}/").status_code == 404


def test_live_price_is_computed_by_the_server_with_tax(tenant_a, shop_a):
    browser = tenant_a.client()
    choice = shop_a.ip_choice
    option, quantity = f"option_{shop_a.extra_ip.pk}", f"qty_{shop_a.extra_ip.pk}"
    url = f"/store/plan/{shop_a.starter.public_id}/price/"
    plain = browser.get(url, {"cycle": "monthly"}).json()
    assert plain["ok"] and plain["net"] == "10.00" and plain["tax"] == "2.20"
    assert plain["total"] == "12.20" and plain["tax_name"] == "VAT"
    with_options = browser.get(
        url,
        {"cycle": "annual", option: choice.pk, quantity: 2},
    ).json()
    # 100 + 2 × 20 options + 5 setup = 145 net, 22 % VAT on each invoice line.
    assert with_options["net"] == "145.00"
    assert with_options["total"] == "176.90"
    assert with_options["recurring"] == "140.00"
    # A German visitor is taxed at the German rate.
    german = browser.get(url, {"cycle": "monthly", "country": "DE"}).json()
    assert german["tax"] == "1.90"
    too_many = browser.get(
        url,
        {"cycle": "monthly", option: choice.pk, quantity: 9},
    )
    assert too_many.status_code == 400 and not too_many.json()["ok"]


def test_plan_page_works_without_script(tenant_a, shop_a):
    browser = tenant_a.client()
    url = f"/store/plan/{shop_a.starter.public_id}/"
    quote = browser.post(url, {"action": "quote", "cycle": "annual"})
    assert quote.status_code == 200
    assert "€128.10" in quote.content.decode()
    added = browser.post(url, {"action": "add", "cycle": "annual"})
    assert added.status_code == 302 and added["Location"] == "/cart/"
    cart = browser.get("/cart/").content.decode()
    assert "Starter" in cart and "€128.10" in cart


def test_domain_search_reports_each_registry_answer(tenant_a, shop_a, rdap_bootstrap, rdap_server):
    browser = tenant_a.client()
    page = browser.get("/domains/", {"q": "example"}).content.decode()
    # example.com and example.net are registered at the local registry.
    assert page.count("Taken") == 2
    fresh = browser.get("/domains/", {"q": "brand-new-name.com"}).content.decode()
    assert "brand-new-name.com" in fresh and "Available" in fresh and "Add to cart" in fresh
    broken = row_of(browser.get("/domains/", {"q": "broken.com"}), "broken.com")
    assert "Could not check now" in broken and "Add to cart" not in broken
    for name in ("busy.com", "garbage.com", "odd.com"):
        row = row_of(browser.get("/domains/", {"q": name}), name)
        assert "Could not check now" in row, name
    # A registry that redirects (RFC 7480 §5.2) is followed.
    assert "Available" in row_of(browser.get("/domains/", {"q": "moved.com"}), "moved.com")
    assert all("rdap+json" in r.accept for r in rdap_server.requests)


def test_taken_domain_cannot_be_added_even_by_a_forged_form(tenant_a, shop_a, rdap_bootstrap):
    browser = tenant_a.client()
    response = browser.post("/domains/add/", {"domain": "taken.com"})
    assert response.status_code == 302
    with schema_context(tenant_a.schema):
        assert not Cart.objects.filter(items__domain_name="taken.com").exists()


def test_order_journey_from_domain_search_to_invoice(tenant_a, shop_a, rdap_bootstrap):
    browser = tenant_a.client()
    search = browser.get("/domains/", {"q": "my-new-site"})
    assert "my-new-site.com" in search.content.decode()
    assert browser.post("/domains/add/", {"domain": "my-new-site.com"}).status_code == 302
    browser.post(f"/store/plan/{shop_a.starter.public_id}/", {"action": "add", "cycle": "monthly"})
    cart = browser.get("/cart/").content.decode()
    assert "my-new-site.com" in cart and "Starter" in cart

    checkout = browser.get("/checkout/")
    assert checkout.status_code == 200 and "Create my account" in checkout.content.decode()
    refused = browser.post(
        "/checkout/",
        {"name": "Giulia Bianchi", "email": "not-an-address", "password": "short", "country": "X"},
    )
    assert refused.status_code == 400
    errors = refused.content.decode()
    assert "errorlist" in errors and 'aria-invalid="true"' in errors

    placed = browser.post(
        "/checkout/",
        {
            "name": "Giulia Bianchi",
            "email": "giulia@example.test",
            "password": "a-long-and-unusual-passphrase",
            **ADDRESS_IT,
        },
    )
    assert placed.status_code == 302
    confirmation = browser.get(placed["Location"])
    body = confirmation.content.decode()
    assert confirmation.status_code == 200
    with schema_context(tenant_a.schema):
        client = Client.objects.get(email="giulia@example.test")
        order = Order.objects.get(client=client)
        invoice = order.invoice
        assert invoice.status == Invoice.Status.ISSUED
        # 12.00 domain + 10.00 hosting, 22 % VAT.
        assert str(invoice.total_amount) == "26.8400"
        assert Service.objects.filter(client=client, domain_name="my-new-site.com").exists()
        user = User.objects.get(email="giulia@example.test")
        assert user.kind == User.Kind.CLIENT and user.client_link.client == client
    assert invoice.number in body and "€26.84" in body
    assert "IT60X0542811101000000123456" in body and "RF" in body  # bank transfer reference

    # The new client sees the invoice in its client area...
    own = browser.get(f"/account/invoices/{invoice.public_id}/")
    assert own.status_code == 200 and invoice.number in own.content.decode()
    # ...and so does the reseller's staff, in the console.
    staff = tenant_a.client(tenant_a.owner).get(f"/console/invoices/{invoice.public_id}/")
    assert staff.status_code == 200 and "Giulia Bianchi" in staff.content.decode()
    # Another client of the same tenant does not.
    other = tenant_a.client(tenant_a.client_user).get(f"/account/invoices/{invoice.public_id}/")
    assert other.status_code == 404
    assert tenant_a.client(tenant_a.client_user).get(placed["Location"]).status_code == 404


def test_existing_client_logs_in_and_keeps_its_cart(tenant_a, shop_a):
    browser = tenant_a.client()
    browser.post(f"/store/plan/{shop_a.pro.public_id}/", {"action": "add", "cycle": "monthly"})
    login = browser.post(
        "/login/",
        {"username": tenant_a.client_user.email, "password": PASSWORD, "next": "/checkout/"},
    )
    assert login.status_code == 302 and login["Location"] == "/checkout/"
    page = browser.get("/checkout/").content.decode()
    assert "Mario Rossi" in page and "Pro" in page
    placed = browser.post("/checkout/", ADDRESS_IT)
    assert placed.status_code == 302
    with schema_context(tenant_a.schema):
        order = Order.objects.get(client=shop_a.client)
    assert placed["Location"] == f"/order/{order.public_id}/"
    # The same cart submitted twice gives the same order.
    again = browser.post("/checkout/", ADDRESS_IT)
    assert again.status_code == 302 and again["Location"] == "/cart/"


def test_signup_with_a_known_address_is_refused(tenant_a, shop_a):
    browser = tenant_a.client()
    browser.post(f"/store/plan/{shop_a.pro.public_id}/", {"action": "add", "cycle": "monthly"})
    response = browser.post(
        "/checkout/",
        {
            "name": "Someone",
            "email": tenant_a.client_user.email,
            "password": "a-long-and-unusual-passphrase",
            **ADDRESS_IT,
        },
    )
    assert response.status_code == 400
    assert "already exists" in response.content.decode()


def test_cart_coupon_and_removal(tenant_a, shop_a):
    with schema_context(tenant_a.schema):
        from billing.services import coupon_create

        coupon_create(code="WELCOME10", kind="percent", value="10")
    browser = tenant_a.client()
    browser.post(f"/store/plan/{shop_a.pro.public_id}/", {"action": "add", "cycle": "monthly"})
    browser.post("/cart/", {"action": "coupon", "code": "welcome10"})
    page = browser.get("/cart/").content.decode()
    assert "WELCOME10" in page and "€32.94" in page  # (30 − 3) × 1.22
    bad = browser.post("/cart/", {"action": "coupon", "code": "NOPE"}, follow=True)
    assert "There is no coupon" in bad.content.decode()
    with schema_context(tenant_a.schema):
        item = Cart.objects.get(coupon__code="WELCOME10").items.get()
    browser.post("/cart/", {"action": "remove", "item": item.pk})
    assert "Your cart is empty" in browser.get("/cart/").content.decode()


def test_staff_cannot_check_out(tenant_a, shop_a):
    browser = tenant_a.client(tenant_a.owner)
    browser.post(f"/store/plan/{shop_a.pro.public_id}/", {"action": "add", "cycle": "monthly"})
    response = browser.get("/checkout/")
    assert response.status_code == 302 and response["Location"] == "/cart/"


def test_return_from_the_bank_shows_the_payment_outcome(tenant_a, shop_a):
    client = tenant_a.client(tenant_a.client_user)
    done = client.get("/", {"payment": "succeeded"}, follow=True)
    assert done.redirect_chain[-1][0] == "/account/invoices/"
    assert "your payment went through" in done.content.decode()
    failed = tenant_a.client().get("/", {"payment": "failed"}, follow=True)
    assert "did not go through" in failed.content.decode()
    assert tenant_a.client().get("/", {"payment": "whatever"}).status_code == 200


def test_signing_up_at_checkout_welcomes_the_client_in_its_language(
    tenant_a, shop_a, mailoutbox, media_root, django_capture_on_commit_callbacks, tasks_inline
):
    browser = tenant_a.client()
    # The visitor chooses Italian from the language menu, then signs up at checkout.
    browser.post("/language/", {"language": "it"})
    browser.post(f"/store/plan/{shop_a.pro.public_id}/", {"action": "add", "cycle": "monthly"})
    with django_capture_on_commit_callbacks(execute=True):
        placed = browser.post(
            "/checkout/",
            {
                "name": "Giulia Bianchi",
                "email": "giulia@example.test",
                "password": "a-long-and-unusual-passphrase",
                **ADDRESS_IT,
            },
        )
    assert placed.status_code == 302

    (welcome,) = [m for m in mailoutbox if "Benvenuto in" in m.subject]
    assert welcome.to == ["giulia@example.test"]
    assert welcome.extra_headers["Content-Language"] == "it"
    body = " ".join(welcome.body.split())
    assert "Gentile Giulia Bianchi," in body
    assert "il suo account cliente è pronto" in body
    assert "Accede con il suo indirizzo e-mail, giulia@example.test," in body
    assert f"http://{tenant_a.host}:8000/login/" in body
    assert "a-long-and-unusual-passphrase" not in body
    # Logging in (the existing client's path) is no sign-up: no second welcome.
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(f"/store/plan/{shop_a.pro.public_id}/", {"action": "add", "cycle": "monthly"})
        browser.post("/checkout/", ADDRESS_IT)
    assert not [m for m in mailoutbox if "Benvenuto in" in m.subject]
