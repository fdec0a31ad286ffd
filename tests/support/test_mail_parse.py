"""Reading inbound e-mail: automatic messages recognised by RFC 3834's rules, quotes and
signatures cut in English, Italian and Russian, the reply token found in the address,
and bad mail read without an exception and flagged."""

from __future__ import annotations

import pytest

from support.mail_parse import Flag, email_parse, reply_address, reply_strip, reply_token

MAX = 1_000_000


def _mail(headers: str, body: str = "Hello", content_type: str = "text/plain") -> bytes:
    head = (
        "From: Mario Rossi <mario@client.test>\r\nTo: support@alpha.test\r\n"
        f"Subject: Help\r\nMessage-ID: <m1@client.test>\r\nContent-Type: {content_type}\r\n"
        + headers
    )
    return (head + "\r\n" + body + "\r\n").encode()


@pytest.mark.parametrize(
    "headers",
    [
        "Auto-Submitted: auto-replied\r\n",
        "Auto-Submitted: auto-generated; owner-email=x@y.test\r\n",
        "Precedence: bulk\r\n",
        "Precedence: junk\r\n",
        "Precedence: list\r\n",
        "X-Autoreply: yes\r\n",
        "X-Autorespond: vacation\r\n",
        "X-Auto-Response-Suppress: All\r\n",
        "List-Id: <announce.lists.test>\r\n",
        "Return-Path: <>\r\n",
    ],
)
def test_automatic_messages_are_recognised(headers):
    assert email_parse(_mail(headers), max_bytes=MAX).automatic


def test_a_person_s_message_is_not_automatic():
    assert email_parse(_mail("Auto-Submitted: no\r\n"), max_bytes=MAX).automatic == ""
    assert email_parse(_mail(""), max_bytes=MAX).automatic == ""


def test_a_delivery_status_notification_is_automatic():
    raw = (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.test>\r\nTo: support@alpha.test\r\n"
        b"Subject: Undelivered Mail\r\nContent-Type: multipart/report; "
        b'report-type=delivery-status; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n'
        b"\r\nThe mail could not be delivered.\r\n--b\r\nContent-Type: message/delivery-status"
        b"\r\n\r\nReporting-MTA: dns; mx.test\r\n\r\nFinal-Recipient: rfc822; x@y.test\r\n"
        b"Action: failed\r\nStatus: 5.1.1\r\n--b--\r\n"
    )
    assert email_parse(raw, max_bytes=MAX).automatic.startswith("report: delivery-status")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "Thanks, it works.\n\nBest regards,\nMario\n\n"
            "On Mon, 1 Dec 2026 at 10:00, Support <support@alpha.test> wrote:\n> Try again.\n",
            "Thanks, it works.",
        ),
        (
            "Grazie, ora funziona.\n\nCordiali saluti\nMario\n\n"
            "Il giorno lun 1 dic 2026 alle ore 10:00 Supporto <support@alpha.test> ha scritto:"
            "\n> Riprova.\n",
            "Grazie, ora funziona.",
        ),
        (
            "Спасибо, всё работает.\n\nС уважением,\nИван\n\n"
            "пн, 1 дек. 2026 г. в 10:00, Поддержка <support@alpha.test>:\n> Попробуйте.\n",
            "Спасибо, всё работает.",
        ),
        (
            "Спасибо!\n\n01.12.2026 10:00, Поддержка пишет:\n> Попробуйте.\n",
            "Спасибо!",
        ),
        ("Just one line, nothing quoted.", "Just one line, nothing quoted."),
    ],
)
def test_quotes_and_signatures_are_cut(body, expected):
    assert reply_strip(body) == expected


def test_the_reply_token_is_read_from_the_plus_address():
    address = reply_address("support@alpha.test", "abc123def456")
    assert address == "support+abc123def456@alpha.test"
    assert reply_token(["other@alpha.test", address.upper()], "support@alpha.test") == (
        "ABC123DEF456"
    )
    # Another mailbox's plus-address, or another domain's, is not ours.
    assert reply_token(["sales+abc123def456@alpha.test"], "support@alpha.test") == ""
    assert reply_token(["support+abc123def456@beta.test"], "support@alpha.test") == ""


def test_threading_headers_are_read_nearest_first():
    parsed = email_parse(
        _mail("In-Reply-To: <b@alpha.test>\r\nReferences: <a@alpha.test> <b@alpha.test>\r\n"),
        max_bytes=MAX,
    )
    assert parsed.message_id == "<m1@client.test>"
    assert parsed.thread_ids == ["<b@alpha.test>", "<a@alpha.test>"]


def test_an_unknown_charset_is_read_as_far_as_possible_and_flagged():
    raw = _mail("", body="caf\xe9 ok", content_type="text/plain; charset=x-klingon")
    parsed = email_parse(raw.replace("caf\xe9".encode(), b"caf\xc3\xa9"), max_bytes=MAX)
    assert Flag.CHARSET in parsed.flags
    assert "café ok" in parsed.text


def test_broken_mime_is_read_and_flagged():
    raw = (
        b"From: a@client.test\r\nTo: support@alpha.test\r\nSubject: cut\r\n"
        b'Content-Type: multipart/mixed; boundary="zz"\r\n\r\n--zz\r\n'
        b"Content-Type: text/plain\r\n\r\nthe body goes on with no closing boundary"
    )
    parsed = email_parse(raw, max_bytes=MAX)
    assert Flag.MALFORMED in parsed.flags
    assert "no closing boundary" in parsed.text


def test_a_huge_message_keeps_its_headers_only_and_is_flagged():
    parsed = email_parse(_mail("", body="x" * 5000), max_bytes=1000)
    assert Flag.OVERSIZE in parsed.flags
    assert parsed.subject == "Help"
    assert parsed.sender == "mario@client.test"
    assert parsed.text == ""


def test_html_only_mail_becomes_text_and_files_become_attachments():
    raw = (
        b"From: a@client.test\r\nTo: support@alpha.test\r\nSubject: html\r\n"
        b'Content-Type: multipart/mixed; boundary="zz"\r\n\r\n--zz\r\n'
        b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Line one</p><p>Line <b>two</b></p>"
        b"\r\n--zz\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
        b'filename="invoice.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n'
        b"--zz--\r\n"
    )
    parsed = email_parse(raw, max_bytes=MAX)
    assert "Line one" in parsed.text and "Line two" in parsed.text
    assert [(a.filename, a.content) for a in parsed.attachments] == [("invoice.pdf", b"%PDF-1.4\n")]
