"""Who holds a lease: an owner id names the host and process, so a dead one is recognised."""

from __future__ import annotations

import os
import socket

HOST = socket.gethostname()


def owner_id() -> str:
    return f"{HOST}:{os.getpid()}:{os.urandom(3).hex()}"


def owner_is_dead_here(owner: str) -> bool:
    """True when ``owner`` was a process on this host that no longer runs."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != HOST or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return int(pid) != os.getpid() and _is_zombie(int(pid))


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False
