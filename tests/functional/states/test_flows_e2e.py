"""Flows end to end: an exporter applied through Salt's loader on an emulated host sends
real NetFlow v9 and v5 datagrams (UDP on 127.0.0.1) to two real nfcapd collectors, and
nfdump reads back every flow.

Needs nfcapd/nfdump (Debian package ``nfdump``; .ci/run installs it). Nothing here leaves
the loopback interface: ngsim's ksocket only sends real datagrams to 127.0.0.0/8.
"""
from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys
import time

import pytest

from tests.support.nfcapd import Nfcapd, free_udp_port

REPO = pathlib.Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.skipif(
    not (shutil.which("nfcapd") and shutil.which("nfdump")),
    reason="nfcapd/nfdump not installed (Debian package nfdump; .ci/run installs it)",
)


def ngsim(*args: str) -> str:
    p = subprocess.run([sys.executable, "-m", "ngsim", *args], cwd=REPO, capture_output=True, text=True)
    assert p.returncode == 0, f"ngsim {args}: {p.stderr}"
    return p.stdout


@pytest.fixture
def collectors(tmp_path):
    v9 = Nfcapd(tmp_path / "v9", free_udp_port())
    try:
        v5 = Nfcapd(tmp_path / "v5", free_udp_port())
    except Exception:
        v9.stop()
        raise
    yield v9, v5
    v9.stop()
    v5.stop()


@pytest.fixture
def host_and_loaders(tmp_path):
    import salt.config
    from saltfactories.utils.functional import Loaders

    root = tmp_path / "fw1"
    ngsim("init", str(root), "--iface", "em0", "--iface", "em1", "--loaded", "ng_ether")
    base = tmp_path / "salt"
    opts = salt.config.minion_config(None)
    bindir = root / "bin"
    opts.update({
        "id": "fw1", "file_client": "local", "root_dir": str(base),
        "cachedir": str(base / "cache"), "pki_dir": str(base / "pki"), "sock_dir": str(base / "sock"),
        "module_dirs": [str(REPO / "_modules")], "utils_dirs": [str(REPO / "_utils")], "states_dirs": [str(REPO / "_states")],
        "netgraph.ngctl": str(bindir / "ngctl"), "netgraph.kldload": str(bindir / "kldload"),
        "netgraph.kldstat": str(bindir / "kldstat"), "netgraph.ipfw": str(bindir / "ipfw"),
        "netflow": {"boot_dir": str(base / "boot")}, "grains_cache": False,
    })
    return root, Loaders(opts)


# 45 flows: the first v9 datagram (with templates) holds 21 records, the next 24 (MTU
# 1500), so 45 fill two v9 datagrams exactly; v5 sends 30 and keeps 15 in its partial
# datagram until the netflow node shuts down (ng_netflow_cache_flush).
FLOWS = [
    # iface, src, dst, proto, sport, dport, packets, bytes, flows
    ("em0", "198.51.100.7", "10.0.0.10", "tcp", 40000, 443, 4, 2400, 20),
    ("em0", "203.0.113.5", "10.0.0.11", "udp", 5353, 53, 2, 180, 15),
    ("em1", "10.1.0.20", "192.0.2.80", "udp", 6000, 123, 3, 228, 9),
    ("em1", "10.1.0.21", "192.0.2.81", "icmp", 0, 0, 1, 84, 1),
]


def expected_flows() -> set[tuple]:
    out = set()
    for iface, src, dst, proto, sport, dport, packets, nbytes, n in FLOWS:
        for i in range(n):
            sp = sport + i if proto != "icmp" else 0
            dp = dport if proto != "icmp" else 0
            out.add((src, dst, sp, dp, proto.upper(), packets, nbytes, {"em0": 1, "em1": 2}[iface]))
    return out


def got_flows(rows: list[dict]) -> set[tuple]:
    return {(r["sa"], r["da"], int(r["sp"]), int(float(r["dp"])), r["pr"], int(r["ipkt"]),
             int(r["ibyt"]), int(r["in"])) for r in rows}


def test_exporter_sends_every_flow_to_real_v9_and_v5_collectors(collectors, host_and_loaders):
    v9, v5 = collectors
    root, loaders = host_and_loaders
    ret = loaders.states.netflow.exporter_present(
        name="lan", interfaces=["em0", "em1"],
        collectors=[{"host": "127.0.0.1", "port": v9.port, "version": 9},
                    {"host": "127.0.0.1", "port": v5.port, "version": 5}],
        timeouts={"active": 1800, "inactive": 15})
    assert ret.result is True, ret.comment
    assert json.loads(ngsim("links", str(root))) == {"em0": "pass", "em1": "pass"}

    # The router has been up for a while: on a fresh boot (uptime < templ_time) ng_netflow
    # sends no v9 templates yet and a collector cannot decode the data flowsets.
    ngsim("tick", str(root), "700")
    for iface, src, dst, proto, sport, dport, packets, nbytes, n in FLOWS:
        r = json.loads(ngsim("traffic", str(root), iface, "--src", src, "--dst", dst, "--proto", proto,
                             "--sport", str(sport), "--dport", str(dport), "--packets", str(packets),
                             "--bytes", str(nbytes), "--flows", str(n), "--direction", "in",
                             "--tcp-flags", "0x18"))
        assert r["pass"] and r["accounted_by"] == ["lan_nf"], r

    t = json.loads(ngsim("tick", str(root), "14"))
    assert t["datagrams"] == [] and t["pending"]["lan_nf"]["flows"] == 45
    t = json.loads(ngsim("tick", str(root), "2"))  # uptime 717: 717 - 701 > 15
    assert t["expired"] == {"lan_nf": 45}
    sent = [(d["version"], d["records"], d.get("templates"), [s.get("real") for s in d["sent"]])
            for d in t["datagrams"]]
    assert sorted(sent) == [(5, 30, None, [True]), (9, 21, True, [True]), (9, 24, False, [True])]
    assert t["pending"]["lan_nf"] == {"flows": 0, "v5 records": 15, "v9 records": 0}
    info = subprocess.run([str(root / "bin" / "ngctl"), "msg", "lan_nf:", "info"],
                          capture_output=True, text=True).stdout
    total_packets = sum(f[6] * f[8] for f in FLOWS)
    total_bytes = sum(f[7] * f[8] for f in FLOWS)
    assert f"IPv4 bytes={total_bytes} IPv4 packets={total_packets} " in info
    assert "Inactive expiries=45" in info

    # Removing the exporter shuts the netflow node down; its close method sends the
    # partial v5 datagram before the hooks go.
    ret = loaders.states.netflow.exporter_absent(name="lan")
    assert ret.result is True, ret.comment
    time.sleep(0.3)
    v9.stop()
    v5.stop()

    want = expected_flows()
    got9 = got_flows(v9.flows())
    got5 = got_flows(v5.flows())
    assert got9 == want, f"v9 missing {sorted(want - got9)[:5]} extra {sorted(got9 - want)[:5]}"
    assert got5 == want, f"v5 missing {sorted(want - got5)[:5]} extra {sorted(got5 - want)[:5]}"
    v9_log = (v9.dir.parent / f"nfcapd-{v9.port}.log").read_text()
    assert "Sequence Errors: 0" in v9_log or "Sequence Errors" not in v9_log
