"""Every spawn has a time bound (issue 19, class 6), through Salt's own loader and real
subprocesses on an ngsim host, nothing mocked:

* a hung ``ngctl`` during the reads, a hung ``kldload``, a hung ``ipfw list``: the apply
  fails within ``netgraph.timeout`` naming the binary and the bound, nothing changed, the
  netflow lock released (the next apply, once the binary answers again, converges);
* a ``ngctl -f`` batch that hangs after running some of its lines, an ``ipfw add`` that
  hangs after the batch: killed at the bound and rolled back like any failure, every
  interface passing traffic;
* the beacon's read (``netflow.watch``) is bounded by the shorter ``netgraph.watch_timeout``,
  directly and through Salt's beacon machinery.

``ngsim hang ROOT BINARY`` makes the emulated binary sleep without the host lock. A hang
in the middle of one step (a batch after k lines, an ``ipfw add`` but not the ``ipfw list``
of the rollback) is a small shim in front of the host's binaries: it passes every call
through unchanged unless armed.
"""
from __future__ import annotations

import json
import pathlib
import time

import pytest
from salt.exceptions import CommandExecutionError


REPO = pathlib.Path(__file__).resolve().parents[3]
from tests.support import nghost as _conf  # noqa: E402 - after REPO, as before
from tests.support.faultrig import write_shims  # noqa: E402
ngsim = _conf.run_ngsim

BOUND = 2  # netgraph.timeout in these tests
WATCH_BOUND = 1  # netgraph.watch_timeout
SLACK = 6  # seconds a bounded call may take beyond its bound on a loaded 2-core machine
C1 = {"host": "192.0.2.10", "port": 2055}
TUN = {"attach": "ipfw", "ipfw_hook": 1000}
IFACES = ["em0", "em1", "tun0"]

SHIM = '''#!/bin/sh
if [ -e "{shim}/armed.json" ]; then exec "{python}" "{shim}/shim.py" {tool} "$@"; fi
exec "{root}/bin/{tool}" "$@"
'''
SHIM_PY = r'''import json, os, subprocess, sys, tempfile, time
tool, args = sys.argv[1], sys.argv[2:]
here = os.path.dirname(os.path.abspath(__file__))
ctl = json.load(open(os.path.join(here, "armed.json")))
real = os.path.join(ctl["root"], "bin", tool)
if tool == "ngctl" and "batch_lines" in ctl and len(args) == 2 and args[0] == "-f" and args[1] != "-":
    count = ctl.pop("batch_lines")  # this batch only: the rollback's batch runs
    json.dump(ctl, open(os.path.join(here, "armed.json"), "w"))
    lines = open(args[1]).read().splitlines(True)[:count]
    with tempfile.NamedTemporaryFile("w", suffix=".ngctl", delete=False) as fh:
        fh.writelines(lines)
    subprocess.run([real, "-f", fh.name], capture_output=True)
    os.unlink(fh.name)
    time.sleep(600)  # ran its first lines, then hangs
if tool == "ipfw" and ctl.get("ipfw_add") and args[:1] == ["add"]:
    time.sleep(600)
os.execv(real, [real] + args)
'''


class Rig:
    """One ngsim host, shims in front of its binaries, Salt's loader with small bounds."""

    def __init__(self, base: pathlib.Path):
        from saltfactories.utils.functional import Loaders

        self.base = base
        self.host = _conf.NgHost(base / "host").init(ifaces=IFACES)
        self.shim = write_shims(base / "shim", self.host.root, SHIM, SHIM_PY)
        self.opts = _conf.minion_opts_for(self.host.root, base / "salt")
        self.opts.update({
            "netflow": {"boot_dir": str(base / "boot"), "lock_file": str(base / "run" / "netflow.lock")},
            "netgraph.timeout": BOUND, "netgraph.watch_timeout": WATCH_BOUND,
            "beacons_dirs": [str(REPO / "_beacons")],
            **{f"netgraph.{tool}": str(self.shim / tool) for tool in _conf.TOOLS},
        })
        self.loaders = Loaders(self.opts)

    def fresh(self, loaded=("ng_ether",), firewall=False) -> _conf.NgHost:
        self.disarm()
        ngsim("hang", str(self.host.root), "ngctl", "--off")
        self.host.init(ifaces=IFACES, loaded=loaded)
        if firewall:  # rc.d/ipfw with firewall_enable=YES firewall_type=open
            self.host.run("kldload", "ipfw")
            self.host.run("ipfw", "-q", "add", "65000", "allow", "ip", "from", "any", "to", "any")
        self.loaders.reset_state()
        return self.host

    def arm(self, **faults) -> None:
        (self.shim / "armed.json").write_text(json.dumps({**faults, "root": str(self.host.root)}))

    def disarm(self) -> None:
        (self.shim / "armed.json").unlink(missing_ok=True)

    def hang(self, binary: str, off: bool = False) -> None:
        ngsim("hang", str(self.host.root), binary, *(["--off"] if off else []))

    def present(self, test=False, **params):
        params.setdefault("interfaces", ["em0", "em1"])
        params.setdefault("collectors", [C1])
        return self.loaders.states.netflow.exporter_present(name="lan", test=test, **params)

    def links(self) -> dict:
        return json.loads(ngsim("links", str(self.host.root)))

    def nodes(self) -> list[str]:
        return sorted(self.loaders.modules.netgraph.graph()["nodes"])

    def ipfw_list(self) -> list[str]:
        return self.host.run("ipfw", "list").stdout.splitlines()


@pytest.fixture(scope="module")
def rig(tmp_path_factory) -> Rig:
    return Rig(tmp_path_factory.mktemp("timeouts"))


def timed(fn, *args, **kwargs):
    started = time.monotonic()
    return fn(*args, **kwargs), time.monotonic() - started


def assert_lock_free_and_converges(rig: Rig, **params) -> None:
    """The netflow lock is free (a converge would wait 60 s for it otherwise, then fail),
    and the same declaration applies and is then clean."""
    ret, took = timed(rig.present, **params)
    assert ret.result is True and took < 30, (ret.comment, took)
    assert rig.present(**params).changes == {}
    assert set(rig.links().values()) == {"pass"}


@pytest.mark.parametrize("test", [False, True], ids=["apply", "test"])
def test_a_hung_ngctl_read_fails_within_the_bound_and_frees_the_lock(rig, test):
    rig.fresh()
    before = rig.nodes()
    rig.hang("ngctl")
    ret, took = timed(rig.present, test=test)
    assert ret.result is False and took < BOUND + SLACK, (ret.comment, took)
    assert "ngctl" in ret.comment and f"within {BOUND} s" in ret.comment, ret.comment
    rig.hang("ngctl", off=True)
    assert rig.nodes() == before and set(rig.links().values()) == {"pass"}
    assert_lock_free_and_converges(rig)


@pytest.mark.parametrize("lines", [1, 3, None], ids=["after-mkpeer", "after-3-lines", "after-all"])
def test_a_batch_that_hangs_is_killed_and_rolled_back(rig, lines):
    """``ngctl -f FILE`` runs its first lines (after 1: em0 has only ``lower`` attached,
    blackholed) and hangs: killed at the bound, which line it reached unknown; the
    rollback (journal) shuts down what it made, every interface passes."""
    rig.fresh()
    rig.arm(batch_lines=lines if lines is not None else 10 ** 6)
    ret, took = timed(rig.present)
    rig.disarm()
    assert ret.result is False and took < 2 * BOUND + SLACK, (ret.comment, took)
    assert "did not finish" in ret.comment and f"within {BOUND} s" in ret.comment, ret.comment
    assert "rolled back" in ret.comment and "ROLLBACK FAILED" not in ret.comment, ret.comment
    assert set(rig.links().values()) == {"pass"}, (rig.links(), ret.comment)
    assert not [n for n in rig.nodes() if n.startswith("lan_") or n.startswith("[")], rig.nodes()
    assert_lock_free_and_converges(rig)


def test_a_hung_kldload_fails_within_the_bound(rig):
    rig.fresh(loaded=())
    rig.hang("kldload")
    ret, took = timed(rig.present)
    assert ret.result is False and took < BOUND + SLACK, (ret.comment, took)
    assert "kldload" in ret.comment and f"within {BOUND} s" in ret.comment, ret.comment
    rig.hang("kldload", off=True)
    assert rig.nodes() == [] and "ng_ether" not in rig.host.run("kldstat").stdout
    assert_lock_free_and_converges(rig)


def test_a_hung_ipfw_list_fails_within_the_bound_and_changes_nothing(rig):
    rig.fresh(firewall=True)
    rules = rig.ipfw_list()
    rig.hang("ipfw")
    ret, took = timed(rig.present, interfaces={"em0": None, "tun0": TUN})
    assert ret.result is False and took < BOUND + SLACK, (ret.comment, took)
    assert "ipfw" in ret.comment and f"within {BOUND} s" in ret.comment, ret.comment
    rig.hang("ipfw", off=True)
    assert rig.ipfw_list() == rules and not [n for n in rig.nodes() if n.startswith("lan_")]
    assert_lock_free_and_converges(rig, interfaces={"em0": None, "tun0": TUN})


def test_a_hung_ipfw_add_is_killed_and_rolled_back(rig):
    """The batch succeeded, then ``ipfw add 1000 ngtee ...`` hangs: killed at the bound,
    reported with what was undone; every interface passes, rule 1000 is not half there."""
    rig.fresh(firewall=True)
    rules = rig.ipfw_list()
    rig.arm(ipfw_add=True)
    ret, took = timed(rig.present, interfaces={"em0": None, "tun0": TUN})
    rig.disarm()
    assert ret.result is False and took < 2 * BOUND + SLACK, (ret.comment, took)
    assert "ipfw add 1000" in ret.comment and f"within {BOUND} s" in ret.comment, ret.comment
    assert "rolled back" in ret.comment and "ROLLBACK FAILED" not in ret.comment, ret.comment
    assert rig.ipfw_list() == rules and set(rig.links().values()) == {"pass"}
    assert_lock_free_and_converges(rig, interfaces={"em0": None, "tun0": TUN})


def test_the_beacon_read_is_bounded_by_the_watch_timeout(rig):
    """Salt runs beacons in the minion's own loop: a hung read froze the minion. The read
    gives up after netgraph.watch_timeout (1 s, shorter than netgraph.timeout), and Salt's
    beacon machinery turns the error into an error event, no traceback."""
    import salt.beacons

    rig.fresh()
    assert rig.present().result is True
    nf = rig.loaders.modules.netflow
    assert nf.watch(state={})["events"] == []  # positive control: the read works, quiet
    rig.hang("ngctl")
    try:
        started = time.monotonic()
        with pytest.raises(CommandExecutionError, match=rf"ngctl .*within {WATCH_BOUND} s"):
            nf.watch(state={})
        assert time.monotonic() - started < BOUND, "bounded by netgraph.watch_timeout, not netgraph.timeout"
        beacons = salt.beacons.Beacon(rig.opts, rig.loaders.modules)
        events, took = timed(beacons.process, {"netflow": [{"stall_intervals": 0}]}, rig.loaders.grains)
        assert took < WATCH_BOUND + SLACK, took
        assert [e["tag"] for e in events] == ["salt/beacon/fw1/netflow/"] and "ngctl" in events[0]["error"], events
    finally:
        rig.hang("ngctl", off=True)
    assert nf.watch(state={})["events"] == []


@pytest.mark.parametrize("value", [0, -1, 3601, "5", True, float("nan"), [2]])
def test_a_bad_timeout_is_refused_before_anything_runs(rig, value):
    from saltfactories.utils.functional import Loaders

    rig.fresh()
    rig.host.clear_log()
    opts = dict(rig.opts, **{"netgraph.timeout": value})
    loaders = Loaders(opts)
    kernel = _conf.install_inprocess(loaders, rig.host.root)  # refused before any spawn: none to bound
    ret = loaders.states.netflow.exporter_present(name="lan", interfaces=["em0"], collectors=[C1])
    assert ret.result is False and "netgraph.timeout" in ret.comment, ret.comment
    assert rig.host.log() == [] and kernel.calls == [] and kernel.other == []
