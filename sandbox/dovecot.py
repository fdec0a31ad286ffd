"""A real IMAP server for the inbound e-mail tests: Debian's ``dovecot-imapd``, run from a
temporary directory with a configuration of its own (no system service, no root-owned
paths), its users in a ``passwd-file`` with plain passwords and their mail in Maildirs.

Mail reaches a mailbox the way an MTA's delivery agent would leave it, by IMAP ``APPEND``
(RFC 3501 section 6.3.11) as that user, so the UID and UIDVALIDITY the app sees are the
server's own. Dovecot's configuration follows the Dovecot 2.3 documentation
(https://doc.dovecot.org/2.3/configuration_manual/, "Running Dovecot as a non-root user"
and "passwd-file").
"""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


class DovecotMissing(RuntimeError):
    """Dovecot is not installed (``apt-get install dovecot-imapd``; ``.ci/run`` does)."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run_as() -> tuple[str, int, int]:
    """The system user that owns the mail: the current one, or, for root, Debian's
    ``dovecot`` user (Dovecot refuses to keep mail as root)."""
    entry = pwd.getpwuid(os.geteuid()) if os.geteuid() != 0 else pwd.getpwnam("dovecot")
    return entry.pw_name, entry.pw_uid, entry.pw_gid


@dataclass
class DovecotServer:
    users: dict[str, str] = field(default_factory=dict)  # login → password
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        self.port = 0
        self.root: Path | None = None
        self._process: subprocess.Popen | None = None

    def _config(self, root: Path) -> str:
        name, uid, gid = _run_as()
        privileged = os.geteuid() == 0
        internal = "dovecot" if privileged else name
        login = "dovenull" if privileged else name
        return f"""
protocols = imap
listen = {self.host}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {internal}
default_login_user = {login}
first_valid_uid = {uid}
last_valid_uid = {uid}
mail_location = maildir:{root}/mail/%u
mail_uid = {uid}
mail_gid = {gid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
service auth {{
  unix_listener auth-userdb {{
    mode = 0666
  }}
}}
"""

    def start(self) -> DovecotServer:
        if not Path(DOVECOT).exists():
            raise DovecotMissing("dovecot is not installed (apt-get install dovecot-imapd)")
        self.root = Path(tempfile.mkdtemp(prefix="tessera-imap-"))
        _, uid, gid = _run_as()
        for sub in ("run", "state", "mail"):
            (self.root / sub).mkdir()
        os.chmod(self.root, 0o755)
        if os.geteuid() == 0:
            os.chown(self.root / "mail", uid, gid)
        self._users_write()
        self.port = _free_port()
        config = self.root / "dovecot.conf"
        config.write_text(self._config(self.root))
        self._process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        for _ in range(200):
            if self._process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log()[-3000:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start listening: {self.log()[-3000:]}")

    def _users_write(self) -> None:
        assert self.root is not None
        lines = [f"{login}:{{PLAIN}}{password}::::::" for login, password in self.users.items()]
        users = self.root / "users"
        users.write_text("\n".join(lines) + "\n")
        os.chmod(users, 0o644)

    def user_add(self, login: str, password: str) -> None:
        """A new mailbox; dovecot reads the passwd-file again on the next login."""
        self.users[login] = password
        self._users_write()

    def log(self) -> str:
        if self.root is None or not (self.root / "dovecot.log").exists():
            return ""
        return (self.root / "dovecot.log").read_text(errors="replace")

    def connect(self, login: str) -> imaplib.IMAP4:
        imap = imaplib.IMAP4(self.host, self.port)
        imap.login(login, self.users[login])
        return imap

    def deliver(self, login: str, raw: bytes, *, folder: str = "INBOX") -> int:
        """Append ``raw`` to the user's folder as a new, unseen message; its UID."""
        imap = self.connect(login)
        try:
            status, data = imap.append(folder, "", None, raw)
            if status != "OK":
                raise RuntimeError(f"APPEND refused: {data!r}")
            # RFC 4315 APPENDUID: [APPENDUID <uidvalidity> <uid>]
            code = imap.untagged_responses.get("APPENDUID") or []
            text = (data[0] or b"").decode()
            if "APPENDUID" in text:
                return int(text.split("APPENDUID", 1)[1].split("]")[0].split()[1])
            return int(code[-1].split()[1]) if code else 0
        finally:
            imap.logout()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._process = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
