"""FreeBSD errno names, numbers and strerror() texts (never the Linux wording)."""
from __future__ import annotations

# name -> (FreeBSD errno number, FreeBSD strerror text)
ERRNO: dict[str, tuple[int, str]] = {
    "EPERM": (1, "Operation not permitted"),
    "ENOENT": (2, "No such file or directory"),
    "ESRCH": (3, "No such process"),
    "ENXIO": (6, "Device not configured"),
    "E2BIG": (7, "Argument list too long"),
    "ENOEXEC": (8, "Exec format error"),
    "ENOMEM": (12, "Cannot allocate memory"),
    "EACCES": (13, "Permission denied"),
    "EBUSY": (16, "Device busy"),
    "EEXIST": (17, "File exists"),
    "EINVAL": (22, "Invalid argument"),
    "ENOSPC": (28, "No space left on device"),
    "EINPROGRESS": (36, "Operation now in progress"),
    "EALREADY": (37, "Operation already in progress"),
    "EDESTADDRREQ": (39, "Destination address required"),
    "EMSGSIZE": (40, "Message too long"),
    "EPROTOTYPE": (41, "Protocol wrong type for socket"),
    "ENOPROTOOPT": (42, "Protocol not available"),
    "EPROTONOSUPPORT": (43, "Protocol not supported"),
    "EOPNOTSUPP": (45, "Operation not supported"),
    "EPFNOSUPPORT": (46, "Protocol family not supported"),
    "EAFNOSUPPORT": (47, "Address family not supported by protocol family"),
    "EADDRINUSE": (48, "Address already in use"),
    "EADDRNOTAVAIL": (49, "Can't assign requested address"),
    "ENETDOWN": (50, "Network is down"),
    "ENETUNREACH": (51, "Network is unreachable"),
    "ECONNRESET": (54, "Connection reset by peer"),
    "ENOBUFS": (55, "No buffer space available"),
    "EISCONN": (56, "Socket is already connected"),
    "ENOTCONN": (57, "Socket is not connected"),
    "ETIMEDOUT": (60, "Operation timed out"),
    "ECONNREFUSED": (61, "Connection refused"),
    "ELOOP": (62, "Too many levels of symbolic links"),
    "ENAMETOOLONG": (63, "File name too long"),
    "EHOSTUNREACH": (65, "No route to host"),
    "ENOSYS": (78, "Function not implemented"),
}


def strerror(name: str) -> str:
    """FreeBSD strerror() text for an errno name."""
    return ERRNO[name][1]


class NgError(Exception):
    """A kernel error, carried by its errno name (e.g. ``NgError("ENOENT")``)."""

    def __init__(self, errno_name: str):
        if errno_name not in ERRNO:
            raise ValueError(f"unknown errno {errno_name!r}")
        super().__init__(errno_name)
        self.errno = errno_name

    @property
    def text(self) -> str:
        return strerror(self.errno)
