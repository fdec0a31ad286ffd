"""A transfer in ordered with a wrong auth code, through a real Celery worker and the local
EPP registry (frames checked against the RFC schemas): the registry answers 2202
"Invalid authorization information"; the reseller's debit for it is reversed by a refund
in its ledger, so nothing stays debited; the client, reading Italian, is told why on the
domain's page and sends a new code there, which transfers the domain on the order it
already paid (one debit in all, no new invoice)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from billing import services
from billing.models import Invoice
from resale.api import resale_credential_issue
from resale.domains import upstream_domains_relay
from resale.models import BalanceEntry, UpstreamCommand, UpstreamDomain
from resale.outbox import upstream_command_check
from resale.services import reseller_balance
from tests.resale.domain_flow import (
    TRANSFER,
    DomainWorld,
    domain_world,
    local_service,
    order_and_pay_items,
)
from tests.resale.flow import wait_for

pytestmark = pytest.mark.worker


def _transfer_commands(dworld: DomainWorld) -> list[UpstreamCommand]:
    with schema_context(dworld.schema):
        found = list(UpstreamCommand.objects.filter(action="domain_transfer").order_by("pk"))
    connection.set_schema_to_public()
    return found


def _as_if_the_push_was_lost(dworld: DomainWorld, command: UpstreamCommand) -> None:
    """The command back to sent with nothing known of how it ended, then the relay's
    check asks the upstream, as it does when no result arrives."""
    with schema_context(dworld.schema):
        UpstreamCommand.objects.filter(pk=command.pk).update(
            state=UpstreamCommand.State.SENT, response={}, last_error="", completed_at=None
        )
        upstream_command_check(command_id=command.pk)
    connection.set_schema_to_public()


def _italian_client_browser(dworld: DomainWorld) -> Client:
    browser = Client(HTTP_HOST=dworld.host)
    with schema_context(dworld.schema):
        services.client_update(client=dworld.client, language="it")
        user = User.objects.create_user(
            "maria.bianchi@client.test", "Pass-word-123", kind=User.Kind.CLIENT
        )
        services.client_user_link(client=dworld.client, user=user)
        browser.force_login(user)
    connection.set_schema_to_public()
    return browser


def test_a_refused_auth_code_is_refunded_and_the_client_retries_in_italian(
    tenant_factory, celery_worker_process, registry
):
    server, tld = registry
    with domain_world(tenant_factory, "Transfer Refused", epp=server, tld=tld) as dworld:
        name = f"trasloco.{tld}"
        right_code = server.seed_domain(name, auth_code="Right-Code-2468")
        before = reseller_balance(account=dworld.world.account).amount
        (service,) = order_and_pay_items(
            dworld,
            key="refused-1",
            items=[
                {
                    "plan": dworld.domain_plan,
                    "cycle": "annual",
                    "domain_name": name,
                    "domain_action": "transfer",
                    "auth_code": "Wrong-Code-1357",
                }
            ],
        )
        wait_for(
            lambda: [c.state for c in _transfer_commands(dworld)] == ["failed"],
            what="the registry's refusal",
            describe=lambda: [(c.state, c.last_error) for c in _transfer_commands(dworld)],
        )
        (refused,) = _transfer_commands(dworld)
        assert refused.response["error_code"] == "auth_code_refused"
        assert "2202" in refused.last_error and "Wrong-Code" not in refused.last_error
        # The registry still has the domain at the other registrar, nothing pending.
        assert server.domain(name)["sponsor"] == "otherreg"
        assert server.domain(name)["transfer"] is None or (
            server.domain(name)["transfer"]["status"] != "pending"
        )

        # The reseller's debit is reversed by a refund in its ledger: nothing debited.
        row = UpstreamDomain.objects.get(public_id=refused.upstream_ref)
        assert row.status == UpstreamDomain.Status.FAILED and row.auth_code_encrypted == ""
        entries = [
            (e.kind, e.amount_value)
            for e in BalanceEntry.objects.filter(upstream_domain=row).order_by("pk")
        ]
        assert entries == [("order_debit", -TRANSFER), ("refund", TRANSFER)]
        assert reseller_balance(account=dworld.world.account).amount == before

        # Why, as a code, also for an installation that asks rather than hears: the
        # resale API's answer for the domain (what a remote installation polls) has it,
        # and a reseller whose push was lost learns it by asking.
        assert row.failure_code == "auth_code_refused"
        _, token = resale_credential_issue(account=dworld.world.account, name="remote")
        answer = Client(
            HTTP_HOST=settings.PLATFORM_DOMAIN, HTTP_AUTHORIZATION=f"Bearer {token}"
        ).get(f"/api/resale/v1/services/{row.public_id}/")
        assert answer.status_code == 200
        assert answer.json()["status"] == "failed"
        assert answer.json()["error_code"] == "auth_code_refused"
        _as_if_the_push_was_lost(dworld, refused)
        (asked,) = _transfer_commands(dworld)
        assert asked.state == "failed" and asked.response["error_code"] == "auth_code_refused"

        # The client reads why, in Italian, with a way to send a new code.
        browser = _italian_client_browser(dworld)
        page_url = f"/account/services/{service.public_id}/domain/"
        page = browser.get(page_url).content.decode()
        assert "Il registro ha rifiutato il codice di autorizzazione" in page
        assert 'id="transfer-refused"' in page and "Trasferisci di nuovo" in page
        assert local_service(dworld, service).status == "pending"

        # A code that cannot be one: a clear message, nothing sent.
        response = browser.post(f"{page_url}transfer/", {"auth_code": "abc"}, follow=True)
        assert any(
            "Digita il codice di autorizzazione" in str(m) for m in response.context["messages"]
        )
        assert len(_transfer_commands(dworld)) == 1

        # The right code: the transfer goes again on the paid order.
        sent = browser.post(f"{page_url}transfer/", {"auth_code": right_code}, follow=True)
        assert any("di nuovo" in str(m) for m in sent.context["messages"])
        wait_for(
            lambda: UpstreamDomain.objects.filter(
                domain=name, status=UpstreamDomain.Status.PENDING_TRANSFER
            ).exists(),
            what="the second transfer request",
            describe=lambda: [(c.state, c.last_error) for c in _transfer_commands(dworld)],
        )
        assert server.domain(name)["transfer"]["status"] == "pending"
        server.approve_transfer(name)
        pending = UpstreamDomain.objects.get(domain=name, status="pending_transfer")
        upstream_domains_relay(now=pending.next_attempt_at + timedelta(seconds=1))
        wait_for(lambda: local_service(dworld, service).status == "active", what="the transfer")
        assert server.domain(name)["sponsor"] == "tessera"
        assert 'id="transfer-refused"' not in browser.get(page_url).content.decode()

        # One transfer debited in all; the client paid one invoice and got no other.
        assert reseller_balance(account=dworld.world.account).amount == before - TRANSFER
        with schema_context(dworld.schema):
            assert Invoice.objects.filter(client=dworld.client).count() == 1
            assert Invoice.objects.get(client=dworld.client).amount_due.amount == 0
        connection.set_schema_to_public()
