"""Pages that work with a keyboard and a screen reader, on a phone: every page of the
crawl declares its language and viewport, starts with a skip link, labels every form
control and describes every image; long lists are paginated."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django_tenants.utils import schema_context

from billing import services
from tests.portals.test_white_label import _crawl, _populate

pytestmark = pytest.mark.django_db

UNLABELLED_TYPES = {"hidden", "submit", "button", "reset", "image"}


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict] = []
        self.label_for: set[str] = set()
        self.images: list[dict] = []
        self.label_depth = 0
        self.html_lang = None
        self.viewport = False
        self.first_link = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "html":
            self.html_lang = attributes.get("lang")
        elif tag == "meta" and attributes.get("name") == "viewport":
            self.viewport = True
        elif tag == "a" and self.first_link is None:
            self.first_link = attributes
        elif tag == "label":
            self.label_depth += 1
            if attributes.get("for"):
                self.label_for.add(attributes["for"])
        elif tag in ("input", "select", "textarea"):
            if attributes.get("type", "text") not in UNLABELLED_TYPES:
                self.controls.append({**attributes, "_wrapped": self.label_depth > 0})
        elif tag == "img":
            self.images.append(attributes)

    def handle_endtag(self, tag):
        if tag == "label":
            self.label_depth -= 1


def test_every_page_is_labelled_and_keyboard_ready(tenant_a, shop_a, rdap_bootstrap):
    _populate(tenant_a, shop_a)
    browsers = [tenant_a.client(), tenant_a.client(tenant_a.client_user)]
    browsers.append(tenant_a.client(tenant_a.owner))
    checked = 0
    for browser in browsers:
        pages = _crawl(browser, ["/", "/domains/?q=rossi", "/account/", "/console/"])
        for path, body in pages.items():
            if not body:
                continue
            page = _Page()
            page.feed(body)
            checked += 1
            assert page.html_lang in ("en", "it", "ru"), path
            assert page.viewport, path
            assert page.first_link and page.first_link.get("href") == "#main", path
            for control in page.controls:
                labelled = (
                    control["_wrapped"]
                    or control.get("id") in page.label_for
                    or control.get("aria-label")
                )
                assert labelled, f"unlabelled {control} on {path}"
            for image in page.images:
                assert "alt" in image, f"image without alt on {path}"
    assert checked > 60


def test_long_lists_are_paginated(tenant_a, shop_a):
    with schema_context(tenant_a.schema):
        for number in range(30):
            services.client_create(name=f"Client {number:02d}", email=f"c{number}@example.test")
    browser = tenant_a.client(tenant_a.owner)
    first = browser.get("/console/clients/").content.decode()
    assert "Page 1 of 2" in first and 'rel="next"' in first
    second = browser.get("/console/clients/?page=2").content.decode()
    assert "Page 2 of 2" in second and 'rel="prev"' in second
    # A search keeps its query across pages.
    searched = browser.get("/console/clients/?q=Client").content.decode()
    assert "?q=Client&amp;page=2" in searched
    # Past the end: the last page, not an error.
    assert "Page 2 of 2" in browser.get("/console/clients/?page=99").content.decode()
