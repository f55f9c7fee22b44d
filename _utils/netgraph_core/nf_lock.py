"""The lock that serialises Salt's applies with the rc.d script's replays (no Salt).

FreeBSD's ``lockf(1)``, which the rc.d script uses, takes its lock by opening the file
with ``O_EXLOCK``: an flock(2)-style lock. ``fcntl.flock(LOCK_EX)`` takes the same lock,
so an apply and a boot replay (or ``service netflow stop``) never run at once.

A preview (``test=True``) writes nothing (docs/DESIGN-NOTES.md, "A preview writes
nothing"): it takes the lock shared, read-only, and only when the lock file exists
(``shared_if_exists``), so it never creates the file or its directory, reads a graph no
apply or replay is halfway through, and never blocks another preview.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time


class LockTimeout(OSError):
    """The lock was held by someone else for longer than the timeout."""


def _take(fd: int, op: int, path: str, timeout: float) -> None:
    """flock(fd, op) without blocking forever: retried until ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, op | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                raise
            if time.monotonic() >= deadline:
                raise LockTimeout(errno.EWOULDBLOCK, f"{path} is held by another run (waited {timeout:.0f} s)") from None
            time.sleep(0.05)


@contextlib.contextmanager
def exclusive(path: str, timeout: float = 60.0):
    """Hold an exclusive flock on ``path`` (created 0600 if missing) for the block."""
    os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _take(fd, fcntl.LOCK_EX, path, timeout)
        yield
    finally:
        os.close(fd)  # closing releases the flock


@contextlib.contextmanager
def shared_if_exists(path: str, timeout: float = 60.0):
    """Hold a shared flock on ``path`` for the block if the file exists; create nothing.
    No file: no apply or replay has ever taken the lock here, so there is none to wait for."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        fd = None
    try:
        if fd is not None:
            _take(fd, fcntl.LOCK_SH, path, timeout)
        yield
    finally:
        if fd is not None:
            os.close(fd)
