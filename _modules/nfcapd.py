"""The NetFlow collector (nfcapd from nfdump) of pillar ``netflow:collector``: the Salt glue
of ``_utils/netgraph_core/nf_collector.py``, which checks the pillar and renders nfcapd's
argv, its systemd unit or rc.conf.d file, and nfexpire's limits. The state
``netflow.collector_present`` applies what ``plan`` returns. This module runs one binary,
nfexpire (the storage limits), with a time bound, and reads nfcapd's capture files for
``received``; it loads on any OS (a collector host needs no netgraph).
"""
from __future__ import annotations

import mmap
import os
import posixpath
import struct
import time

import salt.utils.data
from netgraph_core import nf_collector, nf_mine, nf_paths, nf_verify
from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from salt.utils.secret import expose as _expose
except ImportError:  # Salt before 3008 does not mask pillar
    def _expose(value):
        return value

__virtualname__ = "nfcapd"


def __virtual__():
    return __virtualname__


def _pillar(default=None):
    """Pillar ``netflow:collector`` as it is: Salt 3008's ``pillar.get`` masks every value
    when a job (not a template) asks, so ``__pillar__`` is read itself."""
    return _expose(salt.utils.data.traverse_dict_and_list(__pillar__, "netflow:collector", default))


def _platform(os_family=None) -> str:
    return nf_collector.platform_of(__grains__.get("os_family") if os_family is None else os_family)


def _mine(config) -> dict | None:
    """With ``sources: mine``: every minion's published exporters (ONE ``mine.get`` of
    netflow_exporters), this minion's own addresses (its grains) and its id, as data for
    nf_collector; an unreachable master reads as no exporters."""
    if not (isinstance(config, dict) and config.get("sources") == "mine"):
        return None
    try:
        published = __salt__["mine.get"]("*", nf_mine.MINE_EXPORTERS)
    except Exception:  # pylint: disable=broad-except  # no traceback: no sources, said in the comment
        published = {}
    own = [a for key in ("ip4_interfaces", "ip6_interfaces") for addrs in (__grains__.get(key) or {}).values()
           for a in (addrs if isinstance(addrs, list) else [])]
    return {"published": published if isinstance(published, dict) else {}, "own": own, "id": __opts__.get("id")}


def _checked(config, os_family=None) -> dict:
    """nf_collector.plan, a refusal as SaltInvocationError naming every refused key."""
    try:
        return nf_collector.plan(config, _platform(os_family), _mine(config))
    except nf_collector.CollectorError as exc:
        raise SaltInvocationError("refused, nothing changed: " + "; ".join(e["comment"] for e in exc.errors)) from None


def plan(config=None, os_family=None) -> dict:
    """
    What ``netflow.collector_present`` writes and runs for collector ``config`` (pillar
    ``netflow:collector`` when None): ``config`` (checked, defaults filled in), ``argv``
    (nfcapd's), ``dirs``, ``files`` (``[path, text, mode]``), ``service`` (None with
    ``service: false``), ``expire`` (``[dir, nfexpire argv]``), ``limits``. Read-only.
    ``os_family``: the grain's value (FreeBSD: rc.conf.d; any other: systemd).
    CLI Example: ``salt nfcap1 nfcapd.plan``
    """
    if config is None:
        config = _pillar({})
    return _checked(config, os_family)


def check(config=None) -> list:
    """
    Why collector ``config`` (pillar ``netflow:collector`` when None) is refused:
    ``[{key, comment}]``, empty when it is accepted. The formula's ``netflow.collector``
    SLS renders only failing states when it is not empty (nothing installed or written).
    CLI Example: ``salt nfcap1 nfcapd.check``
    """
    if config is None:
        config = _pillar({})
    try:
        nf_collector.validate(config, _platform())
    except nf_collector.CollectorError as exc:
        return exc.errors
    return []


def argv(config=None, os_family=None) -> list:
    """
    The exact argv nfcapd runs with for collector ``config`` (pillar when None): the
    systemd unit's ExecStart, or rc.conf.d's nfcapd_flags after the program.
    CLI Example: ``salt nfcap1 nfcapd.argv``
    """
    return plan(config, os_family)["argv"]


def _run(args: list, user=None) -> str:
    """``args`` run without a shell (as ``user`` when given), within netgraph.timeout
    seconds; its stdout."""
    key, fallback = nf_paths.TIMEOUTS["timeout"]
    try:
        bound = nf_paths.check_timeout(key, __salt__["config.get"](key, fallback), fallback)
    except ValueError as exc:
        raise SaltInvocationError(str(exc)) from None
    started = time.monotonic()
    extra = {"runas": user} if user else {}
    result = __salt__["cmd.run_all"](args, python_shell=False, ignore_retcode=True, timeout=bound, **extra)
    if nf_paths.timed_out(result, bound, time.monotonic() - started):
        raise CommandExecutionError(f"{args[0]} did not finish within {bound} s and was killed")
    if result.get("retcode"):
        err = " ".join(str(result.get("stderr") or result.get("stdout") or "").split())[:200]
        raise CommandExecutionError(f"{' '.join(args)} failed (exit {result.get('retcode')}): {err}")
    return result.get("stdout") or ""


def limits(directory, config=None, os_family=None) -> dict:
    """
    The expiry limits nfexpire stored in ``directory`` (one of the collector's): ``{max_life:
    seconds, max_size: bytes}``, None when unset (also before nfexpire ever ran there).
    CLI Example: ``salt nfcap1 nfcapd.limits /var/cache/nfdump/netflow/fw1``
    """
    checked = plan(config, os_family)
    if directory not in checked["dirs"]:
        raise SaltInvocationError(f"{directory!r:.80} is not a directory of this collector: {checked['dirs']}")
    user = checked["config"]["user"]
    return nf_collector.limits(_run([checked["config"]["nfexpire"], "-l", directory], user))


def set_limits(directory, config=None, os_family=None) -> dict:
    """
    Store the collector's expiry limits in ``directory`` (``nfexpire -u``: nfcapd ``-e``
    expires to them at each rotation); returns them as ``limits`` reads them back.
    CLI Example: ``salt nfcap1 nfcapd.set_limits /var/cache/nfdump/netflow/fw1``
    """
    checked = plan(config, os_family)
    found = dict(checked["expire"]).get(directory)
    if found is None:
        raise SaltInvocationError(f"{directory!r:.80} has no expiry in this collector")
    _run(found, checked["config"]["user"])  # nfcapd -u rewrites the stat file: it stays that user's
    return limits(directory, config, os_family)


def _sources(checked: dict) -> list:
    """``[(ident, dir)]`` nfcapd files into: one per source, else ``(None, storage)``."""
    cfg = checked["config"]
    return [(s["ident"], s["dir"]) for s in cfg["sources"]] or [(None, cfg["storage"])]


def _entries(folder: str) -> list:
    """``[name, mtime]`` of the files in ``folder`` (none when it does not exist yet)."""
    try:
        with os.scandir(folder) as found:
            return [[e.name, e.stat(follow_symlinks=False).st_mtime] for e in found if e.is_file(follow_symlinks=False)]
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise CommandExecutionError(f"nfcapd: cannot list {folder}: {exc.strerror}") from None


def _capture(path: str) -> dict:
    """nf_verify.read_capture of one file; one that cannot be read counts as unread."""
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return nf_verify.read_capture(data)
    except (OSError, ValueError, struct.error):  # vanished, empty, truncated, not nfdump's
        return {"exporters": [], "unread": 1}


def received(window=300, config=None) -> dict:
    """
    What this collector received over the last ``window`` seconds, for ``salt-run
    netflow.verify``: ``{listen: {host, port}, window, files, unread, exporters: [{ip,
    version, domain, ident, datagrams, flows, gaps}]}`` (``gaps``: nfcapd's sequence
    failures), read from the capture files nfcapd closed in the window (the open one has no
    counters yet: a window shorter than the rotation may find none); ``unread`` counts the
    files and blocks that could not be read. ``{}`` when this minion has no
    ``netflow:collector``. Read-only; runs nothing.
    CLI Example: ``salt nfcap1 nfcapd.received window=600``
    """
    try:
        window = nf_verify.check_window(window)
    except ValueError as exc:
        raise SaltInvocationError(str(exc)) from None
    if config is None:
        config = _pillar()
        if config is None:
            return {}
    checked = _checked(config)
    now, rows, files, unread = time.time(), [], 0, 0
    for ident, folder in _sources(checked):
        names = nf_verify.window_files(_entries(folder), now, window)
        files += len(names)
        read = [_capture(posixpath.join(folder, n)) for n in names]
        unread += sum(r["unread"] for r in read)
        rows += nf_verify.sum_exporters([r["exporters"] for r in read], ident)
    cfg = checked["config"]
    return {"listen": {"host": cfg["host"], "port": cfg["port"]}, "window": window, "files": files,
            "unread": unread, "exporters": rows}
