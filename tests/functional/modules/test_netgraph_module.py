"""netgraph.* through Salt's own loader against an emulated FreeBSD host (ngsim).

Nothing is mocked: Salt loads _modules/netgraph.py, cmd.run_all spawns ROOT/bin/ngctl,
and spawns are counted in `ngsim log`.
"""
from __future__ import annotations

import pathlib

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from ngsim.testing import script_lines

REPO = pathlib.Path(__file__).resolve().parents[3]

# OPNsense's rc.d/netflow, one ngctl per step (tests/data/opnsense_rc_netflow.ngctl), without
# its first line: the shutdown of a previous exporter, which fails on a fresh host.
SEED_STEPS = [line.split() for line in script_lines(REPO / "tests" / "data" / "opnsense_rc_netflow.ngctl")][1:]


def seed(host):
    for step in SEED_STEPS:
        host.ngctl(*step)
    host.clear_log()


@pytest.fixture
def seeded(ng_host):
    seed(ng_host)
    return ng_host


def test_module_loads_and_sys_doc_reads_well(ng_loaders):
    doc = ng_loaders.modules.sys.doc("netgraph")
    assert "netgraph.show" in doc and "netgraph.list" in doc and "netgraph.graph" in doc
    assert "CLI Example" in doc["netgraph.show"]


def test_show_list_msg_on_seed_graph(ng_loaders, seeded):
    nodes = {n["name"]: n for n in ng_loaders.modules.netgraph.list()}
    assert nodes["em0"]["type"] == "ether" and nodes["em0"]["num_hooks"] == 2
    assert nodes["netflow_em0"]["num_hooks"] == 3
    assert nodes["ksocket_netflow_em0"]["type"] == "ksocket"

    em0 = ng_loaders.modules.netgraph.show("em0:")
    assert em0["name"] == "em0" and em0["type"] == "ether"
    hooks = {h["hook"]: h for h in em0["hooks"]}
    assert hooks["lower"]["peer_name"] == "netflow_em0" and hooks["lower"]["peer_hook"] == "iface1"
    assert hooks["upper"]["peer_name"] == "netflow_em0" and hooks["upper"]["peer_hook"] == "out1"
    assert [h["hook"] for h in em0["hooks"]] == ["upper", "lower"]  # newest first

    nf = ng_loaders.modules.netgraph.show("netflow_em0:")
    assert {h["hook"]: h["peer_name"] for h in nf["hooks"]} == {
        "export9": "ksocket_netflow_em0", "out1": "em0", "iface1": "em0",
    }

    peer = ng_loaders.modules.netgraph.msg("ksocket_netflow_em0:", "getpeername")
    assert peer["cmd"] == "getpeername" and peer["args"] == "inet/127.0.0.1:2055"
    assert peer["from"] == int(nodes["ksocket_netflow_em0"]["id"], 16)  # list: the id as ngctl prints it

    info = ng_loaders.modules.netgraph.msg("netflow_em0:", "info")
    assert info["args"]["Inactive timeout"] == 15 and info["args"]["Active timeout"] == 1800
    ifinfo = ng_loaders.modules.netgraph.msg("netflow_em0:", "ifinfo", "1")
    assert ifinfo["args"].get("conf") == 11
    assert seeded.mutating() == []


def test_msg_with_data_args_changes_settings(ng_loaders, seeded):
    assert ng_loaders.modules.netgraph.msg("netflow_em0:", "settimeouts", {"inactive": 30, "active": 600}) is None
    info = ng_loaders.modules.netgraph.msg("netflow_em0:", "info")
    assert info["args"]["Inactive timeout"] == 30 and info["args"]["Active timeout"] == 600


def test_types_and_dot_agree_with_graph(ng_loaders, seeded):
    types = {row["type"] for row in ng_loaders.modules.netgraph.types()}
    assert {"ether", "netflow", "ksocket", "socket"} <= types
    from netgraph_core import ng_text

    dot = ng_text.parse_dot(ng_loaders.modules.netgraph.dot())
    graph = ng_loaders.modules.netgraph.graph()
    by_id = {node["id"]: key for key, node in graph["nodes"].items()}
    for (a, ahook), (b, bhook) in dot["edges"]:
        assert graph["nodes"][by_id[a]]["hooks"][ahook]["peer"] == by_id[b]
        assert graph["nodes"][by_id[a]]["hooks"][ahook]["peer_hook"] == bhook


def test_graph_seed_shape(ng_loaders, seeded):
    graph = ng_loaders.modules.netgraph.graph()
    assert set(graph["nodes"]) == {"em0", "em1", "netflow_em0", "ksocket_netflow_em0"}
    assert not any(key.startswith("ngctl") for key in graph["nodes"])
    assert graph["nodes"]["netflow_em0"]["hooks"]["export9"] == {
        "peer": "ksocket_netflow_em0", "peer_name": "ksocket_netflow_em0", "peer_type": "ksocket",
        "peer_id": graph["nodes"]["ksocket_netflow_em0"]["id"], "peer_hook": "inet/dgram/udp",
    }
    assert graph["nodes"]["em1"]["hooks"] == {}
    assert {"ether", "netflow", "ksocket"} <= set(graph["types"])


def test_graph_on_64_interfaces_is_one_spawn(ng_loaders, ng_host):
    ifaces = [f"igb{i}" for i in range(64)]
    ng_host.init(ifaces=ifaces)
    for i in range(0, 64, 8):  # some of them carry an exporter
        ng_host.ngctl("mkpeer", f"igb{i}:", "netflow", "lower", "iface0")
        ng_host.ngctl("name", f"igb{i}:lower", f"nf{i}")
        ng_host.ngctl("connect", f"igb{i}:", f"nf{i}:", "upper", "out0")
    ng_host.clear_log()
    graph = ng_loaders.modules.netgraph.graph()
    spawns = ng_host.spawns()
    assert len(spawns) <= 2
    assert len(spawns) == 1 and spawns[0]["argv"][1:] == ["-f", "-"]
    assert spawns[0]["mutating"] is False
    assert sum(1 for n in graph["nodes"].values() if n["type"] == "ether") == 64
    assert graph["nodes"]["nf8"]["hooks"]["iface0"]["peer"] == "igb8"
    assert graph["nodes"]["igb8"]["hooks"]["upper"]["peer_hook"] == "out0"


HOSTILE = ["x; reboot", "a:b", "n" * 40, "", "em0\nshutdown em0:"]


@pytest.mark.parametrize("bad", HOSTILE, ids=["semicolon", "colon", "40chars", "empty", "newline"])
def test_hostile_input_zero_mutating_spawns(ng_loaders, seeded, bad):
    ng = ng_loaders.modules.netgraph
    attempts = [
        lambda: ng.name("em1:", bad),
        lambda: ng.mkpeer("em1:", "netflow", bad, "iface0"),
        lambda: ng.mkpeer("em1:", bad, "lower", "iface0"),
        lambda: ng.rmhook("em0:", bad),
        lambda: ng.msg("netflow_em0:", bad),
        lambda: ng.batch([["name", "em1:", bad]]),
        lambda: ng.batch(["mkpeer em1: netflow lower iface0", ["name", "em1:lower", bad]]),
        lambda: ng.load_modules([bad]),
    ]
    if bad != "a:b":  # "a:b" is a well-formed path (node a, hook b)
        attempts += [
            lambda: ng.shutdown(bad),
            lambda: ng.show(bad),
            lambda: ng.connect("em1:", bad, "upper", "out0"),
            lambda: ng.mkpeer(bad, "netflow", "lower", "iface0"),
        ]
    for attempt in attempts:
        with pytest.raises(SaltInvocationError):
            attempt()
    assert seeded.mutating() == []
    assert seeded.spawns() == []  # refused before any spawn at all
    assert ng.show("em0:")["num_hooks"] == 2


def test_too_long_name_refused_not_truncated(ng_loaders, seeded):
    with pytest.raises(SaltInvocationError, match="40 characters"):
        ng_loaders.modules.netgraph.name("em1:", "n" * 40)
    assert ng_loaders.modules.netgraph.show("em1:")["name"] == "em1"


def test_write_functions(ng_loaders, ng_host):
    ng = ng_loaders.modules.netgraph
    assert ng.mkpeer("em1:", "netflow", "lower", "iface0") is True
    assert ng.name("em1:lower", "nf1") is True
    assert ng.connect("em1:", "nf1:", "upper", "out0") is True
    assert {h["hook"] for h in ng.show("nf1:")["hooks"]} == {"iface0", "out0"}
    assert ng.rmhook("nf1:", "out0") is True
    assert [h["hook"] for h in ng.show("nf1:")["hooks"]] == ["iface0"]
    assert ng.shutdown("nf1:") is True
    assert ng.show("em1:")["num_hooks"] == 0
    with pytest.raises(CommandExecutionError, match="No such file or directory"):
        ng.show("nf1:")
    with pytest.raises(CommandExecutionError, match="Address already in use"):
        ng.name("em0:", "em1")


def test_batch_one_spawn(ng_loaders, ng_host):
    out = ng_loaders.modules.netgraph.batch(
        [
            "mkpeer em1: netflow lower iface0",
            ["name", "em1:lower", "nf1"],
            ["connect", "em1:", "nf1:", "upper", "out0"],
            ["msg", "nf1:", "settimeouts", "{", "inactive=20", "active=300", "}"],
        ]
    )
    assert out["applied"] == 4
    spawns = ng_host.spawns("ngctl")
    # one ngctl -f FILE: the batch is a complete file, never a pipe a dying Salt could cut
    assert len(spawns) == 1 and spawns[0]["argv"][1] == "-f" and spawns[0]["argv"][2] != "-"
    assert ng_loaders.modules.netgraph.msg("nf1:", "info")["args"]["Inactive timeout"] == 20


def test_batch_failure_info(ng_loaders, ng_host):
    commands = [
        "mkpeer em1: netflow lower iface0",
        "name em1:lower nf1",
        "connect em1: nosuch: upper out0",
        "name nf1: never",
    ]
    with pytest.raises(CommandExecutionError) as excinfo:
        ng_loaders.modules.netgraph.batch(commands)
    assert excinfo.value.info == {
        "line": 3,
        "command": "connect em1: nosuch: upper out0",
        "error": "ngctl: send msg: No such file or directory",
        "applied": ["mkpeer em1: netflow lower iface0", "name em1:lower nf1"],
    }
    # ngctl does not roll back: lines 1-2 took effect.
    assert ng_loaders.modules.netgraph.show("nf1:")["hooks"][0]["peer_name"] == "em1"


def test_batch_injected_failure(ng_loaders, ng_host):
    ng_host.fail_at(2)
    with pytest.raises(CommandExecutionError) as excinfo:
        ng_loaders.modules.netgraph.batch(["mkpeer em1: netflow lower iface0", "name em1:lower nf1"])
    info = excinfo.value.info
    assert info["line"] == 2 and info["command"] == "name em1:lower nf1"
    assert info["error"] == "ngctl: send msg: No buffer space available"
    assert info["applied"] == ["mkpeer em1: netflow lower iface0"]


def test_query_continues_after_failing_line(ng_loaders, seeded):
    out = ng_loaders.modules.netgraph.query(
        [
            ["netflow_em0:", "info"],
            ["nosuch:", "info"],
            ["ksocket_netflow_em0:", "getpeername"],
            ["netflow_em0:", "ifinfo", "1"],
        ]
    )
    assert out[0]["ok"] and out[0]["reply"]["args"]["Active timeout"] == 1800
    assert out[1] == {"ok": False, "error": "ngctl: send msg: No such file or directory"}
    assert out[2]["ok"] and out[2]["reply"]["args"] == "inet/127.0.0.1:2055"
    assert out[3]["ok"] and out[3]["reply"]["args"]["conf"] == 11
    spawns = seeded.spawns("ngctl")
    assert len(spawns) == 2 and all(not s["mutating"] for s in spawns)


def test_query_all_ok_is_one_spawn(ng_loaders, seeded):
    out = ng_loaders.modules.netgraph.query([["netflow_em0:", "info"], ["ksocket_netflow_em0:", "getpeername"]])
    assert [r["ok"] for r in out] == [True, True]
    assert len(seeded.spawns("ngctl")) == 1


def test_modules_and_idempotent_load(ng_loaders, ng_host):
    ng = ng_loaders.modules.netgraph
    loaded = ng.modules()
    assert "ng_ether" in loaded
    first = ng.load_modules(["ng_ether", "ng_netflow", "ng_ksocket"])
    assert first["already"] == ["ng_ether"]
    assert set(first["loaded"]) <= {"ng_netflow", "ng_ksocket"}
    ng_host.clear_log()
    second = ng.load_modules(["ng_ether", "ng_netflow", "ng_ksocket"])
    assert second == {"loaded": [], "already": ["ng_ether", "ng_netflow", "ng_ksocket"]}
    assert ng_host.spawns("kldload") == []
    assert ng_host.mutating() == []
