"""A tenant's look: its name as shown, colour, logo, favicon and texts.

Uploaded images are checked by their content, never by their name: a raster image must
be one of a few formats Pillow can open and verify, within a size and pixel budget; an
SVG is parsed and refused when it could run script (script elements, event handler
attributes, ``javascript:`` URLs) or load anything from outside itself (external
references, stylesheets, imports). Images are served from the tenant's own host with a
sandboxing Content-Security-Policy as a second line of defence.
"""

from __future__ import annotations

import hashlib
import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name
from PIL import Image, UnidentifiedImageError

from accounts.models import Branding, TermsVersion

LOGO_MAX_BYTES = 512 * 1024
FAVICON_MAX_BYTES = 128 * 1024
MAX_SIDE_PX = 4096
COLOR_RE = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")

# Pillow format → (file extension, content type).
RASTER_TYPES = {
    "PNG": ("png", "image/png"),
    "JPEG": ("jpg", "image/jpeg"),
    "GIF": ("gif", "image/gif"),
    "WEBP": ("webp", "image/webp"),
    "ICO": ("ico", "image/x-icon"),
}
SVG_TYPE = ("svg", "image/svg+xml")
ALLOWED = {
    "logo": {"PNG", "JPEG", "GIF", "WEBP", "SVG"},
    "favicon": {"PNG", "ICO", "GIF", "SVG"},
}
CONTENT_TYPES = {ext: ctype for ext, ctype in [*RASTER_TYPES.values(), SVG_TYPE]}

SVG_NS = "http://www.w3.org/2000/svg"
# Elements that run code or embed another document.
SVG_FORBIDDEN_ELEMENTS = {
    "script",
    "foreignobject",
    "iframe",
    "embed",
    "object",
    "audio",
    "video",
    "handler",
    "listener",
}
SVG_ANIMATION_ELEMENTS = {"set", "animate", "animatetransform", "animatemotion"}
SVG_REF_ATTRIBUTES = {"href", "src"}
_CSS_URL_RE = re.compile(r"url\(\s*['\"]?\s*([^'\")\s]*)", re.IGNORECASE)


@dataclass(frozen=True)
class CheckedImage:
    content: bytes
    extension: str
    content_type: str


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].lower()


def _css_check(text: str) -> None:
    lowered = text.lower()
    if "@import" in lowered or "expression(" in lowered or "javascript:" in lowered:
        raise ValidationError(_("The SVG image loads styles or code from elsewhere."))
    for target in _CSS_URL_RE.findall(text):
        if target and not target.startswith("#"):
            raise ValidationError(_("The SVG image refers to files outside itself."))


def svg_check(data: bytes) -> None:
    """Raises ValidationError unless the SVG is a self-contained picture."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(_("The SVG image is not UTF-8 text.")) from exc
    lowered = text.lower()
    # A DTD can define entities that expand without end or read local files: none at all.
    if "<!doctype" in lowered or "<!entity" in lowered:
        raise ValidationError(_("The SVG image declares a document type; remove it."))
    if "<?xml-stylesheet" in lowered:
        raise ValidationError(_("The SVG image loads a stylesheet from elsewhere."))
    try:
        # Safe here: with no DTD there are no entities to expand and nothing to fetch.
        root = ET.fromstring(text)  # noqa: S314
    except ET.ParseError as exc:
        raise ValidationError(_("The SVG image is not well-formed XML.")) from exc
    if root.tag != f"{{{SVG_NS}}}svg" and root.tag != "svg":
        raise ValidationError(_("The file is not an SVG image."))
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        name = _local(element.tag)
        if name in SVG_FORBIDDEN_ELEMENTS:
            raise ValidationError(
                _("The SVG image contains a “%(element)s” element, which is not allowed.")
                % {"element": name}
            )
        if name == "style" and element.text:
            _css_check(element.text)
        for raw_attribute, value in element.attrib.items():
            attribute = _local(raw_attribute)
            value_lowered = value.strip().lower()
            if attribute.startswith("on"):
                raise ValidationError(
                    _("The SVG image has an event handler (%(attribute)s), which is not allowed.")
                    % {"attribute": attribute}
                )
            if "javascript:" in value_lowered.replace(" ", "") or "data:text" in value_lowered:
                raise ValidationError(_("The SVG image contains a script address."))
            if attribute in SVG_REF_ATTRIBUTES and not value.strip().startswith("#"):
                raise ValidationError(_("The SVG image refers to files outside itself."))
            if (
                name in SVG_ANIMATION_ELEMENTS
                and attribute == "attributename"
                and _local(value.strip()) in SVG_REF_ATTRIBUTES
            ):
                raise ValidationError(_("The SVG image changes links while animating."))
            if attribute == "style":
                _css_check(value)


def _looks_like_svg(head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith(b"<?xml") or start.startswith(b"<svg") or start.startswith(b"<!--")


def image_check(upload: Any, *, kind: str) -> CheckedImage:
    """The uploaded logo or favicon, checked; ValidationError says what is wrong."""
    limit = LOGO_MAX_BYTES if kind == "logo" else FAVICON_MAX_BYTES
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise ValidationError(
            _("The image is too large: at most %(kb)s KB.") % {"kb": limit // 1024}
        )
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(
            _("The image is too large: at most %(kb)s KB.") % {"kb": limit // 1024}
        )
    if not data:
        raise ValidationError(_("The file is empty."))
    allowed = ALLOWED[kind]
    if _looks_like_svg(data[:512]):
        if "SVG" not in allowed:
            raise ValidationError(_("This kind of image is not accepted here."))
        svg_check(data)
        return CheckedImage(data, *SVG_TYPE)
    try:
        with Image.open(io.BytesIO(data)) as image:
            image_format = image.format
            width, height = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValidationError(
            _("The file is not an image we can read (PNG, JPEG, GIF, WebP, ICO or SVG).")
        ) from exc
    except Image.DecompressionBombError as exc:
        raise ValidationError(_("The image has too many pixels.")) from exc
    if image_format not in allowed or image_format not in RASTER_TYPES:
        raise ValidationError(_("This kind of image is not accepted here."))
    if width > MAX_SIDE_PX or height > MAX_SIDE_PX:
        raise ValidationError(
            _("The image is too big: at most %(px)s pixels on each side.") % {"px": MAX_SIDE_PX}
        )
    return CheckedImage(data, *RASTER_TYPES[image_format])


def color_check(value: str) -> str:
    value = (value or "").strip()
    if not COLOR_RE.match(value):
        raise ValidationError(_("Give the colour as #RRGGBB, for example #2f5d8a."))
    if len(value) == 4:
        value = "#" + "".join(ch * 2 for ch in value[1:])
    return value.lower()


def _luminance(color: str) -> float:
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_with_white(color: str) -> float:
    """WCAG contrast ratio of white text on ``color`` (1 to 21)."""
    return 1.05 / (_luminance(color) + 0.05)


# --- reading and writing ------------------------------------------------------------


def branding_get() -> Branding:
    """The tenant's branding row; an unsaved default when it has none yet."""
    found = Branding.objects.filter(pk=Branding.SINGLETON_ID).first()
    return found if found is not None else Branding(pk=Branding.SINGLETON_ID)


def terms_version_current() -> TermsVersion | None:
    """The terms a buyer accepts now: the latest published version, or None when the
    tenant has no terms (cleared on the branding page, or never written)."""
    if not branding_get().terms_text:
        return None
    return TermsVersion.objects.order_by("-version").first()


def terms_versions() -> list[TermsVersion]:
    """Every published version, newest first."""
    return list(TermsVersion.objects.order_by("-version"))


def _terms_publish(text: str) -> TermsVersion | None:
    """Publishes ``text`` as the next version unless it is the latest one already; empty
    terms publish nothing (the site then asks no one to accept anything)."""
    if not text:
        return None
    # Under the branding row's lock (taken by the caller): two saves cannot both take
    # the same next number.
    latest = TermsVersion.objects.order_by("-version").first()
    if latest is not None and latest.text == text:
        return latest
    return TermsVersion.objects.create(
        version=(latest.version + 1) if latest is not None else 1, text=text
    )


def _store(branding: Branding, field: str, image: CheckedImage) -> None:
    digest = hashlib.sha256(image.content).hexdigest()[:12]
    old = getattr(branding, field)
    getattr(branding, field).save(
        f"{field}-{digest}.{image.extension}", ContentFile(image.content), save=False
    )
    if old and old.name and old.name != getattr(branding, field).name:
        old_name, storage = old.name, old.storage
        transaction.on_commit(lambda: storage.delete(old_name))


@transaction.atomic
def branding_update(
    *,
    company_name: str,
    brand_color: str,
    legal_footer: str = "",
    homepage_title: str = "",
    homepage_text: str = "",
    terms_text: str = "",
    logo: Any = None,
    favicon: Any = None,
    logo_remove: bool = False,
    favicon_remove: bool = False,
) -> Branding:
    """Saves the tenant's branding. Images are checked first: nothing is saved when one
    of them is refused."""
    errors: dict[str, list[str]] = {}
    color = checked_logo = checked_favicon = None
    try:
        color = color_check(brand_color)
    except ValidationError as exc:
        errors["brand_color"] = exc.messages
    try:
        checked_logo = image_check(logo, kind="logo") if logo else None
    except ValidationError as exc:
        errors["logo"] = exc.messages
    try:
        checked_favicon = image_check(favicon, kind="favicon") if favicon else None
    except ValidationError as exc:
        errors["favicon"] = exc.messages
    if errors:
        # Keyed by field, so a form can show each message next to its input.
        raise ValidationError(errors)
    branding = Branding.objects.select_for_update().filter(pk=Branding.SINGLETON_ID).first()
    branding = branding or Branding(pk=Branding.SINGLETON_ID)
    branding.company_name = company_name.strip()[:200]
    branding.brand_color = color
    branding.legal_footer = legal_footer.strip()
    branding.homepage_title = homepage_title.strip()[:200]
    branding.homepage_text = homepage_text.strip()
    branding.terms_text = terms_text.strip()
    for field, checked, remove in (
        ("logo", checked_logo, logo_remove),
        ("favicon", checked_favicon, favicon_remove),
    ):
        if checked is not None:
            _store(branding, field, checked)
        elif remove and getattr(branding, field):
            old = getattr(branding, field)
            old_name, storage = old.name, old.storage
            setattr(branding, field, "")
            transaction.on_commit(lambda n=old_name, s=storage: s.delete(n))
    branding.save()
    _terms_publish(branding.terms_text)
    return branding


def branding_content_type(name: str) -> str:
    return CONTENT_TYPES.get(name.rsplit(".", 1)[-1].lower(), "application/octet-stream")


def branding_context(request: HttpRequest | None) -> dict[str, Any]:
    """What every page's layout needs: the name, colour, logo and footer of the site."""
    tenant = getattr(request, "tenant", None) if request is not None else None
    name = tenant.name if tenant is not None else ""
    context: dict[str, Any] = {
        "brand_name": name,
        "brand_color": Branding.DEFAULT_COLOR,
        "brand_logo_url": "",
        "brand_favicon_url": "",
        "brand_footer": "",
        "brand_has_terms": False,
        # Tenant hosts have the storefront routes; the platform host has none of them.
        "portal": False,
    }
    if tenant is None or connection.schema_name == get_public_schema_name():
        return context
    cached = getattr(request, "_branding_context", None)
    if cached is not None:
        return cached
    branding = branding_get()
    version = int(branding.updated_at.timestamp()) if branding.updated_at else 0
    context.update(
        portal=True,
        branding=branding,
        brand_name=branding.company_name or name,
        brand_color=color_or_default(branding.brand_color),
        brand_logo_url=f"{reverse('shop:brand-asset', args=['logo'])}?v={version}"
        if branding.logo
        else "",
        brand_favicon_url=f"{reverse('shop:brand-asset', args=['favicon'])}?v={version}"
        if branding.favicon
        else "",
        brand_footer=branding.legal_footer,
        brand_has_terms=bool(branding.terms_text),
    )
    request._branding_context = context
    return context


def color_or_default(value: str) -> str:
    # The colour is written into a stylesheet: only a plain hex colour gets there.
    try:
        return color_check(value)
    except ValidationError:
        return Branding.DEFAULT_COLOR
