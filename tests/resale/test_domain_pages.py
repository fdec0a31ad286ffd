"""The domain pages: the storefront's search answers from the provider's registrar (free,
taken, premium), the cart takes registrations for the years chosen and transfers with
their auth code, bad input is refused with a clear message and nothing in the cart; the
client area's domain page changes the registry's record (nameservers, lock, glue, DNSSEC,
registrant, auto-renew) and shows a new auth code once, audited; another client gets a
404; the console lists the domains with their expiry and the failed operations."""

from __future__ import annotations

import re
import uuid

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from audit.models import AuditEntry
from billing import services
from billing.models import Cart, CartItem
from core.crypto import secret_decrypt
from resale.models import UpstreamCommand
from tests.resale.domain_flow import (
    domain_world,
    local_service,
    order_and_pay_items,
    upstream_domain,
)
from tests.resale.flow import wait_for

pytestmark = pytest.mark.worker


def _browser(dworld, email: str | None = None, *, staff: bool = False) -> Client:
    browser = Client(HTTP_HOST=dworld.host)
    if email is None:
        return browser
    with schema_context(dworld.schema):
        if staff:
            user = User.objects.get(email=email)
        else:
            user = User.objects.create_user(email, "Pass-word-123", kind=User.Kind.CLIENT)
        browser.force_login(user)
    connection.set_schema_to_public()
    return browser


def _client_browser(dworld, client, email: str) -> Client:
    browser = _browser(dworld, email)
    with schema_context(dworld.schema):
        services.client_user_link(client=client, user=User.objects.get(email=email))
    connection.set_schema_to_public()
    return browser


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_storefront_search_cart_and_bad_input(tenant_factory):
    with domain_world(tenant_factory, "Domain Shop") as dworld:
        tld = dworld.tld
        browser = _browser(dworld)
        page = browser.get("/domains/", {"q": f"gold.{tld}"})
        assert page.status_code == 200
        statuses = {
            row["result"].ascii_domain: row["result"].status for row in page.context["results"]
        }
        assert statuses[f"gold.{tld}"] == "premium"
        page = browser.get("/domains/", {"q": f"taken.{tld}"})
        assert {r["result"].ascii_domain: r["result"].status for r in page.context["results"]} == {
            f"taken.{tld}": "taken"
        }
        assert "transfer it for" in page.content.decode()

        # Premium and taken names never reach the cart.
        for name in (f"gold.{tld}", f"taken.{tld}"):
            browser.post("/domains/add/", {"domain": name})
        # Bad input: a clear message, nothing in the cart.
        for data, message in (
            ({"domain": "not a name!"}, "That is not a domain name."),
            ({"domain": "shop.unsold-tld-xyz"}, "We do not sell that extension."),
        ):
            response = browser.post("/domains/add/", data, follow=True)
            assert message in _messages(response)
        response = browser.post(
            "/domains/transfer/", {"domain": f"moving.{tld}", "auth_code": "abc"}, follow=True
        )
        assert any("auth code" in m for m in _messages(response))
        with schema_context(dworld.schema):
            assert not CartItem.objects.exists()

        # Free: two years in the cart; a transfer with its code, encrypted.
        response = browser.post("/domains/add/", {"domain": f"Bücher.{tld}", "cycle": "biennial"})
        assert response.status_code == 302 and response["Location"].endswith("/cart/")
        browser.post(
            "/domains/transfer/", {"domain": f"moving.{tld}", "auth_code": "Auth-Code-1234"}
        )
        with schema_context(dworld.schema):
            items = {
                i.domain_name: i for i in CartItem.objects.filter(cart__status=Cart.Status.OPEN)
            }
            assert items[f"xn--bcher-kva.{tld}"].cycle == "biennial"
            transfer = items[f"moving.{tld}"]
            assert transfer.domain_action == "transfer" and transfer.cycle == "annual"
            assert "Auth-Code-1234" not in transfer.domain_auth_code_encrypted
            assert secret_decrypt(transfer.domain_auth_code_encrypted) == "Auth-Code-1234"
        connection.set_schema_to_public()
        cart = browser.get("/cart/")
        assert cart.status_code == 200 and "Transfer" in cart.content.decode()


def test_client_area_domain_page(tenant_factory, celery_worker_process):
    with domain_world(tenant_factory, "Domain Area") as dworld:
        name = f"area.{dworld.tld}"
        (service,) = order_and_pay_items(
            dworld,
            key="order-area",
            items=[{"plan": dworld.domain_plan, "cycle": "annual", "domain_name": name}],
        )
        wait_for(lambda: local_service(dworld, service).status == "active", what="activation")
        row = upstream_domain(dworld, service)
        wait_for(
            lambda: local_service(dworld, service).next_due_date == row.expires_on,
            what="the registry's expiry at the reseller",
        )
        owner = _client_browser(dworld, dworld.client, f"owner-{uuid.uuid4().hex[:6]}@c.test")
        base = f"/account/services/{service.public_id}/domain/"

        page = owner.get(base)
        assert page.status_code == 200
        assert "ns1.tessera.invalid" in page.content.decode()
        assert owner.get(f"/account/services/{service.public_id}/").status_code == 200

        owner.post(
            f"{base}change/nameservers/", {"nameservers": "ns1.host.example\nns2.host.example"}
        )
        # One nameserver: refused here, nothing changes at the registry.
        response = owner.post(
            f"{base}change/nameservers/", {"nameservers": "ns1.only.example"}, follow=True
        )
        assert "Give between 2 and 13 nameservers." in _messages(response)
        owner.post(f"{base}change/lock/", {"locked": "0"})
        owner.post(f"{base}change/host/", {"name": f"ns1.{name}", "addresses": "192.0.2.10"})
        response = owner.post(
            f"{base}change/host/",
            {"name": "ns1.elsewhere.example", "addresses": "192.0.2.11"},
            follow=True,
        )
        assert any("registry refused" in m for m in _messages(response))
        owner.post(f"{base}change/dnssec/", {"ds_records": "12345 13 2 " + "AB" * 32})
        assert owner.post(f"{base}change/teleport/").status_code == 404
        response = owner.post(f"{base}contact/", follow=True)
        assert "The registrant's details at the registry are updated." in _messages(response)
        with dworld.registry() as registry:
            info = registry.info(name)
            assert info.nameservers == ("ns1.host.example", "ns2.host.example")
            assert info.locked is False
            assert registry.host_info(f"ns1.{name}").addresses == ("192.0.2.10",)
            assert info.ds_records[0].key_tag == 12345

        shown = owner.post(f"{base}auth-code/")
        assert shown.status_code == 200 and shown["Cache-Control"] == "no-store"
        code = re.search(r'word-break:break-all">([^<]+)</code>', shown.content.decode()).group(1)
        with dworld.registry() as registry:
            assert registry.auth_code(name) == code
        with schema_context(dworld.schema):
            entry = AuditEntry.objects.get(action="domain.auth_code")
            assert entry.object_id == str(service.public_id)
            assert code not in str(entry.after) and code not in str(entry.before)
        connection.set_schema_to_public()

        owner.post(f"{base}auto-renew/", {"renews": "0"})
        assert local_service(dworld, service).cancel_at_period_end is True
        owner.post(f"{base}auto-renew/", {"renews": "1"})
        assert local_service(dworld, service).cancel_at_period_end is False

        # Another client of the same reseller: none of it is theirs.
        with schema_context(dworld.schema):
            other = services.client_create(name="Other Person", email="other@c.test", country="IT")
        stranger = _client_browser(dworld, other, f"stranger-{uuid.uuid4().hex[:6]}@c.test")
        assert stranger.get(base).status_code == 404
        assert stranger.post(f"{base}auth-code/").status_code == 404
        assert stranger.post(f"{base}change/lock/", {"locked": "1"}).status_code == 404

        # The console: the domain with its expiry; a refused renewal among the failures.
        with schema_context(dworld.schema):
            UpstreamCommand.objects.create(
                action="domain_renew",
                service_ref=str(service.public_id),
                idempotency_key=f"x-{uuid.uuid4().hex}",
                state="failed",
                last_error="The registry's policy refuses this. (2306: too far ahead)",
            )
            owner_email = User.objects.filter(kind=User.Kind.STAFF, role="owner").first().email
        staff = _browser(dworld, owner_email, staff=True)
        listing = staff.get("/console/registered-domains/")
        assert listing.status_code == 200
        html = listing.content.decode()
        assert name in html and "2306: too far ahead" in html
