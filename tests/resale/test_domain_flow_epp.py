"""Domains resold end to end through a real Celery worker and the local EPP registry: the
provider's registrar account points at ``sandbox.epp`` over TLS, so every command the
domain flow sends is an EPP frame the registry checks against the RFC schemas. A client
buys a domain with hosting and pays: the registry holds it under the registrar's contact
handle and the reseller is debited the wholesale price; a transfer in completes once the
registry approves it; the billing run's paid renewal comes back with the registry's new
expiry; an unpaid domain expires into redemption. No frame sent was invalid."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from billing import services
from billing.billing_run import billing_run
from billing.models import Invoice
from resale.domains import upstream_domains_relay, upstream_domains_sync
from resale.models import BalanceEntry, RegistrantHandle, UpstreamDomain
from resale.services import reseller_balance
from sandbox.epp.server import EppServer
from tests.resale.domain_flow import (
    REGISTER,
    TRANSFER,
    DomainWorld,
    domain_world,
    local_service,
    order_and_pay_items,
    transfer_ordered,
    upstream_domain,
)
from tests.resale.flow import wait_for

pytestmark = pytest.mark.worker


@contextmanager
def epp_domain_world(tenant_factory) -> Iterator[tuple[DomainWorld, EppServer]]:
    """The domain world of the simulated-registry tests, with its registrar account
    pointed at a local EPP registry that serves the world's TLD."""
    with domain_world(tenant_factory) as dworld, EppServer(tlds=(dworld.tld,)) as registry:
        fields = registry.registrar_account_fields()
        account = dworld.registrar_account
        account.secret = fields.pop("password")
        for name, value in fields.items():
            setattr(account, name, value)
        account.save()
        yield dworld, registry
        assert registry.invalid_frames == []
        assert registry.reply_errors == []


def _a_year_later(day: date) -> date:
    return day.replace(year=day.year + 1)


def test_register_with_hosting_at_the_epp_registry(tenant_factory, celery_worker_process):
    with epp_domain_world(tenant_factory) as (dworld, registry):
        name = f"rossi-web.{dworld.tld}"
        before = reseller_balance(account=dworld.world.account).amount
        hosting, domain = order_and_pay_items(
            dworld,
            key="epp-order-1",
            items=[
                {"plan": dworld.world.plan, "cycle": "monthly", "domain_name": name},
                {"plan": dworld.domain_plan, "cycle": "annual", "domain_name": name},
            ],
        )
        wait_for(
            lambda: local_service(dworld, domain).status == "active",
            what="the domain's activation",
            describe=lambda: {
                k: v
                for k, v in vars(upstream_domain(dworld, domain)).items()
                if not k.startswith("_")
            },
        )
        wait_for(lambda: local_service(dworld, hosting).status == "active", what="hosting")
        row = upstream_domain(dworld, domain)
        handle = RegistrantHandle.objects.get(account=dworld.world.account).handle
        state = registry.domain(name)
        # The registry holds the domain for the provider, under the pseudonymous handle.
        assert (
            state["sponsor"] == "tessera" and state["registrant"] == handle == row.registrant_handle
        )
        assert handle in registry.contact_ids()
        assert row.expires_on == state["expires"].date() == _a_year_later(date.today())
        assert [e.amount_value for e in BalanceEntry.objects.filter(upstream_domain=row)] == [
            -REGISTER
        ]
        assert reseller_balance(account=dworld.world.account).amount == (
            before - REGISTER - Decimal("2.50")
        )


def test_transfer_in_completes_after_the_epp_registry_approves(
    tenant_factory, celery_worker_process
):
    with epp_domain_world(tenant_factory) as (dworld, registry):
        name = f"arriving.{dworld.tld}"
        registry.seed_domain(name, auth_code="Auth-Code-9876")
        service = transfer_ordered(dworld, name, key="epp-order-t")
        assert registry.domain(name)["transfer"]["status"] == "pending"
        assert local_service(dworld, service).status == "pending"
        registry.approve_transfer(name)
        row = upstream_domain(dworld, service)
        upstream_domains_relay(now=row.next_attempt_at + timedelta(seconds=1))
        wait_for(lambda: local_service(dworld, service).status == "active", what="activation")
        row.refresh_from_db()
        assert row.status == UpstreamDomain.Status.ACTIVE
        assert registry.domain(name)["sponsor"] == "tessera"
        assert row.expires_on == registry.domain(name)["expires"].date()
        assert [e.amount_value for e in BalanceEntry.objects.filter(upstream_domain=row)] == [
            -TRANSFER
        ]


def test_billing_run_renews_at_the_epp_registry(tenant_factory, celery_worker_process):
    with epp_domain_world(tenant_factory) as (dworld, registry):
        name = f"staying.{dworld.tld}"
        (service,) = order_and_pay_items(
            dworld,
            key="epp-order-r",
            items=[{"plan": dworld.domain_plan, "cycle": "annual", "domain_name": name}],
        )
        wait_for(lambda: local_service(dworld, service).status == "active", what="activation")
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
                idempotency_key="epp-pay-renewal",
            )
        # The registry's own new expiry (a calendar year on) is what comes back.
        new_expiry = _a_year_later(expiry)
        wait_for(
            lambda: upstream_domain(dworld, service).expires_on == new_expiry,
            what="the renewal at the registry",
            describe=lambda: registry.domain(name),
        )
        assert registry.domain(name)["expires"].date() == new_expiry
        wait_for(
            lambda: local_service(dworld, service).next_due_date == new_expiry,
            what="the registry's expiry back at the reseller",
        )


def test_unpaid_domain_expires_into_redemption_at_the_epp_registry(
    tenant_factory, celery_worker_process
):
    with epp_domain_world(tenant_factory) as (dworld, registry):
        name = f"lapsing.{dworld.tld}"
        (service,) = order_and_pay_items(
            dworld,
            key="epp-order-u",
            items=[{"plan": dworld.domain_plan, "cycle": "annual", "domain_name": name}],
        )
        wait_for(lambda: local_service(dworld, service).status == "active", what="activation")
        row = upstream_domain(dworld, service)
        # Nobody renews; the registry's calendar passes the expiry date.
        registry.expire(name)
        upstream_domains_sync()
        row.refresh_from_db()
        assert row.status == UpstreamDomain.Status.REDEMPTION
        assert registry.domain(name)["rgp"] == "redemptionPeriod"
        assert BalanceEntry.objects.filter(upstream_domain=row).count() == 1
