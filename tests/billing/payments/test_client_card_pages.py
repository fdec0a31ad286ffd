"""The client pays an invoice by card on Stripe's hosted Checkout page and manages its
saved cards, through the client area of tenant A and the local Stripe's pages: paid at
once, after 3-D Secure, refused; the return and the webhooks in either order book one
payment; and it all happens on the tenant's account, never the platform's."""

from __future__ import annotations

import html
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from billing import services
from billing.models import Invoice, Payment
from billing.models.gateway import InvoiceDunning, PaymentAttempt, SavedPaymentMethod

from .helpers import deliver, invoice_make, platform_configure, shop_connect
from .pages import follow_stripe, pay_on_page, site_get, stripe_page

pytestmark = pytest.mark.django_db

VISA = "4242 4242 4242 4242"
THREE_D_SECURE = "4000002760003184"
DECLINED = "4000000000000002"


@pytest.fixture
def shop(tenant_a, stripe_server, platform, stripe_settings, settings):
    platform_configure(stripe_settings, settings)
    return shop_connect(tenant_a, stripe_server, platform, fee="2.50")


@pytest.fixture
def client_row(shop, tenant_a):
    with schema_context(tenant_a.schema):
        client = services.client_create(
            name="Mario Rossi", email="mario@example.test", country="IT"
        )
        services.client_user_link(client=client, user=tenant_a.client_user)
    return client


@pytest.fixture
def browser(tenant_a, client_row):
    return tenant_a.client(tenant_a.client_user)


def _invoice(world, client, amount="100.00") -> Invoice:
    with schema_context(world.schema):
        return invoice_make(client, amount)


def _start(browser, invoice, **form) -> str:
    """Presses "Pay by card" on the invoice; returns the Stripe page it leads to."""
    page = browser.get(f"/account/invoices/{invoice.public_id}/").content.decode()
    assert "Pay by card" in page and f"/account/invoices/{invoice.public_id}/card/" in page
    response = browser.post(f"/account/invoices/{invoice.public_id}/card/", form)
    assert response.status_code == 302 and "/c/pay/cs_test_" in response["Location"]
    return response["Location"]


def _state(world, invoice):
    with schema_context(world.schema):
        invoice.refresh_from_db()
        return invoice.status, list(Payment.objects.filter(invoice=invoice))


def _text(response) -> str:
    return html.unescape(response.content.decode())


def test_client_pays_on_the_checkout_page_and_the_money_lands_on_the_tenants_account(
    shop, tenant_a, browser, client_row, stripe_server, platform
):
    invoice = _invoice(tenant_a, client_row)
    url = _start(browser, invoice)
    opened = stripe_page(url)
    assert opened.status == 200 and f"Invoice {invoice.number}" in opened.body
    back = pay_on_page(url, VISA)
    assert back.status == 303 and back.location.startswith(f"http://{tenant_a.host}/account/")

    landed = site_get(browser, back.location)
    assert landed["Location"] == f"/account/invoices/{invoice.public_id}/"
    page = _text(browser.get(landed["Location"]))
    assert "your card payment of €100.00 has been received" in page

    status, payments = _state(tenant_a, invoice)
    assert status == Invoice.Status.PAID and len(payments) == 1
    (charge,) = stripe_server.charges
    assert charge.account == shop.account != platform.account
    assert charge.application_fee_amount == 250
    assert stripe_server.charges_on(platform.account) == []

    # Every event Stripe sent, delivered twice, changes nothing more.
    for event in stripe_server.events(shop.account) * 2:
        assert deliver(shop.browser(), stripe_server, event, shop.webhook_secret).status_code == 200
    assert len(_state(tenant_a, invoice)[1]) == 1
    # Coming back again (a reload) books nothing either.
    site_get(browser, back.location)
    assert len(_state(tenant_a, invoice)[1]) == 1


@pytest.mark.parametrize("first", ["checkout.session.completed", "payment_intent.succeeded"])
def test_the_webhook_before_the_return_books_one_payment(
    shop, tenant_a, browser, client_row, stripe_server, first
):
    invoice = _invoice(tenant_a, client_row, "40.00")
    back = pay_on_page(_start(browser, invoice), VISA)
    (event,) = stripe_server.events(shop.account, first)
    assert deliver(shop.browser(), stripe_server, event, shop.webhook_secret).status_code == 200
    status, payments = _state(tenant_a, invoice)
    assert status == Invoice.Status.PAID and len(payments) == 1

    landed = site_get(browser, back.location)
    page = _text(browser.get(landed["Location"]))
    assert "has been received" in page
    assert len(_state(tenant_a, invoice)[1]) == 1


def test_three_d_secure_then_paid(shop, tenant_a, browser, client_row, stripe_server):
    invoice = _invoice(tenant_a, client_row, "55.00")
    url = _start(browser, invoice)
    challenge = stripe_page(url, card=THREE_D_SECURE)
    assert challenge.status == 303 and "/3ds/pi_" in challenge.location
    assert _state(tenant_a, invoice)[0] == Invoice.Status.ISSUED
    back = follow_stripe(url, challenge)
    assert back.location.startswith(f"http://{tenant_a.host}/account/invoices/")
    site_get(browser, back.location)
    status, payments = _state(tenant_a, invoice)
    assert status == Invoice.Status.PAID and payments[0].amount == Decimal("55.00")
    # The page asked for the bank's check itself: no "action required" e-mail.
    from django.core import mail

    assert not [m for m in mail.outbox if "action" in m.subject.lower()]


def test_a_declined_card_says_so_and_changes_nothing(
    shop, tenant_a, browser, client_row, stripe_server
):
    invoice = _invoice(tenant_a, client_row, "30.00")
    url = _start(browser, invoice)
    refused = pay_on_page(url, DECLINED)
    assert refused.status == 402 and "Your card was declined." in refused.body
    assert _state(tenant_a, invoice) == (Invoice.Status.ISSUED, [])
    for event in stripe_server.events(shop.account):
        deliver(shop.browser(), stripe_server, event, shop.webhook_secret)
    assert _state(tenant_a, invoice) == (Invoice.Status.ISSUED, [])

    # The client gives up with the page's "Back" link.
    cancel = html.unescape(refused.body.split('<a href="', 1)[1].split('"', 1)[0])
    landed = site_get(browser, cancel)
    page = _text(browser.get(landed["Location"]))
    assert "did not go through: Your card was declined. Nothing was charged." in page
    assert _state(tenant_a, invoice) == (Invoice.Status.ISSUED, [])
    with schema_context(tenant_a.schema):
        attempt = PaymentAttempt.objects.get(invoice=invoice)
        assert attempt.status == PaymentAttempt.Status.FAILED
        # A client's own try is not an automatic charge: no dunning starts.
        assert not InvoiceDunning.objects.filter(invoice=invoice).exists()

    # Another card on the same page pays it, once.
    back = pay_on_page(url, VISA)
    site_get(browser, back.location)
    status, payments = _state(tenant_a, invoice)
    assert status == Invoice.Status.PAID and len(payments) == 1


def test_saving_a_card_lists_it_and_auto_charge_can_be_switched(
    shop, tenant_a, browser, client_row, stripe_server
):
    assert "Payment methods" in browser.get("/account/").content.decode()
    response = browser.post("/account/payment-methods/", {"action": "add"})
    assert response.status_code == 302 and "/c/pay/cs_test_" in response["Location"]
    back = pay_on_page(response["Location"], "5555555555554444")
    landed = site_get(browser, back.location)
    assert landed["Location"] == "/account/payment-methods/"
    page = _text(browser.get("/account/payment-methods/"))
    assert "Your card ending in 4444 has been saved." in page
    assert "Mastercard •••• 4444" in page and "12/" in page
    assert stripe_server.charges == [], "saving a card charges nothing"

    with schema_context(tenant_a.schema):
        (method,) = SavedPaymentMethod.objects.filter(client=client_row)
        assert not method.autocharge
    browser.post(
        "/account/payment-methods/", {"action": "autocharge_on", "method": method.public_id}
    )
    with schema_context(tenant_a.schema):
        method.refresh_from_db()
        assert method.autocharge
    browser.post(
        "/account/payment-methods/", {"action": "autocharge_off", "method": method.public_id}
    )
    with schema_context(tenant_a.schema):
        method.refresh_from_db()
        assert not method.autocharge
    browser.post("/account/payment-methods/", {"action": "remove", "method": method.public_id})
    with schema_context(tenant_a.schema):
        method.refresh_from_db()
        assert method.removed_at is not None
    assert stripe_server.get(method.method_ref)["customer"] is None
    assert "4444" not in browser.get("/account/payment-methods/").content.decode()


def test_a_card_saved_while_paying_is_listed(shop, tenant_a, browser, client_row, stripe_server):
    invoice = _invoice(tenant_a, client_row, "12.00")
    back = pay_on_page(_start(browser, invoice, save_card="1"), VISA)
    site_get(browser, back.location)
    assert _state(tenant_a, invoice)[0] == Invoice.Status.PAID
    assert "Visa •••• 4242" in _text(browser.get("/account/payment-methods/"))


def test_another_tenants_or_clients_invoice_cannot_be_paid_here(
    shop, tenant_a, tenant_b, browser, client_row, stripe_server
):
    with schema_context(tenant_b.schema):
        foreign = invoice_make(services.client_create(name="B", email="b@example.test"), "9.00")
    with schema_context(tenant_a.schema):
        stranger = invoice_make(services.client_create(name="S", email="s@example.test"), "9.00")
        mine = invoice_make(client_row, "9.00")
    for invoice in (foreign, stranger):
        assert browser.post(f"/account/invoices/{invoice.public_id}/card/").status_code == 404
        assert browser.get(f"/account/invoices/{invoice.public_id}/card/").status_code == 404
        assert browser.get(f"/account/invoices/{invoice.public_id}/card/return/").status_code == 404
    # An attempt of one invoice does not answer on another's return page.
    back = pay_on_page(_start(browser, mine), VISA)
    wrong = back.location.replace(str(mine.public_id), str(stranger.public_id))
    assert site_get(browser, wrong).status_code == 404
    assert stripe_server.charges_on(shop.account)[0].amount == 900


def test_without_card_payments_the_invoice_shows_bank_details_only(tenant_a, browser, client_row):
    with schema_context(tenant_a.schema):
        from billing.payments.gateways.config import payment_settings_update

        payment_settings_update(stripe_mode="disabled")
    invoice = _invoice(tenant_a, client_row, "10.00")
    page = browser.get(f"/account/invoices/{invoice.public_id}/pay/").content.decode()
    assert "Pay by card" not in page, page[page.find("Pay by card") - 300 :][:600]
    assert "Bank transfer" in page
