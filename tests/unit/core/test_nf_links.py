"""Unit tests of nf_links (traffic through the graph model) and of the planner paths that use
it (issue 19, classes 2 and 3): which interfaces pass, the re-join of a foreign chain
spliced around our netflow node when it goes, the refusal when none is safe, and the
rollback that reconnects what a failed batch removed. Pure functions only."""
from __future__ import annotations

import copy

from netgraph_core import nf_graph
from netgraph_core import nf_links
from netgraph_core import nf_model
from netgraph_core import nf_plan
from netgraph_core import nf_journal
from netgraph_core import nf_rollback
import pytest

from test_plan_hardening import cfg_of, exporter, host, link, lines, node, plan


def sim(g):
    return nf_graph.PlanGraph(g, {})


def tee_spliced(side="lower", iface="em0", idx=0, g=None):
    """Exporter lan on ``iface`` with an ng_tee ``tap`` between the interface and lan_nf."""
    g = g or exporter(host("em0", "em1"))
    g["nodes"]["tap"] = node("tee", 40, "tap")
    ours = f"iface{idx}" if side == "lower" else f"out{idx}"
    for h in (side, ours):  # cut the direct link first
        g["nodes"][iface if h == side else "lan_nf"]["hooks"].pop(h)
    link(g, iface, side, "tap", "right" if side == "lower" else "left")
    link(g, "tap", "left" if side == "lower" else "right", "lan_nf", ours)
    return g


# ----------------------------------------------------------------- passing
def test_an_interface_passes_directly_through_a_tee_or_our_node():
    g = host("em0", "em1")
    assert nf_links.blackholed(g) == []
    assert nf_links.blackholed(exporter(host("em0", "em1"))) == []
    assert nf_links.blackholed(tee_spliced("lower")) == []
    assert nf_links.blackholed(tee_spliced("upper")) == []


def test_a_tee_with_one_side_free_blackholes_the_interface():
    """The positive control: the check does say "cut" (what the old removal left)."""
    g = tee_spliced("lower")
    s = sim(g)
    s.shutdown("lan_nf")
    assert nf_links.cut_off(s) == ["em0"]
    g = host("em0")
    g["nodes"]["lan_nf"] = node("netflow", 9, "lan_nf")
    link(g, "em0", "lower", "lan_nf", "iface0")
    assert nf_links.blackholed(g) == ["em0"]  # half attached
    link(g, "em0", "upper", "lan_nf", "out1")
    assert nf_links.blackholed(g) == ["em0"]  # iface0 forwards to out0, not out1


def test_forward_follows_each_type():
    assert nf_links.forward("netflow", "iface3", {}) == ["out3"]
    assert nf_links.forward("netflow", "out3", {}) == ["iface3"]
    assert nf_links.forward("netflow", "export9", {}) == []
    assert nf_links.forward("tee", "right", {}) == ["left", "right2left"]
    assert nf_links.forward("hub", "a", {"a": 1, "b": 1, "c": 1}) == ["b", "c"]
    assert nf_links.forward("one2many", "many2", {"one": 1}) == ["one"]
    assert nf_links.forward("ksocket", "inet/dgram/udp", {}) == []


# ----------------------------------------------------------------- absent: re-join or refuse
@pytest.mark.parametrize("side,rejoin", [("lower", "connect tap: em0: left upper"),
                                          ("upper", "connect em0: tap: lower right")])
def test_absent_rejoins_a_tee_on_the_line_after_the_shutdown(side, rejoin):
    g = tee_spliced(side)
    res = nf_plan.absent_plan(g, "lan")
    assert lines(res) == ["shutdown lan_nf:", rejoin]
    s = sim(g)
    for c in res["commands"]:
        if c[0] == "shutdown":
            s.shutdown(c[1].rstrip(":"))
        else:
            s.connect(c[1].rstrip(":"), c[3], c[2].rstrip(":"), c[4])
    assert nf_links.cut_off(s) == []
    assert res["rejoined"] and res["cut_before"] == []
    assert ["lan_nf", "iface0" if side == "lower" else "out0", "tap", "left" if side == "lower" else "right"] \
        in res["restore"]["unlinked"] or ["tap", "left", "lan_nf", "iface0"] in res["restore"]["unlinked"]


def test_absent_of_a_plain_exporter_rejoins_nothing():
    res = nf_plan.absent_plan(exporter(host("em0")), "lan")
    assert lines(res) == ["shutdown lan_nf:"] and res["rejoined"] == [] and res["restore"]["rejoin"] == []


def test_absent_that_cannot_rejoin_is_refused_naming_the_foreign_node():
    """em0 -> xf:iface0, xf:out0 -> lan_nf:iface0, lan_nf:out0 -> xf:iface1, xf:out1 -> em0:
    the two freed hooks are on one node; no link re-joins them."""
    g = exporter(host("em0"))
    g["nodes"]["em0"]["hooks"] = {}
    g["nodes"]["lan_nf"]["hooks"].pop("iface0")
    g["nodes"]["lan_nf"]["hooks"].pop("out0")
    g["nodes"]["xf"] = node("netflow", 30, "xf")
    link(g, "em0", "lower", "xf", "iface0")
    link(g, "xf", "out0", "lan_nf", "iface0")
    link(g, "lan_nf", "out0", "xf", "iface1")
    link(g, "xf", "out1", "em0", "upper")
    assert nf_links.blackholed(g) == []
    with pytest.raises(nf_model.ConflictError, match=r"interface em0 .*xf \(netflow\)"):
        nf_plan.absent_plan(g, "lan")


def test_an_interface_already_cut_by_someone_else_does_not_block_removal():
    g = exporter(host("em0", "em1"))
    g["nodes"]["sink"] = node("ksocket", 33, "sink")
    link(g, "em1", "lower", "sink", "inet/dgram/udp")
    res = nf_plan.absent_plan(g, "lan")
    assert lines(res) == ["shutdown lan_nf:"] and res["cut_before"] == ["em1"]


# ----------------------------------------------------------------- present path
def test_dropping_a_spliced_interface_rejoins_it():
    g = exporter(host("em0", "em1"))
    link(g, "em1", "lower", "lan_nf", "iface1")
    link(g, "em1", "upper", "lan_nf", "out1")
    g = tee_spliced("lower", iface="em1", idx=1, g=g)
    assert nf_links.blackholed(g) == []
    res = plan(g, interfaces=["em0"])
    assert lines(res)[-3:] == ["rmhook lan_nf: iface1", "rmhook lan_nf: out1", "connect tap: em1: left upper"]
    assert res["changes"]["rejoined"] == ["tap:left <-> em1:upper"]


def test_takeover_of_a_spliced_interface_replaces_the_tee_and_is_checked():
    g = tee_spliced("lower")
    with pytest.raises(nf_model.ConflictError, match="tap"):
        plan(g)
    res = lines(plan(g, takeover=True))
    assert res[:4] == ["rmhook em0: lower", "rmhook em0: upper", "connect em0: lan_nf: lower iface1",
                       "connect em0: lan_nf: upper out1"]
    assert res[-1] == "rmhook lan_nf: iface0" and "shutdown tap:" not in res  # ng_tee goes with its last hook


def test_a_taken_over_node_still_serving_another_interface_through_a_tee_is_kept():
    """The foreign exporter ``netflow`` serves em0 directly and em1 through two tees: taking
    em0 over leaves it in place (the old retire saw no ng_ether peer, shut it down and cut
    em1 off)."""
    g = host("em0", "em1")
    g["nodes"]["netflow"] = node("netflow", 20, "netflow")
    g["nodes"]["nfsock"] = node("ksocket", 22, "nfsock")
    link(g, "netflow", "export9", "nfsock", "inet/dgram/udp")
    link(g, "em0", "lower", "netflow", "iface0")
    link(g, "em0", "upper", "netflow", "out0")
    g["nodes"]["tap"] = node("tee", 21, "tap")
    g["nodes"]["tap2"] = node("tee", 23, "tap2")
    link(g, "em1", "lower", "tap", "right")
    link(g, "tap", "left", "netflow", "iface1")
    link(g, "netflow", "out1", "tap2", "left")
    link(g, "tap2", "right", "em1", "upper")
    assert nf_links.blackholed(g) == []
    res = plan(g, takeover=True)
    assert "shutdown netflow:" not in lines(res)
    del g["nodes"]["tap"], g["nodes"]["tap2"]
    g["nodes"]["em1"]["hooks"] = {}
    for h in ("iface1", "out1"):
        g["nodes"]["netflow"]["hooks"].pop(h)
    link(g, "em1", "lower", "netflow", "iface1")
    link(g, "em1", "upper", "netflow", "out1")
    assert "shutdown netflow:" not in lines(plan(g, takeover=True))  # directly: as before
    g["nodes"]["em1"]["hooks"] = {}
    for h in ("iface1", "out1"):
        g["nodes"]["netflow"]["hooks"].pop(h)
    assert lines(plan(g, takeover=True))[-1] == "shutdown netflow:"


# ----------------------------------------------------------------- rollback restores
def _seed_hand_built():
    g = host("em0")
    g["nodes"]["netflow"] = node("netflow", 5, "netflow")
    g["nodes"]["nfsock"] = node("ksocket", 6, "nfsock")
    link(g, "em0", "lower", "netflow", "iface0")
    link(g, "em0", "upper", "netflow", "out0")
    link(g, "netflow", "export9", "nfsock", "inet/dgram/udp")
    return g


def test_rollback_of_a_takeover_reconnects_the_foreign_exporter():
    """Failed at ``rmhook em0: upper`` (line 2): only em0:lower was cut. The rollback puts
    it back on the foreign node, as the graph was before the batch."""
    g = _seed_hand_built()
    res = plan(g, takeover=True)
    now = copy.deepcopy(g)
    now["nodes"]["em0"]["hooks"].pop("lower")
    now["nodes"]["netflow"]["hooks"].pop("iface0")
    journal = nf_journal.journal(g, "lan", nf_plan.attach_points(cfg_of()))
    undo = nf_rollback.rollback_plan(now, "lan", [], journal=journal, restore=res["restore"])
    assert lines(undo) == ["connect em0: netflow: lower iface0"]
    # without restore (the old rollback): em0 is detached, the foreign exporter left idle
    assert lines(nf_rollback.rollback_plan(now, "lan", [], journal=journal)) == ["rmhook em0: upper"]


def test_rollback_after_our_node_was_made_shuts_it_down_then_reconnects():
    g = _seed_hand_built()
    res = plan(g, takeover=True)
    now = copy.deepcopy(g)
    for h in ("lower", "upper"):
        now["nodes"]["em0"]["hooks"].pop(h)
    now["nodes"]["netflow"]["hooks"] = {"export9": {"peer": "nfsock", "peer_hook": "inet/dgram/udp"}}
    now["nodes"]["lan_nf"] = node("netflow", 9, "lan_nf")
    link(now, "em0", "lower", "lan_nf", "iface0")
    link(now, "em0", "upper", "lan_nf", "out0")
    undo = nf_rollback.rollback_plan(now, "lan", ["lan_nf"], journal=None, restore=res["restore"])
    assert lines(undo) == ["shutdown lan_nf:", "connect em0: netflow: lower iface0", "connect em0: netflow: upper out0"]


def test_rollback_of_a_removal_stopped_before_its_rejoin_makes_it():
    g = tee_spliced("lower")
    res = nf_plan.absent_plan(g, "lan")
    now = copy.deepcopy(g)
    s = sim(now)
    s.shutdown("lan_nf")
    now = {"nodes": {k: {"type": v["type"], "hooks": {h: {"peer": p[0], "peer_hook": p[1]} for h, p in v["hooks"].items()}}
                     for k, v in s.nodes.items()}}
    assert nf_links.blackholed(now) == ["em0"]
    undo = nf_rollback.rollback_plan(now, "lan", [], journal={"ids": [], "attach": []}, restore=res["restore"])
    assert lines(undo) == ["connect tap: em0: left upper"]


def test_unlinked_lists_links_the_plan_removes_once():
    before = sim(exporter(host("em0")))
    after = sim(exporter(host("em0")))
    after.rmhook("lan_nf", "iface0")
    assert nf_links.unlinked(before, after) == [["em0", "lower", "lan_nf", "iface0"]]
    assert nf_links.unlinked(before, before) == []
