"""A small in-memory netgraph the planner runs its commands on (pure; no Salt).

It follows the ng_base rules that matter for ordering a batch: a netflow/ksocket/
one2many node destroys itself when its last hook goes (``ng_*_disconnect``), ``mkpeer``
creates an unnamed node that ``name`` then names, a new ``ifaceN`` hook resets that
iface's dlt to Ethernet (``ng_netflow_newhook``), a newly connected one2many link is
enabled. Each method appends the ngctl command it stands for to ``commands``, so a plan
never addresses a node an earlier line of the same batch destroyed.
"""
from __future__ import annotations

import copy
import re

from .nf_model import DEFAULT_MTU, DEFAULT_TEMPLATE, DEFAULT_TIMEOUTS, DLT_EN10MB, NAME_RE, PERSISTENT, SELF_DESTRUCTING, VERSIONS


def plain_copy(value):
    """A copy of plain data (dicts, lists, scalars: what a read's settings are) that shares
    no container with ``value``; copy.deepcopy for anything else. At 1,000 interfaces the
    settings hold 1,000 ``ifaces`` entries, and deepcopy's memo costs more than the copy."""
    kind = type(value)
    if kind is dict:
        return {k: plain_copy(v) for k, v in value.items()}
    if kind is list:
        return [plain_copy(v) for v in value]
    if kind in (str, int, float, bool) or value is None:
        return value
    return copy.deepcopy(value)


class PlanGraph:
    """Just enough of ng_base to plan: hooks, names, self-destruction, new-node defaults."""

    def __init__(self, graph: dict, settings: dict):
        self.nodes: dict[str, dict] = {}
        for key, node in graph.get("nodes", {}).items():
            self.nodes[key] = {
                "type": node["type"],
                "hooks": {h: (p["peer"], p["peer_hook"]) for h, p in node.get("hooks", {}).items()},
            }
        self.settings = plain_copy(settings)
        self.commands: list[list[str]] = []
        self.created: list[str] = []
        self.named_at: dict[str, int] = {}
        self.removed: list[str] = []

    def copy(self) -> "PlanGraph":
        """The graph as planned so far, without its commands: the ``before`` of a plan's
        later phase (a host plan shares one graph between its exporters)."""
        other = PlanGraph({"nodes": {}}, self.settings)
        other.nodes = {k: {"type": v["type"], "hooks": dict(v["hooks"])} for k, v in self.nodes.items()}
        return other

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
        if node in self.nodes and n["type"] not in PERSISTENT:  # a shut-down vlan or bridge is gone too
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
        self.settings[name] = new_node_settings(ntype)
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
        m = re.fullmatch(r"iface(\d+)", hook)
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


def new_node_settings(ntype: str) -> dict:
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


def links_norm(links) -> list:
    links = [int(x) for x in (links or [])]
    while links and links[-1] == 0:
        links.pop()
    return links


def fmt_struct(fields: dict) -> list[str]:
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


def ether_passes(sim: PlanGraph, ether: str) -> bool:
    """Does this ng_ether node pass traffic in the planned graph (both or neither hook)?"""
    lower, upper = sim.peer(ether, "lower"), sim.peer(ether, "upper")
    if lower is None and upper is None:
        return True
    if lower is None or upper is None:
        return False
    (ln, lh), (un, uh) = lower, upper
    ml, mu = re.fullmatch(r"iface(\d+)", lh), re.fullmatch(r"out(\d+)", uh)
    return ln == un and sim.nodes.get(ln, {}).get("type") == "netflow" and bool(ml and mu) and ml.group(1) == mu.group(1)



_HOOK_ORDER_RE = re.compile(r"(iface|out)(\d+)")


def hook_order(hook: str):
    """Sort key: ifaceN/outN pairs by N (iface first), then the other hooks by name."""
    m = _HOOK_ORDER_RE.fullmatch(hook)
    if m:
        return (0, int(m.group(2)), m.group(1) != "iface")
    return (1, 0, hook)


# --------------------------------------------------------------------------------------
# Ownership: which live nodes are exporter X's (the one predicate every path uses)
# --------------------------------------------------------------------------------------
_EXPORT_HOOKS = {row["hook"] for row in VERSIONS.values()}


_SUFFIXES = "|".join(re.escape(row["suffix"]) for row in VERSIONS.values())


def _role(pattern: "re.Pattern[str]", key: str):
    """(role, version, link index) that the node name ``key`` has under ``pattern``
    (``_role_re`` of an exporter): ``("nf", None, None)`` for X_nf, ``("top", 9, None)``
    for X_v9, ``("leaf", 9, 3)`` for X_v9_3; None for any other name."""
    m = pattern.fullmatch(key)
    if not m:
        return None
    if m.group(1):
        return ("nf", None, None)
    version = next(v for v, row in VERSIONS.items() if row["suffix"] == m.group(2))
    return ("leaf", version, int(m.group(3))) if m.group(3) is not None else ("top", version, None)


def owned_nodes(graph: dict, name: str) -> set:
    """The live nodes exporter ``name`` owns: by name AND type AND position, never by name
    alone (an ng_ether node of an interface called ``lan_v9_0`` is not exporter lan's).

    * ``X_nf``: a ``netflow`` node;
    * ``X_v9`` / ``X_v5``: a ``ksocket`` whose hook goes to an export hook of our X_nf, or a
      ``one2many`` whose ``one`` hook (when connected) does;
    * ``X_v9_<i>`` / ``X_v5_<i>``: a ``ksocket`` whose hook goes to our fan-out X_v9/X_v5.

    ``ether`` and ``ipfw`` nodes are never ours, whatever their name."""
    nodes = graph.get("nodes", {})
    pattern = re.compile(r"%s_(?:(nf)|(%s)(?:_(\d+))?)" % (re.escape(name), _SUFFIXES))
    prefix = f"{name}_"  # every name the pattern takes starts so: the other 2,000 nodes cost one test each
    roles = {k: _role(pattern, k) for k in nodes if k.startswith(prefix)}
    ours: set = set()

    def peers(key: str) -> list:
        return [(p["peer"], p["peer_hook"]) for p in nodes[key].get("hooks", {}).values()]

    for stage in ("nf", "top", "leaf"):
        for key, role in roles.items():
            if not role or role[0] != stage:
                continue
            ntype, hooks = nodes[key].get("type"), nodes[key].get("hooks", {})
            if stage == "nf":
                ok = ntype == "netflow"
            elif stage == "top" and ntype == "ksocket":
                ok = bool(hooks) and all(p in ours and h in _EXPORT_HOOKS for p, h in peers(key))
            elif stage == "top" and ntype == "one2many":
                one = hooks.get("one")
                ok = one is None or (one["peer"] in ours and one["peer_hook"] in _EXPORT_HOOKS)
            else:
                top = f"{name}_{VERSIONS[role[1]]['suffix']}" if role[1] else None
                ok = ntype == "ksocket" and bool(hooks) and all(
                    p == top and top in ours and nodes[top]["type"] == "one2many" for p, _ in peers(key))
            if ok:
                ours.add(key)
    return ours


def other_exporter(graph: dict, name: str, key: str):
    """The name of ANOTHER exporter whose netflow node ``key`` is (``<other>_nf`` of type
    netflow), or None. Such a node is never taken over: one interface, one exporter."""
    node = graph.get("nodes", {}).get(key) or {}
    m = re.fullmatch(r"(.+)_nf", key)
    if not m or m.group(1) == name or node.get("type") != "netflow" or not NAME_RE.fullmatch(m.group(1)):
        return None
    return m.group(1)
