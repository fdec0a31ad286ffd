"""Connect in the local Stripe: connected accounts, their onboarding links and the
onboarding page.

Follows Stripe's API reference, version 2026-10-28.endive: Accounts
(https://docs.stripe.com/api/accounts?api-version=2026-10-28.endive), Account Links
(https://docs.stripe.com/api/account_links?api-version=2026-10-28.endive) and the
``account.updated`` event of https://docs.stripe.com/connect/webhooks. An onboarding
link opens ``/connect/onboarding/<token>`` here, which completes the account at once.
"""

from __future__ import annotations

import copy
import re
import time
from typing import Any

from sandbox.stripe.base import (
    Context,
    Response,
    StripeApiError,
    StripeServerBase,
    metadata_param,
    new_id,
    redirect,
    required,
    simulated,
    token,
)

ACCOUNT_LINK_TTL_S = 300


class ConnectApi(StripeServerBase):
    ROUTES = (
        *StripeServerBase.ROUTES,
        ("POST", "/v1/accounts", "_account_create"),
        ("GET", "/v1/accounts/{id}", "_account_retrieve"),
        ("GET", "/v1/account", "_account_current"),
        ("POST", "/v1/account_links", "_account_link_create"),
    )
    PAGES = (*StripeServerBase.PAGES, (r"/connect/onboarding/([A-Za-z0-9]+)", "_onboarding_page"))

    def __init__(self) -> None:
        super().__init__()
        self._links: dict[str, dict[str, Any]] = {}

    def complete_onboarding(self, account_id: str) -> dict[str, Any]:
        """The reseller finishes Stripe's onboarding: charges and payouts become enabled."""
        with self._lock:
            account = self._accounts[account_id]
            previous = {
                "charges_enabled": account["charges_enabled"],
                "payouts_enabled": account["payouts_enabled"],
                "details_submitted": account["details_submitted"],
                "requirements": copy.deepcopy(account["requirements"]),
            }
            account.update(charges_enabled=True, payouts_enabled=True, details_submitted=True)
            account["requirements"] = {"currently_due": [], "eventually_due": [], "past_due": []}
            account["capabilities"] = {name: "active" for name in account["capabilities"]}
            self._emit(account_id, "account.updated", account, previous=previous)
            return copy.deepcopy(account)

    def _account_create(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        simulated(
            p,
            {
                "type",
                "country",
                "email",
                "metadata",
                "capabilities",
                "business_type",
                "default_currency",
            },
        )
        if ctx.account != ctx.platform:
            raise StripeApiError(400, "Connected accounts cannot create accounts.")
        account_type = required(p, "type")
        if account_type not in ("standard", "express", "custom"):
            raise StripeApiError(
                400, "Invalid type: must be one of standard, express, or custom", param="type"
            )
        requested = tuple((p.get("capabilities") or {}).keys())
        if account_type != "standard" and not requested:
            raise StripeApiError(
                400,
                "You must request the `card_payments` or `transfers` capability for "
                f"{account_type} accounts.",
                param="capabilities",
            )
        account = self._add_account(
            new_id("acct", 16),
            platform=ctx.platform,
            type=account_type,
            country=str(p.get("country") or "US").upper(),
            email=p.get("email"),
            metadata=metadata_param(p),
            onboarded=False,
            capabilities=requested or ("card_payments", "transfers"),
        )
        if p.get("default_currency"):
            account["default_currency"] = p["default_currency"]
        if p.get("business_type"):
            account["business_type"] = p["business_type"]
        return self._render(ctx, account)

    def _account_retrieve(self, ctx: Context, p: dict[str, Any], account_id: str) -> dict[str, Any]:
        simulated(p, set())
        if account_id not in self._accounts or (
            account_id != ctx.platform and self._platform_of.get(account_id) != ctx.platform
        ):
            raise StripeApiError(
                403,
                f"The provided key does not have access to account '{account_id}' (or that "
                "account does not exist). Application access may have been revoked.",
                code="account_invalid",
            )
        return self._render(ctx, self._accounts[account_id])

    def _account_current(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        simulated(p, set())
        return self._render(ctx, self._accounts[ctx.account])

    def _account_link_create(self, ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
        simulated(p, {"account", "refresh_url", "return_url", "type", "collect"})
        account_id = required(p, "account")
        if self._platform_of.get(account_id) != ctx.platform or ctx.account != ctx.platform:
            raise StripeApiError(
                400, f"No such account: '{account_id}'", code="resource_missing", param="account"
            )
        link_type = required(p, "type")
        if link_type not in ("account_onboarding", "account_update"):
            raise StripeApiError(400, f"Invalid type: {link_type}", param="type")
        link_token = token(32)
        created = int(time.time())
        self._links[link_token] = {
            "account": account_id,
            "refresh_url": required(p, "refresh_url"),
            "return_url": required(p, "return_url"),
            "expires_at": created + ACCOUNT_LINK_TTL_S,
            "used": False,
        }
        return {
            "object": "account_link",
            "created": created,
            "expires_at": created + ACCOUNT_LINK_TTL_S,
            "url": f"{self.url}/connect/onboarding/{link_token}",
        }

    def _onboarding_page(
        self, match: re.Match[str], *, query: str, method: str, body: bytes
    ) -> Response | None:
        link = self._links.get(match.group(1))
        if link is None:
            return None
        if link["used"] or link["expires_at"] < time.time():
            return redirect(link["refresh_url"])
        link["used"] = True
        self.complete_onboarding(link["account"])
        return redirect(link["return_url"])
