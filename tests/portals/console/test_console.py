"""The reseller console of tenant A: who may open and change what, and the money,
service, catalogue, staff and settings actions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django_tenants.utils import schema_context

from accounts.models import User
from billing import services
from billing.models import CreditNote, Invoice, Payment, Plan, PlanPrice, Service, TaxRule
from resale.catalogue_import import Markup
from resale.models import ResellerAccount, UpstreamCommand
from resale.services import reseller_balance_topup
from tests.portals.conftest import eur, staff_member

pytestmark = pytest.mark.django_db

ROLES = ["owner", "admin", "billing", "support", "readonly"]
LIST_PAGES = [
    "/console/",
    "/console/clients/",
    "/console/clients/new/",
    "/console/orders/",
    "/console/services/",
    "/console/invoices/",
    "/console/invoices/new/",
    "/console/catalogue/",
    "/console/catalogue/import/",
    "/console/branding/",
    "/console/domains/",
    "/console/staff/",
    "/console/upstream/",
    "/console/settings/",
    "/console/api-keys/",
    "/console/webhooks/",
    "/console/payments/",
    "/console/balance/",
]
# Page → the capability its POST needs.
WRITES = {
    "/console/clients/new/": "money",
    "/console/invoices/new/": "money",
    "/console/catalogue/import/": "admin",
    "/console/branding/": "admin",
    "/console/domains/": "admin",
    "/console/staff/": "admin",
    "/console/upstream/": "service",
    "/console/settings/": "admin",
    "/console/api-keys/": "admin",
    "/console/webhooks/": "admin",
    "/console/payments/": "admin",
    "/console/balance/": "money",
}
CAN = {
    "money": {"owner", "admin", "billing"},
    "service": {"owner", "admin", "support"},
    "admin": {"owner", "admin"},
}


def _objects(world, shop):
    """An issued invoice, its order-less service and a client of ``world``."""
    with schema_context(world.schema):
        invoice = services.invoice_create(client=shop.client)
        services.invoice_line_add(invoice=invoice, description="Setup work", unit_price=eur(100))
        invoice = services.invoice_issue(invoice=invoice)
        service = services.service_create(
            client=shop.client, plan=shop.starter, cycle="monthly", status="active"
        )
    return invoice, service


@pytest.mark.parametrize("role", ROLES)
def test_every_page_renders_for_every_staff_role(tenant_a, shop_a, role):
    browser = tenant_a.client(staff_member(tenant_a, role))
    invoice, service = _objects(tenant_a, shop_a)
    pages = [
        *LIST_PAGES,
        f"/console/clients/{shop_a.client.public_id}/",
        f"/console/invoices/{invoice.public_id}/",
        f"/console/services/{service.public_id}/",
    ]
    for page in pages:
        assert browser.get(page).status_code == 200, page


@pytest.mark.parametrize("page", LIST_PAGES)
def test_clients_and_strangers_are_sent_to_the_login(tenant_a, shop_a, page):
    for browser in (tenant_a.client(), tenant_a.client(tenant_a.client_user)):
        response = browser.get(page)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("role", ROLES)
def test_writes_need_the_role_capability(tenant_a, shop_a, role):
    browser = tenant_a.client(staff_member(tenant_a, role))
    for page, capability in WRITES.items():
        response = browser.post(page, {})
        if role in CAN[capability]:
            assert response.status_code != 403, (page, role)
        else:
            assert response.status_code == 403, (page, role)


def test_another_tenants_ids_are_404(tenant_a, tenant_b, shop_a, shop_b):
    invoice, service = _objects(tenant_b, shop_b)
    with schema_context(tenant_b.schema):
        cart = services.cart_create(client=shop_b.client)
        services.cart_item_add(cart=cart, plan=shop_b.pro, cycle="monthly")
        order = services.checkout_place(cart=cart, client=shop_b.client)
    browser = tenant_a.client(tenant_a.owner)
    for page in (
        f"/console/clients/{shop_b.client.public_id}/",
        f"/console/invoices/{invoice.public_id}/",
        f"/console/invoices/{invoice.public_id}/pdf/",
        f"/console/services/{service.public_id}/",
        f"/console/orders/{order.public_id}/",
    ):
        assert browser.get(page).status_code == 404, page
        assert browser.post(page, {"action": "suspend"}).status_code == 404, page


def test_dashboard_chart_overdue_and_low_balance(tenant_a, shop_a):
    with schema_context(tenant_a.schema):
        invoice = services.invoice_create(client=shop_a.client)
        services.invoice_line_add(invoice=invoice, description="Old work", unit_price=eur(40))
        from datetime import timedelta

        from billing.services._common import today

        invoice = services.invoice_issue(invoice=invoice, issue_date=today() - timedelta(days=60))
        services.payment_record(
            invoice=invoice, amount=eur("10.00"), method="manual", idempotency_key="p1"
        )
        services.service_create(
            client=shop_a.client, plan=shop_a.starter, cycle="annual", status="active"
        )
    page = tenant_a.client(tenant_a.owner).get("/console/").content.decode()
    assert "<svg" in page and 'role="img"' in page and "<script" not in page.split("<svg")[1]
    assert invoice.number in page  # overdue
    assert "€8.33" in page  # MRR: 100.00 a year
    # The reseller's balance at the provider is 0 and the alert threshold 50.
    assert "balance at the provider is low" in page


def test_a_low_balance_that_still_covers_orders_does_not_say_they_wait(tenant_a):
    """€31 available under a €50 alert: a reminder to top up, not "orders wait", which
    is said only when commands are waiting for funds, with how many."""
    account = ResellerAccount.objects.get(tenant=tenant_a.tenant)
    reseller_balance_topup(
        account=account, amount="31.00", reference="bank", idempotency_key="low-31"
    )
    browser = tenant_a.client(tenant_a.owner)
    for path in ("/console/", "/console/balance/"):
        page = browser.get(path).content.decode()
        assert "balance at the provider is low: €31.00 available" in page, path
        assert "Orders wait until you top up" not in page, path
        assert "wait for funds" not in page, path
    with schema_context(tenant_a.schema):
        for n in range(2):
            UpstreamCommand.objects.create(
                action="create",
                service_ref=f"waiting-{n}",
                idempotency_key=f"waiting-{n}",
                state=UpstreamCommand.State.AWAITING_FUNDS,
            )
    for path in ("/console/", "/console/balance/"):
        page = browser.get(path).content.decode()
        assert "2 commands to the provider wait for funds" in page, path


def test_invoice_issue_payment_and_credit_note(tenant_a, shop_a):
    browser = tenant_a.client(staff_member(tenant_a, "billing"))
    made = browser.post(
        "/console/invoices/new/",
        {
            "client": shop_a.client.pk,
            "description": "Migration of 3 sites",
            "quantity": "3",
            "unit_price": "25,50",
            "issue": "on",
        },
    )
    assert made.status_code == 302
    with schema_context(tenant_a.schema):
        invoice = Invoice.objects.get(lines__description="Migration of 3 sites")
    assert invoice.status == "issued" and str(invoice.total_amount) == "93.3300"
    url = f"/console/invoices/{invoice.public_id}/"
    page = browser.get(url).content.decode()
    assert "Record a payment" in page and "Credit note" in page
    pay = {
        "action": "payment",
        "payment-amount": "50.00",
        "payment-method": "bank_transfer",
        "payment-reference": "BANK-REF-1",
        "payment-token": "t1",
    }
    browser.post(url, pay)
    browser.post(url, {**pay, "payment-token": "t2"})  # the same bank line again
    with schema_context(tenant_a.schema):
        assert Payment.objects.filter(invoice=invoice).count() == 1
    bad = browser.post(url, {**pay, "payment-amount": "lots"})
    assert bad.status_code == 400
    nothing = browser.post(
        url, {"action": "credit_note", "credit-reason": "Goodwill", "credit-token": "c1"}
    )
    assert "at least one line" in nothing.content.decode()
    with schema_context(tenant_a.schema):
        line = invoice.lines.get()
    browser.post(
        url,
        {
            "action": "credit_note",
            "credit-reason": "Goodwill",
            "credit-token": "c2",
            f"credit-line-{line.pk}": "10.00",
        },
    )
    with schema_context(tenant_a.schema):
        note = CreditNote.objects.get(invoice=invoice)
        assert note.total_amount == Decimal("10.00")


def test_readonly_cannot_record_a_payment(tenant_a, shop_a):
    invoice, _service = _objects(tenant_a, shop_a)
    browser = tenant_a.client(tenant_a.readonly)
    response = browser.post(
        f"/console/invoices/{invoice.public_id}/",
        {"action": "payment", "payment-amount": "1", "payment-method": "manual"},
    )
    assert response.status_code == 403
    page = browser.get(f"/console/invoices/{invoice.public_id}/").content.decode()
    assert "Record a payment" not in page


def test_service_actions_by_support_not_billing(tenant_a, shop_a):
    _invoice, service = _objects(tenant_a, shop_a)
    url = f"/console/services/{service.public_id}/"
    assert (
        tenant_a.client(staff_member(tenant_a, "billing"))
        .post(url, {"action": "suspend"})
        .status_code
        == 403
    )
    support = tenant_a.client(staff_member(tenant_a, "support"))
    support.post(url, {"action": "suspend", "reason": "abuse report"})
    with schema_context(tenant_a.schema):
        service.refresh_from_db()
    assert service.status == Service.Status.SUSPENDED
    assert service.suspension_reason == "abuse report"
    support.post(url, {"action": "unsuspend"})
    with schema_context(tenant_a.schema):
        service.refresh_from_db()
    assert service.status == Service.Status.ACTIVE


def test_staff_change_a_services_options(tenant_a, shop_a, tenant_b):
    _invoice, service = _objects(tenant_a, shop_a)
    url = f"/console/services/{service.public_id}/options/"
    field = f"quantity-{shop_a.extra_ip.pk}"
    billing = tenant_a.client(staff_member(tenant_a, "billing"))
    assert billing.post(url, {field: "1"}).status_code == 403
    support = tenant_a.client(staff_member(tenant_a, "support"))
    assert "Extra IP address" in support.get(url).content.decode()
    assert support.post(url, {field: "-1"}).status_code == 400
    response = support.post(url, {field: "3"})
    assert response.status_code == 302
    with schema_context(tenant_a.schema):
        service.refresh_from_db()
        assert service.options.get().quantity == 3
    # Another tenant's staff cannot even see it.
    assert tenant_b.client(tenant_b.owner).get(url).status_code == 404


def test_failed_upstream_command_is_retried(tenant_a, shop_a, django_capture_on_commit_callbacks):
    with schema_context(tenant_a.schema):
        command = UpstreamCommand.objects.create(
            action="suspend",
            service_ref="c9f7f1a2-0000-4000-8000-000000000001",
            idempotency_key="suspend:test",
            state="failed",
            last_error="panel down",
        )
    browser = tenant_a.client(staff_member(tenant_a, "support"))
    page = browser.get("/console/upstream/?state=failed").content.decode()
    assert "panel down" in page and "Retry" in page
    with django_capture_on_commit_callbacks(execute=False):
        browser.post("/console/upstream/", {"command": command.public_id})
    with schema_context(tenant_a.schema):
        command.refresh_from_db()
    assert command.state == "pending" and command.last_error == ""
    assert (
        tenant_a.client(tenant_a.readonly)
        .post("/console/upstream/", {"command": command.public_id})
        .status_code
        == 403
    )


@pytest.mark.parametrize(
    ("markup", "cost", "retail"),
    [
        (Markup("percent", Decimal(30), "none"), "2.50", "3.25"),
        (Markup("percent", Decimal(30), "99"), "2.50", "3.99"),
        (Markup("percent", Decimal(30), "99"), "3.00", "3.99"),
        (Markup("percent", Decimal(50), "99"), "2.66", "3.99"),
        (Markup("percent", Decimal(30), "whole"), "2.50", "4"),
        (Markup("fixed", Decimal(2), "none"), "2.50", "4.50"),
        (Markup("fixed", Decimal(2), "whole"), "4.00", "6"),
        (Markup("fixed", Decimal(2), "99"), "4.00", "6.99"),
        (Markup("percent", Decimal(30), "99"), "0", "0"),
    ],
)
def test_markup_rules(markup, cost, retail):
    assert markup.apply(Decimal(cost), "EUR") == Decimal(retail)


def test_markup_never_rounds_down_nor_gives_cents_to_yen():
    assert Markup("percent", Decimal(10), "99").apply(Decimal(100), "JPY") == Decimal(110)
    assert Markup("percent", Decimal(10), "none").apply(Decimal("1.01"), "EUR") == Decimal("1.12")


def test_catalogue_import_keeps_the_upstream_plan_and_reprices(tenant_a, shop_a):
    from tests.resale.factories import account_on, wholesale_catalogue

    catalogue = wholesale_catalogue(code_prefix="pt-")
    account_on(tenant_a.tenant, catalogue["price_list"])
    browser = tenant_a.client(tenant_a.owner)
    page = browser.get("/console/catalogue/import/").content.decode()
    assert "pt-web-s" in page and "€2.50" in page and "€3.99" in page  # 30 %, .99
    response = browser.post(
        "/console/catalogue/import/",
        {
            "action": "import",
            "plans": ["pt-web-s", "pt-vps-1"],
            "kind": "percent",
            "value": "30",
            "rounding": "99",
        },
    )
    assert response.status_code == 302
    with schema_context(tenant_a.schema):
        web = Plan.objects.get(upstream_plan_ref="pt-web-s")
        assert web.product.type == "shared_hosting"
        prices = {p.cycle: p.price_amount for p in web.prices.all()}
        assert prices == {"monthly": Decimal("3.99"), "annual": Decimal("35.99")}
        assert Plan.objects.get(upstream_plan_ref="pt-vps-1").product.type == "vps"
    browser.post(
        "/console/catalogue/import/",
        {
            "action": "import",
            "plans": ["pt-web-s"],
            "kind": "fixed",
            "value": "1",
            "rounding": "whole",
        },
    )
    with schema_context(tenant_a.schema):
        assert Plan.objects.filter(upstream_plan_ref="pt-web-s").count() == 1
        monthly = PlanPrice.objects.get(plan__upstream_plan_ref="pt-web-s", cycle="monthly")
        assert monthly.price_amount == Decimal("4")
    catalogue_page = browser.get("/console/catalogue/").content.decode()
    assert "pt-web-s" in catalogue_page


def test_catalogue_import_without_a_price_list_says_so(tenant_a, shop_a):
    page = tenant_a.client(tenant_a.owner).get("/console/catalogue/import/").content.decode()
    assert "no price list" in page


def test_settings_and_tax_rules(tenant_a, shop_a):
    browser = tenant_a.client(tenant_a.owner)
    form = {
        "action": "settings",
        "legal_name": "Alpha Hosting S.r.l.",
        "country": "it",
        "invoice_number_format": "A-{year}/{seq:04d}",
        "credit_note_number_format": "NC-{year}/{seq:04d}",
        "number_reset": "yearly",
        "payment_terms_days": "30",
        "renewal_lead_days": "10",
        "grace_days": "5",
        "termination_days": "20",
        "reminder_days": "2, 9",
        "default_language": "it",
    }
    assert browser.post("/console/settings/", form).status_code == 302
    with schema_context(tenant_a.schema):
        from billing.selectors import billing_settings_get

        saved = billing_settings_get()
        assert saved.payment_terms_days == 30 and saved.reminder_days == [2, 9]
        assert saved.invoice_number_format == "A-{year}/{seq:04d}"
    from tenants.models import Tenant

    assert Tenant.objects.get(pk=tenant_a.tenant.pk).default_language == "it"
    bad = browser.post("/console/settings/", {**form, "invoice_number_format": "{year}"})
    assert bad.status_code == 400 and "{seq}" in bad.content.decode()
    browser.post("/console/settings/", {"action": "tax", "tax-country": "fr", "tax-rate": "20"})
    with schema_context(tenant_a.schema):
        assert TaxRule.objects.get(country="FR", is_active=True).rate == Decimal("20")


def test_staff_invitation_and_role_rules(tenant_a, django_capture_on_commit_callbacks):
    owner = tenant_a.client(tenant_a.owner)
    with django_capture_on_commit_callbacks(execute=True):
        owner.post(
            "/console/staff/",
            {"action": "invite", "email": "new@alpha.test", "full_name": "New", "role": "support"},
        )
    assert mail.outbox and mail.outbox[-1].to == ["new@alpha.test"]
    assert f"http://{tenant_a.host}" in mail.outbox[-1].body
    with schema_context(tenant_a.schema):
        invited = User.objects.get(email="new@alpha.test")
        assert invited.kind == "staff" and invited.role == "support"
    admin = tenant_a.client(staff_member(tenant_a, "admin"))
    refused = admin.post(
        "/console/staff/", {"action": "role", "user": invited.pk, "role": "owner"}, follow=True
    )
    assert "Only an owner" in refused.content.decode()
    own = owner.post(
        "/console/staff/",
        {"action": "role", "user": tenant_a.owner.pk, "role": "readonly"},
        follow=True,
    )
    assert "own role" in own.content.decode()
    owner.post("/console/staff/", {"action": "deactivate", "user": invited.pk})
    with schema_context(tenant_a.schema):
        invited.refresh_from_db()
    assert not invited.is_active


def test_data_requests_are_carried_out_by_owners(tenant_a, shop_a):
    import io
    import json
    import zipfile

    from accounts.models import PrivacyRequest

    with schema_context(tenant_a.schema):
        export = PrivacyRequest.objects.create(client=shop_a.client, kind="export")
        PrivacyRequest.objects.create(client=shop_a.client, kind="erasure")
        service = services.service_create(
            client=shop_a.client, plan=shop_a.starter, cycle="monthly", status="active"
        )
    url = f"/console/clients/{shop_a.client.public_id}/"
    billing_staff = tenant_a.client(staff_member(tenant_a, "billing"))
    assert billing_staff.get(url + "export/").status_code == 403
    assert billing_staff.post(url, {"action": "erase"}).status_code == 403

    owner = tenant_a.client(tenant_a.owner)
    archive = owner.get(url + "export/")
    assert archive.status_code == 200 and archive["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as opened:
        assert "mario@example.test" in json.dumps(json.loads(opened.read("client.json")))
    owner.post(url, {"action": "privacy_complete", "request": export.public_id})

    unconfirmed = owner.post(url, {"action": "erase", "confirm": "nope"}, follow=True)
    assert "Type the client" in unconfirmed.content.decode()
    running = owner.post(
        url, {"action": "erase", "confirm": "mario@example.test"}, follow=True
    ).content.decode()
    assert "before erasing" in running
    with schema_context(tenant_a.schema):
        services.service_terminate(service=service)
    owner.post(url, {"action": "erase", "confirm": "mario@example.test"})
    with schema_context(tenant_a.schema):
        shop_a.client.refresh_from_db()
        statuses = set(
            PrivacyRequest.objects.filter(client=shop_a.client).values_list("status", flat=True)
        )
        # A fresh copy: the session-wide fixture object must keep its address.
        login = User.objects.get(pk=tenant_a.client_user.pk)
    assert shop_a.client.email.endswith("@erased.invalid") and shop_a.client.status == "closed"
    assert statuses == {"completed"}
    assert not login.is_active
