"""Unit tests of the planner's hardening (issue 12), pure functions only: ownership by name
AND type AND position (nf_graph.owned_nodes), one interface for one exporter, only our
ipfw rules ever deleted, rollback of ipfw and of killed batches, and the journal that
proves an unnamed node is a leftover of ours (nf_journal.journal / leftovers)."""
from __future__ import annotations

import copy

from netgraph_core import nf_graph
from netgraph_core import nf_model
from netgraph_core import nf_plan
from netgraph_core import nf_settings
from netgraph_core import nf_journal
from netgraph_core import nf_ipfw
from netgraph_core import nf_rollback
import pytest

C1 = {"host": "192.0.2.10", "port": 2055}
C2 = {"host": "192.0.2.11", "port": 2055}


def node(ntype, nid, name=None, **hooks):
    return {"type": ntype, "id": nid, "name": name,
            "hooks": {h: {"peer": p, "peer_hook": ph} for h, (p, ph) in hooks.items()}}


def host(*ifaces, ipfw=False):
    nodes = {i: node("ether", n + 1, i) for n, i in enumerate(ifaces)}
    if ipfw:
        nodes["ipfw"] = node("ipfw", 50, "ipfw")
    return {"nodes": nodes, "types": ["ether", "socket"], "settings": {}}


def link(g, a, ha, b, hb):
    g["nodes"][a]["hooks"][ha] = {"peer": b, "peer_hook": hb}
    g["nodes"][b]["hooks"][hb] = {"peer": a, "peer_hook": ha}


def exporter(g, name="lan", iface="em0", idx=0, nid=10, fan=False):
    """Exporter ``name`` on ``iface`` with one v9 ksocket (or a two-link fan-out)."""
    nf = f"{name}_nf"
    g["nodes"][nf] = node("netflow", nid, nf)
    link(g, iface, "lower", nf, f"iface{idx}")
    link(g, iface, "upper", nf, f"out{idx}")
    top = f"{name}_v9"
    if fan:
        g["nodes"][top] = node("one2many", nid + 1, top)
        link(g, nf, "export9", top, "one")
        for i in (0, 1):
            g["nodes"][f"{top}_{i}"] = node("ksocket", nid + 2 + i, f"{top}_{i}")
            link(g, top, f"many{i}", f"{top}_{i}", "inet/dgram/udp")
    else:
        g["nodes"][top] = node("ksocket", nid + 1, top)
        link(g, nf, "export9", top, "inet/dgram/udp")
    return g


def cfg_of(name="lan", **params):
    params.setdefault("interfaces", ["em0"])
    params.setdefault("collectors", [C1])
    return nf_model.validate({"name": name, **params})


def plan(g, takeover=False, extra=(), **params):
    cfg = cfg_of(**params)
    want = nf_model.desired(cfg, g)
    return nf_plan.diff(g, want, takeover=takeover, extra_owned=extra, ifnames=nf_plan.attach_points(cfg))


def lines(res):
    return [" ".join(c) for c in res["commands"]] if isinstance(res, dict) else [" ".join(c) for c in res]


# ----------------------------------------------------------------- 10. ownership predicate
def test_our_nodes_are_ours_by_name_type_and_position():
    g = exporter(host("em0"), fan=True)
    assert nf_graph.owned_nodes(g, "lan") == {"lan_nf", "lan_v9", "lan_v9_0", "lan_v9_1"}
    assert nf_graph.owned_nodes(exporter(host("em0")), "lan") == {"lan_nf", "lan_v9"}


@pytest.mark.parametrize("key,ntype", [("lan_v9_0", "ether"), ("lan_nf", "ether"), ("lan_v9", "ether"),
                                       ("lan_v5_3", "ether"), ("lan_nf", "ipfw"), ("lan_v9", "netflow")])
def test_a_node_named_like_ours_of_another_type_is_not_ours(key, ntype):
    g = host("em0")
    g["nodes"][key] = node(ntype, 7, key)
    assert key not in nf_graph.owned_nodes(g, "lan")


def test_a_ksocket_named_like_ours_in_someone_elses_place_is_not_ours():
    g = host("em0")
    g["nodes"]["netflow"] = node("netflow", 5, "netflow")
    g["nodes"]["lan_v9"] = node("ksocket", 6, "lan_v9")
    link(g, "netflow", "export9", "lan_v9", "inet/dgram/udp")
    g["nodes"]["lan_v9_0"] = node("ksocket", 7, "lan_v9_0")
    g["nodes"]["hub"] = node("hub", 8, "hub")
    link(g, "hub", "x", "lan_v9_0", "inet/dgram/udp")
    assert nf_graph.owned_nodes(g, "lan") == set()


def test_a_fanout_that_lost_its_one_hook_is_still_ours():
    g = exporter(host("em0"), fan=True)
    peer = g["nodes"]["lan_nf"]["hooks"].pop("export9")
    g["nodes"]["lan_v9"]["hooks"].pop(peer["peer_hook"])
    assert {"lan_v9", "lan_v9_0", "lan_v9_1"} <= nf_graph.owned_nodes(g, "lan")


def _with_interface_lan_v9_0(fail_free=False):
    """em0 carries exporter lan; an interface called lan_v9_0 carries exporter other."""
    g = exporter(host("em0", "lan_v9_0"))
    return exporter(g, name="other", iface="lan_v9_0", nid=30)


def test_diff_never_shuts_down_an_interface_named_like_our_node():
    g = _with_interface_lan_v9_0()
    g["settings"] = nf_model.desired(cfg_of(), g)["settings"]
    res = plan(g)
    assert res["commands"] == [], lines(res)  # the old planner: "shutdown lan_v9_0:"


def test_absent_rollback_and_settings_leave_an_interface_named_like_ours_alone():
    g = _with_interface_lan_v9_0()
    assert lines(nf_plan.absent_plan(g, "lan")) == ["shutdown lan_nf:"]  # its ksocket goes with it
    assert all(q[0] in ("lan_nf:", "lan_v9:") for q in nf_settings.settings_queries(g, "lan"))
    # lan_v9_0 half-attached to other's node: not lan's to detach
    g["nodes"]["lan_v9_0"]["hooks"].pop("upper")
    g["nodes"]["other_nf"]["hooks"].pop("out0")
    assert nf_rollback.rollback_plan(g, "lan", []) == []
    assert nf_rollback.rollback_plan(g, "other", []) == [["rmhook", "lan_v9_0:", "lower"]]


def test_a_name_of_ours_held_by_an_interface_is_a_conflict():
    with pytest.raises(nf_model.ConflictError, match=r"node lan_nf \(ether\) has a name exporter lan gives"):
        plan(host("em0", "lan_nf"))


# ----------------------------------------------------------------- 9. one interface, one exporter
@pytest.mark.parametrize("takeover", [False, True])
def test_an_interface_of_another_exporter_is_refused_naming_both(takeover):
    g = exporter(host("em0"), name="a")
    with pytest.raises(nf_model.ConflictError) as exc:
        plan(g, takeover=takeover, name="b")
    msg = str(exc.value)
    assert "interface em0" in msg and "exporter a" in msg and "exporter b" in msg and "a_nf" in msg


def test_an_ipfw_hook_of_another_exporter_is_refused_naming_the_interface():
    g = host("em0", ipfw=True)
    g["nodes"]["a_nf"] = node("netflow", 10, "a_nf")
    link(g, "ipfw", "1000", "a_nf", "iface0")
    with pytest.raises(nf_model.ConflictError, match=r"ipfw hook 1000 \(ipfw:1000\), which exporter b declares for "
                       r"interface tun0, is connected to exporter a's netflow node a_nf"):
        plan(g, takeover=True, name="b", interfaces={"tun0": {"attach": "ipfw", "ipfw_hook": 1000}})


def test_a_hand_built_exporter_is_still_taken_over():
    g = host("em0")
    g["nodes"]["netflow"] = node("netflow", 5, "netflow")
    link(g, "em0", "lower", "netflow", "iface0")
    link(g, "em0", "upper", "netflow", "out0")
    g["nodes"]["nfsock"] = node("ksocket", 6, "nfsock")
    link(g, "netflow", "export9", "nfsock", "inet/dgram/udp")
    ls = lines(plan(g, takeover=True))
    assert ls[:2] == ["rmhook em0: lower", "rmhook em0: upper"] and ls[-1] == "shutdown netflow:"


def test_other_exporter_names():
    g = exporter(host("em0"), name="a_v9")
    assert nf_graph.other_exporter(g, "a", "a_v9_nf") == "a_v9"
    assert nf_graph.other_exporter(g, "a_v9", "a_v9_nf") is None
    assert nf_graph.other_exporter(g, "a", "em0") is None and nf_graph.other_exporter(g, "a", "[5]") is None


# ----------------------------------------------------------------- 3. ipfw: only our rules
def _want_tun(rule=1000, hook=1000, **opts):
    cfg = cfg_of(interfaces={"tun0": {"attach": "ipfw", "ipfw_hook": hook, "ipfw_rule": rule, **opts}})
    return nf_model.desired(cfg, host(ipfw=True))


@pytest.mark.parametrize("takeover", [False, True])
def test_a_foreign_rule_at_a_declared_number_is_refused_takeover_or_not(takeover):
    rules = [{"rule": 65000, "text": "allow ip from any to any"}, {"rule": 65535, "text": "deny ip from any to any"}]
    with pytest.raises(nf_model.ConflictError, match=r"ipfw rule 65000 is already used by 'allow ip from any to any'"):
        nf_ipfw.ipfw_diff(rules, host(ipfw=True), _want_tun(rule=65000), "lan", takeover=takeover)


def test_a_foreign_ngtee_rule_is_never_deleted():
    rules = [{"rule": 500, "text": "ngtee 77 ip from any to any via tun1"}]
    assert nf_ipfw.ipfw_diff(rules, host(ipfw=True), _want_tun(), "lan") == {
        "delete": [], "add": [["1000", "ngtee", "1000", "ip", "from", "any", "to", "any", "via", "tun0"]]}
    assert nf_ipfw.ipfw_diff(rules, host(ipfw=True), None, "lan") == {"delete": [], "add": []}


def test_our_stale_rules_are_deleted_with_their_texts_listed():
    g = host("em0", ipfw=True)
    g["nodes"]["lan_nf"] = node("netflow", 10, "lan_nf")
    link(g, "ipfw", "1000", "lan_nf", "iface0")
    rules = [{"rule": 1000, "text": "ngtee 1000 ip from any to any via tun0"},
             {"rule": 1200, "text": "netgraph 1000 ip from any to any in via tun0"}]
    res = nf_ipfw.ipfw_diff(rules, g, None, "lan")
    assert res == {"delete": [1000, 1200], "add": []}
    assert nf_ipfw.ipfw_texts(rules, res["delete"]) == ["1000 ngtee 1000 ip from any to any via tun0",
                                                        "1200 netgraph 1000 ip from any to any in via tun0"]


def test_a_hook_of_another_exporter_does_not_make_its_rule_ours():
    g = host(ipfw=True)
    g["nodes"]["a_nf"] = node("netflow", 10, "a_nf")
    link(g, "ipfw", "1000", "a_nf", "iface0")
    rules = [{"rule": 1000, "text": "ngtee 1000 ip from any to any via tun0"}]
    assert nf_ipfw.ipfw_diff(rules, g, None, "lan") == {"delete": [], "add": []}


def test_a_number_shared_by_our_rule_and_a_foreign_one_is_refused():
    g = host(ipfw=True)  # our rule: it tees into hook 1000, connected to our netflow node
    g["nodes"]["lan_nf"] = node("netflow", 10, "lan_nf")
    link(g, "ipfw", "1000", "lan_nf", "iface0")
    rules = [{"rule": 1000, "text": "ngtee 1000 ip from any to any via tun0"},
             {"rule": 1000, "text": "count ip from any to any via em1"}]
    with pytest.raises(nf_model.ConflictError, match="'ipfw delete 1000' would delete both"):
        nf_ipfw.ipfw_diff(rules, g, _want_tun(rule=1100), "lan")


# ----------------------------------------------------------------- 3b. ipfw: ownership by the hook's real owner
def _tun1_b(hook=1000, rule=1100):
    return nf_model.desired(cfg_of(name="b", interfaces={"tun1": {"attach": "ipfw", "ipfw_hook": hook, "ipfw_rule": rule}}),
                            host(ipfw=True))


@pytest.mark.parametrize("takeover", [False, True])
def test_a_hook_connected_to_another_exporter_is_refused_and_its_rule_kept(takeover):
    """Exporter a tees tun0 into hook 1000 (rule 1000); exporter b declares the same hook
    for tun1 at rule 1100. The old ipfw_diff counted a's rule as b's (it tees into a hook
    b declares) and planned ``ipfw delete 1000``. Refused, naming exporter a."""
    g = host(ipfw=True)
    g["nodes"]["a_nf"] = node("netflow", 10, "a_nf")
    link(g, "ipfw", "1000", "a_nf", "iface0")
    rules = [{"rule": 1000, "text": "ngtee 1000 ip from any to any via tun0"}]
    with pytest.raises(nf_model.ConflictError, match=r"ipfw hook 1000 \(ipfw:1000\), which exporter b declares for "
                       r"interface tun1, is connected to exporter a's netflow node a_nf"):
        nf_ipfw.ipfw_diff(rules, g, _tun1_b(), "b", takeover=takeover)


@pytest.mark.parametrize("takeover", [False, True])
def test_a_hook_connected_to_a_foreign_node_is_refused_naming_it(takeover):
    """A hand-built ng_netflow node ``netflow`` on ipfw:1000 fed by the firewall's rule 500:
    the old code counted rule 500 as ours and deleted it (takeover then took the hook)."""
    g = host(ipfw=True)
    g["nodes"]["netflow"] = node("netflow", 10, "netflow")
    link(g, "ipfw", "1000", "netflow", "iface0")
    rules = [{"rule": 500, "text": "ngtee 1000 ip from any to any via tun1"}]
    with pytest.raises(nf_model.ConflictError, match=r"connected to node netflow \(netflow\) hook iface0, which is not exporter b's"):
        nf_ipfw.ipfw_diff(rules, g, _tun1_b(rule=1000), "b", takeover=takeover)
    with pytest.raises(nf_model.ConflictError, match=r"ipfw hook 1000 .*connected to node netflow"):
        plan(g, takeover=True, name="b", interfaces={"tun1": {"attach": "ipfw", "ipfw_hook": 1000}})


def test_an_unhooked_rule_is_ours_only_at_a_number_we_declare():
    """Exporter a's netflow node is gone but its rule 1000 (ngtee 1000) stays: exporter b,
    declaring hook 1000 at rule 1100, never deletes rule 1000 (the old code did), and does
    not take the hook that rule feeds either (its packets would go to b, and the rule would
    then be b's by its hook): refused, naming the rule."""
    rules = [{"rule": 1000, "text": "ngtee 1000 ip from any to any via tun0"}]
    with pytest.raises(nf_model.ConflictError, match=r"ipfw hook 1000, which exporter b declares, is fed by ipfw rule 1000 "
                       r"'ngtee 1000 ip from any to any via tun0', which is not exporter b's"):
        nf_ipfw.ipfw_diff(rules, host(ipfw=True), _tun1_b(), "b")
    # positive control: at a number b declares, into its hook, nobody's graph using it: b's own (stale) rule
    stale = [{"rule": 1100, "text": "ngtee 1000 ip from any to any in via tun1"}]
    assert nf_ipfw.ipfw_diff(stale, host(ipfw=True), _tun1_b(), "b") == {
        "delete": [1100], "add": [["1100", "ngtee", "1000", "ip", "from", "any", "to", "any", "via", "tun1"]]}


@pytest.mark.parametrize("text", ["allow ip from any to any", "deny ip from any to any", "pass all from any to any"])
def test_a_tee_after_a_rule_that_takes_every_packet_is_refused(text):
    """``ipfw_rule: 1100`` after ``1050 allow ip from any to any``: ipfw stops at rule 1050
    for every packet, so the tee would account nothing. Refused, naming that rule."""
    rules = [{"rule": 1050, "text": text}, {"rule": 65535, "text": "deny ip from any to any"}]
    with pytest.raises(nf_model.ConflictError, match=rf"interfaces.tun1.ipfw_rule: rule 1100 would come after ipfw rule 1050 '{text}'"):
        nf_ipfw.ipfw_diff(rules, host(ipfw=True), _tun1_b(), "b")
    # positive control: the same rule set, the tee before it (and a rule that is not catch-all before it)
    narrow = [{"rule": 900, "text": "allow ip from any to any via em1"}] + rules
    assert nf_ipfw.ipfw_diff(narrow, host(ipfw=True), _tun1_b(rule=1000), "b")["add"][0][0] == "1000"


# ----------------------------------------------------------------- 4. ipfw rollback
def test_ipfw_restore_puts_touched_numbers_back_exactly():
    before = [{"rule": 1000, "text": "ngtee 1000 ip from any to any via tun0"},
              {"rule": 1000, "text": "ngtee 1000 ip from any to any out via tun1"},
              {"rule": 65000, "text": "allow ip from any to any"}]
    now = [{"rule": 2000, "text": "ngtee 2000 ip from any to any via tun0"}, before[2]]
    assert nf_ipfw.ipfw_restore(before, now, [1000, 2000, 65000]) == {
        "delete": [2000],
        "add": [["1000", "ngtee", "1000", "ip", "from", "any", "to", "any", "via", "tun0"],
                ["1000", "ngtee", "1000", "ip", "from", "any", "to", "any", "out", "via", "tun1"]]}
    assert nf_ipfw.ipfw_restore(before, before, [1000]) == {"delete": [], "add": []}


def test_rollback_after_a_takeover_detaches_what_is_left_on_a_freed_interface():
    """Failed between ``rmhook em0: lower`` and ``rmhook em0: upper`` of a takeover: em0's
    upper is still on the foreign node. The batch frees em0 (journal), so it is cut."""
    g = host("em0")
    g["nodes"]["netflow"] = node("netflow", 5, "netflow")
    link(g, "em0", "upper", "netflow", "out0")
    journal = nf_journal.journal(host("em0"), "lan", ["em0:lower", "em0:upper"])
    assert nf_rollback.rollback_plan(g, "lan", [], journal=journal) == [["rmhook", "em0:", "upper"]]
    assert nf_rollback.rollback_plan(g, "lan", []) == []  # the old behaviour: em0 left cut off


# ----------------------------------------------------------------- 5. the journal
def _killed_after_mkpeer():
    """``mkpeer em0: netflow lower iface0`` ran, ``name em0:lower lan_nf`` did not."""
    before = host("em0", "em1")
    journal = nf_journal.journal(before, "lan", nf_plan.attach_points(cfg_of()), boot=100.0)
    g = copy.deepcopy(before)
    g["nodes"]["[4]"] = node("netflow", 4)
    link(g, "em0", "lower", "[4]", "iface0")
    return g, journal


def test_journal_lists_ids_before_and_attach_points():
    g, journal = _killed_after_mkpeer()
    assert journal == {"format": 1, "exporter": "lan", "boot": 100.0, "after": 2, "ids": [1, 2],
                       "attach": ["em0:lower", "em0:upper"]}
    assert nf_journal.journal_load(nf_journal.journal_text(journal), "lan", 100.0 + 1) == journal
    assert nf_journal.journal_path("/var/run/netflow.lock", "lan") == "/var/run/netflow.lan.journal"


@pytest.mark.parametrize("text,boot", [("{", 100.0), ('{"format": 1}', 100.0), ("[]", 100.0), (None, 160.0),
                                       ("other", 100.0)])
def test_a_journal_that_proves_nothing_is_ignored(text, boot):
    _, journal = _killed_after_mkpeer()
    if text is None:
        text = nf_journal.journal_text(journal)  # another boot: IDs start again at a reboot
    elif text == "other":
        text = nf_journal.journal_text({**journal, "exporter": "wan"})
    assert nf_journal.journal_load(text, "lan", boot) is None


def test_an_unnamed_netflow_node_left_on_a_journaled_interface_is_ours():
    g, journal = _killed_after_mkpeer()
    assert nf_journal.leftovers(g, "lan", journal) == ["[4]"]
    res = plan(g, extra=nf_journal.leftovers(g, "lan", journal, named=False))
    assert lines(res)[:3] == ["shutdown [4]:", "mkpeer em0: netflow lower iface0", "name em0:lower lan_nf"]
    assert lines(nf_plan.absent_plan(g, "lan", extra_owned=["[4]"])) == ["shutdown [4]:"]
    assert lines(nf_rollback.rollback_plan(g, "lan", [], journal=journal)) == ["shutdown [4]:"]


@pytest.mark.parametrize("case", ["old_id", "other_interface", "ether", "no_journal"])
def test_an_unnamed_node_the_journal_does_not_prove_is_not_ours(case):
    g, journal = _killed_after_mkpeer()
    if case == "old_id":
        journal = {**journal, "ids": journal["ids"] + [4], "after": 4}
    elif case == "other_interface":
        journal = {**journal, "attach": ["em1:lower", "em1:upper"]}
    elif case == "ether":
        g["nodes"]["[4]"]["type"] = "ether"
    elif case == "no_journal":
        journal = None
    assert nf_journal.leftovers(g, "lan", journal) == []
    if case != "ether":
        with pytest.raises(nf_model.ConflictError, match=r"em0:lower is connected to \[4\]"):
            plan(g, extra=nf_journal.leftovers(g, "lan", journal, named=False))


def test_unnamed_ksockets_and_fanouts_under_our_nodes_are_leftovers_too():
    before = exporter(host("em0"))
    del before["nodes"]["lan_v9"], before["nodes"]["lan_nf"]["hooks"]["export9"]
    journal = nf_journal.journal(before, "lan", ["em0:lower", "em0:upper"])
    g = copy.deepcopy(before)
    g["nodes"]["[c]"] = node("one2many", 12)
    link(g, "lan_nf", "export9", "[c]", "one")
    g["nodes"]["[e]"] = node("ksocket", 14)
    link(g, "[c]", "many0", "[e]", "inet/dgram/udp")
    assert nf_journal.leftovers(g, "lan", journal) == ["[c]", "[e]"]
    assert nf_journal.leftovers(g, "lan", journal, named=False) == ["[c]", "[e]"]


def test_a_killed_batch_is_rolled_back_by_ids_whatever_its_last_line():
    """ngctl killed: no failing line is known. Everything of ours with a new ID goes, the
    netflow node first; nodes that were there before stay."""
    before = host("em0", "em1")
    journal = nf_journal.journal(before, "lan", ["em0:lower", "em0:upper", "em1:lower", "em1:upper"])
    g = exporter(copy.deepcopy(before), nid=9)
    assert nf_journal.leftovers(g, "lan", journal) == ["lan_nf", "lan_v9"]
    assert lines(nf_rollback.rollback_plan(g, "lan", [], journal=journal)) == ["shutdown lan_nf:"]
    assert nf_rollback.rollback_plan(exporter(host("em0", "em1"), nid=9), "lan", [],
                                 journal=nf_journal.journal(exporter(host("em0", "em1"), nid=9), "lan", [])) == []


def test_a_new_journal_keeps_the_proof_of_earlier_leftovers():
    """A second run that is killed too must still recognise the first run's leftovers."""
    g, first = _killed_after_mkpeer()
    g["nodes"]["b_nf"] = node("netflow", 9, "b_nf")  # someone else's node made since
    second = nf_journal.journal(g, "lan", ["em1:lower", "em1:upper"], first, boot=100.0)
    assert 4 not in second["ids"] and 9 in second["ids"] and second["after"] == first["after"]
    assert second["attach"] == ["em0:lower", "em0:upper", "em1:lower", "em1:upper"]
    assert nf_journal.leftovers(g, "lan", second) == ["[4]"]
    fresh = nf_journal.journal(host("em0"), "lan", [], first)
    assert fresh["after"] == 1 and fresh["ids"] == [1]


def test_the_planners_copy_of_the_settings_shares_nothing_with_the_read():
    """PlanGraph copies the read's settings with nf_graph.plain_copy: equal, and no
    container shared, so a plan never edits the read it was given (a tuple or any other
    value goes through copy.deepcopy)."""
    from netgraph_core.nf_graph import PlanGraph, plain_copy

    settings = {"lan_nf": {"timeouts": {"inactive": 15, "active": 1800}, "ifaces": {0: {"dlt": 1, "conf": 3}},
                           "exported": False, "mtu": 1500}, "lan_v9": {"peer": None, "links": [[1, 2]], "t": (1, [2])}}
    sim = PlanGraph({"nodes": {}}, settings)
    assert sim.settings == settings == plain_copy(settings)
    sim.settings["lan_nf"]["ifaces"][0]["conf"] = 0
    sim.settings["lan_v9"]["links"][0].append(3)
    sim.settings["lan_v9"]["t"][1].append(3)
    assert settings["lan_nf"]["ifaces"][0]["conf"] == 3 and settings["lan_v9"]["links"] == [[1, 2]]
    assert settings["lan_v9"]["t"] == (1, [2])
