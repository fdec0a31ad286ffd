"""The same domain flow as with the EPP registry, with the provider's registrar account on
the CentralNic Reseller API (its official client library against ``sandbox.centralnic_server``,
which refuses any parameter its command reference does not list): register with the
registrant's contact handle and the wholesale debit, a transfer in once approved, the
billing run's renewal with the registrar's new expiry."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
from django_tenants.utils import schema_context

from billing import services
from billing.billing_run import billing_run
from billing.models import Invoice
from resale.domains import upstream_domains_relay
from resale.models import BalanceEntry, RegistrantHandle
from sandbox.centralnic_server import CentralNicServer
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
def centralnic_domain_world(tenant_factory) -> Iterator[tuple[DomainWorld, CentralNicServer]]:
    with (
        domain_world(tenant_factory) as dworld,
        CentralNicServer(tlds=(dworld.tld,)) as api,
    ):
        fields = api.registrar_account_fields()
        account = dworld.registrar_account
        account.secret = fields.pop("password")
        for name, value in fields.items():
            setattr(account, name, value)
        account.save()
        yield dworld, api
        assert api.invalid_requests == []


def test_register_renew_and_transfer_through_the_reseller_api(
    tenant_factory, celery_worker_process
):
    with centralnic_domain_world(tenant_factory) as (dworld, api):
        name = f"bianchi-web.{dworld.tld}"
        (service,) = order_and_pay_items(
            dworld,
            key="cnr-order-1",
            items=[{"plan": dworld.domain_plan, "cycle": "annual", "domain_name": name}],
        )
        wait_for(
            lambda: local_service(dworld, service).status == "active",
            what="the domain's activation",
            describe=lambda: upstream_domain(dworld, service),
        )
        row = upstream_domain(dworld, service)
        handle = RegistrantHandle.objects.get(account=dworld.world.account).handle
        state = api.domain(name)
        assert state["account"] == "tessera-reseller"
        assert state["contacts"]["OWNERCONTACT"] == handle == row.registrant_handle
        assert (
            row.expires_on
            == state["expires"].date()
            == date.today().replace(year=date.today().year + 1)
        )
        assert [e.amount_value for e in BalanceEntry.objects.filter(upstream_domain=row)] == [
            -REGISTER
        ]

        # The billing run's paid renewal renews at the registrar; its expiry comes back.
        expiry = row.expires_on
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
                idempotency_key="cnr-pay-renewal",
            )
        new_expiry = expiry.replace(year=expiry.year + 1)
        wait_for(
            lambda: upstream_domain(dworld, service).expires_on == new_expiry,
            what="the renewal at the registrar",
            describe=lambda: api.domain(name),
        )
        assert api.domain(name)["expires"].date() == new_expiry

        # A transfer in, approved by the losing side's registry.
        arriving = f"arriving.{dworld.tld}"
        api.seed_domain(arriving, auth="Auth-Code-9876")
        moved = transfer_ordered(dworld, arriving, key="cnr-order-t")
        api.approve_transfer(arriving)
        moved_row = upstream_domain(dworld, moved)
        upstream_domains_relay(now=moved_row.next_attempt_at + timedelta(seconds=1))
        wait_for(lambda: local_service(dworld, moved).status == "active", what="activation")
        assert api.domain(arriving)["account"] == "tessera-reseller"
        assert [e.amount_value for e in BalanceEntry.objects.filter(upstream_domain=moved_row)] == [
            -TRANSFER
        ]
