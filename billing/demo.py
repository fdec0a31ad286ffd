"""Demo catalogue, clients, services and invoices for ``manage.py seed_demo``.

Runs in the tenant's schema. Idempotent: a tenant that already has the demo catalogue
is left as it is. Everything is made through the billing services, so the demo data
obeys the same rules (numbering, ledger, taxes) as real data."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from accounts.models import User
from billing import geo, selectors, services
from billing.models import Client, Product, Service
from billing.models.gateway import PaymentSettings
from billing.money import Money
from billing.payments.gateways.config import payment_settings_get, payment_settings_update
from core.crypto import secret_decrypt
from tenants.models import Tenant

DEMO_MARKER_SLUG = "shared-hosting"


def _eur(value: str) -> Money:
    return Money(Decimal(value), "EUR")


@transaction.atomic
def seed(tenant: Tenant) -> None:
    if Product.objects.filter(slug=DEMO_MARKER_SLUG).exists():
        return
    label = tenant.slug or tenant.schema_name
    services.billing_settings_update(
        legal_name=tenant.name,
        address_line1="Via del Corso 1",
        postal_code="00186",
        city="Roma",
        country="IT",
        vat_number="IT00000000000",
        bank_name="Demo Bank",
        iban="IT60X0542811101000000123456",
        bic="DEMOITRRXXX",
        email_from_name=tenant.name,
        email_from_address=f"billing@{label}.test",
        default_language=tenant.default_language or "en",
        # Sells hosting to consumers all over the EU and declares their VAT through the
        # One-Stop Shop; the rates are the maintained ones of billing.vat_rates.
        oss_registered=True,
    )
    settings = selectors.billing_settings_get()

    hosting_group = services.product_group_create(name="Web hosting")
    shared = services.product_create(
        group=hosting_group, name="Shared hosting", slug=DEMO_MARKER_SLUG, type="shared_hosting"
    )
    starter = services.plan_create(
        product=shared,
        name="Starter",
        prices={"monthly": _eur("3.99"), "annual": _eur("39.90")},
        features=["1 website", "10 GB SSD", "Free SSL"],
        upstream_plan_ref="shared-starter",
        upstream_cycle="monthly",
    )
    services.plan_create(
        product=shared,
        name="Business",
        prices={"monthly": _eur("7.99"), "annual": (_eur("79.90"), _eur("0.00"))},
        features=["Unlimited websites", "50 GB SSD", "Daily backups"],
        upstream_plan_ref="shared-business",
        upstream_cycle="monthly",
    )
    servers = services.product_group_create(name="Servers")
    vps_product = services.product_create(group=servers, name="Cloud VPS", type="vps", stock=50)
    vps = services.plan_create(
        product=vps_product,
        name="VPS 2 GB",
        prices={"monthly": (_eur("12.00"), _eur("5.00")), "annual": _eur("120.00")},
        upstream_plan_ref="vps-2g",
        upstream_cycle="monthly",
    )
    services.configurable_option_create(
        name="Extra RAM",
        choices={
            "+2 GB": {"monthly": _eur("4.00"), "annual": _eur("40.00")},
            "+4 GB": {"monthly": _eur("7.00"), "annual": _eur("70.00")},
        },
        plans=[vps],
    )
    domains = services.product_group_create(name="Domains")
    domain_product = services.product_create(group=domains, name="Domain .com", type="domain")
    dot_com = services.plan_create(
        product=domain_product, name=".com", prices={"annual": _eur("12.99")}
    )
    services.coupon_create(code="WELCOME10", kind="percent", value="10")

    mario = services.client_create(
        name="Mario Rossi",
        email="mario.rossi@example.com",
        address_line1="Via Torino 12",
        postal_code="20123",
        city="Milano",
        country="IT",
        language="it",
    )
    weber = services.client_create(
        name="Hans Weber",
        kind=Client.Kind.COMPANY,
        company_name="Weber Webdesign GmbH",
        email="hans@weber-webdesign.example",
        address_line1="Hauptstraße 5",
        postal_code="10115",
        city="Berlin",
        country="DE",
        vat_number="DE136695976",
        language="en",
    )
    # VIES (the local stand-in under `make run`) confirms Weber's number: a business.
    services.client_vat_number_verify(client=weber, settings=settings)
    jane = services.client_create(
        name="Jane Doe",
        email="jane.doe@example.com",
        address_line1="12 Grafton Street",
        postal_code="D02 Y006",
        city="Dublin",
        country="IE",
        language="en",
    )

    client_user = User.objects.filter(kind=User.Kind.CLIENT).order_by("pk").first()
    if client_user is not None and not hasattr(client_user, "client_link"):
        services.client_user_link(client=mario, user=client_user)

    # Mario: hosting and a domain, paid, active.
    cart = services.cart_create(client=mario)
    services.cart_item_add(cart=cart, plan=starter, cycle="annual")
    services.cart_item_add(cart=cart, plan=dot_com, cycle="annual", domain_name="rossi-demo.com")
    order = services.checkout_place(cart=cart, client=mario)
    services.payment_record(
        invoice=order.invoice,
        amount=order.invoice.amount_due,
        method="bank_transfer",
        idempotency_key=f"demo-{order.public_id}",
    )
    for service in Service.objects.filter(order_item__order=order):
        services.service_activate(service=service)

    # Weber: a VPS, reverse charged, invoice still open; plus a corrected invoice.
    cart = services.cart_create(client=weber)
    services.cart_item_add(cart=cart, plan=vps, cycle="monthly")
    order = services.checkout_place(cart=cart, client=weber)
    services.service_activate(service=order.items.get().services.get())
    extra = services.invoice_create(client=weber)
    services.invoice_line_add(
        invoice=extra, description="Migration assistance", unit_price=_eur("50")
    )
    extra = services.invoice_issue(invoice=extra)
    services.credit_note_issue(
        invoice=extra,
        reason="Goodwill: half of the migration",
        lines=[services.CreditLine(invoice_line=extra.lines.get(), amount=_eur("25"))],
    )
    # Jane, a consumer in Ireland: hosting is an electronically supplied service, taxed
    # where she lives, at the Irish rate, declared through the OSS.
    cart = services.cart_create(client=jane)
    services.cart_item_add(cart=cart, plan=starter, cycle="monthly")
    services.checkout_place(
        cart=cart,
        client=jane,
        location_evidence=geo.location_evidence(billing_country="IE", ip_address="87.198.0.1"),
    )
    services.credit_add(
        client=mario,
        amount=_eur("10"),
        idempotency_key=f"demo-goodwill-{mario.public_id}",
        description="Welcome credit",
    )


SANDBOX_KEY_PREFIX = "sk_test_sandbox_"


def card_payments_seed(*, sandbox_key: str | None, label: str) -> None:
    """Card payments of a demo tenant on its account at the local Stripe stand-in
    (``sandbox.launcher``), when ``make run`` started one and the tenant has none set up.
    Without the stand-in, a demo tenant still holding a stand-in's key goes back to no
    card payments: that key opens nothing on the real Stripe."""
    row = payment_settings_get()
    current = secret_decrypt(row.stripe_secret_key_encrypted)
    on_sandbox = current.startswith(SANDBOX_KEY_PREFIX)
    if sandbox_key:
        if row.stripe_mode == PaymentSettings.StripeMode.DISABLED or (
            on_sandbox and current != sandbox_key
        ):
            payment_settings_update(
                stripe_mode=PaymentSettings.StripeMode.OWN_KEYS,
                stripe_secret_key=sandbox_key,
                stripe_webhook_secret=f"whsec_sandbox_{label}",
            )
    elif on_sandbox:
        payment_settings_update(
            stripe_mode=PaymentSettings.StripeMode.DISABLED,
            stripe_secret_key="",
            stripe_webhook_secret="",
        )
