"""Reading a department's mailbox over IMAP, the only module that speaks IMAP.

Follows RFC 3501 (IMAP4rev1): a message is known by its UID, which is valid only together
with the folder's UIDVALIDITY (section 2.3.1.1); a client remembers both and asks for
``UID FETCH <last+1>:*``, where the server answers ``n:*`` with at least the highest message
even when it is older than ``n`` (section 6.4.8), so UIDs at or below the last one seen are
dropped here. ``BODY.PEEK[]`` leaves the ``\\Seen`` flag alone: what the app has read is
recorded in its own database, never in the mailbox. Login, folder status and search go
through ``imap-tools`` (https://github.com/ikvk/imap_tools, 1.16); the exact bytes of each
message come from the same connection's ``UID FETCH``.
"""

from __future__ import annotations

import contextlib
import imaplib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

from imap_tools import AND, MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.errors import ImapToolsError

SECURITY_CHOICES = ("ssl", "starttls", "plain")


class ImapUnavailable(Exception):
    """The server could not be reached, refused the login or the folder: try later."""


@dataclass(frozen=True)
class MailboxAccess:
    host: str
    port: int
    security: str  # ssl | starttls | plain
    username: str
    password: str
    folder: str = "INBOX"
    timeout_s: float = 30.0


@dataclass(frozen=True)
class FetchedMessage:
    uid: int
    raw: bytes


class MailboxReader:
    """One logged-in session: ``uidvalidity`` of the folder, then the new messages."""

    def __init__(self, access: MailboxAccess) -> None:
        self.access = access
        self._box: MailBox | MailBoxUnencrypted | MailBoxStartTls | None = None

    def __enter__(self) -> MailboxReader:
        access = self.access
        try:
            if access.security == "ssl":
                box = MailBox(
                    access.host,
                    access.port,
                    timeout=access.timeout_s,
                    ssl_context=ssl.create_default_context(),
                )
            elif access.security == "starttls":
                box = MailBoxStartTls(
                    access.host,
                    access.port,
                    timeout=access.timeout_s,
                    ssl_context=ssl.create_default_context(),
                )
            else:
                box = MailBoxUnencrypted(access.host, access.port, timeout=access.timeout_s)
            box.login(access.username, access.password, initial_folder=access.folder)
        except (TimeoutError, ImapToolsError, imaplib.IMAP4.error, OSError) as exc:
            raise ImapUnavailable(f"{access.host}:{access.port}: {exc}") from exc
        self._box = box
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._box is not None:
            with contextlib.suppress(ImapToolsError, imaplib.IMAP4.error, OSError):
                self._box.logout()
            self._box = None

    @property
    def box(self) -> MailBox | MailBoxUnencrypted | MailBoxStartTls:
        assert self._box is not None, "use MailboxReader as a context manager"
        return self._box

    def uidvalidity(self) -> int:
        try:
            return int(self.box.folder.status(self.access.folder)["UIDVALIDITY"])
        except (ImapToolsError, imaplib.IMAP4.error, OSError, KeyError) as exc:
            raise ImapUnavailable(f"STATUS {self.access.folder}: {exc}") from exc

    def uids_after(self, last_uid: int, *, limit: int) -> list[int]:
        try:
            found = self.box.uids(AND(uid=f"{last_uid + 1}:*"))
        except (ImapToolsError, imaplib.IMAP4.error, OSError) as exc:
            raise ImapUnavailable(f"UID SEARCH: {exc}") from exc
        return sorted(uid for uid in map(int, found) if uid > last_uid)[:limit]

    def fetch(self, uids: list[int]) -> Iterator[FetchedMessage]:
        """The exact bytes of each message, one at a time (a huge one does not hold the
        others in memory)."""
        for uid in uids:
            try:
                status, data = self.box.client.uid("FETCH", str(uid), "(BODY.PEEK[])")
            except (imaplib.IMAP4.error, OSError) as exc:
                raise ImapUnavailable(f"UID FETCH {uid}: {exc}") from exc
            if status != "OK":
                raise ImapUnavailable(f"UID FETCH {uid}: {data!r}")
            raw = next((item[1] for item in data if isinstance(item, tuple)), None)
            if raw is None:  # expunged meanwhile: nothing to read
                continue
            yield FetchedMessage(uid=uid, raw=raw)
