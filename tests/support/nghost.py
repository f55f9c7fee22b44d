"""Emulated FreeBSD hosts for the functional tests (ngsim) and Salt's own loader bound to
one of them; the fixtures in tests/functional/conftest.py are built on these.

* ``NgHost`` wraps one ngsim ROOT: (re)initialise it, run its ngctl directly, read and
  clear its invocation log, inject failures.
* ``ng_loaders_for(root)`` builds ``saltfactories.utils.functional.Loaders`` with minion
  opts whose ``netgraph.ngctl`` etc. point at ``ROOT/bin/*`` (file_client local,
  module_dirs/states_dirs at the repository's ``_modules``/``_states``).

The test's own set-up and reads (``ngsim init``, ``log``, ``fail``, ``links``) run ngsim in
this process (``run_ngsim``): what the product spawns stays a real process.
"""
from __future__ import annotations

import contextlib
import io
import json
import pathlib
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
TOOLS = ("ngctl", "kldload", "kldstat", "ipfw", "ifconfig")


def run_ngsim(*args: str, check: bool = True) -> str:
    """``python -m ngsim ARGS``, run in this process (the same code, without a ~0.1 s
    interpreter start): its stdout; a non-zero exit raises AssertionError with ``check``."""
    from ngsim import cli as ngcli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = ngcli.main([str(a) for a in args])
        except SystemExit as exc:  # argparse and ngsim's own refusals
            rc = exc.code if isinstance(exc.code, int) else 1
            if not isinstance(exc.code, int) and exc.code is not None:
                err.write(f"{exc.code}\n")
    if check and rc:
        raise AssertionError(f"ngsim {' '.join(map(str, args))} failed ({rc}): {err.getvalue()}")
    return out.getvalue()


def run_tool(root: str | pathlib.Path, tool: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """``ROOT/bin/TOOL ARGS`` run by the test itself (another program, the admin): the
    emulated binary in this process, logged as the spawned one is; its CompletedProcess."""
    from ngsim import tool as ngtool

    argv = [str(a) for a in args]
    rc, out, err = ngtool.run(tool, str(root), argv, stdin=io.StringIO(stdin or ""))
    return subprocess.CompletedProcess([str(pathlib.Path(root) / "bin" / tool), *argv], rc, out, err)


class NgHost:
    """One emulated FreeBSD host (an ngsim ROOT)."""

    def __init__(self, root: pathlib.Path):
        self.root = pathlib.Path(root)

    def init(self, ifaces=("em0", "em1"), loaded=("ng_ether",)) -> "NgHost":
        if self.root.exists():
            shutil.rmtree(self.root)
        args = ["init", str(self.root)]
        for iface in ifaces:
            args += ["--iface", iface]
        for module in loaded:
            args += ["--loaded", module]
        run_ngsim(*args)
        self.clear_log()
        return self

    def bin(self, tool: str) -> pathlib.Path:
        return self.root / "bin" / tool

    def ngctl(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        proc = run_tool(self.root, "ngctl", *args, stdin=stdin)
        if check and proc.returncode:
            raise AssertionError(f"ngctl {' '.join(args)} failed: {proc.stderr}")
        return proc

    def run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = run_tool(self.root, tool, *args)
        if check and proc.returncode:
            raise AssertionError(f"{tool} {' '.join(args)} failed: {proc.stderr}")
        return proc

    def log(self) -> list[dict]:
        return [json.loads(line) for line in run_ngsim("log", str(self.root)).splitlines() if line.strip()]

    def clear_log(self) -> None:
        run_ngsim("log", str(self.root), "--clear")

    def spawns(self, binary: str | None = None) -> list[dict]:
        entries = self.log()
        if binary is None:
            return entries
        return [e for e in entries if e.get("binary", pathlib.Path(e["argv"][0]).name) == binary]

    def mutating(self) -> list[dict]:
        return [e for e in self.log() if e.get("mutating")]

    def fail_at(self, n: int, errno: str | None = None) -> None:
        args = ["fail", str(self.root), "--at", str(n)]
        if errno:
            args += ["--errno", errno]
        run_ngsim(*args)


def minion_opts_for(root: pathlib.Path, base: pathlib.Path, minion_id: str = "fw1") -> dict:
    import salt.config

    opts = salt.config.minion_config(None)
    opts.update(
        {
            "id": minion_id,
            "file_client": "local",
            "root_dir": str(base),
            "cachedir": str(base / "cache"),
            "pki_dir": str(base / "pki"),
            "sock_dir": str(base / "sock"),
            "module_dirs": [str(REPO / "_modules")], "utils_dirs": [str(REPO / "_utils")],
            "states_dirs": [str(REPO / "_states")],
            "grains_cache": False,
        }
    )
    for tool in TOOLS:
        opts[f"netgraph.{tool}"] = str(pathlib.Path(root) / "bin" / tool)
    return opts


def ng_loaders_for(root: pathlib.Path, base: pathlib.Path, netflow: bool = False, inprocess: bool = False):
    """Salt's loader with this host's binaries configured (with ``netflow``: boot files
    and the lock under ``base`` too). The host must exist first: the modules'
    __virtual__ looks for the configured ngctl.

    With ``inprocess`` every spawn of our modules (``cmd.run_all``) runs the emulated
    binary in this process (tests/support/kernel.py, as the simulation suite does; the
    adapter is ``loaders.kernel``): the same ngsim code, its log and fault knobs, without
    a process start per call. The matrices use it; real spawns are proven elsewhere."""
    from saltfactories.utils.functional import Loaders

    opts = minion_opts_for(root, base)
    if netflow:
        opts["netflow"] = {"boot_dir": str(base / "boot"), "lock_file": str(base / "netflow.lock")}
    loaders = Loaders(opts)
    if inprocess:
        install_inprocess(loaders, root)
    return loaders


def install_inprocess(loaders, root: str | pathlib.Path, adapter=None):
    """Every spawn of ``loaders``' modules through the in-process kernel adapter
    (``adapter``, by default a new KernelAdapter of ``root``; kept as ``loaders.kernel``),
    and ``loaders.states`` replaced by :class:`InProcessStates` (saltfactories' own runs each
    call through ``state.single``, which loads a fresh set of modules with Salt's real
    ``cmd.run_all``)."""
    from tests.support import kernel

    loaders.kernel = adapter or kernel.KernelAdapter(str(root))
    kernel.install(loaders, loaders.kernel)
    loaders._states = InProcessStates(loaders)
    return loaders.kernel


class InProcessStates:
    """``loaders.states.<module>.<function>(name, test=..., **kwargs)`` run as ``state.single``
    runs it (``salt.state.State.call`` of the same low chunk, test mode in every opts, a
    fresh ``__context__`` as a new job has), on the modules of ``loaders``: what the state
    spawns goes through their ``cmd.run_all``. Returns saltfactories' StateResult."""

    def __init__(self, loaders):
        self._loaders = loaders
        self._state = None

    def _engine(self):
        import salt.loader
        import salt.state

        if self._state is None:
            loaders = self._loaders
            st = salt.state.State(loaders.opts, initial_pillar=loaders.opts.get("pillar", {}))
            st.functions = loaders.modules
            st.states = salt.loader.states(st.opts, st.functions, st.utils, st.serializers, context=st.state_con)
            self._state = st
        return self._state

    def _set_test(self, st, test: bool) -> None:
        outer = self._loaders.modules
        inner = outer.pack.get("__salt__") or outer
        for opts in {id(o): o for o in (self._loaders.opts, outer.opts, inner.opts, st.opts, st.states.opts)}.values():
            opts["test"] = test

    def call(self, fun: str, name: str, test: bool | None = None, **kwargs):
        from saltfactories.utils.functional import StateResult

        st = self._engine()
        module, function = fun.split(".", 1)
        low = {**kwargs, "state": module, "fun": function, "__id__": name, "name": name}
        self._loaders.context.clear()  # a new job: nothing cached by an earlier one
        st.state_con.clear()
        self._set_test(st, bool(test))
        try:
            st._mod_init(low)
            ret = {"{0[state]}_|-{0[__id__]}_|-{0[name]}_|-{0[fun]}".format(low): st.call(low)}
        finally:
            self._set_test(st, False)
        return StateResult(ret)

    def clean_modules(self) -> None:
        """What ``Loaders.reload_all`` calls on its states loader: the engine is dropped (the
        next reload builds saltfactories' own; install_inprocess again to come back here)."""
        self._state = None

    clear = clean_modules

    def __getattr__(self, module: str):
        if module.startswith("_"):
            raise AttributeError(module)
        return _StateModule(self, module)


class _StateModule:
    def __init__(self, states: InProcessStates, module: str):
        self._states, self._module = states, module

    def __getattr__(self, function: str):
        if function.startswith("_"):
            raise AttributeError(function)
        return lambda name, **kwargs: self._states.call(f"{self._module}.{function}", name, **kwargs)


def host_root_fixture(prefix: str):
    """A module-scoped fixture: the root of this module's emulated host."""
    @pytest.fixture(scope="module")
    def host_root(tmp_path_factory) -> pathlib.Path:
        return tmp_path_factory.mktemp(prefix) / "host"

    return host_root


def netflow_fixtures(prefix: str, host_class, inprocess: bool = False, **init):
    """This module's (host_root, loaders) fixtures: its emulated host, made by
    ``host_class(root).init(**init)`` before Salt's loader loads the modules (their
    __virtual__ looks for ngctl), boot files and lock under a temporary base
    (``inprocess``: see :func:`ng_loaders_for`)."""
    @pytest.fixture(scope="module")
    def loaders(host_root, tmp_path_factory):
        host_class(host_root).init(**init)
        return ng_loaders_for(host_root, tmp_path_factory.mktemp("salt"), netflow=True, inprocess=inprocess)

    return host_root_fixture(prefix), loaders


