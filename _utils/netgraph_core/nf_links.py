"""Traffic through the graph model (pure; no Salt): which interfaces pass, and how a
foreign chain spliced around one of our netflow nodes is re-joined when the node goes.

A frame of an interface follows ng_ether's rules: with ``lower`` (or ``divert``)
connected, what comes from the wire reaches the host only if the graph delivers it into
the same node's ``upper``; with ``upper`` connected, what the host sends reaches the wire
only if the graph delivers it into ``lower``/``divert``. Nodes forward as their type does
(ng_netflow ifaceN<->outN, ng_tee left<->right, ng_hub and ng_bridge to every other hook,
ng_one2many one<->many, ng_vlan downstream<->nomatch for an untagged frame); every other type
is a sink. Every function works on a
:class:`nf_graph.PlanGraph`, so the planner checks the graph it plans and the rollback
the graph it rebuilds.
"""
from __future__ import annotations

import re

from .nf_graph import PlanGraph
from .nf_model import ConflictError

_TEE = {"left": ("right", "left2right"), "right": ("left", "right2left"), "left2right": ("right",),
        "right2left": ("left",)}
_IFACE_RE = re.compile(r"(iface|out)(\d+)")


def forward(ntype: str, hook: str, hooks) -> list[str]:
    """The hooks a frame arriving on ``hook`` of a node of type ``ntype`` (with ``hooks``
    connected) leaves through."""
    if ntype == "netflow":
        m = _IFACE_RE.fullmatch(hook)
        return [("out" if m.group(1) == "iface" else "iface") + m.group(2)] if m else []
    if ntype == "tee":
        return list(_TEE.get(hook, ()))
    if ntype in ("hub", "bridge"):  # ng_bridge floods broadcasts (ARP) to every other link
        return [h for h in hooks if h != hook]
    if ntype == "vlan":  # ng_vlan_rcvdata, an untagged frame: downstream <-> nomatch
        return [{"downstream": "nomatch", "nomatch": "downstream"}[hook]] if hook in ("downstream", "nomatch") else []
    if ntype == "one2many":
        # every many link: the enabled ones are not in the model, and a frame reaching the
        # other side through any of them is a path someone built on purpose
        return [h for h in hooks if h.startswith("many")] if hook == "one" else ["one"]
    return []


def _walk(sim: PlanGraph, node: str, hook: str):
    """Every (node, hook) a frame sent out of ``node:hook`` arrives on."""
    first = sim.peer(node, hook)
    todo, seen = ([first] if first else []), set()
    while todo:
        here = todo.pop()
        if here in seen:
            continue
        seen.add(here)
        yield here
        nhooks = sim.nodes.get(here[0], {}).get("hooks", {})
        for out in forward(sim.nodes.get(here[0], {}).get("type", ""), here[1], nhooks):
            nxt = sim.peer(here[0], out)
            if nxt is not None:
                todo.append(nxt)


def _low(sim: PlanGraph, ether: str) -> str | None:
    hooks = sim.nodes[ether]["hooks"]
    return "lower" if "lower" in hooks else "divert" if "divert" in hooks else None


def passes(sim: PlanGraph, ether: str) -> bool:
    """Does interface node ``ether`` pass traffic both ways in ``sim``?"""
    low = _low(sim, ether)
    if low and (ether, "upper") not in set(_walk(sim, ether, low)):
        return False
    if sim.peer(ether, "upper") and not {(ether, "lower"), (ether, "divert")} & set(_walk(sim, ether, "upper")):
        return False
    return True


def cut_off(sim: PlanGraph) -> list[str]:
    """The interface (ng_ether) nodes of ``sim`` that do not pass traffic, sorted."""
    return sorted(n for n, d in sim.nodes.items() if d["type"] == "ether" and not passes(sim, n))


def blackholed(graph: dict) -> list[str]:
    """``cut_off`` of a graph model (``netgraph.graph()``'s shape)."""
    return cut_off(PlanGraph(graph, {}))


def on_path(sim: PlanGraph, ether: str) -> list[str]:
    """The nodes a frame of interface node ``ether`` crosses (itself left out), sorted."""
    seen = {n for h in ("lower", "divert", "upper", "orphans") for n, _ in _walk(sim, ether, h)}
    return sorted(seen - {ether})


def serving(sim: PlanGraph) -> set:
    """Every node some interface's frames cross: on an ether node's path, or reached from
    an ng_ipfw hook."""
    out: set = set()
    for key, node in sim.nodes.items():
        if node["type"] == "ether":
            out.update(on_path(sim, key))
        elif node["type"] == "ipfw":
            out.update(n for h in node["hooks"] for n, _ in _walk(sim, key, h))
    return out


def rejoins(sim: PlanGraph, node: str, hooks=None) -> list[list[str]]:
    """``[a, a_hook, b, b_hook]`` per ifaceN/outN pair of netflow node ``node`` (only the
    pairs with a hook in ``hooks`` when given) whose peers must be connected to each other
    when the node (or the pair) goes, so the chain it sat in still forwards as it did:
    ng_netflow passes ifaceN<->outN unchanged. None for a pair whose peers are hooks of one
    node (an interface's own lower and upper pass by themselves once free) or of two
    interface nodes (each passes by itself once free)."""
    found = {}
    for hook, peer in sim.nodes.get(node, {}).get("hooks", {}).items():
        m = _IFACE_RE.fullmatch(hook)
        if m and (hooks is None or hook in hooks):
            found.setdefault(int(m.group(2)), {})[m.group(1)] = peer
    out = []
    for _, pair in sorted(found.items()):
        a, b = pair.get("iface"), pair.get("out")
        if not a or not b or a[0] == b[0]:
            continue
        if {sim.nodes.get(a[0], {}).get("type"), sim.nodes.get(b[0], {}).get("type")} == {"ether"}:
            continue
        out.append([a[0], a[1], b[0], b[1]])
    return out


def relink(sim: PlanGraph, links) -> list[list[str]]:
    """Connect each ``[a, a_hook, b, b_hook]`` whose two nodes exist and two hooks are
    free (a pair the batch already made, or that something else holds, is left alone);
    returns the links made."""
    done = []
    for a, ha, b, hb in links or ():
        if a != b and sim.exists(a) and sim.exists(b) and sim.peer(a, ha) is None and sim.peer(b, hb) is None:
            sim.connect(a, ha, b, hb)
            done.append([a, ha, b, hb])
    return done


def link_text(link) -> str:
    """``a:h <-> b:h``, as the planner's changes say a link."""
    return f"{link[0]}:{link[1]} <-> {link[2]}:{link[3]}"


def links_of(sim: PlanGraph) -> set:
    """Every link once, as a sorted pair of (node, hook)."""
    return {tuple(sorted(((k, h), tuple(p)))) for k, n in sim.nodes.items() for h, p in n["hooks"].items()}


def unlinked(before: PlanGraph, after: PlanGraph) -> list[list[str]]:
    """``[a, a_hook, b, b_hook]`` of every link of ``before`` that ``after`` lacks: what a
    rollback reconnects (where both ends are still there) to put the host back as it was."""
    return [[a, ha, b, hb] for (a, ha), (b, hb) in sorted(links_of(before) - links_of(after))]


def check_no_new_cut(before: PlanGraph, after: PlanGraph, exporter: str, ours=()) -> None:
    """Refuse (ConflictError naming the interface and the foreign nodes on its path) a plan
    after which an interface that passes now would not."""
    newly = [e for e in cut_off(after) if e in before.nodes and passes(before, e)]
    if not newly:
        return
    ether = newly[0]
    foreign = [f"{n} ({before.nodes[n]['type']})" for n in on_path(before, ether) if n not in set(ours)]
    raise ConflictError(
        f"interface {ether} would be cut off: its traffic goes through foreign node(s) "
        f"{', '.join(foreign) or 'none'} and exporter {exporter}'s node(s), which cannot be "
        "re-joined safely; nothing was changed: remove or fix that splice first"
    )


def restore_info(before: PlanGraph, after: PlanGraph, rejoined) -> dict:
    """What a rollback of the batch ``before`` -> ``after`` needs: the links it removes
    (reconnected where both ends remain) and the foreign links it re-joins (made again
    when the batch stopped between a node's shutdown and its re-join)."""
    return {"unlinked": unlinked(before, after), "rejoin": [list(r) for r in rejoined]}
