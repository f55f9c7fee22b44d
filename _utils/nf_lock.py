"""The lock that serialises Salt's applies with the rc.d script's replays (no Salt).

FreeBSD's ``lockf(1)``, which the rc.d script uses, takes its lock by opening the file
with ``O_EXLOCK``: an flock(2)-style lock. ``fcntl.flock(LOCK_EX)`` takes the same lock,
so an apply and a boot replay (or ``service netflow stop``) never run at once.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time


class LockTimeout(OSError):
    """The lock was held by someone else for longer than the timeout."""


@contextlib.contextmanager
def exclusive(path: str, timeout: float = 60.0):
    """Hold an exclusive flock on ``path`` (created 0600 if missing) for the block."""
    os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise LockTimeout(errno.EWOULDBLOCK, f"{path} is held by another run (waited {timeout:.0f} s)") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing releases the flock
