"""
Declarative NetFlow exporters on FreeBSD netgraph (``ng_netflow``).

This execution module is the Salt glue of the exporter: it validates arguments, reads
the live graph through the ``netgraph`` execution module (``__salt__["netgraph.*"]``),
asks the pure core in ``_utils/`` (``nf_model``: validation and the desired graph;
``nf_plan``: the diff and the rollback; ``nf_boot``: boot files) what to do, and runs it:
ONE ``ngctl -f`` batch per change, rolled back on failure, re-read to verify, and the
boot files written together, all under one lock that the formula's rc.d script takes too.

CLI Example:

.. code-block:: bash

    salt fw1 netflow.plan lan interfaces='[em0]' collectors='[{host: 192.0.2.10, port: 2055}]'
    salt fw1 netflow.status lan
"""
from __future__ import annotations

import logging
import os
import socket
import time

from netgraph_core import nf_boot
from netgraph_core import nf_dot
from netgraph_core import nf_host
from netgraph_core import nf_journal
from netgraph_core import nf_lock
from netgraph_core import nf_metrics
from netgraph_core import nf_model
from netgraph_core import nf_paths
from netgraph_core import nf_pillar
from netgraph_core import nf_plan
from netgraph_core import nf_resolve
from netgraph_core import nf_settings
from netgraph_core import nf_status
from netgraph_core import nf_record
from netgraph_core import nf_watch
from netgraph_core.ng_words import shown
from salt.exceptions import CommandExecutionError, SaltInvocationError

log = logging.getLogger(__name__)

__virtualname__ = "netflow"


def __virtual__():
    """Load where the netgraph module can: FreeBSD, or a configured (emulated) ngctl."""
    if __grains__.get("kernel") == "FreeBSD":  # noqa: F821 - Salt dunder
        return __virtualname__
    ngctl = __opts__.get("netgraph.ngctl") or __pillar__.get("netgraph.ngctl")  # noqa: F821
    if not isinstance(ngctl, str) or not ngctl:  # a list or a number is no path
        return (False, "netflow: needs FreeBSD or a configured netgraph.ngctl (e.g. ngsim's)")
    try:
        nf_paths.check_path("netgraph.ngctl", ngctl)
    except ValueError:
        # An unsafe path: load, so every function refuses it by name (netflow:ngctl: ...)
        # before anything runs, instead of the formula saying only "module not loaded".
        return __virtualname__
    if os.path.exists(ngctl):
        return __virtualname__
    return (False, "netflow: needs FreeBSD or a configured netgraph.ngctl (e.g. ngsim's)")


# Helpers: arguments, config, reading the graph
def _validated(name, kwargs: dict) -> dict:
    """nf_model.validate, Salt's ``__pub_*`` keys dropped, host names resolved here and
    sources the last apply bound marked (nf_resolve); errors as SaltInvocationError."""
    params = {k: v for k, v in kwargs.items() if not (isinstance(k, str) and k.startswith("__"))}
    params["name"] = name
    try:
        cfg = nf_model.validate(params)
        cfg = nf_resolve.resolve(cfg, {host: _addresses(host) for host in nf_resolve.host_names(cfg)})
        cachedir = (globals().get("__opts__") or {}).get("cachedir")  # absent only outside Salt's loader
        prior = nf_record.load_declarations(nf_record.declared_dir(cachedir), [name])[0] if cachedir else {}
        return nf_resolve.unbound(cfg, prior.get(name))
    except nf_model.ValidationError as exc:
        raise SaltInvocationError(str(exc)) from None


def _addresses(host: str):
    """A collector host name's addresses as this minion resolves them, or the error."""
    try:
        return [ai[4][0] for ai in socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
                if ai[0] in (socket.AF_INET, socket.AF_INET6)]
    except (OSError, UnicodeError) as exc:
        return str(exc) or type(exc).__name__


def _check_name(name) -> None:
    if not isinstance(name, str) or not nf_model.NAME_RE.fullmatch(name):
        raise SaltInvocationError(f"name: {shown(name)} is not a valid exporter name")


def _check_flags(**flags) -> None:
    """Flags are booleans: a string "no" is truthy and would switch test mode off."""
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise SaltInvocationError(f"{key}: {shown(value)} is not a boolean")


# Every path a converge may use, checked before the lock is taken or anything runs.
_RUN_PATHS = ("ngctl", "kldload", "kldstat", "ipfw", "ifconfig", "lock_file")


def _converge_args(name, declared, test, persist, kwargs: dict) -> dict | None:
    """converge's arguments checked, nothing run yet: the exporter's parameters (or,
    for an absent one, its name and no others) and every path of this run."""
    _check_flags(declared=declared, test=test, persist=persist)
    if declared:
        cfg = _validated(name, {**kwargs, "persist": persist})
    else:
        _check_name(name)
        extra = [k for k in kwargs if not (isinstance(k, str) and k.startswith("__"))]
        if extra:
            raise SaltInvocationError(f"unknown parameter(s) {', '.join(shown(k, 40) for k in extra[:5])} for an absent exporter")
        cfg = None
    for key in _RUN_PATHS + (("boot_dir",) if persist else ()):
        _path(key)
    _bound("timeout")
    return cfg


def _host_args(exporters, absent, test: bool, persist: bool) -> tuple:
    """converge_host's arguments checked, nothing run yet: (name -> validated config,
    sorted names to remove). Every exporter's errors are reported together, each named."""
    _check_flags(test=test, persist=persist)
    exporters, absent, errors = _core(nf_host.arguments, exporters, absent)
    cfgs = {}
    for name, params in exporters.items():
        try:
            cfgs[name] = _validated(name, {"persist": persist, **params})
        except SaltInvocationError as exc:
            errors.append(f"exporters.{name}: {exc}")
    if errors:
        raise SaltInvocationError("; ".join(errors))
    _core(nf_host.check, cfgs, absent)
    for key in _RUN_PATHS + ("boot_dir",):
        _path(key)
    _bound("timeout")
    return cfgs, sorted(set(absent))


def _path(key: str) -> str:
    config_key, fallback = nf_paths.PATHS[key]
    try:
        return nf_paths.check_path(config_key, __salt__["config.get"](config_key, fallback))  # noqa: F821
    except ValueError as exc:
        raise SaltInvocationError(str(exc)) from None


def _bound(kind: str) -> float:
    """A time bound (nf_paths.TIMEOUTS), checked before the lock is taken or anything runs."""
    key, fallback = nf_paths.TIMEOUTS[kind]
    try:
        return nf_paths.check_timeout(key, __salt__["config.get"](key, fallback), fallback)  # noqa: F821
    except ValueError as exc:
        raise SaltInvocationError(str(exc)) from None


def _read(names: list[str]) -> dict:
    """The live graph and the settings of every named exporter's nodes: two spawns."""
    graph = __salt__["netgraph.graph"]()  # noqa: F821
    queries = [q for name in names for q in nf_settings.settings_queries(graph, name)]
    replies = __salt__["netgraph.query"](queries) if queries else []  # noqa: F821
    graph["settings"] = nf_settings.settings_from_replies(queries, replies)
    return graph


def _ipfw_rules_if_needed(cfgs: dict, names: list[str], graph: dict) -> list[dict]:
    nfs = {nf_model.node_names(n)["netflow"] for n in names}
    uses_ipfw = any(i["attach"] == "ipfw" for cfg in cfgs.values() for i in cfg["interfaces"])
    hooked = any(p["peer"] in nfs for p in graph.get("nodes", {}).get("ipfw", {}).get("hooks", {}).values())
    if uses_ipfw or hooked:
        return __salt__["netgraph.ipfw_rules"]()  # noqa: F821
    return []


def _core(fn, *args, **kwargs):
    """A planner call, its model errors as SaltInvocationError (nothing has run yet)."""
    try:
        return fn(*args, **kwargs)
    except (nf_model.ValidationError, nf_model.ConflictError) as exc:
        raise SaltInvocationError(str(exc)) from None


# Planning (read-only): the host is the unit, one exporter its smallest case
def _modules_first(cfgs: dict, names: list[str], graph: dict, load_modules: bool) -> tuple:
    """(the graph to plan against, each exporter's missing modules, the ipfw rules): the
    modules loaded first when ``load_modules``, else the graph as it will be once they are."""
    # kldstat only when ng_ipfw is wanted and absent: is the firewall itself loaded?
    loaded = __salt__["netgraph.modules"]() if any(nf_model.wants_ng_ipfw(c, graph) for c in cfgs.values()) else None  # noqa: F821
    need = {n: _core(nf_model.missing_modules, c, graph, loaded) for n, c in cfgs.items()}
    missing = [m for m in ("ng_ether", "ng_ipfw") if any(m in v for v in need.values())]
    rules = _ipfw_rules_if_needed(cfgs, names, graph)
    if rules:  # a rule at a declared number that is not ours: refused before anything is loaded
        _core(nf_host.ipfw_plan, rules, graph, {n: _core(nf_model.desired, c, graph) for n, c in cfgs.items()}, names)
    if missing and load_modules:
        __salt__["netgraph.load_modules"](missing)  # noqa: F821
        graph = _read(names)
    elif missing:  # a preview before they are loaded: plan against the graph as it will be
        ether = [i["name"] for i in __salt__["netgraph.interfaces"]()] if "ng_ether" in missing else []  # noqa: F821
        graph = nf_model.projected(graph, missing, ether)
    return graph, need, missing, rules


def _plan(cfgs: dict, absent=(), load_modules: bool = False) -> dict:
    """Read once and plan every exporter of ``cfgs`` (name -> validated config) and the
    removal of those of ``absent`` as ONE batch (nf_host.plan): commands, ipfw, journals,
    and ``changes`` keyed by exporter (nf_changes, in the pillar's terms)."""
    names = sorted(cfgs) + sorted(set(absent))
    graph, need, missing, rules = _modules_first(cfgs, names, _read(names), load_modules)
    for cfg in cfgs.values():
        _core(nf_model.check_interfaces, cfg, graph)
    wants = {n: _core(nf_model.desired, c, graph) for n, c in cfgs.items()}
    boot, journals, left, stale = nf_journal.boot_time(), {}, {}, []
    for n in names:
        old, found = _journal_read(n)
        left[n] = nf_journal.leftovers(graph, n, old, named=False)
        journals[n] = nf_journal.journal(graph, n, nf_plan.attach_points(cfgs[n]) if n in cfgs else [], old, boot)
        stale += [n] if found and not left[n] else []
    present = [{"want": wants[n], "takeover": cfgs[n]["takeover"], "extra_owned": left[n],
                "ifnames": nf_plan.attach_points(cfgs[n])} for n in sorted(cfgs)]
    host = _core(nf_host.plan, graph, present, {n: left[n] for n in sorted(set(absent))})
    host["ipfw"] = _core(nf_host.ipfw_plan, rules, graph, wants, names)
    host.update(names=names, graph=graph, ipfw_rules=rules, journals=journals, stale=stale, modules=missing,
                changes=nf_host.exporter_changes(graph, cfgs, names, host, rules, need),
                dot=nf_dot.plan_dot(graph, host.pop("planned"), names) if cfgs else None)
    return host


# The journal (nf_journal): proof that an unnamed node a killed batch left is ours
def _journal_file(name: str) -> str:
    return nf_journal.journal_path(_path("lock_file"), name)


def _journal_read(name: str) -> tuple:
    """(the journal if it proves something, whether a journal file exists at all)."""
    return nf_journal.read(_journal_file(name), name)


def _journal_write(name: str, entry: dict | None) -> None:
    """Write (``entry``) or remove (None) the journal, atomically and durably. A removal
    that fails is logged: the journal then proves only what is true of this run."""
    path = _journal_file(name)
    try:
        nf_boot.write_atomic({path: nf_journal.journal_text(entry) if entry else None}, mode=0o600)
    except OSError as exc:
        if entry:
            raise
        log.warning("netflow: cannot remove the journal %s: %s", path, exc)


def plan(name, load_modules: bool = False, **kwargs) -> dict:
    """
    Compute (read-only) what ``netflow.exporter_present`` would change.

    Returns ``{"commands": [ngctl lines], "ipfw": {"delete": [...], "add": [...]},
    "changes": {readable diff}, "modules": [missing modules], "dot": "<planned graph>"}``.

    CLI Example:

    .. code-block:: bash

        salt fw1 netflow.plan lan interfaces='[em0]' collectors='[{host: 192.0.2.10, port: 2055}]'
    """
    _check_flags(load_modules=load_modules)
    return nf_host.public(_plan({name: _validated(name, kwargs)}, load_modules=load_modules), name)


def absent_plan(name) -> dict:
    """
    Compute (read-only) what ``netflow.exporter_absent`` would remove.
    CLI Example: ``salt fw1 netflow.absent_plan lan``
    """
    _check_name(name)
    return nf_host.public(_plan({}, [name]), name)


# Applying
def _undo_ngctl(planned: dict, info: dict) -> tuple:
    """Shut down what the failed batch made and put every interface it moved back
    (nf_host.rollback): (the undo lines, the error of the undo batch or None)."""
    line = info.get("line") if isinstance(info.get("line"), int) else None
    undo = []
    try:
        graph = __salt__["netgraph.graph"]()  # noqa: F821
        undo = nf_host.rollback(graph, planned["names"], nf_plan.created_before(planned, line), planned["journals"],
                                planned["graph"], restore=planned.get("restore"))
        if undo:
            __salt__["netgraph.batch"](undo)  # noqa: F821
    except CommandExecutionError as exc:
        return undo, str(exc)
    return undo, None


def _undo_ipfw(planned: dict, touched: list[int]) -> tuple:
    """Put every rule number this run deleted or added back as it was (the exact texts
    read before): (what was done, as ipfw argv strings; the error or None)."""
    if not touched:
        return [], None
    done = []
    try:
        fix = nf_plan.ipfw_restore(planned["ipfw_rules"], __salt__["netgraph.ipfw_rules"](), touched)  # noqa: F821
        for rule in fix["delete"]:
            __salt__["netgraph.ipfw_delete"](rule)  # noqa: F821
            done.append(f"delete {rule}")
        for words in fix["add"]:
            __salt__["netgraph.ipfw_add"](int(words[0]), words[1:])  # noqa: F821
            done.append(f"add {' '.join(words)}")
    except CommandExecutionError as exc:
        return done, str(exc)
    return done, None


def _rollback(planned: dict, exc: CommandExecutionError, step: str, done: dict) -> CommandExecutionError:
    """After a failed step of ``_apply``: undo what this run did so every interface passes
    traffic (on its old exporter) and every ipfw rule it deleted is back; the error says
    what failed and what was undone."""
    info = getattr(exc, "info", None) or {}
    undo, undo_error = _undo_ngctl(planned, info) if step == "ngctl" else ([], None)
    touched = done["deleted"] + done["added"] + ([done["rule"]] if step != "ngctl" else [])
    restored, ipfw_error = _undo_ipfw(planned, touched)
    if not undo_error and planned["commands"]:
        for name in planned["journals"]:
            _journal_write(name, None)  # nothing unnamed of this run is left to recognise
    msg = nf_host.failure_text(step, info, str(exc), len(planned["commands"]), done["batch"])
    msg += nf_host.rollback_text(undo, restored, undo_error, ipfw_error)
    rollback = [" ".join(c) for c in undo] + [f"ipfw {r}" for r in restored]
    return CommandExecutionError(msg, info={"failed": info, "rollback": rollback})


def _apply(planned: dict) -> None:
    """Journals, ipfw deletions, ONE ngctl batch, ipfw additions; a failure at any step is
    rolled back (``_rollback``) and raised."""
    done = {"deleted": [], "added": [], "batch": False, "rule": None}
    step = "journal"
    try:
        if planned["commands"]:
            try:
                for name, entry in planned["journals"].items():
                    _journal_write(name, entry)
            except OSError as exc:
                raise CommandExecutionError(f"cannot write the journal: {exc}") from None
        for rule in planned["ipfw"]["delete"]:
            step, done["rule"] = f"ipfw delete {rule}", rule
            __salt__["netgraph.ipfw_delete"](rule)  # noqa: F821
            done["deleted"].append(rule)
        if planned["commands"]:
            step = "ngctl"
            __salt__["netgraph.batch"](planned["commands"])  # noqa: F821
            done["batch"] = True
            for name in planned["journals"]:
                _journal_write(name, None)
        for words in planned["ipfw"]["add"]:
            step, done["rule"] = f"ipfw add {' '.join(words)}", int(words[0])
            __salt__["netgraph.ipfw_add"](int(words[0]), words[1:])  # noqa: F821
            done["added"].append(int(words[0]))
    except CommandExecutionError as exc:
        if step == "journal":
            raise
        raise _rollback(planned, exc, step, done) from None


def _boot_files(name: str, cfg: dict | None) -> dict:
    """Boot files to write (text) or remove (None) so that ``boot_dir`` says ``cfg``."""
    return nf_boot.changed_files(_path("boot_dir"), name, nf_boot.render(name, nf_plan.build_script(cfg)) if cfg else None)


def _locked(run, test: bool, wait: float = 60):
    """``run()`` under the netflow lock, which the rc.d script takes too, waited for at
    most ``wait`` seconds. A preview (``test``) writes nothing, so it holds the lock shared
    and only if its file exists (nf_lock.shared_if_exists)."""
    try:
        with (nf_lock.shared_if_exists if test else nf_lock.exclusive)(_path("lock_file"), timeout=wait):
            return run()
    except nf_lock.LockTimeout as exc:
        raise CommandExecutionError(f"cannot take the netflow lock: {exc.strerror}") from None


def converge(name, declared=None, test: bool = False, persist: bool = False, **kwargs) -> dict:
    """
    Make exporter ``name`` what is declared (``declared=True`` with its parameters as
    keyword arguments) or absent (``declared=False``): plan, and unless ``test``, apply
    the plan in one batch (rolled back on failure), verify by re-reading, and write or
    remove its boot files when ``persist``, under the netflow lock (the rc.d script's
    too). The one-exporter case of ``converge_host``: another exporter's interface is
    refused, never taken.

    Returns ``{"result": True|None|False, "changes": {...}, "comment": "...",
    "plan": <what netflow.plan returns>}``; bad arguments raise SaltInvocationError and
    run nothing.

    CLI Example:

    .. code-block:: bash

        salt fw1 netflow.converge lan declared=True interfaces='[em0]' \\
            collectors='[{host: 192.0.2.10, port: 2055}]' test=True
    """
    return _converge_one(name, _converge_args(name, declared, test, persist, kwargs), kwargs, test, persist)


def _converge_one(name: str, cfg: dict | None, kwargs: dict, test: bool, persist: bool, wait: float = 60) -> dict:
    """converge of one exporter (``cfg`` validated, None to remove it) under the lock."""
    def run():
        out = _converge_locked({name: cfg} if cfg else {}, [] if cfg else [name], test, {name: persist})
        out["plan"]["changes"] = out.pop("planned")[name]
        out["changes"] = out["changes"] if out.pop("rolled", False) else out["changes"].get(name, {})
        out["comment"] = out["comment"] or nf_host.comment(out, test, None if cfg else name)
        return _remember(name, nf_resolve.pinned({**kwargs, "persist": persist}, cfg) if cfg else None, test, out)

    return _locked(run, test, wait)


def heal(name) -> dict:
    """``converge`` to exporter ``name``'s recorded declaration (its last successful present):
    what the ``netflow`` beacon runs on its own minion when the exporter drifts. Needs no
    master or event data; waits at most 5 s for the lock. CLI Example: ``salt fw1 netflow.heal lan``"""
    _check_name(name)
    params = _checked(nf_record.declared_params, nf_record.declared_dir(__opts__["cachedir"]), name,  # noqa: F821
                      error=CommandExecutionError)
    persist = params.pop("persist", False)
    return _converge_one(name, _converge_args(name, True, False, persist, params), params, False, persist, wait=5)


def converge_host(exporters=None, absent=None, test: bool = False, persist: bool = False) -> dict:
    """
    Make this host's exporters what is declared, all together (the state
    ``netflow.exporters_present`` documents the arguments): ``exporters`` name ->
    ``exporter_present``'s parameters, ``absent`` names to remove (boot files too).
    Validated as a whole, then one read, one plan, ONE batch, one rollback (interfaces
    back where they were), one verification, the boot files of those with ``persist``.
    Returns ``{"result", "comment", "changes": {exporter: {...}}, "plan"}``.

    CLI Example:

    .. code-block:: bash

        salt fw1 netflow.converge_host exporters='{lan: {interfaces: [em1], collectors: [{host: 192.0.2.10, port: 2055}]},
            wan: {interfaces: [em0], collectors: [{host: 192.0.2.10, port: 2056}]}}' absent='[old]' test=True
    """
    cfgs, gone = _host_args(exporters, absent, test, persist)

    def run():
        out = _converge_locked(cfgs, gone, test, {**{n: c["persist"] for n, c in cfgs.items()}, **dict.fromkeys(gone, True)})
        del out["planned"]
        out.pop("rolled", None)
        out["comment"] = out["comment"] or nf_host.comment(out, test, len(cfgs))
        for name in list(cfgs) + gone:
            params = nf_resolve.pinned({"persist": persist, **(exporters[name] or {})}, cfgs[name]) if name in cfgs else None
            _remember(name, params, test, out)
        return out

    return _locked(run, test)


def _converge_locked(cfgs: dict, absent: list, test: bool, persist: dict) -> dict:
    """Plan; unless ``test``, apply, verify and write the boot files of every exporter
    whose ``persist`` is true. ``changes`` keyed by exporter; a failure's comment says
    what failed and what the rollback did."""
    planned = _plan(cfgs, absent, load_modules=not test)
    if planned["stale"] and not test:
        for name in planned["stale"]:
            _journal_write(name, None)  # it proves nothing any more: never let it prove something later
    files = {n: _boot_files(n, cfgs.get(n)) if persist.get(n) else {} for n in planned["names"]}
    changes = {n: c for n in planned["names"] if (c := nf_host.pending(planned, n, files[n]))}
    out = {"result": True, "changes": changes, "comment": "", "plan": nf_host.public(planned),
           "planned": planned["changes"]}
    if not changes or test:
        out["result"] = None if changes else True
        return out
    try:
        for name in cfgs:  # write-ahead: a run killed after its batch still leaves them ours
            if name in changes:
                _checked(nf_record.claim, nf_record.declared_dir(__opts__["cachedir"]), name,  # noqa: F821
                         error=CommandExecutionError)
        _apply(planned)
    except CommandExecutionError as exc:
        info = getattr(exc, "info", None)  # changes: what the rollback did, not keyed by exporter
        return {**out, "result": False, "comment": str(exc), "rolled": True,
                "changes": {"rollback": info.get("rollback", [])} if info else {}}
    again = _plan(cfgs, absent)  # verify: re-read, and nothing may differ any more
    differs = [" ".join(c) for c in again["commands"]] or {k: v for k, v in again["ipfw"].items() if k != "exporters" and v}
    cut = sorted(set(again.get("cut_before", [])) - set(planned.get("cut_before", [])))
    if cut and not differs:  # an interface that passed before the batch and does not now (nf_links)
        differs = f"interface node(s) {', '.join(cut)} no longer pass traffic"
    if differs:
        return {**out, "result": False, "comment": f"applied, but the graph still differs: {differs}"}
    writes = {p: t for f in files.values() for p, t in f.items()}
    if writes:
        try:
            os.makedirs(_path("boot_dir"), mode=0o755, exist_ok=True)
            nf_boot.write_atomic(writes)
        except OSError as exc:
            return {**out, "result": False, "comment": f"graph applied, boot files not written: {exc}"}
    return out


# Reading
def dot(names=None) -> str:
    """
    The live graph as Graphviz DOT with the nodes of the given exporters filled (all
    nodes that look like an exporter's when ``names`` is empty). ngctl's own ``dot``
    is ``netgraph.dot``; this one is for people: records with name and type, labelled links.

    CLI Example:

    .. code-block:: bash

        salt fw1 netflow.dot lan,uplink | dot -Tsvg > graph.svg
    """
    if isinstance(names, str):
        names = [n for n in names.split(",") if n]
    if names is not None and not isinstance(names, (list, tuple)):
        raise SaltInvocationError(f"names: {shown(names)} is not a list of exporter names")
    for n in names or ():
        _check_name(n)
    graph = __salt__["netgraph.graph"]()  # noqa: F821
    if not names:
        names = sorted({k[:-3] for k, v in graph.get("nodes", {}).items() if v["type"] == "netflow" and k.endswith("_nf")})
    for n in names:
        _check_name(n)
    return nf_dot.plan_dot(graph, graph.get("nodes", {}), names)


def boot_script(name, **kwargs) -> str:
    """
    The boot file of an exporter (its full build from an empty graph, replayed by the
    formula's rc.d script with ``ngctl -f``), as it would be written. CLI Example:
    ``salt fw1 netflow.boot_script lan interfaces='[em0]' collectors='[{host: 192.0.2.10, port: 2055}]'``
    """
    return nf_boot.render(name, nf_plan.build_script(_validated(name, kwargs)))


def defaults() -> dict:
    """
    The default paths of ``_utils/netgraph_core/nf_paths.py`` (boot files, lock, rc.d files, binaries),
    unvalidated: the one table the formula (netflow.mapdata) and the modules start from.
    CLI Example: ``salt fw1 netflow.defaults``
    """
    return {key: nf_paths.default(key) for key in nf_paths.PATHS}


def mapdata(formula_defaults=None, tplroot: str = "netflow") -> dict:
    """
    The netflow formula's decisions from pillar ``netflow`` (nf_pillar.decide; map.jinja
    exports them): ``errors`` (``{key, comment}``; any error empties ``exporters``,
    ``absent`` and ``boot_files``), ``exporters`` (``[[name, state arguments]]``),
    ``absent``, ``boot_files``, ``rc_conf`` (the text of rc.conf.d/netflow), ``mapdata``
    (paths checked), ``tofs`` (the folders of the rc.d script's lookup), ``metrics``.
    ``tplroot``: the formula's folder (TOFS' default path_prefix). Read-only.
    CLI Example: ``salt fw1 netflow.mapdata``
    """
    config = {k: __salt__["config.get"](nf_paths.PATHS[k][0], None) for k in nf_pillar.PATH_KEYS}  # noqa: F821
    boot = nf_paths.default("boot_dir") if config["boot_dir"] is None else config["boot_dir"]
    names = nf_record.boot_names(boot) if isinstance(boot, str) and boot.startswith("/") else []
    # an exporter applied with persist: false has no boot file, only its record: ours too;
    # and one whose run was killed before it recorded anything, only its claim (nf_record)
    records = nf_record.declared_dir(__opts__["cachedir"])  # noqa: F821
    recorded, unreadable = nf_record.load_declarations(records)
    names = sorted(set(names) | set(recorded) | set(unreadable) | set(nf_record.claimed(records)))
    return nf_pillar.decide(__salt__["pillar.get"]("netflow", {}), formula_defaults, config, names,  # noqa: F821
                            lambda key: __salt__["config.get"](key, None), tplroot)  # noqa: F821


def paths() -> dict:
    """
    The paths the exporters use (boot files, lock, rc.d script, rc.conf.d file, binaries),
    from the minion config/pillar (``netflow:boot_dir``, ``netgraph.ngctl``, ...) or their
    defaults, each validated as a safe absolute path. The formula renders these.
    CLI Example: ``salt fw1 netflow.paths``
    """
    return {key: _path(key) for key in nf_paths.PATHS}


# Operating: list, status, flows, metrics, and watch (what the netflow beacon runs)
__func_alias__ = {"list_": "list"}


def _checked(fn, *args, error=SaltInvocationError):
    """A pure check or parse; its ValueError (or OSError) raised as ``error``."""
    try:
        return fn(*args)
    except (ValueError, OSError) as exc:
        raise error(f"netflow: {exc}" if error is CommandExecutionError else str(exc)) from None


def _remember(name: str, params: dict | None, test: bool, ret: dict) -> dict:
    """After a converge that succeeded for real: record (present) or forget (absent) the
    declaration, for netflow.list/status and the beacon. Never fails the run."""
    if not test and ret.get("result") is True:
        try:
            nf_record.remember(nf_record.declared_dir(__opts__["cachedir"]), name, params, time.time())  # noqa: F821
        except (OSError, ValueError) as exc:
            log.warning("netflow: cannot record the declaration of %s: %s", name, exc)
    return ret


def _views(names=None) -> dict:
    """netgraph.graph and ONE netgraph.query for every exporter, the recorded
    declarations, and each exporter's view (nf_status)."""
    graph = __salt__["netgraph.graph"]()  # noqa: F821
    declared, _ = nf_record.load_declarations(nf_record.declared_dir(__opts__["cachedir"]), names)  # noqa: F821
    names = names or nf_status.names_on_host(graph, declared, nf_record.boot_names(_path("boot_dir")))
    queries = [q for name in names for q in nf_settings.settings_queries(graph, name)]
    settings, raw = nf_watch.read_settings(queries, __salt__["netgraph.query"](queries) if queries else [])  # noqa: F821
    views = {n: nf_status.exporter_view(n, graph, settings, raw, declared.get(n)) for n in names}
    return {"graph": graph, "settings": settings, "raw": raw, "declared": declared, "views": views}


def list_() -> dict:
    """
    The exporters of this host (netflow nodes ``<name>_nf``, recorded declarations, boot
    files): interfaces, collectors, health, ``in_sync``/``drift``, ``boot_file``.

    CLI Example: ``salt fw1 netflow.list``
    """
    read, boot = _views(), _path("boot_dir")
    return {name: nf_watch.list_entry(view, read, nf_record.read_text(os.path.join(boot, f"{name}.ngctl")))
            for name, view in read["views"].items()}


def status(name, raw: bool = False, interval: int = 0) -> dict:
    """
    Exporter ``name`` in the pillar's terms: ``interfaces`` by name, ``collectors``,
    ``settings``, ``counters`` (every info field, 0 where the kernel omits it), ``health``
    (ok/degraded/down) and ``reasons``. ``interval=N`` (s) reads twice to judge rising
    counters too; ``raw=True`` adds the kernel's replies and the owned nodes.

    CLI Example: ``salt fw1 netflow.status lan interval=5``
    """
    _check_name(name)
    _check_flags(raw=raw)
    _checked(nf_status.check_interval, interval)
    read = _views([name])
    if interval:
        time.sleep(interval)
        first, read = read["views"][name], _views([name])
        read["views"][name].update(nf_status.health(read["views"][name], first))
    return nf_status.with_raw(read["views"][name], read) if raw else read["views"][name]


def flows(name, interface=None, address=None, limit: int = 100) -> dict:
    """
    The live flow table of exporter ``name`` read with flowctl(8) (``netgraph.flowctl``;
    ngctl cannot send the binary ``show``): flows through ``interface``, from or to
    ``address`` (address or network), the ``limit`` largest by packets (0: all).

    CLI Example: ``salt fw1 netflow.flows lan interface=em0 address=10.0.0.0/8 limit=20``
    """
    _check_name(name)
    filters = _checked(nf_status.check_flow_filters, interface, address, limit)
    table = __salt__["netgraph.flowctl"](f"{name}_nf:")  # noqa: F821
    return {"exporter": name, **nf_status.flow_table(table["flows"], filters)}


def metrics(name=None, path=None) -> str:
    """
    Every exporter's (or ``name``'s) counters, health, interfaces and collectors in
    Prometheus text format (labels exporter, interface, collector); with ``path`` (an
    absolute ``*.prom``) also written there atomically, for node_exporter's textfile dir.

    CLI Example: ``salt fw1 netflow.metrics path=/var/tmp/node_exporter/netflow.prom``
    """
    if name is not None:
        _check_name(name)
    if path is not None:
        _checked(nf_metrics.check_path, path)
    read = _views(None if name is None else [name])
    text = _checked(nf_metrics.render, [read["views"][n] for n in sorted(read["views"])], error=CommandExecutionError)
    if path is not None:
        _checked(nf_boot.write_atomic, {path: text}, 0o644, error=CommandExecutionError)
    return text


def watch(state=None, **kwargs) -> dict:
    """
    One interval of the ``netflow`` beacon: every exporter with a recorded declaration
    read in ONE ngctl spawn and compared with it: ``{"events": [...], "errors": {...}}``,
    and the ``state`` for the next call when ``state`` is given. Options: exporters,
    stall_intervals, heal, heal_backoff, heal_backoff_max.

    CLI Example: ``salt fw1 netflow.watch``
    """
    opts = _checked(nf_watch.options, {k: v for k, v in kwargs.items() if not str(k).startswith("__")})
    if state is not None and not isinstance(state, dict):
        raise SaltInvocationError("state: must be what the last call returned (a mapping)")
    declared, bad = nf_record.load_declarations(nf_record.declared_dir(__opts__["cachedir"]), opts["exporters"])  # noqa: F821
    events, new = [], state
    if declared:
        reqs = nf_watch.requests(declared, (state or {}).get("graph"))
        # the beacon runs in the minion's own loop: its one read has the shorter bound
        read = __salt__["netgraph.snapshot"](reqs, timeout=_bound("watch_timeout"))  # noqa: F821
        snap = nf_watch.snapshot(read["graph"], read["replies"], reqs)
        events, new = nf_watch.step(declared, snap, state, time.time(), opts)
    return {"events": events, "errors": bad, **({"state": new} if state is not None else {})}
