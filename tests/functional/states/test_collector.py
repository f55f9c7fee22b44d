"""netflow.collector_present through Salt's loader, its paths under tmp and ``service:
false`` (no systemd here): the storage directories, the unit file and nfexpire's limits
are written as declared, a hostile pillar writes nothing; then the REAL nfcapd runs with
the exact argv the state rendered (its unit's ExecStart), two exporters of an emulated
host send it NetFlow v9 from two source addresses, and nfdump finds each exporter's flows
in its own source's directory and nowhere else.
"""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time

import pytest

from tests.support import nghost
from tests.support.nfcapd import free_udp_port, port_taken

HAVE_NFDUMP = all(shutil.which(t) for t in ("nfcapd", "nfdump", "nfexpire"))
pytestmark = pytest.mark.skipif(not HAVE_NFDUMP, reason="nfcapd/nfdump not installed (Debian package nfdump)")
ngsim = nghost.run_ngsim


@pytest.fixture
def host(tmp_path):
    """An emulated FreeBSD host with em0 and em1, the two exporters' interfaces."""
    root = tmp_path / "fw1"
    return nghost.NgHost(root).init(ifaces=("em0", "em1"))


@pytest.fixture
def loaders(host, tmp_path):
    """Salt's loader bound to ``host`` (the collector side needs no netgraph; the exporters do)."""
    return nghost.ng_loaders_for(host.root, tmp_path / "salt", netflow=True)


def collector(tmp_path, port: int = 2055, **over) -> dict:
    cfg = {"host": "127.0.0.1", "port": port, "storage": str(tmp_path / "flows"), "rotation": 60,
           "expire": {"max_life_hours": 24}, "service": False, "unit_file": str(tmp_path / "etc" / "nfcapd.service"),
           "nfcapd": shutil.which("nfcapd"), "nfexpire": shutil.which("nfexpire"),
           "sources": {"lan": {"host": "127.0.0.2"}, "wan": {"host": "127.0.0.3"}}}
    return {**cfg, **over}


def test_collector_present_writes_as_declared_and_is_idempotent(loaders, tmp_path):
    cfg = collector(tmp_path, 2055)
    ret = loaders.states.netflow.collector_present(name="collector", config=cfg)
    assert ret.result is True, ret.comment
    unit = (tmp_path / "etc" / "nfcapd.service").read_text()
    argv = loaders.modules.nfcapd.argv(cfg)
    assert f"ExecStart={' '.join(argv)}\n" in unit
    assert "-n lan,127.0.0.2," + str(tmp_path / "flows" / "lan") in " ".join(argv)
    for ident in ("lan", "wan"):
        assert (tmp_path / "flows" / ident).is_dir()
        listed = subprocess.run(["nfexpire", "-l", str(tmp_path / "flows" / ident)], capture_output=True, text=True)
        assert "Max Life:  86400 =" in listed.stdout, listed.stdout
    assert set(ret.changes) >= {str(tmp_path / "etc" / "nfcapd.service"), f"expire:{tmp_path / 'flows' / 'lan'}"}
    assert "no service (service: false)" in ret.comment

    again = loaders.states.netflow.collector_present(name="collector", config=cfg)
    assert (again.result, again.changes) == (True, {}), again.changes

    moved = loaders.states.netflow.collector_present(name="collector", config={**cfg, "port": 2056}, test=True)
    assert moved.result is None and list(moved.changes) == [str(tmp_path / "etc" / "nfcapd.service")]
    assert (tmp_path / "etc" / "nfcapd.service").read_text() == unit, "test=True writes nothing"


@pytest.mark.parametrize("change, key", [
    ({"sources": {"lan\nExecStartPre=/bin/sh": {"host": "127.0.0.2"}}}, "netflow:collector:sources:"),
    ({"sources": {"lan": {"host": "127.0.0.2", "dir": "/tmp/../etc"}}}, "netflow:collector:sources:'lan':dir"),
    ({"port": 70000}, "netflow:collector:port"),
    ({"storage": "/tmp/x/../../etc"}, "netflow:collector:storage"),
    ({"sources": {"lan": {"host": "fw1.example.com"}}}, "netflow:collector:sources:'lan':host"),
])
def test_a_hostile_collector_is_refused_naming_the_key_and_writes_nothing(loaders, tmp_path, change, key):
    ret = loaders.states.netflow.collector_present(name="collector", config=collector(tmp_path, **change))
    assert ret.result is False and key in ret.comment and "nothing changed" in ret.comment, ret.comment
    assert ret.changes == {}
    assert not (tmp_path / "etc").exists() and not (tmp_path / "flows").exists()
    # control: the same call without the hostile change writes (so "nothing written" above is not vacuous)
    assert loaders.states.netflow.collector_present(name="collector", config=collector(tmp_path, 2055)).result is True
    assert (tmp_path / "etc" / "nfcapd.service").exists()


def start(argv: list[str], log) -> subprocess.Popen:
    port = int(argv[argv.index("-p") + 1])
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 10
    while not port_taken(port):
        assert proc.poll() is None and time.time() < deadline, "nfcapd did not start"
        time.sleep(0.05)
    return proc


def flows(folder) -> list[dict]:
    rows = []
    for f in sorted(p for p in folder.glob("nfcapd.*") if ".current." not in p.name):
        out = subprocess.run(["nfdump", "-r", str(f), "-o", "csv"], capture_output=True, text=True, timeout=60)
        lines = [ln for ln in out.stdout.splitlines() if ln.strip()]
        header = next((ln for ln in lines if ln.startswith("ts,")), None)
        if header is None:
            continue
        for ln in lines[lines.index(header) + 1:]:
            if ln.startswith("Summary") or ln.startswith("flows,"):
                break
            rows.append(dict(zip(header.split(","), ln.split(","))))
    return rows


def traffic(root, iface: str, src: str, n: int, nf: str) -> None:
    r = json.loads(ngsim("traffic", str(root), iface, "--src", src, "--dst", "192.0.2.80", "--proto", "udp",
                         "--sport", "6000", "--dport", "53", "--packets", "2", "--bytes", "160", "--flows", str(n),
                         "--direction", "in"))
    assert r["pass"] and r["accounted_by"] == [nf], r


def test_real_nfcapd_with_the_rendered_argv_files_each_exporter_under_its_ident(host, loaders, tmp_path):
    port = free_udp_port()
    cfg = collector(tmp_path, port)
    assert loaders.states.netflow.collector_present(name="collector", config=cfg).result is True
    argv = loaders.modules.nfcapd.argv(cfg)
    assert f"ExecStart={' '.join(argv)}\n" in (tmp_path / "etc" / "nfcapd.service").read_text()
    for name, iface, source in (("lan", "em0", "127.0.0.2"), ("wan", "em1", "127.0.0.3")):
        ret = loaders.states.netflow.exporter_present(
            name=name, interfaces=[iface], collectors=[{"host": "127.0.0.1", "port": port, "source": source}],
            timeouts={"active": 1800, "inactive": 15})
        assert ret.result is True, ret.comment
    with open(tmp_path / "nfcapd.log", "w") as log:
        proc = start(argv, log)
        try:
            ngsim("tick", str(host.root), "700")  # past the v9 template interval: templates go out
            traffic(host.root, "em0", "10.0.0.7", 5, "lan_nf")
            traffic(host.root, "em1", "10.9.0.9", 3, "wan_nf")
            ticked = json.loads(ngsim("tick", str(host.root), "20"))
            assert ticked["expired"] == {"lan_nf": 5, "wan_nf": 3}, ticked
            for name in ("lan", "wan"):  # the netflow node's close sends its partial v9 datagram
                assert loaders.states.netflow.exporter_absent(name=name).result is True
            time.sleep(0.3)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
    lan, wan = flows(tmp_path / "flows" / "lan"), flows(tmp_path / "flows" / "wan")
    assert sorted(r["sa"] for r in lan) == ["10.0.0.7"] * 5, (lan, (tmp_path / "nfcapd.log").read_text())
    assert sorted(r["sa"] for r in wan) == ["10.9.0.9"] * 3, wan
    text = (tmp_path / "nfcapd.log").read_text()
    assert "Ident: 'lan' Flows: 5" in text and "Ident: 'wan' Flows: 3" in text, text
