"""Where a tenant's upstream commands go.

Two implementations of one small interface: ``LocalUpstream`` calls the provider side of
this installation (the public schema), ``RemoteUpstream`` calls another Tessera
installation's resale REST API with the credential its provider issued. Because the
remote side runs the very same ``upstream_command_accept``, a reseller can itself sell to
sub-resellers, and resale chains work across companies.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol

import httpx
from django.conf import settings
from django.db import connection
from django_tenants.utils import get_public_schema_name, schema_context

from core.crypto import secret_decrypt
from provisioning.modules.base import TransientModuleError
from resale.domains import (
    DOMAIN_ACTIONS,
    DomainSecrets,
    contact_as_dict,
    domain_command_receive,
    upstream_domain_manage,
    upstream_domains_check,
)
from resale.escalations import (
    escalation_accept,
    escalation_message_accept,
    escalation_reseller_status_set,
    escalation_view,
)
from resale.models import ResellerAccount, UpstreamLink
from resale.selectors import (
    reseller_statement_summary,
    upstream_service_panel_login_reset,
    upstream_service_sso_url,
    upstream_service_status,
    upstream_services_page,
)
from resale.services import ResaleError, upstream_command_accept


class UpstreamUnavailable(Exception):
    """The upstream could not be reached or failed: try again later."""


class UpstreamRejected(Exception):
    """The upstream refused the command for good (unknown plan, bad state, ...)."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class UpstreamReply:
    status: str  # accepted | done | awaiting_funds
    response: dict


class Upstream(Protocol):
    def send(
        self,
        *,
        idempotency_key: str,
        action: str,
        payload: dict,
        secrets: DomainSecrets | None = None,
    ) -> UpstreamReply:
        """``secrets`` (domain commands: the registrant, an auth code) travel beside the
        command and are stored by nobody as they came."""
        ...

    def service_status(self, *, service_ref: str) -> dict: ...

    def sso_url(self, *, service_ref: str, client_ip: str = "") -> str:
        """A login link for the browser at ``client_ip`` (empty when unknown)."""
        ...

    def panel_login_reset(self, *, service_ref: str) -> dict[str, str]:
        """``{"url", "login", "password"}``: a new password for the client's own panel
        user, where the panel cannot log in by link. Shown once, stored nowhere."""
        ...

    def balance(self) -> dict: ...

    # Domains the provider holds (resale.domains): checked, read and changed at the
    # registrar now. ``secrets`` carry a new registrant contact, in memory only.
    def domain_check(self, *, domains: list[str]) -> list[dict]: ...

    def domain_manage(
        self,
        *,
        service_ref: str,
        operation: str,
        params: dict | None = None,
        secrets: DomainSecrets | None = None,
    ) -> dict: ...

    # The provider's support desk (resale.escalations): a ticket about one service,
    # naming the client by its pseudonymous reference only.
    def escalation_open(
        self, *, idempotency_key: str, service_ref: str, subject: str, messages: list[str]
    ) -> dict:
        """``{"ref", "status"}`` of the provider's ticket; the same key twice, one ticket."""
        ...

    def escalation_message(self, *, ref: str, idempotency_key: str, body: str) -> dict: ...

    def escalation_status(self, *, ref: str, status: str) -> dict: ...

    def escalation_get(self, *, ref: str, after: int = 0) -> dict:
        """The ticket's status and its messages numbered above ``after``."""
        ...

    def services(self, *, after: str = "", limit: int = 200) -> dict:
        """One page of the services the upstream holds for this tenant:
        ``{"results": [...], "next": <after of the next page> | None}``."""
        ...


def _injected_fault() -> str | None:
    """Fault injection for resilience drills (``RESALE_UPSTREAM_FAULT_RATE``, 0 in normal
    operation): the share of upstream calls that fail, half before and half after the
    upstream acted."""
    rate = settings.RESALE_UPSTREAM_FAULT_RATE
    if rate <= 0 or random.random() >= rate:
        return None
    return random.choice(["before", "after"])


class LocalUpstream:
    """The provider of this installation, reached through the public schema."""

    def __init__(self, tenant_schema: str) -> None:
        self.tenant_schema = tenant_schema

    def _account(self) -> ResellerAccount:
        account = ResellerAccount.objects.filter(tenant__schema_name=self.tenant_schema).first()
        if account is None:
            raise UpstreamRejected(
                "This site has no reseller account at the provider.", "no_account"
            )
        return account

    def send(
        self,
        *,
        idempotency_key: str,
        action: str,
        payload: dict,
        secrets: DomainSecrets | None = None,
    ) -> UpstreamReply:
        fault = _injected_fault()
        if fault == "before":
            raise UpstreamUnavailable("Injected fault before the upstream call.")
        with schema_context(get_public_schema_name()):
            try:
                if action in DOMAIN_ACTIONS:
                    result = domain_command_receive(
                        account=self._account(),
                        idempotency_key=idempotency_key,
                        action=action,
                        payload=payload,
                        secrets=secrets,
                    )
                else:
                    result = upstream_command_accept(
                        account=self._account(),
                        idempotency_key=idempotency_key,
                        action=action,
                        payload=payload,
                    )
            except TransientModuleError as exc:
                raise UpstreamUnavailable(f"The registrar cannot be reached: {exc}") from exc
            except ResaleError as exc:
                raise UpstreamRejected(exc.message, exc.code) from exc
        if fault == "after":
            raise UpstreamUnavailable("Injected fault after the upstream call.")
        return UpstreamReply(result.status, result.response)

    def service_status(self, *, service_ref: str) -> dict:
        with schema_context(get_public_schema_name()):
            return upstream_service_status(account=self._account(), service_ref=service_ref)

    def sso_url(self, *, service_ref: str, client_ip: str = "") -> str:
        with schema_context(get_public_schema_name()):
            try:
                return upstream_service_sso_url(
                    account=self._account(), service_ref=service_ref, client_ip=client_ip
                )
            except ResaleError as exc:
                raise UpstreamRejected(exc.message, exc.code) from exc

    def panel_login_reset(self, *, service_ref: str) -> dict[str, str]:
        with schema_context(get_public_schema_name()):
            try:
                return upstream_service_panel_login_reset(
                    account=self._account(), service_ref=service_ref
                )
            except ResaleError as exc:
                raise UpstreamRejected(exc.message, exc.code) from exc

    def balance(self) -> dict:
        with schema_context(get_public_schema_name()):
            return reseller_statement_summary(account=self._account())

    def domain_check(self, *, domains: list[str]) -> list[dict]:
        with schema_context(get_public_schema_name()):
            try:
                return upstream_domains_check(account=self._account(), domains=domains)
            except ResaleError as exc:
                raise UpstreamRejected(exc.message, exc.code) from exc

    def domain_manage(
        self,
        *,
        service_ref: str,
        operation: str,
        params: dict | None = None,
        secrets: DomainSecrets | None = None,
    ) -> dict:
        with schema_context(get_public_schema_name()):
            try:
                return upstream_domain_manage(
                    account=self._account(),
                    service_ref=service_ref,
                    operation=operation,
                    params=params,
                    secrets=secrets,
                )
            except ResaleError as exc:
                if exc.code == "registrar_unavailable":
                    raise UpstreamUnavailable(exc.message) from exc
                raise UpstreamRejected(exc.message, exc.code) from exc

    def escalation_open(
        self, *, idempotency_key: str, service_ref: str, subject: str, messages: list[str]
    ) -> dict:
        with schema_context(get_public_schema_name()):
            try:
                ticket = escalation_accept(
                    account=self._account(),
                    idempotency_key=idempotency_key,
                    service_ref=service_ref,
                    subject=subject,
                    messages=messages,
                )
            except ResaleError as exc:
                raise UpstreamRejected(exc.message, exc.code) from exc
            return {"ref": ticket.public_id, "status": ticket.status}

    def escalation_message(self, *, ref: str, idempotency_key: str, body: str) -> dict:
        with schema_context(get_public_schema_name()):
            try:
                message = escalation_message_accept(
                    account=self._account(),
                    ticket_ref=ref,
                    idempotency_key=idempotency_key,
                    body=body,
                )
            except ResaleError as exc:
                raise UpstreamRejected(exc.message, exc.code) from exc
            return {"seq": message.seq}

    def escalation_status(self, *, ref: str, status: str) -> dict:
        with schema_context(get_public_schema_name()):
            try:
                ticket = escalation_reseller_status_set(
                    account=self._account(), ticket_ref=ref, status=status
                )
            except ResaleError as exc:
                raise UpstreamRejected(exc.message, exc.code) from exc
            return {"status": ticket.status}

    def escalation_get(self, *, ref: str, after: int = 0) -> dict:
        with schema_context(get_public_schema_name()):
            try:
                return escalation_view(account=self._account(), ticket_ref=ref, after=after)
            except ResaleError as exc:
                raise UpstreamRejected(exc.message, exc.code) from exc

    def services(self, *, after: str = "", limit: int = 200) -> dict:
        with schema_context(get_public_schema_name()):
            return upstream_services_page(account=self._account(), after=after, limit=limit)


class RemoteUpstream:
    """Another Tessera installation, over ``/api/resale/v1/``."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.client = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/resale/v1/",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout_s,
            transport=transport,
        )

    def _call(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"The upstream could not be reached: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise UpstreamUnavailable(f"The upstream answered {response.status_code}.")
        try:
            body = response.json()
        except ValueError as exc:
            raise UpstreamUnavailable("The upstream sent a reply that is not JSON.") from exc
        if response.status_code >= 400:
            raise UpstreamRejected(
                body.get("detail") or body.get("title") or f"HTTP {response.status_code}",
                body.get("code", "invalid"),
            )
        return body

    def send(
        self,
        *,
        idempotency_key: str,
        action: str,
        payload: dict,
        secrets: DomainSecrets | None = None,
    ) -> UpstreamReply:
        document: dict = {"action": action, "payload": payload}
        if secrets is not None and secrets.contact is not None:
            document["contact"] = contact_as_dict(secrets.contact)
        if secrets is not None and secrets.auth_code:
            document["auth_code"] = secrets.auth_code
        body = self._call(
            "POST",
            "commands/",
            json=document,
            headers={"Idempotency-Key": idempotency_key},
        )
        return UpstreamReply(body.get("status", "accepted"), body)

    def service_status(self, *, service_ref: str) -> dict:
        return self._call("GET", f"services/{service_ref}/")

    def sso_url(self, *, service_ref: str, client_ip: str = "") -> str:
        body = {"client_ip": client_ip} if client_ip else {}
        return self._call("POST", f"services/{service_ref}/sso/", json=body)["url"]

    def panel_login_reset(self, *, service_ref: str) -> dict[str, str]:
        body = self._call("POST", f"services/{service_ref}/panel-login/")
        return {key: str(body.get(key, "")) for key in ("url", "login", "password")}

    def balance(self) -> dict:
        return self._call("GET", "balance/")

    def domain_check(self, *, domains: list[str]) -> list[dict]:
        return self._call("POST", "domains/check/", json={"domains": domains})["results"]

    def domain_manage(
        self,
        *,
        service_ref: str,
        operation: str,
        params: dict | None = None,
        secrets: DomainSecrets | None = None,
    ) -> dict:
        document: dict = {"params": params or {}}
        if secrets is not None and secrets.contact is not None:
            document["contact"] = contact_as_dict(secrets.contact)
        return self._call("POST", f"domains/{service_ref}/{operation}/", json=document)

    def escalation_open(
        self, *, idempotency_key: str, service_ref: str, subject: str, messages: list[str]
    ) -> dict:
        return self._call(
            "POST",
            "escalations/",
            json={"service_ref": service_ref, "subject": subject, "messages": messages},
            headers={"Idempotency-Key": idempotency_key},
        )

    def escalation_message(self, *, ref: str, idempotency_key: str, body: str) -> dict:
        return self._call(
            "POST",
            f"escalations/{ref}/messages/",
            json={"body": body},
            headers={"Idempotency-Key": idempotency_key},
        )

    def escalation_status(self, *, ref: str, status: str) -> dict:
        return self._call("POST", f"escalations/{ref}/status/", json={"status": status})

    def escalation_get(self, *, ref: str, after: int = 0) -> dict:
        return self._call("GET", f"escalations/{ref}/", params={"after": max(int(after), 0)})

    def services(self, *, after: str = "", limit: int = 200) -> dict:
        body = self._call("GET", "services/", params={"after": after, "limit": limit})
        if not isinstance(body.get("results"), list):
            raise UpstreamUnavailable("The upstream's list of services is not one.")
        return body


def upstream_for_current_tenant() -> Upstream:
    schema = connection.schema_name
    link = UpstreamLink.objects.first()
    if link is None or link.kind == UpstreamLink.Kind.LOCAL:
        return LocalUpstream(schema)
    return RemoteUpstream(link.base_url, secret_decrypt(link.token_encrypted))
