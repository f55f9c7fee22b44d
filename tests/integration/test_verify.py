"""``salt-run netflow.verify`` end to end: a real salt-master, two exporter minions (each its
own emulated FreeBSD host, ngsim) and one collector minion (no netgraph) whose nfcapd is the
real one (nfdump 1.7), run with the argv the collector state rendered.

* One highstate (top.sls: ``netflow`` for the exporters, ``netflow.collector`` for the
  collector, ``service: false``: no systemd here) wires all three: each exporter sends v9 to
  the collector from its own source address, the collector has one source per exporter.
* The runner comes from file_roots (``salt-run saltutil.sync_runners`` and ``sync_utils``,
  the route docs/formula.md describes for a master without the wheel).
* Traffic on both exporters reaches nfcapd decoded, each exporter's flows under its own
  ident; ``netflow.verify`` reports both pairs OK and exits 0.
* The same with one datagram of vf-fw1 lost on the way (``ngsim lose``, a knob of the
  emulated path): LOSS for vf-fw1, OK for vf-fw2, exit non-zero.
* From an orchestrate SLS (a ``salt.runner`` state): the state succeeds on OK and fails on
  LOSS.

Daemons come from tests/integration/conftest.py (package-scoped master and minion pool).
"""
from __future__ import annotations

import pathlib

import pytest
import yaml

from tests.support.nfcapd import free_udp_port, needs_nfdump
from tests.support.pipeline import Rig, collector_pillar, exporter_pillar, flows, ngsim

pytestmark = [pytest.mark.integration, needs_nfdump]

EXPORTERS = {"vf-fw1": ("fw1", "127.0.0.2", "10.1.0.1"), "vf-fw2": ("fw2", "127.0.0.3", "10.2.0.1")}
COLLECTOR = "vf-cap"
TGT = "vf-*"


def orchestrate(rig: Rig) -> tuple[int, dict]:
    """docs/formula.md's orchestrate example, reduced to its salt.runner state: (exit code
    of salt-run, that state's return)."""
    orch = f"netflow-verify:\n  salt.runner:\n    - name: netflow.verify\n    - tgt: '{TGT}'\n    - window: 600\n"
    with rig.master.state_tree.base.temp_file("orch_verify.sls", orch):
        ret = rig.master.salt_run_cli(timeout=180).run("state.orchestrate", "orch_verify")
    (states,) = ret.data["data"].values()
    (state,) = states.values()
    return ret.returncode, state


def pillar(minion: str, root: pathlib.Path, port: int) -> dict:
    _, source, _ = EXPORTERS[minion]
    return exporter_pillar(root, {"host": "127.0.0.1", "port": port, "version": 9, "source": source})


@pytest.fixture(scope="module")
def rig(ng_master, ng_minion, ng_salt_cli, tmp_path_factory):
    port = free_udp_port()
    base = tmp_path_factory.mktemp("verify-collector")
    roots = {}
    # module_dirs etc. are the repository's: no sync at each state run (it walks the
    # repository's file root, about 10 s per kind of module)
    quick = {"autoload_dynamic_modules": False}
    for mid in EXPORTERS:
        ng_minion(mid, ifaces=("em0",), overrides=quick)
        roots[mid] = ng_minion.root(mid)
    ng_minion(COLLECTOR, ifaces=(), overrides={**quick, "netgraph.ngctl": None})  # a collector host: no netgraph
    pillars = {mid.replace("-", "_"): pillar(mid, roots[mid], port) for mid in EXPORTERS}
    pillars["vf_cap"] = collector_pillar(base, port, {ident: {"host": source} for ident, source, _ in EXPORTERS.values()})
    pillar_dir = ng_master.pillar_tree.base.write_path
    for name, data in pillars.items():
        (pillar_dir / f"{name}.sls").write_text(yaml.safe_dump(data))
    ptop = "base:\n" + "".join(f"  {name.replace('_', '-')}:\n    - {name}\n" for name in pillars)
    stop = "base:\n  'vf-fw*':\n    - netflow\n  vf-cap:\n    - netflow.collector\n"
    with ng_master.pillar_tree.base.temp_file("top.sls", ptop), ng_master.state_tree.base.temp_file("top.sls", stop):
        assert ng_salt_cli.run("saltutil.refresh_pillar", "wait=True", minion_tgt=TGT).returncode == 0
        yield Rig(ng_master, ng_salt_cli, roots, base / "flows", port, EXPORTERS, COLLECTOR, TGT)


def test_one_highstate_wires_both_exporters_to_the_collector(rig):
    ret = rig.cli.run("state.apply", minion_tgt=TGT, _timeout=180)
    assert ret.returncode == 0, ret.stdout
    assert set(ret.data) == set(EXPORTERS) | {COLLECTOR}, ret.data
    for mid, states in ret.data.items():
        assert all(s["result"] is True for s in states.values()), (mid, states)
    assert (rig.storage / "fw1").is_dir() and (rig.storage / "fw2").is_dir()
    for mid in EXPORTERS:
        assert set(ngsim("links", str(rig.roots[mid])).values()) == {"pass"}
    rig.sync_runner()  # the runner from file_roots, as a master without the wheel gets it


def test_flows_reach_nfcapd_under_each_ident_and_verify_says_ok(rig, tmp_path):
    rig.capture(tmp_path / "nfcapd.log")
    assert sorted(set(flows(rig.storage / "fw1"))) == ["10.1.0.1"] and len(flows(rig.storage / "fw1")) == 63
    assert sorted(set(flows(rig.storage / "fw2"))) == ["10.2.0.1"] and len(flows(rig.storage / "fw2")) == 63
    ret = rig.verify()
    assert ret.returncode == 0, ret.data["table"] if isinstance(ret.data, dict) else ret.stdout
    rows = {r["exporter"]: r for r in ret.data["pairs"]}
    assert set(rows) == {"vf-fw1/lan", "vf-fw2/lan"}, ret.data["table"]
    for mid, (ident, _, _) in EXPORTERS.items():
        row = rows[f"{mid}/lan"]
        assert (row["collector"], row["idents"], row["verdict"]) == (COLLECTOR, [ident], "OK"), ret.data["table"]
        assert (row["datagrams"], row["flows"], row["gaps"], row["sent"]) == (3, 63, 0, 63), ret.data["table"]
    assert "vf-fw1/lan" in ret.data["table"] and "vf-cap/fw1" in ret.data["table"]
    rc, state = orchestrate(rig)  # positive control of the failing orchestration below
    assert rc == 0 and state["result"] is True, state


def test_a_datagram_lost_on_the_way_is_loss_and_exits_non_zero(rig, tmp_path):
    for f in rig.storage.rglob("nfcapd.*"):  # the window sees only this run's files
        f.unlink()
    lost = rig.capture(tmp_path / "nfcapd.log", lose="vf-fw1")["vf-fw1"]
    assert [d["sent"][0].get("lost", False) for d in lost] == [False, True, False]
    ret = rig.verify()
    assert ret.returncode != 0, ret.stdout
    rows = {r["exporter"]: r for r in ret.data["pairs"]}
    fw1, fw2 = rows["vf-fw1/lan"], rows["vf-fw2/lan"]
    assert (fw1["verdict"], fw1["datagrams"], fw1["flows"], fw1["gaps"]) == ("LOSS", 2, 42, 1), ret.data["table"]
    assert (fw2["verdict"], fw2["gaps"]) == ("OK", 0), ret.data["table"]
    assert "LOSS" in ret.data["table"]
    rc, state = orchestrate(rig)  # an orchestration's salt.runner state fails with it
    assert rc != 0 and state["result"] is False, state
