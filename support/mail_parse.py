"""What an inbound e-mail says, read from its raw bytes without ever losing it.

Follows RFC 5322 (the message format), RFC 2045-2047 (MIME, charsets, encoded words),
RFC 3834 ("Recommendations for Automatic Responses to Electronic Mail": ``Auto-Submitted``
and the responder rules of section 2), RFC 3464 (delivery status notifications,
``multipart/report; report-type=delivery-status``) and RFC 2369 (``List-*`` headers), plus
the de-facto ``Precedence: bulk/junk/list``, ``X-Autoreply``/``X-Autorespond`` and
Microsoft's ``X-Auto-Response-Suppress``. Quoted history and signatures are cut with
``mail-parser-reply`` (https://github.com/alfonsrv/mail-parser-reply, 1.36), whose
language table has English and Italian; Russian headers of the common clients are added
here in the same shape.

Nothing here raises on a bad message: malformed MIME, unknown charsets and oversized
messages come back as a ``ParsedEmail`` with ``flags`` saying what was wrong, and the
caller keeps the raw bytes.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr

from django.utils.html import strip_tags
from mailparser_reply import EmailReplyParser
from mailparser_reply.constants import MAIL_LANGUAGES, QUOTED_MATCH_INCLUDE

# Russian reply headers: Gmail ("пн, 1 дек. 2026 г. в 10:00, Иван <a@b>:"), Yandex and
# Mail.ru ("01.12.2026, 10:00, "Иван" <a@b>:" / "Понедельник, 1 декабря 2026, 10:00 +03:00
# от Иван <a@b>:"), Thunderbird ("01.12.2026 10:00, Иван пишет:") and Outlook's block.
MAIL_LANGUAGES.setdefault(
    "ru",
    {
        "wrote_header": r"^("
        + QUOTED_MATCH_INCLUDE
        + r"(?:.{0,80}\d{4}.{0,40}(?:пишет|написал(?:а)?|wrote)\s*:"
        + r"|.{0,40}\d{1,2}[ .]\S+[ .]\d{4}.{0,40}<[^>\s]+@[^>\s]+>\s*:))$",
        "from_header": r"((?:(?:^|\n|\n"
        + QUOTED_MATCH_INCLUDE
        + r")[* ]*(?:От|Отправлено|Кому|Тема|Дата|Копия):[ *]*(?:\s{,2}).*){2,}(?:\n.*){,1})",
        "signatures": [
            "С уважением",
            "С наилучшими пожеланиями",
            "Всего доброго",
        ],
        "sent_from": "Отправлено с",
    },
)

REPLY_LANGUAGES = ["en", "it", "ru"]
AUTOMATIC_PRECEDENCE = {"bulk", "junk", "list"}
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{6,64}$")


class Flag:
    MALFORMED = "malformed"
    OVERSIZE = "oversize"
    CHARSET = "unknown_charset"
    NO_TEXT = "no_text"


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass
class ParsedEmail:
    sender: str  # the address alone, lower-cased; "" when there is none
    sender_name: str
    recipients: list[str]  # To, Cc, Delivered-To, X-Original-To, as written
    subject: str
    message_id: str  # with its angle brackets, as it appears in References
    in_reply_to: list[str]
    references: list[str]
    text: str  # the whole text part (or the HTML part made text)
    attachments: list[Attachment] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    automatic: str = ""  # why this is an automatic message, "" for a person's
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def thread_ids(self) -> list[str]:
        """The Message-IDs this message answers, nearest first."""
        seen: list[str] = []
        for value in [*self.in_reply_to, *reversed(self.references)]:
            if value not in seen:
                seen.append(value)
        return seen


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a header the policy cannot parse: read it raw
        value = None
        for key, raw in message.raw_items() if hasattr(message, "raw_items") else []:
            if key.lower() == name.lower():
                value = raw
                break
    if value is None:
        return ""
    try:
        return str(value).strip()
    except Exception:
        return ""


_MSGID_RE = re.compile(r"<[^<>\s]+>")


def message_ids(value: str) -> list[str]:
    """The ``<id@host>`` tokens of a Message-ID, In-Reply-To or References header."""
    return _MSGID_RE.findall(value or "")


def _decode_part(part: Message, flags: list[str]) -> str:
    payload = part.get_payload(decode=True)
    if payload is None:
        return ""
    charset = part.get_content_charset() or "us-ascii"
    try:
        return payload.decode(charset)
    except LookupError:
        if Flag.CHARSET not in flags:
            flags.append(Flag.CHARSET)
    except UnicodeDecodeError:
        if Flag.MALFORMED not in flags:
            flags.append(Flag.MALFORMED)
    # Most mail that lies about its charset is UTF-8; what is not is shown with
    # replacement characters rather than dropped, and the raw bytes stay on file.
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.decode("utf-8", errors="replace")


def automatic_reason(message: Message) -> str:
    """Why RFC 3834 (and the conventions it lists) forbids answering this message; "" when
    a person wrote it."""
    auto = _header(message, "Auto-Submitted").lower()
    if auto and auto.split(";")[0].strip() != "no":
        return f"auto-submitted: {auto.split(';')[0].strip()}"
    precedence = _header(message, "Precedence").lower()
    if precedence in AUTOMATIC_PRECEDENCE:
        return f"precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if _header(message, name):
            return name.lower()
    suppress = _header(message, "X-Auto-Response-Suppress").lower()
    if suppress and any(word in suppress for word in ("all", "oof", "autoreply")):
        return "x-auto-response-suppress"
    if _header(message, "List-Id") or _header(message, "List-Unsubscribe"):
        return "mailing list"
    content_type = message.get_content_type()
    if content_type == "multipart/report":
        return f"report: {message.get_param('report-type') or 'unknown'}"
    return_path = _header(message, "Return-Path")
    if return_path.replace(" ", "") == "<>":
        return "null return path"
    local = parseaddr(_header(message, "From"))[1].split("@")[0].lower()
    if local in {"mailer-daemon", "postmaster"}:
        return f"sent by {local}"
    return ""


def _walk_text(message: Message, flags: list[str]) -> tuple[str, list[Attachment]]:
    plain: list[str] = []
    html: list[str] = []
    attachments: list[Attachment] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        try:
            filename = part.get_filename() or ""
        except Exception:
            filename = ""
            if Flag.MALFORMED not in flags:
                flags.append(Flag.MALFORMED)
        disposition = (part.get_content_disposition() or "").lower()
        if filename or disposition == "attachment" or not content_type.startswith("text/"):
            content = part.get_payload(decode=True) or b""
            if content:
                attachments.append(Attachment(filename or "attachment", content_type, content))
            continue
        text = _decode_part(part, flags)
        (html if content_type == "text/html" else plain).append(text)
    if plain:
        return "\n".join(plain), attachments
    if html:
        # Paragraph and line breaks kept before the tags go.
        joined = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", "\n".join(html))
        return strip_tags(joined), attachments
    return "", attachments


def email_parse(raw: bytes, *, max_bytes: int) -> ParsedEmail:
    """Reads ``raw``; never raises. Above ``max_bytes`` only the headers are read."""
    flags: list[str] = []
    oversize = len(raw) > max_bytes
    source = raw
    if oversize:
        flags.append(Flag.OVERSIZE)
        head_end = raw.find(b"\r\n\r\n")
        head_end = raw.find(b"\n\n") if head_end < 0 else head_end
        source = raw[: head_end if head_end >= 0 else min(len(raw), 64 * 1024)] + b"\r\n\r\n"
    try:
        message: Message = email.message_from_bytes(source, policy=email.policy.default)
    except Exception:
        message = email.message_from_bytes(source, policy=email.policy.compat32)
        flags.append(Flag.MALFORMED)
    if getattr(message, "defects", None) and Flag.MALFORMED not in flags:
        flags.append(Flag.MALFORMED)
    for part in message.walk() if message.is_multipart() else []:
        if part.defects and Flag.MALFORMED not in flags:
            flags.append(Flag.MALFORMED)
    sender_name, sender = parseaddr(_header(message, "From"))
    recipients = [
        address
        for _, address in getaddresses(
            [
                _header(message, name)
                for name in ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")
            ]
        )
        if "@" in address
    ]
    text, attachments = ("", [])
    if not oversize:
        try:
            text, attachments = _walk_text(message, flags)
        except Exception:
            flags.append(Flag.MALFORMED)
    if not text.strip() and not oversize:
        flags.append(Flag.NO_TEXT)
    headers = {}
    for name in ("From", "To", "Cc", "Subject", "Date", "Message-ID", "Auto-Submitted"):
        value = _header(message, name)
        if value:
            headers[name] = value[:500]
    return ParsedEmail(
        sender=sender.lower() if "@" in sender else "",
        sender_name=sender_name[:200],
        recipients=recipients,
        subject=_header(message, "Subject")[:250],
        message_id=(message_ids(_header(message, "Message-ID")) or [""])[0],
        in_reply_to=message_ids(_header(message, "In-Reply-To")),
        references=message_ids(_header(message, "References")),
        text=text,
        attachments=attachments,
        flags=flags,
        automatic=automatic_reason(message),
        headers=headers,
    )


def reply_strip(text: str) -> str:
    """The new part of a reply: quoted history, the "On ... wrote:" line and the
    signature cut off, in English, Italian and Russian."""
    text = text.replace("\r\n", "\n")
    try:
        parsed = EmailReplyParser(languages=list(REPLY_LANGUAGES)).read(text)
    except Exception:  # the parser's regexes on a pathological body: keep it whole
        return text.strip()
    if not parsed.replies:
        return text.strip()
    latest = parsed.replies[0]
    body = (latest.body or "").strip()
    return body or (latest.content or "").strip() or text.strip()


def reply_token(recipients: list[str], mailbox_address: str) -> str:
    """The per-ticket token of a reply address, ``support+<token>@example.com`` for the
    mailbox ``support@example.com``; "" when no recipient carries one."""
    local, _, domain = mailbox_address.lower().partition("@")
    for address in recipients:
        their_local, _, their_domain = address.rpartition("@")
        if their_domain.lower() != domain or "+" not in their_local:
            continue
        base, _, token = their_local.partition("+")
        if base.lower() == local and _TOKEN_RE.match(token):
            return token
    return ""


def reply_address(mailbox_address: str, token: str) -> str:
    """The address a ticket's e-mails ask to be answered at."""
    local, _, domain = mailbox_address.partition("@")
    return f"{local}+{token}@{domain}"


def as_message(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)
