"""The isolation matrix: every URL pattern of both URLconfs, found by walking the URL
resolvers, asked by the people of tenant A, tenant B, the provider and an anonymous visitor.

Each pattern has a row in one of the tables below saying what each of A's people gets
(an anonymous visitor, A's owner, A's read-only staff member, A's client). From that row
the matrix also checks that:

- B's people and the provider, whose sessions live in other schemas, are nobody on A's
  host: they get exactly what the anonymous visitor gets; A's people are nobody on the
  platform host;
- an id of B's object used on A's host is a 404 for whoever A's own object is open to,
  never a 403 or a 200;
- nothing answers with a 5xx.

A pattern without a row fails ``test_every_pattern_has_a_row``: a new page or endpoint
cannot go unchecked. The tenant API (``/api/v1/``) and the provider console's model pages
are classified from what they declare (each API view's scope and model; the admin
registry), so they too cover whatever is added to them.

POSTs are empty and sent only where they decide access without acting (a refusal, a
lookup that fails, a form that does not validate): the point is who gets in, not what the
page does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.tokens import default_token_generator
from django.db import connection
from django.test import Client as Browser
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlencode, urlsafe_base64_encode
from django_tenants.utils import schema_context

from support import services as support_services
from support.attachments import AttachmentUpload
from tests.api.conftest import ALL_SCOPES, public_id_of
from tests.api.conftest import shop_build as api_shop_build

pytestmark = pytest.mark.django_db

TENANT_URLS = "config.urls"
PLATFORM_URLS = "config.urls_public"


# --- the walk ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    urlconf: str
    name: str  # with its namespaces ("console:invoice"); "" when the pattern has none
    template: str  # "/console/invoices/<uuid:public_id>/"
    callback: Callable
    kwargs: tuple[str, ...]  # the names of the values the URL takes

    @property
    def key(self) -> str:
        return self.name or self.template


def _walk(patterns, urlconf: str, prefix: str, namespaces: tuple[str, ...]) -> Iterator[Route]:
    for pattern in patterns:
        template = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = namespaces + ((pattern.namespace,) if pattern.namespace else ())
            yield from _walk(pattern.url_patterns, urlconf, template, inner)
        elif isinstance(pattern, URLPattern):
            name = ":".join((*namespaces, pattern.name)) if pattern.name else ""
            yield Route(
                urlconf, name, template, pattern.callback, tuple(pattern.pattern.regex.groupindex)
            )


def routes(urlconf: str) -> list[Route]:
    found = list(_walk(get_resolver(urlconf).url_patterns, urlconf, "/", ()))
    assert len(found) > 20, f"the walk of {urlconf} found almost nothing"
    return found


def _is_api_v1(route: Route) -> bool:
    return route.urlconf == TENANT_URLS and route.name.startswith("api:v1:")


def _is_resale_api(route: Route) -> bool:
    return route.urlconf == PLATFORM_URLS and route.template.startswith("/api/resale/v1/")


def _is_admin(route: Route) -> bool:
    return route.urlconf == PLATFORM_URLS and route.template.startswith("/admin/")


# --- what an answer may be ---------------------------------------------------------------

LOGIN = "login"  # 302 to /login/?next=...
ADMIN_LOGIN = "admin-login"  # 302 to /admin/login/?next=...
CONSOLE = "console"  # 302 to /console/
OK = "ok"  # let in: any 2xx, or a redirect that is not to a login page
SKIP = "-"  # not asked (the request would end the session it is made with)


def _location(response) -> str:
    return response.get("Location", "")


def _is_login_redirect(response) -> bool:
    return response.status_code == 302 and (
        _location(response).startswith("/login/") or _location(response).startswith("/admin/login/")
    )


def matches(expected: str, response) -> bool:
    status = response.status_code
    if expected == LOGIN:
        return status == 302 and _location(response).startswith("/login/?next=")
    if expected == ADMIN_LOGIN:
        return status == 302 and _location(response).startswith("/admin/login/?next=")
    if expected == CONSOLE:
        return status == 302 and _location(response) == "/console/"
    if expected == OK:
        return status < 400 and not _is_login_redirect(response)
    return status == int(expected)


def is_let_in(expected: str) -> bool:
    """Whether an expectation means the person reaches the object (so that another
    tenant's id must be a 404 for them)."""
    return expected == OK or (expected.isdigit() and int(expected) < 300)


def describe(response) -> str:
    location = _location(response)
    return f"{response.status_code}{' -> ' + location if location else ''}"


# --- the tables ----------------------------------------------------------------------------

ANON, OWNER, READONLY, CLIENT = "anonymous", "owner", "readonly", "client"
TENANT_PEOPLE = (ANON, OWNER, READONLY, CLIENT)


@dataclass(frozen=True)
class Row:
    """What A's people get from one tenant-host pattern: ``get`` lists the answers to a
    GET for the anonymous visitor, the owner, the read-only staff member and the client.
    ``post`` gives the answers to an empty POST, for the people listed. ``ids`` names the
    objects whose ids fill the URL (their B twins are tried too); ``fixed`` fills the
    rest. ``foreign`` overrides the answers expected with B's ids."""

    get: tuple[str, str, str, str]
    post: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    fixed: dict[str, str] = field(default_factory=dict)
    foreign: dict[str, str] = field(default_factory=dict)
    path: str = ""  # for a pattern without a name
    query: dict[str, str] = field(default_factory=dict)  # like ``ids``, in the query string
    # Whether strangers are asked too; not for a link that works once.
    strangers: bool = True

    def expected(self, person: str) -> str:
        return self.get[TENANT_PEOPLE.index(person)]


EVERYONE_200 = ("200", "200", "200", "200")
EVERYONE_404 = ("404", "404", "404", "404")
EVERYONE_405 = ("405", "405", "405", "405")
# portals.common.access.console_page: this tenant's staff only; clients and visitors log in.
STAFF_READ = (LOGIN, "200", "200", LOGIN)
STAFF_LET_IN = (LOGIN, OK, OK, LOGIN)
# capability_require on GET as well: read-only staff are refused.
STAFF_ADMIN_ONLY = (LOGIN, "200", "403", LOGIN)
# An empty POST to a page with ``write=``: the capability is checked before anything else.
WRITE_REFUSED = {ANON: LOGIN, READONLY: "403", CLIENT: LOGIN}
# portals.common.access.client_page: the signed-in client; staff go to the console.
CLIENT_READ = (LOGIN, CONSOLE, CONSOLE, "200")
CLIENT_LET_IN = (LOGIN, CONSOLE, CONSOLE, OK)
# allauth pages that need a signed-in person.
SIGNED_IN = (LOGIN, "200", "200", "200")
# allauth pages for people who are not signed in; signed-in ones are sent on.
SIGNED_OUT = ("200", OK, OK, OK)
# allauth's two-factor pages that need a TOTP device: nobody here has one.
SIGNED_IN_WITH_TOTP = (LOGIN, "404", "404", "404")
# allauth's pages behind a fresh password: a signed-in person is asked for it first.
SIGNED_IN_RECENTLY = (LOGIN, OK, OK, OK)

# A POST about a client's domain: the client's own domain services only.
DOMAIN_POST = {ANON: LOGIN, OWNER: CONSOLE, READONLY: CONSOLE, CLIENT: "404"}

TENANT_ROWS: dict[str, Row] = {
    # storefront
    "home": Row(EVERYONE_200),
    "healthz": Row(EVERYONE_200),
    "login": Row(SIGNED_OUT),
    "account_login": Row(SIGNED_OUT),
    # Logging out is a POST; a GET is refused (a POST would end the session under test).
    "logout": Row(EVERYONE_405),
    "account_logout": Row(EVERYONE_405),
    # A's owner's own link logs a visitor in, once; the same user id with B's token is
    # void. (Signed-in people are not asked: logging in again would end their session.)
    "login-link": Row(
        (CONSOLE, SKIP, SKIP, SKIP),
        ids={"uidb64": "owner_uid", "token": "owner_token"},
        foreign={ANON: "400"},
        strangers=False,
    ),
    "shop:plan": Row(EVERYONE_200, ids={"public_id": "plan"}),
    "shop:plan-price": Row(EVERYONE_200, ids={"public_id": "plan"}),
    # Slugs are names, not ids: both tenants have a "hosting" group.
    "shop:group": Row(EVERYONE_200, fixed={"slug": "hosting"}),
    "shop:domains": Row(EVERYONE_200),
    "shop:domain-add": Row(EVERYONE_405),
    # An empty transfer form is refused with a message, back to the search.
    "shop:domain-transfer": Row(EVERYONE_405, post={p: OK for p in TENANT_PEOPLE}),
    "shop:cart": Row(EVERYONE_200),
    # The domain step of an item in the browser's own cart: nobody here has that item.
    "shop:cart-item-domain": Row(EVERYONE_404, fixed={"item_id": "999999"}),
    "shop:checkout": Row((OK, OK, OK, OK)),
    # The tax of the browser's own cart: nobody here has one.
    "shop:checkout-quote": Row(("400", "400", "400", "400")),
    # The order page is its client's: staff are not a client and are asked to log in.
    "shop:order": Row((LOGIN, LOGIN, LOGIN, "200"), ids={"public_id": "order"}),
    "shop:language": Row(EVERYONE_405, post={p: OK for p in TENANT_PEOPLE}),
    "shop:terms": Row(EVERYONE_404),  # A has no terms
    "shop:brand-asset": Row(EVERYONE_404, fixed={"kind": "logo"}),  # nor a logo
    # account pages of allauth (/auth/)
    "account_reauthenticate": Row(SIGNED_IN),
    "account_inactive": Row(EVERYONE_200),
    "account_reset_password": Row(SIGNED_OUT),
    "account_reset_password_done": Row(SIGNED_OUT),
    "account_reset_password_from_key": Row(
        SIGNED_OUT, fixed={"uidb36": "1", "key": "set-password"}
    ),
    "account_reset_password_from_key_done": Row(SIGNED_OUT),
    "mfa_index": Row(SIGNED_IN),
    # The code step of a login under way; without one, everybody is sent on.
    "mfa_authenticate": Row(("302", "302", "302", "302")),
    "mfa_reauthenticate": Row(SIGNED_IN_RECENTLY),
    "mfa_activate_totp": Row(SIGNED_IN_RECENTLY),
    "mfa_deactivate_totp": Row(SIGNED_IN_WITH_TOTP),
    "mfa_view_recovery_codes": Row(SIGNED_IN_WITH_TOTP),
    "mfa_generate_recovery_codes": Row(SIGNED_IN_RECENTLY),
    "mfa_download_recovery_codes": Row(SIGNED_IN_WITH_TOTP),
    # reseller console
    "console:home": Row(STAFF_READ),
    "console:clients": Row(STAFF_READ),
    "console:client-new": Row(STAFF_READ, post=WRITE_REFUSED),
    "console:client": Row(STAFF_READ, post=WRITE_REFUSED, ids={"public_id": "client"}),
    # Login as client: GET goes back to the client's page; a POST needs the capability.
    "console:client-login-as": Row(STAFF_LET_IN, post=WRITE_REFUSED, ids={"public_id": "client"}),
    # Only a login as client in progress may end (django-hijack refuses everyone else).
    "console:client-login-as-end": Row(
        ("403", "403", "403", "403"), post={p: "403" for p in TENANT_PEOPLE}
    ),
    "console:client-export": Row(STAFF_ADMIN_ONLY, ids={"public_id": "client"}),
    "console:orders": Row(STAFF_READ),
    "console:order": Row(STAFF_READ, ids={"public_id": "order"}),
    "console:services": Row(STAFF_READ),
    "console:service": Row(STAFF_READ, post=WRITE_REFUSED, ids={"public_id": "service"}),
    "console:service-options": Row(STAFF_READ, post=WRITE_REFUSED, ids={"public_id": "service"}),
    "console:invoices": Row(STAFF_READ),
    "console:payments-received": Row(STAFF_READ),
    "console:invoice-new": Row(STAFF_READ, post=WRITE_REFUSED),
    "console:invoice": Row(STAFF_READ, post=WRITE_REFUSED, ids={"public_id": "invoice"}),
    # Documents: the file, or 202 while it is rendered, or back to the invoice.
    "console:invoice-pdf": Row(STAFF_LET_IN, ids={"public_id": "invoice"}),
    "console:invoice-einvoice": Row(STAFF_LET_IN, ids={"public_id": "invoice"}),
    "console:invoice-fatturapa": Row(STAFF_LET_IN, ids={"public_id": "invoice"}),
    "console:credit-note-einvoice": Row(STAFF_LET_IN, ids={"public_id": "credit_note"}),
    "console:credit-note-fatturapa": Row(STAFF_LET_IN, ids={"public_id": "credit_note"}),
    "console:catalogue": Row(STAFF_READ, post=WRITE_REFUSED),
    "console:catalogue-import": Row(STAFF_READ, post=WRITE_REFUSED),
    "console:product-tax-category": Row(
        STAFF_LET_IN, post=WRITE_REFUSED, ids={"public_id": "product"}
    ),
    "console:catalogue-groups": Row(STAFF_READ, post=WRITE_REFUSED),
    "console:catalogue-product-new": Row(STAFF_READ, post=WRITE_REFUSED),
    "console:catalogue-option-new": Row(STAFF_READ, post=WRITE_REFUSED),
    "console:catalogue-product": Row(STAFF_READ, post=WRITE_REFUSED, ids={"public_id": "product"}),
    "console:catalogue-plan-new": Row(STAFF_READ, post=WRITE_REFUSED, ids={"public_id": "product"}),
    "console:catalogue-plan": Row(STAFF_READ, post=WRITE_REFUSED, ids={"public_id": "plan"}),
    # A move is a POST; a GET goes back to the list.
    "console:catalogue-product-move": Row(
        STAFF_LET_IN, post=WRITE_REFUSED, ids={"public_id": "product"}
    ),
    "console:catalogue-plan-move": Row(STAFF_LET_IN, post=WRITE_REFUSED, ids={"public_id": "plan"}),
    "console:catalogue-translations": Row(
        STAFF_READ, post=WRITE_REFUSED, fixed={"kind": "plan"}, ids={"key": "plan"}
    ),
    # Groups and options are named by their row number in the tenant's own schema: no
    # other tenant's row can be named. A number naming nothing is a 404.
    "console:catalogue-group": Row(
        (LOGIN, "404", "404", LOGIN), post=WRITE_REFUSED, fixed={"pk": "0"}
    ),
    "console:catalogue-group-move": Row(
        (LOGIN, "404", "404", LOGIN), post=WRITE_REFUSED, fixed={"pk": "0"}
    ),
    "console:catalogue-option": Row(
        (LOGIN, "404", "404", LOGIN), post=WRITE_REFUSED, fixed={"pk": "0"}
    ),
    "console:plan-domain-policy": Row(STAFF_LET_IN, post=WRITE_REFUSED, ids={"public_id": "plan"}),
    "console:branding": Row(STAFF_READ, post=WRITE_REFUSED),
    "console:email-templates": Row(STAFF_READ),
    # A tenant's e-mail texts are named by kind and language, in its own schema only.
    "console:email-template": Row(
        STAFF_READ, post=WRITE_REFUSED, fixed={"kind": "invoice_issued", "language": "it"}
    ),
    "console:domains": Row(STAFF_READ, post=WRITE_REFUSED),
    # The domains clients bought (not the portal's own hosts); a restore is a POST, and
    # A's service is hosting, not a domain: nothing to restore.
    "console:registered-domains": Row(STAFF_READ),
    "console:registered-domain-restore": Row(
        EVERYONE_405, post={**WRITE_REFUSED, OWNER: "404"}, ids={"public_id": "service"}
    ),
    "console:staff": Row(STAFF_READ, post=WRITE_REFUSED),
    "console:upstream": Row(STAFF_READ, post=WRITE_REFUSED),
    "console:reconciliation": Row(STAFF_READ, post=WRITE_REFUSED),
    "console:settings": Row(STAFF_READ, post=WRITE_REFUSED),
    "console:taxes": Row(STAFF_READ, post=WRITE_REFUSED),
    "console:tax-reports": Row(STAFF_READ),
    "console:reports": Row(STAFF_READ),
    "console:report": Row(STAFF_READ, fixed={"report": "mrr"}),
    "console:api-keys": Row(STAFF_READ, post=WRITE_REFUSED),
    "console:api-key-revoke": Row(
        STAFF_ADMIN_ONLY, post=WRITE_REFUSED, ids={"public_id": "api_key"}
    ),
    # Payments: the Stripe account (Connect) and the balance at the provider. The owner's
    # refresh would start an onboarding at Stripe, so only the refusal is asked for.
    "console:payments": Row(STAFF_READ, post=WRITE_REFUSED),
    "console:payments-return": Row(STAFF_LET_IN),  # no Stripe account yet: back
    "console:payments-refresh": Row((LOGIN, SKIP, "403", LOGIN)),
    "console:balance": Row(STAFF_READ, post=WRITE_REFUSED),
    "console:balance-return": Row(STAFF_LET_IN),  # no top-up named: back to the balance
    "console:webhooks": Row(STAFF_READ, post=WRITE_REFUSED),
    "console:webhook": Row(STAFF_READ, post=WRITE_REFUSED, ids={"public_id": "endpoint"}),
    "console:webhook-rotate": Row(
        STAFF_ADMIN_ONLY, post=WRITE_REFUSED, ids={"public_id": "endpoint"}
    ),
    "console:webhook-delete": Row(
        STAFF_ADMIN_ONLY, post=WRITE_REFUSED, ids={"public_id": "endpoint"}
    ),
    # A GET goes back to the endpoint's page; replaying is a POST.
    "console:webhook-replay": Row(
        STAFF_LET_IN,
        post=WRITE_REFUSED,
        ids={"public_id": "endpoint", "delivery_id": "delivery"},
    ),
    # support desk (console): queues, a ticket, one view per action (a GET goes back to
    # the ticket), attachments, settings
    "console:tickets": Row(STAFF_READ),
    "console:ticket": Row(STAFF_READ, ids={"public_id": "ticket"}),
    "console:ticket-reply": Row(STAFF_LET_IN, post=WRITE_REFUSED, ids={"public_id": "ticket"}),
    "console:ticket-update": Row(STAFF_LET_IN, post=WRITE_REFUSED, ids={"public_id": "ticket"}),
    "console:ticket-assign": Row(STAFF_LET_IN, post=WRITE_REFUSED, ids={"public_id": "ticket"}),
    "console:ticket-merge": Row(STAFF_LET_IN, post=WRITE_REFUSED, ids={"public_id": "ticket"}),
    "console:ticket-split": Row(STAFF_LET_IN, post=WRITE_REFUSED, ids={"public_id": "ticket"}),
    "console:ticket-attachment": Row(STAFF_LET_IN, ids={"public_id": "attachment"}),
    "console:department-mailbox": Row(
        STAFF_READ, post=WRITE_REFUSED, ids={"public_id": "department"}
    ),
    "console:inbound-email-raw": Row(STAFF_LET_IN, ids={"public_id": "inbound"}),
    "console:ticket-escalate": Row(STAFF_READ, post=WRITE_REFUSED, ids={"public_id": "ticket"}),
    "console:escalation-message": Row(
        EVERYONE_405, post=WRITE_REFUSED, ids={"public_id": "ticket"}
    ),
    "console:escalation-status": Row(EVERYONE_405, post=WRITE_REFUSED, ids={"public_id": "ticket"}),
    # The matrix's ticket was never escalated: no answer to forward, on A's host or B's.
    "console:escalation-forward": Row(
        (LOGIN, "404", "404", LOGIN),
        post=WRITE_REFUSED,
        ids={"public_id": "ticket", "message_id": "ticket"},
    ),
    "console:support-settings": Row(STAFF_READ, post=WRITE_REFUSED),
    "console:department-new": Row(STAFF_READ, post=WRITE_REFUSED),
    "console:department": Row(STAFF_READ, post=WRITE_REFUSED, ids={"public_id": "department"}),
    "console:canned-new": Row(STAFF_READ, post=WRITE_REFUSED),
    "console:canned": Row(STAFF_READ, post=WRITE_REFUSED, ids={"public_id": "canned"}),
    # client area
    "account:dashboard": Row(CLIENT_READ),
    "account:services": Row(CLIENT_READ),
    "account:service": Row(CLIENT_READ, ids={"public_id": "service"}),
    # Opening the panel is a POST; this service has none, so the client is sent back.
    "account:service-panel": Row(
        EVERYONE_405,
        post={ANON: LOGIN, OWNER: CONSOLE, READONLY: CONSOLE, CLIENT: OK},
        ids={"public_id": "service"},
    ),
    # A new panel password is a POST too; with no panel the client is sent back as well.
    "account:service-panel-login": Row(
        EVERYONE_405,
        post={ANON: LOGIN, OWNER: CONSOLE, READONLY: CONSOLE, CLIENT: OK},
        ids={"public_id": "service"},
    ),
    "account:service-upgrade": Row(CLIENT_READ, ids={"public_id": "service"}),
    # A domain's page and its changes (POSTs): A's service is hosting, not a domain, so
    # even its own client gets a 404; B's is a 404 as well.
    "account:domain": Row((LOGIN, CONSOLE, CONSOLE, "404"), ids={"public_id": "service"}),
    "account:domain-change": Row(
        EVERYONE_405,
        post=DOMAIN_POST,
        ids={"public_id": "service"},
        fixed={"change": "lock"},
    ),
    "account:domain-contact": Row(EVERYONE_405, post=DOMAIN_POST, ids={"public_id": "service"}),
    "account:domain-auto-renew": Row(EVERYONE_405, post=DOMAIN_POST, ids={"public_id": "service"}),
    "account:domain-auth-code": Row(EVERYONE_405, post=DOMAIN_POST, ids={"public_id": "service"}),
    "account:domain-restore": Row(EVERYONE_405, post=DOMAIN_POST, ids={"public_id": "service"}),
    "account:domain-transfer-retry": Row(
        EVERYONE_405, post=DOMAIN_POST, ids={"public_id": "service"}
    ),
    "account:service-cancel": Row(CLIENT_READ, ids={"public_id": "service"}),
    "account:invoices": Row(CLIENT_READ),
    "account:invoice": Row(CLIENT_READ, ids={"public_id": "invoice"}),
    "account:invoice-pdf": Row(CLIENT_LET_IN, ids={"public_id": "invoice"}),
    "account:invoice-einvoice": Row(CLIENT_LET_IN, ids={"public_id": "invoice"}),
    "account:invoice-pay": Row(CLIENT_READ, ids={"public_id": "invoice"}),
    # Card payment: a GET goes to the pay page (the POST would open Stripe's page).
    "account:invoice-card": Row(CLIENT_LET_IN, ids={"public_id": "invoice"}),
    # Back from Stripe: the attempt must be of this invoice and client.
    "account:invoice-card-return": Row(
        CLIENT_LET_IN, ids={"public_id": "invoice"}, query={"attempt": "attempt"}
    ),
    # An empty POST names no saved card of this client: 404.
    "account:payment-methods": Row(
        CLIENT_READ, post={ANON: LOGIN, OWNER: CONSOLE, READONLY: CONSOLE, CLIENT: "404"}
    ),
    "account:payment-methods-return": Row(CLIENT_LET_IN),  # no card saved: back
    "account:profile": Row(CLIENT_READ),
    "account:privacy": Row(CLIENT_READ),
    "account:tickets": Row(CLIENT_READ),
    "account:ticket-new": Row(CLIENT_READ),
    "account:ticket": Row(CLIENT_READ, ids={"public_id": "ticket"}),
    # Closing is a POST, the client's own ticket only.
    "account:ticket-close": Row(
        EVERYONE_405,
        post={ANON: LOGIN, OWNER: CONSOLE, READONLY: CONSOLE, CLIENT: OK},
        ids={"public_id": "ticket"},
    ),
    # The file of a message the client sees, on its own ticket.
    "account:ticket-attachment": Row(CLIENT_LET_IN, ids={"public_id": "attachment"}),
    # the API's own pages (the v1 endpoints are classified by their views)
    "api:schema": Row(EVERYONE_200),
    "api:docs": Row(EVERYONE_200),
    "api:docs-asset": Row(EVERYONE_404, fixed={"name": "nothing.js"}),
    "/api/^[\\s\\S]*$": Row(EVERYONE_404, path="/api/nothing-here/"),
    # payments: Stripe's webhook is a POST signed by Stripe; an unsigned one is refused.
    "payments:stripe-webhook": Row(EVERYONE_405, post={ANON: "400"}),
    # The return page looks the attempt up in this schema. A's own attempt would be
    # synchronised with Stripe, so only B's (a 404 here) is tried.
    "payments:return": Row(
        (SKIP, SKIP, SKIP, SKIP),
        ids={"reference": "attempt"},
        foreign={p: "404" for p in TENANT_PEOPLE},
    ),
}

PROVIDER = "provider"
PLATFORM_PEOPLE = (ANON, PROVIDER)


@dataclass(frozen=True)
class PlatformRow:
    """What the anonymous visitor and the provider admin get from a platform pattern; A's
    owner and client, unknown in the public schema, get what the visitor gets."""

    get: tuple[str, str]
    fixed: dict[str, str] = field(default_factory=dict)
    path: str = ""
    # A tenant's object tried on the platform host: person -> answer.
    tenant_ids: dict[str, str] = field(default_factory=dict)
    tenant_answers: dict[str, str] = field(default_factory=dict)

    def expected(self, person: str) -> str:
        return self.get[PLATFORM_PEOPLE.index(person)]


PLATFORM_ROWS: dict[str, PlatformRow] = {
    "home": PlatformRow(("200", "302")),  # the provider goes on to /provider/
    "healthz": PlatformRow(("200", "200")),
    "login": PlatformRow(("200", OK)),
    "account_login": PlatformRow(("200", OK)),
    "logout": PlatformRow(("405", "405")),
    "account_logout": PlatformRow(("405", "405")),
    # A tenant owner's link names a user of A's schema: void here.
    "login-link": PlatformRow(
        (SKIP, SKIP),
        tenant_ids={"uidb64": "owner_uid", "token": "owner_token"},
        tenant_answers={ANON: "400"},
    ),
    "account_reauthenticate": PlatformRow((LOGIN, "200")),
    "account_inactive": PlatformRow(("200", "200")),
    "account_reset_password": PlatformRow(("200", OK)),
    "account_reset_password_done": PlatformRow(("200", OK)),
    "account_reset_password_from_key": PlatformRow(
        ("200", OK), fixed={"uidb36": "1", "key": "set-password"}
    ),
    "account_reset_password_from_key_done": PlatformRow(("200", OK)),
    "mfa_index": PlatformRow((LOGIN, "200")),
    "mfa_authenticate": PlatformRow(("302", "302")),
    "mfa_reauthenticate": PlatformRow((LOGIN, OK)),
    "mfa_activate_totp": PlatformRow((LOGIN, OK)),
    "mfa_deactivate_totp": PlatformRow((LOGIN, "404")),
    "mfa_view_recovery_codes": PlatformRow((LOGIN, "404")),
    "mfa_generate_recovery_codes": PlatformRow((LOGIN, OK)),
    "mfa_download_recovery_codes": PlatformRow((LOGIN, "404")),
    "payments:stripe-webhook": PlatformRow(("405", "405")),
    # Reseller top-ups are looked up here; a tenant's payment attempt is unknown.
    "payments:return": PlatformRow(
        (SKIP, SKIP),
        tenant_ids={"reference": "attempt"},
        tenant_answers={ANON: "404", PROVIDER: "404"},
    ),
}

# The provider console (portals.provider): provider staff only; everyone else, a tenant's
# people included (unknown in the public schema), is asked to log in. Actions are POSTs:
# a GET is refused before anything is looked up. A tenant's object id is nobody here.
PROVIDER_READ = (LOGIN, "200")
POST_ONLY = ("405", "405")
FOREIGN_404 = {ANON: LOGIN, PROVIDER: "404"}
NO_JOB = "00000000-0000-0000-0000-000000000000"
PROVIDER_ROWS: dict[str, PlatformRow] = {
    "provider:home": PlatformRow(PROVIDER_READ),
    "provider:language": PlatformRow(POST_ONLY),
    "provider:resellers": PlatformRow(PROVIDER_READ),
    "provider:reseller-new": PlatformRow(PROVIDER_READ),
    "provider:reseller": PlatformRow(
        PROVIDER_READ,
        fixed={"public_id": "reseller"},
        tenant_ids={"public_id": "client"},
        tenant_answers=FOREIGN_404,
    ),
    "provider:ledger-csv": PlatformRow(
        PROVIDER_READ,
        fixed={"public_id": "reseller"},
        tenant_ids={"public_id": "client"},
        tenant_answers=FOREIGN_404,
    ),
    "provider:balance": PlatformRow(POST_ONLY, fixed={"public_id": "reseller"}),
    "provider:entry-reverse": PlatformRow(
        POST_ONLY, fixed={"public_id": "reseller", "entry_id": "1"}
    ),
    "provider:reseller-status": PlatformRow(POST_ONLY, fixed={"public_id": "reseller"}),
    "provider:reseller-terms": PlatformRow(POST_ONLY, fixed={"public_id": "reseller"}),
    "provider:credential-issue": PlatformRow(POST_ONLY, fixed={"public_id": "reseller"}),
    "provider:credential-revoke": PlatformRow(
        POST_ONLY, fixed={"public_id": "reseller", "prefix": "none"}
    ),
    "provider:plans": PlatformRow(PROVIDER_READ),
    "provider:plan-new": PlatformRow(PROVIDER_READ),
    "provider:plan": PlatformRow(PROVIDER_READ, fixed={"pk": "plan"}),
    "provider:option-new": PlatformRow(PROVIDER_READ, fixed={"pk": "plan"}),
    "provider:option": PlatformRow(PROVIDER_READ, fixed={"pk": "plan", "option_pk": "option"}),
    "provider:price-lists": PlatformRow(PROVIDER_READ),
    "provider:price-list": PlatformRow(PROVIDER_READ, fixed={"pk": "price_list"}),
    "provider:operations": PlatformRow(PROVIDER_READ),
    "provider:job-retry": PlatformRow(POST_ONLY, fixed={"public_id": NO_JOB}),
    "provider:job-cancel": PlatformRow(POST_ONLY, fixed={"public_id": NO_JOB}),
    "provider:command-retry": PlatformRow(
        POST_ONLY, fixed={"account": "reseller", "public_id": "none"}
    ),
    "provider:command-cancel": PlatformRow(
        POST_ONLY, fixed={"account": "reseller", "public_id": "none"}
    ),
    "provider:servers": PlatformRow(PROVIDER_READ),
    "provider:desk": PlatformRow(PROVIDER_READ),
    "provider:desk-ticket": PlatformRow(PROVIDER_READ, fixed={"public_id": "escalation"}),
    "provider:desk-reply": PlatformRow(POST_ONLY, fixed={"public_id": "escalation"}),
    "provider:desk-status": PlatformRow(POST_ONLY, fixed={"public_id": "escalation"}),
    "provider:drift": PlatformRow(PROVIDER_READ),
    "provider:drift-run": PlatformRow(POST_ONLY),
    "provider:drift-repair": PlatformRow(POST_ONLY, fixed={"pk": "0"}),
    "provider:drift-resolve": PlatformRow(POST_ONLY, fixed={"pk": "0"}),
}
PLATFORM_ROWS.update(PROVIDER_ROWS)

# The provider console's own pages (the model pages come from the admin registry).
ADMIN_ROWS: dict[str, PlatformRow] = {
    "admin:index": PlatformRow((ADMIN_LOGIN, "200")),
    "admin:login": PlatformRow(("200", "302")),  # accounts.views.admin_login
    "admin:logout": PlatformRow(("302", "405")),  # a POST; visitors go to the index
    "admin:password_change": PlatformRow((ADMIN_LOGIN, "200")),
    "admin:password_change_done": PlatformRow((ADMIN_LOGIN, "200")),
    "admin:autocomplete": PlatformRow((ADMIN_LOGIN, "403")),  # no field asked for
    "admin:jsi18n": PlatformRow((ADMIN_LOGIN, "200")),
    "admin:view_on_site": PlatformRow(
        (ADMIN_LOGIN, "404"), fixed={"content_type_id": "0", "object_id": "0"}
    ),
    "admin:app_list": PlatformRow((ADMIN_LOGIN, "200"), fixed={"app_label": "resale"}),
    "/admin/(?P<url>.*)$": PlatformRow((ADMIN_LOGIN, "404"), path="/admin/nothing-here/"),
    "admin:resale_reselleraccount_balance": PlatformRow(
        (ADMIN_LOGIN, "200"), fixed={"pk": "reseller_account"}
    ),
}

ADMIN_MODEL_VIEWS = ("changelist", "add", "history", "delete", "change")


def admin_model_routes() -> dict[str, tuple[type, str]]:
    """URL name -> (model, view) of every page the admin registry makes for a model, and
    the template of the redirect from ``<id>/`` to ``<id>/change/``."""
    found = {}
    for model in admin.site._registry:
        opts = model._meta
        for view in ADMIN_MODEL_VIEWS:
            found[f"admin:{opts.app_label}_{opts.model_name}_{view}"] = (model, view)
        found[f"/admin/{opts.app_label}/{opts.model_name}/<path:object_id>/"] = (model, "")
    return found


def test_every_pattern_has_a_row():
    tables = {
        TENANT_URLS: set(TENANT_ROWS),
        PLATFORM_URLS: set(PLATFORM_ROWS) | set(ADMIN_ROWS) | set(admin_model_routes()),
    }
    missing = []
    for urlconf, keys in tables.items():
        for route in routes(urlconf):
            if _is_api_v1(route):
                view = getattr(route.callback, "view_class", None)
                if view is None or ("<uuid:id>" in route.template and not view.object_model):
                    missing.append(f"{urlconf} {route.template}: an API view with an object_model")
            elif _is_resale_api(route):
                if route.key not in RESALE_ROWS:
                    missing.append(f"{urlconf} {route.key!r}: add it to RESALE_ROWS")
            elif route.key not in keys:
                table = "TENANT_ROWS" if urlconf == TENANT_URLS else "PLATFORM_ROWS/ADMIN_ROWS"
                missing.append(f"{urlconf} {route.key!r} ({route.template}): add it to {table}")
    assert not missing, (
        "URL patterns the isolation matrix does not know; say who gets what in "
        "tests/test_isolation_matrix.py:\n" + "\n".join(missing)
    )


# --- the people and their objects ----------------------------------------------------------


def _session(host: str, user, schema: str | None) -> str:
    browser = Browser(HTTP_HOST=host)
    if schema is None:
        browser.force_login(user)
    else:
        with schema_context(schema):
            browser.force_login(user)
    connection.set_schema_to_public()
    return browser.cookies["sessionid"].value


def browser(host: str, session: str | None = None, **headers: str) -> Browser:
    made = Browser(HTTP_HOST=host, **headers)
    if session:
        made.cookies["sessionid"] = session
    return made


def call(made: Browser, method: str, path: str, body=None):
    if method == "GET":
        return made.get(path)
    if body is None:
        return getattr(made, method.lower())(path)
    return getattr(made, method.lower())(path, json.dumps(body), "application/json")


def tenant_objects(world) -> dict[str, str]:
    """One of everything in ``world``'s schema, by name, as the URL shows it; the
    client user acts for the client."""
    from api.keys import api_key_create
    from billing import services
    from billing.models.gateway import PaymentAttempt

    with schema_context(world.schema):
        shop = api_shop_build()
        services.client_user_link(client=shop.client, user=world.client_user)
        key = api_key_create(name="matrix", scopes=ALL_SCOPES).key
        attempt = PaymentAttempt.objects.create(
            invoice=shop.invoice,
            client=shop.client,
            gateway="stripe",
            currency="EUR",
            amount=Decimal("1.00"),
            idempotency_key="matrix-attempt",
        )
        from accounts.models import User, WebhookDelivery, WebhookEndpoint
        from billing.models import CreditNote

        endpoint = WebhookEndpoint.objects.get()
        department = support_services.department_save(name="Matrix support")
        canned = support_services.canned_reply_save(title="Matrix", body="Matrix reply")
        ticket = support_services.ticket_open(
            department=department,
            subject="Matrix ticket",
            body="Matrix body",
            client=shop.client,
            attachments=[AttachmentUpload("matrix.txt", b"matrix file")],
        )
        from support.inbound import inbound_email_process, mailbox_save

        mailbox = mailbox_save(
            department=department,
            host="imap.matrix.test",
            port=993,
            security="ssl",
            username="support@matrix.test",
            password="matrix-secret",
        )
        inbound = inbound_email_process(
            mailbox=mailbox,
            uidvalidity=1,
            uid=1,
            raw=b"From: someone@matrix.test\r\nSubject: matrix\r\n\r\nhello\r\n",
        )
        objects = {
            "inbound": str(inbound.public_id),
            "ticket": str(ticket.public_id),
            "attachment": str(ticket.attachments.get().public_id),
            "department": str(department.public_id),
            "canned": str(canned.public_id),
            "client": str(shop.client.public_id),
            "order": str(shop.order.public_id),
            "service": str(shop.service.public_id),
            "invoice": str(shop.invoice.public_id),
            "credit_note": str(CreditNote.objects.get().public_id),
            "plan": str(shop.plan.public_id),
            "product": str(shop.plan.product.public_id),
            "api_key": str(key.public_id),
            "endpoint": str(endpoint.public_id),
            "delivery": str(WebhookDelivery.objects.get(endpoint=endpoint).public_id),
            "attempt": str(attempt.public_id),
            "owner_uid": urlsafe_base64_encode(force_bytes(world.owner.pk)),
            "owner_token": default_token_generator.make_token(User.objects.get(pk=world.owner.pk)),
        }
        api = {model: public_id_of(obj) for model, obj in shop.objects.items()}
    connection.set_schema_to_public()
    return {**objects, "api": api}


@pytest.fixture
def objects(tenant_a, tenant_b, sessions) -> dict[str, dict]:
    # After the sessions: logging in changes what a login link's token is made from.
    return {"a": tenant_objects(tenant_a), "b": tenant_objects(tenant_b)}


@pytest.fixture
def sessions(tenant_a, tenant_b) -> dict[str, str]:
    from accounts.models import User

    provider = User.objects.get(email="admin@platform.test")
    return {
        OWNER: _session(tenant_a.host, tenant_a.owner, tenant_a.schema),
        READONLY: _session(tenant_a.host, tenant_a.readonly, tenant_a.schema),
        CLIENT: _session(tenant_a.host, tenant_a.client_user, tenant_a.schema),
        "b-owner": _session(tenant_b.host, tenant_b.owner, tenant_b.schema),
        "b-client": _session(tenant_b.host, tenant_b.client_user, tenant_b.schema),
        PROVIDER: _session(settings.PLATFORM_DOMAIN, provider, None),
    }


def _path(urlconf: str, route: Route, row, kwargs: dict[str, str], objects=None) -> str:
    if row.path:
        return row.path
    path = reverse(route.name, urlconf=urlconf, kwargs=kwargs or None)
    query = getattr(row, "query", {})
    if query:
        path += "?" + urlencode({name: objects[what] for name, what in query.items()})
    return path


def _kwargs(row: Row, objects: dict) -> dict[str, str]:
    return {**row.fixed, **{name: objects[what] for name, what in row.ids.items()}}


# --- tenant hosts: storefront, client area, console, the API's pages ------------------------


def test_tenant_host_pages(tenant_a, objects, sessions):
    host = tenant_a.host
    problems: list[str] = []
    people = {ANON: None, **{person: sessions[person] for person in (OWNER, READONLY, CLIENT)}}
    strangers = ("b-owner", "b-client", PROVIDER)
    checked = 0

    def check(person: str, method: str, path: str, expected: str, strangers=strangers) -> None:
        response = call(browser(host, people[person]), method, path)
        if not matches(expected, response) or response.status_code >= 500:
            problems.append(
                f"{method} {path} as A's {person}: {describe(response)}, not {expected}"
            )
        if person == ANON:
            # Someone signed in elsewhere is nobody here.
            for stranger in strangers:
                other = call(browser(host, sessions[stranger]), method, path)
                if describe(other) != describe(response):
                    problems.append(
                        f"{method} {path} as {stranger}: {describe(other)}, "
                        f"but an anonymous visitor gets {describe(response)}"
                    )

    for route in routes(TENANT_URLS):
        if _is_api_v1(route) or route.key not in TENANT_ROWS:
            continue
        row = TENANT_ROWS[route.key]
        own = _path(TENANT_URLS, route, row, _kwargs(row, objects["a"]), objects["a"])
        for method, answers in (("GET", dict(zip(TENANT_PEOPLE, row.get))), ("POST", row.post)):
            for person, expected in answers.items():
                if expected != SKIP:
                    check(person, method, own, expected, strangers if row.strangers else ())
                    checked += 1
            if not row.ids:
                continue
            foreign = _path(TENANT_URLS, route, row, _kwargs(row, objects["b"]), objects["b"])
            for person, expected in answers.items():
                if person in row.foreign:
                    wanted = {row.foreign[person]}
                elif expected == SKIP:
                    continue
                elif is_let_in(expected):
                    wanted = {"404"}
                else:
                    # Turned away before any lookup (login, console, 403, 405), or 404.
                    wanted = {expected, "404"}
                response = call(browser(host, people[person]), method, foreign)
                if not any(matches(w, response) for w in wanted):
                    problems.append(
                        f"{method} {foreign} (B's ids) as A's {person}: "
                        f"{describe(response)}, not {' or '.join(sorted(wanted))}"
                    )
                checked += 1
    assert not problems, f"{len(problems)} of {checked} answers are wrong:\n" + "\n".join(problems)


# --- the tenant API ------------------------------------------------------------------------

API_METHODS = ("get", "post", "put", "patch", "delete")


def _api_paths(route: Route, objects: dict) -> str:
    view = route.callback.view_class
    if "<uuid:id>" not in route.template:
        return route.template
    return route.template.replace("<uuid:id>", objects["api"][view.object_model])


def test_tenant_api(tenant_a, tenant_b, objects, sessions):
    """Every /api/v1/ endpoint and method: a key of A is let in (GETs are sent; what the
    other methods do is tests/api/test_endpoint_matrix.py's), a key of A with B's ids, a
    key of B, and no key (with or without a session of A's staff) are not."""
    from tests.api.conftest import make_key

    key_a = make_key(tenant_a, rate_limit_per_minute=100000)
    key_b = make_key(tenant_b, rate_limit_per_minute=100000)
    host = tenant_a.host
    problems: list[str] = []
    found = [r for r in routes(TENANT_URLS) if _is_api_v1(r)]
    assert len(found) > 30
    for route in found:
        view = route.callback.view_class
        own = _api_paths(route, objects["a"])
        foreign = _api_paths(route, objects["b"])
        for method in [m.upper() for m in API_METHODS if hasattr(view, m)]:
            body = None if method in ("GET", "DELETE") else {}
            tries = [
                ("no key", browser(host), own, {"401"}),
                ("A's owner's session", browser(host, sessions[OWNER]), own, {"401"}),
                ("the provider's session", browser(host, sessions[PROVIDER]), own, {"401"}),
                ("B's key", _keyed(host, key_b), own, {"404"}),
            ]
            if foreign != own:
                tries.append(("A's key with B's ids", _keyed(host, key_a), foreign, {"404"}))
            if method == "GET":
                tries.append(("A's key", _keyed(host, key_a), own, {"200", "202"}))
            for who, made, path, wanted in tries:
                response = call(made, method, path, body)
                if str(response.status_code) not in wanted:
                    problems.append(
                        f"{method} {path} with {who}: {describe(response)}, not {wanted}"
                    )
        # A key of a tenant means nothing on the platform host.
        response = call(_keyed(settings.PLATFORM_DOMAIN, key_a), "GET", own)
        if response.status_code != 404:
            problems.append(f"GET {own} on the platform host: {describe(response)}")
    assert not problems, "\n".join(problems)


def _keyed(host: str, token: str) -> Browser:
    return browser(host, HTTP_AUTHORIZATION=f"Bearer {token}")


# --- the platform host ---------------------------------------------------------------------


def _platform_check(
    route: Route, row: PlatformRow, objects: dict, sessions: dict, problems: list[str]
) -> int:
    host = settings.PLATFORM_DOMAIN
    people = {ANON: None, PROVIDER: sessions[PROVIDER]}
    strangers = (OWNER, CLIENT, "b-owner")
    checked = 0
    kwargs = {
        name: str(objects.get(value, value)) if isinstance(value, str) else value
        for name, value in row.fixed.items()
    }
    for person in PLATFORM_PEOPLE:
        expected = row.expected(person)
        if expected == SKIP:
            continue
        path = _path(PLATFORM_URLS, route, row, kwargs)
        response = browser(host, people[person]).get(path)
        checked += 1
        if not matches(expected, response) or response.status_code >= 500:
            problems.append(f"GET {path} as {person}: {describe(response)}, not {expected}")
        if person == ANON:
            for stranger in strangers:
                other = browser(host, sessions[stranger]).get(path)
                checked += 1
                if describe(other) != describe(response):
                    problems.append(
                        f"GET {path} as tenant {stranger}: {describe(other)}, "
                        f"but an anonymous visitor gets {describe(response)}"
                    )
    if row.tenant_ids:
        tenant_kwargs = {name: objects["a"][what] for name, what in row.tenant_ids.items()}
        path = _path(PLATFORM_URLS, route, row, tenant_kwargs)
        for person, expected in row.tenant_answers.items():
            response = browser(host, people[person]).get(path)
            checked += 1
            if not matches(expected, response):
                problems.append(
                    f"GET {path} (A's ids) as {person}: {describe(response)}, not {expected}"
                )
    return checked


def provider_objects(tenant) -> dict[str, str]:
    """The provider-side rows the provider console's pages name: A's reseller account, a
    wholesale plan, an option sold with it and its price list, an escalation at the
    provider's desk."""
    from resale.models import ProviderTicket, ResellerAccount, UpstreamService
    from tests.resale.factories import wholesale_catalogue, wholesale_options

    catalogue = wholesale_catalogue(code_prefix="matrix-page-")
    account = ResellerAccount.objects.get(tenant=tenant.tenant)
    service = UpstreamService.objects.create(
        account=account,
        plan=catalogue["web-s"],
        cycle="monthly",
        client_ref="c_matrix",
        price_amount="5.00",
        currency="EUR",
    )
    escalation = ProviderTicket.objects.create(
        account=account,
        upstream_service=service,
        client_ref=service.client_ref,
        subject="Matrix",
        idempotency_key="matrix-page",
    )
    options = wholesale_options(
        price_list=catalogue["price_list"], plans=[catalogue["web-s"]], code_prefix="matrix-page-"
    )
    return {
        "reseller": account.public_id,
        "plan": str(catalogue["web-s"].pk),
        "option": str(options["ram"].pk),
        "price_list": str(catalogue["price_list"].pk),
        "escalation": escalation.public_id,
    }


def test_platform_host_pages(tenant_a, objects, sessions):
    problems: list[str] = []
    checked = 0
    known = {**objects, **provider_objects(tenant_a)}
    for route in routes(PLATFORM_URLS):
        if route.key in PLATFORM_ROWS:
            checked += _platform_check(route, PLATFORM_ROWS[route.key], known, sessions, problems)
    assert checked > 30
    assert not problems, "\n".join(problems)


def test_provider_console(objects, sessions):
    """The admin's own pages from ADMIN_ROWS, and every registered model's pages from the
    registry: the provider admin gets what its permissions say, everyone else the login."""
    from resale.models import ResellerAccount

    provider = {"reseller_account": ResellerAccount.objects.order_by("pk").first().pk}
    problems: list[str] = []
    checked = 0
    for route in routes(PLATFORM_URLS):
        if route.key in ADMIN_ROWS:
            checked += _platform_check(
                route, ADMIN_ROWS[route.key], {**objects, **provider}, sessions, problems
            )
    request = RequestFactory().get("/admin/")
    from accounts.models import User

    request.user = User.objects.get(email="admin@platform.test")
    for name, (model, view) in admin_model_routes().items():
        if not view:
            continue
        model_admin = admin.site._registry[model]
        row = model.objects.order_by("pk").first()
        if view in ("history", "delete", "change"):
            if row is None:
                continue
            path = reverse(name, urlconf=PLATFORM_URLS, args=[row.pk])
        else:
            path = reverse(name, urlconf=PLATFORM_URLS)
        allowed = {
            "changelist": model_admin.has_view_or_change_permission(request),
            "add": model_admin.has_add_permission(request),
            "history": model_admin.has_view_or_change_permission(request, row),
            "change": model_admin.has_view_or_change_permission(request, row),
            "delete": model_admin.has_delete_permission(request, row),
        }[view]
        answers = {PROVIDER: "200" if allowed else "403", ANON: ADMIN_LOGIN}
        anonymous = None
        for person, session in ((ANON, None), (PROVIDER, sessions[PROVIDER])):
            response = browser(settings.PLATFORM_DOMAIN, session).get(path)
            checked += 1
            if not matches(answers[person], response):
                problems.append(f"GET {path} as {person}: {describe(response)}")
            if person == ANON:
                anonymous = describe(response)
        for stranger in (OWNER, "b-owner"):
            other = browser(settings.PLATFORM_DOMAIN, sessions[stranger]).get(path)
            checked += 1
            if describe(other) != anonymous:
                problems.append(f"GET {path} as tenant {stranger}: {describe(other)}")
    assert checked > 60
    assert not problems, "\n".join(problems)


# --- the resale API ------------------------------------------------------------------------

RESALE_ROWS: dict[str, dict] = {
    # URL name -> {method: what the credential of A gets}; "ref" when the URL names a
    # service of A's account (B's credential and B's service are then tried too).
    "resale-catalogue": {"GET": "200"},
    "resale-commands": {"POST": "400"},  # an empty command: no idempotency key
    "resale-services": {"GET": "200"},  # only the credential's own account's services
    "resale-service": {"GET": "200", "ref": True},
    "resale-sso": {"POST": "409", "ref": True},  # the service is still being set up
    "resale-panel-login": {"POST": "409", "ref": True},  # likewise
    "resale-balance": {"GET": "200"},
    "resale-ledger": {"GET": "200"},
    "resale-statement": {"GET": "200"},
    # "escalation": the URL names an escalation of A's account (B's are tried too).
    "resale-escalations": {"POST": "400"},  # no idempotency key
    "resale-escalation": {"GET": "200", "escalation": True},
    "resale-escalation-messages": {"POST": "400", "escalation": True},  # likewise
    "resale-escalation-status": {"POST": "400", "escalation": True},  # no status
    "resale-domain-check": {"POST": "400"},  # no names
    # A's service is hosting, not a domain: not a domain of the account.
    "resale-domain-manage": {"POST": "404", "ref": True, "fixed": {"operation": "info"}},
}


def _reseller(world, catalogue, label: str) -> tuple[str, str, str]:
    """A resale credential of ``world``'s account, a service it bought and an escalation
    about it."""
    from resale.api import resale_credential_issue
    from resale.escalations import escalation_accept
    from resale.services import reseller_balance_topup, upstream_command_accept
    from tests.resale.factories import account_on

    account = account_on(world.tenant, catalogue["price_list"])
    reseller_balance_topup(account=account, amount="20", reference="x", idempotency_key=label)
    _, token = resale_credential_issue(account=account, name=label)
    created = upstream_command_accept(
        account=account,
        idempotency_key=f"{label}-create",
        action="create",
        payload={"plan": "matrix-web-s", "cycle": "monthly", "client_ref": f"c_{label}"},
    )
    escalation = escalation_accept(
        account=account,
        idempotency_key=f"{label}-escalation",
        service_ref=created.response["service_ref"],
        subject="Server down",
        messages=["The site answers 502."],
    )
    return token, created.response["service_ref"], escalation.public_id


def test_resale_api(tenant_a, tenant_b, sessions):
    from tests.api.conftest import make_key
    from tests.resale.factories import wholesale_catalogue

    tenant_key = make_key(tenant_a, name="matrix")
    catalogue = wholesale_catalogue(code_prefix="matrix-")
    token_a, ref_a, escalation_a = _reseller(tenant_a, catalogue, "matrix-a")
    token_b, ref_b, escalation_b = _reseller(tenant_b, catalogue, "matrix-b")
    host = settings.PLATFORM_DOMAIN
    problems: list[str] = []
    found = [r for r in routes(PLATFORM_URLS) if _is_resale_api(r)]
    assert len(found) >= 7
    for route in found:
        row = RESALE_ROWS[route.key]
        view = route.callback.view_class
        kwargs: dict = {}
        if "year" in route.kwargs:
            kwargs = {"year": 2025, "month": 1}

        def path(ref: str | None, escalation: str | None) -> str:
            extra = {"service_ref": ref} if row.get("ref") else {}
            if row.get("escalation"):
                extra = {"ref": escalation}
            extra.update(row.get("fixed", {}))
            return reverse(route.name, urlconf=PLATFORM_URLS, kwargs={**kwargs, **extra} or None)

        own, foreign = path(ref_a, escalation_a), path(ref_b, escalation_b)
        for method in [m.upper() for m in API_METHODS if hasattr(view, m)]:
            body = None if method in ("GET", "DELETE") else {}
            tries = [
                ("no credential", browser(host), own, "401"),
                ("the provider's session", browser(host, sessions[PROVIDER]), own, "401"),
                ("A's tenant API key", _keyed(host, tenant_key), own, "401"),
                ("A's credential", _keyed(host, token_a), own, row[method]),
            ]
            if row.get("ref") or row.get("escalation"):
                tries += [
                    ("A's credential with B's service", _keyed(host, token_a), foreign, "404"),
                    ("B's credential with A's service", _keyed(host, token_b), own, "404"),
                ]
            for who, made, url, wanted in tries:
                response = call(made, method, url, body)
                if str(response.status_code) != wanted:
                    problems.append(
                        f"{method} {url} with {who}: {describe(response)}, not {wanted}"
                    )
    assert not problems, "\n".join(problems)
