"""cPanel & WHM through WHM API 1, authenticated with a WHM API token.

The calls follow cPanel's published WHM API 1 reference, the WHM OpenAPI
document at https://api.docs.cpanel.net/openapi/whm/ (cPanel & WHM 11.126):
``createacct``, ``listaccts``, ``accountsummary``, ``suspendacct``,
``unsuspendacct``, ``removeacct``, ``changepackage``, ``showbw``, ``version`` and,
for single sign-on, ``create_user_session`` (service ``cpaneld``; see
https://api.docs.cpanel.net/guides/guide-to-api-authentication/guide-to-api-authentication-single-sign-on/).

Every call is ``POST /json-api/<function>?api.version=1`` with the arguments in
the form body, so nothing (passwords included) ends up in a URL or in the HTTP
client's request log. WHM reports most failures as HTTP 200 with
``metadata.result = 0`` and a human ``metadata.reason``; we read both.

``remote_id`` is the cPanel username: it is what every WHM function takes.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from provisioning.modules.base import (
    AccountExistsError,
    AccountResult,
    AccountSpec,
    AccountState,
    PermanentModuleError,
    ServerModule,
    Usage,
)

logger = logging.getLogger(__name__)

_EXISTS = re.compile(
    r"already exists|already taken|is already set ?up|already owns|already in use|"
    r"already a (?:user|domain)",
    re.IGNORECASE,
)
_NOT_FOUND = re.compile(r"does not exist|no such (?:user|account)|not found", re.IGNORECASE)
_SIZE = re.compile(r"^\s*([\d.]+)\s*([KMGT]?)", re.IGNORECASE)
_MB_PER_UNIT = {"": 1 / (1024 * 1024), "K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}


class CpanelModule(ServerModule):
    name = "cpanel"
    label = "cPanel / WHM"

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"whm {self.connection.username}:{self.connection.secret}"}

    def _call(self, function: str, **args: Any) -> dict[str, Any]:
        response = self._send(
            "POST",
            f"/json-api/{function}",
            params={"api.version": "1"},
            data={key: str(value) for key, value in args.items()},
        )
        self._check_status(response)
        body = self._json(response)
        metadata = body.get("metadata") if isinstance(body, dict) else None
        if not isinstance(metadata, dict) or "result" not in metadata:
            raise self._malformed(function, body)
        if str(metadata["result"]) != "1":
            reason = self._scrub(str(metadata.get("reason") or "no reason given"))
            error = AccountExistsError if _EXISTS.search(reason) else PermanentModuleError
            raise error(f"cpanel: {function} failed", reason)
        data = body.get("data")
        return data if isinstance(data, dict) else {}

    def _create_account(self, spec: AccountSpec) -> AccountResult:
        # An option that names a package (a bigger quota) is the account's package from
        # the start, as change_options would make it.
        package = str(spec.options.get("package") or spec.package)
        args: dict[str, Any] = {
            "username": spec.username,
            "domain": spec.domain,
            "plan": package,
            "password": spec.password,
        }
        if spec.options.get("contact_email_alias"):
            args["contactemail"] = spec.options["contact_email_alias"]
        if spec.options.get("ips"):
            args["ip"] = "y"  # a dedicated IP from the server's pool
        data = self._call("createacct", **args)
        logger.info("cpanel: created account %s on %s", spec.username, self.connection.hostname)
        details = {"domain": spec.domain, "package": package, "suspended": False}
        if data.get("ip"):
            details["ip"] = data["ip"]
        return AccountResult(remote_id=spec.username, username=spec.username, details=details)

    def find_account(self, username: str) -> AccountResult | None:
        data = self._call("listaccts", search=username, searchtype="user", searchmethod="exact")
        accounts = data.get("acct")
        if accounts is None:
            return None
        if not isinstance(accounts, list):
            raise self._malformed("listaccts", data)
        for account in accounts:
            if isinstance(account, dict) and account.get("user") == username:
                return AccountResult(
                    remote_id=username,
                    username=username,
                    details={
                        "domain": account.get("domain", ""),
                        "package": account.get("plan", ""),
                        "suspended": str(account.get("suspended", "0")) == "1",
                        "ip": account.get("ip", ""),
                    },
                )
        return None

    def suspend(self, remote_id: str, reason: str = "") -> None:
        self._call("suspendacct", user=remote_id, reason=reason or "Suspended by billing")

    def unsuspend(self, remote_id: str) -> None:
        self._call("unsuspendacct", user=remote_id)

    def terminate(self, remote_id: str) -> None:
        try:
            self._call("removeacct", username=remote_id)
        except PermanentModuleError as exc:
            # Terminating an account that is already gone is a success: the job may be a retry.
            if _NOT_FOUND.search(exc.panel_message) and self.find_account(remote_id) is None:
                return
            raise

    def change_package(self, remote_id: str, package: str) -> None:
        self._call("changepackage", user=remote_id, pkg=package)

    def change_options(self, remote_id: str, package: str, options: dict[str, Any]) -> None:
        """On WHM an option is a package: the one an option names (e.g. a bigger quota),
        or the plan's own when the options name none."""
        self._call("changepackage", user=remote_id, pkg=options.get("package") or package)

    def read_account(self, remote_id: str) -> AccountState:
        found = self.find_account(remote_id)
        if found is None:
            return AccountState(status="missing")
        return AccountState(
            status="suspended" if found.details.get("suspended") else "active",
            package=str(found.details.get("package", "")),
        )

    def sso_url(self, remote_id: str, client_ip: str = "") -> str:
        data = self._call("create_user_session", user=remote_id, service="cpaneld")
        url = data.get("url")
        if not isinstance(url, str) or not url.startswith("http"):
            raise self._malformed("create_user_session")
        self._remember_secret(url)
        return url

    def usage(self, remote_id: str) -> Usage:
        summary = self._call("accountsummary", user=remote_id).get("acct")
        if not isinstance(summary, list) or not summary or not isinstance(summary[0], dict):
            raise self._malformed("accountsummary")
        disk_mb = _size_to_mb(summary[0].get("diskused"))
        bandwidth = self._call("showbw", searchtype="user", search=remote_id).get("acct") or []
        total_bytes = 0
        for row in bandwidth:
            if isinstance(row, dict) and row.get("user") == remote_id:
                total_bytes = int(row.get("totalbytes") or 0)
        return Usage(
            disk_mb=disk_mb,
            bandwidth_mb=round(total_bytes / (1024 * 1024), 2),
            extra={"disk_limit": summary[0].get("disklimit", "")},
        )

    def test_connection(self) -> str:
        version = self._call("version").get("version")
        if not version:
            raise self._malformed("version")
        return f"WHM {version} on {self.connection.hostname}"


def _size_to_mb(value: Any) -> float:
    """WHM writes disk usage as "150M", "1.5G" or a bare number of megabytes."""
    if value in (None, "", "none", "unlimited"):
        return 0.0
    match = _SIZE.match(str(value))
    if not match:
        return 0.0
    number, unit = match.groups()
    multiplier = _MB_PER_UNIT[unit.upper()] if unit else 1
    return round(float(number) * multiplier, 2)
