"""A person on the local Stripe's hosted Checkout page: opening it, typing a test card,
passing 3-D Secure, and following Stripe's redirects back to the site."""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from django.test import Client as Browser


@dataclass
class PageAnswer:
    status: int
    location: str | None
    body: str


def stripe_page(url: str, *, card: str | None = None) -> PageAnswer:
    """GETs a page of the local Stripe, or POSTs the card form when ``card`` is given."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    if card is None:
        conn.request("GET", target)
    else:
        body = urlencode({"cardnumber": card, "exp": "12 / 34", "cvc": "123"})
        conn.request("POST", target, body, {"Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    return PageAnswer(response.status, response.getheader("Location"), text)


def pay_on_page(url: str, card: str) -> PageAnswer:
    """Types ``card`` on the page and follows Stripe's own redirects (3-D Secure passed)
    until the browser leaves Stripe: the answer that sends it back to the site, or the
    page again when the card was refused."""
    return follow_stripe(url, stripe_page(url, card=card))


def follow_stripe(url: str, answer: PageAnswer) -> PageAnswer:
    """Follows the redirects of the local Stripe at ``url`` until one leaves it."""
    base = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
    while answer.location and answer.location.startswith(base):
        answer = stripe_page(answer.location)
    return answer


def site_get(browser: Browser, url: str):
    """The site's page an absolute URL of Stripe's redirect names, in the test browser."""
    parts = urlsplit(url)
    return browser.get(parts.path + (f"?{parts.query}" if parts.query else ""))
