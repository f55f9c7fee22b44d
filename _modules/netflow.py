"""Declarative NetFlow exporters on FreeBSD netgraph (``ng_netflow``): the Salt glue. It
checks arguments, runs the core's apply engine (``nf_engine``: plan, ONE ``ngctl -f`` batch
per change, rollback, verify, boot files, under the lock the rc.d script takes too) over an
``nf_kernel`` adapter of ``__salt__["netgraph.*"]``, and shapes Salt's returns and errors.
"""
from __future__ import annotations

import os
import time

from netgraph_core import lazy, nf_args, nf_engine, nf_host, nf_kernel, nf_model, nf_paths, nf_record, nf_resolve
from salt.exceptions import CommandExecutionError, SaltInvocationError
# imported at first use: Salt imports this file's imports at every salt-call, and an apply needs none of these
nf_boot, nf_dot, nf_metrics, nf_mine = lazy("nf_boot"), lazy("nf_dot"), lazy("nf_metrics"), lazy("nf_mine")
nf_pillar, nf_status, nf_verify, nf_watch = lazy("nf_pillar"), lazy("nf_status"), lazy("nf_verify"), lazy("nf_watch")

try:  # Salt 3008 masks pillar values that pillar.get hands a job (not a template): read __pillar__
    from salt.utils.secret import expose as _expose
except ImportError:  # earlier series mask nothing
    _expose = lambda value: value  # noqa: E731

__virtualname__ = "netflow"


def __virtual__():
    """Load where the netgraph module can: FreeBSD, or a configured (emulated) ngctl."""
    ngctl = __opts__.get("netgraph.ngctl") or __pillar__.get("netgraph.ngctl")
    return nf_args.loadable(__virtualname__, __grains__.get("kernel"), ngctl)


# Helpers: arguments (nf_args), config, the engine
def _records() -> str | None:
    cachedir = (globals().get("__opts__") or {}).get("cachedir")  # absent only outside Salt's loader
    return nf_record.declared_dir(cachedir) if cachedir else None


def _validated(name, kwargs: dict) -> dict:
    return _core(nf_args.validated, name, kwargs, _records(), __salt__.get("mine.get"))


def _run_paths(boot: bool) -> None:
    for key in nf_args.RUN_PATHS + (("boot_dir",) if boot else ()):
        _path(key)
    _bound("timeout")


def _converge_args(name, declared, test, persist, kwargs: dict, dot: bool = False) -> dict | None:
    """converge's arguments checked, nothing run yet (an absent exporter: its name only)."""
    _core(nf_args.check_flags, declared=declared, test=test, persist=persist, dot=dot)
    cfg = _validated(name, {**kwargs, "persist": persist}) if declared else _core(nf_args.check_absent, name, kwargs)
    _run_paths(persist)
    return cfg


def _path(key: str) -> str:
    """A configured path (nf_paths.PATHS), checked before the lock is taken or anything runs."""
    config_key, fallback = nf_paths.PATHS[key]
    return _checked(nf_paths.check_path, config_key, __salt__["config.get"](config_key, fallback))


def _bound(kind: str) -> float:
    """A time bound (nf_paths.TIMEOUTS), checked before the lock is taken or anything runs."""
    key, fallback = nf_paths.TIMEOUTS[kind]
    return _checked(nf_paths.check_timeout, key, __salt__["config.get"](key, fallback), fallback)


def _core(fn, *args, **kwargs):
    """A core call: a refused declaration as SaltInvocationError, a kernel's or the engine's
    error as CommandExecutionError (the same text and info)."""
    try:
        return fn(*args, **kwargs)
    except (nf_model.ValidationError, nf_model.ConflictError) as exc:
        raise SaltInvocationError(str(exc)) from None
    except nf_kernel.KernelError as exc:
        raise CommandExecutionError(exc.message, info=exc.info) from None


def _engine(persist: bool = False, dot: bool = False) -> nf_engine.Engine:
    """The apply engine over ``netgraph.*`` and this minion's paths (``boot_dir`` if
    persisting); the plan's DOT picture only with ``dot``."""
    kernel = nf_kernel.CallKernel(lambda op: __salt__[f"netgraph.{op}"], CommandExecutionError)
    return nf_engine.Engine(kernel, _path("lock_file"), _records(), _path("boot_dir") if persist else None,
                            describe=lambda message, info: str(CommandExecutionError(message, info=info)), pictures=dot)


def plan(name, load_modules: bool = False, **kwargs) -> dict:
    """Compute (read-only) what ``netflow.exporter_present`` would change: ``{"commands":
    [ngctl lines], "ipfw": {"delete": [...], "add": [...]}, "changes": {readable diff},
    "modules": [missing modules], "dot": "<planned graph>"}``. CLI Example:
    ``salt fw1 netflow.plan lan interfaces='[em0]' collectors='[{host: 192.0.2.10, port: 2055}]'``"""
    _core(nf_args.check_flags, load_modules=load_modules)
    cfgs = {name: _validated(name, kwargs)}
    return nf_host.public(_core(_engine(dot=True).plan, cfgs, load_modules=load_modules), name)


def absent_plan(name) -> dict:
    """Compute (read-only) what ``netflow.exporter_absent`` would remove. CLI Example: ``salt fw1 netflow.absent_plan lan``"""
    _core(nf_args.check_name, name)
    return nf_host.public(_core(_engine().plan, {}, [name]), name)


def converge(name, declared=None, test: bool = False, persist: bool = False, dot: bool = False, **kwargs) -> dict:
    """Make exporter ``name`` what is declared (``declared=True`` with its parameters as
    keyword arguments) or absent (``declared=False``): ``converge_host`` of one exporter
    (another exporter's interface is refused, never taken): ``{result, changes, comment, plan}``
    (DOT only with dot=True); bad arguments raise SaltInvocationError, nothing run. CLI Example:
    ``salt fw1 netflow.converge lan declared=True interfaces='[em0]' collectors='[{host: 192.0.2.10, port: 2055}]' test=True``"""
    return _converge_one(name, _converge_args(name, declared, test, persist, kwargs, dot), kwargs, test, persist, dot=dot)


def _converge_one(name: str, cfg: dict | None, kwargs: dict, test: bool, persist: bool, wait: float = 60, dot: bool = False) -> dict:
    """converge of one exporter (``cfg`` validated, None to remove it) by the engine."""
    params = nf_resolve.pinned({**kwargs, "persist": persist}, cfg) if cfg else None
    out = _core(_engine(persist, dot).converge, {name: cfg} if cfg else {}, [] if cfg else [name], test,
                {name: persist}, {name: params}, wait)
    return nf_engine.one_exporter(out, name, cfg is None, test)


def heal(name) -> dict:
    """``converge`` to exporter ``name``'s recorded declaration (its last successful present): what the
    ``netflow`` beacon runs when it drifts; no master needed, 5 s for the lock. CLI Example: ``salt fw1 netflow.heal lan``"""
    _core(nf_args.check_name, name)
    params = _checked(nf_record.declared_params, _records(), name, error=CommandExecutionError)
    persist = params.pop("persist", False)
    return _converge_one(name, _converge_args(name, True, False, persist, params), params, False, persist, wait=5)


def converge_host(exporters=None, absent=None, test: bool = False, persist: bool = False) -> dict:
    """Make this host's exporters what is declared, all together (the state
    ``netflow.exporters_present`` documents the arguments): ``exporters`` name ->
    ``exporter_present``'s parameters, ``absent`` names to remove (boot files too).
    Validated as a whole, then one read, one plan, ONE batch, one rollback (interfaces
    back where they were), one verification, the boot files of those with ``persist``.
    Returns ``{"result", "comment", "changes": {exporter: {...}}, "plan"}``. CLI Example:
    ``salt fw1 netflow.converge_host exporters='{lan: {interfaces: [em1], collectors:
    [{host: 192.0.2.10, port: 2055}]}}' absent='[old]' test=True``
    """
    _core(nf_args.check_flags, test=test, persist=persist)
    cfgs, gone = _core(nf_args.host_arguments, exporters, absent, persist, _records(), __salt__.get("mine.get"))
    _run_paths(True)
    persists, params = nf_args.host_records(exporters, cfgs, gone, persist)
    out = _core(_engine(True).converge, cfgs, gone, test, persists, params)
    return nf_engine.whole_host(out, len(cfgs), test)


# Reading
def dot(names=None) -> str:
    """The live graph of the given exporters (all with a ``<name>_nf`` node by default) as
    Graphviz DOT (nf_dot.exporter_dot): only their nodes and those linked to them, ksockets
    with their collectors, the ipfw rules and interfaces feeding their ipfw hooks. The whole
    graph, as ngctl draws it: ``netgraph.dot``. CLI Example: ``salt fw1 netflow.dot lan | dot -Tsvg > lan.svg``
    """
    names = _core(nf_args.dot_names, names)
    read = _views(names or None)
    names = _core(nf_args.dot_names, names or nf_args.exporters_in(read["graph"]))
    return nf_dot.exporter_dot(read["graph"], names, read["settings"], __salt__["netgraph.ipfw_rules"])


def boot_script(name, **kwargs) -> str:
    """The boot file of an exporter (its full build from an empty graph, replayed by the
    formula's rc.d script with ``ngctl -f``), as it would be written. CLI Example:
    ``salt fw1 netflow.boot_script lan interfaces='[em0]' collectors='[{host: 192.0.2.10, port: 2055}]'``
    """
    return nf_boot.render(name, nf_boot.build_script(_validated(name, kwargs)))


def defaults() -> dict:
    """The default paths of ``_utils/netgraph_core/nf_paths.py`` (boot files, lock, rc.d files, binaries),
    unvalidated: the one table the formula (netflow.mapdata) and the modules start from.
    CLI Example: ``salt fw1 netflow.defaults``"""
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
    config = {k: __salt__["config.get"](nf_paths.PATHS[k][0], None) for k in nf_pillar.PATH_KEYS}
    boot = nf_paths.default("boot_dir") if config["boot_dir"] is None else config["boot_dir"]
    names = nf_record.boot_names(boot) if isinstance(boot, str) and boot.startswith("/") else []
    # an exporter applied with persist: false has no boot file, only its record: ours too;
    # and one whose run was killed before it recorded anything, only its claim (nf_record)
    records = nf_record.declared_dir(__opts__["cachedir"])
    recorded, unreadable = nf_record.load_declarations(records)
    names = sorted(set(names) | set(recorded) | set(unreadable) | set(nf_record.claimed(records)))
    return nf_pillar.decide(_expose(__pillar__.get("netflow", {})), formula_defaults, config, names,
                            lambda key: __salt__["config.get"](key, None), tplroot)


def paths() -> dict:
    """The paths the exporters use (boot files, lock, rc.d script, rc.conf.d file, binaries),
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


def _views(names=None) -> dict:
    """Each exporter's view (nf_status.read_views): netgraph.graph, ONE netgraph.query."""
    graph = __salt__["netgraph.graph"]()
    declared, _ = nf_record.load_declarations(nf_record.declared_dir(__opts__["cachedir"]), names)
    persisted = () if names else nf_record.boot_names(_path("boot_dir"))
    return nf_status.read_views(graph, __salt__["netgraph.query"], declared, persisted, names)


def list_() -> dict:
    """The exporters of this host (netflow nodes ``<name>_nf``, recorded declarations, boot files): interfaces,
    collectors, health, ``in_sync``/``drift``, ``boot_file``. CLI Example: ``salt fw1 netflow.list``"""
    read, boot = _views(), _path("boot_dir")
    return {name: nf_watch.list_entry(view, read, nf_record.read_text(os.path.join(boot, f"{name}.ngctl")))
            for name, view in read["views"].items()}


def status(name=None, raw: bool = False, interval: int = 0) -> dict:
    """Exporter ``name`` in the pillar's terms: interfaces, collectors, settings, counters, health
    (ok/degraded/down), reasons; ``interval=N`` (s) reads twice to judge rising counters too;
    ``raw=True`` adds the kernel's replies. Without ``name``: ``{exporter: status}`` of all.
    CLI Example: ``salt fw1 netflow.status lan interval=5``, ``salt fw1 netflow.status``
    """
    _core(nf_args.check_name_or_all, name)
    _core(nf_args.check_flags, raw=raw)
    _checked(nf_status.check_interval, interval)
    return nf_status.status_of(_views, name, raw, interval, time.sleep)


def flows(name=None, interface=None, address=None, limit: int = 100) -> dict:
    """The live flow table of exporter ``name`` read with flowctl(8) (ngctl cannot send the binary
    ``show``): flows through ``interface``, from or to ``address`` (address or network), the ``limit``
    largest by packets (0: all). Without ``name``: ``{exporter: table}`` of every live exporter.
    CLI Example: ``salt fw1 netflow.flows lan interface=em0 address=10.0.0.0/8 limit=20``
    """
    _core(nf_args.check_name_or_all, name)
    filters = _checked(nf_status.check_flow_filters, interface, address, limit)
    names = [name] if name is not None else nf_status.exporter_names(__salt__["netgraph.graph"]())
    tables = {n: {"exporter": n, **nf_status.flow_table(__salt__["netgraph.flowctl"](f"{n}_nf:")["flows"], filters)} for n in names}
    return tables[name] if name is not None else tables


def sent() -> dict:
    """What each exporter sends, for ``salt-run netflow.verify`` (nf_verify.sent_of: collectors,
    flows expired since the node was made, health). CLI Example: ``salt fw1 netflow.sent``"""
    return {name: nf_verify.sent_of(view) for name, view in sorted(_views()["views"].items())}


def metrics(name=None, path=None) -> str:
    """Every exporter's (or ``name``'s) counters, health, interfaces and collectors in
    Prometheus text format (labels exporter, interface, collector); with ``path`` (an
    absolute ``*.prom``) also written there atomically, for node_exporter's textfile dir.
    CLI Example: ``salt fw1 netflow.metrics path=/var/tmp/node_exporter/netflow.prom``
    """
    _core(nf_args.check_name_or_all, name)
    if path is not None:
        _checked(nf_metrics.check_path, path)
    read = _views(None if name is None else [name])
    text = _checked(nf_metrics.render, [read["views"][n] for n in sorted(read["views"])], error=CommandExecutionError)
    if path is not None:
        _checked(nf_boot.write_atomic, {path: text}, 0o644, error=CommandExecutionError)
    return text


def mine() -> dict:
    """Applied and declared exporters, as the mine's ``netflow_exporters`` (docs/CONTRACTS.md). CLI Example: ``salt fw1 netflow.mine``"""
    declared = nf_args.declared_for_mine(mapdata(), _records(), __salt__.get("mine.get"))
    return nf_mine.read(_views()["views"], __salt__["netgraph.query"], declared)


def watch(state=None, **kwargs) -> dict:
    """One interval of the ``netflow`` beacon: every exporter with a recorded declaration
    read in ONE ngctl spawn and compared with it: ``{"events": [...], "errors": {...}}``,
    and the ``state`` for the next call when ``state`` is given. Options: exporters,
    stall_intervals, heal, heal_backoff, heal_backoff_max. CLI Example: ``salt fw1 netflow.watch``
    """
    opts = _checked(nf_watch.options, {k: v for k, v in kwargs.items() if not str(k).startswith("__")})
    if state is not None and not isinstance(state, dict):
        raise SaltInvocationError("state: must be what the last call returned (a mapping)")
    declared, bad = nf_record.load_declarations(nf_record.declared_dir(__opts__["cachedir"]), opts["exporters"], __context__)
    # the beacon runs in the minion's own loop: its one read has the shorter bound
    read = lambda reqs: __salt__["netgraph.snapshot"](reqs, timeout=_bound("watch_timeout"))  # noqa: E731
    events, new = nf_watch.run(declared, state, opts, read, time.time)
    return {"events": events, "errors": bad, **({"state": new} if state is not None else {})}
