"""Shared pieces of the data path: the emulated clock, the mbuf (``Pkt``), the record of
one run (``Ctx``), ``send`` (NG_FWD_ITEM_HOOK) and ``send_datagram`` (the same for an
export datagram, recorded in the run).

What a node does with a packet lives with its type (``NodeType.rcvdata`` in
``ngsim/types/*.py``); ``send`` only finds the peer and hands the packet to the peer's
type. This module imports nothing of ngsim at run time, so the node types, the host's
packet path (``ngsim.traffic``) and anything else may import it without an import circle.
It is light: ngctl imports it at every spawn (through ``ngsim.nodetype``).
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only; keeps per-spawn startup fast
    from typing import Any, Optional

    from ngsim.base import Kernel

MAX_HOPS = 64  # a frame crossing more hooks than this is a graph loop


# ----- the emulated clock -------------------------------------------------------------

def clock(st: dict) -> dict:
    """Monotonic uptime (time_uptime starts at 1 at boot, kern_tc.c) and the boot wall time.

    Created lazily; ``ngsim reboot`` drops it with the rest of the kernel state."""
    c = st.get("clock")
    if c is None:
        import time

        c = st["clock"] = {"uptime": 1, "boot": int(time.time()) - 1}
    return c


def uptime(st: dict) -> int:
    return clock(st)["uptime"]


def unix_time(st: dict) -> int:
    c = clock(st)
    return c["boot"] + c["uptime"]


# ----- packets --------------------------------------------------------------------------

class Pkt:
    """An mbuf: data, rcvif (ifindex, 0 = none), m_tags (netflow node IDs), ipfw tag."""

    __slots__ = ("data", "rcvif", "mtags", "ipfw", "hops")

    def __init__(self, data: bytes, rcvif: int = 0, mtags: Optional[list] = None,
                 ipfw: Optional[dict] = None, hops: int = 0):
        self.data = data
        self.rcvif = rcvif
        self.mtags = mtags if mtags is not None else []
        self.ipfw = ipfw
        self.hops = hops

    def dup(self) -> "Pkt":
        """m_dup(): data and packet-header tags are copied."""
        return Pkt(self.data, self.rcvif, list(self.mtags), self.ipfw, self.hops)


def iface_rec(st: dict, name: str) -> Optional[dict]:
    """The interface record named ``name`` (ngsim.state), or None."""
    for rec in st["ifaces"]:
        if rec["name"] == name:
            return rec
    return None


# ----- bookkeeping of one run ---------------------------------------------------------------

class Ctx:
    """What happened during one traffic/tick/shutdown run (becomes the JSON summary)."""

    def __init__(self, k: Kernel):
        self.k = k
        self.nodes: dict[str, dict] = {}
        self.datagrams: list[dict] = []
        self.host: list[tuple[str, Pkt]] = []  # frames delivered to the host stack (iface)
        self.wire: list[tuple[str, Pkt]] = []  # frames transmitted (iface)
        self.dropped: dict[str, int] = {}
        self.ipfw: dict[str, Any] = {}
        self.cur: Optional[dict] = None  # datagram being delivered
        self.oif = 0  # fle_o_ifx for new flows (no routing table: given by the command)

    def key(self, node: dict) -> str:
        return node["name"] or "[%x]" % node["id"]

    def count(self, node: dict, hook: str, what: str, n: int = 1) -> None:
        d = self.nodes.setdefault("%s:%s" % (self.key(node), hook),
                                  {"node": self.key(node), "type": node["type"], "hook": hook})
        d[what] = d.get(what, 0) + n

    def drop(self, why: str) -> None:
        self.dropped[why] = self.dropped.get(why, 0) + 1


# ----- delivery -------------------------------------------------------------------------

def send(ctx: Ctx, node: dict, hook: str, pkt: Pkt) -> None:
    """NG_FWD_ITEM_HOOK: out of ``hook`` into its peer (ENOTCONN: freed)."""
    peer = ctx.k.peer_of(node, hook)
    if peer is None:
        ctx.drop("%s:%s not connected" % (ctx.key(node), hook))
        return
    if pkt.hops >= MAX_HOPS:
        ctx.drop("graph loop")
        return
    pkt.hops += 1
    rcvdata(ctx, peer[0], peer[1], pkt)


def rcvdata(ctx: Ctx, node: dict, hook: str, pkt: Pkt) -> None:
    """Hand ``pkt`` arriving on ``node``'s ``hook`` to the node's type."""
    ctx.k.ntype(node).rcvdata(ctx, node, hook, pkt)


def send_datagram(ctx: Ctx, node: dict, hook: str, data: bytes, info: dict) -> None:
    """NG_FWD_ITEM_HOOK of an export datagram a node built (ng_netflow's v5 and v9):
    ``info`` goes to ``ctx.datagrams`` and, while the peer handles the datagram, is
    ``ctx.cur``, so what the peer does with it (a ksocket sends it) is recorded there."""
    info.update({"node": ctx.key(node), "hook": hook, "length": len(data), "sent": []})
    ctx.datagrams.append(info)
    if ctx.k.find_hook(node, hook) is None:
        info["dropped"] = "%s not connected" % hook
        return
    prev, ctx.cur = ctx.cur, info
    try:
        send(ctx, node, hook, Pkt(data))
    finally:
        ctx.cur = prev
