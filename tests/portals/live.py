"""The application served over real HTTP from a thread of the test process, for a browser
or a reverse proxy to talk to, plus a committed shop tenant for it to serve."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.core.wsgi import get_wsgi_application
from django.db import connection
from django_tenants.utils import schema_context

from tests.conftest import PASSWORD


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        return


@contextmanager
def wsgi_server() -> Iterator[int]:
    """Serves the app on 127.0.0.1; yields the port."""
    server = make_server(
        "127.0.0.1",
        0,
        get_wsgi_application(),
        server_class=_ThreadingServer,
        handler_class=_QuietHandler,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class LiveShop:
    tenant: object
    host: str
    owner_email: str
    shop: object

    @property
    def schema(self) -> str:
        return self.tenant.schema_name


def live_shop_make(tenant_factory, name: str = "Gamma Hosting") -> LiveShop:
    """A committed tenant with the portal test shop and an owner who can log in."""
    from accounts.models import User
    from tests.portals.conftest import shop_build

    created = tenant_factory(name)
    tenant = created.tenant
    with schema_context(tenant.schema_name):
        owner = User.objects.get(kind=User.Kind.STAFF, role=User.Role.OWNER)
        owner.set_password(PASSWORD)
        owner.save()
        client_user = User.objects.create_user(
            f"client@{tenant.schema_name}.test", PASSWORD, kind=User.Kind.CLIENT
        )
        shop = shop_build(client_user)
    connection.set_schema_to_public()
    return LiveShop(tenant, created.domain.domain, owner.email, shop)


def card_shop_make(tenant_factory, name: str, *, stripe_key: str, label: str) -> LiveShop:
    """The portal test shop that sells the way a checkout is tested in a browser:
    registered for the OSS (so a German consumer pays German VAT), with terms of service
    and card payments on the local Stripe under ``stripe_key``."""
    from accounts.branding import branding_update
    from billing import services
    from billing.demo import card_payments_seed

    live = live_shop_make(tenant_factory, name)
    with schema_context(live.schema):
        services.billing_settings_update(oss_registered=True)
        branding_update(company_name="", brand_color="#2f5d8a", terms_text="Pagamento anticipato.")
        card_payments_seed(sandbox_key=stripe_key, label=label)
    connection.set_schema_to_public()
    return live


def fits_the_screen(page) -> bool:
    """Whether the page is no wider than the browser's window (nothing to scroll sideways)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def screenshot_saver(folder: Path) -> Callable[[object, str], Path]:
    """A function that saves a page's full-page screenshot as ``folder/<name>.png`` (the
    folder made on first use), for a browser test's artifacts."""

    def save(page, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save


@contextmanager
def local_stripe(monkeypatch, *keys: str) -> Iterator[object]:
    """The local Stripe server with the platform's key and ``keys`` (the shops' own)
    registered, and the STRIPE_* settings pointing at it until the block ends; yields the
    server. Local addresses bypass any proxy, for the app's calls to it as for the browser's."""
    from sandbox.stripe import StripeServer
    from tests.billing.payments.conftest import PLATFORM_KEY, StripeSettings

    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    stripe_settings = StripeSettings(monkeypatch)
    with StripeServer() as stripe:
        stripe_settings.set(
            STRIPE_API_BASE=stripe.url,
            STRIPE_SECRET_KEY=PLATFORM_KEY,
            STRIPE_MAX_NETWORK_RETRIES=0,
        )
        for key in (PLATFORM_KEY, *keys):
            stripe.register_key(key)
        try:
            yield stripe
        finally:
            stripe_settings.restore()


def language_cookies(host: str, language: str) -> list[dict[str, str]]:
    """The cookies, for a browser context's ``add_cookies``, that choose the portals'
    language on ``host`` as the language menu would."""
    from django.conf import settings

    return [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "domain": host, "path": "/"}]


# The card the local Stripe accepts without asking the client to confirm.
VISA = "4242 4242 4242 4242"


def card_pay(
    page, *, stripe_url: str, base: str, on_card_page: Callable[[], object] | None = None
) -> None:
    """From an order or invoice page in the client area: pays by card with ``VISA`` on the
    local Stripe's hosted Checkout page (at ``stripe_url``), and checks the browser is back
    on the invoices of the portal at ``base`` with the success message. ``on_card_page``
    runs once the card is typed in, before it is sent (a screenshot, say)."""
    from playwright.sync_api import expect

    page.locator('form[action*="/card/"] button[type="submit"]').click()
    expect(page).to_have_url(re.compile(re.escape(stripe_url) + r"/c/pay/cs_test_"))
    page.fill('[name="cardnumber"]', VISA)
    page.fill('[name="exp"]', "12 / 34")
    page.fill('[name="cvc"]', "123")
    if on_card_page is not None:
        on_card_page()
    page.locator('button[type="submit"]').click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(base)}/account/invoices/"))
    expect(page.locator(".msg.success")).to_be_visible()
