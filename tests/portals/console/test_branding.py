"""Branding: what uploads are accepted, and how the saved look reaches every page."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context
from PIL import Image

from accounts.branding import LOGO_MAX_BYTES, contrast_with_white, image_check, svg_check

pytestmark = pytest.mark.django_db


def raster(fmt: str = "PNG", size: tuple[int, int] = (40, 20), **save) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def upload(data: bytes, name: str = "logo.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


SAFE_SVG = b"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     viewBox="0 0 10 10">
  <defs><linearGradient id="g"><stop offset="0" stop-color="#fff"/></linearGradient></defs>
  <style>.a{fill:url(#g)}</style>
  <rect class="a" width="10" height="10" style="fill:url(#g)"/>
  <use xlink:href="#g"/>
  <a href="#top"><text x="1" y="8">A</text></a>
</svg>"""


@pytest.mark.parametrize(
    ("fmt", "kind"),
    [("PNG", "logo"), ("JPEG", "logo"), ("GIF", "logo"), ("WEBP", "logo"), ("PNG", "favicon")],
)
def test_raster_images_are_accepted_by_content(fmt, kind):
    checked = image_check(upload(raster(fmt), "whatever.bin"), kind=kind)
    assert checked.content_type.startswith("image/")


def test_ico_favicon_is_accepted():
    checked = image_check(upload(raster("ICO", (32, 32)), "favicon.ico"), kind="favicon")
    assert checked.extension == "ico"


@pytest.mark.parametrize(
    ("data", "kind", "message"),
    [
        (b"GIF89a not really", "logo", "not an image we can read"),
        (b"<html><script>alert(1)</script></html>", "logo", "not an image we can read"),
        (raster("JPEG"), "favicon", "not accepted here"),
        (raster("PNG", (5000, 10)), "logo", "at most 4096 pixels"),
        (b"", "logo", "empty"),
    ],
)
def test_bad_images_are_refused(data, kind, message):
    with pytest.raises(ValidationError) as refused:
        image_check(upload(data), kind=kind)
    assert message in " ".join(refused.value.messages)


def test_size_limit():
    big = raster("PNG", (1500, 1500), compress_level=0)
    assert len(big) > LOGO_MAX_BYTES
    with pytest.raises(ValidationError, match="too large"):
        image_check(upload(big), kind="logo")


def test_safe_svg_is_accepted():
    svg_check(SAFE_SVG)
    assert image_check(upload(SAFE_SVG, "logo.svg"), kind="logo").extension == "svg"


@pytest.mark.parametrize(
    "body",
    [
        "<script>alert(1)</script>",
        '<rect width="1" height="1" onload="alert(1)"/>',
        '<rect width="1" height="1" onClick="alert(1)"/>',
        '<image href="https://tracker.example/x.png" width="1" height="1"/>',
        '<image xlink:href="http://tracker.example/x.png"/>',
        '<use href="other.svg#icon"/>',
        '<a href="javascript:alert(1)"><text>x</text></a>',
        '<a xlink:href=" JavaScript:alert(1)"><text>x</text></a>',
        '<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>',
        "<style>@import url(https://evil.example/a.css);</style>",
        "<style>rect{fill:url(https://evil.example/p.svg#x)}</style>",
        '<rect style="fill:url(http://evil.example/p)"/>',
        '<set attributeName="href" to="javascript:alert(1)"/>',
        '<iframe src="https://evil.example"/>',
        '<image href="data:text/html;base64,PHNjcmlwdD4="/>',
    ],
)
def test_svg_with_script_or_external_references_is_refused(body):
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        f"{body}</svg>"
    ).encode()
    with pytest.raises(ValidationError):
        image_check(upload(svg, "logo.svg"), kind="logo")


@pytest.mark.parametrize(
    "svg",
    [
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY lol "lol">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg"><text>&lol;</text></svg>',
        b'<?xml version="1.0"?><?xml-stylesheet href="https://evil.example/a.css"?>'
        b'<svg xmlns="http://www.w3.org/2000/svg"/>',
        b'<svg xmlns="http://www.w3.org/2000/svg"><rect>',
        b"<?xml version='1.0'?><html xmlns='http://www.w3.org/1999/xhtml'/>",
    ],
)
def test_svg_documents_that_are_not_plain_pictures_are_refused(svg):
    with pytest.raises(ValidationError):
        image_check(upload(svg, "logo.svg"), kind="logo")


def test_contrast():
    assert contrast_with_white("#000000") == pytest.approx(21, rel=0.01)
    assert contrast_with_white("#ffff00") < 3


def test_branding_reaches_every_page(tenant_a, shop_a):
    owner = tenant_a.client(tenant_a.owner)
    page = owner.get("/console/branding/").content.decode()
    assert 'id="brand-preview"' in page
    saved = owner.post(
        "/console/branding/",
        {
            "company_name": "Alpha Cloud",
            "brand_color": "#12AB34",
            "legal_footer": "Alpha Hosting S.r.l. – VAT IT01234567890",
            "homepage_title": "Hosting that stays up",
            "homepage_text": "Fast sites.\nFriendly people.",
            "terms_text": "Pay on time.",
            "logo": upload(raster("PNG"), "logo.png"),
            "favicon": upload(SAFE_SVG, "icon.svg"),
        },
    )
    assert saved.status_code == 302
    home = tenant_a.client().get("/").content.decode()
    assert "--brand:#12ab34" in home
    assert "Hosting that stays up" in home and "Friendly people." in home
    assert "Alpha Hosting S.r.l. – VAT IT01234567890" in home
    assert 'alt="Alpha Cloud"' in home and "/brand/logo/?v=" in home
    assert 'rel="icon" href="/brand/favicon/?v=' in home
    assert "/terms/" in home
    logo = tenant_a.client().get("/brand/logo/")
    assert logo.status_code == 200 and logo["Content-Type"] == "image/png"
    assert "sandbox" in logo["Content-Security-Policy"]
    assert logo["X-Content-Type-Options"] == "nosniff"
    favicon = tenant_a.client().get("/brand/favicon/")
    assert favicon["Content-Type"] == "image/svg+xml"
    assert tenant_a.client().get("/terms/").status_code == 200
    # The console and the client area carry the same look.
    assert "--brand:#12ab34" in owner.get("/console/").content.decode()
    client_page = tenant_a.client(tenant_a.client_user).get("/account/").content.decode()
    assert "--brand:#12ab34" in client_page


def test_bad_uploads_are_refused_next_to_their_field(tenant_a, shop_a):
    owner = tenant_a.client(tenant_a.owner)
    evil = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
    refused = owner.post(
        "/console/branding/",
        {"company_name": "X", "brand_color": "#123456", "logo": upload(evil, "logo.svg")},
    )
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "event handler" in body and 'id="id_logo_error"' in body
    colour = owner.post("/console/branding/", {"company_name": "X", "brand_color": "red;}"})
    assert colour.status_code == 400 and "#RRGGBB" in colour.content.decode()
    # Nothing was saved.
    with schema_context(tenant_a.schema):
        from accounts.models import Branding

        assert not Branding.objects.exists()
    assert tenant_a.client().get("/brand/logo/").status_code == 404


def test_terms_must_be_accepted_at_checkout_when_the_site_has_terms(tenant_a, shop_a):
    with schema_context(tenant_a.schema):
        from accounts.branding import branding_update

        branding_update(company_name="", brand_color="#2f5d8a", terms_text="Be nice.")
    browser = tenant_a.client()
    browser.post(f"/store/plan/{shop_a.pro.public_id}/", {"action": "add", "cycle": "monthly"})
    response = browser.post(
        "/checkout/",
        {
            "name": "Ada",
            "email": "ada@example.test",
            "password": "a-long-and-unusual-passphrase",
            "country": "IT",
        },
    )
    assert response.status_code == 400
    assert "accept the terms" in response.content.decode()
