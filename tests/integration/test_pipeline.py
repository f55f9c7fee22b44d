"""The whole pipeline from one pillar (issue 23): a real salt-master, two exporter minions
(ngsim hosts) whose collector is named BY MINION (``{minion: vp-cap, interface: lo, port}``),
and one collector minion (no netgraph) with ``sources: mine`` whose nfcapd is the real one,
run with the argv the collector state rendered (``service: false``: no systemd here). Every
minion gets ``netflow``; pillar ``mine_functions`` publishes what docs/formula.md ("Mine")
says. (tests/integration/test_verify.py wires collectors given by address, and has the loss
case.)

* One ``salt 'vp-*' state.apply netflow`` wires a fresh fleet: each minion publishes in
  the mine what its pillar declares (``mine.update``, what every minion runs when it
  starts), so the collector, applied at the same time as the exporters, renders one
  source per exporter (ident ``<minion>_<exporter>``) before any exporter exists; the
  control is the mine without those declarations (the exporters' mine data deleted),
  where the same apply renders none. A second apply changes nothing.
* The orchestrate SLS (formula/netflow/orch/pipeline.sls) runs the same steps in that order
  and ends with ``netflow.verify`` (IDLE: nothing sent yet, exit 0).
* Traffic on both exporters reaches nfcapd decoded, each exporter's flows under its own
  ident only; ``salt-run netflow.verify`` reports both pairs OK and exits 0.

Daemons come from tests/integration/conftest.py (package-scoped master and minion pool).
"""
from __future__ import annotations

import json
import pathlib

import pytest
import yaml

from tests.support.nfcapd import free_udp_port, needs_nfdump
from tests.support.pipeline import Rig, collector_pillar, exporter_pillar, flows, ngsim

pytestmark = [pytest.mark.integration, needs_nfdump]

EXPORTERS = {"vp-fw1": ("vp-fw1_lan", "127.0.0.2", "10.1.0.1"), "vp-fw2": ("vp-fw2_lan", "127.0.0.3", "10.2.0.1")}
COLLECTOR = "vp-cap"
TGT = "vp-*"
# pillar.example's mine_functions
MINE_EXPORTER = {"netflow_exporters": [{"mine_function": "netflow.mine"}]}
MINE_COLLECTOR = {"netflow_addresses": [{"mine_function": "grains.item"}, "ip4_interfaces", "ip6_interfaces"]}
STEPS = ["netflow-pipeline-mine-update-collectors", "netflow-pipeline-state-exporters",
         "netflow-pipeline-mine-update-exporters", "netflow-pipeline-state-collectors", "netflow-pipeline-verify"]


def pillar(minion: str, root: pathlib.Path, port: int) -> dict:
    _, source, _ = EXPORTERS[minion]
    # interface lo: the collector host's loopback address, whatever other interfaces it has
    collector = {"minion": COLLECTOR, "interface": "lo", "port": port, "version": 9, "source": source}
    return {"mine_functions": MINE_EXPORTER, **exporter_pillar(root, collector)}


@pytest.fixture(scope="module")
def rig(ng_master, ng_minion, ng_salt_cli, tmp_path_factory):
    port = free_udp_port()
    base = tmp_path_factory.mktemp("pipeline-collector")
    quick = {"autoload_dynamic_modules": False}  # the repository's module_dirs: no sync at each state run
    roots = {}
    for mid in EXPORTERS:
        ng_minion(mid, ifaces=("em0",), overrides=quick)
        roots[mid] = ng_minion.root(mid)
    ng_minion(COLLECTOR, ifaces=(), overrides={**quick, "netgraph.ngctl": None})  # a collector host: no netgraph
    pillars = {mid.replace("-", "_"): pillar(mid, roots[mid], port) for mid in EXPORTERS}
    pillars[COLLECTOR.replace("-", "_")] = {"mine_functions": MINE_COLLECTOR, **collector_pillar(base, port, "mine")}
    pillar_dir = ng_master.pillar_tree.base.write_path
    for name, data in pillars.items():
        (pillar_dir / f"{name}.sls").write_text(yaml.safe_dump(data))
    ptop = "base:\n" + "".join(f"  {name.replace('_', '-')}:\n    - {name}\n" for name in pillars)
    with ng_master.pillar_tree.base.temp_file("top.sls", ptop):
        assert ng_salt_cli.run("saltutil.refresh_pillar", "wait=True", minion_tgt=TGT).returncode == 0
        rig = Rig(ng_master, ng_salt_cli, roots, base / "flows", port, EXPORTERS, COLLECTOR, TGT)
        rig.sync_runner()
        yield rig


def apply_netflow(rig: Rig) -> dict:
    """``salt 'vp-*' state.apply netflow``: every state of every minion succeeded."""
    ret = rig.cli.run("state.apply", "netflow", minion_tgt=TGT, _timeout=180)
    assert ret.returncode == 0 and set(ret.data) == set(EXPORTERS) | {COLLECTOR}, ret.stdout
    for mid, states in ret.data.items():
        assert all(s["result"] is True for s in states.values()), (mid, states)
    return ret.data


def sources(rig: Rig) -> list[str]:
    """The ``-n`` sources of the collector's nfcapd argv as it renders now."""
    ret = rig.cli.run("nfcapd.argv", minion_tgt=COLLECTOR)
    assert ret.returncode == 0 and isinstance(ret.data, list), ret.stdout
    return [ret.data[i + 1] for i, arg in enumerate(ret.data) if arg == "-n"]


def expected_sources(rig: Rig) -> list[str]:
    return sorted(f"{ident},{src},{rig.storage / ident}" for ident, src, _ in EXPORTERS.values())


def test_one_apply_wires_a_fresh_fleet_from_what_the_minions_published_at_start(rig):
    # control first: the mine without the exporters' declarations, the collector finds none
    assert rig.cli.run("mine.update", minion_tgt=COLLECTOR).returncode == 0
    assert rig.cli.run("mine.delete", "netflow_exporters", minion_tgt=TGT).returncode == 0
    ret = rig.cli.run("state.apply", "netflow", minion_tgt=COLLECTOR, _timeout=180)
    assert ret.returncode == 0 and "from the mine: 0 exporter(s)" in ret.stdout, ret.stdout
    assert sources(rig) == []
    # a fresh fleet: what every minion publishes when it starts, then ONE apply everywhere
    assert rig.cli.run("mine.update", minion_tgt=TGT).returncode == 0
    for mid in EXPORTERS:  # nothing is applied yet: the mine holds the declaration
        assert rig.cli.run("netflow.list", minion_tgt=mid).data == {}
        mined = rig.cli.run("mine.get", mid, "netflow_exporters", minion_tgt=COLLECTOR).data
        # a job's pillar.get is masked on Salt 3008: mapdata (which the mine function runs) reads __pillar__
        assert rig.cli.run("netflow.mapdata", minion_tgt=mid).data["errors"] == []
        assert mined[mid]["lan"]["applied"] is False and mined[mid]["lan"]["sources"] == [EXPORTERS[mid][1]], mined
    first = apply_netflow(rig)
    for mid in EXPORTERS:
        assert set(ngsim("links", str(rig.roots[mid])).values()) == {"pass"}
        assert "netflow-exporter-netflow-exporters_present" in "".join(first[mid])
    collector = next(s for sid, s in first[COLLECTOR].items() if "collector_present" in sid)
    assert "from the mine: 2 exporter(s)" in collector["comment"], collector
    assert sorted(sources(rig)) == expected_sources(rig)
    csv = (rig.storage / "exporters.csv").read_text()
    assert all(f"{ident},{mid},lan,{src}," in csv for mid, (ident, src, _) in EXPORTERS.items()), csv
    assert rig.cli.run("mine.update", minion_tgt=TGT).returncode == 0  # now applied: the kernel's view
    second = apply_netflow(rig)
    for mid in EXPORTERS:  # nothing changes on the exporters
        assert all(not s["changes"] for sid, s in second[mid].items() if "exporters_present" in sid), second[mid]
    collector = next(s for sid, s in second[COLLECTOR].items() if "collector_present" in sid)
    assert not collector["changes"], collector
    assert sorted(sources(rig)) == expected_sources(rig)


def test_the_orchestrate_sls_runs_the_steps_in_order_and_verifies(rig):
    pipeline = {"exporters": f"I@netflow:exporters:* and {TGT}", "collectors": f"I@netflow:collector:* and {TGT}",
                "window": 600}
    ret = rig.master.salt_run_cli(timeout=300).run("state.orchestrate", "netflow.orch.pipeline",
                                                   "pillar=" + json.dumps({"netflow_pipeline": pipeline}))
    (states,) = ret.data["data"].values()
    ran = sorted(states.values(), key=lambda s: s["__run_num__"])
    assert [s["__id__"] for s in ran] == STEPS, states
    assert ret.returncode == 0 and all(s["result"] is True for s in ran), states
    verify = json.dumps(ran[-1])
    assert "vp-fw1/lan" in verify and "vp-fw2/lan" in verify and "IDLE" in verify, ran[-1]
    assert sorted(sources(rig)) == expected_sources(rig)


def test_flows_reach_nfcapd_under_each_minion_ident_and_verify_says_ok(rig, tmp_path):
    rig.capture(tmp_path / "nfcapd.log")
    for mid, (ident, _, flow_src) in EXPORTERS.items():
        got = flows(rig.storage / ident)
        assert sorted(set(got)) == [flow_src] and len(got) == 63, (ident, got[:5])
    ret = rig.verify()
    assert ret.returncode == 0, ret.data["table"] if isinstance(ret.data, dict) else ret.stdout
    rows = {r["exporter"]: r for r in ret.data["pairs"]}
    assert set(rows) == {f"{mid}/lan" for mid in EXPORTERS}, ret.data["table"]
    for mid, (ident, _, _) in EXPORTERS.items():
        row = rows[f"{mid}/lan"]
        assert (row["collector"], row["idents"], row["verdict"]) == (COLLECTOR, [ident], "OK"), ret.data["table"]
        assert (row["datagrams"], row["flows"], row["gaps"], row["sent"]) == (3, 63, 0, 63), ret.data["table"]
