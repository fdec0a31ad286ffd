"""A WHM (cPanel) speaking WHM API 1: ``/json-api/<function>?api.version=1``.

Follows cPanel's published WHM API 1 reference (the WHM OpenAPI document,
https://api.docs.cpanel.net/openapi/whm/, cPanel & WHM 11.126) for the functions
the module calls: their required parameters, the ``metadata`` envelope and the
reasons WHM gives. ``busy_for`` (from the base) answers 503, as cpsrvd does while
it restarts.

Auth is ``Authorization: whm USER:TOKEN``; anything else gets WHM's 403
"Access denied" reply. Failures of a function come back as HTTP 200 with
``metadata.result = 0`` and the reason in ``metadata.reason``, as WHM does.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from sandbox.panels.base import FakePanel, Reply, Request

_USERNAME = re.compile(r"^[a-z][a-z0-9]{0,15}$")
_DOMAIN = re.compile(r"^(?:[a-z0-9-]+\.)+[a-z]{2,}$")
ACCESS_DENIED = {
    "cpanelresult": {
        "apiversion": "2",
        "error": "Access denied",
        "data": {"reason": "Access denied", "result": "0"},
        "type": "text",
    }
}


class FakeWhm(FakePanel):
    VERSION = "11.126.0.9"

    def __init__(self, user: str = "root", token: str = "WHMTOKEN0123456789ABCDEF") -> None:
        super().__init__()
        self.user = user
        self.token = token
        self.packages = {"starter": "1000M", "business": "5000M"}
        self.accounts: dict[str, dict[str, Any]] = {}
        self.bandwidth: dict[str, int] = {}
        self.sessions: list[str] = []

    # The WHM envelope.

    @staticmethod
    def _ok(function: str, data: Any = None, reason: str = "OK") -> Reply:
        body: dict[str, Any] = {
            "metadata": {"result": 1, "reason": reason, "command": function, "version": 1}
        }
        if data is not None:
            body["data"] = data
        return Reply(200, body)

    @staticmethod
    def _fail(function: str, reason: str) -> Reply:
        return Reply(
            200,
            {"metadata": {"result": 0, "reason": reason, "command": function, "version": 1}},
        )

    def handle(self, request: Request) -> Reply:
        if request.header("authorization") != f"whm {self.user}:{self.token}":
            return Reply(403, ACCESS_DENIED)
        match = re.fullmatch(r"/json-api/(\w+)", request.path)
        if not match:
            return Reply(404, "<html><body>Not Found</body></html>")
        function = match.group(1)
        args = request.args()
        if args.get("api.version") != "1":
            return self._fail(function, "This fake only speaks WHM API 1 (api.version=1).")
        handler = getattr(self, f"_fn_{function}", None)
        if handler is None:
            return self._fail(
                function, f"Unknown app (“{function}”) requested for this version (1) of the API."
            )
        return handler(function, args)

    def _account(self, function: str, user: str) -> dict[str, Any] | Reply:
        account = self.accounts.get(user)
        if account is None:
            return self._fail(function, f"The user “{user}” does not exist.")
        return account

    # Functions.

    def _fn_version(self, function: str, args: dict[str, str]) -> Reply:
        return self._ok(function, {"version": self.VERSION})

    def _fn_createacct(self, function: str, args: dict[str, str]) -> Reply:
        username, domain = args.get("username", ""), args.get("domain", "").lower()
        plan, password = args.get("plan", ""), args.get("password", "")
        if not _USERNAME.match(username) or username.startswith("test"):
            return self._fail(function, f"“{username}” is not a valid username on this system.")
        if not _DOMAIN.match(domain):
            return self._fail(function, f"“{domain}” is not a valid domain.")
        if username in self.accounts:
            return self._fail(function, f"Sorry, a passwd entry for “{username}” already exists.")
        if any(acct["domain"] == domain for acct in self.accounts.values()):
            xid = secrets.token_hex(4)
            return self._fail(function, f"(XID {xid}) The domain “{domain}” already exists.")
        if plan not in self.packages:
            return self._fail(function, f"The package “{plan}” does not exist.")
        if len(password) < 8:
            return self._fail(function, "Sorry, the password you selected cannot be used.")
        ip = "192.0.2.10" if args.get("ip") != "y" else f"192.0.2.{100 + len(self.accounts)}"
        self.accounts[username] = {
            "user": username,
            "domain": domain,
            "plan": plan,
            "email": args.get("contactemail", ""),
            "ip": ip,
            "suspended": 0,
            "suspendreason": "not suspended",
            "diskused": "0M",
            "disklimit": self.packages[plan],
        }
        return self._ok(
            function,
            {"ip": ip, "nameserver": "ns1.example.net", "package": plan},
            reason="Account Creation Ok",
        )

    def _fn_listaccts(self, function: str, args: dict[str, str]) -> Reply:
        search = args.get("search", "")
        exact = args.get("searchmethod") == "exact"
        field = {"user": "user", "domain": "domain"}.get(args.get("searchtype", "user"), "user")
        rows = [
            dict(acct)
            for acct in self.accounts.values()
            if not search or (acct[field] == search if exact else search in acct[field])
        ]
        return self._ok(function, {"acct": rows})

    def _fn_accountsummary(self, function: str, args: dict[str, str]) -> Reply:
        account = self._account(function, args.get("user", ""))
        if isinstance(account, Reply):
            return account
        return self._ok(function, {"acct": [dict(account)]})

    def _fn_suspendacct(self, function: str, args: dict[str, str]) -> Reply:
        account = self._account(function, args.get("user", ""))
        if isinstance(account, Reply):
            return account
        account.update(suspended=1, suspendreason=args.get("reason", ""))
        return self._ok(function)

    def _fn_unsuspendacct(self, function: str, args: dict[str, str]) -> Reply:
        account = self._account(function, args.get("user", ""))
        if isinstance(account, Reply):
            return account
        account.update(suspended=0, suspendreason="not suspended")
        return self._ok(function)

    def _fn_removeacct(self, function: str, args: dict[str, str]) -> Reply:
        user = args.get("username") or args.get("user", "")
        account = self._account(function, user)
        if isinstance(account, Reply):
            return account
        del self.accounts[user]
        return self._ok(function, reason=f"{user} account removed")

    def _fn_changepackage(self, function: str, args: dict[str, str]) -> Reply:
        account = self._account(function, args.get("user", ""))
        if isinstance(account, Reply):
            return account
        if args.get("pkg") not in self.packages:
            return self._fail(function, "Specified package does not exist.")
        account.update(plan=args["pkg"], disklimit=self.packages[args["pkg"]])
        return self._ok(function)

    def _fn_create_user_session(self, function: str, args: dict[str, str]) -> Reply:
        account = self._account(function, args.get("user", ""))
        if isinstance(account, Reply):
            return account
        if args.get("service") != "cpaneld":
            return self._fail(function, "This fake only creates cpaneld sessions.")
        token = f"/cpsess{secrets.randbelow(10**10):010d}"
        session = f"{account['user']}:{secrets.token_hex(8)}:create_user_session"
        self.sessions.append(session)
        return self._ok(
            function,
            {
                "url": f"https://{self.hostname}:2083{token}/login/?session={session}",
                "session": session,
                "cp_security_token": token,
                "expires": 1700000000,
                "service": "cpaneld",
            },
        )

    def _fn_showbw(self, function: str, args: dict[str, str]) -> Reply:
        search = args.get("search", "")
        rows = [
            {"user": user, "totalbytes": self.bandwidth.get(user, 0), "limit": "unlimited"}
            for user in self.accounts
            if not search or user == search
        ]
        return self._ok(function, {"acct": rows, "month": 1, "year": 2025})
