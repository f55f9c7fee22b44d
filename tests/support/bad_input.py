"""The corpus of bad exporter parameters: each (parameters, the key the refusal must name).
``BAD`` can reach a state through Salt (tests/unit/core/test_netflow_plan.py checks it on
the pure validation, tests/functional/states/test_netflow_state.py through Salt and ngsim);
``BAD_PURE`` only a direct call can make.
"""
from __future__ import annotations

import copy

C1 = {"host": "192.0.2.10", "port": 2055}


GOOD = {"name": "lan", "interfaces": ["em0"], "collectors": [C1]}


def _with(**over):
    p = copy.deepcopy(GOOD)
    p.update(over)
    return p


# (parameters, text that the error message must contain: the key at fault)
BAD = [
    (_with(name="em0; reboot"), "name"),
    (_with(name="a:b"), "name"),
    (_with(name="a" * 26), "name"),
    (_with(name="x" * 300), "name"),
    (_with(name=""), "name"),
    (_with(name=None), "name"),
    (_with(name="lan\nshutdown"), "name"),
    (_with(name="a.b"), "name"),
    (_with(name="[1f]"), "name"),
    (_with(interfaces=["em0; reboot"]), "interfaces[0]"),
    (_with(interfaces=["a:b"]), "interfaces[0]"),
    (_with(interfaces=["em0\nshutdown em0:"]), "interfaces[0]"),
    (_with(interfaces=["x" * 32]), "interfaces[0]"),
    (_with(interfaces=["$(reboot)"]), "interfaces[0]"),
    (_with(interfaces=["em0", "em0"]), "interfaces[1]"),
    (_with(interfaces=["vlan0.100", "vlan0_100"]), "interfaces[1]"),
    (_with(interfaces=[]), "interfaces"),
    (_with(interfaces="em0"), "interfaces"),
    (_with(interfaces={"em0": {"direction": "sideways"}}), "interfaces.em0.direction"),
    (_with(interfaces={"em0": {"once": "yes"}}), "interfaces.em0.once"),
    (_with(interfaces={"em0": {"ifindex": 0}}), "interfaces.em0.ifindex"),
    (_with(interfaces={"em0": {"ifindex": "5"}}), "interfaces.em0.ifindex"),
    (_with(interfaces={"em0": {"attach": "bpf"}}), "interfaces.em0.attach"),
    (_with(interfaces={"tun0": {"attach": "ipfw"}}), "interfaces.tun0.ipfw_hook"),
    (_with(interfaces={"tun0": {"attach": "ipfw", "ipfw_hook": 65535}}), "interfaces.tun0.ipfw_hook"),
    (_with(interfaces={"em0": {"ipfw_hook": 10}}), "interfaces.em0.ipfw_hook"),
    (_with(interfaces={"em0": {"colour": "red"}}), "interfaces.em0"),
    (_with(collectors=[{"host": "192.0.2.1; reboot", "port": 2055}]), "collectors[0].host"),
    (_with(collectors=[{"host": "collector .example.net", "port": 2055}]), "collectors[0].host"),
    (_with(collectors=[{"host": "2001:db8::1::1", "port": 2055}]), "collectors[0].host"),
    (_with(collectors=[{"host": "300.1.1.1", "port": 2055}]), "collectors[0].host"),
    (_with(collectors=[{"host": "0.0.0.0", "port": 2055}]), "collectors[0].host"),
    (_with(collectors=[{"host": "192.0.2.1", "port": 0}]), "collectors[0].port"),
    (_with(collectors=[{"host": "192.0.2.1", "port": 65536}]), "collectors[0].port"),
    (_with(collectors=[{"host": "192.0.2.1", "port": -1}]), "collectors[0].port"),
    (_with(collectors=[{"host": "192.0.2.1", "port": "80"}]), "collectors[0].port"),
    (_with(collectors=[{"host": "192.0.2.1", "port": True}]), "collectors[0].port"),
    (_with(collectors=[{"host": "192.0.2.1", "port": 2055, "version": 7}]), "collectors[0].version"),
    (_with(collectors=[{"host": "192.0.2.1", "port": 2055, "version": 0}]), "collectors[0].version"),
    (_with(collectors=[{"host": "192.0.2.1", "port": 2055, "version": "nine"}]), "collectors[0].version"),
    (_with(collectors=[{"host": "192.0.2.1", "port": 2055, "proto": "tcp"}]), "collectors[0]"),
    (_with(collectors=[C1, C1]), "collectors[1]"),
    (_with(collectors=[]), "collectors"),
    (_with(collectors={"host": "192.0.2.1"}), "collectors"),
    (_with(timeouts={"active": -1}), "timeouts.active"),
    (_with(timeouts={"inactive": 2**32}), "timeouts.inactive"),
    (_with(timeouts={"inactive": 0}), "timeouts.inactive"),
    (_with(timeouts={"idle": 5}), "timeouts"),
    (_with(timeouts=15), "timeouts"),
    (_with(template={"time": 70000}), "template.time"),
    (_with(mtu=16385), "mtu"),
    (_with(mtu=23), "mtu"),
    (_with(mtu="1500"), "mtu"),
    (_with(persist="yes"), "persist"),
    (_with(takeover=1), "takeover"),
    (_with(colour="red"), "unknown parameter"),
]

# --- issue 12, task 11: whitespace around names. A `$`-anchored regex accepted "lan\n";
# every name field gets a trailing and a leading newline and the other blanks.
_C0 = {"host": "192.0.2.1", "port": 2055}
_BLANKS = ["{}\n", "\n{}", " {}", "{} ", "{}\t", "{}\r\n", "{}\r", "{}\x0b", "{}\x0c", "{}\x00", "{}\u00a0",
           "{}\u2028", "{}\u200b", "{}\x85"]


def _collector(**over):
    return [{**_C0, **over}]


def _iface(name="em0", **opts):
    return {name: opts}


BAD += [(_with(name=b.format("lan")), "name") for b in _BLANKS] + [(_with(name="la n"), "name")]
BAD += [(_with(interfaces=[b.format("em0")]), "interfaces[0]") for b in _BLANKS]
_SOME_BLANKS = ["{}\n", "\n{}", " {}", "{}\t", "{}\u00a0"]
BAD += [(_with(interfaces={b.format("em0"): {}}), "interfaces[") for b in _SOME_BLANKS]
BAD += [(_with(interfaces={b.format("em0"): None}), "interfaces[") for b in ("{}\n", "\n{}")]
BAD += [(_with(interfaces=["em1", {b.format("em0"): {"direction": "egress"}}]), "interfaces[1][") for b in ("{}\n", " {}")]
BAD += [(_with(collectors=_collector(host=b.format("192.0.2.10"))), "collectors[0].host") for b in _SOME_BLANKS]
BAD += [
    (_with(interfaces=_iface(direction="both\n")), "interfaces.em0.direction"),
    (_with(interfaces=_iface(direction=" both")), "interfaces.em0.direction"),
    (_with(interfaces=_iface(attach="ether\n")), "interfaces.em0.attach"),
    (_with(interfaces=_iface("tun0", attach="ipfw\n", ipfw_hook=1000)), "interfaces.tun0.attach"),
    (_with(interfaces=_iface("tun0", attach="ipfw", ipfw_hook="1000\n")), "interfaces.tun0.ipfw_hook"),
    (_with(collectors=_collector(port="2055\n")), "collectors[0].port"),
]

# --- task 12: wrong types (each crashed with TypeError, or was let through, before)
_WRONG_TYPES = [
    ("direction", ["both"]), ("direction", {}), ("direction", {"both": 1}), ("direction", 1), ("direction", None),
    ("direction", True), ("once", 1), ("once", [True]), ("once", None), ("once", "true"),
    ("attach", ["ipfw"]), ("attach", {"ipfw": 1}), ("attach", 1), ("attach", None),
    ("ifindex", [1]), ("ifindex", 1.0), ("ifindex", True), ("ifindex", "1"), ("ifindex", {"x": {"y": 1}}),
]
BAD += [(_with(interfaces=_iface(**{key: value})), f"interfaces.em0.{key}") for key, value in _WRONG_TYPES]
BAD += [(_with(interfaces=_iface("tun0", attach="ipfw", ipfw_hook=v)), "interfaces.tun0.ipfw_hook")
        for v in ("1000", [1000], 1000.0, True, None, {"x": 1})]
BAD += [(_with(interfaces=_iface("tun0", attach="ipfw", ipfw_hook=7, ipfw_rule=v)), "interfaces.tun0.ipfw_rule")
        for v in ("5", {}, 5.0, [5])]
BAD += [(_with(collectors=_collector(host=v)), "collectors[0].host")
        for v in (["1.2.3.4"], {"a": 1}, 3232235521, None, b"192.0.2.1", {"x": {"y": 1}})]
BAD += [(_with(collectors=[{"port": 2055}]), "collectors[0].host")]
BAD += [(_with(collectors=_collector(port=v)), "collectors[0].port") for v in (2055.0, [2055], {"p": 1}, None, 10**30)]
BAD += [(_with(collectors=[{"host": "192.0.2.1"}]), "collectors[0].port")]
BAD += [(_with(collectors=_collector(version=v)), "collectors[0].version") for v in ([9], "9", 9.0, True, {}, None)]
BAD += [(_with(interfaces=v), "interfaces")
        for v in (5, None, {"em0"}, b"em0", [["em0"]], [None], [5], [{"em0": {}, "em1": {}}], [{}], 1.5)]
BAD += [(_with(interfaces={k: {}}), "interfaces[") for k in (1, None, True, 1.5)]
BAD += [(_with(interfaces={"em0": v}), "interfaces.em0") for v in ([], "egress", 5, ["direction", "egress"])]
BAD += [(_with(collectors=v), "collectors") for v in ("192.0.2.1", 5, None, {"host": "192.0.2.1", "port": 2055})]
BAD += [(_with(collectors=[v]), "collectors[0]") for v in (["192.0.2.1", 2055], None, 5, "192.0.2.1:2055")]
BAD += [(_with(timeouts=v), "timeouts") for v in ([1, 2], "15", 15.0, True)]
BAD += [(_with(timeouts={"active": v}), "timeouts.active") for v in ("10", [10], 10.0, {"x": {"y": 1}}, True, None)]
BAD += [(_with(template=v), "template") for v in ([1], 600)]
BAD += [(_with(template={"time": "600"}), "template.time"), (_with(template={"packets": {}}), "template.packets")]
BAD += [(_with(mtu=v), "mtu") for v in ([1500], {}, 1500.0, True)]
BAD += [(_with(persist=v), "persist") for v in ([True], {}, None, 1)]
BAD += [(_with(takeover=v), "takeover") for v in ("true", None, 0)]

# --- hostile KEYS: unknown parameter keys (strings: they reach the state as keyword
# arguments), interface option keys, interface mapping keys, collector and pair keys
_HOSTILE_KEYS = ["colour\n", "a: b", "$(touch /tmp/x)", "`id`", "{{ pillar }}", "- x", "collectors;reboot",
                 "interfaces\n", " interfaces", "Interfaces", "x" * 2000, "ümlaut", "--", "a\x00b"]
BAD += [(_with(**{k: 1}), "unknown parameter") for k in _HOSTILE_KEYS]
BAD += [(_with(interfaces={"em0": {k: "egress"}}), "interfaces.em0: unknown key")
        for k in _HOSTILE_KEYS + ["direction\n", " direction", 1, None, 1.5]]
BAD += [(_with(interfaces={"em0": {"colour": 1, 2: 3, None: 4}}), "interfaces.em0: unknown key")]
BAD += [(_with(collectors=[{**_C0, k: 1}]), "collectors[0]: unknown key")
        for k in _HOSTILE_KEYS + ["host\n", "port ", 1, None]]
BAD += [(_with(collectors=[{**_C0, "x": 1, 2: 3}]), "collectors[0]: unknown key")]
BAD += [(_with(timeouts={k: 5}), "timeouts: unknown key") for k in ("active\n", 1, None, "$(x)", "a: b")]
BAD += [(_with(timeouts={1: 2, "x": 3}), "timeouts: unknown key"), (_with(template={"time ": 5}), "template: unknown key")]
BAD += [(_with(interfaces={k: {}}), "interfaces[") for k in ("a: b", "$(touch /tmp/x)", "em0;reboot", "x" * 2000, "")]

# --- issue 16: IPv6 collectors, the export source address, host names. Every new field
# and rule: link-local with or without a zone, zones on other addresses, unspecified,
# multicast and v4-mapped IPv6, mixed families, loopback with non-loopback, names where
# only an address goes, broken names, duplicates spelled two ways, wrong types.
_C6 = {"host": "2001:db8::53", "port": 2055}
BAD += [(_with(collectors=_collector(host=v)), "collectors[0].host")
        for v in ("fe80::1", "fe80::1%em0", "fe80::1%2", "2001:db8::1%em0", "::", "ff02::1", "::ffff:192.0.2.1",
                  "2001:db8:::1", "[2001:db8::1]", "[2001:db8::53]:2055", "1.2.3", "-bad.example.net",
                  "a_b.example.net", "a..b", "x" * 64 + ".net", "example.123", "a" * 250 + ".net")]
BAD += [(_with(collectors=[{**_C6, "source": v}]), "collectors[0].source")
        for v in ("192.0.2.1", "fe80::1", "fe80::1%em0", "::", "ff02::1", "::1", "::ffff:192.0.2.1",
                  "router.example.net", "2001:db8::1%em0")]
BAD += [(_with(collectors=_collector(source=v)), "collectors[0].source")
        for v in ("2001:db8::1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "127.0.0.1", "localhost", "", 5,
                  ["192.0.2.1"], {"a": 1}, True, b"192.0.2.1", "192.0.2.1/24", "192.0.2.1:0")]
BAD += [(_with(collectors=_collector(source=b.format("192.0.2.7"))), "collectors[0].source") for b in _SOME_BLANKS]
BAD += [(_with(collectors=[{"host": "127.0.0.1", "port": 2055, "source": "192.0.2.7"}]), "collectors[0].source"),
        (_with(collectors=[_C6, {"host": "2001:DB8:0::53", "port": 2055}]), "collectors[1]"),
        (_with(collectors=[_C6, {**_C6, "source": "2001:db8::1"}]), "collectors[1]"),
        (_with(collectors=[{**_C6, "version": 5}, {"host": "2001:db8:0:0::53", "port": 2055, "version": 5}]),
         "collectors[1]")]

# Only possible in the pure call, so outside BAD (which the functional test also runs
# through Salt): parameter keys that are not strings (Python keyword arguments are
# strings), names that are not strings (Salt refuses a state ID that is not one) and
# tuple keys (no YAML makes them; Salt's own argument decoding fails on them).
BAD_PURE = [({**GOOD, k: 1}, "unknown parameter") for k in (1, None, ("interfaces",), b"interfaces", 1.5, True)]
BAD_PURE += [(_with(name=v), "name") for v in ({"x": 1}, ["lan"], 5, True, b"lan")]
BAD_PURE += [(_with(interfaces={("em0",): {}}), "interfaces["),
             (_with(interfaces={"em0": {("direction",): "egress"}}), "interfaces.em0: unknown key"),
             (_with(collectors=[{**_C0, ("host",): 1}]), "collectors[0]: unknown key")]


def netgraph_calls(ng, bad) -> dict:
    """Every netgraph.* argument that is a node, hook, type, message or path name: {what: call}
    (tests/unit/core/test_validation_hardening.py, tests/functional/states/test_bad_input_keys_paths.py)."""
    return {
        "show path": lambda: ng.show(bad + ":"),
        "msg path": lambda: ng.msg(bad + ":", "info"),
        "msg cmd": lambda: ng.msg("lan_nf:", bad),
        "mkpeer path": lambda: ng.mkpeer(bad + ":", "netflow", "lower", "iface0"),
        "mkpeer type": lambda: ng.mkpeer("em0:", bad, "lower", "iface0"),
        "mkpeer hook": lambda: ng.mkpeer("em0:", "netflow", bad, "iface0"),
        "mkpeer peerhook": lambda: ng.mkpeer("em0:", "netflow", "lower", bad),
        "connect path": lambda: ng.connect(bad + ":", "lan_nf:", "upper", "out0"),
        "connect relpath": lambda: ng.connect("em0:", bad, "upper", "out0"),
        "connect hook": lambda: ng.connect("em0:", "lan_nf:", bad, "out0"),
        "connect peerhook": lambda: ng.connect("em0:", "lan_nf:", "upper", bad),
        "name path": lambda: ng.name(bad + ":", "lan_nf"),
        "name name": lambda: ng.name("em0:lower", bad),
        "rmhook path": lambda: ng.rmhook(bad + ":", "lower"),
        "rmhook hook": lambda: ng.rmhook("em0:", bad),
        "shutdown path": lambda: ng.shutdown(bad + ":"),
        "query path": lambda: ng.query([[bad + ":", "info"]]),
        "query cmd": lambda: ng.query([["lan_nf:", bad]]),
        "batch word": lambda: ng.batch([["shutdown", bad + ":"]]),
        "batch line": lambda: ng.batch([f"shutdown {bad}:"]) if "\n" in bad or "\r" in bad else ng.batch([["rmhook", "em0:", bad]]),
        "load_modules": lambda: ng.load_modules([bad]),
        "ipfw_add word": lambda: ng.ipfw_add(100, ["ngtee", bad]),
    }
