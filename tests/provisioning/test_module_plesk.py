"""The Plesk module against a local Plesk speaking its REST and XML APIs."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace

import httpx
import pytest

from provisioning.modules.base import (
    AccountExistsError,
    PermanentModuleError,
    TransientModuleError,
)
from provisioning.modules.plesk import PleskModule
from sandbox.panels.plesk import FakePlesk
from tests.provisioning.conftest import HANG_S, connection_to, new_spec

CLIENT_IP = "203.0.113.7"  # the client's browser, somewhere on the internet

ACTIONS: dict[str, Callable[[PleskModule, str], object]] = {
    "create_account": lambda m, _: m.create_account(new_spec("Unlimited")),
    "find_account": lambda m, rid: m.find_account("someone"),
    "suspend": lambda m, rid: m.suspend(rid, "overdue"),
    "unsuspend": lambda m, rid: m.unsuspend(rid),
    "terminate": lambda m, rid: m.terminate(rid),
    "change_package": lambda m, rid: m.change_package(rid, "Business"),
    "sso_url": lambda m, rid: m.sso_url(rid, client_ip=CLIENT_IP),
    "usage": lambda m, rid: m.usage(rid),
    "test_connection": lambda m, _: m.test_connection(),
}


@pytest.fixture
def account(plesk: PleskModule):
    return plesk.create_account(new_spec("Unlimited"))


def subscription(panel: FakePlesk, remote_id: str) -> dict:
    return next(d for d in panel.domains.values() if d["owner"] == int(remote_id))


def test_test_connection(plesk: PleskModule) -> None:
    assert plesk.test_connection() == f"Plesk {FakePlesk.VERSION} on plesk.example.test"


def test_basic_auth_works_too(plesk_panel: FakePlesk) -> None:
    connection = connection_to(plesk_panel, plesk_panel.login, plesk_panel.password)
    with PleskModule(connection) as module:
        assert module.test_connection().startswith("Plesk")
        result = module.create_account(new_spec("Unlimited"))
        assert module.sso_url(result.remote_id, client_ip=CLIENT_IP)


def test_create_account(plesk: PleskModule, plesk_panel: FakePlesk) -> None:
    spec = new_spec("Unlimited", contact_email_alias="c-91@clients.example.net")
    result = plesk.create_account(spec)
    customer = plesk_panel.accounts[spec.username]
    assert str(customer["id"]) == result.remote_id
    assert customer["name"] == spec.username  # no client name reaches the panel
    assert customer["email"] == "c-91@clients.example.net"
    assert [s["name"] for s in customer["subscriptions"]] == [spec.domain]
    assert customer["subscriptions"][0]["plan"] == "Unlimited"
    assert result.details["domain"] == spec.domain


def test_create_is_idempotent(plesk: PleskModule, plesk_panel: FakePlesk) -> None:
    spec = new_spec("Unlimited")
    first = plesk.create_account(spec)
    second = plesk.create_account(spec)
    assert second.remote_id == first.remote_id and second.details["reused"] is True
    assert len(plesk_panel.clients) == 1 and len(plesk_panel.domains) == 1


def test_create_finishes_a_half_made_account(plesk: PleskModule, plesk_panel: FakePlesk) -> None:
    spec = new_spec("Unlimited")
    # The customer is created, then the subscription call fails.
    plesk_panel.fail_next(1, status=503, path="/api/v2/domains")
    with pytest.raises(TransientModuleError):
        plesk.create_account(spec)
    assert plesk.find_account(spec.username) is None
    result = plesk.create_account(spec)
    assert len(plesk_panel.clients) == 1
    assert [s["name"] for s in plesk_panel.accounts[spec.username]["subscriptions"]] == [
        spec.domain
    ]
    assert result.remote_id == str(plesk_panel.accounts[spec.username]["id"])


def test_domain_of_someone_else(plesk: PleskModule) -> None:
    spec = new_spec("Unlimited")
    plesk.create_account(spec)
    with pytest.raises(AccountExistsError) as caught:
        plesk.create_account(new_spec("Unlimited", domain=spec.domain))
    assert "already exists" in caught.value.panel_message


def test_username_taken_for_another_domain(plesk: PleskModule) -> None:
    spec = new_spec("Unlimited")
    plesk.create_account(spec)
    with pytest.raises(AccountExistsError, match="another domain"):
        plesk.create_account(replace(spec, domain="elsewhere.example"))


def test_unknown_plan(plesk: PleskModule) -> None:
    with pytest.raises(PermanentModuleError, match="HTTP 400") as caught:
        plesk.create_account(new_spec("Gold"))
    assert "does not exist" in caught.value.panel_message


def test_find_account(plesk: PleskModule, account) -> None:
    assert plesk.find_account(account.username).remote_id == account.remote_id
    assert plesk.find_account("nobody") is None


def test_suspend_unsuspend(plesk: PleskModule, plesk_panel: FakePlesk, account) -> None:
    plesk.suspend(account.remote_id, "overdue")
    assert subscription(plesk_panel, account.remote_id)["status"] == "suspended"
    plesk.unsuspend(account.remote_id)
    assert subscription(plesk_panel, account.remote_id)["status"] == "active"
    call = next(r for r in plesk_panel.requests if r.path == "/api/v2/cli/subscription/call")
    assert call.json()["params"][0] == "--webspace-off"


def test_cli_failure_is_permanent(plesk: PleskModule, plesk_panel: FakePlesk, account) -> None:
    with pytest.raises(PermanentModuleError) as caught:
        plesk.change_package(account.remote_id, "Gold")
    assert "Unable to find service plan" in caught.value.panel_message


def test_terminate_is_idempotent(plesk: PleskModule, plesk_panel: FakePlesk, account) -> None:
    plesk.terminate(account.remote_id)
    assert plesk_panel.clients == {} and plesk_panel.domains == {}
    plesk.terminate(account.remote_id)


def test_change_package(plesk: PleskModule, plesk_panel: FakePlesk, account) -> None:
    plesk.change_package(account.remote_id, "Business")
    assert subscription(plesk_panel, account.remote_id)["plan"] == "Business"


def test_sso_url(plesk: PleskModule, plesk_panel: FakePlesk, account) -> None:
    url = plesk.sso_url(account.remote_id, client_ip=CLIENT_IP)
    assert url == (
        f"http://127.0.0.1:{plesk_panel.port}/enterprise/rsession_init.php"
        f"?PLESKSESSID={plesk_panel.sessions[-1]}"
    )


def test_sso_session_is_bound_to_the_clients_address(
    plesk: PleskModule, plesk_panel: FakePlesk, account
) -> None:
    """The session is made for the browser that opens the link, not for 127.0.0.1."""
    plesk.sso_url(account.remote_id, client_ip=CLIENT_IP)
    create = next(r for r in plesk_panel.requests if b"create_session" in r.body)
    user_ip = ET.fromstring(create.body).findtext("server/create_session/data/user_ip")
    assert base64.b64decode(user_ip).decode() == CLIENT_IP
    assert plesk_panel.session_ips[plesk_panel.sessions[-1]] == CLIENT_IP


def test_sso_logs_in_only_from_the_address_it_was_made_for(
    plesk: PleskModule, plesk_panel: FakePlesk, account
) -> None:
    # The stand-in is reached from 127.0.0.1: a session for another address does not log in.
    elsewhere = plesk.sso_url(account.remote_id, client_ip=CLIENT_IP)
    here = plesk.sso_url(account.remote_id, client_ip="127.0.0.1")
    with httpx.Client() as browser:
        assert browser.get(elsewhere).headers["location"] == "/login_up.php"
        assert browser.get(here).headers["location"] == "/smb/web/view"
        assert browser.get(here).headers["location"] == "/login_up.php"  # good once
    assert plesk_panel.logins == [(account.username, "127.0.0.1")]


def test_sso_without_the_clients_address_is_refused(plesk_panel: FakePlesk, account) -> None:
    with (
        PleskModule(connection_to(plesk_panel, "", plesk_panel.api_key)) as module,
        pytest.raises(PermanentModuleError, match="address of the client"),
    ):
        module.sso_url(account.remote_id)
    assert plesk_panel.sessions == []
    fallback = connection_to(plesk_panel, "", plesk_panel.api_key, sso_user_ip="198.51.100.4")
    with PleskModule(fallback) as module:
        module.sso_url(account.remote_id)
    assert plesk_panel.session_ips[plesk_panel.sessions[-1]] == "198.51.100.4"


def test_usage(plesk: PleskModule, plesk_panel: FakePlesk, account) -> None:
    domain = subscription(plesk_panel, account.remote_id)["name"]
    plesk_panel.disk_bytes[domain] = 250 * 1024 * 1024
    plesk_panel.traffic_bytes[domain] = 1024 * 1024 * 1024
    usage = plesk.usage(account.remote_id)
    assert usage.disk_mb == 250.0 and usage.bandwidth_mb == 1024.0


def test_missing_customer(plesk: PleskModule) -> None:
    with pytest.raises(PermanentModuleError, match="HTTP 404"):
        plesk.suspend("999")


# Failure modes, for every action.


@pytest.mark.parametrize("action", ACTIONS)
def test_http_500_is_transient(plesk: PleskModule, plesk_panel: FakePlesk, account, action) -> None:
    plesk_panel.fail_next(5, status=500)
    with pytest.raises(TransientModuleError, match="HTTP 500"):
        ACTIONS[action](plesk, account.remote_id)


@pytest.mark.parametrize("action", ACTIONS)
def test_timeout_is_transient(plesk: PleskModule, plesk_panel: FakePlesk, account, action) -> None:
    plesk_panel.hang_next(5, seconds=HANG_S)
    with pytest.raises(TransientModuleError, match="did not answer"):
        ACTIONS[action](plesk, account.remote_id)


@pytest.mark.parametrize("action", ACTIONS)
def test_malformed_reply_is_permanent(
    plesk: PleskModule, plesk_panel: FakePlesk, account, action
) -> None:
    plesk_panel.malform_next(5)
    with pytest.raises(PermanentModuleError, match=r"not JSON|not XML"):
        ACTIONS[action](plesk, account.remote_id)


@pytest.mark.parametrize("action", ACTIONS)
def test_bad_credentials_are_permanent(plesk_panel: FakePlesk, account, action) -> None:
    with (
        PleskModule(connection_to(plesk_panel, "", "WRONG-KEY")) as module,
        pytest.raises(PermanentModuleError, match="refused the credentials"),
    ):
        ACTIONS[action](module, account.remote_id)


def test_xml_api_bad_credentials(
    plesk_panel: FakePlesk, plesk: PleskModule, account, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The XML API answers HTTP 200 with an error packet; still a credentials error.
    monkeypatch.setattr(plesk_panel, "_xml_authorized", lambda request: False)
    with pytest.raises(PermanentModuleError, match="refused the credentials") as caught:
        plesk.sso_url(account.remote_id, client_ip=CLIENT_IP)
    assert "Authentication failed" in caught.value.panel_message


def test_retry_after_a_lost_reply_makes_one_account(
    plesk: PleskModule, plesk_panel: FakePlesk
) -> None:
    spec = new_spec("Unlimited")
    plesk_panel.hang_next(1, seconds=HANG_S, after=True, path="/api/v2/domains")
    with pytest.raises(TransientModuleError):
        plesk.create_account(spec)
    again = plesk.create_account(spec)
    assert again.details["reused"] is True
    assert list(plesk_panel.accounts) == [spec.username]
    assert len(plesk_panel.domains) == 1


def test_add_ons_attach_through_the_xml_api_once(
    plesk: PleskModule, plesk_panel: FakePlesk
) -> None:
    account = plesk.create_account(new_spec("Unlimited", domain="once.example"))
    plesk.change_options(account.remote_id, "Unlimited", {"addons": ["Extra Mail"]})
    plesk.change_options(account.remote_id, "Unlimited", {"addons": ["Extra Mail"]})
    attach = [r for r in plesk_panel.requests if b"<add-subscription>" in (r.body or b"")]
    assert len(attach) == 1  # the second change found it attached and asked for nothing
    body = attach[0].body.decode()
    assert "<filter><name>once.example</name></filter><plan-guid>" in body


def test_an_unknown_add_on_fails_the_change_with_its_name(plesk: PleskModule) -> None:
    account = plesk.create_account(new_spec("Unlimited", domain="unknown-addon.example"))
    with pytest.raises(PermanentModuleError, match="no add-on plan named Nightly Coffee"):
        plesk.change_options(account.remote_id, "Unlimited", {"addons": ["Nightly Coffee"]})


def test_the_stand_in_refuses_an_attach_packet_out_of_schema(plesk: PleskModule) -> None:
    """``add-subscription`` is a filter, then a plan-guid (domain_input.xsd): anything
    else is the parser error Plesk answers, in a 200 packet."""
    plesk.create_account(new_spec("Unlimited", domain="schema.example"))
    for inner in (
        "<plan-guid>x</plan-guid><filter><name>schema.example</name></filter>",
        "<filter><name>schema.example</name></filter>",
    ):
        with pytest.raises(PermanentModuleError, match="refused the request"):
            plesk._xml(
                f"<webspace><add-subscription>{inner}</add-subscription></webspace>",
                "webspace/add-subscription/result",
            )
