"""Every parser on the emulator's own output, and the ipfw/unnamed-node paths through Salt."""
from __future__ import annotations

import pathlib

from netgraph_core import ng_text

from netgraph_core import ng_systext
import pytest
from salt.exceptions import CommandExecutionError

REPO = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture
def ipfw_host(ng_host):
    ng_host.init(ifaces=("em0", "tun0"), loaded=("ng_ether", "ng_ipfw"))
    ng_host.ngctl("mkpeer", "ipfw:", "netflow", "10", "iface0")  # left unnamed on purpose
    ng_host.ngctl("mkpeer", "ipfw:10", "ksocket", "export9", "inet/dgram/udp")
    ng_host.ngctl("msg", "ipfw:10.export9", "connect", "inet/192.0.2.10:2055")
    ng_host.clear_log()
    return ng_host


def test_parsers_on_emulator_output(ipfw_host):
    nodes = ng_text.parse_list(ipfw_host.ngctl("list").stdout)
    by_type = {n["type"]: n for n in nodes}
    assert by_type["ipfw"]["name"] == "ipfw" and by_type["netflow"]["name"] is None
    assert by_type["ksocket"]["num_hooks"] == 1

    show = ng_text.parse_show(ipfw_host.ngctl("show", "ipfw:").stdout)
    assert show["hooks"] == [{"hook": "10", "peer_name": None, "peer_type": "netflow",
                              "peer_id": by_type["netflow"]["id"], "peer_hook": "iface0"}]

    long_ = ng_text.parse_list_long(ipfw_host.ngctl("list", "-l").stdout)
    # list -l runs in another ngctl process: only its own socket node differs.
    assert {n["id"] for n in long_ if n["type"] != "socket"} == {n["id"] for n in nodes if n["type"] != "socket"}
    assert next(n for n in long_ if n["type"] == "ipfw")["hooks"][0]["peer_hook"] == "iface0"

    types = {row["type"]: row["nodes"] for row in ng_text.parse_types(ipfw_host.ngctl("types").stdout)}
    assert types["netflow"] == 1 and types["ipfw"] == 1 and types["ether"] == 1  # tun0 is not Ethernet

    dot = ng_text.parse_dot(ipfw_host.ngctl("dot").stdout)
    assert dot["nodes"][by_type["netflow"]["id"]] == {"name": None, "type": "netflow"}
    assert [[by_type["netflow"]["id"], "iface0"], [by_type["ipfw"]["id"], "10"]] in dot["edges"]

    reply = ng_text.parse_reply(ipfw_host.ngctl("msg", "ipfw:10.export9", "getpeername").stdout)
    assert reply["args"] == "inet/192.0.2.10:2055" and reply["from"] == by_type["ksocket"]["id"]

    kld = ng_systext.parse_kldstat(ipfw_host.run("kldstat", "-v").stdout)
    assert {"ng_ether", "ng_ipfw", "ng_netflow", "netgraph"} <= set(ng_systext.module_names(kld))
    assert ng_systext.parse_kldstat(ipfw_host.run("kldstat", "-m", "ng_ether").stdout)["modules"][0]["name"] == "ng_ether"

    ipfw_host.run("ipfw", "add", "100", "ngtee", "10", "ip", "from", "any", "to", "any", "via", "tun0")
    rules = ng_systext.parse_ipfw_list(ipfw_host.run("ipfw", "list").stdout)
    assert rules[0] == {"rule": 100, "text": "ngtee 10 ip from any to any via tun0"}
    assert rules[-1]["rule"] == 65535


def test_graph_keys_unnamed_nodes_by_id(ng_loaders, ipfw_host):
    graph = ng_loaders.modules.netgraph.graph()
    netflow = [key for key, node in graph["nodes"].items() if node["type"] == "netflow"]
    assert len(netflow) == 1 and netflow[0] == "[%x]" % graph["nodes"][netflow[0]]["id"]
    assert graph["nodes"]["ipfw"]["hooks"]["10"]["peer"] == netflow[0]
    assert graph["nodes"][netflow[0]]["hooks"]["iface0"]["peer"] == "ipfw"
    assert len(ipfw_host.spawns("ngctl")) == 1


def test_ipfw_functions(ng_loaders, ipfw_host):
    ng_salt = ng_loaders.modules.netgraph
    assert ng_salt.ipfw_rules()[-1]["rule"] == 65535
    assert ng_salt.ipfw_add(100, ["ngtee", "10", "ip", "from", "any", "to", "any", "via", "tun0"]) is True
    assert {"rule": 100, "text": "ngtee 10 ip from any to any via tun0"} in ng_salt.ipfw_rules()
    assert ng_salt.ipfw_delete(100) is True
    assert [r["rule"] for r in ng_salt.ipfw_rules()] == [65535]
    with pytest.raises(CommandExecutionError):
        ng_salt.ipfw_delete(100)
    adds = [e for e in ipfw_host.spawns("ipfw") if e["argv"][1:2] == ["add"]]
    assert len(adds) == 1 and adds[0]["mutating"] is True
