"""A Plesk speaking the slice of its REST API (``/api/v2``) and XML API the module uses.

Follows Plesk Obsidian 18.0's published references: the REST API
(https://docs.plesk.com/en-US/obsidian/api-rpc/) and the XML API protocol
1.6.9.1 (http://plesk.github.io/api-schemas/1.6.9.1/agent_input.svg). For
``server/create_session`` (``CreateSessionType`` in ``server_input.xsd``) ``login``
and ``data/user_ip`` are required and ``user_ip`` is base64; the session it makes
is bound to that address: ``/enterprise/rsession_init.php?PLESKSESSID=...`` logs
in only a visitor coming from it, and only once, and sends anyone else to the
login form.

Add-on plans (XML API, ``domain_input.xsd`` / ``domain_addon_template.xsd``):
``service-plan-addon/get`` lists them by a ``filter`` of names or GUIDs (an empty
filter: all), one ``result`` each with ``id``, ``guid`` and ``name``;
``webspace/add-subscription`` and ``webspace/remove-subscription`` take a subscription
``filter`` followed by the add-on plan's ``plan-guid`` (both required, in that order);
``webspace/get`` with the ``subscriptions`` dataset answers the GUIDs of the
subscription's service plan and of its add-on plans. An unknown plan or subscription,
an add-on attached twice or removed when not attached is a ``result`` with status
``error`` (the error wording is the stand-in's: the documents give only the codes'
shape).

REST auth is ``X-API-Key`` or basic auth; failures are ``{"code", "message"}``
with a 4xx status. The XML API at ``/enterprise/control/agent.php`` takes the
``KEY`` header (or ``HTTP_AUTH_LOGIN``/``HTTP_AUTH_PASSWD``) and reports every
failure, bad credentials included, inside an HTTP 200 packet.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import secrets
import uuid
import xml.etree.ElementTree as ET
from typing import Any
from xml.sax.saxutils import escape

from sandbox.panels.base import FakePanel, Reply, Request


class FakePlesk(FakePanel):
    VERSION = "18.0.63"

    def __init__(
        self,
        api_key: str = "PLESKKEY-5f0c1d2e3a4b",
        login: str = "admin",
        password: str = "Adm1nPassw0rd!x",
    ) -> None:
        super().__init__()
        self.api_key, self.login, self.password = api_key, login, password
        self.plans = {"Default Domain", "Unlimited", "Business"}
        self.plan_guids = {plan: str(uuid.uuid4()) for plan in sorted(self.plans)}
        self.addon_plans = {
            name: str(uuid.uuid4()) for name in ("Extra Backups", "SSL It! Pro", "Extra Mail")
        }
        self.clients: dict[int, dict[str, Any]] = {}
        self.domains: dict[int, dict[str, Any]] = {}
        self.sessions: list[str] = []
        self.session_ips: dict[str, str] = {}
        self._session_logins: dict[str, str] = {}
        self.logins: list[tuple[str, str]] = []  # (login, address) of each automatic login
        self.disk_bytes: dict[str, int] = {}
        self.traffic_bytes: dict[str, int] = {}
        self._next_id = 1

    @property
    def accounts(self) -> dict[str, dict[str, Any]]:
        """Customers by login, each with its subscriptions: what tests count."""
        return {
            client["login"]: {
                **client,
                "subscriptions": [d for d in self.domains.values() if d["owner"] == client_id],
            }
            for client_id, client in self.clients.items()
        }

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _authorized(self, request: Request) -> bool:
        if request.header("x-api-key"):
            return request.header("x-api-key") == self.api_key
        expected = base64.b64encode(f"{self.login}:{self.password}".encode()).decode()
        return request.header("authorization") == f"Basic {expected}"

    @staticmethod
    def _error(status: int, message: str, code: int = 0) -> Reply:
        return Reply(status, {"code": code, "message": message})

    def handle(self, request: Request) -> Reply:
        if request.path == "/enterprise/control/agent.php":
            return self._xml_api(request)
        if request.path == "/enterprise/rsession_init.php":
            return self._session_init(request)
        if not request.path.startswith("/api/v2/"):
            return Reply(404, "<html><body>Not Found</body></html>")
        if not self._authorized(request):
            return self._error(401, "Authentication failed", 1001)
        route = request.path.removeprefix("/api/v2")
        method = request.method
        if route == "/server" and method == "GET":
            return Reply(
                200,
                {
                    "platform": "Unix",
                    "hostname": "plesk.example.test",
                    "guid": str(uuid.uuid4()),
                    "panel_version": self.VERSION,
                    "panel_revision": "1a2b3c",
                    "panel_build_date": "2024-11-05",
                    "panel_update_version": "2",
                },
            )
        if route == "/clients":
            return (
                self._create_client(request)
                if method == "POST"
                else Reply(200, [self._public_client(c) for c in self.clients.values()])
            )
        if match := re.fullmatch(r"/clients/(\d+)(/domains)?", route):
            client = self.clients.get(int(match.group(1)))
            if client is None:
                return self._error(404, "Client does not exist", 1013)
            if match.group(2):
                return Reply(200, [d for d in self.domains.values() if d["owner"] == client["id"]])
            if method == "DELETE":
                for domain_id in [k for k, d in self.domains.items() if d["owner"] == client["id"]]:
                    del self.domains[domain_id]
                del self.clients[client["id"]]
                return Reply(200, {"id": client["id"]})
            return Reply(200, self._public_client(client))
        if route == "/domains":
            if method == "POST":
                return self._create_domain(request)
            name = request.query.get("name")
            return Reply(200, [d for d in self.domains.values() if not name or d["name"] == name])
        if match := re.fullmatch(r"/cli/(\w+)/call", route):
            return self._cli(match.group(1), (request.json() or {}).get("params") or [])
        return self._error(404, f"Route {method} {route} not found")

    # REST.

    @staticmethod
    def _public_client(client: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in client.items() if key != "password"}

    def _create_client(self, request: Request) -> Reply:
        body = request.json()
        if not isinstance(body, dict):
            return self._error(400, "Request body is not valid JSON")
        login = body.get("login", "")
        missing = [f for f in ("name", "login", "password") if not body.get(f)]
        if missing:
            return Reply(
                400,
                {
                    "code": 0,
                    "message": "Validation failed",
                    "errors": {f: ["This value is required."] for f in missing},
                },
            )
        if any(client["login"] == login for client in self.clients.values()):
            return self._error(409, f'Login name "{login}" is already in use', 1007)
        client_id = self._new_id()
        self.clients[client_id] = {
            "id": client_id,
            "login": login,
            "name": body["name"],
            "email": body.get("email", ""),
            "type": body.get("type", "customer"),
            "status": 0,
            "guid": str(uuid.uuid4()),
            "external_id": body.get("external_id", ""),
            "password": body["password"],
        }
        return Reply(201, {"id": client_id, "guid": self.clients[client_id]["guid"]})

    def _create_domain(self, request: Request) -> Reply:
        body = request.json()
        if not isinstance(body, dict) or not body.get("name"):
            return Reply(
                400,
                {
                    "code": 0,
                    "message": "Validation failed",
                    "errors": {"name": ["This value is required."]},
                },
            )
        owner = (body.get("owner_client") or {}).get("id")
        if owner not in self.clients:
            return self._error(400, "Owner client does not exist", 1013)
        plan = (body.get("plan") or {}).get("name")
        if plan not in self.plans:
            return self._error(400, f'Service plan "{plan}" does not exist', 1013)
        if any(domain["name"] == body["name"] for domain in self.domains.values()):
            return self._error(409, f'Domain "{body["name"]}" already exists', 1007)
        domain_id = self._new_id()
        self.domains[domain_id] = {
            "id": domain_id,
            "name": body["name"],
            "ascii_name": body["name"],
            "guid": str(uuid.uuid4()),
            "hosting_type": body.get("hosting_type", "virtual"),
            "base_domain_id": 0,
            "owner": owner,
            "plan": plan,
            "addons": [],
            "status": "active",
        }
        return Reply(201, {"id": domain_id, "guid": self.domains[domain_id]["guid"]})

    def _cli(self, utility: str, params: list[str]) -> Reply:
        def result(code: int, stdout: str = "", stderr: str = "") -> Reply:
            return Reply(200, {"code": code, "stdout": stdout, "stderr": stderr})

        if utility != "subscription" or len(params) < 2:
            return result(1, stderr=f"Unsupported call: {utility} {' '.join(params)}")
        command, name = params[0], params[1]
        domain = next((d for d in self.domains.values() if d["name"] == name), None)
        if domain is None:
            return result(1, stderr=f"Unable to find subscription: {name}")
        if command == "--webspace-off":
            domain["status"] = "suspended"
        elif command == "--webspace-on":
            domain["status"] = "active"
        elif command == "--switch-subscription" and params[2:3] == ["-service-plan"]:
            plan = params[3] if len(params) > 3 else ""
            if plan not in self.plans:
                return result(1, stderr=f"Unable to find service plan: {plan}")
            domain["plan"] = plan
        elif command == "--update" and params[2:3] == ["-hard_quota"] and len(params) > 3:
            domain["hard_quota"] = params[3]
        else:
            return result(1, stderr=f"Unknown command: {command}")
        return result(0, stdout="SUCCESS: the subscription was updated")

    # XML API.

    def _create_session(self, session: ET.Element) -> Reply:
        login = session.findtext("login")
        user_ip = session.findtext("data/user_ip")
        if not login or not user_ip:
            return self._packet(
                "<system><status>error</status><errcode>1014</errcode>"
                "<errtext>Parser error: Request is invalid. Error in line 1: Element "
                "'create_session': Missing child element(s).</errtext></system>"
            )
        try:
            address = str(ipaddress.ip_address(base64.b64decode(user_ip, validate=True).decode()))
        except (ValueError, UnicodeDecodeError):
            return self._packet(
                "<server><create_session><result><status>error</status>"
                "<errcode>1019</errcode><errtext>Invalid user IP address"
                "</errtext></result></create_session></server>"
            )
        if login != self.login and not any(c["login"] == login for c in self.clients.values()):
            return self._packet(
                "<server><create_session><result><status>error</status>"
                "<errcode>1013</errcode><errtext>User does not exist"
                "</errtext></result></create_session></server>"
            )
        token = secrets.token_hex(16)
        self.sessions.append(token)
        self.session_ips[token] = address
        self._session_logins[token] = login
        return self._packet(
            "<server><create_session><result><status>ok</status>"
            f"<id>{token}</id></result></create_session></server>"
        )

    def _session_init(self, request: Request) -> Reply:
        token = request.query.get("PLESKSESSID", "")
        address = self.session_ips.pop(token, None)  # a session token is good once
        login = self._session_logins.pop(token, None)
        if address is None or login is None or address != request.client:
            return Reply(303, "", {"Location": "/login_up.php"})
        self.logins.append((login, address))
        return Reply(303, "", {"Location": "/smb/web/view", "Set-Cookie": f"PLESKSESSID={token}"})

    def _xml_authorized(self, request: Request) -> bool:
        if request.header("key"):
            return request.header("key") == self.api_key
        return (request.header("http_auth_login"), request.header("http_auth_passwd")) == (
            self.login,
            self.password,
        )

    @staticmethod
    def _packet(inner: str) -> Reply:
        body = f'<?xml version="1.0" encoding="UTF-8"?><packet version="1.6.9.1">{inner}</packet>'
        return Reply(200, body, {"Content-Type": "text/xml"})

    def _xml_api(self, request: Request) -> Reply:
        if not self._xml_authorized(request):
            return self._packet(
                "<system><status>error</status><errcode>1001</errcode>"
                "<errtext>Authentication failed - wrong password.</errtext></system>"
            )
        try:
            root = ET.fromstring(request.body)
        except ET.ParseError:
            return self._packet(
                "<system><status>error</status><errcode>1014</errcode>"
                "<errtext>Parser error: Request is invalid.</errtext></system>"
            )
        if (session := root.find("server/create_session")) is not None:
            return self._create_session(session)
        if (get := root.find("webspace/get")) is not None:
            return self._webspace_get(get)
        if (addons := root.find("service-plan-addon/get")) is not None:
            return self._addon_plans_get(addons)
        for operation in ("add-subscription", "remove-subscription"):
            if (node := root.find(f"webspace/{operation}")) is not None:
                return self._addon_attach(operation, node)
        return self._packet(
            "<system><status>error</status><errcode>1014</errcode>"
            "<errtext>Unsupported operation.</errtext></system>"
        )

    _INVALID = (
        "<system><status>error</status><errcode>1014</errcode>"
        "<errtext>Parser error: Request is invalid. {}</errtext></system>"
    )

    def _webspace_get(self, get: ET.Element) -> Reply:
        name = get.findtext("filter/name")
        dataset = get.find("dataset")
        if name is None or dataset is None:
            return self._packet(self._INVALID.format("'get' needs a filter and a dataset."))
        domain = next((d for d in self.domains.values() if d["name"] == name), None)
        if domain is None:
            return self._packet(
                "<webspace><get><result><status>error</status>"
                "<errcode>1013</errcode><errtext>domain does not exist"
                "</errtext></result></get></webspace>"
            )
        data = ""
        if dataset.find("gen_info") is not None:
            data += (
                f"<gen_info><name>{escape(name)}</name>"
                f"<real_size>{self.disk_bytes.get(name, 0)}</real_size></gen_info>"
            )
        if dataset.find("stat") is not None:
            data += f"<stat><traffic>{self.traffic_bytes.get(name, 0)}</traffic></stat>"
        if dataset.find("subscriptions") is not None:
            guids = [self.plan_guids[domain["plan"]], *domain["addons"]]
            plans = "".join(f"<plan><plan-guid>{g}</plan-guid></plan>" for g in guids)
            data += (
                "<subscriptions><subscription><locked>false</locked>"
                f"<synchronized>true</synchronized>{plans}</subscription></subscriptions>"
            )
        return self._packet(
            f"<webspace><get><result><status>ok</status><filter-id>{escape(name)}</filter-id>"
            f"<data>{data}</data></result></get></webspace>"
        )

    def _addon_plans_get(self, get: ET.Element) -> Reply:
        criteria = get.find("filter")
        if criteria is None:
            return self._packet(self._INVALID.format("'get' needs a filter."))
        names = [n.text or "" for n in criteria.findall("name")]
        guids = [g.text or "" for g in criteria.findall("guid")]
        results = ""
        if not names and not guids:
            wanted = list(self.addon_plans.items())
        else:
            wanted = []
            for key in names + guids:
                found = next(((n, g) for n, g in self.addon_plans.items() if key in (n, g)), None)
                if found is None:
                    results += (
                        "<result><status>error</status><errcode>1013</errcode>"
                        f"<errtext>Add-on plan does not exist</errtext>"
                        f"<filter-id>{escape(key)}</filter-id></result>"
                    )
                else:
                    wanted.append(found)
        for position, (name, guid) in enumerate(wanted, start=1):
            results += (
                f"<result><status>ok</status><filter-id>{escape(name)}</filter-id>"
                f"<id>{position}</id><guid>{guid}</guid><name>{escape(name)}</name></result>"
            )
        return self._packet(f"<service-plan-addon><get>{results}</get></service-plan-addon>")

    def _addon_attach(self, operation: str, node: ET.Element) -> Reply:
        children = [child.tag for child in node]
        if children != ["filter", "plan-guid"]:
            return self._packet(
                self._INVALID.format(f"'{operation}' takes a filter, then a plan-guid.")
            )

        def result(status: str, error: str = "", extra: str = "") -> Reply:
            detail = f"<errcode>1013</errcode><errtext>{error}</errtext>" if error else extra
            return self._packet(
                f"<webspace><{operation}><result><status>{status}</status>{detail}"
                f"</result></{operation}></webspace>"
            )

        name = node.findtext("filter/name") or ""
        guid = node.findtext("plan-guid") or ""
        domain = next((d for d in self.domains.values() if d["name"] == name), None)
        if domain is None:
            return result("error", "Subscription does not exist")
        if guid not in self.addon_plans.values():
            return result("error", "Add-on plan does not exist")
        attached = guid in domain["addons"]
        if operation == "add-subscription":
            if attached:
                return result("error", "The add-on plan is already added to the subscription")
            domain["addons"].append(guid)
        else:
            if not attached:
                return result("error", "The add-on plan is not added to the subscription")
            domain["addons"].remove(guid)
        return result("ok", extra=f"<filter-id>{escape(name)}</filter-id><id>{domain['id']}</id>")
