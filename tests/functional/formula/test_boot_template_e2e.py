"""Decodable from the first flow after boot (issue 23, item 4): after an emulated reboot
(ngsim's uptime starts again at 1) the REAL rc.d script replays the boot file the formula
wrote, traffic goes through em0, the flows expire at the first inactive timeout, and the
REAL nfcapd decodes every one of them: the boot file makes the netflow node with
``settemplate { time=1 ... }``, so its first v9 datagram carries the templates
(netflow_v9.c, get_export9_dgram: ``time_uptime >= templ_time + templ_last_ts``). The
positive control replays a boot file of the older form (no settemplate line: ng_netflow's
default time=600) in the same window: datagrams go out, nfcapd decodes none of them.
Then the steady state: the next apply restores the declared template, once; the apply
after it changes nothing; the boot file still matches the recorded declaration.

Needs nfcapd/nfdump (Debian package ``nfdump``). Datagrams stay on 127.0.0.1.
"""
from __future__ import annotations

import json
import shutil
import time

import pytest

from netgraph_core import nf_boot
from tests.support.nfcapd import Nfcapd, free_udp_port
from tests.support.simhost import SimHost, ngsim

pytestmark = pytest.mark.skipif(
    not (shutil.which("nfcapd") and shutil.which("nfdump")),
    reason="nfcapd/nfdump not installed (Debian package nfdump)",
)

HOST_STATE = "netflow-exporter-netflow-exporters_present"
BOOT_LINE = "msg lan_nf: settemplate { time=1 packets=500 }"
FLOWS = 45  # 21 records fill the first datagram (with templates), 24 the next (MTU 1500)


def ngsim_json(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert ngsim(*args) == 0
    return json.loads(capsys.readouterr().out)


def changed(result: dict) -> dict:
    return {k: v["changes"] for k, v in result.items() if v.get("changes")}


@pytest.fixture
def booted(tmp_path):
    """(host, nfcapd, boot file): the formula applied for exporter lan (em0, one v9
    collector: a real nfcapd), then a reboot with the firewall up (rc.d/ipfw); the rc.d
    script not run yet."""
    collector = Nfcapd(tmp_path / "v9", free_udp_port())
    h = SimHost(tmp_path / "fw1", ifaces=("em0", "em1"))
    h.set_pillar({"netflow": {"exporters": {"lan": {
        "interfaces": ["em0"], "collectors": [{"host": "127.0.0.1", "port": collector.port}]}}}})
    try:
        result = h.state_run("netflow")
        assert all(r["result"] is True for r in result.values()), result
        ngsim("reboot", h.root)
        h.firewall_up()
        yield h, collector, h.boot_dir / "lan.ngctl"
    finally:
        collector.stop()


def boot_and_expire(h: SimHost, capsys) -> list[tuple]:
    """rc.d/netflow start (the real script under sh), FLOWS flows on em0 at uptime 1, the
    clock to the first inactive expiry: the datagrams sent, (records, templates)."""
    proc = h.rc("start")
    assert proc.returncode == 0 and "Started netflow exporter lan." in proc.stdout, proc.stderr
    assert set(h.links().values()) == {"pass"}
    r = ngsim_json(capsys, "traffic", h.root, "em0", "--src", "198.51.100.7", "--dst", "10.0.0.10",
                   "--proto", "udp", "--sport", "40000", "--dport", "53", "--packets", "2", "--bytes", "180",
                   "--flows", str(FLOWS), "--direction", "in")
    assert r["pass"] and r["accounted_by"] == ["lan_nf"] and r["uptime"] < 600, r
    t = ngsim_json(capsys, "tick", h.root, "14")
    assert t["datagrams"] == [], "nothing expires before the inactive timeout (15 s)"
    t = ngsim_json(capsys, "tick", h.root, "2")  # 17 - 1 > 15: the first inactive expiry
    assert t["expired"] == {"lan_nf": FLOWS} and t["uptime"] < 600
    return [(d["records"], d.get("templates")) for d in t["datagrams"] if d["version"] == 9]


def decoded(collector: Nfcapd) -> tuple[set, str]:
    """(the flows nfdump reads back, nfcapd's log) once nfcapd has stopped."""
    time.sleep(0.3)
    collector.stop()
    rows = collector.flows()
    log = (collector.dir.parent / f"nfcapd-{collector.port}.log").read_text()
    # nfdump says "No matching flows" as one CSV row of an empty file
    return {(r["sa"], r["da"], int(r["sp"])) for r in rows if r.get("sa")}, log


def test_boot_file_form_is_the_one_the_apply_wrote(booted):
    h, _collector, path = booted
    text = path.read_text()
    assert BOOT_LINE in nf_boot.verify(text)["ngctl"]
    assert h.loaders.modules.netflow.list()["lan"]["boot_file"] == "matches"


def test_flows_of_the_first_expiry_after_boot_are_decoded_then_the_apply_restores_once(booted, capsys):
    h, collector, _path = booted
    sent = boot_and_expire(h, capsys)
    assert sent == [(21, True), (24, False)], "the first datagram after boot carries the templates"
    want = {("198.51.100.7", "10.0.0.10", 40000 + i) for i in range(FLOWS)}
    flows, log = decoded(collector)
    assert flows == want and f"Flows: {FLOWS}," in log

    # (3) the steady state: the next apply restores the declared template, once ...
    status = h.loaders.modules.netflow.status("lan")
    assert status["settings"]["template"] == {"time": 1, "packets": 500}
    assert status["health"] == "degraded"  # a flow expired: the restore is due
    result = h.state_run("netflow")
    assert changed(result) == {HOST_STATE: {"lan": {"exporter": "updated", "settings": {"template.time": "1 → 600"},
                                                    "ngctl": ["msg lan_nf: settemplate { time=600 packets=500 }"]}}}
    status = h.loaders.modules.netflow.status("lan")
    assert status["settings"]["template"] == {"time": 600, "packets": 500}
    assert (status["health"], status["reasons"]) == ("ok", [])
    # ... and the apply after it changes nothing, runs no mutating command
    before = len([e for e in h.log() if e.get("mutating")])
    result = h.state_run("netflow")
    assert changed(result) == {} and all(r["result"] is True for r in result.values())
    assert len([e for e in h.log() if e.get("mutating")]) == before
    listed = h.loaders.modules.netflow.list()["lan"]
    assert (listed["in_sync"], listed["drift"], listed["boot_file"]) == (True, [], "matches")
    assert set(h.links().values()) == {"pass"}


def test_before_the_first_expiry_an_apply_changes_nothing(booted):
    h, _collector, _path = booted
    proc = h.rc("start")
    assert proc.returncode == 0, proc.stderr
    result = h.state_run("netflow")
    assert changed(result) == {} and all(r["result"] is True for r in result.values())
    status = h.loaders.modules.netflow.status("lan")
    assert status["settings"]["template"] == {"time": 1, "packets": 500}
    assert (status["health"], status["reasons"]) == ("ok", [])


def test_control_a_boot_file_of_the_older_form_sends_nothing_decodable_in_that_window(booted, capsys):
    h, collector, path = booted
    script = nf_boot.verify(path.read_text())
    old = {k: script[k] for k in ("modules", "ipfw", "attach")}
    old["ngctl"] = [line for line in script["ngctl"] if line != BOOT_LINE]
    assert len(old["ngctl"]) == len(script["ngctl"]) - 1
    path.write_text(nf_boot.render("lan", old))
    sent = boot_and_expire(h, capsys)
    assert sent == [(24, False)], "datagrams do go out, without templates (uptime < 600)"
    flows, log = decoded(collector)
    assert "New v9 exporter" in log, "the datagram reached nfcapd"
    assert flows == set() and "Flows: 0," in log, "nfcapd cannot decode v9 data without its template"
