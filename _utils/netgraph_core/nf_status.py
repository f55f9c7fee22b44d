"""An exporter as people and monitoring see it (pure; no Salt): its interfaces by name,
its collectors, its settings, every kernel counter with the zeros filled in, and a health
verdict with its reasons; plus the filters of the flow table.

Counters: ng_netflow's ``info`` and ``ifinfo`` replies are ng_parse structs, and ng_parse
leaves out every field that is 0 (``ng_unparse_composite`` skips default values), so a
reply says ``{ IPv4 bytes=1000 IPv4 packets=10 ... }`` and nothing about the failed
exports of a healthy node. The tables below are every field of ``struct ng_netflow_info``
and ``struct ng_netflow_ifinfo`` (FreeBSD 14 ``sys/netgraph/netflow/ng_netflow.h``, the
parse types ``NG_NETFLOW_INFO_TYPE`` / ``NG_NETFLOW_IFINFO_TYPE`` that ``ng_netflow.c``
hands ng_parse), each under its ng_parse name, with our key and the C field.

ng_netflow keeps packets per interface (``ifinfo_packets``, counted for every packet that
reaches ``ifaceN``/``outN`` and is not bypassed), but no bytes per interface: bytes are
counted per node (``IPv4 bytes``...) and per flow.
"""
from __future__ import annotations

import ipaddress
import re

from . import nf_sockaddr
from .nf_model import CONF_EGRESS, CONF_INGRESS, CONF_THISONCE, VERSIONS, node_names, sockaddr, start_template
from .nf_graph import owned_nodes
from .nf_settings import settings_from_replies, settings_queries

# (ng_parse name, our key, struct field): struct ng_netflow_info, in order.
INFO_FIELDS = (
    ("IPv4 bytes", "ipv4_bytes", "nfinfo_bytes"),
    ("IPv4 packets", "ipv4_packets", "nfinfo_packets"),
    ("IPv6 bytes", "ipv6_bytes", "nfinfo_bytes6"),
    ("IPv6 packets", "ipv6_packets", "nfinfo_packets6"),
    ("IPv4 skipped bytes", "ipv4_skipped_bytes", "nfinfo_sbytes"),
    ("IPv4 skipped packets", "ipv4_skipped_packets", "nfinfo_spackets"),
    ("IPv6 skipped bytes", "ipv6_skipped_bytes", "nfinfo_sbytes6"),
    ("IPv6 skipped packets", "ipv6_skipped_packets", "nfinfo_spackets6"),
    ("Active expiries", "active_expiries", "nfinfo_act_exp"),
    ("Inactive expiries", "inactive_expiries", "nfinfo_inact_exp"),
    ("IPv4 records used", "ipv4_records_used", "nfinfo_used"),
    ("IPv6 records used", "ipv6_records_used", "nfinfo_used6"),
    ("Failed allocations", "failed_allocations", "nfinfo_alloc_failed"),
    ("V5 failed exports", "v5_failed_exports", "nfinfo_export_failed"),
    ("V9 failed exports", "v9_failed_exports", "nfinfo_export9_failed"),
    ("mbuf reallocations", "mbuf_reallocations", "nfinfo_realloc_mbuf"),
    ("fibs allocated", "fibs_allocated", "nfinfo_alloc_fibs"),
    ("Inactive timeout", "inactive_timeout", "nfinfo_inact_t"),
    ("Active timeout", "active_timeout", "nfinfo_act_t"),
)
# struct ng_netflow_ifinfo, in order.
IFINFO_FIELDS = (
    ("packets", "packets", "ifinfo_packets"),
    ("data link type", "dlt", "ifinfo_dlt"),
    ("index", "index", "ifinfo_index"),
    ("conf", "conf", "conf"),
)
HEALTH = ("ok", "degraded", "down")
FLOW_FAMILIES = {"inet": "IPv4", "inet6": "IPv6"}


def zero_filled(args, fields=INFO_FIELDS) -> dict:
    """Every field of the struct under our key: the reply's value, 0 where ng_parse left
    the field out (or where there was no reply at all)."""
    args = args if isinstance(args, dict) else {}
    return {key: int(args.get(parse_name, 0) or 0) for parse_name, key, _ in fields}


_BOTH = CONF_INGRESS | CONF_EGRESS
_DIRECTIONS = {_BOTH: "both", CONF_INGRESS: "ingress", CONF_EGRESS: "egress"}


def direction(conf: int) -> str:
    return _DIRECTIONS.get(conf & _BOTH, "none")


def exporter_names(graph: dict) -> list[str]:
    """Names of the exporters on a host: netflow nodes called ``<name>_nf``."""
    out = set()
    for key, node in graph.get("nodes", {}).items():
        m = re.fullmatch(r"([A-Za-z][A-Za-z0-9_-]{0,24})_nf", key)
        if m and node.get("type") == "netflow":
            out.add(m.group(1))
    return sorted(out)


def owned(graph: dict, name: str) -> set:
    """The live nodes of exporter ``name`` (``nf_graph.owned_nodes``, the one ownership
    predicate): those the planner reads the settings of (``nf_settings.settings_queries``
    has at least one query per owned node, so it is the same set, without building them)."""
    return owned_nodes(graph, name)


def names_on_host(graph: dict, declared, persisted) -> list[str]:
    """Every exporter a host knows of: its netflow nodes, its recorded declarations, its
    boot files."""
    return sorted(set(exporter_names(graph)) | set(declared) | set(persisted))


def check_interval(interval) -> int:
    if isinstance(interval, bool) or not isinstance(interval, int) or not 0 <= interval <= 60:
        raise ValueError(f"interval: {interval!r} is not an integer 0..60 (seconds)")
    return interval


def with_raw(view: dict, read: dict) -> dict:
    """The view plus ``raw``: the owned nodes as read, the kernel's replies and the
    settings of each node as the planner reads them."""
    mine = set(view["nodes"])
    pick = lambda d: {k: v for k, v in d.items() if k in mine}  # noqa: E731
    return {**view, "raw": {"nodes": pick(read["graph"].get("nodes", {})), "replies": pick(read["raw"]),
                            "settings": pick(read["settings"])}}


def status_of(read, name: str | None, raw: bool, interval: int, sleep) -> dict:
    """netflow.status: exporter ``name``'s view from ``read([name])`` (the glue's
    ``read_views``), read again ``interval`` s later to judge rising counters too.
    ``name`` None: every exporter the host knows of (``read(None)``), keyed by name."""
    got = read(None if name is None else [name])
    if interval:
        sleep(interval)
        first = got["views"]
        got = read(sorted(first) or None)  # the same exporters again
        for key, view in got["views"].items():
            if key in first:
                view.update(health(view, first[key]))
    views = {key: with_raw(view, got) if raw else view for key, view in got["views"].items()}
    return views if name is None else views[name]


def raw_replies(queries: list, replies: list) -> dict:
    """``{node: {"info": args, "ifinfo 0": args, ...}}``, a failed message as ``{"error"}``."""
    raw: dict[str, dict] = {}
    for q, r in zip(queries, replies):
        if r is None:
            continue
        value = (r.get("reply") or {}).get("args") if r.get("ok") else {"error": r.get("error")}
        raw.setdefault(q[0].rstrip(":"), {})[" ".join(q[1:])] = value
    return raw


def read_settings(reqs: list, replies: list) -> tuple[dict, dict]:
    """(settings of ``nf_settings.settings_from_replies``, raw replies by node) of the lines
    that ran; a line that did not run leaves no trace (not even a zero)."""
    pairs = [(q, r) for q, r in zip(reqs, replies) if r is not None]
    settings = settings_from_replies([q for q, _ in pairs], [r for _, r in pairs])
    return settings, raw_replies(reqs, replies)


def read_views(graph: dict, query, declared: dict, persisted, names=None) -> dict:
    """What netflow.list/status/metrics show: each exporter's view of ``graph`` with the
    replies of ONE ``query`` (netgraph.query) for all their settings. ``names`` default:
    every exporter the host knows of (``persisted``: the names of its boot files)."""
    names = names or names_on_host(graph, declared, persisted)
    queries = [q for name in names for q in settings_queries(graph, name)]
    settings, raw = read_settings(queries, query(queries) if queries else [])
    views = {n: exporter_view(n, graph, settings, raw, declared.get(n)) for n in names}
    return {"graph": graph, "settings": settings, "raw": raw, "declared": declared, "views": views}


# --------------------------------------------------------------------------------------
# The view
# --------------------------------------------------------------------------------------
def _iface_hooks(graph: dict, nf: str) -> dict:
    """(peer node, peer hook) -> N for each ``ifaceN`` of the netflow node."""
    hooks = graph.get("nodes", {}).get(nf, {}).get("hooks", {})
    # ifaceN: by str methods, not a regex: 4,000 hooks a read; isdecimal is re's \d
    return {(peer["peer"], peer["peer_hook"]): int(hook[5:]) for hook, peer in hooks.items()
            if hook.startswith("iface") and hook[5:].isdecimal()}


def _uppers(graph: dict, nf: str) -> set:
    """Nodes whose ``upper`` hook goes to an ``outN`` of the netflow node."""
    hooks = graph.get("nodes", {}).get(nf, {}).get("hooks", {})
    return {p["peer"] for h, p in hooks.items() if h.startswith("out") and p["peer_hook"] == "upper"}


def _iface_entry(n, raw_ifinfo, half: bool = False) -> dict:
    """One interface: the netflow iface index it feeds (None: its lower hook is not on
    the node), whether it is attached (for ng_ether: lower AND upper; ``half``: only one
    of them, so one direction of its traffic is dropped), the direction and THISONCE its
    ``conf`` says, and the ``ifinfo`` counters, zero-filled."""
    # zero_filled(raw_ifinfo, IFINFO_FIELDS) written out (the beacon makes 2,000 of these
    # an interval); tests/unit/core/test_nf_status.py holds the two equal
    get = (raw_ifinfo if n is not None and isinstance(raw_ifinfo, dict) else {}).get
    conf = int(get("conf", 0) or 0)
    return {"iface": n, "attached": n is not None and not half, "half_attached": half,
            "direction": _DIRECTIONS.get(conf & _BOTH, "none"), "once": bool(conf & CONF_THISONCE),
            "packets": int(get("packets", 0) or 0), "dlt": int(get("data link type", 0) or 0),
            "index": int(get("index", 0) or 0), "conf": conf}


def _interfaces(name: str, graph: dict, raw: dict, cfg: dict | None) -> dict:
    nf = node_names(name)["netflow"]
    live, uppers = _iface_hooks(graph, nf), _uppers(graph, nf)
    ifinfos = raw.get(nf, {})
    out, seen = {}, set()
    for iface in (cfg or {}).get("interfaces", []):
        node, ether = iface["node"], iface["attach"] == "ether"
        point = (node, "lower" if ether else str(iface["ipfw_hook"]))
        n = live.get(point)
        seen.add(point)
        entry = _iface_entry(n, ifinfos.get(f"ifinfo {n}") if n is not None else None, ether and (n is not None) != (node in uppers))
        if n is None:  # the declaration, since the kernel has nothing to say
            entry.update(direction=iface["direction"], once=iface["once"], conf=iface["conf"], dlt=iface["dlt"])
        entry["attach"], entry["node"], entry["declared"] = iface["attach"], node, True  # 2,000 an interval: no update(**)
        out[iface["name"]] = entry
    for point, n in sorted(((p, n) for p, n in live.items() if p not in seen), key=lambda kv: kv[1]):
        ether = point[1] == "lower"
        entry = _iface_entry(n, ifinfos.get(f"ifinfo {n}"), ether and point[0] not in uppers)
        entry.update(attach="ether" if ether else "ipfw", node=point[0], declared=False)
        out[point[0] if ether else f"{point[0]}:{point[1]}"] = entry
    return out


def _version_of(name: str, key: str):
    for version, row in VERSIONS.items():
        if re.fullmatch(r"%s_%s(?:_\d+)?" % (re.escape(name), row["suffix"]), key):
            return version
    return None


def _collector_entry(host, port, version, family, node, settings: dict, declared: bool, source=None) -> dict:
    """One collector: where to (``host``, ``port``, ``family``), which flows its version's
    records can carry (``carries``), the ksocket sending to it, and where it sends from:
    ``source`` and ``source_port`` as ``getname`` reads them (the port is the ephemeral one
    bind or connect took; None while not read or the wildcard), ``declared_source`` the
    pillar's ``source``."""
    local = nf_sockaddr.decode(settings.get(node, {}).get("local")) if node else None
    return {"host": host, "port": port, "version": version, "family": family,
            "carries": [FLOW_FAMILIES[f] for f in VERSIONS.get(version, {}).get("families", ())],
            "connected": node is not None, "node": node, "declared": declared,
            "source": settings.get(node, {}).get("source") if node else None,
            "source_port": local["port"] if local else None, "declared_source": source}


def _collectors(name: str, graph: dict, settings: dict, cfg: dict | None, ours: set) -> list[dict]:
    """Exporter ``name``'s collectors: the declared ones, then the connected ksockets of
    ``ours`` (its owned nodes) that send elsewhere."""
    live = {}  # sockaddr -> (node, version) of every owned, connected ksocket
    for key in sorted(ours):
        peer = settings.get(key, {}).get("peer")
        if graph["nodes"][key]["type"] == "ksocket" and peer:
            live.setdefault(peer, (key, _version_of(name, key)))
    out, used = [], set()
    for c in (cfg or {}).get("collectors", []):
        addr = sockaddr(c)
        node, _ = live.get(addr, (None, None))
        used.add(addr)
        out.append(_collector_entry(c["host"], c["port"], c["version"], c.get("family") or "inet", node, settings,
                                    True, c.get("source")))
    for addr, (node, version) in sorted(live.items()):
        if addr in used:
            continue
        found = nf_sockaddr.decode(addr)
        host, port, family = (found["address"], found["port"], found["family"]) if found else (addr, None, None)
        out.append(_collector_entry(host, port, version, family, node, settings, False))
    return out


def exporter_view(name: str, graph: dict, settings: dict, raw: dict, cfg: dict | None = None) -> dict:
    """Exporter ``name`` in the pillar's terms, from a read of the graph (``graph``), the
    settings (``nf_settings.settings_from_replies``) and the replies (:func:`raw_replies`);
    ``cfg`` is its last applied declaration (``nf_model.validate``'s dict) if known."""
    nf = node_names(name)["netflow"]
    present = graph.get("nodes", {}).get(nf, {}).get("type") == "netflow"
    nf_set = settings.get(nf, {}) if present else {}
    ours = owned(graph, name)
    view = {
        "name": name,
        "present": present,
        "declared": cfg is not None,
        "interfaces": _interfaces(name, graph, raw, cfg) if present or cfg else {},
        "collectors": _collectors(name, graph, settings, cfg, ours) if present or cfg else [],
        "settings": {k: nf_set[k] for k in ("timeouts", "template", "mtu") if k in nf_set},
        "counters": zero_filled(raw.get(nf, {}).get("info") if present else None),
        "nodes": sorted(ours),
    }
    if cfg is not None:
        view["declaration"] = {"timeouts": cfg["timeouts"], "template": cfg["template"], "mtu": cfg["mtu"]}
    view.update(health(view))
    return view


# --------------------------------------------------------------------------------------
# Health
# --------------------------------------------------------------------------------------
def _structure(view: dict) -> tuple[list, list]:
    """(reasons it is down, reasons it is degraded) that one read shows."""
    down, degraded = [], []
    nf = f"{view['name']}_nf"
    if not view["present"]:
        return [f"netflow node {nf} is missing"], []
    ifaces = view["interfaces"]
    for ifname, entry in ifaces.items():
        if entry["half_attached"]:
            degraded.append(f"interface {ifname} is half attached (only one of {entry['node']}'s lower/upper hooks "
                            f"goes to {nf}: one direction of its traffic is dropped)")
        elif entry["declared"] and not entry["attached"]:
            degraded.append(f"interface {ifname} is detached (no hook from {entry['node']} to {nf})")
    if not any(entry["attached"] for entry in ifaces.values()):
        down.append("no interface is attached")
    for c in view["collectors"]:
        where = f"{c['host']}:{c['port']} (v{c['version']})"
        if c["declared"] and not c["connected"]:
            degraded.append(f"collector {where} has no connected socket")
        elif c["declared_source"] and c["source"] != c["declared_source"]:
            degraded.append(f"collector {where} is sent from {c['source'] or 'an address the kernel chose'}, "
                            f"declared source {c['declared_source']}")
        elif not c["declared"] and view["declared"]:
            degraded.append(f"{c['node']} sends to {where}, which is not a declared collector")
    if not any(c["connected"] for c in view["collectors"]):
        down.append("no collector socket is connected")
    declared = view.get("declaration")
    for key in ("timeouts", "template", "mtu"):
        if declared and key in view["settings"] and view["settings"][key] != _expected(view, key):
            degraded.append(f"{key} is {view['settings'][key]}, declared {declared[key]}")
    return down, degraded


def _expected(view: dict, key: str):
    """The declared setting ``key``; for the template, the boot one while the node keeps
    it before its first expired flow (nf_model.start_template)."""
    want = view["declaration"][key]
    if key != "template":
        return want
    counters = view["counters"]
    exported = counters["active_expiries"] + counters["inactive_expiries"] > 0
    return start_template(want, {"template": view["settings"][key], "exported": exported})


def _rising(view: dict, previous: dict) -> list:
    """Reasons from two reads: counters that rose since ``previous`` (an earlier view)."""
    out = []
    now, before = view["counters"], previous.get("counters") or {}
    for key, label in (("v5_failed_exports", "V5 exports"), ("v9_failed_exports", "V9 exports"),
                       ("failed_allocations", "flow allocations")):
        delta = now[key] - before.get(key, now[key])
        if delta > 0:
            out.append(f"{delta} {label} failed since the last read")
    accounted = sum(now[k] - before.get(k, now[k]) for k in (
        "ipv4_packets", "ipv6_packets", "ipv4_skipped_packets", "ipv6_skipped_packets"))
    for ifname, entry in view["interfaces"].items():
        old = (previous.get("interfaces") or {}).get(ifname) or {}
        if entry["attached"] and old.get("attached") and entry["packets"] > old.get("packets", entry["packets"]) \
                and accounted == 0:
            out.append(f"interface {ifname} has traffic ({entry['packets'] - old['packets']} packets) but nothing was "
                       "accounted")
    return out


def health(view: dict, previous: dict | None = None) -> dict:
    """``{"health": "ok"|"degraded"|"down", "reasons": [...]}``. One read shows what is
    missing (node, interfaces, collector sockets, settings); with ``previous`` (the view
    of an earlier read) also counters that moved the wrong way: failed exports or
    allocations rising, an interface counting packets of which none is accounted."""
    down, degraded = _structure(view)
    if previous and view["present"] and previous.get("present"):
        degraded += _rising(view, previous)
    verdict = "down" if down else "degraded" if degraded else "ok"
    return {"health": verdict, "reasons": down + degraded}


# --------------------------------------------------------------------------------------
# The flow table
# --------------------------------------------------------------------------------------
def check_flow_filters(interface=None, address=None, limit=100) -> dict:
    """The filters of ``netflow.flows``, checked: ``interface`` a name, ``address`` an IP
    address or network (``10.0.0.0/8``), ``limit`` an integer 0.. (0: no limit)."""
    if interface is not None and not (isinstance(interface, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]{0,14}",
                                                                                   interface)):
        raise ValueError(f"interface: {interface!r} is not an interface name")
    net = None
    if address is not None:
        try:
            net = ipaddress.ip_network(str(address), strict=False) if isinstance(address, str) else None
        except ValueError:
            net = None
        if net is None:
            raise ValueError(f"address: {address!r} is not an IP address or network")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit: {limit!r} is not an integer >= 0")
    return {"interface": interface, "network": net, "limit": limit}


def flow_entry(flow: dict) -> dict:
    """One flow of ``nf_flows.parse_flowctl`` (verbose) in our terms. flowctl prints
    packets and bytes per packet (truncated), so ``bytes`` is a lower bound; it prints
    no times, so ``first``/``last`` are None."""
    bpp = flow.get("bytes_per_packet")
    return {"src": flow["src"], "dst": flow["dst"], "sport": flow.get("sport"), "dport": flow.get("dport"),
            "proto": flow["proto"], "interface": flow.get("ifname_in"), "interface_out": flow.get("ifname_out"),
            "packets": flow["packets"], "bytes": flow["packets"] * bpp if bpp is not None else None,
            "tos": flow.get("tos"), "tcp_flags": flow.get("tcp_flags"), "first": None, "last": None}


def flow_table(flows: list[dict], filters: dict) -> dict:
    """The flows ``flowctl NODE: show verbose`` printed (``nf_flows.parse_flowctl``'s
    ``flows``) in our terms, selected by ``filters`` (:func:`check_flow_filters`)."""
    entries = [flow_entry(f) for f in flows]
    return select_flows(entries, filters["interface"], filters["network"], filters["limit"])


def select_flows(flows: list[dict], interface=None, network=None, limit=100) -> dict:
    """Flows (of :func:`flow_entry`) through ``interface`` (in or out), from or to an
    address in ``network``, the ``limit`` largest by packets (kernel order among equals)."""
    picked = [f for f in flows
              if (interface is None or interface in (f["interface"], f["interface_out"]))
              and (network is None or any(ipaddress.ip_address(f[k]) in network for k in ("src", "dst")))]
    ranked = sorted(picked, key=lambda f: -f["packets"])
    shown = ranked[:limit] if limit else ranked
    return {"total": len(flows), "matched": len(picked), "flows": shown}
