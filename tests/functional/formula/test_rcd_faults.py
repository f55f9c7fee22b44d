"""Fault matrix of the boot replay: the real rc.d script (under the stand-in rc.subr of
tests/support/rcd.py) replaying nf_boot files on emulated FreeBSD hosts (ngsim).

Two boot files of exporter `lan`, both with three interfaces and two v9 collectors
(ng_one2many fan-out): LAN (em0, em1, vlan0.100, all through ng_ether) and LAN_IPFW (em0,
vlan0.100 through ng_ether, tun0 through an ipfw ngtee rule). For each:

* `ngsim fail --at N` for every mutating line N of the replay (and, for LAN_IPFW, a failing
  `ipfw add`): `service netflow start` fails, every interface passes (`ngsim links`), no
  node of type netflow/ksocket/one2many and no ngtee rule remains;
* the file cut at every line boundary and inside addresses: start refuses it before any
  line runs (zero mutating calls), every interface passes, nothing of ours exists;
* a replay killed after each line (its first N lines run by hand, as a SIGKILLed ngctl
  leaves them): `stop` removes all of it, unnamed netflow nodes included;

and after each case `stop` then `start` with the intact file builds the exporter.
"""
from __future__ import annotations

import pathlib
import subprocess

import pytest

from netgraph_core import nf_boot

from tests.support import rcd

SCENARIOS = {"lan": rcd.LAN, "lan_ipfw": rcd.LAN_IPFW}
IFACES = ("em0", "em1", "vlan0.100", "tun0")
OURS = {"lan_nf": "netflow", "lan_v9": "one2many", "lan_v9_0": "ksocket", "lan_v9_1": "ksocket"}


def _host(base: pathlib.Path, scenario: str):
    host = rcd.RcHost(base, ifaces=IFACES, firewall=True)
    host.write("lan", SCENARIOS[scenario])
    return host


def _clean(host) -> None:
    """Every interface passes; nothing of an exporter is left."""
    assert rcd.all_pass(host), host.links()
    assert host.ours() == []
    assert not [r for r in host.ipfw_rules() if "ngtee" in r]


def _stop_then_start_works(host, scenario: str) -> None:
    (host.boot_dir / "lan.ngctl").write_text(nf_boot.render("lan", SCENARIOS[scenario]))
    proc = host.rc("stop")
    assert proc.returncode == 0, proc.stderr
    _clean(host)
    proc = host.rc("start")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {n: t for n, t in host.named().items() if n in OURS} == OURS
    assert rcd.all_pass(host)
    if SCENARIOS[scenario]["ipfw"]:
        assert any(r.startswith("01000 ngtee 1000") for r in host.ipfw_rules())


def _mutating_lines(scenario: str) -> int:
    return len(SCENARIOS[scenario]["ngctl"])  # every ngctl line of a build is mutating


FAIL_CASES = [(s, n) for s in SCENARIOS for n in range(1, _mutating_lines(s) + 1)]


@pytest.mark.parametrize("scenario, at", FAIL_CASES, ids=[f"{s}-line{n}" for s, n in FAIL_CASES])
def test_replay_failing_at_every_mutating_line(tmp_path, scenario, at):
    host = _host(tmp_path, scenario)
    host.fail_at(at)
    proc = host.rc("start")
    assert proc.returncode != 0
    assert "ngctl -f" in proc.stderr and "failed; removing what it created" in proc.stderr
    _clean(host)
    _stop_then_start_works(host, scenario)


def test_failing_ipfw_add_after_the_replay(tmp_path):
    host = _host(tmp_path, "lan_ipfw")
    real = host.root / "bin" / "ipfw"
    wrapper = tmp_path / "ipfw"
    wrapper.write_text(f'#!/bin/sh\n[ "$2" = add ] && exit 71\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    host.configure(netflow_ipfw=str(wrapper))
    proc = host.rc("start")
    assert proc.returncode != 0 and "ipfw add 1000 ngtee 1000" in proc.stderr
    _clean(host)
    host.configure()
    _stop_then_start_works(host, "lan_ipfw")


def _cuts(text: str) -> list[tuple[str, int]]:
    """Every line boundary before the end, and cuts inside addresses and the checksum."""
    out = [("line", 0)]
    pos = 0
    for line in text.splitlines(keepends=True)[:-1]:
        pos += len(line)
        out.append(("line", pos))
    for needle in ("inet/192.0.2.10:2055", "inet/192.0.2.11:2055"):
        at = text.index(needle)
        out += [("addr", at + 7), ("addr", at + len(needle) - 2)]
    out.append(("marker", len(text) - 20))
    out.append(("marker", len(text) - 1))  # all but the final newline
    return out


CUT_CASES = [(s, kind, at) for s in SCENARIOS for kind, at in _cuts(nf_boot.render("lan", SCENARIOS[s]))]


@pytest.mark.parametrize("scenario, kind, at", CUT_CASES, ids=[f"{s}-{k}{a}" for s, k, a in CUT_CASES])
def test_cut_file_is_refused_before_any_line_runs(tmp_path, scenario, kind, at):
    host = _host(tmp_path, scenario)
    intact = nf_boot.render("lan", SCENARIOS[scenario])
    (host.boot_dir / "lan.ngctl").write_text(intact[:at])
    host.clear_log()
    proc = host.rc("start")
    assert proc.returncode != 0
    assert "exporter lan not started" in proc.stderr and "is refused" in proc.stderr
    assert host.mutating() == []
    _clean(host)
    _stop_then_start_works(host, scenario)


KILL_CASES = [(s, n) for s in SCENARIOS for n in range(1, _mutating_lines(s) + 1)]


@pytest.mark.parametrize("scenario, lines", KILL_CASES, ids=[f"{s}-after{n}" for s, n in KILL_CASES])
def test_stop_after_a_replay_killed_after_every_line(tmp_path, scenario, lines):
    host = _host(tmp_path, scenario)
    script = SCENARIOS[scenario]
    host.run_bin("kldload", "-n", *script["modules"])
    batch = "".join(line + "\n" for line in script["ngctl"][:lines])
    proc = subprocess.run([str(host.root / "bin" / "ngctl"), "-f", "-"], input=batch, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    _stop_then_start_works(host, scenario)


def test_case_counts():
    """The matrix: 38 failing lines + 1 failing ipfw add, 73 cuts (61 line boundaries, 8 inside
    addresses, 4 in the marker), 38 killed replays: 150 cases."""
    assert len(FAIL_CASES) == 38 and len(CUT_CASES) == 73 and len(KILL_CASES) == 38
