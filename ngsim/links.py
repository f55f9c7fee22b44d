"""Traffic state per interface, following the graph by ng_ether's rules.

Inbound: with ``lower`` (or ``divert``) connected, frames from the wire enter the graph
and reach the host only if the graph delivers them into this node's ``upper``.
Outbound: with ``upper`` connected, frames from the host reach the wire only if the
graph delivers them into ``lower``. Nodes forward as their ``forward`` method says
(netflow iface<->out, tee left<->right, hub, one2many, bridge links, vlan
downstream<->nomatch and filter hook->downstream); every other node (eiface, pppoe,
ksocket, ...) is a sink for an IP frame.
With ipfw loaded, an interface also needs the rule chain to let IP through (a bare
ipfw.ko's default rule 65535 denies everything).
"""
from __future__ import annotations


from ngsim.base import Kernel

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only; keeps per-spawn startup fast
    from typing import Any


def _reaches(k: Kernel, start: dict, out_hook: str, target_id: int, target_hooks: set[str]) -> bool:
    peer = k.peer_of(start, out_hook)
    if peer is None:
        return False
    todo = [peer]
    seen: set[tuple[int, str]] = set()
    while todo:
        node, hook = todo.pop()
        if (node["id"], hook) in seen:
            continue
        seen.add((node["id"], hook))
        if node["id"] == target_id and hook in target_hooks:
            return True
        for out in k.ntype(node).forward(k, node, hook):
            nxt = k.peer_of(node, out)
            if nxt is not None:
                todo.append(nxt)
    return False


def iface_state(k: Kernel, rec: dict[str, Any]) -> str:
    """"pass" or "blackhole" for one interface record."""
    if rec["kind"] != "ether":
        return "pass"
    from ngsim.kld import ether_node

    node = ether_node(k, rec["name"])
    if node is None:
        return "pass"
    names = {h[0] for h in node["hooks"]}
    low = "lower" if "lower" in names else ("divert" if "divert" in names else None)
    if low is not None and not _reaches(k, node, low, node["id"], {"upper"}):
        return "blackhole"
    if "upper" in names and not _reaches(k, node, "upper", node["id"], {"lower", "divert"}):
        return "blackhole"
    return "pass"


def ipfw_passes(st: dict[str, Any], ifname: str) -> bool:
    """With ipfw loaded, does the rule chain let an IP packet through ``ifname`` both ways?

    The rules are walked as ipfw_chk() does: ``count`` and ``ngtee`` go on, ``allow``
    passes, ``deny`` and the default rule 65535 drop, and ``netgraph N`` diverts the packet
    into the graph, from which nothing we model sends it back (so it counts as dropped).
    """
    from ngsim import ipfw as ipfw_mod
    from ngsim import kld

    if not kld.module_loaded(st, "ipfw"):
        return True
    for direction in ("in", "out"):
        recv, xmit = (ifname, None) if direction == "in" else (None, ifname)
        for r in ipfw_mod.rules(st):
            if r["num"] != 65535 and not ipfw_mod.rule_matches(r, direction, recv, xmit):
                continue
            act = r.get("action", "deny")
            if act in ("count", "ngtee"):
                continue
            if act != "allow":
                return False
            break
    return True


def links(st: dict[str, Any]) -> dict[str, str]:
    k = Kernel(st)
    out = {}
    for rec in st["ifaces"]:
        state = iface_state(k, rec)
        if state == "pass" and not ipfw_passes(st, rec["name"]):
            state = "blackhole"
        out[rec["name"]] = state
    return out
