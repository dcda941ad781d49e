"""A real IMAP server (Dovecot, Debian's dovecot-imapd) on loopback, for tests.

Its own configuration, folders and port in a temporary directory; it runs
as long as the test needs it. Skipped with the reason when Dovecot is not
installed, except under CI (where .ci/run installs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.smtp_server import free_port

CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@contextmanager
def dovecot(user: str, password: str) -> Iterator[int]:
    binary = shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
    )
    if binary is None or os.geteuid() != 0:
        message = "Dovecot not installed or not root (Debian's dovecot-imapd; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="mailer-imap-"))
    root.chmod(0o755)  # the mail user (nobody) must reach its home
    for sub in ("run", "state"):
        (root / sub).mkdir()
    (root / "home").mkdir()
    shutil.chown(root / "home", "nobody", "nogroup")
    (root / "passwd").write_text(f"{user}:{{PLAIN}}{password}\n")
    port = free_port()
    (root / "dovecot.conf").write_text(CONF.format(root=root, port=port))
    proc = subprocess.Popen(
        [binary, "-F", "-c", str(root / "dovecot.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = (
                        (root / "dovecot.log").read_text()
                        if (root / "dovecot.log").exists()
                        else ""
                    )
                    raise RuntimeError(f"dovecot did not start: {log}") from None
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        shutil.rmtree(root, ignore_errors=True)
