"""A domain restored from redemption, end to end through a real Celery worker and the local
EPP registry (every frame checked against the RFC schemas, rgp-1.0 included): a domain
left unpaid expires into redemption; the client restores it from its domain page and is
invoiced the restore price and the year the restore brings (asking twice bills once,
nothing is sent before it pays), while the lapsed renewal invoice is credited and can no
longer be paid; paying sends the restore, the provider debits the reseller the wholesale
restore and a year's renewal once, the registry takes the RFC 3915 restore request and
then its report, and the domain is active again one year past its lapsed expiry, at the
provider and the reseller, never renewed a second time.
Staff restoring from the console invoice the client too and send the restore at once."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from billing import services
from billing.billing_run import billing_run
from billing.errors import BillingError
from billing.models import CreditNote, Invoice, InvoiceLine, Payment
from billing.money import Money
from billing.selectors import client_credit
from core.locale import money_format
from resale.domains import upstream_domains_sync
from resale.models import BalanceEntry, ResoldDomain, UpstreamCommand, UpstreamDomain
from resale.services import reseller_balance
from sandbox.epp.server import EppServer
from tests.conftest import ROOT
from tests.portals.live import fits_the_screen, language_cookies, screenshot_saver, wsgi_server
from tests.resale.domain_flow import (
    REGISTER,
    RENEW,
    RESTORE,
    DomainWorld,
    domain_world,
    local_service,
    order_and_pay_items,
    upstream_domain,
)
from tests.resale.flow import wait_for

pytestmark = pytest.mark.worker


def _resold(dworld: DomainWorld, service) -> ResoldDomain:
    with schema_context(dworld.schema):
        found = ResoldDomain.objects.filter(service_ref=str(service.public_id)).first()
    connection.set_schema_to_public()
    return found or ResoldDomain()


def _restores(dworld: DomainWorld) -> list[UpstreamCommand]:
    with schema_context(dworld.schema):
        found = list(UpstreamCommand.objects.filter(action="domain_restore"))
    connection.set_schema_to_public()
    return found


def _year_later(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def _lapsed_renewal(dworld: DomainWorld, service) -> Invoice:
    """The renewal invoice the billing run issued before the expiry, left unpaid."""
    with schema_context(dworld.schema):
        (line,) = InvoiceLine.objects.filter(service=service, kind=InvoiceLine.Kind.RENEWAL)
        invoice = line.invoice
    connection.set_schema_to_public()
    return invoice


def _into_redemption(dworld: DomainWorld, server: EppServer, name: str, key: str):
    """A domain bought, then left unpaid past its expiry: in redemption at the registry
    and at the reseller."""
    (service,) = order_and_pay_items(
        dworld,
        key=key,
        items=[{"plan": dworld.domain_plan, "cycle": "annual", "domain_name": name}],
    )
    wait_for(lambda: local_service(dworld, service).status == "active", what="activation")
    row = upstream_domain(dworld, service)
    with schema_context(dworld.schema):
        billing_run(run_date=row.expires_on)
    connection.set_schema_to_public()
    server.expire(name)
    upstream_domains_sync()
    row.refresh_from_db()
    assert row.status == UpstreamDomain.Status.REDEMPTION
    assert server.domain(name)["rgp"] == "redemptionPeriod"
    wait_for(
        lambda: _resold(dworld, service).status == "redemption",
        what="redemption reported to the reseller",
    )
    return service, row


def _client_browser(dworld: DomainWorld) -> Client:
    browser = Client(HTTP_HOST=dworld.host)
    with schema_context(dworld.schema):
        user = User.objects.create_user(
            "maria.restore@client.test", "Pass-word-123", kind=User.Kind.CLIENT
        )
        services.client_user_link(client=dworld.client, user=user)
        browser.force_login(user)
    connection.set_schema_to_public()
    return browser


def test_the_client_restores_a_domain_from_redemption_at_the_epp_registry(
    tenant_factory, celery_worker_process, registry
):
    server, tld = registry
    with domain_world(tenant_factory, "Restore Hosting", epp=server, tld=tld) as dworld:
        name = f"ritorno.{tld}"
        service, row = _into_redemption(dworld, server, name, "restore-1")
        lapsed_on = server.domain(name)["expires"].date()
        before = reseller_balance(account=dworld.world.account).amount
        lapsed = _lapsed_renewal(dworld, service)
        assert lapsed.status in Invoice.OPEN_STATUSES
        with schema_context(dworld.schema):
            prices = dworld.domain_plan.domain_price
            restore_price, year_price = prices.restore, prices.renew
        connection.set_schema_to_public()

        browser = _client_browser(dworld)
        page_url = f"/account/services/{service.public_id}/domain/"
        page = browser.get(page_url).content.decode()
        assert 'id="restore"' in page and "redemption period" in page
        restored = browser.post(f"{page_url}restore/")
        assert restored.status_code == 302 and "/account/invoices/" in restored["Location"]
        # Asked twice: the same invoice, billed once; nothing sent before it is paid.
        assert browser.post(f"{page_url}restore/")["Location"] == restored["Location"]
        with schema_context(dworld.schema):
            # The restore fee and the year the restore brings, two lines of one invoice.
            lines = list(
                InvoiceLine.objects.filter(kind=InvoiceLine.Kind.DOMAIN_RESTORE).order_by(
                    "position", "pk"
                )
            )
            assert [(ln.service_id, ln.unit_price) for ln in lines] == [
                (service.pk, restore_price),
                (service.pk, year_price),
            ]
            (invoice,) = {ln.invoice for ln in lines}
            assert invoice.status == Invoice.Status.ISSUED and name in lines[0].description
            # The button said what the invoice asks for: its total, tax included.
            assert invoice.tax_total_amount > 0
            assert f"Restore for {money_format(invoice.total)}" in page
            assert "Tax included." in page
            assert name in lines[1].description

            # The lapsed renewal is credited in full: nothing due, and it cannot be paid.
            lapsed.refresh_from_db()
            assert lapsed.status == Invoice.Status.CANCELLED and lapsed.amount_due.amount == 0
            (note,) = CreditNote.objects.filter(invoice=lapsed)
            assert note.total_amount == lapsed.total_amount and invoice.number in note.reason
            with pytest.raises(BillingError):
                services.payment_record(
                    invoice=lapsed,
                    amount=lapsed.total,
                    method="bank_transfer",
                    idempotency_key="pay-lapsed-renewal",
                )
        connection.set_schema_to_public()
        assert browser.get(restored["Location"]).status_code == 200
        assert _restores(dworld) == []
        assert reseller_balance(account=dworld.world.account).amount == before

        # Paid: the restore reaches the registry (request, then the report).
        with schema_context(dworld.schema):
            services.payment_record(
                invoice=invoice,
                amount=invoice.amount_due,
                method="bank_transfer",
                idempotency_key="pay-restore",
            )
        connection.set_schema_to_public()
        wait_for(
            lambda: _resold(dworld, service).status == "active",
            what="the restore at the registry",
            describe=lambda: [(c.state, c.last_error) for c in _restores(dworld)],
        )
        state = server.domain(name)
        assert state["rgp"] == "" and "pendingDelete" not in state["statuses"]
        assert state["sponsor"] == "tessera"
        new_expiry = state["expires"].date()
        # One year past the lapsed expiry: the year of the restore, and only that one.
        assert new_expiry == _year_later(lapsed_on)
        row.refresh_from_db()
        assert row.status == UpstreamDomain.Status.ACTIVE and row.expires_on == new_expiry
        assert _resold(dworld, service).expires_on == new_expiry
        wait_for(
            lambda: local_service(dworld, service).next_due_date == new_expiry,
            what="the registry's expiry as the due date",
        )
        (command,) = _restores(dworld)
        assert command.state == "done"

        # The reseller paid the wholesale restore and its year once, beside the registration.
        assert [
            (e.kind, e.amount_value)
            for e in BalanceEntry.objects.filter(upstream_domain=row).order_by("pk")
        ] == [("order_debit", -REGISTER), ("order_debit", -(RESTORE + RENEW))]
        assert reseller_balance(account=dworld.world.account).amount == before - RESTORE - RENEW
        # The client paid the restore invoice once and nothing on the lapsed renewal; no
        # renewal went to the registry.
        with schema_context(dworld.schema):
            paid = list(Payment.objects.filter(client=dworld.client).values_list("invoice_id"))
            assert (lapsed.pk,) not in paid and paid.count((invoice.pk,)) == 1
            invoice.refresh_from_db()
            assert invoice.status == Invoice.Status.PAID
            renewals = UpstreamCommand.objects.filter(action="domain_renew")
            assert not renewals.exists()
        connection.set_schema_to_public()

        # Active again: nothing left to restore.
        page = browser.get(page_url).content.decode()
        assert 'id="restore"' not in page
        refused = browser.post(f"{page_url}restore/", follow=True)
        assert any("redemption" in str(m) for m in refused.context["messages"])


def test_staff_restore_invoices_the_client_and_sends_it_at_once(
    tenant_factory, celery_worker_process, registry
):
    server, tld = registry
    with domain_world(tenant_factory, "Staff Restore", epp=server, tld=tld) as dworld:
        name = f"salvato.{tld}"
        service, row = _into_redemption(dworld, server, name, "restore-2")
        lapsed = _lapsed_renewal(dworld, service)
        with schema_context(dworld.schema):
            # The client had paid a part of the lapsed renewal: it is not lost.
            services.payment_record(
                invoice=lapsed,
                amount=Money(Decimal("1.00"), lapsed.currency),
                method="bank_transfer",
                idempotency_key="pay-part-of-lapsed",
            )
        connection.set_schema_to_public()
        console = Client(HTTP_HOST=dworld.host)
        with schema_context(dworld.schema):
            console.force_login(User.objects.get(kind=User.Kind.STAFF, role=User.Role.OWNER))
        connection.set_schema_to_public()
        done = console.post(
            f"/console/registered-domains/{service.public_id}/restore/", follow=True
        )
        assert any("The client is invoiced" in str(m) for m in done.context["messages"])
        wait_for(
            lambda: _resold(dworld, service).status == "active",
            what="the restore at the registry",
            describe=lambda: [(c.state, c.last_error) for c in _restores(dworld)],
        )
        assert server.domain(name)["rgp"] == ""
        with schema_context(dworld.schema):
            (invoice,) = Invoice.objects.filter(
                lines__kind=InvoiceLine.Kind.DOMAIN_RESTORE
            ).distinct()
            assert invoice.status == Invoice.Status.ISSUED
            # The client pays later: the same restore is not sent twice.
            services.payment_record(
                invoice=invoice,
                amount=invoice.amount_due,
                method="bank_transfer",
                idempotency_key="pay-staff-restore",
            )
        connection.set_schema_to_public()
        assert len(_restores(dworld)) == 1
        with schema_context(dworld.schema):
            # Credited: nothing left due on it, and what was paid is the client's credit.
            lapsed.refresh_from_db()
            assert lapsed.amount_due.amount == 0 and lapsed.credited_amount > 0
            assert CreditNote.objects.filter(invoice=lapsed).count() == 1
            assert client_credit(client=dworld.client).amount == Decimal("1.00")
        connection.set_schema_to_public()
        debits = BalanceEntry.objects.filter(upstream_domain=row).order_by("pk")
        assert [e.amount_value for e in debits] == [-REGISTER, -(RESTORE + RENEW)]


def test_the_restore_on_a_phone_in_italian(
    tenant_factory, celery_worker_process, registry, monkeypatch
):
    """The redemption notice says the price includes the year and the unpaid renewal is
    cancelled; the restore invoice shows its two lines; both fit a phone's width."""
    from playwright import sync_api

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium is not None, "the browser tests need Debian's chromium"
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    save = screenshot_saver(ROOT / "artifacts" / "portals" / "domain-restore-it")
    server, tld = registry
    with domain_world(tenant_factory, "Ripristino Hosting", epp=server, tld=tld) as dworld:
        name = f"telefono.{tld}"
        service, _row = _into_redemption(dworld, server, name, "restore-3")
        session = _client_browser(dworld).cookies["sessionid"].value
        with wsgi_server() as port, sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            context = browser.new_context(
                viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
            )
            context.add_cookies(
                [
                    *language_cookies(dworld.host, "it"),
                    {"name": "sessionid", "value": session, "domain": dworld.host, "path": "/"},
                ]
            )
            page = context.new_page()
            page.goto(f"http://{dworld.host}:{port}/account/services/{service.public_id}/domain/")
            assert "Il prezzo include un anno di rinnovo" in page.content()
            assert fits_the_screen(page)
            save(page, "01-domain-in-redemption")
            page.locator("#restore button").click()
            page.wait_for_load_state()
            assert "/account/invoices/" in page.url
            # Its two lines, in the invoice's language (the client's).
            with schema_context(dworld.schema):
                described = list(
                    InvoiceLine.objects.filter(service=service, kind="domain_restore")
                    .order_by("position", "pk")
                    .values_list("description", flat=True)
                )
            connection.set_schema_to_public()
            assert len(described) == 2
            assert all(text in page.content() for text in described)
            assert fits_the_screen(page)
            save(page, "02-restore-invoice")
            browser.close()
