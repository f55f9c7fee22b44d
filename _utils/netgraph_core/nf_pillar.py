"""The formula's decisions from pillar ``netflow`` (pure; no Salt): what is valid, which
exporters are applied, which are removed, which paths rc.conf.d names.

``decide`` is the one place the formula's rules live (``netflow.mapdata`` calls it, and
map.jinja only exports what it returns). A pillar is either taken whole or refused whole:
one error anywhere (an unknown key at any level, a wrong type, a bad path, an exporter
whose parameters nf_model.validate refuses) and ``exporters`` and ``absent`` are empty, so
the formula renders only failing states and a typo never removes a running exporter.

Every key of pillar is hostile: it is named in messages as Salt's ``tojson`` filter writes
it (JSON with ASCII escapes), never raw.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import nf_boot
from . import nf_model
from . import nf_paths

# parameters/defaults.yaml of the formula (map.jinja passes the file; these are the same
# values, for `salt-call netflow.mapdata` without it; a test keeps them equal).
FORMULA_DEFAULTS = {"persist": True, "exporters": {}}
# Paths rc.conf.d/netflow names. boot_dir and lock_file come from config.get alone (what the
# state reads); the others from config.get, else lookup/pillar, else nf_paths' default.
PATH_KEYS = ("boot_dir", "lock_file", "rc_script", "rc_conf_d", "ngctl", "kldload", "kldstat", "ipfw", "sha256",
             "lockf")
CONFIG_ONLY = ("boot_dir", "lock_file")
LOOKUP_KEYS = ("rc_script", "rc_conf_d", "ngctl", "kldload", "kldstat", "ipfw", "sha256", "lockf")
# Top-level keys of pillar netflow (each one shown in pillar.example). The binaries are
# read from netgraph.<tool> or lookup: a top-level netflow:ngctl would reach rc.conf.d but
# not the state, so it is refused rather than half-used.
TOP_KEYS = ("boot_dir", "lock_file", "persist", "exporters", "lookup", "tofs", "metrics", "rc_script", "rc_conf_d",
            "sha256", "lockf")
METRICS_DEFAULTS = {"enabled": False, "textfile_dir": "/var/tmp/node_exporter", "file": "netflow.prom", "interval": 60}
TOFS_KEYS = ("files_switch", "source_files", "path_prefix", "dirs")
TOFS_SWITCHES = ("id", "os_family")  # netflow:tofs:files_switch when unset, as template-formula's
# rc.conf.d/netflow: (path key, the netflow_<var> the rc.d script reads it as), in this order
RC_CONF_VARS = (("boot_dir", "boot_dir"), ("ngctl", "ngctl"), ("kldload", "kldload"), ("kldstat", "kldstat"),
                ("ipfw", "ipfw"), ("sha256", "sha256"), ("lockf", "lockf"), ("lock_file", "lock"),
                ("rc_script", "script"))
RC_CONF_HEAD = ("# Managed by Salt (formula netflow, boot.sls): do not edit by hand.",
                "# rc.d/netflow replays the boot files of netflow.exporter_present at boot.",
                "netflow_enable='YES'")
_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_SEGMENT_RE = re.compile(_SEGMENT)
_RELPATH_RE = re.compile(rf"{_SEGMENT}(/{_SEGMENT}){{0,7}}")
_SWITCH_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_:.-]{0,63}")
_PROM_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}\.prom")


def tojson(value: Any) -> str:
    """``value`` as Salt's Jinja ``tojson`` filter writes it (ASCII JSON, ``<>&'`` escaped);
    anything that is not a string is named by its ``str()``, as ``| string | tojson`` does."""
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:  # any error of a hostile __str__
        text = f"<{type(value).__name__}>"
    out = json.dumps(text, ensure_ascii=True)
    for char, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        out = out.replace(char, esc)
    return out


def _unknown(where: str, mapping: dict, known, what: str = "key") -> list[dict]:
    """One error per key of ``mapping`` outside ``known`` (any type), named with tojson."""
    return [{"key": where, "comment": f"{where}: unknown {what} {tojson(key)} (known: {', '.join(known)})"}
            for key in mapping if not (isinstance(key, str) and key in known)]


def _error(key: str, why: str) -> dict:
    return {"key": key, "comment": f"{key}: {why}"}


def _mapping(where: str, value: Any, errors: list, what: str = "must be a mapping") -> dict:
    """``value`` if a mapping, {} for None, else {} with an error naming ``where``."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    errors.append(_error(where, f"{what}, got {tojson(value)}"))
    return {}


def _safe_path(key: str, value: Any) -> str | None:
    try:
        nf_paths.check_path(key, value)
    except ValueError:
        return (f"{key}: {tojson(value)} is not a safe absolute path (it must start with /, use only letters, "
                "digits and _ . / + -, have no .. component and be at most 1023 characters)")
    return None


def _paths(pillar: dict, lookup: dict, config: dict, defaults: dict, errors: list) -> dict:
    """Every path of rc.conf.d: config.get's value (``config[key]``, None when unset),
    else pillar/lookup (not for boot_dir and lock_file), else the default; each checked."""
    out = {}
    for key in PATH_KEYS:
        value = config.get(key)
        if value is None and key not in CONFIG_ONLY:
            value = pillar.get(key, lookup.get(key))
        if value is None:
            value = defaults.get(key, nf_paths.default(key))
        bad = _safe_path(f"netflow:{key}", value)
        if bad:
            errors.append({"key": f"netflow:{key}", "comment": bad})
        out[key] = value
    return out


def _lookup(raw: Any, errors: list) -> dict:
    lookup = _mapping("netflow:lookup", raw, errors)
    for key in lookup:
        if key in CONFIG_ONLY:  # read by the state from config.get only: never silently ignored
            errors.append(_error("netflow:lookup", f"{tojson(key)} is not read from lookup: set it at the top "
                                 f"level (netflow:{key}) or in the minion config"))
        elif not (isinstance(key, str) and key in LOOKUP_KEYS):
            errors += _unknown("netflow:lookup", {key: None}, LOOKUP_KEYS)
    return lookup


def _tofs(raw: Any, errors: list, tplroot: str) -> dict:
    """netflow:tofs checked part by part (tofs_lookup resolves it for libtofs.jinja)."""
    bad: list = []
    tofs = raw if isinstance(raw, dict) else {}
    if raw is not None and not isinstance(raw, dict):
        bad.append(_error("netflow:tofs", "must be a mapping"))
    bad += _unknown("netflow:tofs", tofs, TOFS_KEYS)
    switches = tofs.get("files_switch", list(TOFS_SWITCHES))
    if not isinstance(switches, list):
        bad.append(_error("netflow:tofs:files_switch", "must be a list of config keys (e.g. [id, os_family])"))
    else:
        bad += [_error("netflow:tofs:files_switch", f"{tojson(s)} is not a config key") for s in switches
                if not (isinstance(s, str) and _SWITCH_RE.fullmatch(s))]
    prefix = tofs.get("path_prefix", tplroot)
    if not _relpath(prefix):
        bad.append(_error("netflow:tofs:path_prefix", f"{tojson(prefix)} is not a relative salt:// path"))
    dirs = tofs.get("dirs", {})
    if not isinstance(dirs, dict):
        bad.append(_error("netflow:tofs:dirs", "must be a mapping (files, default)"))
    else:
        bad += [_error(f"netflow:tofs:dirs:{tojson(k)}", f"{tojson(v)} is not one of files/default with a plain "
                       "directory name") for k, v in dirs.items()
                if k not in ("files", "default") or not (isinstance(v, str) and _SEGMENT_RE.fullmatch(v) and v != "..")]
    sources = tofs.get("source_files", {})
    if not isinstance(sources, dict):
        bad.append(_error("netflow:tofs:source_files", "must be a mapping of state ID to a list of file names"))
    else:
        for sid, files in sources.items():
            where = f"netflow:tofs:source_files:{tojson(sid)}"
            if not isinstance(sid, str) or not isinstance(files, list):
                bad.append(_error(where, "must be a list of file names under a state ID"))
            else:
                bad += [_error(where, f"{tojson(f)} is not a relative file name of [A-Za-z0-9_.-]") for f in files
                        if not _relpath(f)]
    errors += bad
    return {} if bad else tofs


def tofs_lookup(tofs: dict, tplroot: str, switch_value: Callable[[str], Any] | None) -> dict:
    """The checked netflow:tofs resolved for libtofs.jinja: ``dirs``, the salt:// folders
    (without the scheme) a file is looked up in, in order (``<prefix>/<files>/<value>`` for
    the value of each switch, config.get's through ``switch_value``, then
    ``<prefix>/<files>/<default>``), and ``source_files`` (state ID -> file names tried
    first). A switch value (a grain, the minion id) that is not one plain path segment is
    skipped, never rendered."""
    prefix = tofs.get("path_prefix", tplroot)
    dirs = tofs.get("dirs", {})
    values = []
    for switch in tofs.get("files_switch", TOFS_SWITCHES):
        found = switch_value(switch) if switch_value else None
        many = isinstance(found, Iterable) and not isinstance(found, (str, Mapping))
        values += [v for v in (found if many else [found]) if isinstance(v, str) and _SEGMENT_RE.fullmatch(v)]
    values.append(dirs.get("default", "default"))
    where = f"{prefix}/{dirs.get('files', 'files')}"
    return {"dirs": list(dict.fromkeys(f"{where}/{value}" for value in values)),
            "source_files": tofs.get("source_files", {})}


def rc_conf(paths: dict) -> str:
    """The text of rc.conf.d/netflow: netflow_enable and every path the rc.d script reads,
    single-quoted (each a checked safe path of [A-Za-z0-9_./+-]: nothing to escape)."""
    lines = list(RC_CONF_HEAD)
    for key, var in RC_CONF_VARS:
        lines.append(f"netflow_{var}='{nf_paths.check_path(f'netflow:{key}', paths[key])}'")
    return "\n".join(lines) + "\n"


def _relpath(value: Any) -> bool:
    return isinstance(value, str) and bool(_RELPATH_RE.fullmatch(value)) and ".." not in value.split("/")


def _metrics(raw: Any, errors: list) -> dict:
    """netflow:metrics with its defaults, every value checked (metrics.sls renders it)."""
    bad: list = []
    given = _mapping("netflow:metrics", raw, bad)
    bad += _unknown("netflow:metrics", given, tuple(METRICS_DEFAULTS))
    m = {**METRICS_DEFAULTS, **{k: v for k, v in given.items() if isinstance(k, str) and k in METRICS_DEFAULTS}}
    if not isinstance(m["enabled"], bool):
        bad.append(_error("netflow:metrics:enabled", f"{tojson(m['enabled'])} is not true or false"))
    if not (isinstance(m["textfile_dir"], str) and re.fullmatch(r"/[A-Za-z0-9_./+-]{0,1000}", m["textfile_dir"])
            and ".." not in m["textfile_dir"].split("/")):
        bad.append(_error("netflow:metrics:textfile_dir", f"{tojson(m['textfile_dir'])} is not a safe absolute "
                          "path (letters, digits and _ . / + -, no .. component)"))
    if not (isinstance(m["file"], str) and _PROM_RE.fullmatch(m["file"])):
        bad.append(_error("netflow:metrics:file", f"{tojson(m['file'])} is not a file name ending in .prom"))
    interval = m["interval"]
    if isinstance(interval, bool) or not isinstance(interval, int) or not 10 <= interval <= 86400:
        bad.append(_error("netflow:metrics:interval", f"{tojson(interval)} is not an integer 10..86400"))
    errors += bad
    if bad:
        return dict(METRICS_DEFAULTS)
    return {**m, "path": m["textfile_dir"].rstrip("/") + "/" + m["file"]}  # the file netflow.metrics writes


def _exporter(name: Any, params: Any, persist: bool) -> tuple[dict | None, list]:
    """(the state's keyword arguments for exporter ``name``, or None; its errors). Names
    and keys first (they become state IDs and argument names), then every value through
    nf_model.validate, exactly as the state will check it."""
    where = f"netflow:exporters:{tojson(name)}"
    if not (isinstance(name, str) and nf_model.NAME_RE.fullmatch(name)):
        return None, [_error(where, "not a valid exporter name (a letter, then letters, digits, _ or -; at most 25 "
                             "characters)")]
    if params is not None and not isinstance(params, dict):
        return None, [_error(where, f"its parameters must be a mapping, got {tojson(params)}")]
    params = params or {}
    known = sorted(nf_model.PARAM_KEYS)
    bad = [tojson(k) for k in params if not (isinstance(k, str) and k in nf_model.PARAM_KEYS)]
    if bad:
        return None, [_error(where, f"unknown parameter key(s) {', '.join(bad)} (known: {', '.join(known)})")]
    if "persist" in params and not isinstance(params["persist"], bool):
        return None, [_error(f"{where}:persist", f"{tojson(params['persist'])} is not true or false")]
    kwargs = {**params, "persist": params.get("persist", persist)}
    try:
        nf_model.validate({**kwargs, "name": name})
    except nf_model.ValidationError as exc:
        return None, [_error(where, e) for e in exc.errors]
    return kwargs, []


def _exporters(raw: Any, persist: Any, errors: list) -> dict:
    """name -> the state's keyword arguments of every valid exporter of netflow:exporters."""
    declared = _mapping("netflow:exporters", raw, errors, "must be a mapping of exporter name to parameters")
    exporters = {}
    for name, params in declared.items():
        kwargs, bad = _exporter(name, params, persist if isinstance(persist, bool) else False)
        errors += bad
        if kwargs is not None:
            exporters[name] = kwargs
    return exporters


def decide(pillar: Any, defaults: Any = None, config: dict | None = None, persisted=(),
           switch_value: Callable[[str], Any] | None = None, tplroot: str = "netflow") -> dict:
    """The formula's decisions from pillar ``netflow``.

    ``defaults``: parameters/defaults.yaml (FORMULA_DEFAULTS when None); ``config``: the
    paths as config.get finds them (key -> value, None when unset); ``persisted``: the
    exporter names known to be ours: a boot file in boot_dir or a declaration this minion
    recorded after applying it (an exporter with ``persist: false`` has only that);
    ``switch_value``: config.get for the TOFS switches; ``tplroot``: the formula's folder.
    Returns ``{errors: [{key, comment}], mapdata, exporters: [[name, state kwargs]] sorted
    by name, absent: [names], persisted, host_state: whether exporter.sls renders its host
    state (something declared or to remove), boot_files: {name: [paths]} of every exporter
    declared or persisted, rc_conf: the text of rc.conf.d/netflow, tofs: tofs_lookup's,
    metrics}``; with any error ``exporters``, ``absent`` and ``boot_files`` are empty,
    ``host_state`` is false and ``rc_conf`` is None.
    """
    errors: list = []
    pillar = _mapping("netflow", pillar, errors, "the pillar must be a mapping")
    defaults = {**FORMULA_DEFAULTS, **(defaults if isinstance(defaults, dict) else {})}
    errors += _unknown("netflow", pillar, TOP_KEYS)
    lookup = _lookup(pillar.get("lookup"), errors)
    mapdata = {**defaults, **{k: v for k, v in pillar.items() if isinstance(k, str) and k in TOP_KEYS}}
    mapdata.pop("lookup", None)
    mapdata.update(_paths(pillar, lookup, config or {}, defaults, errors))
    persist = mapdata["persist"]
    if not isinstance(persist, bool):
        errors.append(_error("netflow:persist", f"{tojson(persist)} is not true or false"))
    tofs = _tofs(pillar.get("tofs"), errors, tplroot)
    metrics = _metrics(pillar.get("metrics"), errors)
    exporters = _exporters(mapdata.get("exporters"), persist, errors)
    persisted = sorted({n for n in persisted if isinstance(n, str) and nf_model.NAME_RE.fullmatch(n)})
    out = {"errors": errors, "mapdata": mapdata, "exporters": [], "absent": [], "persisted": persisted,
           "host_state": False, "boot_files": {}, "rc_conf": None, "tofs": {"dirs": [], "source_files": {}}, "metrics": metrics}
    mapdata["exporters"] = {} if errors else exporters
    if errors:  # refused whole: nothing applied, nothing removed, nothing written
        return out
    absent = [n for n in persisted if n not in exporters]
    out.update(exporters=[[n, exporters[n]] for n in sorted(exporters)], absent=absent,
               host_state=bool(exporters or absent),
               boot_files={n: nf_boot.listed_paths(mapdata["boot_dir"], n) for n in sorted({*exporters, *persisted})},
               rc_conf=rc_conf(mapdata), tofs=tofs_lookup(tofs, tplroot, switch_value))
    return out
