"""The whole pipeline from one pillar (issue 23): a real salt-master, two exporter minions
(ngsim hosts) whose collector is named BY MINION (``{minion: vp-cap, interface: lo, port}``),
and one collector minion (no netgraph) with ``sources: mine`` whose nfcapd is the real one,
run with the argv the collector state rendered (``service: false``: no systemd here). Every
minion gets ``netflow``; pillar ``mine_functions`` publishes what docs/formula.md ("Mine")
says. (tests/integration/test_verify.py wires collectors given by address, and has the loss
case.)

* One ``salt 'vp-*' state.apply netflow`` wires a fresh fleet: the pillar is in place when
  the minions start, and each publishes in the mine what it declares when it starts (Salt's
  start-time ``mine.update``; the test never calls it first), so the collector, applied at
  the same time as the exporters, renders one source per exporter (ident
  ``<minion>_<exporter>``) before any exporter exists. The control: with the exporters'
  mine data deleted the collector renders none; published again, one apply restores the
  sources and changes nothing on the exporters, and the next apply changes nothing at all.
* The orchestrate SLS (formula/netflow/orch/pipeline.sls) runs the same steps in that order
  and ends with ``netflow.verify`` (IDLE: nothing sent yet, exit 0).
* Traffic on both exporters reaches nfcapd decoded, each exporter's flows under its own
  ident only; ``salt-run netflow.verify`` reports both pairs OK and exits 0.

Daemons come from tests/integration/conftest.py (package-scoped master and minion pool).
"""
from __future__ import annotations

import json
import pathlib
import time

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


def published(cli, want: set, bound: float = 90) -> dict:
    """The exporters' ``netflow_exporters`` in the mine once every minion of ``want`` has
    published (polled, at most ``bound`` seconds)."""
    deadline = time.monotonic() + bound
    while True:
        got = cli.run("mine.get", TGT, "netflow_exporters", minion_tgt=COLLECTOR).data
        got = got if isinstance(got, dict) else {}
        if want <= {m for m, e in got.items() if isinstance(e, dict) and e}:
            return got
        assert time.monotonic() < deadline, f"the minions did not publish at start: {got}"
        time.sleep(1)


@pytest.fixture(scope="module")
def rig(ng_master, ng_minion, ng_salt_cli, tmp_path_factory):
    """The pillar is in place BEFORE the minions start: what a fresh fleet is. Each minion
    runs ``mine.update`` when it starts (Salt's ``__mine_interval`` job, run_on_start), so
    the mine holds the exporters' declarations and the collector's addresses before any
    apply; nothing here calls ``mine.update``."""
    port = free_udp_port()
    base = tmp_path_factory.mktemp("pipeline-collector")
    quick = {"autoload_dynamic_modules": False}  # the repository's module_dirs: no sync at each state run
    roots = {mid: ng_minion.base / mid for mid in EXPORTERS}  # where the pool makes each host
    pillars = {mid.replace("-", "_"): pillar(mid, roots[mid], port) for mid in EXPORTERS}
    pillars[COLLECTOR.replace("-", "_")] = {"mine_functions": MINE_COLLECTOR, **collector_pillar(base, port, "mine")}
    pillar_dir = ng_master.pillar_tree.base.write_path
    for name, data in pillars.items():
        (pillar_dir / f"{name}.sls").write_text(yaml.safe_dump(data))
    ptop = "base:\n" + "".join(f"  {name.replace('_', '-')}:\n    - {name}\n" for name in pillars)
    with ng_master.pillar_tree.base.temp_file("top.sls", ptop):
        for mid in EXPORTERS:
            ng_minion(mid, ifaces=("em0",), overrides=quick)
            assert ng_minion.root(mid) == roots[mid]
        ng_minion(COLLECTOR, ifaces=(), overrides={**quick, "netgraph.ngctl": None})  # a collector host: no netgraph
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
    mined = published(rig.cli, set(EXPORTERS))
    for mid in EXPORTERS:  # nothing is applied yet: the mine holds the declaration
        assert rig.cli.run("netflow.list", minion_tgt=mid).data == {}
        assert mined[mid]["lan"]["applied"] is False and mined[mid]["lan"]["sources"] == [EXPORTERS[mid][1]], mined
        # a job's pillar.get is masked on Salt 3008: mapdata (which the mine function runs) reads __pillar__
        assert rig.cli.run("netflow.mapdata", minion_tgt=mid).data["errors"] == []
    first = apply_netflow(rig)  # ONE salt 'vp-*' state.apply netflow
    for mid in EXPORTERS:
        assert set(ngsim("links", str(rig.roots[mid])).values()) == {"pass"}
        assert "netflow-exporter-netflow-exporters_present" in "".join(first[mid])
    collector = next(s for sid, s in first[COLLECTOR].items() if "collector_present" in sid)
    assert "from the mine: 2 exporter(s)" in collector["comment"], collector
    assert sorted(sources(rig)) == expected_sources(rig)
    csv = (rig.storage / "exporters.csv").read_text()
    assert all(f"{ident},{mid},lan,{src}," in csv for mid, (ident, src, _) in EXPORTERS.items()), csv


def test_without_the_exporters_in_the_mine_the_collector_has_no_source_and_a_second_apply_changes_nothing(rig):
    # the control: the exporters' mine data deleted, the collector alone renders no source
    assert rig.cli.run("mine.delete", "netflow_exporters", minion_tgt=TGT).returncode == 0
    ret = rig.cli.run("state.apply", "netflow", minion_tgt=COLLECTOR, _timeout=180)
    assert ret.returncode == 0 and "from the mine: 0 exporter(s)" in ret.stdout, ret.stdout
    assert sources(rig) == []
    # published again (now applied: the kernel's view), one apply everywhere: only the collector changes
    assert rig.cli.run("mine.update", minion_tgt=TGT).returncode == 0
    mined = published(rig.cli, set(EXPORTERS))
    assert all(mined[mid]["lan"]["applied"] is True for mid in EXPORTERS), mined
    second = apply_netflow(rig)
    for mid in EXPORTERS:
        assert all(not s["changes"] for sid, s in second[mid].items() if "exporters_present" in sid), second[mid]
    assert sorted(sources(rig)) == expected_sources(rig)
    third = apply_netflow(rig)
    assert all(not s["changes"] for states in third.values() for s in states.values()), third


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
