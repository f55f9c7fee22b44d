"""The exporter model (pure; no Salt): what a pillar entry may say, and the netgraph
graph it declares.

``validate`` checks and normalises an exporter's parameters (raising ValidationError
naming the key at fault); ``desired`` turns the result into a graph of the same shape as
``netgraph.graph`` (plus ``settings`` and ``ipfw`` rules), which the planner compares with
the live graph. The values come from FreeBSD's ``sys/netgraph/netflow/ng_netflow.h`` and
``netflow_v9.h`` (see docs/netgraph.md).

Graph that an exporter ``X`` owns (names derived from ``X``, at most 31 characters)::

    em0:lower  <-> X_nf:iface0     (ng_ether wire side into ng_netflow)
    em0:upper  <-> X_nf:out0       (back to the host stack: traffic keeps passing)
    ipfw:1000  <-> X_nf:iface1     (attach: ipfw, raw IP from "ipfw add ... ngtee 1000")
    X_nf:export9 <-> X_v9:inet/dgram/udp          (one v9 collector: a ksocket;
                                                    inet6/dgram/17 for an IPv6 one)
    X_nf:export  <-> X_v5:one                     (several v5 collectors: ng_one2many,
    X_v5:many0   <-> X_v5_0:inet/dgram/udp         xmitAlg=2 copies to every link)

Why ng_one2many and not ng_hub for fan-out: one2many only forwards ``many -> one`` and
``one -> many``; a hub copies anything that arrives on one hook to all the others, so a
datagram received by one collector's ksocket would be sent on to the other collectors.
"""
from __future__ import annotations

import ipaddress
import re

from . import nf_sockaddr
from .nf_params import (  # noqa: F401  (re-exported: callers know the model as nf_model)
    collect_errors, COLLECTOR_KEYS, CONF_EGRESS, CONF_INGRESS, CONF_THISONCE, ConflictError,
    DEFAULT_MTU, DEFAULT_TEMPLATE, DEFAULT_TIMEOUTS, DIRECTIONS, DLT_EN10MB, DLT_RAW, MINION_RE,
    duplicate_errors, EXPORT_HOOK, FAMILIES, IFACE_KEYS, IFNAME_RE, IPV_NAMES, KSOCKET_HOOK, MAX_COLLECTORS,
    NAME_RE, owned_name_re, PARAM_KEYS, PERSISTENT, raise_errors, SELF_DESTRUCTING, source_errors,
    validate, ValidationError, VERSIONS,
)
from .ng_words import ether_node_name  # its one source is ng_words


# --------------------------------------------------------------------------------------
# Names and the desired graph
# --------------------------------------------------------------------------------------
def node_names(name: str) -> dict:
    """The fixed part of an exporter's node names."""
    return {"netflow": f"{name}_nf", 9: f"{name}_v9", 5: f"{name}_v5"}


def _hook_peer(graph: dict, node: str, hook: str):
    n = graph.get("nodes", {}).get(node)
    if not n:
        return None
    h = n.get("hooks", {}).get(hook)
    return (h["peer"], h["peer_hook"]) if h else None


_IFACE_HOOK_RE = re.compile(r"iface(\d+)")
_INDEXED_HOOK_RE = re.compile(r"(?:iface|out)(\d+)")


def _iface_indices(cfg: dict, current: dict) -> dict:
    """Keep the netflow iface index an interface already has; give new ones the lowest
    free, in the order of their names (not the pillar's: the same pillar written in
    another key order gives the same graph)."""
    nf = node_names(cfg["name"])["netflow"]
    cur_hooks = current.get("nodes", {}).get(nf, {}).get("hooks", {})
    attached: dict[tuple, int] = {}  # (peer node, peer hook) -> N of the ifaceN it feeds
    for hook, peer in cur_hooks.items():
        m = _IFACE_HOOK_RE.fullmatch(hook)
        if m:
            attached[(peer["peer"], peer["peer_hook"])] = int(m.group(1))
    kept: dict[str, int] = {}
    for iface in cfg["interfaces"]:
        want = (iface["node"], "lower" if iface["attach"] == "ether" else str(iface["ipfw_hook"]))
        if want in attached:
            kept[iface["name"]] = attached[want]
    taken = set(kept.values())
    for hook in cur_hooks:  # do not reuse an index whose hooks are still connected
        m = _INDEXED_HOOK_RE.fullmatch(hook)
        if m:
            taken.add(int(m.group(1)))
    nxt = 0
    for iface in sorted(cfg["interfaces"], key=lambda i: i["name"]):
        if iface["name"] in kept:
            continue
        while nxt in taken:
            nxt += 1
        kept[iface["name"]] = nxt
        taken.add(nxt)
    return kept


def collector_order(collector: dict) -> tuple:
    """The one order of collectors, whatever the pillar's: (version, address, port), the
    address compared as an address (192.0.2.9 before 192.0.2.10), not as text; a host
    name by the address it resolved to, as the kernel gets that address."""
    try:
        addr = ipaddress.ip_address(collector.get("address") or collector["host"])
        host = (addr.version, int(addr), "")
    except ValueError:
        host = (99, 0, str(collector["host"]))
    return (collector.get("version", 9), host, collector["port"])


def _collector_slots(cfg: dict, current: dict, version: int) -> dict:
    """Fan-out link index per collector: keep the link a collector already uses; new ones
    get the lowest free link in ``collector_order``."""
    fan = node_names(cfg["name"])[version]
    wanted = [c for c in cfg["collectors"] if c["version"] == version]
    settings = current.get("settings", {})
    fan_hooks = current.get("nodes", {}).get(fan, {}).get("hooks", {})
    slots: dict[tuple, int] = {}
    taken = set()
    for hook, peer in fan_hooks.items():
        m = re.fullmatch(r"many(\d+)", hook)
        if not m:
            continue
        taken.add(int(m.group(1)))
        peer_addr = settings.get(peer["peer"], {}).get("peer")
        for c in wanted:
            if peer_addr == sockaddr(c) and (c["host"], c["port"]) not in slots:
                slots[(c["host"], c["port"])] = int(m.group(1))
                break
    nxt = 0
    for c in sorted(wanted, key=collector_order):
        key = (c["host"], c["port"])
        if key in slots:
            continue
        while nxt in taken:
            nxt += 1
        slots[key] = nxt
        taken.add(nxt)
    return slots


def sockaddr(collector: dict) -> str:
    """ng_ksocket's ASCII sockaddr of a collector, as ``connect`` takes it and
    ``getpeername`` prints it (nf_sockaddr.text: ``inet/A.B.C.D:PORT`` or the generic
    ``{ len=28 family=28 data=[ ... ] }``)."""
    address = collector.get("address", collector.get("host"))
    if not address:
        raise ValidationError(f"collector {collector.get('host')!r}: its host name was not resolved (nf_resolve)")
    return nf_sockaddr.text(address, collector["port"])


def ksocket_hook(collector: dict) -> str:
    """The hook that makes the collector's socket: inet/dgram/udp or inet6/dgram/17."""
    return FAMILIES[collector.get("family") or "inet"]["hook"]


def ksocket_settings(collector: dict) -> dict:
    """What the planner compares on a collector's ksocket: ``peer`` (getpeername's text),
    ``source`` (the address it must be bound to, getname's without the port), ``unbind``
    (a source the pillar dropped, nf_resolve.unbound) and ``resolved`` (a host name and
    the address it stood for, for the changes)."""
    out = {"peer": sockaddr(collector)}
    if collector.get("source"):
        out["source"] = collector["source"]
    if collector.get("unbind"):
        out["unbind"] = collector["unbind"]
    if collector.get("address") and collector["address"] != collector["host"]:
        out["resolved"] = {"name": collector["host"], "address": collector["address"]}
    return out


def _link(nodes: dict, a: str, ha: str, b: str, hb: str) -> None:
    """Both ends of one edge of the desired graph."""
    nodes.setdefault(a, {"hooks": {}})["hooks"][ha] = {"peer": b, "peer_hook": hb}
    nodes.setdefault(b, {"hooks": {}})["hooks"][hb] = {"peer": a, "peer_hook": ha}


def _collectors(cfg: dict, current: dict, nodes: dict, settings: dict) -> None:
    """The export side of the desired graph: per version, one ksocket for one collector,
    an ng_one2many fanning out to one ksocket per collector for several."""
    names = node_names(cfg["name"])
    nf = names["netflow"]
    for version in (9, 5):
        wanted = [c for c in cfg["collectors"] if c["version"] == version]
        if not wanted:
            continue
        top = names[version]
        if len(wanted) == 1:
            nodes[top] = {"type": "ksocket", "hooks": {}}
            _link(nodes, nf, EXPORT_HOOK[version], top, ksocket_hook(wanted[0]))
            settings[top] = ksocket_settings(wanted[0])
            continue
        nodes[top] = {"type": "one2many", "hooks": {}}
        _link(nodes, nf, EXPORT_HOOK[version], top, "one")
        slots = _collector_slots(cfg, current, version)
        links = [0] * (max(slots.values()) + 1)
        for c in wanted:
            i = slots[(c["host"], c["port"])]
            child = f"{top}_{i}"
            nodes[child] = {"type": "ksocket", "hooks": {}}
            _link(nodes, top, f"many{i}", child, ksocket_hook(c))
            settings[child] = ksocket_settings(c)
            links[i] = 1
        settings[top] = {"config": {"xmitAlg": 2, "failAlg": 1, "enabledLinks": links}}


# ng_netflow puts its v9 templates in a new export datagram only when time_uptime >=
# templ_time + templ_last_ts, or sent_packets >= templ_packets + templ_last_pkt
# (netflow_v9.c, get_export9_dgram). templ_last_ts starts at 0 (the fib_export is
# M_ZERO), time_uptime at 1 (kern_tc.c), and nothing increments sent_packets, so with the
# default time=600 a node made in the first ten minutes after boot sends v9 data no
# collector can decode until uptime 600. time=1 puts them in its first datagram.
BOOT_TEMPLATE_TIME = 1


def boot_template(template: dict) -> dict | None:
    """The template setting a netflow node starts with (the boot file; a node an apply
    makes): time=1 and the declared packets; None when the declared setting already puts
    templates in the first datagram (time <= 1, or packets == 0: ``0 >= 0 + 0``)."""
    if template["time"] <= BOOT_TEMPLATE_TIME or template["packets"] == 0:
        return None
    return {"time": BOOT_TEMPLATE_TIME, "packets": template["packets"]}


def start_template(template: dict, live: dict | None) -> dict:
    """The template the node must have now (``live``: its settings as read, None when it is
    still to be made). The boot one while the node has it and no flow has expired
    (``exported``, from ``info``; not read counts as not yet: restoring early brings the
    blind window back, keeping it costs 172 bytes a datagram): the datagram the first
    expired flow opened carries the templates, and the converge after it restores the
    declared setting. The declared one otherwise, so a node never goes back."""
    boot = boot_template(template)
    if boot is not None and (live is None or (live.get("exported") is not True
                                              and (live.get("template") or {}).get("time") == BOOT_TEMPLATE_TIME)):
        return boot
    return dict(template)


def desired(cfg: dict, current: dict) -> dict:
    """The graph (same shape as netgraph.graph plus settings) that ``cfg`` declares.

    ``current`` is consulted only to keep iface and fan-out indices stable, so that an
    added interface or collector does not renumber the others.
    """
    names = node_names(cfg["name"])
    nf = names["netflow"]
    nodes: dict[str, dict] = {nf: {"type": "netflow", "hooks": {}}}
    made = current.get("nodes", {}).get(nf, {}).get("type") == "netflow"
    live = (current.get("settings") or {}).get(nf, {}) if made else None
    settings: dict[str, dict] = {
        nf: {
            "timeouts": dict(cfg["timeouts"]),
            "template": start_template(cfg["template"], live),
            "mtu": cfg["mtu"],
            "ifaces": {},
        }
    }
    ipfw_rules: dict[int, str] = {}
    indices = _iface_indices(cfg, current)
    for iface in cfg["interfaces"]:
        n = indices[iface["name"]]
        if iface["attach"] == "ether":
            nodes.setdefault(iface["node"], {"type": "ether", "hooks": {}, "foreign": True})
            _link(nodes, iface["node"], "lower", nf, f"iface{n}")
            _link(nodes, iface["node"], "upper", nf, f"out{n}")
        else:
            nodes.setdefault("ipfw", {"type": "ipfw", "hooks": {}, "foreign": True})
            _link(nodes, "ipfw", str(iface["ipfw_hook"]), nf, f"iface{n}")
            where = {"both": "via", "ingress": "in via", "egress": "out via"}[iface["direction"]]
            ipfw_rules[iface["ipfw_rule"]] = f"ngtee {iface['ipfw_hook']} ip from any to any {where} {iface['name']}"
        settings[nf]["ifaces"][n] = {"conf": iface["conf"], "dlt": iface["dlt"], "index": iface["ifindex"] or 0}

    _collectors(cfg, current, nodes, settings)
    for node in nodes.values():
        node.setdefault("foreign", False)
    return {"name": cfg["name"], "nodes": nodes, "settings": settings, "ipfw": ipfw_rules}


# --------------------------------------------------------------------------------------
# Kernel modules and interfaces the exporter needs
# --------------------------------------------------------------------------------------
def required_modules(cfg: dict) -> list[str]:
    """Kernel modules the exporter needs loaded before ``ngctl`` can build it."""
    mods = ["netgraph", "ng_socket", "ng_netflow", "ng_ksocket"]
    if any(i["attach"] == "ether" for i in cfg["interfaces"]):
        mods.insert(2, "ng_ether")
    if len([c for c in cfg["collectors"] if c["version"] == 9]) > 1 or len(
        [c for c in cfg["collectors"] if c["version"] == 5]
    ) > 1:
        mods.append("ng_one2many")
    if any(i["attach"] == "ipfw" for i in cfg["interfaces"]):
        mods += ["ng_ipfw"]  # ipfw itself must be loaded by the firewall's own rc.d
    return mods


def wants_ng_ipfw(cfg: dict, graph: dict) -> bool:
    return "ng_ipfw" in required_modules(cfg) and "ipfw" not in graph.get("nodes", {})


def missing_modules(cfg: dict, graph: dict, loaded: list[str] | None) -> list[str]:
    """Modules to load before the exporter can be planned: ng_ether when its type is not
    registered, ng_ipfw when the ipfw node is missing. ``loaded`` is kldstat's module list
    (needed only in the ng_ipfw case). Never the firewall itself: a bare ipfw.ko denies
    everything (default rule 65535), which would cut the host off, Salt included, so an
    ipfw attachment without a loaded firewall is refused."""
    missing = []
    if "ether" not in graph.get("types", []) and "ng_ether" in required_modules(cfg):
        missing.append("ng_ether")
    if wants_ng_ipfw(cfg, graph):
        if "ipfw" not in (loaded or []):
            bad = next(i["name"] for i in cfg["interfaces"] if i["attach"] == "ipfw")
            raise ValidationError(
                f"interfaces.{bad}: attach: ipfw needs the ipfw firewall loaded and configured "
                "(firewall_enable=YES); salt-netgraph will not load ipfw.ko, whose default rule denies all traffic"
            )
        missing.append("ng_ipfw")
    return missing


def projected(graph: dict, missing, ether_ifaces=()) -> dict:
    """The graph as it will be once the ``missing`` modules are loaded, to plan against
    before loading anything: loading ng_ether gives every Ethernet interface
    (``ether_ifaces``, as ``ifconfig -l ether`` lists them) a hookless node named after it
    ('.' and ':' as '_'), loading ng_ipfw the node ``ipfw``. Nodes that will exist have no
    ID yet (None)."""
    nodes, types = dict(graph.get("nodes", {})), set(graph.get("types", []))
    new = [(ether_node_name(i), "ether") for i in ether_ifaces] if "ng_ether" in missing else []
    new += [("ipfw", "ipfw")] if "ng_ipfw" in missing else []
    for node, ntype in new:
        nodes.setdefault(node, {"name": node, "type": ntype, "id": None, "num_hooks": 0, "hooks": {}})
    types |= {t for m, t in (("ng_ether", "ether"), ("ng_ipfw", "ipfw")) if m in missing}
    return {**graph, "nodes": nodes, "types": sorted(types)}


def ether_names_text(nodes: dict, shown: int = 20) -> str:
    """The host's Ethernet interfaces as ng_ether names its nodes (``vlan0.100`` is
    ``vlan0_100``), sorted, at most ``shown`` of them: what an unknown one is told."""
    names = sorted(k for k, v in nodes.items() if v.get("type") == "ether")
    if not names:
        return "this host has no Ethernet interface that ng_ether knows of"
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f"this host's Ethernet interfaces (ng_ether nodes): {', '.join(names[:shown])}{more}"


def check_interfaces(cfg: dict, graph: dict) -> None:
    """Refuse interfaces that cannot be attached as asked (before anything is changed)."""
    nodes = graph.get("nodes", {})
    for iface in cfg["interfaces"]:
        if iface["attach"] == "ether":
            node = nodes.get(iface["node"])
            if node is None or node.get("type") != "ether":
                raise ValidationError(
                    f"interfaces.{iface['name']}: no Ethernet interface {iface['name']!r} on this host "
                    f"(no ng_ether node {iface['node']!r}); a tun/PPPoE/non-Ethernet interface needs attach: ipfw; "
                    + ether_names_text(nodes)
                )
        elif "ipfw" not in nodes:
            raise ValidationError(f"interfaces.{iface['name']}: attach: ipfw needs the ipfw and ng_ipfw modules")
