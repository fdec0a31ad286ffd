"""The card's country as the second piece of evidence of where a consumer is (EU VAT,
Article 24f of Regulation 282/2011): Stripe names the issuer's country on the charge; the
payment keeps it and the invoice's page weighs it with the billing address and the IP."""

from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from billing import geo, services
from billing.models import Payment
from billing.payments.flows import invoice_pay_start
from billing.selectors import invoice_tax_record

from .helpers import invoice_make, platform_configure, shop_connect

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(tenant_a, stripe_server, platform, stripe_settings, settings):
    platform_configure(stripe_settings, settings)
    return shop_connect(tenant_a, stripe_server, platform)


def _irish_invoice():
    client = services.client_create(
        name="Siobhan Murphy",
        email="siobhan@example.test",
        country="IE",
        address_line1="12 Grafton Street",
        postal_code="D02 Y006",
        city="Dublin",
    )
    evidence = geo.location_evidence(billing_country="IE", ip_address="87.198.0.1")
    return invoice_make(client, "50.00", location_evidence=evidence)


def test_an_irish_card_is_a_third_piece_that_agrees(shop, tenant_a):
    with schema_context(shop.schema):
        invoice = _irish_invoice()
        invoice_pay_start(invoice=invoice, method_ref="pm_card_ie")
        payment = Payment.objects.get(invoice=invoice)
        assert payment.card_country == "IE"
        location = invoice_tax_record(invoice=invoice)["location"]
    assert location["card_countries"] == ["IE"]
    assert location["consistent"] and location["pieces"] == 3

    connection.set_schema_to_public()
    page = tenant_a.client(tenant_a.owner).get(f"/console/invoices/{invoice.public_id}/")
    html = page.content.decode()
    assert page.status_code == 200 and 'id="tax-record"' in html
    assert "3 pieces agree" in html and "card IE" in html


def test_a_card_from_elsewhere_is_shown_as_conflicting_evidence(shop, tenant_a):
    with schema_context(shop.schema):
        invoice = _irish_invoice()
        invoice_pay_start(invoice=invoice, method_ref="pm_card_us")
        location = invoice_tax_record(invoice=invoice)["location"]
    assert location["card_countries"] == ["US"] and not location["consistent"]
    connection.set_schema_to_public()
    html = tenant_a.client(tenant_a.owner).get(f"/console/invoices/{invoice.public_id}/")
    assert "The pieces name different countries" in html.content.decode()


def test_a_card_that_pays_after_3d_secure_reports_its_country_too(shop, stripe_server):
    """The intent is confirmed in the browser; the country comes from the retrieved
    intent's expanded charge when the return page settles it."""
    with schema_context(shop.schema):
        invoice = _irish_invoice()
        attempt = invoice_pay_start(
            invoice=invoice, method_ref="pm_card_threeDSecure2Required"
        ).attempt
    stripe_server.complete_3ds(attempt.intent_ref)
    assert shop.browser().get(f"/payments/return/{attempt.public_id}/").status_code == 302
    with schema_context(shop.schema):
        assert Payment.objects.get(invoice=invoice).card_country == "US"


def test_a_bank_transfer_has_no_card_country(shop):
    with schema_context(shop.schema):
        invoice = _irish_invoice()
        services.payment_record(
            invoice=invoice,
            amount=invoice.amount_due,
            method=Payment.Method.BANK_TRANSFER,
            idempotency_key="bank-1",
        )
        location = invoice_tax_record(invoice=invoice)["location"]
    assert location["card_countries"] == [] and location["pieces"] == 2
