"""A private Dovecot IMAP server (Debian's ``dovecot-imapd``) for the bounce mailbox tests:
its own configuration, users file and maildirs in a temporary folder, IMAP without TLS on
a free port of 127.0.0.1, started in the foreground and stopped with the test."""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

USER = "bounces"
PASSWORD = "s3cret/@%"  # URL-quoted in the mailbox URL; no colon: the users file splits on it
FOLDER = "INBOX"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _mail_owner() -> tuple[int, int]:
    """Dovecot refuses to keep mail as root: as root, the ``dovecot`` user owns it."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    entry = pwd.getpwnam("dovecot")
    return entry.pw_uid, entry.pw_gid


class DovecotServer:
    def __init__(self) -> None:
        # a folder of its own under the system's temporary folder: pytest's are private to
        # the user running the tests, and Dovecot's processes read it as the dovecot user
        self.folder = Path(tempfile.mkdtemp(prefix="campaignd-dovecot-"))
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        from urllib.parse import quote

        return f"imap://{USER}:{quote(PASSWORD, safe='')}@127.0.0.1:{self.port}/{FOLDER}"

    def _configure(self) -> Path:
        uid, gid = _mail_owner()
        for name in ("run", "state", "mail", "home"):
            (self.folder / name).mkdir(parents=True, exist_ok=True)
        for name in ("mail", "home"):
            os.chown(self.folder / name, uid, gid)
        self.folder.chmod(0o755)
        users = self.folder / "users"
        users.write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        config = self.folder / "dovecot.conf"
        config.write_text(
            f"""
base_dir = {self.folder}/run
state_dir = {self.folder}/state
log_path = {self.folder}/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{self.folder}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={self.folder}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""
        )
        return config

    def __enter__(self) -> DovecotServer:
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        config = self._configure()
        self.process = subprocess.Popen(
            [binary, "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                self.client().logout()
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    error = self.process.stderr.read() if self.process.stderr else b""
                    self.__exit__(None, None, None)
                    raise RuntimeError(f"dovecot did not start: {error.decode()}") from None
                time.sleep(0.05)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        shutil.rmtree(self.folder, ignore_errors=True)

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(USER, PASSWORD)
        client.select(FOLDER)
        return client

    def append(self, raw: bytes) -> None:
        client = self.client()
        try:
            status, data = client.append(FOLDER, None, None, raw)
            assert status == "OK", data
        finally:
            client.logout()

    def flags(self) -> list[str]:
        """The flags of each message, in order."""
        client = self.client()
        try:
            status, data = client.fetch("1:*", "(FLAGS)")
            assert status == "OK", data
            return [item.decode() for item in data if isinstance(item, bytes)]
        finally:
            client.logout()
