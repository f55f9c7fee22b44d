"""What a plan changes, in the pillar's terms (pure; no Salt): the ``changes`` a state
reports, per interface, per collector and per setting, as the pillar names them.

``pillar_changes`` compares the live graph (``netgraph.graph`` plus the ``settings`` the
planner read) with the declared exporter (``nf_model.validate``'s dict) and reads the plan
(``nf_plan.diff``'s result with its ``ipfw`` part) only to know whether anything changes
at all and what else it repairs::

    exporter: updated
    interfaces: {vlan0.100: direction both → egress, em1: removed}
    collectors: [192.0.2.11:2055 v9 added]
    settings: {timeouts.active: 1800 → 600}

A first build says ``exporter: created``, and what it creates has no old value:
``em0: added (direction both)``, ``mtu: "1500"``. The ngctl lines, ipfw rules and
modules are reported beside these (``ngctl``, ``ipfw``, ``modules``), never instead.
"""
from __future__ import annotations

import ipaddress
import re

from . import nf_sockaddr
from .nf_graph import owned_nodes
from .nf_model import CONF_EGRESS, CONF_INGRESS, CONF_THISONCE, VERSIONS, node_names, sockaddr, start_template

ARROW = "→"
SETTINGS = (("timeouts", "active"), ("timeouts", "inactive"), ("template", "time"), ("template", "packets"),
            ("mtu", None))
# The planner's netgraph-level change keys, said in the pillar's terms instead.
NODE_LEVEL = ("nodes_added", "nodes_removed", "hooks_added", "hooks_removed", "settings")
_HOOK_RE = re.compile(r"(iface|out)(\d+)")
_RULE_RE = re.compile(r"(?:ngtee|netgraph) (\d+) ip from any to any (in via|out via|via) (\S+)")
_RULE_DIRECTION = {"via": "both", "in via": "ingress", "out via": "egress"}


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "none" if value is None else str(value)


def _arrow(old, new) -> str:
    return f"{_text(old)} {ARROW} {_text(new)}"


def _direction(conf: int) -> str:
    both = CONF_INGRESS | CONF_EGRESS
    return {both: "both", CONF_INGRESS: "ingress", CONF_EGRESS: "egress"}.get(conf & both, "none")


def collector_label(collector: dict) -> str:
    """``192.0.2.11:2055 v9`` (``[2001:db8::1]:2055 v9`` for an IPv6 host); a host name
    with the address it resolved to: ``nf.example.net:2055 v9 (192.0.2.10)``."""
    host, address = collector["host"], collector.get("address")
    try:
        host = f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        pass
    resolved = f" ({address})" if address and address != collector["host"] else ""
    return f"{host}:{collector['port']} v{collector['version']}{resolved}"


# --------------------------------------------------------------------------------------
# The live exporter, read back in the pillar's terms
# --------------------------------------------------------------------------------------
def _live_points(current: dict, nf: str) -> dict:
    """Attach point -> ``{"index": N, "hooks": {"lower", "upper"} or {"ipfw"}}`` of every
    interface on the netflow node: ``em0`` for an ng_ether node, ``ipfw:1000`` for an
    ng_ipfw hook."""
    points: dict[str, dict] = {}
    for hook, peer in sorted(current.get("nodes", {}).get(nf, {}).get("hooks", {}).items()):
        m = _HOOK_RE.fullmatch(hook)
        if not m:
            continue
        if peer.get("peer_type") == "ipfw" or peer["peer"] == "ipfw":
            point, kind = f"{peer['peer']}:{peer['peer_hook']}", "ipfw"
        elif (m.group(1), peer["peer_hook"]) in (("iface", "lower"), ("out", "upper")):
            point, kind = peer["peer"], peer["peer_hook"]
        else:
            continue
        entry = points.setdefault(point, {"index": int(m.group(2)), "hooks": set()})
        entry["hooks"].add(kind)
    return points


def _rule_of(rules, cookie) -> dict | None:
    """The ipfw rule that tees into ng_ipfw hook ``cookie``: number, direction, interface."""
    for rule in rules or ():
        m = _RULE_RE.fullmatch(rule["text"])
        if m and m.group(1) == str(cookie) and rule["rule"] < 65535:
            return {"rule": rule["rule"], "direction": _RULE_DIRECTION[m.group(2)], "name": m.group(3)}
    return None


def _live_collectors(current: dict, name: str) -> dict:
    """(version, sockaddr) -> node of every connected ksocket of the exporter."""
    out = {}
    settings = current.get("settings", {})
    for key in sorted(owned_nodes(current, name)):
        peer = settings.get(key, {}).get("peer")
        if current["nodes"][key].get("type") != "ksocket" or not peer:
            continue
        for version, row in VERSIONS.items():
            if re.fullmatch(r"%s_%s(?:_\d+)?" % (re.escape(name), row["suffix"]), key):
                out.setdefault((version, peer), key)
    return out


# --------------------------------------------------------------------------------------
# Per interface, per collector, per setting
# --------------------------------------------------------------------------------------
def _added(iface: dict, taken_from: str | None) -> str:
    if iface["attach"] == "ipfw":
        what = [f"via ipfw rule {iface['ipfw_rule']}, ngtee {iface['ipfw_hook']}", f"direction {iface['direction']}"]
    else:
        what = [f"direction {iface['direction']}"]
    what += [] if iface["once"] else ["once false"]
    what += [f"ifindex {iface['ifindex']}"] if iface["ifindex"] else []
    what += [f"taken over from {taken_from}"] if taken_from else []
    return f"added ({', '.join(what)})"


def _changed(iface: dict, live: dict, cur: dict | None, rule: dict | None) -> str | None:
    """What changes on an interface that is attached now, or None."""
    parts = []
    if iface["attach"] == "ipfw":
        if rule is None:
            parts.append(f"ipfw rule {iface['ipfw_rule']} added")
        else:
            if rule["rule"] != iface["ipfw_rule"]:
                parts.append(f"ipfw_rule {_arrow(rule['rule'], iface['ipfw_rule'])}")
            if rule["direction"] != iface["direction"]:
                parts.append(f"direction {_arrow(rule['direction'], iface['direction'])}")
    if cur and "conf" in cur:
        if iface["attach"] == "ether" and _direction(cur["conf"]) != iface["direction"]:
            parts.append(f"direction {_arrow(_direction(cur['conf']), iface['direction'])}")
        if bool(cur["conf"] & CONF_THISONCE) != iface["once"]:
            parts.append(f"once {_arrow(bool(cur['conf'] & CONF_THISONCE), iface['once'])}")
    if cur and (cur.get("index") or None) != iface["ifindex"]:
        parts.append(f"ifindex {cur.get('index') or 'none'} {ARROW} {iface['ifindex'] or 'none'}")
    if iface["attach"] == "ether" and live["hooks"] != {"lower", "upper"}:
        parts.append("reattached")
    return ", ".join(parts) or None


def _taken_from(plan: dict, node: str) -> str | None:
    for line in plan.get("changes", {}).get("hooks_removed", []):
        left, right = line.split(" <-> ")
        if left in (f"{node}:lower", f"{node}:upper"):
            return right.split(":")[0]
    return None


def interface_changes(current: dict, cfg: dict | None, name: str, plan: dict, rules=()) -> dict:
    """Interface name -> what happens to it: ``added (...)``, ``removed``, or its options
    ``direction both → egress, once true → false``."""
    nf = node_names(name)["netflow"]
    live = _live_points(current, nf)
    ifaces = current.get("settings", {}).get(nf, {}).get("ifaces", {})
    out = {}
    for iface in (cfg or {}).get("interfaces", []):
        point = iface["node"] if iface["attach"] == "ether" else f"ipfw:{iface['ipfw_hook']}"
        here = live.pop(point, None)
        if here is None:
            out[iface["name"]] = _added(iface, _taken_from(plan, iface["node"]) if iface["attach"] == "ether" else None)
            continue
        text = _changed(iface, here, ifaces.get(here["index"]), _rule_of(rules, iface["ipfw_hook"]))
        if text:
            out[iface["name"]] = text
    for point in live:
        rule = _rule_of(rules, point.split(":", 1)[1]) if ":" in point else None
        out[rule["name"] if rule else point] = "removed"
    return dict(sorted(out.items()))


def collector_changes(current: dict, cfg: dict | None, name: str, plan: dict | None = None) -> list[str]:
    """``192.0.2.11:2055 v9 added`` / ``... removed`` for each collector that comes or goes;
    for one that stays, what else the plan changes on its socket (``... source A → B``)."""
    live = _live_collectors(current, name)
    want = {(c["version"], sockaddr(c)): collector_label(c) for c in (cfg or {}).get("collectors", [])}
    out = [f"{label} added" for key, label in want.items() if key not in live]
    settings = (plan or {}).get("changes", {}).get("settings", {})
    for key, label in want.items():
        node = live.get(key)
        for what, change in sorted(settings.items()):
            field = what[len(node) + 1:] if node and what.startswith(f"{node}.") else None
            if field and field not in ("peer", "config"):  # config: a fan-out's, not the socket's
                out.append(f"{label} {field} {_arrow(change.get('old'), change.get('new'))}")
    for version, peer in live:
        if (version, peer) not in want:
            out.append(f"{nf_sockaddr.label(peer) or peer} v{version} removed")
    return sorted(out)


def setting_changes(current: dict, cfg: dict, name: str) -> dict:
    """``timeouts.active`` -> ``1800 → 600``; on a first build the value alone (the
    declared one: the node starts on the boot template, nf_model.start_template)."""
    nf = node_names(name)["netflow"]
    exists = current.get("nodes", {}).get(nf, {}).get("type") == "netflow"
    have = current.get("settings", {}).get(nf, {})
    want = {**cfg, "template": start_template(cfg["template"], have)} if exists else cfg
    out = {}
    for group, field in SETTINGS:
        key = f"{group}.{field}" if field else group
        new = want[group][field] if field else want[group]
        if not exists:
            out[key] = _text(new)
            continue
        old = (have.get(group) or {}).get(field) if field else have.get(group)
        if old != new:
            out[key] = _arrow(old, new)
    return out


def _repairs(plan: dict) -> list[str]:
    """The plan's own changes of netgraph nodes, for a plan that changes nothing the pillar
    names (drift of a part the pillar does not spell, such as a disabled fan-out link)."""
    ch = plan.get("changes", {})
    out = [f"node {n} added" for n in ch.get("nodes_added", [])]
    out += [f"node {n} removed" for n in ch.get("nodes_removed", [])]
    out += [f"{h} connected" for h in ch.get("hooks_added", [])]
    out += [f"{h} disconnected" for h in ch.get("hooks_removed", [])]
    out += [f"{k} {_arrow(v.get('old'), v.get('new'))}" for k, v in sorted(ch.get("settings", {}).items())]
    return out


def pillar_changes(current: dict, cfg: dict | None, plan: dict, rules=(), modules=(), name: str | None = None) -> dict:
    """The ``changes`` of exporter ``cfg`` (None: the exporter is being removed, then give
    ``name``) in the pillar's terms, ``{}`` when the plan changes nothing.

    ``current`` is the live graph with ``settings``; ``plan`` is ``nf_plan.diff``'s (or
    ``absent_plan``'s) result with ``ipfw`` ``{delete, add}`` and, under ``changes``, the
    planner's node-level changes and ``ipfw`` (kept as it is); ``rules`` the ipfw rules read;
    ``modules`` those the apply loads first."""
    name = cfg["name"] if cfg else name
    ipfw = plan.get("ipfw") or {}
    if not (plan.get("commands") or ipfw.get("delete") or ipfw.get("add") or modules):
        return {}
    nf = node_names(name)["netflow"]
    exists = current.get("nodes", {}).get(nf, {}).get("type") == "netflow"
    out: dict = {"exporter": "removed" if cfg is None else "updated" if exists else "created"}
    sections = {"interfaces": interface_changes(current, cfg, name, plan, rules),
                "collectors": collector_changes(current, cfg, name, plan),
                "settings": setting_changes(current, cfg, name) if cfg else {}}
    out.update({k: v for k, v in sections.items() if v})
    if not any(sections.values()) and out["exporter"] == "updated" and _repairs(plan):
        out["repaired"] = _repairs(plan)
    if modules:
        out["modules"] = list(modules)
    # what the glue and the planner add in their own terms (ipfw, ...) stays as it is
    out.update({k: v for k, v in plan.get("changes", {}).items() if k not in NODE_LEVEL and v})
    return out
