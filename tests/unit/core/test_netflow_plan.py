"""Unit tests of the pure planning functions in _modules/netflow.py (no Salt, no ngctl).

The module file is imported directly, as Salt's loader would load it one file at a time.
"""
from __future__ import annotations

import copy
import pathlib

from netgraph_core import nf_args
from netgraph_core import nf_dot
from netgraph_core import nf_model
from netgraph_core import nf_plan
from netgraph_core import nf_settings
from netgraph_core import nf_boot
from netgraph_core import nf_ipfw
from netgraph_core import nf_rollback
import pytest

from tests.support.bad_input import BAD, BAD_PURE, _with

REPO = pathlib.Path(__file__).resolve().parents[3]

C1 = {"host": "192.0.2.10", "port": 2055}
C2 = {"host": "192.0.2.11", "port": 2055}
C5 = {"host": "192.0.2.12", "port": 9995, "version": 5}


def host(*ifaces, ipfw=False):
    """A live graph with only ng_ether nodes (and the ipfw node)."""
    nodes = {i.replace(".", "_"): {"type": "ether", "hooks": {}} for i in ifaces}
    if ipfw:
        nodes["ipfw"] = {"type": "ipfw", "hooks": {}}
    return {"nodes": nodes, "types": ["ether", "socket"], "settings": {}}


def as_current(want: dict, base: dict) -> dict:
    """The live graph that ``want`` describes, as netgraph.graph + settings would return it."""
    g = copy.deepcopy(base)
    for key, node in want["nodes"].items():
        entry = g["nodes"].setdefault(key, {"type": node.get("type"), "hooks": {}})
        for hook, peer in node["hooks"].items():
            entry["hooks"][hook] = {"peer": peer["peer"], "peer_hook": peer["peer_hook"]}
    g["settings"] = copy.deepcopy(want["settings"])
    return g


def plan(params, graph, takeover=False):
    cfg = nf_model.validate({"name": "lan", **params})
    want = nf_model.desired(cfg, graph)
    return cfg, want, nf_plan.diff(graph, want, takeover=takeover)


def lines(result):
    return [" ".join(c) for c in result["commands"]]


# ----------------------------------------------------------------------------- validate
def test_validate_normalises_list_and_mapping_forms():
    a = nf_model.validate({"name": "lan", "interfaces": ["em0"], "collectors": [C1]})
    b = nf_model.validate({"name": "lan", "interfaces": {"em0": None}, "collectors": [C1]})
    assert a == b
    assert a["interfaces"][0] == {
        "name": "em0", "node": "em0", "attach": "ether", "direction": "both", "once": True,
        "ifindex": None, "ipfw_hook": None, "ipfw_rule": None, "conf": 11, "dlt": 1,
    }
    assert a["collectors"] == [{"host": "192.0.2.10", "address": "192.0.2.10", "family": "inet", "port": 2055,
                                "version": 9, "source": None}]
    assert a["timeouts"] == {"inactive": 15, "active": 1800}
    assert a["template"] == {"time": 600, "packets": 500} and a["mtu"] == 1500


@pytest.mark.parametrize(
    "direction,once,conf",
    [("both", True, 11), ("both", False, 3), ("ingress", True, 9), ("ingress", False, 1), ("egress", True, 10), ("egress", False, 2)],
)
def test_direction_and_once_map_to_ng_netflow_conf_bits(direction, once, conf):
    cfg = nf_model.validate({"name": "x", "interfaces": {"em0": {"direction": direction, "once": once}}, "collectors": [C1]})
    assert cfg["interfaces"][0]["conf"] == conf


def test_vlan_interface_maps_to_ng_ether_node_name():
    cfg = nf_model.validate({"name": "x", "interfaces": ["vlan0.100"], "collectors": [C1]})
    assert cfg["interfaces"][0]["node"] == "vlan0_100"


def test_ipfw_rule_defaults_to_hook():
    cfg = nf_model.validate({"name": "x", "interfaces": {"tun0": {"attach": "ipfw", "ipfw_hook": 77}}, "collectors": [C1]})
    i = cfg["interfaces"][0]
    assert (i["node"], i["ipfw_hook"], i["ipfw_rule"], i["dlt"], i["conf"]) == ("ipfw", 77, 77, 12, 9)


@pytest.mark.parametrize("params,key", BAD + BAD_PURE, ids=[f"bad{i}" for i in range(len(BAD + BAD_PURE))])
def test_bad_input_is_refused_naming_the_key(params, key):
    with pytest.raises(nf_model.ValidationError) as exc:
        nf_model.validate(params)
    message = str(exc.value)
    assert key in message
    # the message names the key; it never carries a hostile value along
    assert len(message) < 600 and not any(c in message for c in "\n\r\x00\x0b\x0c\x85\u2028\u200b")


def test_bad_input_corpus_is_large_enough():
    assert len(BAD) >= 200 and len(BAD_PURE) >= 14


def test_error_names_the_key_path():
    cases = [
        (_with(interfaces={"em0": {"direction": ["both"]}}), "interfaces.em0.direction: ['both'] is not one of"),
        (_with(interfaces={"vlan0.100": {"once": "yes"}}), "interfaces.vlan0.100.once: 'yes' is not a boolean"),
        (_with(interfaces=["em1", {"em0": {"attach": ["ipfw"]}}]), "interfaces[1].em0.attach: ['ipfw']"),
        (_with(interfaces={"em0\n": {}}), "interfaces['em0\\n']: 'em0\\n' is not a valid FreeBSD interface name"),
        (_with(interfaces={None: {}}), "interfaces[None]: None is not a valid"),
        (_with(collectors=[C1, {"host": "192.0.2.2", "port": 2055.0}]), "collectors[1].port: 2055.0 is not an integer"),
        (_with(timeouts={"active": {"x": 1}}), "timeouts.active: {'x': 1} is not an integer"),
        (_with(interfaces={"em0": {"colour": 1, 2: 3}}), "interfaces.em0: unknown key(s) 'colour', 2; known:"),
        (_with(**{"a: b": 1}), "unknown parameter(s) 'a: b'; known:"),
        (_with(name="x" * 2000), "name: 'xxxxxxxx"),
    ]
    for params, text in cases:
        with pytest.raises(nf_model.ValidationError) as exc:
            nf_model.validate(params)
        assert text in str(exc.value), str(exc.value)
    with pytest.raises(nf_model.ValidationError, match=r"\(2002 characters\)"):
        nf_model.validate(_with(name="x" * 2000))


def test_too_many_collectors_of_one_version():
    many = [{"host": f"192.0.2.{i}", "port": 2055} for i in range(1, 66)]
    with pytest.raises(nf_model.ValidationError, match="more than 64"):
        nf_model.validate(_with(collectors=many))


# ----------------------------------------------------------------------------- names
def test_owned_names_of_two_exporters_never_overlap():
    a, b = nf_model.owned_name_re("a"), nf_model.owned_name_re("a_v9")
    a_nodes = ["a_nf", "a_v9", "a_v5", "a_v9_0", "a_v5_63"]
    b_nodes = ["a_v9_nf", "a_v9_v9", "a_v9_v5", "a_v9_v9_0", "a_v9_v5_12"]
    assert all(a.fullmatch(n) for n in a_nodes) and not any(b.fullmatch(n) for n in a_nodes)
    assert all(b.fullmatch(n) for n in b_nodes) and not any(a.fullmatch(n) for n in b_nodes)
    assert not a.fullmatch("em0") and not a.fullmatch("netflow") and not a.fullmatch("a_nf_x")
    assert not a.fullmatch("a_nf\n"), "a trailing newline is not a name"


def test_longest_exporter_name_fits_netgraph_names():
    name = "x" * 25
    cfg = nf_model.validate({"name": name, "interfaces": ["em0"],
                             "collectors": [{"host": f"192.0.2.{i}", "port": 1} for i in range(1, 65)]})
    want = nf_model.desired(cfg, host("em0"))
    assert max(len(n) for n in want["nodes"]) <= 31


# ----------------------------------------------------------------------------- desired
def test_desired_single_collector_is_a_ksocket_on_export9():
    _, want, _ = plan({"interfaces": ["em0"], "collectors": [C1]}, host("em0"))
    assert want["nodes"]["lan_nf"]["hooks"] == {
        "iface0": {"peer": "em0", "peer_hook": "lower"},
        "out0": {"peer": "em0", "peer_hook": "upper"},
        "export9": {"peer": "lan_v9", "peer_hook": "inet/dgram/udp"},
    }
    assert want["nodes"]["lan_v9"]["type"] == "ksocket"
    assert want["settings"]["lan_v9"] == {"peer": "inet/192.0.2.10:2055"}


def test_desired_two_collectors_fan_out_through_one2many_and_v5_on_export():
    _, want, _ = plan({"interfaces": ["em0"], "collectors": [C1, C2, C5]}, host("em0"))
    assert want["nodes"]["lan_v9"]["type"] == "one2many"
    assert want["settings"]["lan_v9"]["config"] == {"xmitAlg": 2, "failAlg": 1, "enabledLinks": [1, 1]}
    assert want["settings"]["lan_v9_1"] == {"peer": "inet/192.0.2.11:2055"}
    assert want["nodes"]["lan_nf"]["hooks"]["export"] == {"peer": "lan_v5", "peer_hook": "inet/dgram/udp"}


# ----------------------------------------------------------------------------- diff
def test_create_plan_matches_the_man_page_recipe_and_keeps_hooks_adjacent():
    _, _, res = plan({"interfaces": ["em0", "em1"], "collectors": [C1]}, host("em0", "em1"))
    assert lines(res) == [
        "mkpeer em0: netflow lower iface0",
        "name em0:lower lan_nf",
        "connect em0: lan_nf: upper out0",
        "connect em1: lan_nf: lower iface1",
        "connect em1: lan_nf: upper out1",
        "msg lan_nf: settemplate { time=1 packets=500 }",  # templates in the first datagram
        "msg lan_nf: setconfig { iface=0 conf=11 }",
        "msg lan_nf: setconfig { iface=1 conf=11 }",
        "mkpeer lan_nf: ksocket export9 inet/dgram/udp",
        "name lan_nf:export9 lan_v9",
        "msg lan_v9: connect inet/192.0.2.10:2055",
    ]
    assert res["created"] == ["lan_nf", "lan_v9"]


def test_non_default_settings_become_messages():
    _, _, res = plan(
        {"interfaces": {"em0": {"ifindex": 7, "direction": "ingress", "once": False}}, "collectors": [C1],
         "timeouts": {"active": 60, "inactive": 10}, "template": {"time": 30, "packets": 20}, "mtu": 9000},
        host("em0"),
    )
    ls = lines(res)
    assert "msg lan_nf: settimeouts { inactive=10 active=60 }" in ls
    # a node is made with time=1 (its first v9 datagram carries the templates); the
    # declared time=30 is set by the converge after its first flow expired
    # (tests/unit/core/test_boot_template.py)
    assert "msg lan_nf: settemplate { time=1 packets=20 }" in ls
    assert "msg lan_nf: setmtu { mtu=9000 }" in ls
    assert "msg lan_nf: setifindex { iface=0 index=7 }" in ls
    # ingress without once is conf=1, ng_netflow's default for a new iface: no message
    assert not any("setconfig" in line for line in ls)


@pytest.mark.parametrize(
    "params",
    [
        {"interfaces": ["em0"], "collectors": [C1]},
        {"interfaces": ["em0", "vlan0.100"], "collectors": [C1, C2, C5]},
        {"interfaces": {"em0": {"direction": "egress", "ifindex": 3}, "tun0": {"attach": "ipfw", "ipfw_hook": 10}},
         "collectors": [C5], "timeouts": {"active": 300, "inactive": 5}, "mtu": 1400},
    ],
)
def test_no_change_when_live_graph_matches(params):
    base = host("em0", "vlan0.100", ipfw=True)
    cfg, want, _ = plan(params, base)
    cur = as_current(want, base)
    res = nf_plan.diff(cur, nf_model.desired(cfg, cur))
    assert res["commands"] == [] and res["changes"] == {}


def _live(params, base=None):
    base = base or host("em0", "em1", "vlan0.100", ipfw=True)
    cfg, want, _ = plan(params, base)
    return as_current(want, base)


def test_timeouts_change_is_one_message_and_no_shutdown():
    cur = _live({"interfaces": ["em0"], "collectors": [C1]})
    _, _, res = plan({"interfaces": ["em0"], "collectors": [C1], "timeouts": {"active": 60, "inactive": 15}}, cur)
    assert lines(res) == ["msg lan_nf: settimeouts { inactive=15 active=60 }"]


def test_direction_change_is_setconfig_in_place():
    cur = _live({"interfaces": ["em0"], "collectors": [C1]})
    _, _, res = plan({"interfaces": {"em0": {"direction": "egress"}}, "collectors": [C1]}, cur)
    assert lines(res) == ["msg lan_nf: setconfig { iface=0 conf=10 }"]


def test_collector_repoint_is_a_second_connect_on_the_same_ksocket():
    cur = _live({"interfaces": ["em0"], "collectors": [C1]})
    _, _, res = plan({"interfaces": ["em0"], "collectors": [C2]}, cur)
    assert lines(res) == ["msg lan_v9: connect inet/192.0.2.11:2055"]


def test_second_collector_replaces_only_the_ksocket_by_a_fanout():
    cur = _live({"interfaces": ["em0"], "collectors": [C1]})
    _, _, res = plan({"interfaces": ["em0"], "collectors": [C1, C2]}, cur)
    ls = lines(res)
    assert ls[0] == "shutdown lan_v9:"
    assert "shutdown lan_nf:" not in ls
    assert "mkpeer lan_nf: one2many export9 one" in ls
    assert ls[-1] == "msg lan_v9: setconfig { xmitAlg=2 failAlg=1 enabledLinks=[ 1 1 ] }"


def test_removing_one_of_three_collectors_keeps_link_indices_of_the_others():
    c3 = {"host": "192.0.2.13", "port": 2055}
    cur = _live({"interfaces": ["em0"], "collectors": [C1, C2, c3]})
    _, _, res = plan({"interfaces": ["em0"], "collectors": [C1, c3]}, cur)
    assert lines(res) == ["shutdown lan_v9_1:", "msg lan_v9: setconfig { xmitAlg=2 failAlg=1 enabledLinks=[ 1 0 1 ] }"]


def test_adding_an_interface_keeps_existing_indices_and_connects_adjacent():
    cur = _live({"interfaces": ["em1"], "collectors": [C1]})
    _, _, res = plan({"interfaces": ["em0", "em1"], "collectors": [C1]}, cur)
    assert lines(res) == [
        "connect em0: lan_nf: lower iface1",
        "connect em0: lan_nf: upper out1",
        "msg lan_nf: setifindex { iface=1 index=0 }",
        "msg lan_nf: setconfig { iface=1 conf=11 }",
    ]


def test_removing_an_interface_cuts_its_two_hooks_adjacent():
    cur = _live({"interfaces": ["em0", "em1"], "collectors": [C1]})
    _, _, res = plan({"interfaces": ["em1"], "collectors": [C1]}, cur)
    assert lines(res) == ["rmhook lan_nf: iface0", "rmhook lan_nf: out0"]


def test_replacing_the_only_interface_adds_before_it_removes():
    cur = _live({"interfaces": ["em0"], "collectors": [C1]})
    _, _, res = plan({"interfaces": ["em1"], "collectors": [C1]}, cur)
    ls = lines(res)
    assert ls.index("connect em1: lan_nf: lower iface1") < ls.index("rmhook lan_nf: iface0")


def _drop_hook(g, node, hook):
    peer = g["nodes"][node]["hooks"].pop(hook)
    g["nodes"][peer["peer"]]["hooks"].pop(peer["peer_hook"])


def test_drift_upper_hook_cut_by_hand_is_reconnected():
    cur = _live({"interfaces": ["em0"], "collectors": [C1]})
    _drop_hook(cur, "em0", "upper")
    _, _, res = plan({"interfaces": ["em0"], "collectors": [C1]}, cur)
    assert lines(res) == ["connect em0: lan_nf: upper out0"]


def test_drift_netflow_node_shut_down_by_hand_is_rebuilt():
    base = host("em0")
    _, _, res = plan({"interfaces": ["em0"], "collectors": [C1]}, base)
    assert lines(res)[0] == "mkpeer em0: netflow lower iface0"


def test_drift_ksocket_gone_is_recreated_without_touching_netflow():
    cur = _live({"interfaces": ["em0"], "collectors": [C1]})
    _drop_hook(cur, "lan_nf", "export9")
    del cur["nodes"]["lan_v9"]
    del cur["settings"]["lan_v9"]
    _, _, res = plan({"interfaces": ["em0"], "collectors": [C1]}, cur)
    assert lines(res) == [
        "mkpeer lan_nf: ksocket export9 inet/dgram/udp",
        "name lan_nf:export9 lan_v9",
        "msg lan_v9: connect inet/192.0.2.10:2055",
    ]


def _seed_exporter(base):
    """What the seed's rc.d script builds: netflow + nfsock, on em0."""
    g = copy.deepcopy(base)
    g["nodes"]["netflow"] = {"type": "netflow", "hooks": {
        "iface0": {"peer": "em0", "peer_hook": "lower"}, "out0": {"peer": "em0", "peer_hook": "upper"},
        "export9": {"peer": "nfsock", "peer_hook": "inet/dgram/udp"}}}
    g["nodes"]["nfsock"] = {"type": "ksocket", "hooks": {"inet/dgram/udp": {"peer": "netflow", "peer_hook": "export9"}}}
    g["nodes"]["em0"]["hooks"] = {"lower": {"peer": "netflow", "peer_hook": "iface0"}, "upper": {"peer": "netflow", "peer_hook": "out0"}}
    return g


def test_foreign_exporter_on_the_interface_is_refused_naming_it():
    with pytest.raises(nf_model.ConflictError, match=r"em0:lower is connected to netflow \(netflow\).*takeover"):
        plan({"interfaces": ["em0"], "collectors": [C1]}, _seed_exporter(host("em0")))


def test_takeover_replaces_the_foreign_exporter_in_one_plan():
    _, _, res = plan({"interfaces": ["em0"], "collectors": [C1]}, _seed_exporter(host("em0")), takeover=True)
    ls = lines(res)
    assert ls[:5] == [
        "rmhook em0: lower",
        "rmhook em0: upper",
        "mkpeer em0: netflow lower iface0",
        "name em0:lower lan_nf",
        "connect em0: lan_nf: upper out0",
    ]
    assert ls[-1] == "shutdown netflow:"


def test_takeover_keeps_a_foreign_exporter_that_still_serves_other_interfaces():
    g = _seed_exporter(host("em0", "em1"))
    g["nodes"]["netflow"]["hooks"].update({"iface1": {"peer": "em1", "peer_hook": "lower"}, "out1": {"peer": "em1", "peer_hook": "upper"}})
    g["nodes"]["em1"]["hooks"] = {"lower": {"peer": "netflow", "peer_hook": "iface1"}, "upper": {"peer": "netflow", "peer_hook": "out1"}}
    _, _, res = plan({"interfaces": ["em0"], "collectors": [C1]}, g, takeover=True)
    assert "shutdown netflow:" not in lines(res)


def test_two_exporters_on_one_host_do_not_touch_each_other():
    base = host("em0", "em1")
    cfg_a = nf_model.validate({"name": "a", "interfaces": ["em0"], "collectors": [C1]})
    cur = as_current(nf_model.desired(cfg_a, base), base)
    cfg_b = nf_model.validate({"name": "b", "interfaces": ["em1"], "collectors": [C2]})
    res = nf_plan.diff(cur, nf_model.desired(cfg_b, cur))
    assert all("a_" not in w for c in res["commands"] for w in c)
    cur["settings"] = {}
    res_a_again = nf_plan.diff(_live_merge(cur, cfg_a), nf_model.desired(cfg_a, cur))
    assert res_a_again["commands"] == []


def _live_merge(cur, cfg):
    g = copy.deepcopy(cur)
    g["settings"] = nf_model.desired(cfg, cur)["settings"]
    return g


# ----------------------------------------------------------------------------- ipfw
def test_ipfw_rule_added_and_conflicting_rule_refused():
    cfg, want, _ = plan({"interfaces": {"tun0": {"attach": "ipfw", "ipfw_hook": 10, "direction": "ingress"}}, "collectors": [C1]},
                        host(ipfw=True))
    res = nf_ipfw.ipfw_diff([{"rule": 65535, "text": "deny ip from any to any"}], host(ipfw=True), want, "lan")
    assert res == {"delete": [], "add": [["10", "ngtee", "10", "ip", "from", "any", "to", "any", "in", "via", "tun0"]]}
    with pytest.raises(nf_model.ConflictError, match="ipfw rule 10"):
        nf_ipfw.ipfw_diff([{"rule": 10, "text": "allow ip from any to any"}], host(ipfw=True), want, "lan")


def test_ipfw_rule_with_changed_direction_is_replaced():
    cfg, want, _ = plan({"interfaces": {"tun0": {"attach": "ipfw", "ipfw_hook": 10}}, "collectors": [C1]}, host(ipfw=True))
    cur = as_current(want, host(ipfw=True))
    res = nf_ipfw.ipfw_diff([{"rule": 10, "text": "ngtee 10 ip from any to any in via tun0"}], cur, want, "lan")
    assert res["delete"] == [10] and res["add"][0][-3:] == ["any", "via", "tun0"]


# ----------------------------------------------------------------------------- rollback
def test_rollback_shuts_down_created_nodes_and_detaches_half_attached_interfaces():
    g = host("em0", "em1")
    g["nodes"]["lan_nf"] = {"type": "netflow", "hooks": {"iface0": {"peer": "em0", "peer_hook": "lower"}}}
    g["nodes"]["em0"]["hooks"] = {"lower": {"peer": "lan_nf", "peer_hook": "iface0"}}
    assert [" ".join(c) for c in nf_rollback.rollback_plan(g, "lan", ["lan_nf"])] == ["shutdown lan_nf:"]
    # an existing node (not created by the batch) is kept; the half-attached interface is cut
    assert [" ".join(c) for c in nf_rollback.rollback_plan(g, "lan", [])] == ["rmhook em0: lower"]


def test_boot_script_is_the_plan_from_an_empty_graph():
    cfg = nf_model.validate({"name": "lan", "interfaces": ["em0"], "collectors": [C1]})
    script = nf_boot.build_script(cfg)
    assert script["ngctl"] == lines(nf_plan.diff(host("em0"), nf_model.desired(cfg, host("em0"))))
    assert script["modules"] == ["netgraph", "ng_socket", "ng_ether", "ng_netflow", "ng_ksocket"]
    assert script["ipfw"] == []
    assert script["attach"] == ["em0"]


def test_settings_are_read_back_from_replies_by_key_not_position():
    queries = [["lan_nf:", "info"], ["lan_nf:", "v9info"], ["lan_nf:", "ifinfo", "0"], ["lan_v9:", "getpeername"]]
    replies = [
        {"ok": True, "reply": {"args": {"IPv4 bytes": 5, "Inactive timeout": 15, "Active timeout": 1800}}},
        {"ok": True, "reply": {"args": {"v9 template packets": 500, "v9 template time": 600, "v9 MTU": 1500}}},
        {"ok": True, "reply": {"args": {"data link type": 1, "conf": 11}}},
        {"ok": False, "error": "ngctl: send msg: Socket is not connected"},
    ]
    st = nf_settings.settings_from_replies(queries, replies)
    assert st["lan_nf"] == {"timeouts": {"inactive": 15, "active": 1800}, "exported": False,
                            "template": {"time": 600, "packets": 500},
                            "mtu": 1500, "ifaces": {0: {"dlt": 1, "index": 0, "conf": 11}}}
    assert st["lan_v9"] == {"peer": None}


def test_plan_dot_colours_added_and_removed_parts():
    cur = _seed_exporter(host("em0"))
    cfg = nf_model.validate({"name": "lan", "interfaces": ["em0"], "collectors": [C1]})
    res = nf_plan.diff(cur, nf_model.desired(cfg, cur), takeover=True)
    dot = nf_dot.plan_dot(cur, res["planned"], "lan")
    line = {ln.split("[")[0].strip(): ln for ln in dot.splitlines() if "[" in ln and "--" not in ln}
    assert 'color = "darkgreen"' in line['"lan_nf"'] and 'fillcolor = "lightblue"' in line['"lan_nf"']
    assert 'color = "red"' in line['"netflow"'] and "dashed" in line['"netflow"']
    assert "color" not in line['"em0"']
    removed = [ln for ln in dot.splitlines() if '"em0" -- "netflow"' in ln or '"netflow" -- "em0"' in ln]
    assert removed and all('color = "red"' in ln for ln in removed)


def _link(nodes: dict, a: str, ha: str, b: str, hb: str) -> None:
    nodes[a]["hooks"][ha] = {"peer": b, "peer_hook": hb}
    nodes[b]["hooks"][hb] = {"peer": a, "peer_hook": ha}


def test_exporter_dot_draws_only_that_exporter_with_collectors_and_ipfw_feeds():
    kinds = {"em0": "ether", "em1": "ether", "ipfw": "ipfw", "lan_nf": "netflow", "lan_v9": "ksocket",
             "wan_nf": "netflow", "wan_v9": "ksocket", "my{tap|x": "tee"}
    nodes = {k: {"name": k, "type": t, "hooks": {}} for k, t in kinds.items()}
    _link(nodes, "em0", "lower", "lan_nf", "iface0")
    _link(nodes, "ipfw", "10", "lan_nf", "iface1")
    _link(nodes, "lan_nf", "export9", "lan_v9", "inet/dgram/udp")
    _link(nodes, "lan_nf", "out0", "my{tap|x", "left")  # a foreign node on ours: drawn, its name escaped
    _link(nodes, "em1", "lower", "wan_nf", "iface0")
    _link(nodes, "ipfw", "20", "wan_nf", "iface1")
    _link(nodes, "wan_nf", "export9", "wan_v9", "inet/dgram/udp")
    settings = {"lan_v9": {"peer": "inet/192.0.2.10:2055"}, "wan_v9": {"peer": "inet/192.0.2.99:9"}}
    rules = [{"rule": 100, "text": "ngtee 10 ip from any to any"}, {"rule": 200, "text": "ngtee 20 ip from any to any via em1"},
             {"rule": 300, "text": "netgraph 10 ip from any to any recv tun0"}, {"rule": 65535, "text": "deny ip from any to any"}]
    text = nf_dot.exporter_dot({"nodes": nodes}, ["lan"], settings, lambda: rules)
    drawn = {ln.split("[")[0].strip() for ln in text.splitlines() if "[ label" in ln and " -- " not in ln}
    assert drawn == {'"em0"', '"ipfw"', '"lan_nf"', '"lan_v9"', '"my{tap|x"', '"ipfw rule 100"', '"ipfw rule 300"'}
    assert "wan" not in text and "em1" not in text and "192.0.2.99" not in text and '"20' not in text, text
    assert 'label = "{lan_v9:|ksocket|to 192.0.2.10:2055}"' in text
    assert 'label = "{my\\{tap\\|x:|tee}"' in text, "a record's marks in a name are escaped"
    assert 'label = "{any interface|ipfw rule 100: ngtee 10 ip from any to any}"' in text
    assert 'label = "{tun0|ipfw rule 300: netgraph 10 ip from any to any recv tun0}"' in text
    wan = nf_dot.exporter_dot({"nodes": nodes}, ["wan"], {}, lambda: rules)  # its peer not read: said so
    assert 'label = "{wan_v9:|ksocket|not connected}"' in wan and '"{em1|ipfw rule 200: ngtee 20' in wan
    assert "lan_" not in wan and "ipfw rule 100" not in wan
    def no_ipfw_list():
        raise AssertionError("ipfw list read for an exporter that hangs on no ipfw hook")

    assert nf_dot.exporter_dot({"nodes": nodes}, ["nosuch"], settings, no_ipfw_list).count("[ label") == 0
    nodes["0ther_nf"] = {"name": "0ther_nf", "type": "netflow", "hooks": {}}  # another program's: no exporter name
    assert nf_args.exporters_in({"nodes": nodes}) == ["lan", "wan"]
    del nodes["ipfw"]["hooks"]["10"], nodes["lan_nf"]["hooks"]["iface1"]
    assert "ipfw" not in nf_dot.exporter_dot({"nodes": nodes}, ["lan"], settings, no_ipfw_list)


def test_missing_modules_loads_ng_ether_and_ng_ipfw_but_never_the_firewall():
    cfg = nf_model.validate({"name": "lan", "interfaces": {"em0": None, "tun0": {"attach": "ipfw", "ipfw_hook": 9}},
                       "collectors": [C1]})
    fresh = {"nodes": {}, "types": ["socket"]}
    with pytest.raises(nf_model.ValidationError, match="interfaces.tun0: .*firewall_enable=YES"):
        nf_model.missing_modules(cfg, fresh, ["kernel", "netgraph"])
    assert nf_model.missing_modules(cfg, fresh, ["kernel", "ipfw"]) == ["ng_ether", "ng_ipfw"]
    ready = host("em0", ipfw=True)
    assert nf_model.missing_modules(cfg, ready, None) == []
