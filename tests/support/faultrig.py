"""A fault rig for the apply engine through Salt's own loader and ngsim, in this process by
default (the in-process kernel adapter with the same faults), or small shims in front
of the host's binaries that, when armed, make the Nth ``ipfw add``/``delete`` fail as
FreeBSD's ipfw reports a kernel error, arm ``ngsim die`` just before the apply's batch, and
can SIGKILL the whole Salt job right after that ngctl dies (tests/functional/states/
test_hardening_plan.py, test_splice_rollback.py).
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

from tests.support import kernel
from tests.support import nghost as _conf

REPO = pathlib.Path(__file__).resolve().parents[2]
ngsim = _conf.run_ngsim

IFACES = ["em0", "em1", "vlan0.100", "tun0"]
C1 = {"host": "192.0.2.10", "port": 2055}
C2 = {"host": "192.0.2.11", "port": 2055}
C5 = {"host": "192.0.2.12", "port": 9995, "version": 5}
TUN = {"attach": "ipfw", "ipfw_hook": 1000}

SHIM = r'''#!/bin/sh
# fault shim: {tool} of the emulated host, unchanged unless a fault is armed
if [ -e "{shim}/armed.json" ]; then exec "{python}" "{shim}/shim.py" {tool} "$@"; fi
exec "{root}/bin/{tool}" "$@"
'''
SHIM_PY = r'''import json, os, signal, subprocess, sys
tool, args = sys.argv[1], sys.argv[2:]
here = os.path.dirname(os.path.abspath(__file__))
ctl_path = os.path.join(here, "armed.json")
ctl = json.load(open(ctl_path))
root = ctl["root"]
real = os.path.join(root, "bin", tool)

def save():
    keys = [k for k in ctl if k != "root"]
    if keys:
        json.dump(ctl, open(ctl_path, "w"))
    else:
        os.unlink(ctl_path)

if tool == "ipfw" and "ipfw_fail" in ctl and args[:1] in (["add"], ["delete"]):
    ctl["ipfw_fail"] -= 1
    if ctl["ipfw_fail"] <= 0:
        del ctl["ipfw_fail"]
        save()
        if args[0] == "add":
            sys.stderr.write("ipfw: getsockopt(IP_FW_XADD): No buffer space available\n")
        else:
            sys.stderr.write("ipfw: rule %s: setsockopt(IP_FW_XDEL): No buffer space available\n" % args[1])
        sys.exit(69)
    save()
if tool == "ngctl" and "die_after" in ctl and len(args) == 2 and args[0] == "-f" and args[1] != "-":
    after = ctl.pop("die_after")
    kill_job = ctl.pop("kill_job", False)
    save()
    subprocess.run([sys.executable, "-m", "ngsim", "die", root, "--after", str(after)], check=True,
                   cwd=ctl["repo"])
    rc = subprocess.run([real] + args).returncode
    if kill_job:
        os.killpg(os.getpgrp(), signal.SIGKILL)  # the Salt job dies with its ngctl
    if rc < 0:
        os.kill(os.getpid(), -rc)
    sys.exit(rc)
os.execv(real, [real] + args)
'''

RUNNER = r'''import json, pathlib, sys
sys.path[:0] = [{repo!r}, {utils!r}]
import salt.loader
from tests.support import nghost as conf
spec = json.load(open(sys.argv[1]))
opts = conf.minion_opts_for(pathlib.Path(spec["root"]), pathlib.Path(spec["base"]))
opts.update(spec["opts"], grains={{"kernel": "Linux", "id": "fw1"}})
utils = salt.loader.utils(opts)
states = salt.loader.states(opts, salt.loader.minion_mods(opts, utils=utils), utils, {{}})
print(json.dumps(states["netflow.exporter_present"](name="lan", **spec["params"])))
'''


class Host(_conf.NgHost):
    """An ngsim host with a log mark, the firewall as rc.d/ipfw leaves it, and reads."""

    def init(self, ifaces=IFACES, loaded=("ng_ether",), firewall=False) -> "Host":
        super().init(ifaces=ifaces, loaded=loaded)
        if firewall:  # rc.d/ipfw with firewall_enable=YES firewall_type=open
            self.run("kldload", "ipfw")
            self.run("ipfw", "-q", "add", "65000", "allow", "ip", "from", "any", "to", "any")
        self.mark()
        return self

    def mark(self) -> None:
        self._mark = len(self.log())

    def mutating(self) -> list[dict]:
        return [e for e in self.log()[self._mark:] if e["mutating"]]

    def links(self) -> dict:
        return json.loads(ngsim("links", str(self.root)))

    def ipfw_list(self) -> list[str]:
        return self.run("ipfw", "list").stdout.splitlines()

    def listing(self) -> str:
        return self.run("ngctl", "list").stdout


def write_shims(shim: pathlib.Path, root: pathlib.Path, script: str, shim_py: str) -> pathlib.Path:
    """The directory ``shim``: one ``script`` (a template of {tool}, {shim}, {python}, {root})
    for each of the host's tools, and ``shim.py``."""
    shim.mkdir()
    for tool in _conf.TOOLS:
        path = shim / tool
        path.write_text(script.format(tool=tool, shim=shim, python=sys.executable, root=root))
        path.chmod(0o755)
    (shim / "shim.py").write_text(shim_py)
    return shim


class FaultAdapter(kernel.KernelAdapter):
    """The shims' faults for the in-process kernel adapter (``armed``, as armed.json):
    ``ipfw_fail`` N (the Nth ``ipfw add``/``delete`` fails as FreeBSD's ipfw reports a kernel
    error: exit 69, no effect), ``die_after`` N (``ngsim die --after N`` armed just before
    the apply's batch, ``ngctl -f FILE``), ``kill_job`` (the Salt job dies right after that
    batch: :class:`kernel.JobKilled`)."""

    def __init__(self, root: str):
        super().__init__(root)
        self.armed: dict = {}

    def __call__(self, cmd, cwd=None, stdin=None, timeout=None, **kwargs) -> dict:
        argv = [str(a) for a in cmd] if isinstance(cmd, (list, tuple)) else str(cmd).split()
        tool, args = os.path.basename(argv[0]) if argv else "", argv[1:]
        if tool == "ipfw" and "ipfw_fail" in self.armed and args[:1] in (["add"], ["delete"]):
            self.armed["ipfw_fail"] -= 1
            if self.armed["ipfw_fail"] <= 0:
                del self.armed["ipfw_fail"]
                err = ("ipfw: getsockopt(IP_FW_XADD): No buffer space available" if args[0] == "add" else
                       f"ipfw: rule {args[1]}: setsockopt(IP_FW_XDEL): No buffer space available")
                return {"pid": 0, "retcode": 69, "stdout": "", "stderr": err}
        kill = False
        if tool == "ngctl" and "die_after" in self.armed and len(args) == 2 and args[0] == "-f" and args[1] != "-":
            ngsim("die", self.root, "--after", str(self.armed.pop("die_after")))
            kill = self.armed.pop("kill_job", False)
        ret = super().__call__(cmd, cwd=cwd, stdin=stdin, timeout=timeout, **kwargs)
        if kill:
            raise kernel.JobKilled(" ".join(argv))  # the Salt job dies with its ngctl
        return ret


class Rig:
    """One host, the shims in front of its binaries, Salt's loader: in this process
    (``inprocess``, the faults by :class:`FaultAdapter`) or bound to the shims. A killed
    job with ``real_process`` runs in a separate process through the shims."""

    def __init__(self, base: pathlib.Path, inprocess: bool = True):
        from saltfactories.utils.functional import Loaders

        self.base = base
        self.host = Host(base / "host")
        self.host.init()
        self.shim = write_shims(base / "shim", self.host.root, SHIM, SHIM_PY)
        self.overrides = {
            "netflow": {"boot_dir": str(base / "boot"), "lock_file": str(base / "run" / "netflow.lock")},
            **{f"netgraph.{tool}": str(self.shim / tool) for tool in _conf.TOOLS},
        }
        opts = _conf.minion_opts_for(self.host.root, base / "salt")
        opts.update(self.overrides)
        self.adapter = None
        if inprocess:  # the host's own binaries, every spawn through the adapter
            opts.update({f"netgraph.{tool}": str(self.host.root / "bin" / tool) for tool in _conf.TOOLS})
        self.loaders = Loaders(opts)
        if inprocess:
            self.adapter = _conf.install_inprocess(self.loaders, self.host.root, FaultAdapter(str(self.host.root)))

    def journal(self, name: str = "lan") -> pathlib.Path:
        return self.base / "run" / f"netflow.{name}.journal"

    def arm(self, shims: bool = False, **faults) -> None:
        if self.adapter is not None and not shims:
            self.adapter.armed = dict(faults)
            return
        faults.update(root=str(self.host.root), repo=str(REPO))
        (self.shim / "armed.json").write_text(json.dumps(faults))

    def disarm(self) -> None:
        if self.adapter is not None:
            self.adapter.armed = {}
        try:
            (self.shim / "armed.json").unlink()
        except FileNotFoundError:
            pass

    def fresh(self, **init) -> Host:
        self.disarm()
        self.host.init(**init)
        for leftover in (self.base / "run").glob("*.journal"):
            leftover.unlink()
        self.loaders.reset_state()
        return self.host

    def present(self, name="lan", test=False, **params):
        params.setdefault("interfaces", ["em0"])
        params.setdefault("collectors", [C1])
        return self.loaders.states.netflow.exporter_present(name=name, test=test, **params)

    def absent(self, name="lan", test=False):
        return self.loaders.states.netflow.exporter_absent(name=name, test=test)

    def plan(self, name="lan", **params) -> dict:
        return self.loaders.modules.netflow.plan(name, load_modules=False, **params)

    def killed_job(self, after: int, params: dict, real_process: bool = False) -> subprocess.CompletedProcess:
        """exporter_present whose batch ngctl dies after ``after`` lines, taking that whole
        Salt job with it (no rollback runs, the journal stays behind): in this process (the
        job's exception, :class:`kernel.JobKilled`, is the SIGKILL; the next job starts with
        a fresh context) or, with ``real_process``, in a separate process (Salt's loader, the
        same minion options) that is SIGKILLed. Its CompletedProcess (returncode -9)."""
        if self.adapter is not None and not real_process:
            self.arm(die_after=after, kill_job=True)
            try:
                ret = self.present(**params)
            except kernel.JobKilled:
                self.loaders.context.clear()
                return subprocess.CompletedProcess(["exporter_present"], -9, "", "")
            finally:
                self.disarm()
            return subprocess.CompletedProcess(["exporter_present"], 0, repr(ret.full_return), "")
        spec = self.base / "runner.json"
        spec.write_text(json.dumps({"root": str(self.host.root), "base": str(self.base / "salt-runner"),
                                    "opts": self.overrides, "params": params}))
        script = self.base / "runner.py"
        script.write_text(RUNNER.format(repo=str(REPO), utils=str(REPO / "_utils")))
        self.arm(shims=True, die_after=after, kill_job=True)
        return subprocess.run([sys.executable, str(script), str(spec)], capture_output=True, text=True,
                              start_new_session=True, cwd=REPO, timeout=300)


def assert_converges(rig: Rig, **params) -> None:
    again = rig.present(**params)
    assert again.result is True, again.comment
    assert set(rig.host.links().values()) == {"pass"}, rig.host.links()
    clean = rig.present(**params)
    assert clean.result is True and clean.changes == {}, clean.changes


def graph(rig: Rig) -> dict:
    return rig.loaders.modules.netgraph.graph()["nodes"]


def unnamed(rig: Rig) -> dict:
    return {k: v for k, v in graph(rig).items() if v["name"] is None}
