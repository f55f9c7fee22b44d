"""Issue 19 class 1: a typo in pillar never tears a running exporter down.

Two exporters (lan on em0, uplink on em1, both persisted) run on an emulated FreeBSD host
(ngsim), applied by the formula through `salt-call --local`. Then the pillar gets one
typo: a misspelt parameter key (`colectors`), a wrong type (`persist: "yes"`, the
parameters of `lan` written as a list), a misspelt top-level key (`netflow:exporter`).
Each case, for real and with test=True, must fail the run naming the key, and leave the
host exactly as it was: the graph, the ipfw rules, zero mutating ngsim calls, every boot
file and rc.conf.d byte for byte (and not rewritten); the other exporter is untouched too.

The matrix runs `state.apply` in this process (tests/support/localminion.py: the same
minion config and pillar files, Salt's own state engine, the in-process kernel adapter);
one typo, the positive control and the missing execution module run through `salt-call`.
"""
from __future__ import annotations

import copy
import json
import pathlib
import subprocess
import sys

import pytest
import yaml

from ngsim.testing import load_file

from tests.support.localminion import LocalMinion
from tests.support.nghost import run_ngsim, run_tool

REPO = pathlib.Path(__file__).resolve().parents[3]
demo = load_file(REPO / "demo" / "run.py", "netflow_demo_run_typo")

PILLAR = {"netflow": {"persist": True, "exporters": {
    "lan": {"interfaces": ["em0"], "collectors": [{"host": "192.0.2.10", "port": 2055}]},
    "uplink": {"interfaces": {"em1": {}}, "collectors": [{"host": "198.51.100.5", "port": 9996, "version": 5}]},
}}}


def _typo(case: str) -> tuple[dict, str]:
    """The pillar with the case's typo, and the text the failing comment must hold."""
    pillar = copy.deepcopy(PILLAR)
    exporters = pillar["netflow"]["exporters"]
    if case == "colectors":
        exporters["lan"]["colectors"] = exporters["lan"].pop("collectors")
        return pillar, '"colectors"'
    if case == "persist-yes":
        exporters["lan"]["persist"] = "yes"
        return pillar, 'netflow:exporters:"lan":persist'
    if case == "params-a-list":  # "- interfaces: [em0]": a list where a mapping goes
        exporters["lan"] = [{"interfaces": ["em0"]}, {"collectors": exporters["lan"]["collectors"]}]
        return pillar, 'netflow:exporters:"lan": its parameters must be a mapping'
    if case == "top-level-exporter":
        pillar["netflow"]["exporter"] = pillar["netflow"].pop("exporters")
        return pillar, 'netflow: unknown key "exporter"'
    raise AssertionError(case)


CASES = ["colectors", "persist-yes", "params-a-list", "top-level-exporter"]


class Host:
    def __init__(self, base: pathlib.Path):
        self.host = demo.make_host(base / "host", ifaces=("em0", "em1"))
        self.salt = base / "salt"
        self.etc = self.salt / "etc"
        self.confdir = demo.write_minion_config(self.salt, self.host, PILLAR)
        self.pillar_file = self.salt / "pillar" / "netflow.sls"

    def set_pillar(self, pillar: dict) -> None:
        self.pillar_file.write_text("#!yaml\n" + yaml.safe_dump(pillar, default_flow_style=False))

    def apply(self, *args: str) -> tuple[int, object, str]:
        proc = demo.salt_call(self.confdir, "state.apply", "netflow", *args, "--out=json", capture=True)
        try:
            out = json.loads(proc.stdout)["local"]
        except (ValueError, KeyError):
            out = None
        return proc.returncode, out, proc.stdout + proc.stderr

    def ngsim(self, *args: str) -> str:
        return subprocess.run([sys.executable, "-m", "ngsim", *args], cwd=REPO, check=True, capture_output=True,
                              text=True).stdout

    def mutating(self, clear: bool = True) -> list[dict]:
        lines = self.ngsim("log", str(self.host), *(["--clear"] if clear else [])).splitlines()
        return [e for e in map(json.loads, filter(str.strip, lines)) if e["mutating"]]

    def names(self) -> set:
        out = subprocess.run([str(self.host / "bin" / "ngctl"), "list"], capture_output=True, text=True).stdout
        return {line.split()[1] for line in out.splitlines() if line.split()[:1] == ["Name:"]}

    def snapshot(self) -> dict:
        """Everything the formula may touch: the emulated kernel (every node with its
        hooks and settings, the modules, the ipfw rules; not the ID counters, which a read
        advances), the interfaces' pass/blackhole, and every file under etc with its bytes,
        inode and change time (a rewrite with the same bytes shows)."""
        state = json.loads(self.ngsim("state", str(self.host)))
        files = {str(p.relative_to(self.etc)): (p.read_bytes(), p.stat().st_ctime_ns, p.stat().st_ino)
                 for p in sorted(self.etc.rglob("*")) if p.is_file()}
        return {"kernel": {k: state[k] for k in ("nodes", "klds", "ipfw_rules", "ifaces")},
                "links": json.loads(self.ngsim("links", str(self.host))), "files": files}


class InProcessHost(Host):
    """The same minion, ``state.apply`` in this process."""

    def __init__(self, base: pathlib.Path):
        self.minion = LocalMinion(base, ifaces=("em0", "em1"))
        self.host, self.etc = self.minion.root, self.minion.etc
        self.set_pillar(PILLAR)

    def set_pillar(self, pillar: dict) -> None:
        self.minion.apply_pillar(pillar)

    def apply(self, *args: str) -> tuple[int, object, str]:
        rc, out = self.minion.state_apply("netflow", test="test=True" in args)
        assert self.minion.adapter.other == [], self.minion.adapter.other  # only emulated binaries spawned
        return rc, (out if isinstance(out, dict) else None), repr(out)

    def ngsim(self, *args: str) -> str:
        return run_ngsim(*args)

    def names(self) -> set:
        out = run_tool(self.host, "ngctl", "list").stdout
        return {line.split()[1] for line in out.splitlines() if line.split()[:1] == ["Name:"]}


def _running(host: Host) -> Host:
    rc, out, text = host.apply()
    assert rc == 0 and all(r["result"] is True for r in out.values()), text
    # positive control: the log sees what the formula runs, and the boot files are there
    assert host.mutating(), "the first apply ran nothing mutating: the log cannot show a change"
    assert sorted(p.name for p in (host.etc / "netflow").iterdir()) == ["lan.ngctl", "uplink.ngctl"]
    assert {"lan_nf", "uplink_nf", "lan_v9", "uplink_v5"} <= host.names()
    return host


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> Host:
    return _running(Host(tmp_path_factory.mktemp("typo")))


@pytest.fixture(scope="module")
def running_sim(tmp_path_factory) -> Host:
    return _running(InProcessHost(tmp_path_factory.mktemp("typo-sim")))


@pytest.mark.parametrize("mode", [(), ("test=True",)], ids=["real", "test"])
@pytest.mark.parametrize("case", CASES)
def test_a_typo_fails_the_run_and_changes_nothing(running_sim, case, mode):
    _typo_changes_nothing(running_sim, case, mode)


def test_a_typo_through_salt_call_changes_nothing(running):
    """The first case through the real `salt-call --local` (pillar files read from disk,
    the exit status)."""
    _typo_changes_nothing(running, CASES[0], ())


def _typo_changes_nothing(running: Host, case: str, mode: tuple) -> None:
    running.set_pillar(PILLAR)
    rc, _, text = running.apply()  # each case starts from both exporters running
    assert rc == 0, text
    running.mutating()
    before = running.snapshot()
    assert {"lan_nf", "uplink_nf"} <= running.names()
    pillar, named = _typo(case)
    running.set_pillar(pillar)
    try:
        rc, out, text = running.apply(*mode)
        assert rc != 0, text
        assert isinstance(out, dict), text
        failed = [r for r in out.values() if r["result"] is False]
        assert failed and any(named in r["comment"] for r in failed), (named, [r["comment"] for r in out.values()])
        assert running.mutating() == []
        assert running.snapshot() == before
        assert all(r["result"] is False and r["changes"] == {} for r in out.values()), \
            "a refused pillar renders only failing states"
    finally:
        running.set_pillar(PILLAR)


def test_a_dropped_exporter_is_still_removed(running):
    """Positive control: removal still happens when an exporter really is no longer declared."""
    pillar = copy.deepcopy(PILLAR)
    del pillar["netflow"]["exporters"]["uplink"]
    running.set_pillar(pillar)
    try:
        rc, out, text = running.apply()
        assert rc == 0, text
        host = next(r for r in out.values() if r["__id__"] == "netflow-exporter-netflow-exporters_present")
        assert set(host["changes"]) == {"uplink"} and host["changes"]["uplink"]["exporter"] == "removed"
        assert not (running.etc / "netflow" / "uplink.ngctl").exists()
    finally:
        running.set_pillar(PILLAR)
    rc, out, text = running.apply()
    assert rc == 0, text


@pytest.mark.parametrize("mode", [(), ("test=True",)], ids=["real", "test"])
def test_without_the_execution_module_the_run_fails_saying_so(tmp_path, mode):
    """netflow.refused needs nothing: with no netflow execution module (no ngctl) the
    formula still fails with its own comment, in test mode too, instead of a render error."""
    host = Host(tmp_path)
    conf = yaml.safe_load((host.confdir / "minion").read_text())
    conf["netgraph.ngctl"] = str(tmp_path / "no-such-ngctl")
    (host.confdir / "minion").write_text(yaml.safe_dump(conf))
    rc, out, text = host.apply(*mode)
    assert rc != 0 and isinstance(out, dict), text
    assert all(r["result"] is False and r["changes"] == {} for r in out.values()), out
    assert any("netflow execution module is not loaded" in r["comment"] for r in out.values()), out
    assert not host.etc.exists() or not any(p.is_file() for p in host.etc.rglob("*"))
