"""The apply engine (``netgraph_core.nf_engine``) driven directly, without Salt's loader,
on an ngsim host that runs in this process.

    host = EngineHost(tmp_path, ifaces=("em0", "em1"))
    out = host.converge({"lan": {"interfaces": ["em0"], "collectors": [{"host": "192.0.2.10", "port": 2055}]}})
    out = host.converge({}, absent=["lan"], test=True)

* ``converge(exporters, absent=(), test=False, persist=False)``: each exporter's
  parameters as the pillar gives them (validated here; collectors by address), then
  ``Engine.converge``; returns the engine's plain dict (``result``, ``changes`` keyed by
  exporter, ``comment``, ``plan``, ``planned``, ``rolled`` after a rollback). A refused
  declaration raises nf_model.ValidationError/ConflictError, as the engine does.
* ``plan(exporters, absent=())``: ``Engine.plan`` (read-only).
* ``engine`` (nf_engine.Engine), ``kernel`` (nf_kernel.CallKernel over the functions of
  ``_modules/netgraph.py``, loaded as a plain module: the product's own argv and parsing),
  ``adapter`` (tests.support.kernel.KernelAdapter, its ``cmd.run_all``: every spawn in
  ``calls``, ``kill_after``, the hang knob).
* ``spawn="subprocess"``: every binary runs as a real process instead (``SubprocessRunAll``:
  the same ``calls`` record, Salt's return shape, the time bound enforced), for the one
  end-to-end case per path.
* Fault knob: ``fail_at(n, errno)`` (``ngsim fail``: the nth mutating ngctl command from
  now fails); ``adapter.kill_after`` kills the job between two spawns.
* Checks: ``links()`` (ngsim's verdict per interface, ``"pass"``/``"blackhole"``),
  ``batches()`` (the ``ngctl -f FILE`` spawns so far), ``graph()``, ``run(binary, *args)``
  (a binary run by hand, as the admin would).
"""
from __future__ import annotations

import io
import os
import pathlib
import subprocess

from salt.exceptions import CommandExecutionError

from netgraph_core import nf_engine
from netgraph_core import nf_kernel
from netgraph_core import nf_model
from netgraph_core import nf_record
from netgraph_core import nf_resolve
from ngsim import cli as ngcli
from ngsim import links as nglinks
from ngsim import state as ngstate
from ngsim import tool as ngtool
from ngsim.testing import load_file

from tests.support import kernel

REPO = pathlib.Path(__file__).resolve().parents[2]
TOOLS = ("ngctl", "kldload", "kldstat", "ipfw", "ifconfig", "flowctl")


class SubprocessRunAll:
    """``cmd.run_all`` that spawns the binary for real (``subprocess.run`` with its timeout)."""

    def __init__(self):
        self.calls: list[dict] = []

    def __call__(self, cmd, cwd=None, stdin=None, timeout=None, python_shell=False, **kwargs) -> dict:
        assert python_shell is False and timeout, "every spawn is an argv list with a time bound"
        argv = [str(a) for a in cmd]
        self.calls.append({"argv": argv, "timeout": timeout, "stdin": stdin})
        try:
            proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False)
        except subprocess.TimeoutExpired:
            return {"pid": 0, "retcode": 1, "stdout": "", "stderr": f"Timed out after {timeout} seconds"}
        self.calls[-1]["retcode"] = proc.returncode
        return {"pid": 0, "retcode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}


class EngineHost:
    """An emulated firewall under ``base`` and the engine over it (see the module docstring)."""

    def __init__(self, base, ifaces=("em0", "em1", "em2"), spawn: str = "in-process"):
        base = pathlib.Path(base)
        self.root = str(base / "host")
        self.lock_file = str(base / "run" / "netflow.lock")
        self.cachedir = str(base / "cache")
        self.boot_dir = str(base / "boot")
        os.makedirs(os.path.dirname(self.lock_file), exist_ok=True)
        assert ngcli.main(["init", self.root] + [w for i in ifaces for w in ("--iface", i)]) == 0
        self.adapter = kernel.KernelAdapter(self.root) if spawn == "in-process" else SubprocessRunAll()
        config = {f"netgraph.{t}": os.path.join(self.root, "bin", t) for t in TOOLS}
        self.netgraph = load_file(REPO / "_modules" / "netgraph.py", f"netgraph_engine_{id(self)}")
        self.netgraph.__salt__ = {"cmd.run_all": self.adapter,
                                  "config.get": lambda key, default=None: config.get(key, default)}
        self.kernel = nf_kernel.CallKernel(lambda op: getattr(self.netgraph, op), CommandExecutionError)
        self.engine = nf_engine.Engine(self.kernel, self.lock_file, nf_record.declared_dir(self.cachedir), self.boot_dir)

    @staticmethod
    def config(name: str, params: dict, persist: bool = False) -> dict:
        """``params`` validated as exporter ``name`` (collectors given by address)."""
        cfg = nf_model.validate({"persist": persist, **params, "name": name})
        return nf_resolve.resolve(cfg, {})

    def plan(self, exporters: dict, absent=()) -> dict:
        return self.engine.plan({n: self.config(n, p) for n, p in exporters.items()}, absent)

    def converge(self, exporters: dict, absent=(), test: bool = False, persist: bool = False) -> dict:
        cfgs = {n: self.config(n, p, persist) for n, p in exporters.items()}
        persists = {**{n: persist for n in cfgs}, **dict.fromkeys(absent, True)}
        remember = {**{n: {"persist": persist, **p} for n, p in exporters.items()}, **dict.fromkeys(absent)}
        return self.engine.converge(cfgs, sorted(set(absent)), test, persists, remember)

    # fault knob
    def fail_at(self, n: int, errno: str = "ENOBUFS") -> None:
        assert ngcli.main(["fail", self.root, "--at", str(n), "--errno", errno]) == 0

    # checks
    def links(self) -> dict:
        with ngstate.locked(self.root):
            return nglinks.links(ngstate.load(self.root))

    def batches(self) -> list[dict]:
        return [c for c in self.adapter.calls
                if os.path.basename(c["argv"][0]) == "ngctl" and c["argv"][1:2] == ["-f"] and c["argv"][2] != "-"]

    def graph(self) -> dict:
        return self.kernel.graph()

    def run(self, binary: str, *args: str, stdin: str = "") -> tuple:
        return ngtool.run(binary, self.root, [str(a) for a in args], stdin=io.StringIO(stdin))
