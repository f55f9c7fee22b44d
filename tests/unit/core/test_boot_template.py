"""A netflow node starts on the boot template (time=1): ng_netflow puts its v9 templates in
a new datagram only when ``time_uptime >= templ_time + templ_last_ts`` (netflow_v9.c,
get_export9_dgram; templ_last_ts starts at 0, time_uptime at 1), so with time=600 a node
made in the first ten minutes after boot sends data no collector can decode. The boot
file and a node an apply makes start with time=1; the converge after the first expired
flow restores the declared setting; a no-change apply stays a no-change apply on both
sides of that (nf_model.start_template)."""
from __future__ import annotations

import copy

import pytest

from netgraph_core import nf_boot
from netgraph_core import nf_changes
from netgraph_core import nf_model
from netgraph_core import nf_plan
from netgraph_core import nf_status
from netgraph_core import nf_watch

C1 = {"host": "192.0.2.10", "port": 2055}
BOOT_LINE = "msg lan_nf: settemplate { time=1 packets=500 }"


def cfg_of(**extra) -> dict:
    return nf_model.validate({"name": "lan", "interfaces": ["em0"], "collectors": [C1], **extra})


def host() -> dict:
    return {"nodes": {"em0": {"name": "em0", "type": "ether", "id": 1, "hooks": {}}},
            "types": ["ether", "socket"], "settings": {}}


def live(cfg: dict, template: dict, exported) -> dict:
    """The graph a converge of ``cfg`` leaves, the netflow node's template and ``exported``
    (None: ``info`` not read) as given."""
    want = nf_model.desired(cfg, host())
    types = {key: spec["type"] for key, spec in want["nodes"].items()}  # em0 included: a foreign ether
    nodes = {key: {"name": key, "type": spec["type"], "id": n + 1,
                   "hooks": {h: {**p, "peer_type": types[p["peer"]]} for h, p in spec["hooks"].items()}}
             for n, (key, spec) in enumerate(sorted(want["nodes"].items()))}
    settings = copy.deepcopy(want["settings"])
    settings["lan_nf"]["template"] = dict(template)
    if exported is not None:
        settings["lan_nf"]["exported"] = exported
    return {"nodes": nodes, "types": ["ether", "socket", "netflow", "ksocket"], "settings": settings}


def commands(current: dict, cfg: dict) -> list[str]:
    return [" ".join(c) for c in nf_plan.diff(current, nf_model.desired(cfg, current))["commands"]]


# ----------------------------------------------------------------------------- the rule
@pytest.mark.parametrize("declared, boot", [
    ({"time": 600, "packets": 500}, {"time": 1, "packets": 500}),
    ({"time": 30, "packets": 20}, {"time": 1, "packets": 20}),
    ({"time": 2, "packets": 65535}, {"time": 1, "packets": 65535}),
    ({"time": 1, "packets": 500}, None),   # uptime >= 1 + 0: already in the first datagram
    ({"time": 0, "packets": 500}, None),
    ({"time": 600, "packets": 0}, None),   # sent_packets (0) >= 0 + 0: in every datagram
])
def test_boot_template_only_where_the_declared_one_would_wait(declared, boot):
    assert nf_model.boot_template(declared) == boot


def test_start_template_keeps_the_boot_one_until_a_flow_expired_and_never_goes_back():
    declared, boot = {"time": 600, "packets": 500}, {"time": 1, "packets": 500}
    assert nf_model.start_template(declared, None) == boot  # a node still to be made
    assert nf_model.start_template(declared, {"template": boot, "exported": False}) == boot
    assert nf_model.start_template(declared, {"template": boot}) == boot  # info not read: not yet
    assert nf_model.start_template(declared, {"template": boot, "exported": True}) == declared
    assert nf_model.start_template(declared, {"template": declared, "exported": False}) == declared
    assert nf_model.start_template(declared, {"template": {"time": 300, "packets": 500}}) == declared
    assert nf_model.start_template(declared, {}) == declared  # settings not read at all
    assert nf_model.start_template({"time": 1, "packets": 9}, None) == {"time": 1, "packets": 9}


# ----------------------------------------------------------------------------- the boot file
def test_boot_file_makes_the_node_with_time_1_right_after_it_is_attached():
    script = nf_boot.build_script(cfg_of())
    assert script["ngctl"] == [
        "mkpeer em0: netflow lower iface0",
        "name em0:lower lan_nf",
        "connect em0: lan_nf: upper out0",
        BOOT_LINE,
        "msg lan_nf: setconfig { iface=0 conf=11 }",
        "mkpeer lan_nf: ksocket export9 inet/dgram/udp",
        "name lan_nf:export9 lan_v9",
        "msg lan_v9: connect inet/192.0.2.10:2055",
    ]
    text = nf_boot.render("lan", script)
    assert BOOT_LINE + "\n" in text and "time=600" not in text
    assert nf_boot.verify(text)["ngctl"] == script["ngctl"]


def test_boot_file_keeps_the_declared_packets_and_needs_no_line_when_the_declared_one_sends_at_once():
    assert "msg lan_nf: settemplate { time=1 packets=20 }" in nf_boot.build_script(
        cfg_of(template={"time": 30, "packets": 20}))["ngctl"]
    # declared time=1 (the pillar refuses packets=0): the declared line itself, no restore
    cfg = cfg_of(template={"time": 1, "packets": 500})
    assert [x for x in nf_boot.build_script(cfg)["ngctl"] if "settemplate" in x] == [BOOT_LINE]
    cur = live(cfg, {"time": 1, "packets": 500}, True)
    assert commands(cur, cfg) == [] and nf_watch.compare(cfg, cur, cur["settings"]) == []


def test_list_compares_the_boot_file_with_the_recorded_declaration():
    cfg = cfg_of()
    text = nf_boot.render("lan", nf_boot.build_script(cfg))
    assert nf_watch.boot_file_state("lan", text, cfg) == "matches"
    old = nf_boot.render("lan", {**nf_boot.build_script(cfg),
                                 "ngctl": [x for x in nf_boot.build_script(cfg)["ngctl"] if x != BOOT_LINE]})
    assert nf_watch.boot_file_state("lan", old, cfg) == "differs"  # a file of the older form is rewritten


# ----------------------------------------------------------------------------- converge
def test_first_apply_makes_the_node_with_the_boot_template_and_says_the_declared_one():
    cfg = cfg_of()
    assert BOOT_LINE in commands(host(), cfg)
    want = nf_model.desired(cfg, host())
    plan = nf_plan.diff(host(), want)
    plan["ipfw"] = {"delete": [], "add": []}
    assert nf_changes.pillar_changes(host(), cfg, plan)["settings"]["template.time"] == "600"


def test_before_the_first_expired_flow_a_reapply_changes_nothing_and_nothing_drifts():
    cfg = cfg_of()
    for exported in (False, None):
        cur = live(cfg, {"time": 1, "packets": 500}, exported)
        assert commands(cur, cfg) == []
        assert nf_watch.compare(cfg, cur, cur["settings"]) == []


def test_after_the_first_expired_flow_the_converge_restores_the_declared_template_once():
    cfg = cfg_of()
    cur = live(cfg, {"time": 1, "packets": 500}, True)
    assert commands(cur, cfg) == ["msg lan_nf: settemplate { time=600 packets=500 }"]
    plan = nf_plan.diff(cur, nf_model.desired(cfg, cur))
    plan["ipfw"] = {"delete": [], "add": []}
    assert nf_changes.pillar_changes(cur, cfg, plan) == {"exporter": "updated",
                                                         "settings": {"template.time": "1 → 600"}}
    drift = nf_watch.compare(cfg, cur, cur["settings"])
    assert [(d["kind"], d["setting"], d["have"], d["want"]) for d in drift] == [
        ("settings_changed", "template", {"time": 1, "packets": 500}, {"time": 600, "packets": 500})]
    # restored: the steady state, whether or not more flows expire
    for exported in (True, False, None):
        done = live(cfg, {"time": 600, "packets": 500}, exported)
        assert commands(done, cfg) == []
        assert nf_watch.compare(cfg, done, done["settings"]) == []


def test_a_node_on_the_declared_template_is_never_put_back_on_the_boot_one():
    cfg = cfg_of(template={"time": 300, "packets": 500})
    cur = live(cfg, {"time": 600, "packets": 500}, False)  # a pillar change before any flow expired
    assert commands(cur, cfg) == ["msg lan_nf: settemplate { time=300 packets=500 }"]


def test_status_is_ok_on_the_boot_template_until_the_first_expired_flow():
    cfg = cfg_of()
    cur = live(cfg, {"time": 1, "packets": 500}, False)
    nf_set = cur["settings"]["lan_nf"]
    view = {"name": "lan", "present": True, "interfaces": {}, "collectors": [],
            "settings": {"template": nf_set["template"]}, "counters": nf_status.zero_filled(None),
            "declaration": {"timeouts": cfg["timeouts"], "template": cfg["template"], "mtu": cfg["mtu"]}}
    assert nf_status._structure(view)[1] == []
    view["counters"]["inactive_expiries"] = 1
    assert nf_status._structure(view)[1] == ["template is {'time': 1, 'packets': 500}, "
                                             "declared {'time': 600, 'packets': 500}"]


def test_the_beacon_is_quiet_until_the_first_expired_flow_then_heals_once():
    cfg = cfg_of()
    opts = nf_watch.options({})

    def step(template, exported, state, now):
        cur = live(cfg, template, exported)
        graph = {k: v for k, v in cur.items() if k != "settings"}
        return nf_watch.step({"lan": cfg}, {"graph": graph, "settings": cur["settings"], "raw": {}}, state, now, opts)

    events, state = step({"time": 1, "packets": 500}, False, None, 0.0)
    assert events == []
    events, state = step({"time": 1, "packets": 500}, True, state, 10.0)
    assert [(e["exporter"], e["heal"], [d["setting"] for d in e["drift"]]) for e in events] == [
        ("lan", True, ["template"])]
    events, state = step({"time": 600, "packets": 500}, True, state, 20.0)  # healed: the restore
    assert events == []
    events, state = step({"time": 600, "packets": 500}, True, state, 30.0)
    assert events == []
