"""The client area of tenant A: what a client sees and does, and what it cannot reach."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django_tenants.utils import schema_context

from accounts.models import PrivacyRequest
from billing import services
from billing.models import Contact, Invoice, Service
from billing.selectors import client_credit
from billing.services._common import today
from tests.portals.conftest import eur

pytestmark = pytest.mark.django_db

PAGES = [
    "/account/",
    "/account/services/",
    "/account/invoices/",
    "/account/payment-methods/",
    "/account/profile/",
    "/account/privacy/",
]


def _active_service(shop, plan=None, **fields) -> Service:
    service = services.service_create(
        client=shop.client, plan=plan or shop.starter, cycle="monthly", status="active", **fields
    )
    return service


def _invoice(shop) -> Invoice:
    invoice = services.invoice_create(client=shop.client)
    services.invoice_line_add(invoice=invoice, description="Consulting", unit_price=eur(50))
    return services.invoice_issue(invoice=invoice)


@pytest.mark.parametrize("path", PAGES)
def test_pages_render_for_the_client(tenant_a, shop_a, path):
    response = tenant_a.client(tenant_a.client_user).get(path)
    assert response.status_code == 200


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_the_login(tenant_a, path):
    response = tenant_a.client().get(path)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("path", PAGES)
def test_staff_are_sent_to_the_console(tenant_a, path):
    response = tenant_a.client(tenant_a.owner).get(path)
    assert response.status_code == 302 and response["Location"] == "/console/"


def test_client_user_without_a_client_is_told_so(tenant_b):
    response = tenant_b.client(tenant_b.client_user).get("/account/")
    assert response.status_code == 403
    assert "not linked to a client" in response.content.decode()


def test_dashboard_shows_services_and_open_invoices(tenant_a, shop_a):
    with schema_context(tenant_a.schema):
        _active_service(shop_a, domain_name="rossi.example")
        invoice = _invoice(shop_a)
    page = tenant_a.client(tenant_a.client_user).get("/account/").content.decode()
    assert "rossi.example" in page and invoice.number in page and "€61.00" in page


def test_other_clients_and_other_tenants_objects_are_404(tenant_a, tenant_b, shop_a, shop_b):
    with schema_context(tenant_a.schema):
        stranger = services.client_create(name="Other Client", email="other@example.test")
        foreign_invoice = services.invoice_create(client=stranger)
        services.invoice_line_add(invoice=foreign_invoice, description="X", unit_price=eur(5))
        foreign_invoice = services.invoice_issue(invoice=foreign_invoice)
        foreign_service = services.service_create(client=stranger, plan=shop_a.pro, cycle="monthly")
    with schema_context(tenant_b.schema):
        b_invoice = _invoice(shop_b)
        b_service = _active_service(shop_b)
    browser = tenant_a.client(tenant_a.client_user)
    for invoice in (foreign_invoice, b_invoice):
        for suffix in ("", "pdf/", "pay/"):
            assert browser.get(f"/account/invoices/{invoice.public_id}/{suffix}").status_code == 404
    for service in (foreign_service, b_service):
        for suffix in ("", "upgrade/", "cancel/"):
            assert browser.get(f"/account/services/{service.public_id}/{suffix}").status_code == 404
        assert browser.post(f"/account/services/{service.public_id}/panel/").status_code == 404


def test_invoice_page_pdf_and_pay(tenant_a, shop_a):
    with schema_context(tenant_a.schema):
        invoice = _invoice(shop_a)
    browser = tenant_a.client(tenant_a.client_user)
    page = browser.get(f"/account/invoices/{invoice.public_id}/").content.decode()
    assert invoice.number in page and "Consulting" in page and "€61.00" in page
    pay = browser.get(f"/account/invoices/{invoice.public_id}/pay/").content.decode()
    assert "IT60X0542811101000000123456" in pay and "RF" in pay
    pending = browser.get(f"/account/invoices/{invoice.public_id}/pdf/")
    assert pending.status_code == 202 and 'http-equiv="refresh"' in pending.content.decode()
    with schema_context(tenant_a.schema):
        from billing.documents import document_settings_get, template_hash

        invoice = Invoice.objects.get(pk=invoice.pk)
        invoice.pdf_file.save("test.pdf", ContentFile(b"%PDF-1.7 test"), save=False)
        invoice.pdf_template_hash = template_hash("invoice", document_settings_get())
        invoice.save(update_fields=["pdf_file", "pdf_template_hash"])
    pdf = browser.get(f"/account/invoices/{invoice.public_id}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")


def test_upgrade_invoices_the_difference(tenant_a, shop_a):
    with schema_context(tenant_a.schema):
        start = today() - timedelta(days=10)
        service = _active_service(shop_a, registration_date=start)
    browser = tenant_a.client(tenant_a.client_user)
    page = browser.get(f"/account/services/{service.public_id}/upgrade/").content.decode()
    assert "Pro" in page and "€30.00" in page
    response = browser.post(
        f"/account/services/{service.public_id}/upgrade/", {"plan": str(shop_a.pro.public_id)}
    )
    assert response.status_code == 302 and "/account/invoices/" in response["Location"]
    with schema_context(tenant_a.schema):
        service.refresh_from_db()
        assert service.plan_id == shop_a.pro.pk
    wrong = browser.post(f"/account/services/{service.public_id}/upgrade/", {"plan": "nope"})
    assert wrong.status_code == 400


def test_options_upgrade_and_downgrade_from_the_upgrade_page(tenant_a, shop_a):
    with schema_context(tenant_a.schema):
        service = _active_service(shop_a, registration_date=today() - timedelta(days=10))
    browser = tenant_a.client(tenant_a.client_user)
    url = f"/account/services/{service.public_id}/upgrade/"
    page = browser.get(url).content.decode()
    assert "Extra IP address" in page and f'name="quantity-{shop_a.extra_ip.pk}"' in page
    response = browser.post(url, {"action": "options", f"quantity-{shop_a.extra_ip.pk}": "2"})
    assert response.status_code == 302 and "/account/invoices/" in response["Location"]
    with schema_context(tenant_a.schema):
        service.refresh_from_db()
        assert service.options.get().quantity == 2
        assert service.recurring_amount == Decimal("14.00")
    bad = browser.post(url, {"action": "options", f"quantity-{shop_a.extra_ip.pk}": "lots"})
    assert bad.status_code == 400
    too_many = browser.post(url, {"action": "options", f"quantity-{shop_a.extra_ip.pk}": "9"})
    assert too_many.status_code == 400
    response = browser.post(url, {"action": "options", f"quantity-{shop_a.extra_ip.pk}": "0"})
    assert response.status_code == 302 and response["Location"].endswith(
        f"/account/services/{service.public_id}/"
    )
    with schema_context(tenant_a.schema):
        service.refresh_from_db()
        assert not service.options.exists() and service.recurring_amount == Decimal("10.00")
        assert client_credit(client=shop_a.client).amount > 0


def test_cancel_at_period_end_and_now(tenant_a, shop_a):
    with schema_context(tenant_a.schema):
        later = _active_service(shop_a)
        now = _active_service(shop_a)
    browser = tenant_a.client(tenant_a.client_user)
    form = browser.get(f"/account/services/{later.public_id}/cancel/")
    assert form.status_code == 200
    assert browser.post(f"/account/services/{later.public_id}/cancel/", {}).status_code == 400
    browser.post(f"/account/services/{later.public_id}/cancel/", {"when": "end", "reason": "x"})
    browser.post(f"/account/services/{now.public_id}/cancel/", {"when": "now"})
    with schema_context(tenant_a.schema):
        later.refresh_from_db()
        now.refresh_from_db()
    assert later.status == "active" and later.cancel_at_period_end
    assert now.status == "cancelled"


def test_control_panel_of_a_service_that_is_not_resold(tenant_a, shop_a):
    with schema_context(tenant_a.schema):
        service = _active_service(shop_a)
    browser = tenant_a.client(tenant_a.client_user)
    response = browser.post(f"/account/services/{service.public_id}/panel/", follow=True)
    assert "no control panel" in response.content.decode()


def test_control_panel_of_a_resold_service_asks_upstream_for_a_one_time_url(
    tenant_a, shop_a, monkeypatch, settings
):
    from resale import upstreams
    from resale.models import UpstreamCommand

    with schema_context(tenant_a.schema):
        plan = services.plan_create(
            product=shop_a.starter.product,
            name="Resold",
            prices={"monthly": eur(9)},
            upstream_plan_ref="web-s",
        )
        service = _active_service(shop_a, plan=plan)
        UpstreamCommand.objects.create(
            action="create",
            service_ref=str(service.public_id),
            idempotency_key=f"create:{service.public_id}",
            state="done",
            upstream_ref="up-123",
        )
    asked = []

    def sso_url(self, *, service_ref, client_ip=""):
        asked.append((service_ref, client_ip))
        return "https://panel.example/login?token=one-time"

    monkeypatch.setattr(upstreams.LocalUpstream, "sso_url", sso_url)
    browser = tenant_a.client(tenant_a.client_user)
    panel = f"/account/services/{service.public_id}/panel/"
    response = browser.post(panel, REMOTE_ADDR="203.0.113.50")
    assert response.status_code == 302
    assert response["Location"] == "https://panel.example/login?token=one-time"
    # The panel's login is made for the client's own address (Plesk binds it)...
    assert asked == [("up-123", "203.0.113.50")]
    # ...which a visitor cannot forge without proxies of ours in front...
    browser.post(panel, REMOTE_ADDR="203.0.113.50", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert asked[-1] == ("up-123", "203.0.113.50")
    # ...and which, behind our proxy, is the address the proxy saw.
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    browser.post(panel, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert asked[-1] == ("up-123", "198.51.100.1")


def test_a_panel_without_login_by_link_gets_a_password_shown_once(
    tenant_a, tenant_b, shop_a, shop_b, monkeypatch
):
    from resale import upstreams
    from resale.models import UpstreamCommand

    with schema_context(tenant_a.schema):
        plan = services.plan_create(
            product=shop_a.starter.product,
            name="Resold VPS",
            prices={"monthly": eur(9)},
            upstream_plan_ref="vps-1",
        )
        service = _active_service(shop_a, plan=plan)
        UpstreamCommand.objects.create(
            action="create",
            service_ref=str(service.public_id),
            idempotency_key=f"create:{service.public_id}",
            state="done",
            upstream_ref="up-vps",
        )
    answers = iter(
        [
            {
                "url": "https://pve.example:8006/",
                "login": "u1a2b3c4@pve",
                "password": "S3cret-Once!",
            },
            upstreams.UpstreamRejected("opens by link", "login_by_link"),
        ]
    )

    def panel_login_reset(self, *, service_ref):
        assert service_ref == "up-vps"
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(upstreams.LocalUpstream, "panel_login_reset", panel_login_reset)
    browser = tenant_a.client(tenant_a.client_user)
    url = f"/account/services/{service.public_id}/panel/login/"
    assert browser.get(url).status_code == 405
    shown = browser.post(url)
    assert shown.status_code == 200 and shown["Cache-Control"] == "no-store"
    page = shown.content.decode()
    assert "u1a2b3c4@pve" in page and "S3cret-Once!" in page and "https://pve.example:8006/" in page
    # A panel that logs in by its link has no password: the client is told to use the link.
    refused = browser.post(url, follow=True)
    assert "Open control panel" in refused.content.decode()
    assert "signs you in directly" in refused.content.decode()
    # Staff are not clients, and another tenant's client finds no such service.
    assert tenant_a.client(tenant_a.owner).post(url)["Location"] == "/console/"
    assert tenant_b.client(tenant_b.client_user).post(url).status_code == 404


def test_profile_contacts_and_language(tenant_a, shop_a):
    browser = tenant_a.client(tenant_a.client_user)
    bad = browser.post(
        "/account/profile/",
        {"action": "profile", "name": "", "email": "x", "country": "Italy", "language": "it"},
    )
    assert bad.status_code == 400 and "errorlist" in bad.content.decode()
    saved = browser.post(
        "/account/profile/",
        {
            "action": "profile",
            "name": "Mario Rossi",
            "email": "mario@example.test",
            "city": "Torino",
            "country": "it",
            "language": "it",
        },
    )
    assert saved.status_code == 302 and saved.cookies["django_language"].value == "it"
    browser.post(
        "/account/profile/",
        {
            "action": "contact",
            "name": "Anna",
            "email": "anna@example.test",
            "receives_invoices": "on",
        },
    )
    with schema_context(tenant_a.schema):
        shop_a.client.refresh_from_db()
        assert shop_a.client.city == "Torino" and shop_a.client.language == "it"
        contact = Contact.objects.get(client=shop_a.client)
        assert contact.receives_invoices
    browser.post("/account/profile/", {"action": "contact_remove", "contact": contact.pk})
    with schema_context(tenant_a.schema):
        assert not Contact.objects.filter(client=shop_a.client).exists()


def test_privacy_requests_are_recorded_once(tenant_a, shop_a):
    browser = tenant_a.client(tenant_a.client_user)
    for _ in range(2):
        browser.post("/account/privacy/", {"kind": "export"})
    browser.post("/account/privacy/", {"kind": "erasure"})
    with schema_context(tenant_a.schema):
        requests = PrivacyRequest.objects.filter(client=shop_a.client)
        kinds = sorted(requests.values_list("kind", flat=True))
    assert kinds == ["erasure", "export"]
    page = browser.get("/account/privacy/").content.decode()
    assert "Data export" in page and "Received" in page
    refused = browser.post("/account/privacy/", {"kind": "everything"}, follow=True)
    assert "Unknown kind of request" in refused.content.decode()
