"""The pure parts of issue 14 parts 2 and 3: changes in the pillar's terms
(nf_changes.pillar_changes), one canonical order for new interface and collector indices
(nf_model), the graph as it will be once modules load (nf_model.projected), and the
text helpers of netgraph.list/show/interfaces (ng_text)."""
from __future__ import annotations

import copy
import itertools

import pytest

from netgraph_core import nf_changes
from netgraph_core import nf_model
from netgraph_core import nf_plan
from netgraph_core import nf_resolve
from netgraph_core import ng_words
from netgraph_core import ng_snapshot
from netgraph_core import ng_systext
from netgraph_core import nf_boot
from netgraph_core import nf_ipfw

C1 = {"host": "192.0.2.10", "port": 2055}
C2 = {"host": "192.0.2.11", "port": 2055}
C3 = {"host": "192.0.2.9", "port": 2055}
C5 = {"host": "192.0.2.12", "port": 9995, "version": 5}
TUN = {"attach": "ipfw", "ipfw_hook": 1000}


def cfg_of(interfaces=None, collectors=None, **extra) -> dict:
    return nf_model.validate({"name": "lan", "interfaces": interfaces or ["em0"], "collectors": collectors or [C1],
                              **extra})


def host(*ifaces, ipfw=False) -> dict:
    nodes = {nf_model.ether_node_name(i): {"name": nf_model.ether_node_name(i), "type": "ether", "id": n + 1,
                                           "hooks": {}} for n, i in enumerate(ifaces)}
    if ipfw:
        nodes["ipfw"] = {"name": "ipfw", "type": "ipfw", "id": 99, "hooks": {}}
    return {"nodes": nodes, "types": ["ether", "ipfw", "socket"], "settings": {}}


def applied(current: dict, cfg: dict) -> dict:
    """``current`` after the plan of ``cfg`` ran: the desired graph, settings included,
    with peer types and names as netgraph.graph reports them."""
    want = nf_model.desired(cfg, current)
    nodes = copy.deepcopy(current["nodes"])
    for key, spec in want["nodes"].items():
        node = nodes.setdefault(key, {"name": key, "type": spec["type"], "id": 1000 + len(nodes), "hooks": {}})
        node["hooks"] = {h: dict(p) for h, p in spec["hooks"].items()}
    for node in nodes.values():
        for peer in node["hooks"].values():
            peer["peer_type"] = nodes[peer["peer"]]["type"]
    return {"nodes": nodes, "types": current["types"], "settings": copy.deepcopy(want["settings"])}


def rules_of(cfg: dict) -> list[dict]:
    want = nf_model.desired(cfg, {"nodes": {}})
    return [{"rule": n, "text": t} for n, t in sorted(want["ipfw"].items())] + [{"rule": 65535, "text": "deny ip from any to any"}]


def changes(current: dict, cfg: dict, rules=(), modules=()) -> dict:
    want = nf_model.desired(cfg, current)
    plan = nf_plan.diff(current, want)
    plan["ipfw"] = nf_ipfw.ipfw_diff(list(rules), current, want, cfg["name"])
    if plan["ipfw"]["add"]:  # as the glue's _ipfw_changes puts it: kept by pillar_changes as it is
        plan["changes"]["ipfw"] = {"add": [" ".join(a) for a in plan["ipfw"]["add"]]}
    return nf_changes.pillar_changes(current, cfg, plan, rules, modules)


# ----------------------------------------------------------------------------- created
def test_a_first_build_is_created_and_invents_no_old_values():
    cfg = cfg_of({"em0": None, "vlan0.100": {"direction": "egress"}, "tun0": TUN}, [C1, C5])
    got = changes(host("em0", "vlan0.100", ipfw=True), cfg, modules=["ng_ether"])
    assert got["exporter"] == "created"
    assert got["interfaces"] == {"em0": "added (direction both)", "vlan0.100": "added (direction egress)",
                                 "tun0": "added (via ipfw rule 1000, ngtee 1000, direction both)"}
    assert got["collectors"] == ["192.0.2.10:2055 v9 added", "192.0.2.12:9995 v5 added"]
    assert got["settings"] == {"timeouts.active": "1800", "timeouts.inactive": "15", "template.time": "600",
                               "template.packets": "500", "mtu": "1500"}
    assert got["modules"] == ["ng_ether"]
    assert not any(nf_changes.ARROW in str(v) for v in got.values()), "a new exporter has no old values"
    assert not {"nodes_added", "hooks_added"} & set(got), "netgraph-level keys are gone from changes"


def test_no_change_is_an_empty_mapping():
    cfg = cfg_of(["em0"], [C1])
    live = applied(host("em0"), cfg)
    assert changes(live, cfg) == {}


# ----------------------------------------------------------------------------- updated
def test_changes_per_interface_collector_and_setting_in_the_pillars_terms():
    before = cfg_of({"em0": None, "vlan0.100": None, "em1": None}, [C1])
    live = applied(host("em0", "em1", "vlan0.100"), before)
    after = cfg_of({"em0": None, "vlan0.100": {"direction": "egress", "once": False}}, [C1, C2],
                   timeouts={"active": 600, "inactive": 15})
    got = changes(live, after)
    assert got["exporter"] == "updated"
    assert got["interfaces"] == {"vlan0.100": "direction both → egress, once true → false", "em1": "removed"}
    assert got["collectors"] == ["192.0.2.11:2055 v9 added"]
    assert got["settings"] == {"timeouts.active": "1800 → 600"}
    assert "modules" not in got and "repaired" not in got


def test_a_collector_repointed_is_one_removed_and_one_added():
    live = applied(host("em0"), cfg_of(["em0"], [C1]))
    assert changes(live, cfg_of(["em0"], [C2]))["collectors"] == ["192.0.2.10:2055 v9 removed",
                                                                  "192.0.2.11:2055 v9 added"]


def test_ipfw_interface_direction_and_rule_come_from_its_rule():
    cfg = cfg_of({"em0": None, "tun0": TUN}, [C1])
    live = applied(host("em0", ipfw=True), cfg)
    new = cfg_of({"em0": None, "tun0": {**TUN, "direction": "ingress", "ipfw_rule": 1001}}, [C1])
    got = changes(live, new, rules=rules_of(cfg))
    assert got["interfaces"] == {"tun0": "ipfw_rule 1000 → 1001, direction both → ingress"}
    assert got["ipfw"]["add"] == ["1001 ngtee 1000 ip from any to any in via tun0"]
    gone = changes(live, cfg_of(["em0"], [C1]), rules=rules_of(cfg))
    assert gone["interfaces"] == {"tun0": "removed"}


def test_drift_is_said_in_pillar_terms_or_as_a_repair():
    cfg = cfg_of(["em0", "em1"], [C1, C2])
    live = applied(host("em0", "em1"), cfg)
    cut = copy.deepcopy(live)
    del cut["nodes"]["em1"]["hooks"]["upper"], cut["nodes"]["lan_nf"]["hooks"]["out1"]
    assert changes(cut, cfg)["interfaces"] == {"em1": "reattached"}
    off = copy.deepcopy(live)
    off["settings"]["lan_v9"]["config"]["enabledLinks"] = [1, 0]
    got = changes(off, cfg)
    assert got["exporter"] == "updated" and set(got) == {"exporter", "repaired"}
    assert got["repaired"] == ["lan_v9.config {'xmitAlg': 2, 'failAlg': 1, 'enabledLinks': [1, 0]} → "
                               "{'xmitAlg': 2, 'failAlg': 1, 'enabledLinks': [1, 1]}"]


def test_what_the_planner_says_in_its_own_terms_is_kept_and_socket_changes_are_per_collector():
    cfg = cfg_of(["em0"], [C1])
    live = applied(host("em0"), cfg)
    plan = {"commands": [["msg", "lan_v9:", "bind", "inet/10.0.0.1:0"]], "ipfw": {"delete": [], "add": []},
            "changes": {"settings": {"lan_v9.source": {"old": None, "new": "10.0.0.1"}}, "nodes_added": ["lan_v9"],
                        "resolved": {"collector.example": "192.0.2.10"}}}
    assert nf_changes.pillar_changes(live, cfg, plan) == {
        "exporter": "updated", "collectors": ["192.0.2.10:2055 v9 source none → 10.0.0.1"],
        "resolved": {"collector.example": "192.0.2.10"}}


def test_absent_says_removed_for_every_part():
    cfg = cfg_of({"em0": None, "vlan0.100": None}, [C1, C5])
    live = applied(host("em0", "vlan0.100"), cfg)
    absent = nf_plan.absent_plan(live, "lan")
    plan = {"commands": absent["commands"], "ipfw": {"delete": [], "add": []}, "changes": {}}
    got = nf_changes.pillar_changes(live, None, plan, name="lan")
    assert got == {"exporter": "removed", "interfaces": {"em0": "removed", "vlan0_100": "removed"},
                   "collectors": ["192.0.2.10:2055 v9 removed", "192.0.2.12:9995 v5 removed"]}


def test_collector_labels():
    assert nf_changes.collector_label({"host": "192.0.2.1", "port": 2055, "version": 9}) == "192.0.2.1:2055 v9"
    assert nf_changes.collector_label({"host": "2001:db8::1", "port": 2055, "version": 9}) == "[2001:db8::1]:2055 v9"


def test_a_name_collector_is_said_with_its_address_and_ordered_by_it():
    named = nf_resolve.resolve(cfg_of(["em0"], [C3, {"host": "nf.example.net", "port": 2055}]),
                               {"nf.example.net": ["192.0.2.200", "192.0.2.8"]})
    assert changes(host("em0"), named)["collectors"] == ["192.0.2.9:2055 v9 added",
                                                          "nf.example.net:2055 v9 (192.0.2.8) added"]
    lines = [" ".join(c) for c in nf_plan.diff(host("em0"), nf_model.desired(named, host("em0")))["commands"]]
    # ordered by the address the kernel gets (192.0.2.8 before 192.0.2.9), not by the name
    assert lines.index("msg lan_v9_0: connect inet/192.0.2.8:2055") < lines.index("msg lan_v9_1: connect inet/192.0.2.9:2055")


def test_a_removed_ipv6_collector_is_said_as_an_address_not_as_sockaddr_bytes():
    v6 = {"host": "2001:db8::53", "port": 2055}
    live = applied(host("em0"), cfg_of(["em0"], [C1, v6]))
    assert changes(live, cfg_of(["em0"], [C1]))["collectors"] == ["[2001:db8::53]:2055 v9 removed"]


# ----------------------------------------------------------------------------- pillar order
IFACES = {"em0": None, "vlan0.100": {"direction": "egress"}, "tun0": TUN, "em1": {"once": False}}
COLLECTORS = [C1, C2, C3, C5, {"host": "192.0.2.13", "port": 9995, "version": 5}]


def test_the_same_pillar_in_any_order_gives_the_same_plan():
    live = host("em0", "em1", "vlan0.100", ipfw=True)
    plans = set()
    for keys in itertools.permutations(IFACES):
        for coll in (COLLECTORS, COLLECTORS[::-1], COLLECTORS[2:] + COLLECTORS[:2]):
            cfg = cfg_of({k: IFACES[k] for k in keys}, coll)
            plans.add(tuple(" ".join(c) for c in nf_plan.diff(live, nf_model.desired(cfg, live))["commands"]))
            assert nf_boot.build_script(cfg) == nf_boot.build_script(cfg_of(IFACES, COLLECTORS))
    assert len(plans) == 1
    (lines,) = plans
    assert "mkpeer em0: netflow lower iface0" in lines and "connect em1: lan_nf: lower iface1" in lines
    assert "connect ipfw: lan_nf: 1000 iface2" in lines and "connect vlan0_100: lan_nf: lower iface3" in lines
    # collectors by (version, address, port): 192.0.2.9 before 192.0.2.10, as addresses
    assert lines.index("msg lan_v9_0: connect inet/192.0.2.9:2055") < lines.index(
        "msg lan_v9_1: connect inet/192.0.2.10:2055")


def test_existing_indices_stay_and_new_ones_take_the_lowest_free_in_name_order():
    live = applied(host("em0", "em1", "em2", "em3"), cfg_of(["em3", "em1"], [C2, C1]))
    hooks = live["nodes"]["lan_nf"]["hooks"]
    assert (hooks["iface0"]["peer"], hooks["iface1"]["peer"]) == ("em1", "em3")
    want = nf_model.desired(cfg_of(["em3", "em2", "em1", "em0"], [C3, C1, C2]), live)
    got = {p["peer"]: h for h, p in want["nodes"]["lan_nf"]["hooks"].items() if h.startswith("iface")}
    assert got == {"em1": "iface0", "em3": "iface1", "em0": "iface2", "em2": "iface3"}
    peers = {k: v["peer"] for k, v in want["settings"].items() if k.startswith("lan_v9_")}
    assert peers == {"lan_v9_0": "inet/192.0.2.10:2055", "lan_v9_1": "inet/192.0.2.11:2055",
                     "lan_v9_2": "inet/192.0.2.9:2055"}


# ----------------------------------------------------------------------------- projected
def test_projected_graph_has_the_nodes_the_modules_will_make():
    fresh = {"nodes": {}, "types": ["socket"]}
    got = nf_model.projected(fresh, ["ng_ether", "ng_ipfw"], ["em0", "vlan0.100"])
    assert sorted(got["nodes"]) == ["em0", "ipfw", "vlan0_100"]
    assert got["nodes"]["vlan0_100"] == {"name": "vlan0_100", "type": "ether", "id": None, "num_hooks": 0, "hooks": {}}
    assert got["types"] == ["ether", "ipfw", "socket"] and fresh == {"nodes": {}, "types": ["socket"]}
    assert sorted(nf_model.projected(fresh, ["ng_ipfw"], ["em0"])["nodes"]) == ["ipfw"]
    cfg = cfg_of({"em0": None, "tun0": TUN}, [C1])
    nf_model.check_interfaces(cfg, got)  # planable as if loaded
    with pytest.raises(nf_model.ValidationError, match="em1"):
        nf_model.check_interfaces(cfg_of(["em1"], [C1]), got)


def test_an_unknown_interface_is_told_the_hosts_interfaces_sorted_and_bounded():
    got = nf_model.projected({"nodes": {}, "types": []}, ["ng_ether", "ng_ipfw"], ["vlan0.100", "em1", "em0"])
    err = str(pytest.raises(nf_model.ValidationError, nf_model.check_interfaces, cfg_of(["em7"], [C1]), got).value)
    assert err.endswith("; this host's Ethernet interfaces (ng_ether nodes): em0, em1, vlan0_100"), err
    assert "ipfw" not in err.split("; ")[-1], "only Ethernet interfaces are listed, not the ipfw node"
    many = nf_model.projected({"nodes": {}, "types": []}, ["ng_ether"], [f"em{i}" for i in range(25, 0, -1)])
    err = str(pytest.raises(nf_model.ValidationError, nf_model.check_interfaces, cfg_of(["igb0"], [C1]), many).value)
    shown = sorted(f"em{i}" for i in range(1, 26))[:20]
    assert err.endswith(f"(ng_ether nodes): {', '.join(shown)} and 5 more"), err
    none = {"nodes": {"ipfw": {"name": "ipfw", "type": "ipfw", "hooks": {}}}}
    err = str(pytest.raises(nf_model.ValidationError, nf_model.check_interfaces, cfg_of(["em0"], [C1]), none).value)
    assert err.endswith("this host has no Ethernet interface that ng_ether knows of"), err


# ----------------------------------------------------------------------------- ng_text
@pytest.mark.parametrize("text, names", [
    ("em0 vlan0.100 bridge0\n", ["em0", "vlan0.100", "bridge0"]),
    ("\n", []),
    ("", []),
    ("lo0\n", ["lo0"]),
])
def test_parse_ifconfig_list(text, names):
    assert ng_systext.parse_ifconfig_list(text) == names


@pytest.mark.parametrize("text", [
    "em0: flags=8843<UP,BROADCAST> metric 0 mtu 1500\n\tether 00:00:00:00:00:01\n",
    "em0 em0\n",
    "em0 thisnameiswaytoolong0\n",
])
def test_parse_ifconfig_list_refuses_other_text(text):
    with pytest.raises(ValueError):
        ng_systext.parse_ifconfig_list(text)


def test_ether_node_names_and_ids_as_ngctl_writes_them():
    assert ng_words.ether_node_name("vlan0.100") == "vlan0_100" == nf_model.ether_node_name("vlan0.100")
    node = {"name": None, "type": "netflow", "id": 0x4D, "num_hooks": 1,
            "hooks": [{"hook": "iface0", "peer_name": "em0", "peer_type": "ether", "peer_id": 3, "peer_hook": "lower"}]}
    got = ng_snapshot.as_ngctl_ids(node)
    assert got["id"] == "0000004d" and got["path"] == "[4d]:"
    assert got["hooks"][0]["peer_id"] == "00000003" and got["hooks"][0]["peer_path"] == "[3]:"
    assert node["id"] == 0x4D, "the parsed node is left as it was"
    assert ng_snapshot.as_ngctl_ids({"name": "em0", "type": "ether", "id": 5, "num_hooks": 0})["path"] == "[5]:"


def test_a_missing_node_before_ng_ether_is_loaded_says_so():
    err = "ngctl: send msg: No such file or directory"
    assert ng_snapshot.missing_node_error("em0:", err, ["socket"]).startswith("ng_ether is not loaded: no node em0:")
    assert ng_snapshot.missing_node_error("em0:", err, ["ether", "socket"]) == err
    assert ng_snapshot.missing_node_error("[4d]:", err, ["socket"]) == err
