"""Plesk Obsidian through its REST API (``/api/v2``), plus the XML API where REST has no call.

The calls follow Plesk Obsidian 18.0's published references: the REST API
(https://docs.plesk.com/en-US/obsidian/api-rpc/, ``/api/v2``) and the XML API
protocol 1.6.9.1 (schemas at http://plesk.github.io/api-schemas/1.6.9.1/;
``server/create_session``: https://docs.plesk.com/en-US/obsidian/api-rpc/reference/managing-plesk-server/creating-session-tokens.73865).

An account is a Plesk customer (login = the generated username) owning one
subscription (webspace) for the domain, on a service plan named by ``package``.
``remote_id`` is the customer's id. Authentication: ``X-API-Key`` when the
connection has no username, HTTP basic auth with username/password otherwise.

- create: ``POST /api/v2/clients`` then ``POST /api/v2/domains``; a retry reuses
  the customer when only the first call had gone through.
- suspend / unsuspend / change plan: the ``subscription`` command line utility
  through ``POST /api/v2/cli/subscription/call`` (``--webspace-off``,
  ``--webspace-on``, ``--switch-subscription``), which REST does not cover.
- single sign-on: the XML API ``server/create_session`` operation, then
  ``/enterprise/rsession_init.php?PLESKSESSID=...``, Plesk's documented automatic
  login. Plesk binds the session to the visitor's address (``user_ip``, required
  by the schema): the module sends the address of the client's browser, which
  the client area reads behind our proxies and passes down (``client_ip``);
  ``extra["sso_user_ip"]`` is only a fallback for callers that cannot know it,
  and without either the link is refused rather than made for an address that
  would not be logged in.
- usage: the XML API ``webspace/get`` with the ``gen_info`` and ``stat`` datasets.
- add-ons (``options["addons"]``: names of Plesk add-on plans, such as a backup or
  SSL add-on sold as an option): the XML API's ``service-plan-addon/get`` finds their
  GUIDs, ``webspace/add-subscription`` and ``webspace/remove-subscription`` attach and
  detach them (https://docs.plesk.com/en-US/obsidian/api-rpc/about-xml-api/reference/managing-subscriptions/adding-an-addon-plan-to-a-subscription.66368),
  on create and on every change of options, and ``webspace/get`` with the
  ``subscriptions`` dataset (the GUIDs of the service plan and its add-on plans) tells
  ``read_account`` which are attached.
"""

from __future__ import annotations

import base64
import logging
import re
import xml.etree.ElementTree as ET
from typing import Any
from xml.sax.saxutils import escape

import httpx

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

_EXISTS = re.compile(r"already exists|already in use|already taken", re.IGNORECASE)
_XML_AUTH_ERRORS = {"1001", "1002"}  # XML API: wrong password / unknown login


class PleskModule(ServerModule):
    name = "plesk"
    label = "Plesk"

    def _auth_headers(self) -> dict[str, str]:
        if self.connection.username:
            token = f"{self.connection.username}:{self.connection.secret}".encode()
            return {"Authorization": "Basic " + base64.b64encode(token).decode()}
        return {"X-API-Key": self.connection.secret}

    # REST plumbing.

    def _rest(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, f"/api/v2{path}", **kwargs)
        if response.status_code >= 400:
            message = _rest_error(response)
            if response.status_code in (400, 409, 422) and _EXISTS.search(message):
                raise AccountExistsError(f"plesk: {method} {path} refused", self._scrub(message))
            self._check_status(response, message)
        return self._json(response)

    def _cli(self, utility: str, *params: str) -> str:
        body = self._rest("POST", f"/cli/{utility}/call", json={"params": list(params)})
        if not isinstance(body, dict) or "code" not in body:
            raise self._malformed(f"cli {utility}", body)
        if body["code"] != 0:
            message = body.get("stderr") or body.get("stdout") or f"exit code {body['code']}"
            raise PermanentModuleError(
                f"plesk: {utility} {params[0] if params else ''} failed", self._scrub(message)
            )
        return str(body.get("stdout") or "")

    # Account lookups.

    def _client_by_login(self, login: str) -> dict[str, Any] | None:
        clients = self._rest("GET", "/clients")
        if not isinstance(clients, list):
            raise self._malformed("GET /clients", clients)
        for client in clients:
            if isinstance(client, dict) and client.get("login") == login:
                return client
        return None

    def _subscriptions(self, client_id: str) -> list[dict[str, Any]]:
        domains = self._rest("GET", f"/clients/{client_id}/domains")
        if not isinstance(domains, list):
            raise self._malformed("GET /clients/{id}/domains", domains)
        # Add-on domains live inside a subscription; only subscriptions have base_domain_id 0.
        return [
            domain
            for domain in domains
            if isinstance(domain, dict) and not domain.get("base_domain_id")
        ]

    def find_account(self, username: str) -> AccountResult | None:
        client = self._client_by_login(username)
        if client is None:
            return None
        subscriptions = self._subscriptions(str(client["id"]))
        if not subscriptions:
            return None  # a half-made account: create finishes it
        return AccountResult(
            remote_id=str(client["id"]),
            username=username,
            details={
                "domain": subscriptions[0].get("name", ""),
                "customer_guid": client.get("guid", ""),
                "status": client.get("status", 0),
            },
        )

    # Actions.

    def create_account(self, spec: AccountSpec) -> AccountResult:
        result = super().create_account(spec)
        # Also when the account was made by an earlier attempt that stopped before them.
        if spec.options.get("addons"):
            self._addons_set(spec.domain, list(spec.options["addons"]))
        return result

    def _create_account(self, spec: AccountSpec) -> AccountResult:
        client = self._client_by_login(spec.username)
        if client is None:
            payload: dict[str, Any] = {
                "name": spec.username,  # contact name: pseudonymous on purpose
                "login": spec.username,
                "password": spec.password,
                "type": "customer",
                "external_id": spec.username,
            }
            if spec.options.get("contact_email_alias"):
                payload["email"] = spec.options["contact_email_alias"]
            client = self._rest("POST", "/clients", json=payload)
            if not isinstance(client, dict) or "id" not in client:
                raise self._malformed("POST /clients", client)
        client_id = str(client["id"])
        subscription: dict[str, Any] = {
            "name": spec.domain,
            "hosting_type": "virtual",
            "hosting_settings": {"ftp_login": spec.username, "ftp_password": spec.password},
            "owner_client": {"id": int(client_id)},
            # An option may name another service plan, as change_options would switch to.
            "plan": {"name": str(spec.options.get("package") or spec.package)},
        }
        if self.connection.extra.get("ipv4"):
            subscription["ipv4"] = list(self.connection.extra["ipv4"])
        created = self._rest("POST", "/domains", json=subscription)
        if not isinstance(created, dict) or "id" not in created:
            raise self._malformed("POST /domains", created)
        logger.info("plesk: created customer %s on %s", spec.username, self.connection.hostname)
        return AccountResult(
            remote_id=client_id,
            username=spec.username,
            details={
                "domain": spec.domain,
                "package": str(spec.options.get("package") or spec.package),
                "subscription_id": str(created["id"]),
            },
        )

    def _subscription_names(self, remote_id: str) -> list[str]:
        names = [domain["name"] for domain in self._subscriptions(remote_id) if "name" in domain]
        if not names:
            raise PermanentModuleError(f"plesk: customer {remote_id} has no subscription")
        return names

    def suspend(self, remote_id: str, reason: str = "") -> None:
        for name in self._subscription_names(remote_id):
            self._cli("subscription", "--webspace-off", name)

    def unsuspend(self, remote_id: str) -> None:
        for name in self._subscription_names(remote_id):
            self._cli("subscription", "--webspace-on", name)

    def terminate(self, remote_id: str) -> None:
        # Removing the customer removes its subscriptions with it.
        response = self._send("DELETE", f"/api/v2/clients/{remote_id}")
        if response.status_code == 404:
            return  # already gone: a retried terminate
        self._check_status(response, _rest_error(response))
        self._json(response)  # a 200 that is not Plesk's JSON did not come from Plesk

    def change_package(self, remote_id: str, package: str) -> None:
        for name in self._subscription_names(remote_id):
            self._cli("subscription", "--switch-subscription", name, "-service-plan", package)

    def change_options(self, remote_id: str, package: str, options: dict[str, Any]) -> None:
        """The service plan an option names (or the plan's own), then the disk quota the
        options add up to, set on the subscription itself."""
        for name in self._subscription_names(remote_id):
            self._cli(
                "subscription",
                "--switch-subscription",
                name,
                "-service-plan",
                str(options.get("package") or package),
            )
            if options.get("disk_gb"):
                self._cli("subscription", "--update", name, "-hard_quota", f"{options['disk_gb']}G")
            self._addons_set(name, list(options.get("addons") or []))

    # Add-on plans.

    def _addon_plans(self) -> dict[str, str]:
        """Every add-on plan of the requester, GUID -> name."""
        plans: dict[str, str] = {}
        for result in self._xml_results(
            "<service-plan-addon><get><filter/></get></service-plan-addon>",
            "service-plan-addon/get/result",
        ):
            guid, name = result.findtext("guid"), result.findtext("name")
            if result.findtext("status") == "ok" and guid and name:
                plans[guid] = name
        return plans

    def _attached_addons(self, subscription: str, plans: dict[str, str]) -> set[str]:
        result = self._xml(
            "<webspace><get>"
            f"<filter><name>{escape(subscription)}</name></filter>"
            "<dataset><subscriptions/></dataset>"
            "</get></webspace>",
            "webspace/get/result",
        )
        guids = {
            g.text or "" for g in result.iterfind("data/subscriptions/subscription/plan/plan-guid")
        }
        # The service plan's GUID comes back too; only add-on plans' count.
        return guids & set(plans)

    def _addons_set(self, subscription: str, names: list[str]) -> None:
        """Attaches the named add-on plans and detaches the others: read first, so a
        retry does only what is left."""
        plans = self._addon_plans()
        by_name = {name: guid for guid, name in plans.items()}
        unknown = sorted(set(names) - set(by_name))
        if unknown:
            raise PermanentModuleError(
                f"plesk: no add-on plan named {', '.join(unknown)} on {self.connection.hostname}"
            )
        wanted = {by_name[name] for name in names}
        attached = self._attached_addons(subscription, plans)
        for operation, guids in (
            ("add-subscription", wanted - attached),
            ("remove-subscription", attached - wanted),
        ):
            for guid in sorted(guids):
                self._xml(
                    f"<webspace><{operation}>"
                    f"<filter><name>{escape(subscription)}</name></filter>"
                    f"<plan-guid>{escape(guid)}</plan-guid>"
                    f"</{operation}></webspace>",
                    f"webspace/{operation}/result",
                )

    def read_account(self, remote_id: str) -> AccountState:
        try:
            subscriptions = self._subscriptions(remote_id)
        except PermanentModuleError as exc:
            if "HTTP 404" in exc.message:
                return AccountState(status="missing")
            raise
        if not subscriptions:
            return AccountState(status="missing")
        first = subscriptions[0]
        suspended = any(str(s.get("status", "active")) != "active" for s in subscriptions)
        plans = self._addon_plans()
        attached = self._attached_addons(str(first.get("name", "")), plans)
        return AccountState(
            status="suspended" if suspended else "active",
            package=str(first.get("plan", "")),
            options={"addons": sorted(plans[guid] for guid in attached)},
        )

    def sso_url(self, remote_id: str, client_ip: str = "") -> str:
        user_ip = client_ip or str(self.connection.extra.get("sso_user_ip") or "")
        if not user_ip:
            raise PermanentModuleError(
                "plesk: single sign-on needs the address of the client's browser, "
                "which Plesk binds the session to"
            )
        login = self._rest("GET", f"/clients/{remote_id}")
        if not isinstance(login, dict) or not login.get("login"):
            raise self._malformed("GET /clients/{id}", login)
        result = self._xml(
            "<server><create_session>"
            f"<login>{escape(login['login'])}</login>"
            f"<data><user_ip>{base64.b64encode(user_ip.encode()).decode()}</user_ip>"
            "<source_server></source_server></data>"
            "</create_session></server>",
            "server/create_session/result",
        )
        token = result.findtext("id")
        if not token:
            raise self._malformed("create_session")
        self._remember_secret(token)
        return f"{self.connection.base_url}/enterprise/rsession_init.php?PLESKSESSID={token}"

    def usage(self, remote_id: str) -> Usage:
        name = self._subscription_names(remote_id)[0]
        result = self._xml(
            "<webspace><get>"
            f"<filter><name>{escape(name)}</name></filter>"
            "<dataset><gen_info/><stat/></dataset>"
            "</get></webspace>",
            "webspace/get/result",
        )
        real_size = result.findtext("data/gen_info/real_size") or "0"
        traffic = result.findtext("data/stat/traffic") or "0"
        try:
            return Usage(
                disk_mb=round(int(real_size) / (1024 * 1024), 2),
                bandwidth_mb=round(int(traffic) / (1024 * 1024), 2),
            )
        except ValueError as exc:
            raise self._malformed("webspace/get") from exc

    def test_connection(self) -> str:
        server = self._rest("GET", "/server")
        if not isinstance(server, dict) or "panel_version" not in server:
            raise self._malformed("GET /server", server)
        hostname = server.get("hostname") or self.connection.hostname
        return f"Plesk {server['panel_version']} on {hostname}"

    # XML API, for the two things REST lacks.

    def _xml_headers(self) -> dict[str, str]:
        if self.connection.username:
            return {
                "HTTP_AUTH_LOGIN": self.connection.username,
                "HTTP_AUTH_PASSWD": self.connection.secret,
            }
        return {"KEY": self.connection.secret}

    def _xml_packet(self, operation: str) -> ET.Element:
        response = self._send(
            "POST",
            "/enterprise/control/agent.php",
            content=f'<?xml version="1.0" encoding="UTF-8"?><packet>{operation}</packet>',
            headers={"Content-Type": "text/xml", **self._xml_headers()},
        )
        self._check_status(response)
        try:
            # The panel is the provider's own server, and expat refuses entity expansion bombs.
            root = ET.fromstring(response.content)  # noqa: S314
        except ET.ParseError as exc:
            raise PermanentModuleError(
                "plesk: the XML API returned a reply that is not XML",
                self._scrub(response.text[:200]),
            ) from exc
        system = root.find("system")
        if system is not None and system.findtext("status") == "error":
            code, text = system.findtext("errcode") or "", system.findtext("errtext") or ""
            if code in _XML_AUTH_ERRORS:
                raise PermanentModuleError(
                    f"plesk: {self.connection.hostname} refused the credentials", self._scrub(text)
                )
            raise PermanentModuleError("plesk: the XML API refused the request", self._scrub(text))
        return root

    def _xml_results(self, operation: str, result_path: str) -> list[ET.Element]:
        """Every ``result`` of an operation that answers one per object found."""
        return self._xml_packet(operation).findall(result_path)

    def _xml(self, operation: str, result_path: str) -> ET.Element:
        result = self._xml_packet(operation).find(result_path)
        if result is None:
            raise self._malformed(result_path)
        if result.findtext("status") != "ok":
            raise PermanentModuleError(
                f"plesk: {result_path.split('/')[0]} failed",
                self._scrub(result.findtext("errtext") or "no reason given"),
            )
        return result


def _rest_error(response: httpx.Response) -> str:
    """Plesk REST errors are ``{"code": ..., "message": ...}``, sometimes with field ``errors``."""
    try:
        body = response.json()
    except ValueError:
        return " ".join(response.text.split())[:300]
    if not isinstance(body, dict):
        return str(body)[:300]
    message = str(body.get("message") or "")
    errors = body.get("errors")
    if isinstance(errors, dict):
        message += " " + "; ".join(f"{key}: {value}" for key, value in errors.items())
    return message.strip()
