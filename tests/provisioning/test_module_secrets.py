"""No secret leaves a module: not in a log line (httpx and httpcore at DEBUG
included), not in an exception, not in ``details``.

Every module runs every action, successful and failing (HTTP 500, timeout,
malformed reply, bad credentials), while logging is captured at DEBUG. The
secrets are the server's token/password, the account's password, and whatever
the panel hands back that logs a client in (session tokens, SSO links).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, replace

import pytest

from provisioning.modules.base import AccountSpec, ModuleError, ServerModule
from sandbox.panels.base import FakePanel, Reply
from sandbox.panels.whm import FakeWhm
from tests.provisioning.conftest import HANG_S, new_spec

CLIENT_IP = "203.0.113.9"

PANELS = {
    # module fixture, fake fixture, package, other package, domain
    "cpanel": ("cpanel", "whm", "starter", "business", True),
    "plesk": ("plesk", "plesk_panel", "Unlimited", "Business", True),
    "vmmanager": ("vmmanager", "vmm_panel", "1", "2", False),
    "proxmox": ("proxmox", "pve", "9000", "9001", False),
    "simulated": ("simulated", None, "starter", "business", True),
}


def panel_secrets(fake: FakePanel | None) -> set[str]:
    """Login material the fake panel issued during the test."""
    if fake is None:
        return set()
    found: set[str] = set()
    for attribute in ("sessions", "keys", "tickets"):
        found.update(getattr(fake, attribute, ()) or ())
    return {value for value in found if value}


def run_everything(
    module: ServerModule,
    fake: FakePanel | None,
    spec: AccountSpec,
    package2: str,
    broken: ServerModule,
) -> tuple[list[object], list[ModuleError], list[str]]:
    results: list[object] = []
    errors: list[ModuleError] = []
    sso_urls: list[str] = []

    def attempt(call: Callable[[], object]) -> None:
        try:
            results.append(call())
        except ModuleError as exc:
            errors.append(exc)

    attempt(module.test_connection)
    account = module.create_account(spec)
    results.append(account)
    rid = account.remote_id
    for call in (
        lambda: module.create_account(spec),
        lambda: module.find_account(spec.username),
        lambda: module.suspend(rid, "overdue"),
        lambda: module.unsuspend(rid),
        lambda: module.change_package(rid, package2),
        lambda: module.usage(rid),
        lambda: (
            module.create_account(replace(spec, domain="someone-else.example"))
            if spec.domain
            else None
        ),
    ):
        attempt(call)
    sso_urls.append(module.sso_url(rid, client_ip=CLIENT_IP))
    if fake is not None:
        for inject in (
            lambda: fake.fail_next(1, status=500),
            lambda: fake.malform_next(1),
            lambda: fake.hang_next(1, seconds=HANG_S),
        ):
            for call in (
                lambda: module.suspend(rid),
                lambda: module.sso_url(rid, client_ip=CLIENT_IP),
                lambda: module.create_account(spec),
            ):
                inject()
                attempt(call)
                fake.clear_faults()
        for call in (
            broken.test_connection,
            lambda: broken.create_account(spec),
            lambda: broken.sso_url(rid, client_ip=CLIENT_IP),
            lambda: broken.terminate(rid),
        ):
            attempt(call)
    module.terminate(rid)
    return results, errors, sso_urls


@pytest.mark.parametrize("panel", PANELS)
def test_no_secret_in_logs_errors_or_details(
    panel: str, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    module_fixture, fake_fixture, package, package2, with_domain = PANELS[panel]
    for name in (None, "httpx", "httpcore", "provisioning"):
        caplog.set_level(logging.DEBUG, logger=name)
    module: ServerModule = request.getfixturevalue(module_fixture)
    fake = request.getfixturevalue(fake_fixture) if fake_fixture else None
    spec = new_spec(package)
    if not with_domain:
        spec = replace(spec, domain="")
    broken_connection = replace(module.connection, secret=module.connection.secret + "-WRONG")
    broken = type(module)(broken_connection)

    results, errors, sso_urls = run_everything(module, fake, spec, package2, broken)
    broken.close()

    secrets = {
        module.connection.secret,
        broken_connection.secret,
        spec.password,
        # Proxmox's link is the web interface's plain address: the login is the client's.
        *(url for url in sso_urls if panel != "proxmox"),
        *panel_secrets(fake),
    }
    assert all(len(secret) >= 8 for secret in secrets)
    assert errors, "the failure modes above should have raised"

    logged = caplog.text + "\n".join(
        f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        for record in caplog.records
    )
    raised = "\n".join(
        f"{exc} {exc!r} {exc.panel_message} {exc.__cause__!r} {exc.__context__!r}" for exc in errors
    )
    returned = "\n".join(
        repr(result)
        + json.dumps(
            asdict(result) if hasattr(result, "__dataclass_fields__") else str(result), default=str
        )
        for result in results
    )
    shown = repr(module.connection) + repr(spec)
    assert caplog.records, "nothing was logged: the capture is not working"
    if fake is not None:
        assert any(r.name.startswith("httpcore") for r in caplog.records)
        assert any(r.name == "httpx" for r in caplog.records)
    for secret in secrets:
        assert secret not in logged, f"{panel}: a secret reached the logs"
        assert secret not in raised, f"{panel}: a secret reached an exception"
        assert secret not in returned, f"{panel}: a secret reached the returned details"
        assert secret not in shown, f"{panel}: a secret reached a repr"


def test_a_panel_echoing_the_password_is_scrubbed(cpanel, whm: FakeWhm) -> None:
    spec = new_spec("starter")
    whm.handle = lambda request: (
        Reply(200, {"metadata": {"result": 1, "reason": "OK"}, "data": {"acct": []}})
        if request.path.endswith("listaccts")
        else Reply(
            200,
            {
                "metadata": {
                    "result": 0,
                    "reason": (
                        f"The password “{spec.password}” is too weak; token {whm.token} was used"
                    ),
                }
            },
        )
    )
    with pytest.raises(ModuleError) as caught:
        cpanel.create_account(spec)
    assert spec.password not in str(caught.value) and whm.token not in str(caught.value)
    assert "***" in caught.value.panel_message


def test_http_error_pages_are_scrubbed(plesk, plesk_panel) -> None:
    secret = plesk.connection.secret
    plesk_panel.handle = lambda request: Reply(502, f"<html>upstream said key={secret}</html>")
    with pytest.raises(ModuleError) as caught:
        plesk.test_connection()
    assert secret not in str(caught.value) and "key=***" in caught.value.panel_message
