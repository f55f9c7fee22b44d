"""
Declarative NetFlow exporters on FreeBSD netgraph (``ng_netflow``).

This execution module holds the policy: what graph an exporter declared in pillar should
have, and which ``ngctl`` command lines turn the live graph into that graph. It never parses
``ngctl`` text and never spawns ``ngctl`` itself: it reads and writes the graph only through
the ``netgraph`` execution module (``__salt__["netgraph.*"]``), with plain data.

The pure functions (``validate``, ``desired``, ``diff``, ``rollback_plan``, ``build_script``)
take data and return data, so they are unit-tested by importing this file directly.

Graph that an exporter ``X`` owns (names derived from ``X``, at most 31 characters)::

    em0:lower  <-> X_nf:iface0     (ng_ether wire side into ng_netflow)
    em0:upper  <-> X_nf:out0       (back to the host stack: traffic keeps passing)
    ipfw:1000  <-> X_nf:iface1     (attach: ipfw, raw IP from "ipfw add ... ngtee 1000")
    X_nf:export9 <-> X_v9:inet/dgram/udp          (one v9 collector: a ksocket)
    X_nf:export  <-> X_v5:one                     (several v5 collectors: ng_one2many,
    X_v5:many0   <-> X_v5_0:inet/dgram/udp         xmitAlg=2 copies to every link)

Why ng_one2many and not ng_hub for fan-out: one2many only forwards ``many -> one`` and
``one -> many``; a hub copies anything that arrives on one hook to all the others, so a
datagram received by one collector's ksocket would be sent on to the other collectors.
"""
from __future__ import annotations

import copy
import ipaddress
import logging
import os
import re
from typing import Any

try:  # Salt is present on minions; the pure functions below do not need it.
    from salt.exceptions import CommandExecutionError, SaltInvocationError
except ImportError:  # pragma: no cover - unit tests without Salt

    class SaltInvocationError(Exception):
        pass

    class CommandExecutionError(Exception):
        def __init__(self, message="", info=None):
            super().__init__(message)
            self.info = info


log = logging.getLogger(__name__)

__virtualname__ = "netflow"
# Only these are Salt functions (netflow.*); the pure planning functions stay importable
# for tests and for the state's helpers but do not clutter `salt-call sys.doc netflow`.
__load__ = ["plan", "absent_plan", "apply_plan", "status", "dot", "boot_script"]

# --------------------------------------------------------------------------------------
# Constants (values from FreeBSD's sys/netgraph/netflow/ng_netflow.h and netflow_v9.h)
# --------------------------------------------------------------------------------------
CONF_INGRESS = 0x01
CONF_EGRESS = 0x02
CONF_THISONCE = 0x08
DLT_EN10MB = 1
DLT_RAW = 12
DEFAULT_TIMEOUTS = {"inactive": 15, "active": 1800}
DEFAULT_TEMPLATE = {"time": 600, "packets": 500}
DEFAULT_MTU = 1500
MIN_MTU, MAX_MTU = 24, 16384  # sizeof(struct netflow_v5_header) .. MAX_MTU in netflow_v9.h
MAX_COLLECTORS = 64  # ng_one2many: many0 .. many63
KSOCKET_HOOK = "inet/dgram/udp"
EXPORT_HOOK = {9: "export9", 5: "export"}
SELF_DESTRUCTING = {"netflow", "ksocket", "one2many", "hub", "tee"}
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,24}$")
# FreeBSD interface names: IFNAMSIZ is 16 (15 characters). We accept the characters that
# interface drivers and `ifconfig name` use in practice; ':' is refused (netgraph path).
IFNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,14}$")
DIRECTIONS = {"both": CONF_INGRESS | CONF_EGRESS, "ingress": CONF_INGRESS, "egress": CONF_EGRESS}
PARAM_KEYS = {"interfaces", "collectors", "timeouts", "template", "mtu", "persist", "takeover"}
IFACE_KEYS = {"direction", "once", "ifindex", "attach", "ipfw_hook", "ipfw_rule"}
COLLECTOR_KEYS = {"host", "port", "version"}


def __virtual__():
    """Load where the netgraph module can: FreeBSD, or a configured (emulated) ngctl."""
    if __grains__.get("kernel") == "FreeBSD":  # noqa: F821 - Salt dunder
        return __virtualname__
    ngctl = __opts__.get("netgraph.ngctl") or __pillar__.get("netgraph.ngctl")  # noqa: F821
    if ngctl and os.path.exists(ngctl):
        return __virtualname__
    return (False, "netflow: needs FreeBSD or a configured netgraph.ngctl (e.g. ngsim's)")


class ValidationError(ValueError):
    """Bad exporter parameters; the message names the key and the value at fault."""


class ConflictError(ValueError):
    """A hook the exporter needs is held by a node it does not own."""


# --------------------------------------------------------------------------------------
# Validation (pure)
# --------------------------------------------------------------------------------------
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_in(where: str, value: Any, lo: int, hi: int) -> int:
    if not _is_int(value):
        raise ValidationError(f"{where}: {value!r} is not an integer")
    if not lo <= value <= hi:
        raise ValidationError(f"{where}: {value!r} is out of range {lo}..{hi}")
    return value


def ether_node_name(ifname: str) -> str:
    """ng_ether names its node after the interface with '.' and ':' turned into '_'."""
    return ifname.replace(".", "_").replace(":", "_")


def owned_name_re(name: str) -> "re.Pattern[str]":
    """Every node name exporter ``name`` may own, and nothing another exporter may own."""
    return re.compile(r"^%s_(nf|v9|v5|v9_\d+|v5_\d+)$" % re.escape(name))


def _validate_interfaces(raw: Any) -> list[dict]:
    if isinstance(raw, (list, tuple)):
        items = []
        for i, entry in enumerate(raw):
            if isinstance(entry, dict) and len(entry) == 1:
                (ifname, opts), = entry.items()  # YAML "- em0: {direction: ingress}"
            else:
                ifname, opts = entry, None
            items.append((f"interfaces[{i}]", ifname, opts))
    elif isinstance(raw, dict):
        items = [(f"interfaces.{k}", k, v) for k, v in raw.items()]
    else:
        raise ValidationError(f"interfaces: expected a list or a mapping, got {raw!r}")
    if not items:
        raise ValidationError("interfaces: at least one interface is required")
    out, seen, hooks, rules = [], set(), set(), set()
    for where, ifname, opts in items:
        if not isinstance(ifname, str) or not IFNAME_RE.match(ifname):
            raise ValidationError(
                f"{where}: {ifname!r} is not a valid FreeBSD interface name "
                "(a letter, then letters, digits, '_', '.', '-'; at most 15 characters)"
            )
        if ether_node_name(ifname) in seen:  # vlan0.100 and vlan0_100 are one ng_ether node
            raise ValidationError(f"{where}: interface {ifname!r} is listed twice")
        seen.add(ether_node_name(ifname))
        if opts is None:
            opts = {}
        if not isinstance(opts, dict):
            raise ValidationError(f"{where}: options must be a mapping, got {opts!r}")
        unknown = set(opts) - IFACE_KEYS
        if unknown:
            raise ValidationError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(IFACE_KEYS)}")
        direction = opts.get("direction", "both")
        if direction not in DIRECTIONS:
            raise ValidationError(f"{where}.direction: {direction!r} is not one of both, ingress, egress")
        once = opts.get("once", True)
        if not isinstance(once, bool):
            raise ValidationError(f"{where}.once: {once!r} is not a boolean")
        ifindex = opts.get("ifindex")
        if ifindex is not None:
            _int_in(f"{where}.ifindex", ifindex, 1, 65535)
        attach = opts.get("attach", "ether")
        if attach not in ("ether", "ipfw"):
            raise ValidationError(f"{where}.attach: {attach!r} is not one of ether, ipfw")
        hook = rule = None
        if attach == "ipfw":
            if "ipfw_hook" not in opts:
                raise ValidationError(f"{where}.ipfw_hook: required with attach: ipfw (the ngtee cookie, 1..65534)")
            hook = _int_in(f"{where}.ipfw_hook", opts["ipfw_hook"], 1, 65534)
            rule = _int_in(f"{where}.ipfw_rule", opts.get("ipfw_rule", hook), 1, 65534)
            if hook in hooks:
                raise ValidationError(f"{where}.ipfw_hook: {hook} is used twice")
            if rule in rules:
                raise ValidationError(f"{where}.ipfw_rule: {rule} is used twice")
            hooks.add(hook)
            rules.add(rule)
        else:
            for key in ("ipfw_hook", "ipfw_rule"):
                if key in opts:
                    raise ValidationError(f"{where}.{key}: only meaningful with attach: ipfw")
        conf = DIRECTIONS[direction] | (CONF_THISONCE if once else 0)
        if attach == "ipfw":
            # ngtee'd packets all enter ifaceN: direction is chosen by the ipfw rule instead.
            conf = CONF_INGRESS | (CONF_THISONCE if once else 0)
        out.append(
            {
                "name": ifname,
                "node": ether_node_name(ifname) if attach == "ether" else "ipfw",
                "attach": attach,
                "direction": direction,
                "once": once,
                "ifindex": ifindex,
                "ipfw_hook": hook,
                "ipfw_rule": rule,
                "conf": conf,
                "dlt": DLT_EN10MB if attach == "ether" else DLT_RAW,
            }
        )
    return out


def _validate_collectors(raw: Any) -> list[dict]:
    if not isinstance(raw, (list, tuple)):
        raise ValidationError(f"collectors: expected a list of {{host, port, version}}, got {raw!r}")
    if not raw:
        raise ValidationError("collectors: at least one collector is required")
    out, seen = [], set()
    for i, c in enumerate(raw):
        where = f"collectors[{i}]"
        if not isinstance(c, dict):
            raise ValidationError(f"{where}: expected a mapping with host and port, got {c!r}")
        unknown = set(c) - COLLECTOR_KEYS
        if unknown:
            raise ValidationError(f"{where}: unknown key(s) {sorted(unknown)}; known: host, port, version")
        host = c.get("host")
        if not isinstance(host, str) or not host:
            raise ValidationError(f"{where}.host: {host!r} is not an IPv4 address")
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            raise ValidationError(
                f"{where}.host: {host!r} is not an IPv4 address; host names are refused "
                "(the kernel ksocket takes a dotted quad, and a name resolved at apply time "
                "would not survive a reboot: resolve it in pillar)"
            ) from None
        if addr.version == 6:
            raise ValidationError(
                f"{where}.host: {host!r} is IPv6; IPv6 collectors are refused: ng_ksocket's ASCII "
                "sockaddr form for inet6 only exists from FreeBSD 15 and its syntax is not "
                "confirmed from the sources (see README)"
            )
        if str(addr) != host:
            raise ValidationError(f"{where}.host: {host!r} is not in dotted-quad form ({addr})")
        if addr.is_unspecified or addr.is_multicast or str(addr) == "255.255.255.255":
            raise ValidationError(f"{where}.host: {host!r} cannot be a collector address")
        port = _int_in(f"{where}.port", c.get("port"), 1, 65535)
        version = c.get("version", 9)
        if not _is_int(version) or version not in (5, 9):
            raise ValidationError(f"{where}.version: {version!r} is not 5 or 9")
        key = (host, port, version)
        if key in seen:
            raise ValidationError(f"{where}: collector {host}:{port} v{version} is listed twice")
        seen.add(key)
        out.append({"host": host, "port": port, "version": version})
    for v in (5, 9):
        if sum(1 for c in out if c["version"] == v) > MAX_COLLECTORS:
            raise ValidationError(f"collectors: more than {MAX_COLLECTORS} v{v} collectors (ng_one2many has many0..many63)")
    return out


def _validate_pair(where: str, raw: Any, defaults: dict, hi: int) -> dict:
    if raw is None:
        return dict(defaults)
    if not isinstance(raw, dict):
        raise ValidationError(f"{where}: expected a mapping with {' and '.join(defaults)}, got {raw!r}")
    unknown = set(raw) - set(defaults)
    if unknown:
        raise ValidationError(f"{where}: unknown key(s) {sorted(unknown)}; known: {', '.join(defaults)}")
    out = dict(defaults)
    for key in defaults:
        if key in raw:
            out[key] = _int_in(f"{where}.{key}", raw[key], 1, hi)
    return out


def validate(params: dict) -> dict:
    """Check and normalise exporter parameters; raise ValidationError naming the key.

    ``params`` holds ``name`` and the state's keyword arguments. The result is the
    normalised form every other function here takes.
    """
    if not isinstance(params, dict):
        raise ValidationError(f"parameters: expected a mapping, got {params!r}")
    name = params.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValidationError(
            f"name: {name!r} is not a valid exporter name (a letter, then letters, digits, "
            "'_' or '-'; at most 25 characters, so that derived node names fit netgraph's 31)"
        )
    unknown = set(params) - PARAM_KEYS - {"name"}
    if unknown:
        raise ValidationError(f"unknown parameter(s) {sorted(unknown)}; known: {sorted(PARAM_KEYS)}")
    if "interfaces" not in params:
        raise ValidationError("interfaces: required")
    if "collectors" not in params:
        raise ValidationError("collectors: required")
    interfaces = _validate_interfaces(params["interfaces"])
    collectors = _validate_collectors(params["collectors"])
    # uint32 in ng_netflow_settimeouts; 0 would disable expiry, so refuse it.
    timeouts = _validate_pair("timeouts", params.get("timeouts"), DEFAULT_TIMEOUTS, 2**32 - 1)
    # uint16 in ng_netflow_settemplate.
    template = _validate_pair("template", params.get("template"), DEFAULT_TEMPLATE, 65535)
    mtu = params.get("mtu")
    mtu = DEFAULT_MTU if mtu is None else _int_in("mtu", mtu, MIN_MTU, MAX_MTU)
    for key in ("persist", "takeover"):
        if key in params and not isinstance(params[key], bool):
            raise ValidationError(f"{key}: {params[key]!r} is not a boolean")
    return {
        "name": name,
        "interfaces": interfaces,
        "collectors": collectors,
        "timeouts": timeouts,
        "template": template,
        "mtu": mtu,
        "persist": params.get("persist", False),
        "takeover": params.get("takeover", False),
    }


# --------------------------------------------------------------------------------------
# Names and the desired graph (pure)
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


def _iface_indices(cfg: dict, current: dict) -> dict:
    """Keep the netflow iface index an interface already has; give new ones the lowest free."""
    nf = node_names(cfg["name"])["netflow"]
    cur_hooks = current.get("nodes", {}).get(nf, {}).get("hooks", {})
    attached: dict[tuple, int] = {}  # (peer node, peer hook) -> N of the ifaceN it feeds
    for hook, peer in cur_hooks.items():
        m = re.match(r"^iface(\d+)$", hook)
        if m:
            attached[(peer["peer"], peer["peer_hook"])] = int(m.group(1))
    kept: dict[str, int] = {}
    for iface in cfg["interfaces"]:
        want = (iface["node"], "lower" if iface["attach"] == "ether" else str(iface["ipfw_hook"]))
        if want in attached:
            kept[iface["name"]] = attached[want]
    taken = set(kept.values())
    for hook in cur_hooks:  # do not reuse an index whose hooks are still connected
        m = re.match(r"^(?:iface|out)(\d+)$", hook)
        if m:
            taken.add(int(m.group(1)))
    nxt = 0
    for iface in cfg["interfaces"]:
        if iface["name"] in kept:
            continue
        while nxt in taken:
            nxt += 1
        kept[iface["name"]] = nxt
        taken.add(nxt)
    return kept


def _collector_slots(cfg: dict, current: dict, version: int) -> dict:
    """Fan-out link index per collector: keep the link a collector already uses."""
    fan = node_names(cfg["name"])[version]
    wanted = [c for c in cfg["collectors"] if c["version"] == version]
    settings = current.get("settings", {})
    fan_hooks = current.get("nodes", {}).get(fan, {}).get("hooks", {})
    slots: dict[tuple, int] = {}
    taken = set()
    for hook, peer in fan_hooks.items():
        m = re.match(r"^many(\d+)$", hook)
        if not m:
            continue
        taken.add(int(m.group(1)))
        peer_addr = settings.get(peer["peer"], {}).get("peer")
        for c in wanted:
            if peer_addr == sockaddr(c) and (c["host"], c["port"]) not in slots:
                slots[(c["host"], c["port"])] = int(m.group(1))
                break
    nxt = 0
    for c in wanted:
        key = (c["host"], c["port"])
        if key in slots:
            continue
        while nxt in taken:
            nxt += 1
        slots[key] = nxt
        taken.add(nxt)
    return slots


def sockaddr(collector: dict) -> str:
    """ng_ksocket's ASCII sockaddr, as getpeername prints it."""
    return f"inet/{collector['host']}:{collector['port']}"


def desired(cfg: dict, current: dict) -> dict:
    """The graph (same shape as netgraph.graph plus settings) that ``cfg`` declares.

    ``current`` is consulted only to keep iface and fan-out indices stable, so that an
    added interface or collector does not renumber the others.
    """
    names = node_names(cfg["name"])
    nf = names["netflow"]
    nodes: dict[str, dict] = {nf: {"type": "netflow", "hooks": {}}}
    settings: dict[str, dict] = {
        nf: {
            "timeouts": dict(cfg["timeouts"]),
            "template": dict(cfg["template"]),
            "mtu": cfg["mtu"],
            "ifaces": {},
        }
    }
    ipfw_rules: dict[int, str] = {}

    def link(a: str, ha: str, b: str, hb: str) -> None:
        nodes.setdefault(a, {"hooks": {}})["hooks"][ha] = {"peer": b, "peer_hook": hb}
        nodes.setdefault(b, {"hooks": {}})["hooks"][hb] = {"peer": a, "peer_hook": ha}

    indices = _iface_indices(cfg, current)
    for iface in cfg["interfaces"]:
        n = indices[iface["name"]]
        if iface["attach"] == "ether":
            nodes.setdefault(iface["node"], {"type": "ether", "hooks": {}, "foreign": True})
            link(iface["node"], "lower", nf, f"iface{n}")
            link(iface["node"], "upper", nf, f"out{n}")
        else:
            nodes.setdefault("ipfw", {"type": "ipfw", "hooks": {}, "foreign": True})
            link("ipfw", str(iface["ipfw_hook"]), nf, f"iface{n}")
            where = {"both": "via", "ingress": "in via", "egress": "out via"}[iface["direction"]]
            ipfw_rules[iface["ipfw_rule"]] = f"ngtee {iface['ipfw_hook']} ip from any to any {where} {iface['name']}"
        settings[nf]["ifaces"][n] = {"conf": iface["conf"], "dlt": iface["dlt"], "index": iface["ifindex"] or 0}

    for version in (9, 5):
        wanted = [c for c in cfg["collectors"] if c["version"] == version]
        if not wanted:
            continue
        top = names[version]
        if len(wanted) == 1:
            nodes[top] = {"type": "ksocket", "hooks": {}}
            link(nf, EXPORT_HOOK[version], top, KSOCKET_HOOK)
            settings[top] = {"peer": sockaddr(wanted[0])}
            continue
        nodes[top] = {"type": "one2many", "hooks": {}}
        link(nf, EXPORT_HOOK[version], top, "one")
        slots = _collector_slots(cfg, current, version)
        links = [0] * (max(slots.values()) + 1)
        for c in wanted:
            i = slots[(c["host"], c["port"])]
            child = f"{top}_{i}"
            nodes[child] = {"type": "ksocket", "hooks": {}}
            link(top, f"many{i}", child, KSOCKET_HOOK)
            settings[child] = {"peer": sockaddr(c)}
            links[i] = 1
        settings[top] = {"config": {"xmitAlg": 2, "failAlg": 1, "enabledLinks": links}}
    for node in nodes.values():
        node.setdefault("foreign", False)
    return {"name": cfg["name"], "nodes": nodes, "settings": settings, "ipfw": ipfw_rules}


# --------------------------------------------------------------------------------------
# Planning (pure): an in-memory graph that follows netgraph's rules as commands are added
# --------------------------------------------------------------------------------------
class _Sim:
    """Just enough of ng_base to plan: hooks, names, self-destruction, new-node defaults."""

    def __init__(self, graph: dict, settings: dict):
        self.nodes: dict[str, dict] = {}
        for key, node in graph.get("nodes", {}).items():
            self.nodes[key] = {
                "type": node["type"],
                "hooks": {h: (p["peer"], p["peer_hook"]) for h, p in node.get("hooks", {}).items()},
            }
        self.settings = copy.deepcopy(settings)
        self.commands: list[list[str]] = []
        self.created: list[str] = []
        self.named_at: dict[str, int] = {}
        self.removed: list[str] = []

    def exists(self, node: str) -> bool:
        return node in self.nodes

    def peer(self, node: str, hook: str):
        return self.nodes.get(node, {}).get("hooks", {}).get(hook)

    def _cut(self, node: str, hook: str) -> None:
        peer = self.nodes[node]["hooks"].pop(hook, None)
        if peer is None:
            return
        pnode, phook = peer
        if pnode in self.nodes:
            self.nodes[pnode]["hooks"].pop(phook, None)
            self._maybe_die(pnode)
        self._maybe_die(node)

    def _maybe_die(self, node: str) -> None:
        n = self.nodes.get(node)
        if n is not None and not n["hooks"] and n["type"] in SELF_DESTRUCTING:
            del self.nodes[node]
            self.settings.pop(node, None)
            self.removed.append(node)

    def rmhook(self, node: str, hook: str) -> None:
        self.commands.append(["rmhook", f"{node}:", hook])
        self._cut(node, hook)

    def shutdown(self, node: str) -> None:
        self.commands.append(["shutdown", f"{node}:"])
        n = self.nodes[node]
        for hook in list(n["hooks"]):
            if node in self.nodes:
                self._cut(node, hook)
        if node in self.nodes and n["type"] in SELF_DESTRUCTING:
            del self.nodes[node]
            self.settings.pop(node, None)
            self.removed.append(node)

    def mkpeer(self, node: str, ntype: str, hook: str, peerhook: str, name: str) -> None:
        self.commands.append(["mkpeer", f"{node}:", ntype, hook, peerhook])
        self.commands.append(["name", f"{node}:{hook}", name])
        self.nodes[name] = {"type": ntype, "hooks": {peerhook: (node, hook)}}
        self.nodes[node]["hooks"][hook] = (name, peerhook)
        self.created.append(name)
        self.named_at[name] = len(self.commands)  # 1-based line of its `name` command
        self.settings[name] = _new_node_settings(ntype)
        self._on_connect(name, peerhook)
        self._on_connect(node, hook)

    def connect(self, a: str, ha: str, b: str, hb: str) -> None:
        self.commands.append(["connect", f"{a}:", f"{b}:", ha, hb])
        self.nodes[a]["hooks"][ha] = (b, hb)
        self.nodes[b]["hooks"][hb] = (a, ha)
        self._on_connect(a, ha)
        self._on_connect(b, hb)

    def msg(self, node: str, cmd: str, *args: str) -> None:
        self.commands.append(["msg", f"{node}:", cmd, *args])

    def _on_connect(self, node: str, hook: str) -> None:
        """Side effects of a new hook that planning must know (ng_netflow_newhook)."""
        n = self.nodes[node]
        st = self.settings.setdefault(node, {})
        m = re.match(r"^iface(\d+)$", hook)
        if n["type"] == "netflow" and m:
            # dlt becomes Ethernet; conf and index keep whatever the node had (unknown
            # when the node pre-existed, so None forces an explicit message).
            known = st.get("ifaces_known", False)
            old = st.setdefault("ifaces", {}).get(int(m.group(1)))
            st["ifaces"][int(m.group(1))] = {
                "dlt": DLT_EN10MB,
                "conf": (old or {}).get("conf", 1) if known else None,
                "index": (old or {}).get("index", 0) if known else None,
            }
        if n["type"] == "one2many" and hook.startswith("many"):
            cfg = st.setdefault("config", {"xmitAlg": 1, "failAlg": 1, "enabledLinks": []})
            i = int(hook[4:])
            links = list(cfg.get("enabledLinks", []))
            links += [0] * (i + 1 - len(links))
            links[i] = 1  # ng_one2many enables a newly connected link
            cfg["enabledLinks"] = links


def _new_node_settings(ntype: str) -> dict:
    if ntype == "netflow":
        return {
            "timeouts": dict(DEFAULT_TIMEOUTS),
            "template": dict(DEFAULT_TEMPLATE),
            "mtu": DEFAULT_MTU,
            "ifaces": {},
            "ifaces_known": True,  # a fresh node has conf=1 index=0 on every iface
        }
    if ntype == "ksocket":
        return {"peer": None}
    if ntype == "one2many":
        return {"config": {"xmitAlg": 1, "failAlg": 1, "enabledLinks": []}}
    return {}


def _links_norm(links) -> list:
    links = [int(x) for x in (links or [])]
    while links and links[-1] == 0:
        links.pop()
    return links


def _fmt_struct(fields: dict) -> list[str]:
    """ng_parse ASCII struct as ngctl words: ``{ a=1 b=2 }`` (no whitespace inside a word)."""
    words = ["{"]
    for key, value in fields.items():
        if isinstance(value, list):
            words.append(f"{key}=[")
            words.extend(str(v) for v in value)
            words.append("]")
        else:
            words.append(f"{key}={value}")
    words.append("}")
    return words


def _ether_ok(sim: _Sim, ether: str) -> bool:
    """Does this ng_ether node pass traffic in the planned graph (both or neither hook)?"""
    lower, upper = sim.peer(ether, "lower"), sim.peer(ether, "upper")
    if lower is None and upper is None:
        return True
    if lower is None or upper is None:
        return False
    (ln, lh), (un, uh) = lower, upper
    ml, mu = re.match(r"^iface(\d+)$", lh), re.match(r"^out(\d+)$", uh)
    return ln == un and sim.nodes.get(ln, {}).get("type") == "netflow" and bool(ml and mu) and ml.group(1) == mu.group(1)


def diff(current: dict, want: dict, takeover: bool = False) -> dict:
    """Ordered ngctl command lines (lists of words) that turn ``current`` into ``want``.

    ``current`` is ``netgraph.graph()`` plus ``settings`` read from the exporter's nodes.
    Raises ConflictError when a needed hook is held by a node this exporter does not own
    and ``takeover`` is false. Interface attachments are created with their two hooks on
    adjacent lines, so no ``ngctl -f`` boundary ever leaves an interface half-connected.
    """
    name = want["name"]
    owned = owned_name_re(name)
    sim = _Sim(current, current.get("settings", {}))
    nf = node_names(name)["netflow"]
    dnodes = want["nodes"]
    touched_foreign: set[str] = set()
    changes: dict[str, Any] = {"nodes_added": [], "nodes_removed": [], "hooks_added": [], "hooks_removed": [], "settings": {}}

    def is_owned(node: str) -> bool:
        return bool(owned.match(node))

    def free(node: str, hook: str, want_peer: tuple) -> None:
        """Make (node, hook) free or connected to want_peer; takeover rules for foreign."""
        if not sim.exists(node):
            return
        cur = sim.peer(node, hook)
        if cur is None or cur == want_peer:
            return
        occupant = cur[0]
        if not is_owned(occupant) and not is_owned(node):
            otype = sim.nodes.get(occupant, {}).get("type", "?")
            if not takeover:
                raise ConflictError(
                    f"{node}:{hook} is connected to {occupant} ({otype}) hook {cur[1]}, a node this "
                    f"exporter does not own; set takeover: true to replace it"
                )
            touched_foreign.add(occupant)
        changes["hooks_removed"].append(f"{node}:{hook} <-> {cur[0]}:{cur[1]}")
        sim.rmhook(node, hook)

    # 1. Owned nodes that must go: not declared, or of the wrong type.
    for node in sorted(n for n in list(sim.nodes) if is_owned(n)):
        if not sim.exists(node):
            continue
        if node not in dnodes or dnodes[node].get("type") != sim.nodes[node]["type"]:
            if node == nf and node in dnodes:
                pass  # a netflow node of another type cannot carry our name; handled below
            changes["nodes_removed"].append(node)
            sim.shutdown(node)

    # 2. Interface attachments, netflow node first (anchored on the first interface).
    groups: list[tuple[str, list[tuple[str, str, str]]]] = []  # (foreign node, [(fhook, nfhook)])
    for hook, peer in sorted(dnodes[nf]["hooks"].items(), key=lambda kv: _hook_order(kv[0])):
        if dnodes.get(peer["peer"], {}).get("foreign"):
            for g in groups:
                if g[0] == peer["peer"]:
                    g[1].append((peer["peer_hook"], hook))
                    break
            else:
                groups.append((peer["peer"], [(peer["peer_hook"], hook)]))
    # keep ether lower before upper, ipfw hooks grouped per hook number
    ordered: list[tuple[str, list[tuple[str, str]]]] = []
    for fnode, pairs in groups:
        if fnode == "ipfw":
            for p in pairs:
                ordered.append((fnode, [p]))
        else:
            ordered.append((fnode, sorted(pairs, key=lambda p: p[0] != "lower")))
    for fnode, pairs in ordered:
        if not sim.exists(fnode):
            raise ConflictError(f"{fnode}: no such netgraph node (interface missing or module not loaded)")
        missing = [(fh, nh) for fh, nh in pairs if sim.peer(fnode, fh) != (nf, nh)]
        if not missing:
            continue
        for fh, nh in pairs:
            free(fnode, fh, (nf, nh))
            free(nf, nh, (fnode, fh))
        for fh, nh in pairs:
            if sim.peer(fnode, fh) == (nf, nh):
                continue
            if not sim.exists(nf):
                sim.mkpeer(fnode, "netflow", fh, nh, nf)
                changes["nodes_added"].append(nf)
            else:
                sim.connect(fnode, fh, nf, nh)
            changes["hooks_added"].append(f"{fnode}:{fh} <-> {nf}:{nh}")

    # 3. netflow settings, in place (the flow cache survives).
    st = sim.settings.setdefault(nf, {})
    dst = want["settings"][nf]
    for key, msg in (("timeouts", "settimeouts"), ("template", "settemplate")):
        if st.get(key) != dst[key]:
            changes["settings"][f"{nf}.{key}"] = {"old": st.get(key), "new": dst[key]}
            fields = {"inactive": dst[key]["inactive"], "active": dst[key]["active"]} if key == "timeouts" else dst[key]
            sim.msg(nf, msg, *_fmt_struct(fields))
            st[key] = dict(dst[key])
    if st.get("mtu") != dst["mtu"]:
        changes["settings"][f"{nf}.mtu"] = {"old": st.get("mtu"), "new": dst["mtu"]}
        sim.msg(nf, "setmtu", *_fmt_struct({"mtu": dst["mtu"]}))
        st["mtu"] = dst["mtu"]
    for idx, dif in sorted(dst["ifaces"].items()):
        cif = st.setdefault("ifaces", {}).get(idx) or {}
        for key, msg, field in (("dlt", "setdlt", "dlt"), ("index", "setifindex", "index"), ("conf", "setconfig", "conf")):
            if cif.get(key) != dif[key]:
                changes["settings"][f"{nf}.iface{idx}.{key}"] = {"old": cif.get(key), "new": dif[key]}
                sim.msg(nf, msg, *_fmt_struct({"iface": idx, field: dif[key]}))
                cif[key] = dif[key]
        st["ifaces"][idx] = cif

    # 4. Collectors: ksocket (one) or one2many + ksockets (several), per version.
    for top in [n for n in dnodes if is_owned(n) and n != nf and re.match(r".*_v[59]$", n)]:
        dtop = dnodes[top]
        ehook = next(h for h, p in dnodes[nf]["hooks"].items() if p["peer"] == top)
        thook = dnodes[nf]["hooks"][ehook]["peer_hook"]
        if sim.exists(top) and sim.peer(top, thook) != (nf, ehook):
            changes["nodes_removed"].append(top)
            sim.shutdown(top)
        if not sim.exists(top):
            free(nf, ehook, (top, thook))
            sim.mkpeer(nf, dtop["type"], ehook, thook, top)
            changes["nodes_added"].append(top)
        children = sorted(
            ((h, p["peer"]) for h, p in dtop["hooks"].items() if h.startswith("many")),
            key=lambda hp: int(hp[0][4:]),
        )
        for hook, child in children:
            if sim.exists(child) and sim.peer(child, KSOCKET_HOOK) != (top, hook):
                changes["nodes_removed"].append(child)
                sim.shutdown(child)
            if not sim.exists(child):
                free(top, hook, (child, KSOCKET_HOOK))
                sim.mkpeer(top, "ksocket", hook, KSOCKET_HOOK, child)
                changes["nodes_added"].append(child)
        # stale fan-out links (a removed collector): its ksocket goes with the hook
        if dtop["type"] == "one2many":
            for hook in sorted(h for h in list(sim.nodes[top]["hooks"]) if h not in dtop["hooks"]):
                peer = sim.peer(top, hook)
                if peer and is_owned(peer[0]) and sim.exists(peer[0]):
                    changes["nodes_removed"].append(peer[0])
                    sim.shutdown(peer[0])
                elif peer:
                    changes["hooks_removed"].append(f"{top}:{hook} <-> {peer[0]}:{peer[1]}")
                    sim.rmhook(top, hook)
        for sock in [top] + [c for _, c in children]:
            if dnodes[sock]["type"] != "ksocket":
                continue
            want_peer = want["settings"][sock]["peer"]
            if sim.settings.get(sock, {}).get("peer") != want_peer:
                changes["settings"][f"{sock}.peer"] = {"old": sim.settings.get(sock, {}).get("peer"), "new": want_peer}
                # A UDP socket may be connected again: FreeBSD's soconnectat() disconnects
                # first for protocols without PR_CONNREQUIRED, so this re-targets in place.
                sim.msg(sock, "connect", want_peer)
                sim.settings.setdefault(sock, {})["peer"] = want_peer
        if dtop["type"] == "one2many":
            dcfg = want["settings"][top]["config"]
            ccfg = sim.settings.get(top, {}).get("config", {})
            if (ccfg.get("xmitAlg"), ccfg.get("failAlg"), _links_norm(ccfg.get("enabledLinks"))) != (
                dcfg["xmitAlg"], dcfg["failAlg"], _links_norm(dcfg["enabledLinks"])
            ):
                changes["settings"][f"{top}.config"] = {"old": ccfg or None, "new": dcfg}
                sim.msg(top, "setconfig", *_fmt_struct(dcfg))
                sim.settings[top]["config"] = copy.deepcopy(dcfg)

    # 5. Stale hooks on the netflow node (an interface left the list): pairs, adjacent.
    if sim.exists(nf):
        stale = sorted((h for h in sim.nodes[nf]["hooks"] if h not in dnodes[nf]["hooks"]), key=_hook_order)
        for hook in stale:
            if not sim.exists(nf) or sim.peer(nf, hook) is None:
                continue
            peer = sim.peer(nf, hook)
            changes["hooks_removed"].append(f"{nf}:{hook} <-> {peer[0]}:{peer[1]}")
            if is_owned(peer[0]):
                changes["nodes_removed"].append(peer[0])
                sim.shutdown(peer[0])
            else:
                sim.rmhook(nf, hook)

    # 6. Foreign nodes taken over: shut down those left serving no interface.
    for node in sorted(touched_foreign):
        if not sim.exists(node) or sim.nodes[node]["type"] in ("ether", "ipfw"):
            continue
        if not any(sim.nodes.get(p[0], {}).get("type") in ("ether", "ipfw") for p in sim.nodes[node]["hooks"].values()):
            changes["nodes_removed"].append(node)
            sim.shutdown(node)

    for ether in [n for n, d in sim.nodes.items() if d["type"] == "ether"]:
        if not _ether_ok(sim, ether) and ether in {p["peer"] for p in dnodes[nf]["hooks"].values()}:
            raise AssertionError(f"planner bug: {ether} would not pass traffic")  # pragma: no cover
    changes = {k: v for k, v in changes.items() if v}
    planned = {k: {"type": v["type"], "hooks": {h: {"peer": p[0], "peer_hook": p[1]} for h, p in v["hooks"].items()}}
               for k, v in sim.nodes.items()}
    return {"commands": sim.commands, "created": sim.created, "named_at": sim.named_at, "changes": changes,
            "planned": planned}


def _edges(nodes: dict) -> set:
    out = set()
    for key, node in nodes.items():
        for hook, peer in node.get("hooks", {}).items():
            out.add(tuple(sorted([(key, hook), (peer["peer"], peer["peer_hook"])])))
    return out


def plan_dot(current: dict, planned: dict, name) -> str:
    """The planned graph as Graphviz DOT: added parts green, removed parts red and dashed,
    the exporters' own nodes filled. ``current``/``planned`` use netgraph.graph's shape;
    ``name`` is an exporter name or a list of them. With ``planned`` equal to the current
    nodes it draws the live graph with our nodes marked."""
    names = [name] if isinstance(name, str) else list(name)
    patterns = [owned_name_re(n) for n in names]

    class _Owned:
        @staticmethod
        def match(key: str) -> bool:
            return any(p.match(key) for p in patterns)

    owned = _Owned
    cur, new = current.get("nodes", {}), planned
    keys = [k for k in cur if k in new] + [k for k in new if k not in cur] + [k for k in cur if k not in new]

    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["graph netgraph_plan {", "\trankdir = LR;", "\tnode [ shape = record, fontsize = 12 ];"]
    for key in keys:
        node = new.get(key) or cur.get(key)
        attrs = [f"label = {q('{' + key + ':|' + node['type'] + '}')}"]
        if owned.match(key):
            attrs.append('style = "filled' + (',dashed' if key not in new else '') + '"')
            attrs.append('fillcolor = "lightblue"')
        elif key not in new:
            attrs.append('style = "dashed"')
        if key not in cur:
            attrs += ['color = "darkgreen"', "penwidth = 2"]
        elif key not in new:
            attrs.append('color = "red"')
        lines.append(f"\t{q(key)} [ {', '.join(attrs)} ];")
    old_e, new_e = _edges(cur), _edges(new)
    for edge in sorted(old_e | new_e):
        (a, ha), (b, hb) = edge
        attrs = [f"label = {q(ha + ' - ' + hb)}", "fontsize = 9"]
        if edge not in old_e:
            attrs += ['color = "darkgreen"', "penwidth = 2"]
        elif edge not in new_e:
            attrs += ['color = "red"', 'style = "dashed"']
        lines.append(f"\t{q(a)} -- {q(b)} [ {', '.join(attrs)} ];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def created_before(planned: dict, failed_line: int | None) -> list[str]:
    """The nodes a batch that failed at ``failed_line`` really created and named.

    ``ngctl -f`` ran lines 1..failed_line-1 only. A node whose ``name`` line did not run
    is not ours by name (another process may own that name): rollback finds it unnamed.
    """
    if failed_line is None:
        return []
    named_at = planned.get("named_at", {})
    return [n for n in planned.get("created", []) if named_at.get(n, failed_line) < failed_line]


def _hook_order(hook: str):
    m = re.match(r"^(iface|out)(\d+)$", hook)
    if m:
        return (0, int(m.group(2)), m.group(1) != "iface")
    return (1, 0, hook)


def ipfw_diff(current_rules: list[dict], current: dict, want: dict | None, name: str, takeover: bool = False) -> dict:
    """ipfw rule changes: delete stale rules first, add missing ones after the ngctl batch.

    A rule is ours when it tees (``ngtee``/``netgraph``) into an ipfw hook that is
    connected to our netflow node, or into the hook a declared rule names. A declared rule
    number held by some other rule is a conflict unless ``takeover``.
    """
    nf = node_names(name)["netflow"]
    wanted = (want or {}).get("ipfw", {})
    ours_hooks = {h for h, p in current.get("nodes", {}).get("ipfw", {}).get("hooks", {}).items() if p["peer"] == nf}
    ours_hooks |= {text.split()[1] for text in wanted.values()}
    delete, add = set(), []
    present = {}
    for r in current_rules:
        m = re.match(r"^(?:ngtee|netgraph) (\d+) ", r["text"])
        mine = bool(m and m.group(1) in ours_hooks)
        if r["rule"] in wanted and not mine:
            if not takeover:
                raise ConflictError(
                    f"ipfw rule {r['rule']} is already used by '{r['text']}', which this exporter does not "
                    "own; pick another ipfw_rule or set takeover: true to replace it"
                )
            mine = True
        if not mine:
            continue
        if wanted.get(r["rule"]) == r["text"] and r["rule"] not in present:
            present[r["rule"]] = r["text"]
        else:
            delete.add(r["rule"])
    for rule, text in sorted(wanted.items()):
        if rule in delete or present.get(rule) != text:
            add.append([str(rule)] + text.split())
    return {"delete": sorted(delete), "add": add}


def rollback_plan(graph: dict, name: str, created: list[str], before: list[str] | None = None) -> list[list[str]]:
    """Commands that leave every interface passing traffic after a failed batch.

    ``graph`` is the graph re-read after the failure. Nodes the failed batch created are
    shut down (the safe state: a netflow node that is gone restores ng_ether's
    passthrough), including a node left unnamed because the batch failed between its
    ``mkpeer`` and its ``name`` (an unnamed node absent from ``before``, the node keys
    read before the batch); an interface still half-attached to one of our nodes is
    detached.
    """
    owned = owned_name_re(name)
    sim = _Sim(graph, {})
    if before is not None:
        known = set(before)
        created = list(created) + sorted(k for k in graph.get("nodes", {}) if k.startswith("[") and k not in known)
    for node in created:
        if sim.exists(node):
            sim.shutdown(node)
    for ether in sorted(n for n, d in sim.nodes.items() if d["type"] == "ether"):
        if _ether_ok(sim, ether):
            continue
        for hook in ("lower", "upper"):
            peer = sim.peer(ether, hook)
            if peer and owned.match(peer[0]):
                sim.rmhook(ether, hook)
    return sim.commands


def settings_queries(graph: dict, name: str) -> list[list[str]]:
    """Read-only messages that fetch the settings of an exporter's nodes (one spawn)."""
    owned = owned_name_re(name)
    queries = []
    for key, node in sorted(graph.get("nodes", {}).items()):
        if not owned.match(key):
            continue
        if node["type"] == "netflow":
            queries.append([f"{key}:", "info"])
            queries.append([f"{key}:", "v9info"])
            for hook in sorted(node.get("hooks", {}), key=_hook_order):
                m = re.match(r"^iface(\d+)$", hook)
                if m:
                    queries.append([f"{key}:", "ifinfo", m.group(1)])
        elif node["type"] == "ksocket":
            queries.append([f"{key}:", "getpeername"])
        elif node["type"] == "one2many":
            queries.append([f"{key}:", "getconfig"])
    return queries


def settings_from_replies(queries: list[list[str]], replies: list[dict]) -> dict:
    """Turn netgraph.query replies into the ``settings`` part of the graph model."""
    out: dict[str, dict] = {}
    for q, r in zip(queries, replies):
        node = q[0].rstrip(":")
        st = out.setdefault(node, {})
        args = (r.get("reply") or {}).get("args") if r.get("ok") else None
        cmd = q[1]
        if cmd == "info" and isinstance(args, dict):
            st["timeouts"] = {"inactive": int(args.get("Inactive timeout", 0)), "active": int(args.get("Active timeout", 0))}
        elif cmd == "v9info" and isinstance(args, dict):
            st["template"] = {"time": int(args.get("v9 template time", 0)), "packets": int(args.get("v9 template packets", 0))}
            st["mtu"] = int(args.get("v9 MTU", 0))
        elif cmd == "ifinfo":
            st.setdefault("ifaces", {})
            if isinstance(args, dict):
                st["ifaces"][int(q[2])] = {
                    "dlt": int(args.get("data link type", 0)),
                    "index": int(args.get("index", 0)),
                    "conf": int(args.get("conf", 0)),
                }
        elif cmd == "getpeername":
            st["peer"] = args if (r.get("ok") and isinstance(args, str)) else None
        elif cmd == "getconfig" and isinstance(args, dict):
            st["config"] = {
                "xmitAlg": int(args.get("xmitAlg", 0)),
                "failAlg": int(args.get("failAlg", 0)),
                "enabledLinks": _links_norm(args.get("enabledLinks")),
            }
    return out


def build_script(cfg: dict) -> dict:
    """Everything needed to rebuild the exporter at boot, without Salt.

    The plan against a graph that has only the interfaces' ether nodes (and ipfw), so
    the rc.d script can replay it with ``ngctl -f`` right after loading the modules.
    """
    empty = {"nodes": {}}
    for iface in cfg["interfaces"]:
        empty["nodes"][iface["node"]] = {"type": iface["node"] == "ipfw" and "ipfw" or "ether", "hooks": {}}
    want = desired(cfg, empty)
    plan = diff(empty, want)
    lines = [f"# netflow exporter {cfg['name']}: written by salt-netgraph, replayed by rc.d/netflow"]
    lines += [" ".join(words) for words in plan["commands"]]
    return {
        "ngctl": "\n".join(lines) + "\n",
        "modules": required_modules(cfg),
        "ipfw": [" ".join(["add", str(rule)] + text.split()) for rule, text in sorted(want["ipfw"].items())],
    }


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


def _wants_ng_ipfw(cfg: dict, graph: dict) -> bool:
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
    if _wants_ng_ipfw(cfg, graph):
        if "ipfw" not in (loaded or []):
            bad = next(i["name"] for i in cfg["interfaces"] if i["attach"] == "ipfw")
            raise ValidationError(
                f"interfaces.{bad}: attach: ipfw needs the ipfw firewall loaded and configured "
                "(firewall_enable=YES); salt-netgraph will not load ipfw.ko, whose default rule denies all traffic"
            )
        missing.append("ng_ipfw")
    return missing


def check_interfaces(cfg: dict, graph: dict) -> None:
    """Refuse interfaces that cannot be attached as asked (before anything is changed)."""
    nodes = graph.get("nodes", {})
    for iface in cfg["interfaces"]:
        if iface["attach"] == "ether":
            node = nodes.get(iface["node"])
            if node is None or node.get("type") != "ether":
                raise ValidationError(
                    f"interfaces.{iface['name']}: no Ethernet interface {iface['name']!r} on this host "
                    f"(no ng_ether node {iface['node']!r}); a tun/PPPoE/non-Ethernet interface needs attach: ipfw"
                )
        elif "ipfw" not in nodes:
            raise ValidationError(f"interfaces.{iface['name']}: attach: ipfw needs the ipfw and ng_ipfw modules")


# --------------------------------------------------------------------------------------
# Salt functions (thin glue over netgraph.*)
# --------------------------------------------------------------------------------------
def _validated(name: str, kwargs: dict) -> dict:
    """validate() for the Salt functions: Salt's ``__pub_*`` keys dropped, errors as
    SaltInvocationError."""
    params = {k: v for k, v in kwargs.items() if not k.startswith("__")}
    params["name"] = name
    try:
        return validate(params)
    except ValidationError as exc:
        raise SaltInvocationError(str(exc)) from None


def _check_name(name) -> None:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SaltInvocationError(f"name: {name!r} is not a valid exporter name")


def _read(name: str) -> dict:
    graph = __salt__["netgraph.graph"]()  # noqa: F821
    queries = settings_queries(graph, name)
    replies = __salt__["netgraph.query"](queries) if queries else []  # noqa: F821
    graph["settings"] = settings_from_replies(queries, replies)
    return graph


def _ipfw_rules_if_needed(cfg: dict | None, graph: dict) -> list[dict]:
    nf = node_names(cfg["name"] if cfg else "")["netflow"]
    uses_ipfw = bool(cfg and any(i["attach"] == "ipfw" for i in cfg["interfaces"]))
    hooked = any(p["peer"] == nf for p in graph.get("nodes", {}).get("ipfw", {}).get("hooks", {}).values())
    if uses_ipfw or hooked:
        return __salt__["netgraph.ipfw_rules"]()  # noqa: F821
    return []


def plan(name: str, load_modules: bool = False, **kwargs) -> dict:
    """
    Compute (read-only) what ``netflow.exporter_present`` would change.

    Returns ``{"commands": [ngctl lines], "ipfw": {"delete": [...], "add": [...]},
    "changes": {readable diff}, "created": [...], "modules": [missing modules]}``.

    CLI Example:

    .. code-block:: bash

        salt fw1 netflow.plan lan interfaces='[em0]' collectors='[{host: 192.0.2.10, port: 2055}]'
    """
    return _plan(_validated(name, kwargs), load_modules=load_modules)


def _plan(cfg: dict, load_modules: bool = False) -> dict:
    graph = _read(cfg["name"])
    # kldstat only when ng_ipfw is wanted and absent: is the firewall itself loaded?
    loaded = __salt__["netgraph.modules"]() if _wants_ng_ipfw(cfg, graph) else None  # noqa: F821
    try:
        missing = missing_modules(cfg, graph, loaded)
    except ValidationError as exc:
        raise SaltInvocationError(str(exc)) from None
    if missing and load_modules:
        __salt__["netgraph.load_modules"](missing)  # noqa: F821
        graph = _read(cfg["name"])
        missing = []
    if missing:
        return {"commands": [], "ipfw": {"delete": [], "add": []}, "changes": {"modules": missing},
                "created": [], "modules": missing, "incomplete": True}
    try:
        check_interfaces(cfg, graph)
        want = desired(cfg, graph)
        result = diff(graph, want, takeover=cfg["takeover"])
    except (ValidationError, ConflictError) as exc:
        raise SaltInvocationError(str(exc)) from None
    rules = _ipfw_rules_if_needed(cfg, graph)
    try:
        result["ipfw"] = ipfw_diff(rules, graph, want, cfg["name"], takeover=cfg["takeover"])
    except ConflictError as exc:
        raise SaltInvocationError(str(exc)) from None
    if result["ipfw"]["delete"] or result["ipfw"]["add"]:
        ipfw = {"delete": result["ipfw"]["delete"], "add": [" ".join(a) for a in result["ipfw"]["add"]]}
        result["changes"]["ipfw"] = {k: v for k, v in ipfw.items() if v}
    result["modules"] = []
    result["before"] = sorted(graph.get("nodes", {}))
    result["dot"] = plan_dot(graph, result.pop("planned"), cfg["name"])
    result["commands_text"] = [" ".join(c) for c in result["commands"]]
    return result


def absent_plan(name: str) -> dict:
    """
    Compute (read-only) what ``netflow.exporter_absent`` would remove.

    CLI Example:

    .. code-block:: bash

        salt fw1 netflow.absent_plan lan
    """
    _check_name(name)
    graph = __salt__["netgraph.graph"]()  # noqa: F821
    owned = owned_name_re(name)
    sim = _Sim(graph, {})
    nf = node_names(name)["netflow"]
    removed = []
    # The netflow node first: its shutdown restores ng_ether passthrough at once.
    for node in sorted((n for n in graph.get("nodes", {}) if owned.match(n)), key=lambda n: n != nf):
        if sim.exists(node):
            removed.append(node)
            sim.shutdown(node)
    rules = _ipfw_rules_if_needed({"name": name, "interfaces": []}, graph)
    ipfw = ipfw_diff(rules, graph, None, name)
    changes = {}
    if removed:
        changes["nodes_removed"] = removed
    if ipfw["delete"]:
        changes["ipfw"] = {"delete": ipfw["delete"]}
    return {"commands": sim.commands, "commands_text": [" ".join(c) for c in sim.commands],
            "ipfw": ipfw, "changes": changes, "created": []}


def apply_plan(name: str, planned: dict) -> dict:
    """
    Apply a plan from ``netflow.plan``/``netflow.absent_plan``: ipfw deletions, ONE
    ``ngctl -f -`` batch, ipfw additions. On a batch failure, roll back so that every
    interface passes traffic, then raise CommandExecutionError saying what failed.

    CLI Example:

    .. code-block:: bash

        # what the state does, by hand on the minion: review the plan, then apply it
        salt-call --out=json netflow.plan lan interfaces='[em0]' \
            collectors='[{host: 192.0.2.10, port: 2055}]' | jq -c .local > plan.json
        salt-call netflow.apply_plan lan "$(cat plan.json)"
    """
    for rule in planned["ipfw"]["delete"]:
        __salt__["netgraph.ipfw_delete"](rule)  # noqa: F821
    if planned["commands"]:
        try:
            __salt__["netgraph.batch"](planned["commands"])  # noqa: F821
        except CommandExecutionError as exc:
            info = getattr(exc, "info", None) or {}
            graph = __salt__["netgraph.graph"]()  # noqa: F821
            line = info.get("line") if isinstance(info.get("line"), int) else None
            undo = rollback_plan(graph, name, created_before(planned, line), planned.get("before"))
            undo_error = None
            if undo:
                try:
                    __salt__["netgraph.batch"](undo)  # noqa: F821
                except CommandExecutionError as exc2:
                    undo_error = str(exc2)
            msg = (
                f"ngctl failed at line {info.get('line', '?')} ({info.get('command', '?')}): "
                f"{info.get('error', str(exc))}; rolled back with {len(undo)} command(s)"
            )
            if undo_error:
                msg += f"; ROLLBACK FAILED: {undo_error}"
            raise CommandExecutionError(msg, info={"failed": info, "rollback": [" ".join(c) for c in undo]}) from None
    for words in planned["ipfw"]["add"]:
        __salt__["netgraph.ipfw_add"](int(words[0]), words[1:])  # noqa: F821
    return {"applied": len(planned["commands"])}


def status(name: str) -> dict:
    """
    The live state of an exporter: its nodes and hooks, the settings the planner compares
    (timeouts, template, MTU, per-iface conf/dlt/index, collector addresses, fan-out
    config), and every reply as the kernel gave it under ``replies`` (ng_netflow's ``info``
    counters: packets, bytes, records used, expiries, failed exports; ``ifinfo N`` packets;
    ``getpeername``; ``getconfig``), or the error ngctl printed.

    CLI Example:

    .. code-block:: bash

        salt fw1 netflow.status lan
    """
    _check_name(name)
    graph = __salt__["netgraph.graph"]()  # noqa: F821
    queries = settings_queries(graph, name)
    replies = __salt__["netgraph.query"](queries) if queries else []  # noqa: F821
    owned = owned_name_re(name)
    nodes = {k: v for k, v in graph.get("nodes", {}).items() if owned.match(k)}
    raw: dict[str, dict] = {}
    for q, r in zip(queries, replies):
        key = " ".join(q[1:])
        raw.setdefault(q[0].rstrip(":"), {})[key] = (r.get("reply") or {}).get("args") if r.get("ok") else {"error": r.get("error")}
    return {"present": bool(nodes), "nodes": nodes, "settings": settings_from_replies(queries, replies), "replies": raw}


def dot(names=None) -> str:
    """
    The live graph as Graphviz DOT with the nodes of the given exporters filled (all
    nodes that look like an exporter's when ``names`` is empty). ngctl's own ``dot``
    is ``netgraph.dot``; this one is for people: records with name and type, labelled links.

    CLI Example:

    .. code-block:: bash

        salt fw1 netflow.dot lan,uplink | dot -Tsvg > graph.svg
    """
    if isinstance(names, str):
        names = [n for n in names.split(",") if n]
    graph = __salt__["netgraph.graph"]()  # noqa: F821
    if not names:
        names = sorted({k[:-3] for k, v in graph.get("nodes", {}).items() if v["type"] == "netflow" and k.endswith("_nf")})
    for n in names:
        _check_name(n)
    return plan_dot(graph, graph.get("nodes", {}), names)


def boot_script(name: str, **kwargs) -> dict:
    """
    The full build of an exporter from an empty graph, for persistence across reboots:
    ``{"ngctl": "<ngctl -f script>", "modules": [...], "ipfw": ["add 100 ngtee ...", ...]}``.

    CLI Example:

    .. code-block:: bash

        salt fw1 netflow.boot_script lan interfaces='[em0]' collectors='[{host: 192.0.2.10, port: 2055}]'
    """
    return build_script(_validated(name, kwargs))
