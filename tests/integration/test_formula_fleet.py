"""The netflow formula across a fleet: a real salt-master and three salt-minions
(pytest-salt-factories), each minion its own emulated FreeBSD host (ngsim, started as after a
fresh boot: no netgraph module loaded) with its own pillar:

* nf-a: one interface, one v9 collector;
* nf-b: three interfaces, vlan0.100 egress-only, two v9 collectors (ng_one2many fan-out);
* nf-c: tun0 attached through ipfw (ipfw tee rule + ng_ipfw hook); its firewall is up as
  rc.d/ipfw leaves it with firewall_enable=YES (ipfw.ko loaded, an open rule set), since a
  bare ipfw.ko denies all traffic.

Every exporter is named `flows`, so one `salt 'nf-*' netgraph.show flows_nf:` asks all three.
The target is the glob `nf-*` rather than `*` so that minions other test modules of this
package may have started (with no netflow pillar) are never touched; it is the whole fleet.

Daemons come from tests/integration/conftest.py (package-scoped master and minion pool).
"""
from __future__ import annotations

import copy
import json
import pathlib
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = pathlib.Path(__file__).resolve().parents[2]
TGT = "nf-*"
C1 = {"host": "192.0.2.10", "port": 2055, "version": 9}
C2 = {"host": "192.0.2.11", "port": 2055}
FLEET = {
    "nf-a": {"ifaces": ("em0",), "exporter": {"interfaces": ["em0"], "collectors": [C1]}},
    "nf-b": {
        "ifaces": ("em0", "em1", "vlan0.100"),
        "exporter": {
            "interfaces": {"em0": None, "em1": {}, "vlan0.100": {"direction": "egress"}},
            "collectors": [C1, C2],
        },
    },
    "nf-c": {
        "ifaces": ("em0", "tun0"),
        "exporter": {"interfaces": {"tun0": {"attach": "ipfw", "ipfw_hook": 1000}}, "collectors": [C1]},
    },
}
STATE_ID = "netflow-exporter-netflow-exporters_present"  # the host state: changes keyed by exporter


def ngsim(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "ngsim", *args], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, f"ngsim {args}: {proc.stderr}"
    return proc.stdout


def pillar_for(minion_id: str, root, exporter: dict) -> dict:
    etc = root / "etc"
    return {
        "netflow": {
            "boot_dir": str(etc / "netflow"),
            "lookup": {"rc_script": str(etc / "rc.d" / "netflow"), "rc_conf_d": str(etc / "rc.conf.d" / "netflow")},
            "exporters": {"flows": exporter},
        }
    }


class Fleet:
    def __init__(self, master, pool, cli, roots):
        self.master = master
        self.pool = pool
        self.cli = cli
        self.roots = roots
        self.pillar_dir = master.pillar_tree.base.write_path

    def write_pillar(self, minion_id: str, exporter: dict) -> None:
        data = pillar_for(minion_id, self.roots[minion_id], exporter)
        (self.pillar_dir / f"{minion_id.replace('-', '_')}.sls").write_text(yaml.safe_dump(data))

    def salt(self, *args: str) -> dict:
        ret = self.cli.run(*args, "--timeout=60", minion_tgt=TGT)
        assert isinstance(ret.data, dict) and set(ret.data) == set(FLEET), ret
        return ret.data

    def apply(self, *args: str) -> dict:
        data = self.salt("state.apply", "netflow", *args)
        out = {}
        for mid, states in data.items():
            assert isinstance(states, dict), (mid, states)
            failed = {s: r["comment"] for s, r in states.items() if r["result"] is False}
            assert not failed, (mid, failed)
            out[mid] = {r["__id__"]: r for r in states.values()}
        return out

    def mutating(self) -> dict:
        out = {}
        for mid, root in self.roots.items():
            lines = ngsim("log", str(root), "--clear").splitlines()
            out[mid] = [e for e in map(json.loads, filter(str.strip, lines)) if e["mutating"]]
        return out

    def links(self, mid: str) -> dict:
        return json.loads(ngsim("links", str(self.roots[mid])))


def changed(states: dict) -> dict:
    return {sid: r["changes"] for sid, r in states.items() if r["changes"]}


@pytest.fixture(scope="module")
def fleet(ng_master, ng_minion, ng_salt_cli):
    roots = {}
    for mid, spec in FLEET.items():
        ng_minion(mid, ifaces=spec["ifaces"], loaded=())
        roots[mid] = ng_minion.root(mid)
    for argv in (["kldload", "ipfw"], ["ipfw", "-q", "add", "65000", "allow", "ip", "from", "any", "to", "any"]):
        subprocess.run([str(roots["nf-c"] / "bin" / argv[0]), *argv[1:]], check=True, capture_output=True)
    f = Fleet(ng_master, ng_minion, ng_salt_cli, roots)
    for mid, spec in FLEET.items():
        f.write_pillar(mid, spec["exporter"])
    top = "base:\n" + "".join(f"  {mid}:\n    - {mid.replace('-', '_')}\n" for mid in FLEET)
    with ng_master.pillar_tree.base.temp_file("top.sls", top):
        yield f


def test_state_apply_converges_the_fleet_in_one_call(fleet):
    result = fleet.apply()
    for mid, states in result.items():
        assert set(states) == {STATE_ID, "netflow-boot-file-managed-rc-script", "netflow-boot-file-managed-rc-conf-d"}
        assert set(changed(states)) == set(states), mid
        assert set(states[STATE_ID]["changes"]) == {"flows"}, mid
        assert set(fleet.links(mid).values()) == {"pass"}, mid
        assert (fleet.roots[mid] / "etc" / "netflow" / "flows.ngctl").exists()
    ngctl_b = result["nf-b"][STATE_ID]["changes"]["flows"]["ngctl"]
    assert "mkpeer flows_nf: one2many export9 one" in ngctl_b
    assert [line for line in ngctl_b if "conf=10" in line], ngctl_b  # vlan0.100: egress only
    ipfw_c = result["nf-c"][STATE_ID]["changes"]["flows"]["ipfw"]["add"]
    assert ipfw_c == ["1000 ngtee 1000 ip from any to any via tun0"]


def test_second_call_changes_nothing(fleet):
    fleet.mutating()
    for mid, states in fleet.apply().items():
        assert changed(states) == {}, mid
        assert all(r["result"] is True for r in states.values())
    assert fleet.mutating() == {mid: [] for mid in FLEET}


def test_test_mode_after_a_pillar_change_previews_exactly_the_change(fleet):
    new = copy.deepcopy(FLEET["nf-b"]["exporter"])
    new["interfaces"]["vlan0.100"] = {"direction": "both"}
    new["timeouts"] = {"active": 600, "inactive": 15}
    fleet.write_pillar("nf-b", new)
    try:
        fleet.mutating()
        result = fleet.apply("test=True")
        assert fleet.mutating() == {mid: [] for mid in FLEET}, "test=True must not touch any host"
        assert changed(result["nf-a"]) == {} and changed(result["nf-c"]) == {}
        diff = changed(result["nf-b"])
        assert set(diff) == {STATE_ID}
        assert result["nf-b"][STATE_ID]["result"] is None
        assert set(diff[STATE_ID]) == {"flows"}
        diff = {STATE_ID: diff[STATE_ID]["flows"]}  # the exporter's changes, as asserted below
        assert sorted(diff[STATE_ID]["ngctl"]) == sorted([
            "msg flows_nf: settimeouts { inactive=15 active=600 }",
            next(line for line in diff[STATE_ID]["ngctl"] if "conf=11" in line),
        ])
        assert len(diff[STATE_ID]["ngctl"]) == 2
        assert not any(w in " ".join(diff[STATE_ID]["ngctl"]) for w in ("shutdown", "mkpeer", "rmhook"))
    finally:
        fleet.write_pillar("nf-b", FLEET["nf-b"]["exporter"])
    for mid, states in fleet.apply("test=True").items():
        assert changed(states) == {}, mid


def test_netgraph_show_answers_from_each_minion(fleet):
    data = fleet.salt("netgraph.show", "flows_nf:")
    hooks = {}
    for mid, show in data.items():
        assert show["name"] == "flows_nf" and show["type"] == "netflow", (mid, show)
        hooks[mid] = {(h["peer_name"], h["peer_hook"]) for h in show["hooks"]}
    assert ("em0", "lower") in hooks["nf-a"] and ("flows_v9", "inet/dgram/udp") in hooks["nf-a"]
    assert {("em0", "lower"), ("em1", "lower"), ("vlan0_100", "lower"), ("flows_v9", "one")} <= hooks["nf-b"]
    assert ("ipfw", "1000") in hooks["nf-c"]
