"""The IMAP stand-in is the real Dovecot: it logs users in with their passwords only,
and mail appended to a mailbox gets the server's own UID and UIDVALIDITY."""

from __future__ import annotations

import pytest
from imap_tools import MailBoxUnencrypted
from imap_tools.errors import MailboxLoginError

from sandbox.dovecot import DovecotServer


def test_dovecot_serves_appended_mail_to_its_user_only():
    server = DovecotServer(users={"support@alpha.test": "s3cret-one"}).start()
    try:
        first = server.deliver("support@alpha.test", b"From: a@b.test\r\nSubject: 1\r\n\r\nx\r\n")
        second = server.deliver("support@alpha.test", b"From: a@b.test\r\nSubject: 2\r\n\r\ny\r\n")
        assert second == first + 1
        with MailBoxUnencrypted(server.host, server.port).login(
            "support@alpha.test", "s3cret-one"
        ) as mailbox:
            status = mailbox.folder.status("INBOX")
            assert status["MESSAGES"] == 2
            assert status["UIDVALIDITY"] > 0
            assert [m.subject for m in mailbox.fetch(mark_seen=False)] == ["1", "2"]
        with pytest.raises(MailboxLoginError):
            MailBoxUnencrypted(server.host, server.port).login("support@alpha.test", "wrong")
    finally:
        server.stop()
