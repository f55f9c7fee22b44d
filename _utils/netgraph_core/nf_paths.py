"""The one table of default paths (boot files, lock, rc.d files, FreeBSD binaries) and
of the time bounds of every spawn, and their validation (pure; no Salt).

The execution modules, the state and the formula (through ``netflow.paths``) all read
these defaults, so the rc.d script replays what the state wrote with the binaries the
state used. Every path may end up in ``/etc/rc.conf.d/netflow``, which ``sh`` sources as
root at every boot: only absolute paths of a safe character set are accepted.
"""
from __future__ import annotations

import re

from .ng_words import shown

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

# The time bound (seconds) of every binary the netgraph module runs, by config key (minion
# config or pillar): a hung ngctl/kldload/ipfw/... is killed and reported instead of holding
# the netflow lock for ever. The beacon's read gets a shorter one: Salt runs beacons in the
# minion's own loop, so a hung read there would freeze the whole minion.
TIMEOUTS: dict[str, tuple[str, int]] = {"timeout": ("netgraph.timeout", 60),
                                        "watch_timeout": ("netgraph.watch_timeout", 10)}
TIMEOUT_RANGE = (1, 3600)

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


def check_timeout(key: str, value, fallback: float) -> float:
    """A time bound in seconds: a number in TIMEOUT_RANGE (None: ``fallback``, the key left
    empty); raises ValueError naming ``key`` otherwise (a string or a bool is a typo)."""
    if value is None:
        return fallback
    low, high = TIMEOUT_RANGE
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"{key}: {shown(value)} is not a time bound (a number of seconds, {low}..{high})")
    return value


def timed_out(result: dict, bound: float, elapsed: float) -> bool:
    """Did ``cmd.run_all`` kill its command at ``bound``? On timeout salt/modules/cmdmod.py
    returns retcode 1, empty stderr and stdout ``"<argv> : Timed out after <bound> seconds"``
    (salt.utils.timed_subprocess.TimedProc), which no finished binary prints; the clock
    (``elapsed`` seconds) must agree."""
    out = result.get("stdout") or ""
    return (result.get("retcode") == 1 and not result.get("stderr")
            and out.endswith(f" : Timed out after {bound} seconds") and elapsed >= bound * 0.9)
