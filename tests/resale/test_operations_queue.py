"""The provider's operations queue with everything real behind it (a Celery worker, the
simulated panel): an order whose panel job fails (injected) shows in the queue with its
reason; the provider's retry debits it again, runs the job and sends the reseller's own
failed command again, so the client's service goes active; cancelling an order refunds
what was paid, once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from billing.models import Service
from provisioning.models import ProvisioningJob
from resale.models import BalanceEntry, UpstreamCommand, UpstreamService, WholesalePlan
from resale.services import reseller_balance
from tenants.models import Domain
from tests.resale.flow import order_and_pay, resale_world_build, service_status, wait_for

pytestmark = pytest.mark.worker


def _provider() -> Client:
    browser = Client(HTTP_HOST=settings.PLATFORM_DOMAIN)
    browser.force_login(User.objects.get(email="admin@platform.test"))
    return browser


def _command(world, service: Service) -> UpstreamCommand:
    with schema_context(world.schema):
        return UpstreamCommand.objects.get(service_ref=str(service.public_id), action="create")


def test_a_failed_order_is_retried_to_completion_and_refunded_once(
    tenant_factory, celery_worker_factory
):
    # Every panel call fails, and a job gives up after its first attempt.
    celery_worker_factory(PROVISIONING_JOB_MAX_ATTEMPTS="1")
    world = resale_world_build(tenant_factory("Ops Hosting"), top_up="10.00", failure_rate=1.0)
    service = order_and_pay(world, key="ops-1")

    def failed() -> bool:
        return _command(world, service).state == UpstreamCommand.State.FAILED

    wait_for(failed, timeout=60, what="the reseller's command to fail")
    upstream = UpstreamService.objects.get(account=world.account)
    job = ProvisioningJob.objects.get(service__upstream_service_id=upstream.pk)
    assert upstream.status == UpstreamService.Status.FAILED
    assert reseller_balance(account=world.account).amount == Decimal("10.00")  # refunded

    provider = _provider()
    queue = provider.get("/provider/operations/").content.decode()
    assert str(job.public_id)[:10] in queue
    assert "Gave up after 1 attempts" in queue
    # The reseller's failed command is in the same queue, with the provider's answer.
    assert str(_command(world, service).public_id)[:10] in queue

    world.server.extra = {}
    world.server.save()
    response = provider.post(f"/provider/operations/jobs/{job.public_id}/retry/")
    assert response.status_code == 302
    wait_for(
        lambda: service_status(world, service) == Service.Status.ACTIVE,
        timeout=60,
        what="the client's service to go active after the retry",
    )
    upstream.refresh_from_db()
    assert upstream.status == UpstreamService.Status.ACTIVE
    assert _command(world, service).state == UpstreamCommand.State.DONE
    # Paid again for the run that worked: one debit net of the refund.
    assert reseller_balance(account=world.account).amount == Decimal("7.50")
    assert str(job.public_id)[:10] not in provider.get("/provider/operations/").content.decode()

    # A second order fails; cancelling it gives nothing back twice.
    world.server.extra = {"failure_rate": 1.0}
    world.server.save()
    second = order_and_pay(world, key="ops-2")
    wait_for(
        lambda: _command(world, second).state == UpstreamCommand.State.FAILED,
        timeout=60,
        what="the second command to fail",
    )
    other = UpstreamService.objects.exclude(pk=upstream.pk).get(account=world.account)
    other_job = ProvisioningJob.objects.get(service__upstream_service_id=other.pk)
    cancel = f"/provider/operations/jobs/{other_job.public_id}/cancel/"
    provider.post(cancel, {"reason": "the client changed their mind"})
    provider.post(cancel, {"reason": "again"})
    assert reseller_balance(account=world.account).amount == Decimal("7.50")
    assert other.balance_entries.filter(kind=BalanceEntry.Kind.REFUND).count() == 1
    assert (
        str(other_job.public_id)[:10] not in provider.get("/provider/operations/").content.decode()
    )


def test_a_reseller_command_is_retried_to_completion_and_a_stuck_one_cancelled_once(
    tenant_factory, celery_worker_factory
):
    # Jobs keep trying, so an order whose panel fails stays debited and in flight.
    celery_worker_factory(PROVISIONING_JOB_MAX_ATTEMPTS="1000")
    created = tenant_factory("Queue Hosting")
    world = resale_world_build(created, top_up="10.00")
    # Injected: the provider has withdrawn the plan, so it refuses the reseller's order.
    WholesalePlan.objects.filter(pk=world.wholesale_plan.pk).update(is_active=False)
    service = order_and_pay(world, key="cmd-1")
    wait_for(
        lambda: _command(world, service).state == UpstreamCommand.State.FAILED,
        timeout=60,
        what="the reseller's command to be refused",
    )
    command = _command(world, service)
    provider = _provider()
    queue = provider.get("/provider/operations/").content.decode()
    assert command.public_id[:10] in queue
    assert "is withdrawn and takes no orders" in queue

    WholesalePlan.objects.filter(pk=world.wholesale_plan.pk).update(is_active=True)
    retry = f"/provider/operations/commands/{world.account.public_id}/{command.public_id}/retry/"
    assert provider.post(retry).status_code == 302
    wait_for(
        lambda: service_status(world, service) == Service.Status.ACTIVE,
        timeout=60,
        what="the client's service to go active after the retry",
    )
    assert _command(world, service).state == UpstreamCommand.State.DONE
    assert reseller_balance(account=world.account).amount == Decimal("7.50")

    # A second order is accepted and debited, but the panel fails every attempt.
    world.server.extra = {"failure_rate": 1.0}
    world.server.save()
    second = order_and_pay(world, key="cmd-2")
    wait_for(
        lambda: _command(world, second).state == UpstreamCommand.State.SENT,
        timeout=60,
        what="the second order to be accepted upstream",
    )
    assert reseller_balance(account=world.account).amount == Decimal("5.00")
    stuck = _command(world, second)
    cancel = f"/provider/operations/commands/{world.account.public_id}/{stuck.public_id}/cancel/"

    def cancelled() -> bool:
        # Refused (and nothing changes) while a worker holds the job's attempt.
        provider.post(cancel, {"reason": "server retired"})
        return _command(world, second).state == UpstreamCommand.State.CANCELLED

    wait_for(cancelled, timeout=60, what="the cancellation to go through")
    again = provider.post(cancel, {"reason": "double click"}, follow=True).content.decode()
    assert "already cancelled" in again
    other = UpstreamService.objects.exclude(status=UpstreamService.Status.ACTIVE).get(
        account=world.account
    )
    assert other.status == UpstreamService.Status.FAILED
    assert other.balance_entries.filter(kind=BalanceEntry.Kind.REFUND).count() == 1
    assert reseller_balance(account=world.account).amount == Decimal("7.50")
    job = ProvisioningJob.objects.get(service__upstream_service_id=other.pk)
    assert "cancelled" in job.params

    # The reseller's console shows the cancellation and its reason on the service.
    with schema_context(world.schema):
        owner = User.objects.create_user(
            "queue-owner@reseller.test", "x-long-passphrase", kind=User.Kind.STAFF, role="owner"
        )
        console = Client(HTTP_HOST=Domain.objects.get(tenant=created.tenant).domain)
        console.force_login(owner)
    page = console.get(f"/console/services/{second.public_id}/").content.decode()
    assert "Cancelled by the provider: server retired" in page
