"""What a ticket accepts as an attachment, decided from the bytes.

The sender's file name and declared type are never trusted: the content type is read
from the file's leading bytes against an allow-list of formats, each recognised by the
signature its own specification defines:

- PDF: the ``%PDF-`` header (ISO 32000-1:2008, 7.5.2 "File Header");
- PNG: the eight-byte signature (W3C PNG Specification, 3rd ed., 5.2 "PNG signature");
- JPEG: the SOI marker ``FF D8`` followed by a marker ``FF`` (ITU-T T.81, B.1.1.3);
- GIF: ``GIF87a`` / ``GIF89a`` (GIF89a specification, "Header");
- WebP: ``RIFF`` .... ``WEBP`` (RFC 9649, section 2.5);
- ZIP (and the office formats built on it): a local file header ``PK\\x03\\x04`` or an
  empty archive's end record ``PK\\x05\\x06`` (PKWARE APPNOTE.TXT 6.3.10, 4.3.7 / 4.3.16);
- gzip: ``1F 8B`` (RFC 1952, 2.3.1);
- plain text: valid UTF-8 with no control characters but tab, line feed, carriage
  return and form feed (what RFC 2046 4.1 calls text: no binary data).

Anything else is refused. Files are stored by the tenant's default storage, whose root
is the tenant's schema, under a random name, and are served only through the portals'
own views after an ownership check, never from the media URL.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from support.errors import SupportError

# Content types offered to the browser, with the extension a downloaded copy gets when
# its own name has none.
ALLOWED_TYPES = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/zip": ".zip",
    "application/gzip": ".gz",
    "text/plain": ".txt",
}

# Types a browser may show inline; every other one is always a download.
INLINE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp"})


@dataclass(frozen=True)
class AttachmentUpload:
    """One file as it arrived (a form, an e-mail part, the API), before any check."""

    filename: str
    data: bytes


def max_bytes() -> int:
    return settings.SUPPORT_ATTACHMENT_MAX_BYTES


def max_per_message() -> int:
    return settings.SUPPORT_ATTACHMENTS_PER_MESSAGE


def _is_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(unicodedata.category(char) == "Cc" and char not in "\t\n\r\f" for char in text)


def content_type_sniff(data: bytes) -> str | None:
    """The allowed content type the bytes are, or None."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 3 and data[:2] == b"\xff\xd8" and data[2] == 0xFF:
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "application/zip"
    if data[:2] == b"\x1f\x8b":
        return "application/gzip"
    if data and _is_text(data):
        return "text/plain"
    return None


def filename_clean(name: str, content_type: str) -> str:
    """A name safe to show and to put in a Content-Disposition header."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    try:
        base = get_valid_filename(base)[:150]
    except Exception:
        base = ""
    if not base or base.startswith("."):
        base = "attachment"
    if "." not in base:
        base += ALLOWED_TYPES[content_type]
    return base


@dataclass(frozen=True)
class CheckedUpload:
    filename: str
    data: bytes
    content_type: str
    sha256: str


def uploads_check(uploads: list[AttachmentUpload]) -> list[CheckedUpload]:
    """Every upload checked, or a ``SupportError`` naming the first one refused."""
    if len(uploads) > max_per_message():
        raise SupportError(
            _("At most %(count)d files can be attached to one message.")
            % {"count": max_per_message()},
            code="too_many_attachments",
        )
    checked = []
    for upload in uploads:
        size = len(upload.data)
        if size == 0:
            raise SupportError(
                _("“%(name)s” is empty.") % {"name": upload.filename[:100]}, code="empty"
            )
        if size > max_bytes():
            raise SupportError(
                _("“%(name)s” is larger than %(size)d MB.")
                % {"name": upload.filename[:100], "size": max_bytes() // (1024 * 1024)},
                code="too_large",
            )
        content_type = content_type_sniff(upload.data)
        if content_type is None:
            raise SupportError(
                _("“%(name)s” is not a file type we accept (PDF, images, ZIP, gzip or plain text).")
                % {"name": upload.filename[:100]},
                code="type_refused",
            )
        checked.append(
            CheckedUpload(
                filename=filename_clean(upload.filename, content_type),
                data=upload.data,
                content_type=content_type,
                sha256=hashlib.sha256(upload.data).hexdigest(),
            )
        )
    return checked
