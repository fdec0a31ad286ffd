"""Domains resold end to end, through a real Celery worker and the simulated registry: a
client buys a domain with hosting in one cart and pays; the provider registers it under
the registrar's contact handle and debits the reseller the wholesale price; a transfer
in completes once the registry approves it; the billing run's paid renewal renews it at
the registry, whose new expiry comes back; an unpaid domain expires into redemption."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from billing import services
from billing.billing_run import billing_run
from billing.models import Invoice, Service
from resale.domains import upstream_domains_relay, upstream_domains_sync
from resale.models import (
    BalanceEntry,
    RegistrantHandle,
    ResoldDomain,
    UpstreamCommand,
    UpstreamDomain,
)
from resale.services import reseller_balance
from tests.resale.domain_flow import (
    REGISTER,
    TRANSFER,
    domain_world,
    local_service,
    order_and_pay_items,
    registry_clock_forward,
    transfer_ordered,
    upstream_domain,
)
from tests.resale.flow import wait_for

pytestmark = pytest.mark.worker


def _resold(dworld, service) -> ResoldDomain | None:
    with schema_context(dworld.schema):
        return ResoldDomain.objects.filter(service_ref=str(service.public_id)).first()


def test_domain_and_hosting_in_one_cart(tenant_factory, celery_worker_process):
    with domain_world(tenant_factory) as dworld:
        name = f"maria-shop.{dworld.tld}"
        before = reseller_balance(account=dworld.world.account).amount
        hosting, domain = order_and_pay_items(
            dworld,
            key="order-1",
            items=[
                {"plan": dworld.world.plan, "cycle": "monthly", "domain_name": name},
                {"plan": dworld.domain_plan, "cycle": "biennial", "domain_name": name},
            ],
        )
        wait_for(
            lambda: local_service(dworld, domain).status == "active",
            what="the domain's activation",
            describe=lambda: upstream_domain(dworld, domain),
        )
        wait_for(lambda: local_service(dworld, hosting).status == "active", what="hosting")

        row = upstream_domain(dworld, domain)
        assert row.status == UpstreamDomain.Status.ACTIVE and row.domain == name
        handle = RegistrantHandle.objects.get(account=dworld.world.account)
        assert row.registrant_handle == handle.handle and handle.handle.startswith("SIM-")
        with dworld.registry() as registry:
            info = registry.info(name)
        assert info.registrant == handle.handle
        assert info.expires_on == date.today() + timedelta(days=730)
        # Two years of the domain at wholesale, and the hosting plan's 2.50.
        debits = BalanceEntry.objects.filter(upstream_domain=row)
        assert [e.amount_value for e in debits] == [-REGISTER * 2]
        assert reseller_balance(account=dworld.world.account).amount == (
            before - REGISTER * 2 - Decimal("2.50")
        )
        # The registry's expiry is the tenant's: on its record and as the due date.
        wait_for(lambda: _resold(dworld, domain) is not None, what="the tenant's record")
        assert _resold(dworld, domain).expires_on == info.expires_on
        assert local_service(dworld, domain).next_due_date == info.expires_on
        with schema_context(dworld.schema):
            command = UpstreamCommand.objects.get(service_ref=str(domain.public_id))
            assert command.state == "done" and "contact" not in command.payload


def test_transfer_in_completes_after_the_registry_approves(tenant_factory, celery_worker_process):
    with domain_world(tenant_factory) as dworld:
        name = f"moving.{dworld.tld}"
        service = transfer_ordered(dworld, name, key="order-t")
        row = upstream_domain(dworld, service)
        assert row.auth_code_encrypted == ""  # the registry has it; we keep no copy
        assert local_service(dworld, service).status == "pending"
        # The periodic relay asks the registry again; the registry approved meanwhile.
        upstream_domains_relay(now=row.next_attempt_at + timedelta(seconds=1))
        wait_for(lambda: local_service(dworld, service).status == "active", what="activation")
        row.refresh_from_db()
        assert row.status == UpstreamDomain.Status.ACTIVE
        with dworld.registry() as registry:
            assert registry.info(name).registrant == row.registrant_handle
        assert [e.amount_value for e in BalanceEntry.objects.filter(upstream_domain=row)] == [
            -TRANSFER
        ]


def test_billing_run_renews_at_the_registry(tenant_factory, celery_worker_process):
    with domain_world(tenant_factory) as dworld:
        name = f"renewing.{dworld.tld}"
        (service,) = order_and_pay_items(
            dworld,
            key="order-r",
            items=[{"plan": dworld.domain_plan, "cycle": "annual", "domain_name": name}],
        )
        wait_for(lambda: local_service(dworld, service).status == "active", what="activation")
        wait_for(lambda: _resold(dworld, service) is not None, what="the tenant's record")
        expiry = upstream_domain(dworld, service).expires_on
        wait_for(lambda: local_service(dworld, service).next_due_date == expiry, what="due date")

        with schema_context(dworld.schema):
            billing_run(run_date=expiry)
            renewal = Invoice.objects.filter(
                lines__service_id=service.pk, lines__period_start=expiry
            ).get()
            services.payment_record(
                invoice=renewal,
                amount=renewal.amount_due,
                method="bank_transfer",
                idempotency_key="pay-renewal",
            )
        new_expiry = expiry + timedelta(days=365)
        wait_for(
            lambda: upstream_domain(dworld, service).expires_on == new_expiry,
            what="the renewal at the registry",
        )
        with dworld.registry() as registry:
            assert registry.info(name).expires_on == new_expiry
        wait_for(
            lambda: local_service(dworld, service).next_due_date == new_expiry,
            what="the registry's expiry back at the reseller",
        )
        assert _resold(dworld, service).expires_on == new_expiry
        row = upstream_domain(dworld, service)
        kinds = sorted(
            (e.kind, e.amount_value) for e in BalanceEntry.objects.filter(upstream_domain=row)
        )
        assert kinds == [("order_debit", -REGISTER), ("renewal_debit", Decimal("-9.00"))]


def test_unpaid_domain_expires_into_redemption(tenant_factory, celery_worker_process):
    with domain_world(tenant_factory) as dworld:
        name = f"forgotten.{dworld.tld}"
        (service,) = order_and_pay_items(
            dworld,
            key="order-u",
            items=[{"plan": dworld.domain_plan, "cycle": "annual", "domain_name": name}],
        )
        wait_for(lambda: local_service(dworld, service).status == "active", what="activation")
        row = upstream_domain(dworld, service)
        with schema_context(dworld.schema):
            billing_run(run_date=row.expires_on)
            assert Invoice.objects.filter(
                lines__service_id=service.pk, status__in=Invoice.OPEN_STATUSES
            ).exists()
        # Nobody pays; the registry's calendar passes the expiry date.
        registry_clock_forward(dworld, name, date.today() - timedelta(days=1))
        upstream_domains_sync()
        row.refresh_from_db()
        assert row.status == UpstreamDomain.Status.REDEMPTION
        wait_for(
            lambda: (_resold(dworld, service) or ResoldDomain()).status == "redemption",
            what="redemption reported to the reseller",
        )
        # Nothing was renewed, so nothing more was debited.
        assert BalanceEntry.objects.filter(upstream_domain=row).count() == 1
        with schema_context(dworld.schema):
            assert not UpstreamCommand.objects.filter(action="domain_renew").exists()
            assert Service.objects.get(pk=service.pk).status == "active"
