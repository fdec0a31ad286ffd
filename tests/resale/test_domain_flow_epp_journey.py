"""The domain flow as one client's journey against the local EPP registry (TLS, RFC 5730-5734 frames
validated against the RFC schemas by the registry), through a real Celery worker: a
client buys a domain with hosting in one cart and pays; the registry holds it under the
registrar's pseudonymous contact handle and the reseller is debited the wholesale price;
the billing run's paid renewal moves the registry's expiry, which comes back; a transfer
in completes once the losing side approves; a domain left unpaid expires into
redemption. No frame the code sent was refused by the schemas."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from billing import services
from billing.billing_run import billing_run
from billing.models import Invoice
from resale.domains import upstream_domains_relay, upstream_domains_sync
from resale.models import BalanceEntry, RegistrantHandle, ResoldDomain, UpstreamDomain
from resale.services import reseller_balance
from tests.resale.domain_flow import (
    REGISTER,
    TRANSFER,
    domain_world,
    local_service,
    order_and_pay_items,
    upstream_domain,
)
from tests.resale.flow import wait_for

pytestmark = pytest.mark.worker


def _resold(dworld, service) -> ResoldDomain | None:
    with schema_context(dworld.schema):
        return ResoldDomain.objects.filter(service_ref=str(service.public_id)).first()


def test_domains_through_the_epp_registry(tenant_factory, celery_worker_process, registry):
    server, tld = registry
    with domain_world(tenant_factory, "EPP Hosting", epp=server, tld=tld) as dworld:
        name = f"maria-shop.{tld}"
        before = reseller_balance(account=dworld.world.account).amount
        hosting, domain = order_and_pay_items(
            dworld,
            key="epp-1",
            items=[
                {"plan": dworld.world.plan, "cycle": "monthly", "domain_name": name},
                {"plan": dworld.domain_plan, "cycle": "annual", "domain_name": name},
            ],
        )
        wait_for(
            lambda: local_service(dworld, domain).status == "active",
            what="the registration at the EPP registry",
            describe=lambda: upstream_domain(dworld, domain),
        )
        handle = RegistrantHandle.objects.get(account=dworld.world.account).handle
        state = server.domain(name)
        assert state["registrant"] == handle and state["sponsor"] == "tessera"
        assert handle in server.contact_ids()
        row = upstream_domain(dworld, domain)
        assert row.registrant_handle == handle
        assert row.expires_on == state["expires"].date()
        wait_for(lambda: local_service(dworld, hosting).status == "active", what="hosting")
        assert reseller_balance(account=dworld.world.account).amount == (
            before - REGISTER - Decimal("2.50")
        )

        # The billing run's paid renewal: the registry's new expiry comes back.
        expiry = row.expires_on
        wait_for(lambda: local_service(dworld, domain).next_due_date == expiry, what="due date")
        with schema_context(dworld.schema):
            billing_run(run_date=expiry)
            renewal = Invoice.objects.filter(
                lines__service_id=domain.pk, lines__period_start=expiry
            ).get()
            services.payment_record(
                invoice=renewal,
                amount=renewal.amount_due,
                method="bank_transfer",
                idempotency_key="epp-renewal",
            )
        wait_for(
            lambda: server.domain(name)["expires"].date() > expiry,
            what="the renewal at the registry",
        )
        new_expiry = server.domain(name)["expires"].date()
        wait_for(
            lambda: local_service(dworld, domain).next_due_date == new_expiry,
            what="the registry's expiry back at the reseller",
        )

        # A transfer in: pending until the losing registrar approves.
        moving = f"moving.{tld}"
        code = server.seed_domain(moving, auth_code="Other-Code-123")
        (transfer,) = order_and_pay_items(
            dworld,
            key="epp-t",
            items=[
                {
                    "plan": dworld.domain_plan,
                    "cycle": "annual",
                    "domain_name": moving,
                    "domain_action": "transfer",
                    "auth_code": code,
                }
            ],
        )
        wait_for(
            lambda: (
                (upstream_domain(dworld, transfer) or UpstreamDomain()).status
                == UpstreamDomain.Status.PENDING_TRANSFER
            ),
            what="the transfer request",
        )
        assert server.domain(moving)["transfer"]["status"] == "pending"
        server.approve_transfer(moving)
        pending = upstream_domain(dworld, transfer)
        upstream_domains_relay(now=pending.next_attempt_at + timedelta(seconds=1))
        wait_for(lambda: local_service(dworld, transfer).status == "active", what="transfer")
        assert server.domain(moving)["sponsor"] == "tessera"
        assert server.domain(moving)["registrant"] == handle
        transferred = upstream_domain(dworld, transfer)
        assert [
            e.amount_value for e in BalanceEntry.objects.filter(upstream_domain=transferred)
        ] == [-TRANSFER]

        # Left unpaid: the registry's expiry passes, the domain is in redemption.
        server.expire(moving)
        upstream_domains_sync()
        transferred.refresh_from_db()
        assert transferred.status == UpstreamDomain.Status.REDEMPTION
        wait_for(
            lambda: (_resold(dworld, transfer) or ResoldDomain()).status == "redemption",
            what="redemption reported to the reseller",
        )
