"""A department's mailbox in the console: the settings are saved through the service
(the password encrypted, never shown again, kept when left empty), the mailbox is then
read from the real Dovecot, and the latest messages are listed with their outcome and
flags; the original of each downloads exactly as it arrived, for this tenant's staff
only."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from core.crypto import secret_decrypt
from support import services
from support.inbound import mailboxes_fetch
from support.models import InboundEmail, Mailbox

pytestmark = pytest.mark.django_db


def test_mailbox_settings_reading_and_the_original(tenant_a, tenant_b, imap_server):
    imap_server.user_add("help@alpha.test", "imap-pass-9")
    with schema_context(tenant_a.schema):
        department = services.department_save(
            name="Help", email="help@alpha.test", allow_guests=True
        )
    owner = tenant_a.client(tenant_a.owner)
    url = f"/console/support/departments/{department.public_id}/mailbox/"
    assert owner.get(url).status_code == 200
    fields = {
        "host": imap_server.host,
        "port": imap_server.port,
        "security": "plain",
        "username": "help@alpha.test",
        "folder": "INBOX",
        "is_active": "on",
    }
    refused = owner.post(url, fields)  # a new mailbox needs its password
    assert refused.status_code == 400
    with schema_context(tenant_a.schema):
        assert not Mailbox.objects.exists()
    assert owner.post(url, {**fields, "password": "imap-pass-9"}).status_code == 302
    assert owner.post(url, fields).status_code == 302  # empty: the stored one stays
    with schema_context(tenant_a.schema):
        mailbox = Mailbox.objects.get()
        assert mailbox.password_encrypted != "imap-pass-9"
        assert secret_decrypt(mailbox.password_encrypted) == "imap-pass-9"
    assert "imap-pass-9" not in owner.get(url).content.decode()

    raw = (
        b"From: Guest <guest@else.test>\r\nTo: help@alpha.test\r\nSubject: Question\r\n"
        b"Message-ID: <q1@else.test>\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\n"
        b"Do you sell domains?\r\n"
    )
    imap_server.deliver("help@alpha.test", raw)
    with schema_context(tenant_a.schema):
        assert mailboxes_fetch() == 1
        record = InboundEmail.objects.get()
    page = owner.get(url).content.decode()
    assert "guest@else.test" in page and "unknown charset" in page
    download = owner.get(f"/console/support/inbound/{record.public_id}/raw/")
    assert download.status_code == 200
    assert download["Content-Type"] == "message/rfc822"
    assert b"".join(download.streaming_content if download.streaming else [download.content]) == raw
    readonly = tenant_a.client(tenant_a.readonly)
    assert readonly.post(url, {**fields, "password": "x"}).status_code == 403
    stranger = tenant_b.client(tenant_b.owner)
    assert stranger.get(f"/console/support/inbound/{record.public_id}/raw/").status_code == 404
    assert stranger.get(url).status_code == 404
