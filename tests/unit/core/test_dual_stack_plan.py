"""Dual stack in the pure core (issue 16): IPv6 collectors (inet6/dgram/17 and the generic
sockaddr), the export source address (bind before connect; a new ksocket when it changes),
host names resolved by the glue (nf_resolve), and validation that reports every error."""
from __future__ import annotations

import copy

from netgraph_core import nf_model
from netgraph_core import nf_plan
from netgraph_core import nf_settings
from netgraph_core import nf_resolve
from netgraph_core import ng_text
from netgraph_core import nf_boot
import pytest

V4 = {"host": "192.0.2.10", "port": 2055}
V6 = {"host": "2001:db8::53", "port": 2055}
PEER6 = "{ len=28 family=28 data=[ 0x8 0x7 6=0x20 0x1 0xd 0xb8 21=0x53 ] }"
SRC6 = "{ len=28 family=28 data=[ 6=0x20 0x1 0xd 0xb8 21=0x1 ] }"


def host(*ifaces):
    return {"nodes": {i: {"type": "ether", "hooks": {}} for i in ifaces}, "types": ["ether"], "settings": {}}


def cfg_of(collectors, prior=None, answers=None):
    cfg = nf_model.validate({"name": "lan", "interfaces": ["em0"], "collectors": collectors})
    cfg = nf_resolve.resolve(cfg, answers or {})
    return nf_resolve.unbound(cfg, prior)


def live(collectors, local=None):
    """The graph a converged exporter leaves, with settings as the planner reads them back
    (getname's text has an ephemeral port, so the read is not a copy of the desired)."""
    base = host("em0")
    want = nf_model.desired(cfg_of(collectors), base)
    g = copy.deepcopy(base)
    for key, node in want["nodes"].items():
        entry = g["nodes"].setdefault(key, {"type": node["type"], "hooks": {}})
        entry["hooks"].update({h: dict(p) for h, p in node["hooks"].items()})
    g["settings"] = copy.deepcopy(want["settings"])
    for key, st in g["settings"].items():
        if "peer" in st:
            st.pop("resolved", None), st.pop("unbind", None)
            st.setdefault("source", (local or {}).get(key))
    return g


def lines(res):
    return [" ".join(c) for c in res["commands"]]


def plan(collectors, current, prior=None):
    return nf_plan.diff(current, nf_model.desired(cfg_of(collectors, prior), current))


# ----------------------------------------------------------------------------- desired
def test_ipv6_collector_is_an_inet6_dgram_17_ksocket_with_the_generic_peer():
    want = nf_model.desired(cfg_of([V6]), host("em0"))
    assert want["nodes"]["lan_nf"]["hooks"]["export9"] == {"peer": "lan_v9", "peer_hook": "inet6/dgram/17"}
    assert want["settings"]["lan_v9"] == {"peer": PEER6}


def test_create_binds_the_source_before_connect():
    res = nf_plan.diff(host("em0"), nf_model.desired(cfg_of([{**V6, "source": "2001:db8::1"}]), host("em0")))
    assert lines(res)[-4:] == ["mkpeer lan_nf: ksocket export9 inet6/dgram/17", "name lan_nf:export9 lan_v9",
                               f"msg lan_v9: bind {SRC6}", f"msg lan_v9: connect {PEER6}"]
    res = nf_plan.diff(host("em0"), nf_model.desired(cfg_of([{**V4, "source": "192.0.2.1"}]), host("em0")))
    assert lines(res)[-2:] == ["msg lan_v9: bind inet/192.0.2.1", "msg lan_v9: connect inet/192.0.2.10:2055"]


def test_v5_may_export_to_an_ipv6_collector_the_version_limits_flows_not_sockets():
    cfg = cfg_of([{**V6, "version": 5}, {**V4, "version": 9}])
    want = nf_model.desired(cfg, host("em0"))
    assert want["nodes"]["lan_nf"]["hooks"]["export"] == {"peer": "lan_v5", "peer_hook": "inet6/dgram/17"}
    assert nf_model.VERSIONS[5]["families"] == ("inet",) and nf_model.VERSIONS[9]["families"] == ("inet", "inet6")


def test_fan_out_mixes_families_link_by_link():
    want = nf_model.desired(cfg_of([V4, V6, {**V4, "port": 9}]), host("em0"))
    links = {h: p for h, p in want["nodes"]["lan_v9"]["hooks"].items() if h.startswith("many")}
    assert len(links) == 3
    for hook, p in links.items():
        family = "inet6/dgram/17" if want["settings"][p["peer"]]["peer"].startswith("{") else "inet/dgram/udp"
        assert p["peer_hook"] == family, (hook, p)


# ----------------------------------------------------------------------------- changes in place
def test_ipv4_to_ipv6_replaces_the_ksocket_and_keeps_the_netflow_node():
    res = plan([V6], live([V4]))
    assert lines(res) == ["shutdown lan_v9:", "mkpeer lan_nf: ksocket export9 inet6/dgram/17",
                          "name lan_nf:export9 lan_v9", f"msg lan_v9: connect {PEER6}"]


def test_host_change_without_source_is_a_second_connect():
    res = plan([{**V6, "host": "2001:db8::54"}], live([V6]))
    assert lines(res) == ["msg lan_v9: connect { len=28 family=28 data=[ 0x8 0x7 6=0x20 0x1 0xd 0xb8 21=0x54 ] }"]


@pytest.mark.parametrize("before,after,why", [
    ({**V6, "source": "2001:db8::1"}, {**V6, "source": "2001:db8::2"}, "source changes"),
    ({**V6, "source": "2001:db8::1"}, {**V6, "host": "2001:db8::54", "source": "2001:db8::1"}, "host, source kept"),
    (V6, {**V6, "source": "2001:db8::1"}, "source added"),
    ({**V4, "source": "192.0.2.1"}, {**V4, "host": "192.0.2.11", "source": "192.0.2.1"}, "IPv4 too"),
])
def test_a_bound_socket_is_replaced_never_rebound_nor_reconnected(before, after, why):
    local = {"lan_v9": before.get("source")}
    res = plan([after], live([before], local))
    ls = lines(res)
    family = 'inet6/dgram/17' if ':' in after['host'] else 'inet/dgram/udp'
    assert ls[:3] == ["shutdown lan_v9:", f"mkpeer lan_nf: ksocket export9 {family}",
                      "name lan_nf:export9 lan_v9"], why
    assert ls[3].startswith("msg lan_v9: bind ") and ls[4].startswith("msg lan_v9: connect "), why
    assert not any(line.startswith("shutdown lan_nf") for line in ls)
    changed = res["changes"]["settings"]
    assert (changed["lan_v9.source"]["new"] == after["source"]) if before.get("source") != after["source"] \
        else (changed["lan_v9.peer"]["new"].endswith(":2055") or "0x54" in changed["lan_v9.peer"]["new"])


def test_dropping_the_source_replaces_the_socket_the_last_apply_bound():
    bound = {**V6, "source": "2001:db8::1"}
    current = live([bound], {"lan_v9": "2001:db8::1"})
    res = plan([V6], current, prior=cfg_of([bound]))
    assert lines(res) == ["shutdown lan_v9:", "mkpeer lan_nf: ksocket export9 inet6/dgram/17",
                          "name lan_nf:export9 lan_v9", f"msg lan_v9: connect {PEER6}"]
    assert res["changes"]["settings"]["lan_v9.source"] == {"old": "2001:db8::1", "new": None}
    # without the record (or once it says no source) the socket's local address is not judged
    assert plan([V6], current)["commands"] == [] and plan([V6], current, prior=cfg_of([V6]))["commands"] == []


def test_bound_right_but_not_connected_is_connected_only():
    current = live([{**V6, "source": "2001:db8::1"}], {"lan_v9": "2001:db8::1"})
    current["settings"]["lan_v9"]["peer"] = None
    assert lines(plan([{**V6, "source": "2001:db8::1"}], current)) == [f"msg lan_v9: connect {PEER6}"]


def test_no_change_with_sources_on_both_families():
    cols = [{**V6, "source": "2001:db8::1"}, {**V4, "source": "192.0.2.1"}, {**V4, "version": 5}]
    current = live(cols, {"lan_v9_0": "2001:db8::1", "lan_v9_1": "192.0.2.1", "lan_v5": "192.0.2.99"})
    res = plan(cols, current)
    assert res["commands"] == [] and res["changes"] == {}


def test_settings_read_back_from_getname_and_getpeername_replies():
    def reply(cmd, num, args):
        return {"ok": True, "reply": ng_text.parse_reply(f'Rec\'d response "{cmd}" ({num}) from "[2b]:":\nArgs:\t{args}\n')}

    queries = nf_settings.settings_queries(live([V6]), "lan")
    assert [q for q in queries if q[0] == "lan_v9:"] == [["lan_v9:", "getpeername"], ["lan_v9:", "getname"]]
    queries = [["lan_v9:", "getpeername"], ["lan_v9:", "getname"], ["lan_v5:", "getpeername"], ["lan_v5:", "getname"],
               ["x:", "getname"]]
    replies = [reply("getpeername", 6, PEER6), reply("getname", 5, "{ len=28 family=28 data=[ 0x27 0x10 6=0x20 0x1 0xd 0xb8 21=0x1 ] }"),
               {"ok": False, "error": "ngctl: send msg: Socket is not connected"}, reply("getname", 5, "inet/0.0.0.0"),
               reply("getname", 5, "{ len=28 family=28 }")]
    st = nf_settings.settings_from_replies(queries, replies)
    assert st["lan_v9"] == {"peer": PEER6, "source": "2001:db8::1",
                            "local": "{ len=28 family=28 data=[ 0x27 0x10 6=0x20 0x1 0xd 0xb8 21=0x1 ] }"}
    assert st["lan_v5"] == {"peer": None, "source": None, "local": "inet/0.0.0.0"}
    assert st["x"]["source"] is None
    assert st["lan_v9"]["peer"] == nf_model.desired(cfg_of([V6]), host("em0"))["settings"]["lan_v9"]["peer"]


def test_boot_script_binds_before_connect():
    script = nf_boot.build_script(cfg_of([{**V6, "source": "2001:db8::1"}]))
    assert script["ngctl"][-2:] == [f"msg lan_v9: bind {SRC6}", f"msg lan_v9: connect {PEER6}"]


# ----------------------------------------------------------------------------- names
def test_a_name_takes_the_address_of_the_sources_family_lowest_first():
    answers = {"nf.example.net": ["2001:db8::99", "192.0.2.20", "192.0.2.10"]}
    cfg = cfg_of([{"host": "nf.example.net", "port": 2055}], answers=answers)
    assert (cfg["collectors"][0]["address"], cfg["collectors"][0]["family"]) == ("2001:db8::99", "inet6")
    cfg = cfg_of([{"host": "nf.example.net", "port": 2055, "source": "192.0.2.1"}], answers=answers)
    assert cfg["collectors"][0]["address"] == "192.0.2.10", "the lowest, whatever the answer's order"
    want = nf_model.desired(cfg, host("em0"))
    assert want["settings"]["lan_v9"] == {"peer": "inet/192.0.2.10:2055", "source": "192.0.2.1",
                                          "resolved": {"name": "nf.example.net", "address": "192.0.2.10"}}
    res = nf_plan.diff(host("em0"), want)
    assert res["changes"]["resolved"] == {"nf.example.net": "192.0.2.10"}
    assert "msg lan_v9: connect inet/192.0.2.10:2055" in lines(res)


def test_names_that_do_not_resolve_are_all_reported():
    cfg = nf_model.validate({"name": "lan", "interfaces": ["em0"], "collectors": [
        {"host": "a.invalid", "port": 1}, {"host": "b.example.net", "port": 2, "source": "2001:db8::1"},
        {"host": "c.example.net", "port": 3}, {"host": "d.example.net", "port": 4, "source": "127.0.0.2"}]})
    assert nf_resolve.host_names(cfg) == ["a.invalid", "b.example.net", "c.example.net", "d.example.net"]
    with pytest.raises(nf_model.ValidationError) as exc:
        nf_resolve.resolve(cfg, {"a.invalid": "[Errno -2] Name or service not known", "b.example.net": ["192.0.2.5"],
                                 "c.example.net": ["fe80::1%em0"], "d.example.net": ["192.0.2.6"]})
    errors = exc.value.errors
    assert [e.split(":")[0] for e in errors] == ["collectors[0].host", "collectors[1].host", "collectors[2].host",
                                                 "collectors[3].source"]
    assert "'a.invalid' does not resolve on this minion ([Errno -2] Name or service not known)" in errors[0]
    assert "no IPv6 address (the family of source '2001:db8::1')" in errors[1]
    assert "link-local" in errors[2] and "host 'd.example.net' (192.0.2.6)" in errors[3]
    assert "\n" not in str(exc.value) and str(exc.value) == "; ".join(errors)


def test_two_names_for_one_collector_are_a_duplicate():
    cfg = nf_model.validate({"name": "lan", "interfaces": ["em0"], "collectors": [
        {"host": "a.example.net", "port": 2055}, {"host": "192.0.2.10", "port": 2055}]})
    with pytest.raises(nf_model.ValidationError, match=r"collectors\[1\]: collector 192.0.2.10:2055 v9 is listed twice"):
        nf_resolve.resolve(cfg, {"a.example.net": ["192.0.2.10"]})


def test_an_unresolved_name_never_reaches_the_kernel():
    cfg = nf_model.validate({"name": "lan", "interfaces": ["em0"], "collectors": [{"host": "a.example.net", "port": 1}]})
    with pytest.raises(nf_model.ValidationError, match="not resolved"):
        nf_model.desired(cfg, host("em0"))


def test_the_record_keeps_the_addresses_applied():
    params = {"interfaces": ["em0"], "collectors": [{"host": "a.example.net", "port": 1, "source": "192.0.2.1"}, V6]}
    cfg = nf_resolve.resolve(nf_model.validate({"name": "lan", **params}), {"a.example.net": ["192.0.2.7"]})
    assert nf_resolve.pinned(params, cfg)["collectors"] == [{"host": "192.0.2.7", "port": 1, "source": "192.0.2.1"}, V6]
    assert params["collectors"][0]["host"] == "a.example.net", "the pillar's own data is not touched"


# ----------------------------------------------------------------------------- every error at once
def test_validation_reports_every_error_each_naming_its_key():
    params = {"name": "lan\n", "interfaces": {"em0": {"direction": "up", "once": "yes"}, "e m1": None},
              "collectors": [{"host": "fe80::1", "port": 0}, {**V6, "source": "192.0.2.1", "version": 7},
                             {"host": "2001:db8::53", "port": 2055, "colour": 1}],
              "timeouts": {"active": 0, "inactive": "15"}, "mtu": 5, "persist": "yes", "bogus": 1}
    with pytest.raises(nf_model.ValidationError) as exc:
        nf_model.validate(params)
    keys = [e.split(":")[0].split(" ")[0] for e in exc.value.errors]
    assert keys == ["name", "unknown", "persist", "interfaces.em0.direction", "interfaces.em0.once", "interfaces['e",
                    "collectors[0].host", "collectors[0].port", "collectors[1].version", "collectors[1].source",
                    "collectors[2]", "timeouts.inactive", "timeouts.active", "mtu"], exc.value.errors
    message = str(exc.value)
    assert message == "; ".join(exc.value.errors) and "\n" not in message


def test_a_single_error_is_still_one_message():
    with pytest.raises(nf_model.ValidationError) as exc:
        nf_model.validate({"name": "lan", "interfaces": ["em0"], "collectors": [{**V6, "source": "192.0.2.1"}]})
    assert exc.value.errors == [str(exc.value)] and str(exc.value).startswith("collectors[0].source: '192.0.2.1' is IPv4")
