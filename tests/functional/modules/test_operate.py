"""Operating exporters through Salt's own loader on an emulated host (ngsim): netflow.list,
netflow.status in the pillar's terms with zero-filled counters after known traffic,
netflow.flows, netflow.metrics, netflow.watch, and the beacon through Salt's beacon
machinery (salt.beacons.Beacon: validate, interval handling, tags): quiet on a converged
host, firing with the exporter and the interface after an interface is destroyed and
re-created, quiet again after the heal, one ngctl spawn per interval."""
from __future__ import annotations

import json
import os
import pathlib

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from ngsim.testing import load_file

REPO = pathlib.Path(__file__).resolve().parents[3]
from tests.support import nghost as _conf  # noqa: E402 - after REPO, as before
ngsim = _conf.run_ngsim
C1 = {"host": "127.0.0.1", "port": 2055}
BEACON = {"netflow": [{"stall_intervals": 0}, {"disable_during_state_run": True}]}
COUNTER_KEYS = {"ipv4_bytes", "ipv4_packets", "ipv6_bytes", "ipv6_packets", "ipv4_skipped_bytes",
                "ipv4_skipped_packets", "ipv6_skipped_bytes", "ipv6_skipped_packets", "active_expiries",
                "inactive_expiries", "ipv4_records_used", "ipv6_records_used", "failed_allocations",
                "v5_failed_exports", "v9_failed_exports", "mbuf_reallocations", "fibs_allocated",
                "inactive_timeout", "active_timeout"}


class Rig:
    def __init__(self, root: pathlib.Path, base: pathlib.Path):
        from saltfactories.utils.functional import Loaders

        self.host = _conf.NgHost(root).init()
        self.opts = _conf.minion_opts_for(root, base)
        self.opts.update({"netflow": {"boot_dir": str(base / "boot"), "lock_file": str(base / "netflow.lock")},
                          "netgraph.flowctl": str(root / "bin" / "flowctl"),
                          "beacons_dirs": [str(REPO / "_beacons")]})
        self.loaders = Loaders(self.opts)
        self.nf = self.loaders.modules.netflow
        self.declared = base / "cache" / "netflow"

    def fresh(self) -> "Rig":
        self.host.init()
        for path in (self.declared.glob("*.json") if self.declared.is_dir() else []):
            path.unlink()
        self.loaders.reset_state()
        self.nf = self.loaders.modules.netflow
        return self

    def present(self, **params):
        params.setdefault("interfaces", ["em0", "em1"])
        params.setdefault("collectors", [C1])
        ret = self.loaders.states.netflow.exporter_present(name="lan", **params)
        assert ret.result is not False, ret.comment
        return ret

    def traffic(self, iface: str, packets: int, src="10.0.0.1") -> dict:
        return json.loads(ngsim("traffic", str(self.host.root), iface, "--src", src, "--dst", "192.0.2.7",
                                "--proto", "tcp", "--sport", "40000", "--dport", "443", "--packets", str(packets),
                                "--bytes", str(100 * packets), "--direction", "in"))

    def beacons(self):
        import salt.beacons

        return salt.beacons.Beacon(self.opts, self.loaders.modules)


@pytest.fixture(scope="module")
def rig_module(tmp_path_factory):
    return Rig(tmp_path_factory.mktemp("op") / "host", tmp_path_factory.mktemp("opsalt"))


@pytest.fixture
def rig(rig_module):
    return rig_module.fresh()


def test_declaration_is_recorded_after_present_and_removed_after_absent(rig):
    assert not (rig.declared / "lan.json").exists()
    rig.present(test=True)
    assert not (rig.declared / "lan.json").exists(), "test=True records nothing"
    rig.present()
    record = json.loads((rig.declared / "lan.json").read_text())
    assert record["name"] == "lan" and record["params"]["interfaces"] == ["em0", "em1"]
    assert oct((rig.declared / "lan.json").stat().st_mode & 0o777) == "0o600"
    mtime = (rig.declared / "lan.json").stat().st_mtime_ns
    rig.present()
    assert (rig.declared / "lan.json").stat().st_mtime_ns == mtime, "a no-change apply does not rewrite it"
    assert rig.loaders.states.netflow.exporter_absent(name="lan").result is True
    assert not (rig.declared / "lan.json").exists()


def test_list_shape(rig):
    assert rig.nf.list() == {}
    rig.present(persist=True)
    assert rig.nf.list() == {"lan": {
        "present": True, "declared": True, "health": "ok", "reasons": [], "interfaces": ["em0", "em1"],
        "collectors": ["127.0.0.1:2055 v9"], "in_sync": True, "drift": [], "boot_file": "matches"}}
    rig.host.ngctl("rmhook", "em1:", "upper")
    entry = rig.nf.list()["lan"]
    assert entry["in_sync"] is False and entry["drift"] == ["hook_cut em1"] and entry["health"] == "degraded"
    rig.host.ngctl("shutdown", "lan_nf:")
    entry = rig.nf.list()["lan"]
    assert entry["present"] is False and entry["health"] == "down" and entry["drift"] == ["node_missing lan_nf"]


def test_status_in_pillar_terms_with_zero_filled_counters(rig):
    rig.present()
    assert rig.traffic("em0", 10)["accounted_by"] == ["lan_nf"]
    st = rig.nf.status("lan")
    assert st["interfaces"]["em0"]["packets"] == 10
    assert st["interfaces"]["em1"]["packets"] == 0
    assert set(st["interfaces"]["em0"]) == {"iface", "attached", "half_attached", "direction", "once", "packets",
                                            "dlt", "index", "conf", "attach", "node", "declared"}
    assert st["interfaces"]["em1"] == {"iface": 1, "attached": True, "half_attached": False, "direction": "both",
                                       "once": True, "packets": 0,
                                       "dlt": 1, "index": 0, "conf": 11, "attach": "ether", "node": "em1",
                                       "declared": True}
    assert set(st["counters"]) == COUNTER_KEYS
    assert st["counters"]["ipv4_packets"] == 10 and st["counters"]["ipv4_bytes"] == 1000
    assert st["counters"]["v9_failed_exports"] == 0 and st["counters"]["ipv6_packets"] == 0
    assert st["collectors"] == [{"host": "127.0.0.1", "port": 2055, "version": 9, "family": "inet",
                                 "carries": ["IPv4", "IPv6"], "connected": True, "node": "lan_v9", "declared": True,
                                 "source": "127.0.0.1", "source_port": st["collectors"][0]["source_port"],
                                 "declared_source": None}]
    assert st["collectors"][0]["source_port"] >= 10000  # getname: the ephemeral port connect took
    # no flow expired yet: the node keeps the time=1 it was made with (its first v9 datagram
    # carries the templates), and that is no drift
    assert st["settings"] == {"timeouts": {"inactive": 15, "active": 1800}, "template": {"time": 1, "packets": 500},
                              "mtu": 1500}
    assert (st["health"], st["reasons"], st["present"], st["declared"]) == ("ok", [], True, True)
    assert "raw" not in st
    raw = rig.nf.status("lan", raw=True)["raw"]
    assert raw["replies"]["lan_nf"]["info"]["IPv4 packets"] == 10
    assert "V9 failed exports" not in raw["replies"]["lan_nf"]["info"], "the kernel omits zeros; status fills them"
    assert set(raw["nodes"]) == {"lan_nf", "lan_v9"} and raw["settings"]["lan_v9"]["peer"] == "inet/127.0.0.1:2055"
    assert rig.nf.status("other")["present"] is False


def test_status_detached_interface_and_arguments(rig):
    rig.present()
    ngsim("ifdestroy", str(rig.host.root), "em0")
    ngsim("ifcreate", str(rig.host.root), "em0")
    st = rig.nf.status("lan", interval=1)
    assert st["health"] == "degraded" and st["interfaces"]["em0"]["attached"] is False
    assert st["reasons"] == ["interface em0 is detached (no hook from em0 to lan_nf)"]
    for bad in ({"name": "lan\n"}, {"name": "lan", "raw": "yes"}, {"name": "lan", "interval": 61},
                {"name": "lan", "interval": True}):
        with pytest.raises(SaltInvocationError):
            rig.nf.status(**bad)


def test_flows_with_filters_and_limit(rig):
    rig.present()
    rig.traffic("em0", 10, src="10.0.0.1")
    rig.traffic("em1", 3, src="10.9.0.1")
    table = rig.nf.flows("lan")
    assert table["exporter"] == "lan" and table["total"] == table["matched"] == 2
    assert table["flows"][0] == {"src": "10.0.0.1", "dst": "192.0.2.7", "sport": 40000, "dport": 443, "proto": 6,
                                 "interface": "em0", "interface_out": None, "packets": 10, "bytes": 1000, "tos": 0,
                                 "tcp_flags": 0, "first": None, "last": None}
    assert [f["src"] for f in rig.nf.flows("lan", interface="em1")["flows"]] == ["10.9.0.1"]
    assert [f["src"] for f in rig.nf.flows("lan", address="10.0.0.0/24")["flows"]] == ["10.0.0.1"]
    assert rig.nf.flows("lan", limit=1)["matched"] == 2 and len(rig.nf.flows("lan", limit=1)["flows"]) == 1
    with pytest.raises(SaltInvocationError, match="^address: "):
        rig.nf.flows("lan", address="not an address")
    err = str(pytest.raises(CommandExecutionError, rig.nf.flows, "other").value)
    assert err.startswith("flowctl other_nf: show verbose failed: "), err


def test_status_and_flows_without_a_name_show_every_exporter(rig):
    """netflow.status and netflow.flows with no name (Salt's generic "missing 1 required
    positional argument" before): a dict keyed by exporter, each what the named call says."""
    for left in pathlib.Path(rig.opts["netflow"]["boot_dir"]).glob("*.ngctl"):  # an earlier test's persist
        left.unlink()
    assert rig.nf.status() == {} and rig.nf.flows() == {}
    rig.present(interfaces=["em0"])
    wan = rig.loaders.states.netflow.exporter_present(name="wan", interfaces=["em1"],
                                                      collectors=[{"host": "127.0.0.1", "port": 2056}])
    assert wan.result is True, wan.comment
    rig.traffic("em0", 10, src="10.0.0.1")
    rig.traffic("em1", 3, src="10.9.0.1")
    every = rig.nf.status()
    assert sorted(every) == ["lan", "wan"] and every["lan"] == rig.nf.status("lan")
    assert (every["lan"]["counters"]["ipv4_packets"], every["wan"]["counters"]["ipv4_packets"]) == (10, 3)
    assert set(rig.nf.status(raw=True)["wan"]["raw"]["nodes"]) == {"wan_nf", "wan_v9"}
    assert {n: v["health"] for n, v in rig.nf.status(interval=1).items()} == {"lan": "ok", "wan": "ok"}
    tables = rig.nf.flows()
    assert sorted(tables) == ["lan", "wan"] and tables["lan"] == rig.nf.flows("lan")
    assert [f["src"] for f in tables["wan"]["flows"]] == ["10.9.0.1"]
    by_em1 = rig.nf.flows(interface="em1", limit=5)
    assert (by_em1["lan"]["matched"], by_em1["wan"]["matched"]) == (0, 1)
    with pytest.raises(SaltInvocationError, match="^limit: "):
        rig.nf.flows(limit=-1)
    rig.host.ngctl("shutdown", "wan_nf:")  # recorded, not live: status says so; it has no flow table
    assert rig.nf.status()["wan"]["present"] is False and sorted(rig.nf.flows()) == ["lan"]


def test_netgraph_snapshot_and_flowctl_are_the_reads_netflow_uses(rig):
    """The beacon's read and the flow table are netgraph functions: one ngctl spawn for the
    graph and every reply, ngctl stopping at a failing line, and nothing run for a message
    that is not read-only or a bad flowctl argument."""
    rig.present()
    rig.traffic("em0", 3)
    ng = rig.loaders.modules.netgraph
    before = len(rig.host.log())
    snap = ng.snapshot([["lan_nf:", "info"], ["lan_nf:", "ifinfo", "0"], ["lan_nf:", "ifinfo", "9"],
                        ["lan_nf:", "info"]])
    assert len(rig.host.log()) == before + 1, "one spawn"
    assert {"lan_nf", "lan_v9", "em0", "em1"} <= set(snap["graph"]["nodes"])
    assert snap["replies"][1]["ok"] and snap["replies"][1]["reply"]["args"]["packets"] == 3
    assert snap["replies"][2] == {"ok": False, "error": "ngctl: send msg: Invalid argument"}
    assert snap["replies"][3] is None, "ngctl stops at the failing line: the rest is not read"
    for bad in ([["lan_nf:", "settimeouts", "{", "}"]], [["lan_nf:", "info"], ["lan_nf", "info"]],
                [["lan_nf:", "ifinfo", "0\nshutdown lan_nf:"]], [[1, "info"]]):
        with pytest.raises(SaltInvocationError, match=r"^requests\[\d\]"):
            ng.snapshot(bad)
    with pytest.raises(SaltInvocationError, match="^requests: "):
        ng.snapshot("x")
    table = ng.flowctl("lan_nf:")
    assert table["style"] == "verbose" and [f["packets"] for f in table["flows"]] == [3]
    assert ng.flowctl("lan_nf:", version=6)["flows"] == []
    for bad in ({"path": "lan_nf"}, {"path": "lan_nf: -x"}, {"path": "lan_nf:", "version": 5}):
        with pytest.raises(SaltInvocationError):
            ng.flowctl(**bad)
    assert len(rig.host.log()) == before + 3, "only the three good reads ran"


def test_metrics_text_and_textfile(rig, tmp_path):
    rig.present()
    rig.traffic("em0", 10)
    text = rig.nf.metrics()
    assert 'netflow_interface_packets_total{exporter="lan",interface="em0"} 10.0' in text
    assert 'netflow_interface_packets_total{exporter="lan",interface="em1"} 0.0' in text
    assert 'netflow_collector_connected{collector="127.0.0.1:2055",exporter="lan",version="9"} 1.0' in text
    assert 'netflow_failed_exports_total{exporter="lan",version="9"} 0.0' in text
    path = tmp_path / "textfile" / "netflow.prom"
    path.parent.mkdir()
    assert rig.nf.metrics("lan", path=str(path)) == path.read_text()
    assert sorted(os.listdir(path.parent)) == ["netflow.prom"], "no temp file left behind"
    with pytest.raises(SaltInvocationError):
        rig.nf.metrics(path=str(tmp_path / "x.txt"))


def test_watch_without_declarations_spawns_nothing(rig):
    rig.host.clear_log()
    assert rig.nf.watch() == {"events": [], "errors": {}}
    assert rig.host.spawns() == []


def test_beacon_quiet_fires_on_recreation_and_is_quiet_after_the_heal(rig):
    rig.present()
    beacons = rig.beacons()
    grains = rig.loaders.grains
    rig.host.clear_log()
    assert beacons.process(BEACON, grains) == []
    assert beacons.process(BEACON, grains) == []
    spawns = rig.host.spawns()
    assert len(spawns) == 2 and all(s["argv"][:3] == ["ngctl", "-f", "-"] and not s["mutating"] for s in spawns), \
        "one read-only ngctl spawn per interval"
    ngsim("ifdestroy", str(rig.host.root), "em0")
    ngsim("ifcreate", str(rig.host.root), "em0")
    [event] = beacons.process(BEACON, grains)
    assert event["tag"] == "salt/beacon/fw1/netflow/lan"
    data = event["data"]
    assert data["exporter"] == "lan" and data["interfaces"] == ["em0"] and data["id"] == "fw1"
    assert data["drift"][0]["kind"] == "interface_recreated" and data["heal"] is True
    assert data["health"] == "degraded"
    # healed here, by the beacon itself, before the event was returned
    assert data["healed"] is True and data["heal_comment"].startswith("updated"), data
    assert rig.traffic("em0", 2)["accounted_by"] == ["lan_nf"]
    assert beacons.process(BEACON, grains) == [], "quiet after the heal"
    assert beacons.process(BEACON, grains) == []
    assert rig.nf.watch() == {"events": [], "errors": {}}


def test_beacon_with_heal_false_only_reports(rig):
    rig.present()
    beacons, grains = rig.beacons(), rig.loaders.grains
    config = {"netflow": [{"stall_intervals": 0}, {"heal": False}]}
    assert beacons.process(config, grains) == []
    rig.host.ngctl("shutdown", "lan_v9:")
    rig.host.clear_log()
    [event] = beacons.process(config, grains)
    assert event["data"]["heal"] is False and "healed" not in event["data"]
    assert rig.host.mutating() == [], "nothing changed"


def test_heal_applies_the_recorded_declaration_only(rig):
    with pytest.raises(CommandExecutionError, match="no recorded declaration"):
        rig.nf.heal("lan")
    for bad in ("lan;x", "../lan", 3):
        with pytest.raises(SaltInvocationError):
            rig.nf.heal(bad)
    rig.present(mtu=1400)
    assert rig.nf.heal("lan")["comment"] == "is in the declared state"
    rig.host.ngctl("shutdown", "lan_v9:")
    rig.host.ngctl("msg", "lan_nf:", "setmtu", "{ mtu=1500 }")
    ret = rig.nf.heal("lan")
    assert ret["result"] is True, ret
    assert rig.nf.status("lan")["health"] == "ok" and rig.nf.status("lan")["settings"]["mtu"] == 1400
    (rig.declared / "lan.json").write_text('{"format": 1, "name": "lan", "params": {"interfaces": ["em0;reboot"]}}')
    rig.host.clear_log()
    with pytest.raises(CommandExecutionError, match="not a valid FreeBSD interface name"):
        rig.nf.heal("lan")
    assert rig.host.spawns() == [], "a record that does not validate is never applied"


def test_beacon_config_is_validated_by_salt(rig):
    rig.present()
    rig.host.clear_log()
    assert rig.beacons().process({"netflow": [{"colour": "red"}]}, rig.loaders.grains) == []
    assert rig.host.spawns() == [], "an invalid configuration is refused before the beacon runs"


# ------------------------------------------------------------------ formula: metrics.sls
_demo = load_file(REPO / "demo" / "run.py", "demo_run_operate")


def _metrics_pillar(metrics) -> dict:
    return {"netflow": {"exporters": {}, **({"metrics": metrics} if metrics is not ... else {})}}


def _show_metrics(tmp_path, metrics) -> dict:
    """``salt-call --local state.show_sls netflow.metrics`` on the demo's minion."""
    host = _demo.make_host(tmp_path / "host")
    confdir = _demo.write_minion_config(tmp_path / "salt", host, _metrics_pillar(metrics))
    proc = _demo.salt_call(confdir, "state.show_sls", "netflow.metrics", "--out=json", capture=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)["local"]


@pytest.fixture(scope="module")
def metrics_minion(tmp_path_factory):
    """The same minion rendering in this process (tests/support/localminion.py)."""
    from tests.support.localminion import LocalMinion

    return LocalMinion(tmp_path_factory.mktemp("metrics"))


@pytest.fixture
def show_metrics(metrics_minion):
    """state.show_sls netflow.metrics in this process: the high data Salt renders."""
    def show(metrics) -> dict:
        metrics_minion.apply_pillar(_metrics_pillar(metrics))
        high, errors = metrics_minion.render("netflow.metrics")
        assert errors == [], errors
        return json.loads(json.dumps(high))

    return show


def test_metrics_sls_enabled_renders_a_schedule_job(tmp_path):
    """Through the real salt-call (the cases below render in this process)."""
    states = _show_metrics(tmp_path, {"enabled": True, "textfile_dir": "/var/tmp/ne", "interval": 30})
    _assert_schedule_job(states)


def test_metrics_sls_enabled_renders_a_schedule_job_in_process(show_metrics):
    _assert_schedule_job(show_metrics({"enabled": True, "textfile_dir": "/var/tmp/ne", "interval": 30}))


def _assert_schedule_job(states: dict) -> None:
    assert set(states) == {"netflow-metrics-file-directory-textfile-dir", "netflow-metrics-schedule-present-netflow-metrics"}
    job = {k: v for item in states["netflow-metrics-schedule-present-netflow-metrics"]["schedule"] if isinstance(item, dict)
           for k, v in item.items()}
    assert job["function"] == "netflow.metrics" and job["seconds"] == 30 and job["return_job"] is False
    assert job["job_kwargs"] == {"path": "/var/tmp/ne/netflow.prom"}


@pytest.mark.parametrize("metrics", [..., {"enabled": False}], ids=["no-key", "disabled"])
def test_metrics_sls_off_by_default_renders_nothing(show_metrics, metrics):
    assert show_metrics(metrics) == {}


@pytest.mark.parametrize("metrics, word", [
    ({"enabled": "yes"}, "enabled"), ({"enabled": True, "interval": "60"}, "interval"),
    ({"enabled": True, "file": "../x.prom"}, "file"), ({"enabled": True, "textfile_dir": "/tmp/x\n- evil: 1"}, "textfile_dir"),
    ("on", "must be a mapping"),
])
def test_metrics_sls_refuses_bad_pillar(show_metrics, metrics, word):
    states = show_metrics(metrics)
    assert list(states) == ["netflow-metrics-netflow-refused-1"], "nothing else rendered"
    comment = next(i["comment"] for i in states[list(states)[0]]["netflow"] if isinstance(i, dict) and "comment" in i)
    assert comment.startswith("refused, metrics schedule unchanged: netflow:metrics") and word in comment
