"""The tenant's terms of service at checkout: each edit on the branding page publishes a
version (the earlier ones stay as they were), every buyer, new or signed in, accepts the
version in force, and the order records which one, when and from which address; the
console's order page shows it and the /terms/ page gives the version and its date."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, InternalError, transaction
from django_tenants.utils import schema_context

from accounts.branding import branding_update
from accounts.models import TermsVersion
from billing import services
from billing.models import Client, Order
from tests.portals.storefront.test_storefront import ADDRESS_IT

pytestmark = pytest.mark.django_db

SIGNUP = {"name": "Giulia Bianchi", "password": "a-long-and-unusual-passphrase"}


def _terms(tenant, text: str) -> TermsVersion:
    with schema_context(tenant.schema):
        branding_update(company_name="", brand_color="#2f5d8a", terms_text=text)
        return TermsVersion.objects.order_by("-version").first()


def _cart(browser, shop):
    browser.post(f"/store/plan/{shop.starter.public_id}/", {"action": "add", "cycle": "monthly"})
    return browser


def test_editing_the_terms_publishes_a_version_and_keeps_the_earlier_ones(tenant_a, shop_a):
    owner = tenant_a.client(tenant_a.owner)
    for text in ("Pay on time.", "Pay on time.", "Pay on time. Be nice."):
        saved = owner.post("/console/branding/", {"brand_color": "#2f5d8a", "terms_text": text})
        assert saved.status_code == 302
    with schema_context(tenant_a.schema):
        versions = list(TermsVersion.objects.order_by("version").values_list("version", "text"))
        assert versions == [(1, "Pay on time."), (2, "Pay on time. Be nice.")]
        first = TermsVersion.objects.get(version=1)
        # Published text is evidence: the database refuses to change or drop it.
        for change in (
            lambda: TermsVersion.objects.filter(pk=first.pk).update(text="Rewritten."),
            lambda: TermsVersion.objects.filter(pk=first.pk).delete(),
        ):
            with pytest.raises((InternalError, IntegrityError)), transaction.atomic():
                change()
        assert TermsVersion.objects.get(version=1).text == "Pay on time."
    console = owner.get("/console/branding/").content.decode()
    listed = console.split('id="terms-versions"', 1)[1]
    assert "Version 2 of" in listed and "Version 1 of" in listed and "Be nice." in listed
    page = tenant_a.client().get("/terms/").content.decode()
    assert "Version 2, in force since" in page and "Be nice." in page
    assert "Earlier versions" in page and "Version 1 of" in page


def test_clearing_the_terms_asks_no_one_to_accept_them(tenant_a, shop_a):
    _terms(tenant_a, "Be nice.")
    _terms(tenant_a, "")
    assert tenant_a.client().get("/terms/").status_code == 404
    page = _cart(tenant_a.client(), shop_a).get("/checkout/").content.decode()
    assert 'name="accept_terms"' not in page


def test_a_new_client_accepts_the_terms_and_the_order_records_them(tenant_a, shop_a):
    terms = _terms(tenant_a, "Be nice.")
    browser = _cart(tenant_a.client(), shop_a)
    page = browser.get("/checkout/").content.decode()
    assert 'name="accept_terms"' in page and f'name="terms_version" value="{terms.version}"' in page
    data = {**SIGNUP, "email": "giulia@example.test", **ADDRESS_IT, "terms_version": "1"}
    refused = browser.post("/checkout/", data, REMOTE_ADDR="93.184.216.34")
    assert refused.status_code == 400
    assert "Please accept the terms of service." in refused.content.decode()
    with schema_context(tenant_a.schema):
        assert not Client.objects.filter(email="giulia@example.test").exists()
    placed = browser.post("/checkout/", {**data, "accept_terms": "on"}, REMOTE_ADDR="93.184.216.34")
    assert placed.status_code == 302, placed.content.decode()[:2000]
    with schema_context(tenant_a.schema):
        order = Order.objects.get(client__email="giulia@example.test")
        assert order.terms_version_id == terms.pk
        assert order.terms_accepted_ip == "93.184.216.34"
        assert order.terms_accepted_at is not None
        assert order.terms_accepted_at >= terms.published_at


def test_a_signed_in_client_accepts_the_terms_of_each_order(tenant_a, shop_a):
    terms = _terms(tenant_a, "Be nice.")
    browser = _cart(tenant_a.client(tenant_a.client_user), shop_a)
    refused = browser.post("/checkout/", {**ADDRESS_IT, "terms_version": "1"})
    assert refused.status_code == 400
    assert "Please accept the terms of service." in refused.content.decode()
    with schema_context(tenant_a.schema):
        assert not Order.objects.filter(client=shop_a.client).exists()
    placed = browser.post("/checkout/", {**ADDRESS_IT, "terms_version": "1", "accept_terms": "on"})
    assert placed.status_code == 302, placed.content.decode()[:2000]
    with schema_context(tenant_a.schema):
        order = Order.objects.get(client=shop_a.client)
        assert order.terms_version_id == terms.pk and order.terms_accepted_ip == "127.0.0.1"


def test_terms_published_while_the_buyer_orders_must_be_accepted_again(tenant_a, shop_a):
    _terms(tenant_a, "Be nice.")
    browser = _cart(tenant_a.client(tenant_a.client_user), shop_a)
    newer = _terms(tenant_a, "Be nicer.")
    stale = browser.post("/checkout/", {**ADDRESS_IT, "terms_version": "1", "accept_terms": "on"})
    assert stale.status_code == 400
    page = stale.content.decode()
    assert "The terms of service changed while you were ordering" in page
    # The page shown again carries the version in force, so ticking once more accepts it.
    assert f'name="terms_version" value="{newer.version}"' in page
    with schema_context(tenant_a.schema):
        assert not Order.objects.filter(client=shop_a.client).exists()
    placed = browser.post("/checkout/", {**ADDRESS_IT, "terms_version": "2", "accept_terms": "on"})
    assert placed.status_code == 302
    with schema_context(tenant_a.schema):
        assert Order.objects.get(client=shop_a.client).terms_version_id == newer.pk


def test_the_console_order_page_shows_the_terms_accepted(tenant_a, tenant_b, shop_a):
    _terms(tenant_a, "Be nice.")
    browser = _cart(tenant_a.client(tenant_a.client_user), shop_a)
    browser.post(
        "/checkout/",
        {**ADDRESS_IT, "terms_version": "1", "accept_terms": "on"},
        REMOTE_ADDR="2001:db8::7",
    )
    with schema_context(tenant_a.schema):
        order = Order.objects.get(client=shop_a.client)
    page = tenant_a.client(tenant_a.owner).get(f"/console/orders/{order.public_id}/")
    assert page.status_code == 200
    terms = page.content.decode().split('id="order-terms">', 1)[1].split("</dd>", 1)[0]
    assert "Version 1 (published" in terms and "accepted on" in terms
    assert "from 2001:db8::7" in terms
    # Another tenant's console does not have it.
    assert (
        tenant_b.client(tenant_b.owner).get(f"/console/orders/{order.public_id}/").status_code
        == 404
    )
    # An order placed for the client by the API or staff accepted nothing, and says so.
    with schema_context(tenant_a.schema):
        cart = services.cart_create(client=shop_a.client)
        services.cart_item_add(cart=cart, plan=shop_a.pro, cycle="monthly")
        unrecorded = services.checkout_place(cart=cart, client=shop_a.client)
    other = tenant_a.client(tenant_a.owner).get(f"/console/orders/{unrecorded.public_id}/")
    assert "None accepted with this order" in other.content.decode()
