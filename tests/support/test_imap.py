"""The IMAP reader against the real Dovecot: the folder's UIDVALIDITY, only UIDs above the
last one seen (``n:*`` answers with the last message even when it is older), the exact
bytes delivered, and the ``\\Seen`` flag left alone."""

from __future__ import annotations

import pytest

from sandbox.dovecot import DovecotServer
from support.imap import ImapUnavailable, MailboxAccess, MailboxReader


@pytest.fixture
def imap_server():
    server = DovecotServer(users={"help@alpha.test": "pw-help-1"}).start()
    yield server
    server.stop()


def _access(server: DovecotServer, password: str = "pw-help-1") -> MailboxAccess:
    return MailboxAccess(server.host, server.port, "plain", "help@alpha.test", password)


def test_reads_new_messages_by_uid_exactly_as_delivered(imap_server):
    raws = [f"From: a@b.test\r\nSubject: n{i}\r\n\r\nbody {i}\r\n".encode() for i in range(3)]
    uids = [imap_server.deliver("help@alpha.test", raw) for raw in raws]
    with MailboxReader(_access(imap_server)) as reader:
        assert reader.uidvalidity() > 0
        assert reader.uids_after(0, limit=10) == uids
        assert reader.uids_after(uids[0], limit=10) == uids[1:]
        assert reader.uids_after(uids[-1], limit=10) == []
        assert reader.uids_after(0, limit=2) == uids[:2]
        fetched = list(reader.fetch(uids))
    assert [m.raw for m in fetched] == raws
    with MailboxReader(_access(imap_server)) as reader:
        flags = reader.box.client.uid("FETCH", "1:*", "(FLAGS)")[1]
    assert all(b"\\Seen" not in line for line in flags)


def test_a_wrong_password_or_a_dead_server_is_unavailable(imap_server):
    with pytest.raises(ImapUnavailable):
        MailboxReader(_access(imap_server, "nope")).__enter__()
    port = imap_server.port
    imap_server.stop()
    with pytest.raises(ImapUnavailable):
        MailboxReader(
            MailboxAccess("127.0.0.1", port, "plain", "help@alpha.test", "x", timeout_s=2)
        ).__enter__()
