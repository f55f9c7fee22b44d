"""Exporters and their collector wired through the Salt mine, through Salt's loader with a
faked ``mine.get`` (patched in the loader's ``__salt__``, as tests/support/kernel.py patches
``cmd.run_all``): an exporter whose collector names a minion (``{minion: nfcap1, ...}``) is
applied to that minion's address from the mine, and the record keeps the address; a minion
the mine does not know is refused naming the key, nothing applied. The collector with
``sources: mine`` renders one source per exporter from what ``netflow.mine`` publishes,
writes exporters.csv and akvorado's metadata, and the REAL nfcapd run with that argv files
the exporter's flows under its ident.
"""
from __future__ import annotations

import json
import shutil
import signal
import time

import pytest

from tests.functional.states.test_collector import flows, start, traffic
from tests.support import nghost
from tests.support.nfcapd import free_udp_port

HAVE_NFDUMP = all(shutil.which(t) for t in ("nfcapd", "nfdump", "nfexpire"))
ngsim = nghost.run_ngsim


class FakeMine:
    """``mine.get(tgt, fun, tgt_type)``: nfcap1's addresses, and fw1's exporters as its
    ``netflow.mine`` publishes them now (read from the loader at each call)."""

    def __init__(self, loaders):
        self.loaders, self.calls = loaders, []

    def __call__(self, tgt, fun, tgt_type="glob", **_kw):
        self.calls.append((tgt, fun, tgt_type))
        if fun == "netflow_addresses":
            known = {"nfcap1": {"ip4_interfaces": {"lo": ["127.0.0.1"], "eth0": ["192.0.2.10"]},
                                "ip6_interfaces": {"lo": ["::1"]}}}
            return {m: known[m] for m in tgt if m in known} if tgt_type == "list" else {}
        if fun == "netflow_exporters":
            return {"fw1": self.loaders.modules.netflow.mine(), "fw2": {"lan;x": {}}}
        return {}


@pytest.fixture
def rig(tmp_path):
    host = nghost.NgHost(tmp_path / "fw1").init(ifaces=("em0", "em1"))
    loaders = nghost.ng_loaders_for(host.root, tmp_path / "salt", netflow=True, inprocess=True)
    mine = FakeMine(loaders)
    outer = loaders.modules
    inner = outer.pack.get("__salt__") or outer
    for loader in {id(outer): outer, id(inner): inner}.values():
        loader["mine.get"]  # pylint: disable=pointless-statement  # loaded first, then replaced
        loader._dict["mine.get"] = mine
    return host, loaders, mine


def exporter(loaders, port: int, **collector):
    return loaders.states.netflow.exporter_present(
        name="lan", interfaces=["em0", "em1"], timeouts={"active": 1800, "inactive": 15},
        collectors=[{"minion": "nfcap1", "port": port, **collector}])


def test_a_minion_collector_is_applied_to_its_mine_address_and_recorded_as_that(rig):
    host, loaders, mine = rig
    plan = loaders.modules.netflow.plan("lan", interfaces=["em0"], collectors=[{"minion": "nfcap1", "port": 2055}])
    assert any("inet/192.0.2.10:2055" in line for line in plan["commands"]), plan["commands"]
    assert mine.calls[-1] == (["nfcap1"], "netflow_addresses", "list"), "the id as a list: matched whole"
    ret = exporter(loaders, 2055, interface="lo", source="127.0.0.2")
    assert ret.result is True, ret.comment
    (c,) = loaders.modules.netflow.status("lan")["collectors"]
    assert (c["host"], c["connected"], c["source"]) == ("127.0.0.1", True, "127.0.0.2")
    again = exporter(loaders, 2055, interface="lo", source="127.0.0.2")
    assert (again.result, again.changes) == (True, {}), "the mine read again, the same address: no change"
    # the beacon's heal converges to the record: the address, no mine needed
    calls = len(mine.calls)
    assert loaders.modules.netflow.heal("lan")["result"] is True
    assert len(mine.calls) == calls


@pytest.mark.parametrize("collector, key", [
    ({"minion": "nfcap2"}, "collectors[0].minion: 'nfcap2' has no netflow_addresses in the Salt mine"),
    ({"minion": "nfcap*"}, "collectors[0].minion: 'nfcap*' is not a minion id"),
    ({"interface": "eth9"}, "collectors[0].interface: minion 'nfcap1' has no interface 'eth9'"),
])
def test_a_minion_the_mine_cannot_place_is_refused_and_nothing_applied(rig, collector, key):
    host, loaders, _mine = rig
    ret = exporter(loaders, 2055, **collector)
    assert ret.result is False and key in ret.comment, ret.comment
    assert "lan_nf" not in loaders.modules.netgraph.graph()["nodes"], "nothing applied"
    assert exporter(loaders, 2055).result is True, "control: nfcap1 itself is applied"


@pytest.mark.skipif(not HAVE_NFDUMP, reason="nfcapd/nfdump not installed (Debian package nfdump)")
def test_sources_from_the_mine_reach_the_real_nfcapd_under_the_minions_ident(rig, tmp_path):
    host, loaders, mine = rig
    port = free_udp_port()
    assert exporter(loaders, port, interface="lo", source="127.0.0.2").result is True
    cfg = {"host": "127.0.0.1", "port": port, "storage": str(tmp_path / "flows"), "rotation": 60, "service": False,
           "unit_file": str(tmp_path / "etc" / "nfcapd.service"), "nfcapd": shutil.which("nfcapd"),
           "nfexpire": shutil.which("nfexpire"), "sources": "mine"}
    ret = loaders.states.netflow.collector_present(name="collector", config=cfg)
    assert ret.result is True, ret.comment
    assert "from the mine: 1 exporter(s); skipped fw2: exporter 'lan;x'" in ret.comment, ret.comment
    assert ("*", "netflow_exporters", "glob") in mine.calls
    argv = loaders.modules.nfcapd.argv(cfg)
    assert f"fw1_lan,127.0.0.2,{tmp_path / 'flows' / 'fw1_lan'}" in argv, argv
    csv = (tmp_path / "flows" / "exporters.csv").read_text()
    assert csv == "ident,minion,exporter,source,ifindex,ifname\nfw1_lan,fw1,lan,127.0.0.2,1,em0\n" \
                  "fw1_lan,fw1,lan,127.0.0.2,2,em1\n", csv
    assert '"127.0.0.2":' in (tmp_path / "flows" / "akvorado-metadata.yaml").read_text()
    again = loaders.states.netflow.collector_present(name="collector", config=cfg)
    assert (again.result, again.changes) == (True, {}), again.changes
    with open(tmp_path / "nfcapd.log", "w") as log:
        proc = start(argv, log)
        try:
            ngsim("tick", str(host.root), "700")  # past the v9 template interval: templates go out
            traffic(host.root, "em0", "10.0.0.7", 4, "lan_nf")
            assert json.loads(ngsim("tick", str(host.root), "20"))["expired"] == {"lan_nf": 4}
            assert loaders.states.netflow.exporter_absent(name="lan").result is True  # sends the partial datagram
            time.sleep(0.3)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
    got = flows(tmp_path / "flows" / "fw1_lan")
    assert sorted(r["sa"] for r in got) == ["10.0.0.7"] * 4, (got, (tmp_path / "nfcapd.log").read_text())
    assert "Ident: 'fw1_lan' Flows: 4" in (tmp_path / "nfcapd.log").read_text()
