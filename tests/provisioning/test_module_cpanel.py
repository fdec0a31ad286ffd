"""The cPanel/WHM module against a local WHM speaking WHM API 1."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from provisioning.modules.base import (
    AccountExistsError,
    LoginByLinkOnly,
    PermanentModuleError,
    ServerConnection,
    TransientModuleError,
)
from provisioning.modules.cpanel import CpanelModule, _size_to_mb
from sandbox.panels.base import Reply
from sandbox.panels.whm import FakeWhm
from tests.provisioning.conftest import HANG_S, connection_to, new_spec

ACTIONS: dict[str, Callable[[CpanelModule, str], object]] = {
    "create_account": lambda m, _: m.create_account(new_spec("starter")),
    "find_account": lambda m, rid: m.find_account(rid),
    "suspend": lambda m, rid: m.suspend(rid, "overdue"),
    "unsuspend": lambda m, rid: m.unsuspend(rid),
    "terminate": lambda m, rid: m.terminate(rid),
    "change_package": lambda m, rid: m.change_package(rid, "business"),
    "sso_url": lambda m, rid: m.sso_url(rid),
    "usage": lambda m, rid: m.usage(rid),
    "test_connection": lambda m, _: m.test_connection(),
}


@pytest.fixture
def account(cpanel: CpanelModule):
    return cpanel.create_account(new_spec("starter"))


def test_test_connection_reports_the_version(cpanel: CpanelModule) -> None:
    assert cpanel.test_connection() == f"WHM {FakeWhm.VERSION} on 127.0.0.1"


def test_create_account(cpanel: CpanelModule, whm: FakeWhm) -> None:
    spec = new_spec("starter", contact_email_alias="c-7f3a@clients.example.net")
    result = cpanel.create_account(spec)
    assert result.remote_id == result.username == spec.username
    assert result.details["domain"] == spec.domain
    assert whm.accounts[spec.username]["plan"] == "starter"
    assert whm.accounts[spec.username]["email"] == "c-7f3a@clients.example.net"
    create = next(r for r in whm.requests if r.path == "/json-api/createacct")
    assert create.method == "POST" and create.query == {"api.version": "1"}
    assert create.form()["password"] == spec.password  # in the body, never in the URL


def test_create_is_idempotent_by_username(cpanel: CpanelModule, whm: FakeWhm) -> None:
    spec = new_spec("starter")
    first = cpanel.create_account(spec)
    second = cpanel.create_account(spec)
    assert second.remote_id == first.remote_id and second.details["reused"] is True
    assert len(whm.accounts) == 1


def test_create_when_domain_belongs_to_someone_else(cpanel: CpanelModule) -> None:
    spec = new_spec("starter")
    cpanel.create_account(spec)
    other = new_spec("starter", domain=spec.domain)
    with pytest.raises(AccountExistsError) as caught:
        cpanel.create_account(other)
    assert "already exists" in caught.value.panel_message


def test_create_when_username_is_taken_for_another_domain(
    cpanel: CpanelModule, whm: FakeWhm
) -> None:
    spec = new_spec("starter")
    cpanel.create_account(spec)
    with pytest.raises(AccountExistsError, match="another domain"):
        cpanel.create_account(replace(spec, domain="other.example"))
    assert len(whm.accounts) == 1


def test_create_with_unknown_package(cpanel: CpanelModule, whm: FakeWhm) -> None:
    with pytest.raises(PermanentModuleError) as caught:
        cpanel.create_account(new_spec("platinum"))
    assert "does not exist" in caught.value.panel_message
    assert not isinstance(caught.value, AccountExistsError)
    assert whm.accounts == {}


def test_find_account(cpanel: CpanelModule, account) -> None:
    found = cpanel.find_account(account.username)
    assert found is not None and found.remote_id == account.remote_id
    assert found.details["package"] == "starter" and found.details["suspended"] is False
    assert cpanel.find_account("nosuchusr") is None


def test_suspend_and_unsuspend(cpanel: CpanelModule, whm: FakeWhm, account) -> None:
    cpanel.suspend(account.remote_id, "Invoice 2025-0042 overdue")
    assert whm.accounts[account.username]["suspended"] == 1
    assert whm.accounts[account.username]["suspendreason"] == "Invoice 2025-0042 overdue"
    assert cpanel.find_account(account.username).details["suspended"] is True
    cpanel.unsuspend(account.remote_id)
    assert whm.accounts[account.username]["suspended"] == 0


def test_terminate_is_idempotent(cpanel: CpanelModule, whm: FakeWhm, account) -> None:
    cpanel.terminate(account.remote_id)
    assert account.username not in whm.accounts
    cpanel.terminate(account.remote_id)


def test_change_package(cpanel: CpanelModule, whm: FakeWhm, account) -> None:
    cpanel.change_package(account.remote_id, "business")
    assert whm.accounts[account.username]["plan"] == "business"
    with pytest.raises(PermanentModuleError, match="changepackage"):
        cpanel.change_package(account.remote_id, "platinum")


def test_sso_url(cpanel: CpanelModule, whm: FakeWhm, account) -> None:
    url = cpanel.sso_url(account.remote_id)
    assert url.startswith("https://") and whm.sessions[-1] in url


def test_usage(cpanel: CpanelModule, whm: FakeWhm, account) -> None:
    whm.accounts[account.username]["diskused"] = "1.5G"
    whm.bandwidth[account.username] = 300 * 1024 * 1024
    usage = cpanel.usage(account.remote_id)
    assert usage.disk_mb == 1536.0 and usage.bandwidth_mb == 300.0


@pytest.mark.parametrize(
    ("raw", "mb"), [("150M", 150.0), ("512K", 0.5), ("2G", 2048.0), ("unlimited", 0.0), (7, 7.0)]
)
def test_disk_sizes(raw: object, mb: float) -> None:
    assert _size_to_mb(raw) == mb


def test_missing_account_is_permanent(cpanel: CpanelModule) -> None:
    with pytest.raises(PermanentModuleError, match="suspendacct"):
        cpanel.suspend("nosuchusr")


# Failure modes, for every action.


@pytest.mark.parametrize("action", ACTIONS)
def test_http_500_is_transient(cpanel: CpanelModule, whm: FakeWhm, account, action: str) -> None:
    whm.fail_next(5, status=500)
    with pytest.raises(TransientModuleError, match="HTTP 500"):
        ACTIONS[action](cpanel, account.remote_id)


@pytest.mark.parametrize("action", ACTIONS)
def test_timeout_is_transient(cpanel: CpanelModule, whm: FakeWhm, account, action: str) -> None:
    whm.hang_next(5, seconds=HANG_S)
    with pytest.raises(TransientModuleError, match="did not answer"):
        ACTIONS[action](cpanel, account.remote_id)


@pytest.mark.parametrize("action", ACTIONS)
def test_malformed_reply_is_permanent(
    cpanel: CpanelModule, whm: FakeWhm, account, action: str
) -> None:
    whm.malform_next(5)
    with pytest.raises(PermanentModuleError, match="not JSON"):
        ACTIONS[action](cpanel, account.remote_id)


@pytest.mark.parametrize("action", ACTIONS)
def test_bad_credentials_are_permanent(whm: FakeWhm, account, action: str) -> None:
    with (
        CpanelModule(connection_to(whm, whm.user, "WRONG-TOKEN")) as module,
        pytest.raises(PermanentModuleError, match="refused the credentials") as caught,
    ):
        ACTIONS[action](module, account.remote_id)
    assert "Access denied" in caught.value.panel_message


def test_json_without_metadata_is_permanent(cpanel: CpanelModule, whm: FakeWhm) -> None:
    whm.handle = lambda request: Reply(200, {"unexpected": True})
    with pytest.raises(PermanentModuleError, match="unexpected reply"):
        cpanel.test_connection()


def test_connection_refused_is_transient(whm: FakeWhm) -> None:
    port = whm.port
    whm.stop()
    connection = ServerConnection(
        "127.0.0.1", port, use_tls=False, username="root", secret="x", timeout_s=0.5
    )
    with (
        CpanelModule(connection) as module,
        pytest.raises(TransientModuleError, match="could not talk"),
    ):
        module.test_connection()


def test_retry_after_a_lost_reply_makes_one_account(cpanel: CpanelModule, whm: FakeWhm) -> None:
    spec = new_spec("starter")
    # WHM creates the account, then the reply never arrives.
    whm.hang_next(1, seconds=HANG_S, after=True, path="createacct")
    with pytest.raises(TransientModuleError):
        cpanel.create_account(spec)
    assert spec.username in whm.accounts
    again = cpanel.create_account(spec)
    assert again.details["reused"] is True
    assert list(whm.accounts) == [spec.username]


def test_retry_after_http_500_makes_one_account(cpanel: CpanelModule, whm: FakeWhm) -> None:
    spec = new_spec("starter")
    whm.fail_next(1, path="createacct")
    with pytest.raises(TransientModuleError):
        cpanel.create_account(spec)
    cpanel.create_account(spec)
    assert list(whm.accounts) == [spec.username]


def test_panels_that_log_in_by_link_have_no_password_to_give(cpanel: CpanelModule, account) -> None:
    with pytest.raises(LoginByLinkOnly):
        cpanel.panel_login_reset(account.remote_id)
