"""The collector side (pure; no Salt): pillar ``netflow:collector`` checked whole, and what
``netflow.collector_present`` writes and runs from it: nfcapd's argv (``nfcapd_argv``),
the systemd unit (Debian) or rc.conf.d/nfcapd and its rc.d script (FreeBSD), the storage
directories, and nfexpire's limits.

Every value is hostile until checked here: idents are names matched whole, hosts are IP
addresses (never names), paths absolute and normalised, numbers in range. A refused
collector yields errors and nothing else, so the state writes nothing. What reaches a file
or an argv is built from the checked values only, each one of a set of characters that
neither sh, systemd's ExecStart nor nfcapd's ``-n ident,host,dir`` give a meaning to.
"""
from __future__ import annotations

import ipaddress
import posixpath
import re
from typing import Any

from . import nf_mine
from . import nf_model
from . import nf_paths
from .ng_words import shown

WHERE = "netflow:collector"
KEYS = ("host", "port", "storage", "rotation", "expire", "user", "sources", "service", "unit_file", "rc_conf_file",
        "rc_script", "nfcapd", "nfexpire")
SOURCE_KEYS = ("host", "dir")
EXPIRE_KEYS = ("max_life_hours", "max_size_mb")
# Defaults per platform: FreeBSD (pkg nfdump, its rc.d script is ours: the port installs
# none) and every other OS (Debian's nfdump package, a systemd unit of ours).
PLATFORMS = {
    "freebsd": {"nfcapd": "/usr/local/bin/nfcapd", "nfexpire": "/usr/local/bin/nfexpire",
                "rc_conf_file": "/etc/rc.conf.d/nfcapd", "rc_script": "/usr/local/etc/rc.d/nfcapd"},
    "systemd": {"nfcapd": "/usr/bin/nfcapd", "nfexpire": "/usr/bin/nfexpire",
                "unit_file": "/etc/systemd/system/nfcapd-netflow.service"},
}
SERVICES = {"freebsd": "nfcapd", "systemd": "nfcapd-netflow"}
DEFAULTS = {"host": "0.0.0.0", "port": 2055, "storage": "/var/cache/nfdump/netflow", "rotation": 300,
            "expire": None, "user": None, "sources": {}, "service": True}
ROTATION_RANGE = (60, 86400)
EXPIRE_RANGES = {"max_life_hours": (1, 87600), "max_size_mb": (1, 1 << 30)}
_USER_RE = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
# What an argument of nfcapd may hold: checked again on the argv itself (defence in depth).
_ARG_RE = re.compile(r"[A-Za-z0-9_./:,+-]{1,1100}")
# The exporters' index -> name map, in storage, with sources: mine (docs/formula.md, "Mine").
MAP_FILES = ("exporters.csv", "akvorado-metadata.yaml")
HEAD = "Managed by Salt (formula netflow, collector.sls): do not edit by hand."


class CollectorError(ValueError):
    """A refused collector: ``errors`` are ``{key, comment}`` as nf_pillar's."""

    def __init__(self, errors: list[dict]):
        super().__init__("; ".join(e["comment"] for e in errors))
        self.errors = errors


def _err(key: str, why: str) -> dict:
    return {"key": key, "comment": f"{key}: {why}"}


def _path(key: str, value: Any) -> str | None:
    """Why ``value`` is not an absolute, normalised safe path (None when it is)."""
    try:
        nf_paths.check_path(key, value)
    except ValueError as exc:
        return str(exc)
    if posixpath.normpath(value) != value or value.startswith("//"):
        return f"{key}: {shown(value)} is not normalised (no //, /./ or trailing /)"
    if value == "/":
        return f"{key}: the root directory is refused"
    return None


def _int(key: str, value: Any, low: int, high: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return f"{key}: {shown(value)} is not an integer {low}..{high}"
    return None


def _ip(key: str, value: Any) -> str | None:
    """Why ``value`` is not an IPv4/IPv6 address written plainly (None when it is)."""
    try:
        if isinstance(value, str) and str(ipaddress.ip_address(value)) == value:
            return None
    except ValueError:
        pass
    return f"{key}: {shown(value)} is not an IP address (v4 dotted quad or compressed v6; host names are refused)"


def _unknown(where: str, mapping: dict, known) -> list[dict]:
    return [_err(where, f"unknown key {shown(k)} (known: {', '.join(known)})")
            for k in mapping if not (isinstance(k, str) and k in known)]


def _expire(raw: Any, errors: list) -> dict | None:
    where = f"{WHERE}:expire"
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw:
        errors.append(_err(where, f"{shown(raw)} is not a mapping of {', '.join(EXPIRE_KEYS)}"))
        return None
    bad = _unknown(where, raw, EXPIRE_KEYS)
    for key in EXPIRE_KEYS:
        if key in raw:
            why = _int(f"{where}:{key}", raw[key], *EXPIRE_RANGES[key])
            bad += [{"key": f"{where}:{key}", "comment": why}] if why else []
    errors += bad
    return None if bad else {k: raw.get(k) for k in EXPIRE_KEYS}


def _source(ident: Any, params: Any, storage: str, family: int, errors: list) -> dict | None:
    where = f"{WHERE}:sources:{shown(ident)}"
    if not (isinstance(ident, str) and nf_model.NAME_RE.fullmatch(ident)):
        errors.append(_err(where, "not a valid ident (a letter, then letters, digits, _ or -; at most 25 "
                                  "characters)"))
        return None
    if not isinstance(params, dict):
        errors.append(_err(where, f"must be a mapping with host (and dir), got {shown(params)}"))
        return None
    bad = _unknown(where, params, SOURCE_KEYS)
    host, folder = params.get("host"), params.get("dir", f"{storage}/{ident}")
    why = _ip(f"{where}:host", host)
    if not why and ipaddress.ip_address(host).version != family:
        why = f"{where}:host: {shown(host)} is not of the listening address's family (IPv{family})"
    bad += [_err(f"{where}:host", why.split(": ", 1)[1])] if why else []
    why = _path(f"{where}:dir", folder)
    bad += [{"key": f"{where}:dir", "comment": why}] if why else []
    errors += bad
    return None if bad else {"ident": ident, "host": host, "dir": folder}


def _sources(raw: Any, storage: str, family: int, errors: list) -> list[dict]:
    """The checked sources sorted by ident; hosts and directories each used once (nfcapd
    takes one source per address, and two sources in one directory mix their files)."""
    if raw is None:
        return []
    if not isinstance(raw, dict):
        errors.append(_err(f"{WHERE}:sources", f"must be a mapping of ident to {{host, dir}}, or mine, got {shown(raw)}"))
        return []
    out = [s for s in (_source(i, p, storage, family, errors) for i, p in raw.items()) if s]
    for field in ("host", "dir"):
        seen: dict = {}
        for s in sorted(out, key=lambda s: s["ident"]):
            if s[field] in seen:
                errors.append(_err(f"{WHERE}:sources:{shown(s['ident'])}:{field}",
                                   f"{shown(s[field])} is also the {field} of {shown(seen[s[field]])}"))
            seen.setdefault(s[field], s["ident"])
    return sorted(out, key=lambda s: s["ident"])


def _mine_sources(cfg: dict, storage: str, family: int, mine: dict | None) -> list[dict]:
    """``sources: mine``: the sources nf_mine derives from ``mine`` (``{published:
    {minion: netflow.mine's return}, own: [this minion's addresses], id: its minion id}``; None: a check
    only, no sources yet); ``cfg["mine"]`` keeps its rows and skipped entries."""
    if mine is None:
        cfg["mine"] = {"rows": [], "skipped": []}
        return []
    own = {cfg["host"]} if not ipaddress.ip_address(cfg["host"]).is_unspecified else set(mine.get("own") or ())
    found = nf_mine.collector_sources(mine.get("published"), own, cfg["port"], family, storage, mine.get("id"))
    cfg["mine"] = {"rows": found["rows"], "skipped": found["skipped"]}
    return found["sources"]


def _scalars(cfg: dict, errors: list) -> None:
    """host, port, rotation, user, service and every path of ``cfg``, checked in place."""
    checks = [_ip(f"{WHERE}:host", cfg["host"]), _int(f"{WHERE}:port", cfg["port"], 1, 65535),
              _int(f"{WHERE}:rotation", cfg["rotation"], *ROTATION_RANGE)]
    if cfg["user"] is not None and not (isinstance(cfg["user"], str) and _USER_RE.fullmatch(cfg["user"])):
        checks.append(f"{WHERE}:user: {shown(cfg['user'])} is not a user name ([a-z_][a-z0-9_-]*, at most 32)")
    if not isinstance(cfg["service"], bool):
        checks.append(f"{WHERE}:service: {shown(cfg['service'])} is not true or false")
    for key in ("storage", "unit_file", "rc_conf_file", "rc_script", "nfcapd", "nfexpire"):
        checks.append(_path(f"{WHERE}:{key}", cfg[key]))
    errors += [{"key": why.split(": ", 1)[0], "comment": why} for why in checks if why]


def validate(raw: Any, platform: str = "systemd", mine: dict | None = None) -> dict:
    """Pillar ``netflow:collector`` checked whole, with its defaults and the platform's
    paths filled in; raises CollectorError listing every error (each naming its key).
    ``sources: mine`` takes them from ``mine`` (:func:`_mine_sources`)."""
    errors: list[dict] = []
    if not isinstance(raw, dict):
        raise CollectorError([_err(WHERE, f"must be a mapping, got {shown(raw)}")])
    errors += _unknown(WHERE, raw, KEYS)
    given = {k: v for k, v in raw.items() if isinstance(k, str) and k in KEYS}
    paths = {**PLATFORMS["systemd"], **PLATFORMS["freebsd"], **PLATFORMS[platform]}
    cfg = {**DEFAULTS, **paths, **given}
    _scalars(cfg, errors)
    family = ipaddress.ip_address(cfg["host"]).version if _ip("host", cfg["host"]) is None else 4
    storage = cfg["storage"] if _path("storage", cfg["storage"]) is None else DEFAULTS["storage"]
    cfg["expire"] = _expire(raw.get("expire"), errors)
    cfg["mine"] = None
    if raw.get("sources") == "mine":
        cfg["sources"] = [] if errors else _mine_sources(cfg, storage, family, mine)
    else:
        cfg["sources"] = _sources(raw.get("sources"), storage, family, errors)
    if errors:
        raise CollectorError(errors)
    return {**cfg, "platform": platform, "family": family}


def directories(cfg: dict) -> list[str]:
    """Where nfcapd writes: one directory per source, else the storage directory."""
    return [s["dir"] for s in cfg["sources"]] or [cfg["storage"]]


def nfcapd_argv(cfg: dict) -> list[str]:
    """nfcapd's argv (nfdump 1.7) from a checked collector, in the foreground: the
    service manager forks (rc.subr adds -D and -P). One ``-n ident,host,dir`` per source,
    else ``-w storage`` (nfcapd refuses both at once)."""
    argv = [cfg["nfcapd"], "-b", cfg["host"], "-p", str(cfg["port"]), "-t", str(cfg["rotation"])]
    if cfg["family"] == 6:
        argv.append("-6")
    if cfg["user"]:
        argv += ["-u", cfg["user"]]
    if cfg["expire"]:
        argv.append("-e")  # expire at each rotation, to the limits nfexpire -u stored
    for s in cfg["sources"]:
        argv += ["-n", f"{s['ident']},{s['host']},{s['dir']}"]
    if not cfg["sources"]:
        argv += ["-w", cfg["storage"]]
    for arg in argv:
        if not _ARG_RE.fullmatch(arg):
            raise ValueError(f"nfcapd argument {shown(arg)} holds a character it must not")
    return argv


def systemd_unit(cfg: dict) -> str:
    """The unit nfcapd-netflow.service: ExecStart is ``nfcapd_argv`` joined by spaces
    (no argument holds a space, a quote, ``$``, ``%`` or ``\\``: nothing for systemd to
    expand)."""
    return "\n".join([
        f"# {HEAD}", "[Unit]", "Description=NetFlow collector (nfcapd) of the netflow formula",
        "Documentation=man:nfcapd(1)", "After=network-online.target", "Wants=network-online.target", "",
        "[Service]", "Type=simple", f"ExecStart={' '.join(nfcapd_argv(cfg))}", "Restart=on-failure",
        "RestartSec=5", "", "[Install]", "WantedBy=multi-user.target", ""])


def rc_conf(cfg: dict) -> str:
    """rc.conf.d/nfcapd: nfcapd_enable and nfcapd_flags (the argv without the program),
    single-quoted: no argument holds a quote."""
    flags = " ".join(nfcapd_argv(cfg)[1:])
    return "\n".join([f"# {HEAD}", "nfcapd_enable=\"YES\"", f"nfcapd_program='{cfg['nfcapd']}'",
                      f"nfcapd_flags='{flags}'", ""])


RC_SCRIPT = """#!/bin/sh
# {head}
#
# PROVIDE: nfcapd
# REQUIRE: NETWORKING
# KEYWORD: shutdown
#
# nfcapd_enable (YES/NO), nfcapd_program and nfcapd_flags are read from
# /etc/rc.conf.d/nfcapd, which netflow.collector_present writes.

. /etc/rc.subr

name=nfcapd
rcvar=nfcapd_enable
load_rc_config "$name"
: "${{nfcapd_enable:=NO}}"
: "${{nfcapd_program:={program}}}"
pidfile=/var/run/nfcapd.pid
command="$nfcapd_program"
command_args="-D -P $pidfile"

run_rc_command "$1"
"""


def rc_script(cfg: dict) -> str:
    """The rc.d script of nfcapd (FreeBSD): rc.subr runs ``$command $nfcapd_flags
    -D -P pidfile``; the only value in it is the checked nfcapd path."""
    return RC_SCRIPT.format(head=HEAD, program=cfg["nfcapd"])


def expire_argv(cfg: dict, folder: str) -> list[str] | None:
    """``nfexpire -u dir -t NH [-s NM]``: the limits nfcapd -e keeps (None: no expiry)."""
    exp = cfg["expire"]
    if not exp or not (exp["max_life_hours"] or exp["max_size_mb"]):
        return None
    argv = [cfg["nfexpire"], "-u", folder]
    if exp["max_life_hours"]:
        argv += ["-t", f"{exp['max_life_hours']}H"]
    if exp["max_size_mb"]:
        argv += ["-s", f"{exp['max_size_mb']}m"]
    return argv


def limits(text: str) -> dict:
    """``nfexpire -l``'s limits: ``{max_life: seconds, max_size: bytes}``, None when unset."""
    out: dict = {"max_life": None, "max_size": None}
    for key, label in (("max_life", "Max Life:"), ("max_size", "Max Size:")):
        found = re.search(rf"^{label}\s+(\d+)\s*=", text, re.M)
        out[key] = int(found.group(1)) if found else None
    return out


def wanted_limits(cfg: dict) -> dict:
    """The limits ``expire_argv`` stores, as ``limits`` reads them back."""
    exp = cfg["expire"] or {}
    life, size = exp.get("max_life_hours"), exp.get("max_size_mb")
    return {"max_life": life * 3600 if life else None, "max_size": size * 1024 * 1024 if size else None}


def plan(raw: Any, platform: str, mine: dict | None = None) -> dict:
    """Everything collector_present does, from pillar ``raw`` (CollectorError when
    refused): ``{config, argv, dirs, files: [[path, text, mode]], service, expire:
    [[dir, argv]]}``; ``service`` is None when ``service: false`` (nothing run). With
    ``sources: mine`` also ``exporters.csv`` and ``akvorado-metadata.yaml`` in storage."""
    cfg = validate(raw, platform, mine)
    if platform == "freebsd":
        files = [[cfg["rc_conf_file"], rc_conf(cfg), "0644"], [cfg["rc_script"], rc_script(cfg), "0555"]]
    else:
        files = [[cfg["unit_file"], systemd_unit(cfg), "0644"]]
    if cfg["mine"] is not None:
        rows = cfg["mine"]["rows"]
        files += [[f"{cfg['storage']}/{MAP_FILES[0]}", nf_mine.exporters_csv(rows), "0644"],
                  [f"{cfg['storage']}/{MAP_FILES[1]}", nf_mine.akvorado_yaml(rows), "0644"]]
    dirs = directories(cfg)
    expire = [[d, expire_argv(cfg, d)] for d in dirs if expire_argv(cfg, d)]
    return {"config": cfg, "argv": nfcapd_argv(cfg), "dirs": dirs, "files": files,
            "service": SERVICES[platform] if cfg["service"] else None, "expire": expire,
            "limits": wanted_limits(cfg)}


def platform_of(os_family: Any) -> str:
    """The platform of a minion's ``os_family`` grain."""
    return "freebsd" if os_family == "FreeBSD" else "systemd"
