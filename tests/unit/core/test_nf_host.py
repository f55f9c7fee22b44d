"""Unit tests of the host plan (nf_host, issue 19 class 7), pure functions only: the whole
host's validation, one plan over every exporter in which an interface moved between two
exporters is detached and re-attached on adjacent lines whatever the names, and the
rollback that puts a moved interface back on its old exporter."""
from __future__ import annotations

from netgraph_core import nf_graph
from netgraph_core import nf_host
from netgraph_core import nf_model
from netgraph_core import nf_plan
from netgraph_core import nf_rollback
import pytest

C1 = {"host": "192.0.2.10", "port": 2055}


def cfg(name, interfaces, port=2055):
    return nf_model.validate({"name": name, "interfaces": interfaces, "collectors": [{**C1, "port": port}]})


def built(*cfgs):
    """The graph of ``cfgs`` built from a host with em0..em2 (each planned alone, applied)."""
    g = {"nodes": {i: {"type": "ether", "name": i, "hooks": {}} for i in ("em0", "em1", "em2")},
         "types": ["ether"], "settings": {}}
    for c in cfgs:
        res = nf_plan.diff(g, nf_model.desired(c, g))
        g = {**g, "nodes": {k: {"type": v["type"], "name": k, "hooks": v["hooks"]} for k, v in res["planned"].items()}}
    return g


def host_plan(g, *cfgs, absent=()):
    present = [{"want": nf_model.desired(c, g), "takeover": False, "extra_owned": [],
                "ifnames": nf_plan.attach_points(c)} for c in cfgs]
    return nf_host.plan(g, present, {n: [] for n in absent})


def lines(res):
    return [" ".join(c) for c in res["commands"]]


def passes(g, commands) -> dict:
    sim = nf_graph.PlanGraph(g, {})
    for c in commands:
        if c[0] == "rmhook":
            sim.rmhook(c[1].rstrip(":"), c[2])
        elif c[0] == "connect":
            sim.connect(c[1].rstrip(":"), c[3], c[2].rstrip(":"), c[4])
        elif c[0] == "shutdown":
            sim.shutdown(c[1].rstrip(":"))
    return sim


@pytest.mark.parametrize("gainer,loser", [("aaa", "zzz"), ("zzz", "aaa")])
def test_a_moved_interface_is_detached_and_attached_on_adjacent_lines(gainer, loser):
    g = built(cfg(loser, ["em0", "em1"]), cfg(gainer, ["em2"], 2056))
    res = host_plan(g, cfg(loser, ["em1"]), cfg(gainer, ["em2", "em0"], 2056))
    out = lines(res)
    at = out.index("rmhook em0: lower")
    assert out[at:at + 4] == ["rmhook em0: lower", "rmhook em0: upper", f"connect em0: {gainer}_nf: lower iface1",
                              f"connect em0: {gainer}_nf: upper out1"]
    assert res["exporters"][loser]["commands"], "the loser's share counts the lines that release its interface"
    assert res["planned"]["em0"]["hooks"]["lower"]["peer"] == f"{gainer}_nf"


def test_the_per_exporter_plan_still_refuses_a_held_interface():
    g = built(cfg("zzz", ["em0", "em1"]))
    with pytest.raises(nf_model.ConflictError, match="belongs to exporter zzz"):
        host_plan(g, cfg("aaa", ["em0"], 2056))


def test_an_exporter_removed_in_the_same_plan_releases_its_interfaces():
    g = built(cfg("aaa", ["em0"]))
    res = host_plan(g, cfg("zzz", ["em0"], 2056), absent=["aaa"])
    assert lines(res)[-1] == "shutdown aaa_nf:" and res["exporters"]["aaa"]["changes"]["nodes_removed"] == ["aaa_nf"]


@pytest.mark.parametrize("b_opts,words", [
    (["em0"], "interface em0 is declared by exporters a and b"),
    ({"vlan0_100": None}, "interface vlan0_100 is declared by exporters a and b"),
])
def test_one_interface_belongs_to_one_exporter_of_the_host(b_opts, words):
    a = cfg("a", ["em0", "vlan0.100"])
    with pytest.raises(nf_model.ValidationError, match=words):
        nf_host.check({"a": a, "b": cfg("b", b_opts)})


def test_one_ipfw_hook_and_rule_number_belong_to_one_exporter():
    a = cfg("a", {"tun0": {"attach": "ipfw", "ipfw_hook": 10, "ipfw_rule": 20}})
    b = cfg("b", {"tun1": {"attach": "ipfw", "ipfw_hook": 20, "ipfw_rule": 10}})
    nf_host.check({"a": a, "b": b})  # a hook number and a rule number are not one number
    c = cfg("c", {"tun2": {"attach": "ipfw", "ipfw_hook": 10, "ipfw_rule": 20}})
    with pytest.raises(nf_model.ValidationError) as err:
        nf_host.check({"a": a, "c": c})
    assert "ipfw_hook 10 is declared by exporters a and c" in str(err.value)
    assert "ipfw_rule 20 is declared by exporters a and c" in str(err.value)
    with pytest.raises(nf_model.ValidationError, match="declared and listed to remove"):
        nf_host.check({"a": a}, ["a"])


def test_the_rollback_puts_a_moved_interface_back_on_its_old_exporter():
    before = built(cfg("zzz", ["em0", "em1"]), cfg("aaa", ["em2"], 2056))
    res = host_plan(before, cfg("zzz", ["em1"]), cfg("aaa", ["em2", "em0"], 2056))
    cut = res["commands"].index(["rmhook", "em0:", "upper"]) + 1  # the batch failed right after it
    sim = passes(before, res["commands"][:cut])
    now = {"nodes": {k: {"type": v["type"], "hooks": {h: {"peer": p[0], "peer_hook": p[1]} for h, p in v["hooks"].items()}}
                     for k, v in sim.nodes.items()}}
    undo = nf_rollback.rollback(now, ["aaa", "zzz"], [], {}, before)
    assert [" ".join(c) for c in undo] == ["connect em0: zzz_nf: lower iface0", "connect em0: zzz_nf: upper out0"]
    assert nf_rollback.rollback(now, ["aaa", "zzz"], [], {}, None) == [], "the old rollback left em0 on no exporter"


@pytest.mark.parametrize("ftype", ["pppoe", "vlan", "netflow"])
def test_the_rollback_never_cuts_an_interface_link_a_foreign_node_held_before(ftype):
    """A takeover batch that failed at its first line: em0 still hangs from the foreign
    node it had (a sink to the traffic model for ng_pppoe), and em0 is one of the batch's
    attach points. The rollback removes nothing of it (issue 19 I2, found by make soak on
    an ng_vlan trunk)."""
    hooks = {"lower": {"peer": "trunk", "peer_hook": "downstream"}, "upper": {"peer": "trunk", "peer_hook": "nomatch"}}
    graph = {"nodes": {"em0": {"type": "ether", "hooks": hooks},
                       "trunk": {"type": ftype, "hooks": {"downstream": {"peer": "em0", "peer_hook": "lower"},
                                                         "nomatch": {"peer": "em0", "peer_hook": "upper"}}}}}
    journal = {"dmz": {"attach": ["em0:lower", "em0:upper"]}}
    assert nf_rollback.rollback(graph, ["dmz"], [], journal, graph) == []
    # positive control: without the graph from before, the same interface is detached
    if ftype == "pppoe":
        assert nf_rollback.rollback(graph, ["dmz"], [], journal, None) == [["rmhook", "em0:", "lower"], ["rmhook", "em0:", "upper"]]
