"""One simulated firewall: an ngsim host, Salt's loader bound to it with the in-process
kernel adapter (tests/support/kernel.py), and the real formula rendered and executed in
this process.

``SimHost(base)`` builds, under ``base``: ``host/`` (the ngsim root), ``salt/`` (cachedir),
``boot/`` (boot_dir), ``run/netflow.lock`` (lock file and journals), ``etc/rc.conf.d/netflow``,
``rc.d/netflow`` (the rc.d script the formula installs), ``tools/`` (sha256/lockf stand-ins).
Salt's loader is built once (it costs seconds); :meth:`reset` starts a new history on it.

:meth:`state_run` renders an SLS of ``formula/netflow`` for the current pillar with Salt's
own HighState (map.jinja, exporter.sls, boot.sls, clean.sls as they are) and executes the
rendered states with Salt's own state engine (requisites, test mode), both on the same
loader, so every spawn of every state goes through the adapter. Renders are cached by
(SLS, pillar, files in boot_dir): map.jinja reads nothing else that changes.
"""
from __future__ import annotations

import copy
import json
import os
import pathlib
import shutil

from ngsim import cli as ngcli
from ngsim import links as nglinks
from ngsim import state as ngstate

from tests.support import kernel, rcd

REPO = pathlib.Path(__file__).resolve().parents[2]
TOOLS = ("ngctl", "kldload", "kldstat", "ipfw", "ifconfig", "flowctl")


def ngsim(*args: str) -> int:
    """``python -m ngsim ARGS`` in this process (its exit status)."""
    return ngcli.main([str(a) for a in args])


class SimHost:
    """An emulated firewall with Salt's loader, the formula and the rc.d script."""

    def __init__(self, base: str | os.PathLike, ifaces=("em0", "em1", "em2", "tun0")):
        self.base = pathlib.Path(base)
        self.root = self.base / "host"
        self.ifaces = tuple(ifaces)
        self.cachedir = self.base / "salt" / "cache"
        self.boot_dir = self.base / "boot"
        self.lock_file = self.base / "run" / "netflow.lock"
        self.rc_conf_d = self.base / "etc" / "rc.conf.d" / "netflow"
        self.rc_script = self.base / "rc.d" / "netflow"
        self.rc_workdir = self.base / "rcwork"
        self.tools = rcd.write_standins(self.base / "tools")
        self.pillar: dict = {}
        self._render_cache: dict = {}
        self._init_host()
        self.loaders = self._make_loaders()
        self.adapter = kernel.KernelAdapter(str(self.root))
        kernel.install(self.loaders, self.adapter)
        self._highstate = None

    # --- set-up --------------------------------------------------------------------
    def _init_host(self) -> None:
        if self.root.exists():
            shutil.rmtree(self.root)
        args = ["init", str(self.root)]
        for iface in self.ifaces:
            args += ["--iface", iface]
        assert ngsim(*args) == 0
        self.firewall_up()
        open(ngstate.log_path(str(self.root)), "w").close()

    def firewall_up(self) -> None:
        """What rc.d/ipfw does at boot with firewall_enable=YES firewall_type=open: ipfw
        loaded, rule 65000 allows everything."""
        assert self.run("kldload", "ipfw")[0] == 0
        assert self.run("ipfw", "-q", "add", "65000", "allow", "ip", "from", "any", "to", "any")[0] == 0

    def opts(self) -> dict:
        import salt.config

        opts = salt.config.minion_config(None)
        salt_dir = self.base / "salt"
        opts.update({
            "id": "fw1", "file_client": "local", "root_dir": str(salt_dir), "cachedir": str(self.cachedir),
            "pki_dir": str(salt_dir / "pki"), "sock_dir": str(salt_dir / "sock"),
            "module_dirs": [str(REPO / "_modules")], "utils_dirs": [str(REPO / "_utils")],
            "states_dirs": [str(REPO / "_states")], "beacons_dirs": [str(REPO / "_beacons")],
            "file_roots": {"base": [str(REPO / "formula")]}, "pillar_roots": {"base": []},
            "extension_modules": str(self.cachedir / "extmods"),  # not the shared /var/cache/salt
            "grains_cache": False, "state_verbose": True, "test": False,
            "netflow": {"boot_dir": str(self.boot_dir), "lock_file": str(self.lock_file),
                        "rc_conf_d": str(self.rc_conf_d), "rc_script": str(self.rc_script),
                        "sha256": self.tools["sha256"], "lockf": self.tools["lockf"]},
        })
        for tool in TOOLS:
            opts[f"netgraph.{tool}"] = str(self.root / "bin" / tool)
        return opts

    def _make_loaders(self):
        from saltfactories.utils.functional import Loaders

        return Loaders(self.opts())

    def reset(self) -> None:
        """A fresh boot of a new host: empty graph, no boot files, no lock or journal, no
        rc.conf.d, no recorded declarations, no fault knobs; the loader kept."""
        for path in (self.boot_dir, self.lock_file.parent, self.rc_conf_d.parent, self.rc_script.parent,
                     self.cachedir / "netflow"):
            shutil.rmtree(path, ignore_errors=True)
        self.lock_file.parent.mkdir(parents=True)
        self._init_host()
        self.loaders.context.clear()
        self.adapter.__init__(str(self.root))
        self.set_pillar({})

    # --- kernel --------------------------------------------------------------------
    def run(self, binary: str, *args: str, stdin: str = "") -> tuple:
        """An emulated binary run by hand (another program, the admin): (rc, out, err)."""
        import io

        from ngsim import tool

        return tool.run(binary, str(self.root), [str(a) for a in args], stdin=io.StringIO(stdin))

    def state(self) -> dict:
        with ngstate.locked(str(self.root)):
            return ngstate.load(str(self.root))

    def links(self) -> dict:
        return nglinks.links(self.state())

    def log(self) -> list[dict]:
        return kernel.log_entries(str(self.root))

    # --- pillar and formula ---------------------------------------------------------
    def set_pillar(self, pillar: dict) -> None:
        """The minion's pillar (what ``saltutil.refresh_pillar`` would load)."""
        self.pillar = copy.deepcopy(pillar)
        outer = self.loaders.modules
        inner = outer.pack.get("__salt__") or outer
        views = [self.loaders.opts["pillar"], outer.pack.get("__pillar__"), inner.pack.get("__pillar__"),
                 inner.opts.get("pillar"), outer.opts.get("pillar")]
        if self._highstate is not None:
            views += [self._highstate.opts.get("pillar"), self._highstate.state.opts.get("pillar")]
        for live in {id(v): v for v in views if isinstance(v, dict)}.values():
            live.clear()  # in place: the loaders' __pillar__ and the state engine share these dicts
            live.update(copy.deepcopy(pillar))

    def _boot_files(self) -> tuple:
        """What the formula's render reads from disk: the boot files and the recorded
        declarations (netflow.mapdata knows our exporters by both)."""
        found = []
        for where in (self.boot_dir, self.cachedir / "netflow"):
            try:
                found.append(tuple(sorted(os.listdir(where))))
            except FileNotFoundError:
                found.append(())
        return tuple(found)

    def _state(self):
        import salt.loader
        import salt.state

        if self._highstate is None:
            opts = self.loaders.opts
            hs = salt.state.HighState(opts, initial_pillar=opts["pillar"])
            self._highstate = hs
            self.set_pillar(self.pillar)
            hs.state.functions = self.loaders.modules
            hs.state.states = salt.loader.states(opts, hs.state.functions, self.loaders.utils,
                                                  self.loaders.serializers, context=self.loaders.context)
            hs.state.rend = salt.loader.render(opts, hs.state.functions)
        return self._highstate

    def forget_state(self) -> None:
        """Drop the state engine after a job that died mid-run (its run-time bookkeeping may
        be half-done); the next run builds a new one."""
        self._highstate = None

    def render(self, sls: str) -> tuple:
        """(high data, errors) of ``sls`` for the current pillar and boot files."""
        key = (sls, json.dumps(self.pillar, sort_keys=True, default=repr), self._boot_files())
        if key not in self._render_cache:
            hs = self._state()
            hs.building_highstate = type(hs.building_highstate)()  # a fresh compile, as a new HighState
            hs.iorder = 10000
            hs.push_active()
            try:
                high, errors = hs.render_highstate({"base": [sls]})
            finally:
                hs.pop_active()
            self._render_cache[key] = (high, errors)
        high, errors = self._render_cache[key]
        return copy.deepcopy(high), list(errors)

    def _set_test(self, hs, test: bool) -> None:
        """``test=True`` as state.sls sets it: in the opts of the engine and of every loader
        (each loader holds its own copy of opts; Salt's LoadedFunc copies it into __opts__)."""
        outer = self.loaders.modules
        inner = outer.pack.get("__salt__") or outer
        for opts in (self.loaders.opts, outer.opts, inner.opts, hs.opts, hs.state.opts, hs.state.states.opts):
            opts["test"] = test

    def state_run(self, sls: str = "netflow", test: bool = False) -> dict:
        """``state.sls SLS [test=True]`` in this process: {state id: return}; a render error
        comes back as {"__render__": {"result": False, "comment": ...}}."""
        high, errors = self.render(sls)
        if errors:
            return {"__render__": {"result": False, "comment": "; ".join(map(str, errors)), "changes": {}}}
        hs = self._state()
        self._set_test(hs, test)
        try:
            ret = hs.state.call_high(high)
        finally:
            self._set_test(hs, False)
        if isinstance(ret, list):  # compiler errors
            return {"__render__": {"result": False, "comment": "; ".join(map(str, ret)), "changes": {}}}
        return {v.get("__id__", k): v for k, v in ret.items()}

    # --- rc.d -----------------------------------------------------------------------
    def rc(self, arg: str, timeout: float = 120):
        """``service netflow ARG``: the installed rc.d script (or, before the formula ran,
        the formula's own) under the stand-in rc.subr, reading rc.conf.d."""
        return rcd.rc_command(arg, self.rc_conf_d, self.rc_workdir, timeout=timeout)
