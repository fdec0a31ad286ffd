"""Resale ↔ provisioning: an accepted reseller order becomes a panel account, and the
outcome flows back to the upstream service (activation, or failure with a refund)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from provisioning.models import PlanMapping, ProvisionedService, ProvisioningJob
from provisioning.services import provisioning_job_run
from resale.models import UpstreamService
from resale.provisioning_bridge import upstream_service_provision, upstream_service_sso_url
from resale.services import (
    ResaleError,
    reseller_balance,
    reseller_balance_topup,
    upstream_command_accept,
)
from tests.provisioning.factories import simulated_group
from tests.resale.factories import account_on, wholesale_catalogue

pytestmark = pytest.mark.django_db
State = ProvisioningJob.State


@pytest.fixture
def reports(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """What resale would tell the reseller's installation (a task in its schema)."""
    sent: list[tuple] = []
    monkeypatch.setattr(
        "resale.hooks.report", lambda service, action, ok, error: sent.append((action, ok, error))
    )
    return sent


@pytest.fixture
def account(tenant_a):
    account = account_on(tenant_a.tenant, wholesale_catalogue()["price_list"])
    reseller_balance_topup(account=account, amount="100", reference="x", idempotency_key="t")
    return account


@pytest.fixture
def group(redis_namespace: str):
    return simulated_group(redis_namespace)


def order(account, key: str = "o1", plan: str = "web-s", domain: str = "shop.example"):
    response = upstream_command_accept(
        account=account,
        idempotency_key=key,
        action="create",
        payload={"plan": plan, "cycle": "monthly", "client_ref": "c-77", "domain": domain},
    ).response
    return UpstreamService.objects.get(public_id=response["service_ref"])


def command(account, service, action: str, key: str, **payload):
    return upstream_command_accept(
        account=account,
        idempotency_key=key,
        action=action,
        payload={"service_ref": service.public_id, **payload},
    )


def run_all(django_capture_on_commit_callbacks) -> None:
    """Runs every unfinished job in order, as a worker would, reports included."""
    for job in ProvisioningJob.objects.exclude(state__in=[State.SUCCEEDED, State.FAILED]).order_by(
        "pk"
    ):
        with django_capture_on_commit_callbacks(execute=True):
            provisioning_job_run(job_id=job.pk)


def test_order_is_provisioned_and_activated(
    account, group, reports, django_capture_on_commit_callbacks
) -> None:
    PlanMapping.objects.create(
        plan_code="web-s", group=group, package="web-small", options={"disk_gb": 5}
    )
    service = order(account)
    job = upstream_service_provision(service=service, action="create")
    provisioned = job.service
    assert provisioned.client_ref == "c-77" and provisioned.domain == "shop.example"
    assert (provisioned.package, provisioned.options) == ("web-small", {"disk_gb": 5})
    assert upstream_service_provision(service=service, action="create") == job  # once
    run_all(django_capture_on_commit_callbacks)
    service.refresh_from_db()
    provisioned.refresh_from_db()
    assert service.status == UpstreamService.Status.ACTIVE and service.next_due_date
    assert service.provisioned_service_id == provisioned.pk
    assert provisioned.status == ProvisionedService.Status.ACTIVE
    assert reports == [("create", True, "")]
    assert upstream_service_sso_url(service=service).startswith("https://")


def test_username_is_stable_per_upstream_service(account, group) -> None:
    service = order(account)
    first = upstream_service_provision(service=service, action="create").service.username
    ProvisionedService.objects.all().delete()
    assert upstream_service_provision(service=service, action="create").service.username == first


def test_plan_without_mapping_uses_a_group_of_its_module(
    account, group, reports, django_capture_on_commit_callbacks
) -> None:
    service = order(account)  # web-s: module "simulated", package "web-s"
    provisioned = upstream_service_provision(service=service, action="create").service
    assert provisioned.group == group and provisioned.package == "web-s"
    run_all(django_capture_on_commit_callbacks)
    assert reports == [("create", True, "")]


def test_failed_create_fails_the_service_and_refunds(
    account, reports, django_capture_on_commit_callbacks
) -> None:
    before = reseller_balance(account=account)
    service = order(account)
    upstream_service_provision(service=service, action="create")  # no group runs "simulated"
    run_all(django_capture_on_commit_callbacks)
    service.refresh_from_db()
    assert service.status == UpstreamService.Status.FAILED
    assert "No server group" in service.last_error
    assert reseller_balance(account=account) == before
    assert reports[0][:2] == ("create", False)


def test_lifecycle_commands_drive_the_panel(
    account, group, reports, redis_namespace, django_capture_on_commit_callbacks
) -> None:
    PlanMapping.objects.create(plan_code="web-m", group=group, package="web-medium")
    service = order(account)
    upstream_service_provision(service=service, action="create")
    run_all(django_capture_on_commit_callbacks)
    provisioned = ProvisionedService.objects.get(upstream_service_id=service.pk)

    command(account, service, "suspend", "s1")
    service.refresh_from_db()
    job = upstream_service_provision(service=service, action="suspend")
    assert job.params == {"upstream_action": "suspend", "reason": "Suspended by the reseller"}
    run_all(django_capture_on_commit_callbacks)
    provisioned.refresh_from_db()
    assert provisioned.status == ProvisionedService.Status.SUSPENDED

    command(account, service, "unsuspend", "u1")
    upstream_service_provision(service=service, action="unsuspend")
    command(account, service, "change_plan", "c1", plan="web-m")
    service.refresh_from_db()
    change = upstream_service_provision(service=service, action="change_plan")
    assert change.params == {"package": "web-medium", "upstream_action": "change_plan"}
    run_all(django_capture_on_commit_callbacks)
    provisioned.refresh_from_db()
    assert provisioned.status == ProvisionedService.Status.ACTIVE
    assert provisioned.package == "web-medium"

    assert upstream_service_provision(service=service, action="renew") is None
    command(account, service, "terminate", "t1")
    upstream_service_provision(service=service, action="terminate")
    run_all(django_capture_on_commit_callbacks)
    provisioned.refresh_from_db()
    assert provisioned.status == ProvisionedService.Status.TERMINATED
    assert [r[:2] for r in reports] == [
        ("create", True),
        ("suspend", True),
        ("unsuspend", True),
        ("change_plan", True),
        ("terminate", True),
    ]
    assert upstream_service_provision(service=service, action="suspend") is None


@pytest.fixture
def never_provisioned(monkeypatch: pytest.MonkeyPatch) -> None:
    """Upstream services whose panel job was never made (accepted before a server group
    for their plan existed, say)."""
    monkeypatch.setattr("resale.hooks.provision", lambda service, action: None)


def test_terminate_of_a_service_never_provisioned(
    account, reports, django_capture_on_commit_callbacks, never_provisioned
) -> None:
    service = order(account)
    with django_capture_on_commit_callbacks(execute=True):
        assert upstream_service_provision(service=service, action="terminate") is None
    assert reports == [("terminate", True, "")]


def test_sso_without_an_account(account, never_provisioned) -> None:
    service = order(account)
    with pytest.raises(ResaleError, match="no control panel account"):
        upstream_service_sso_url(service=service)


def test_sso_when_the_panel_is_down(
    account, group, django_capture_on_commit_callbacks, reports
) -> None:
    service = order(account)
    upstream_service_provision(service=service, action="create")
    run_all(django_capture_on_commit_callbacks)
    group.servers.update(extra={"redis_url": "redis://127.0.0.1:1/0"})
    with pytest.raises(ResaleError) as caught:
        upstream_service_sso_url(service=service)
    assert caught.value.code == "panel_unavailable"
    assert reseller_balance(account=account).amount == Decimal("97.50")
