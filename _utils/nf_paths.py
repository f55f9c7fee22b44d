"""The one table of default paths (boot files, lock, rc.d files, FreeBSD binaries) and
their validation (pure; no Salt).

The execution modules, the state and the formula (through ``netflow.paths``) all read
these defaults, so the rc.d script replays what the state wrote with the binaries the
state used. Every path may end up in ``/etc/rc.conf.d/netflow``, which ``sh`` sources as
root at every boot: only absolute paths of a safe character set are accepted.
"""
from __future__ import annotations

import re

from ng_words import shown

# The defaults, by the config prefix each is read under: ``netflow:<key>`` (the formula's
# and the state's own) and ``netgraph.<key>`` (the binaries _modules/netgraph.py runs).
_NETFLOW = dict(boot_dir="/usr/local/etc/netflow", lock_file="/var/run/netflow.lock",
                rc_script="/usr/local/etc/rc.d/netflow", rc_conf_d="/etc/rc.conf.d/netflow",
                sha256="/sbin/sha256", lockf="/usr/bin/lockf")
_NETGRAPH = dict(ngctl="/usr/sbin/ngctl", kldload="/sbin/kldload", kldstat="/sbin/kldstat", ipfw="/sbin/ipfw",
                 ifconfig="/sbin/ifconfig", flowctl="/usr/sbin/flowctl")
# key -> (config.get key, default)
PATHS: dict[str, tuple[str, str]] = {**{k: (f"netflow:{k}", v) for k, v in _NETFLOW.items()},
                                     **{k: (f"netgraph.{k}", v) for k, v in _NETGRAPH.items()}}
BINARIES = tuple(_NETGRAPH)

_SAFE_PATH_RE = re.compile(r"/[A-Za-z0-9_./+-]{0,1022}")


def check_path(key: str, value) -> str:
    """An absolute path of ``[A-Za-z0-9_./+-]`` without ``..``, at most 1023 characters
    (PATH_MAX - 1); raises ValueError naming ``key`` otherwise."""
    if not isinstance(value, str):
        raise ValueError(f"{key}: {shown(value)} is not a path (a string)")
    if not _SAFE_PATH_RE.fullmatch(value) or ".." in value.split("/"):
        raise ValueError(
            f"{key}: {shown(value)} is not a safe absolute path (it must start with '/', use only "
            "letters, digits and _ . / + -, have no '..' and be at most 1023 characters)"
        )
    return value


def default(key: str) -> str:
    """The default value of ``key``."""
    return PATHS[key][1]
