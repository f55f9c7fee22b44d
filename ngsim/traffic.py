"""The host side of the data path: packets built from ``ngsim traffic``'s options, an
interface receiving them from the wire or sending them (ng_ether's ``lower``/``upper``),
ipfw's rule chain (``ipfw_chk``: ``ngtee``/``netgraph`` into ng_ipfw), the JSON summary,
and ``ngsim tick`` (the netflow expiry callout over time).

What each node does with a packet lives with its type (``NodeType.rcvdata`` in
``ngsim/types/*.py``: ether, netflow, ksocket, one2many, ipfw, and the default forward of
hub/tee/socket); the shared pieces (clock, ``Pkt``, ``Ctx``, ``send``) are in
``ngsim.datapath``. This module is loaded only by ``ngsim traffic``/``ngsim tick``;
ngctl's startup never imports it.
"""
from __future__ import annotations

import socket
import struct


from ngsim import ipfw as ipfw_mod
from ngsim import kld
from ngsim.base import Kernel
from ngsim.datapath import Ctx, Pkt, clock, iface_rec, rcvdata, send, unix_time, uptime
from ngsim.netflow_cache import flow_hash, netflow_expire, netflow_flush, next_expiry, pending
from ngsim.types.netflow import callout_running

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

__all__ = [  # names kept importable from here (older callers and tests)
    "Ctx", "Pkt", "clock", "rcvdata", "send", "unix_time", "uptime", "flow_hash",
    "netflow_flush", "pending", "build_ip", "build_ip6", "ether_frame", "ipfw_chain", "inbound",
    "outbound", "run_traffic", "run_tick", "summary",
]

PROTOS = {"icmp": 1, "tcp": 6, "udp": 17}
PROTOS6 = {"icmp": 58, "tcp": 6, "udp": 17}  # --proto icmp on IPv6 is ICMPv6
L4_MIN = {1: 8, 6: 20, 17: 8, 58: 8}
ETHERTYPE_IP = 0x0800
ETHERTYPE_IPV6 = 0x86DD
PEER_MAC = bytes.fromhex("020000000001")


# ----- packets --------------------------------------------------------------------------

def ip_checksum(hdr: bytes) -> int:
    s = sum(struct.unpack("!%dH" % (len(hdr) // 2), hdr))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def build_ip(src: str, dst: str, proto: int, sport: int, dport: int, length: int,
             tos: int = 0, tcp_flags: int = 0, ident: int = 0) -> bytes:
    """An IPv4 packet of total length ``length`` (header 20 bytes, L4 header, zero payload)."""
    if proto == 6:
        l4 = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, tcp_flags & 0xFF, 65535, 0, 0)
    elif proto == 17:
        l4 = struct.pack("!HHHH", sport, dport, length - 20, 0)
    else:
        l4 = struct.pack("!BBHHH", 8, 0, 0, ident & 0xFFFF, 1)  # ICMP echo request
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, tos & 0xFF, length, ident & 0xFFFF, 0x4000, 64, proto,
                      0, socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", ip_checksum(hdr)) + hdr[12:]
    return hdr + l4 + b"\0" * (length - 20 - len(l4))


def _l4_checksum(pseudo: bytes, seg: bytes) -> int:
    data = pseudo + seg + (b"\0" if len(seg) % 2 else b"")
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF or 0xFFFF


def build_ip6(src: str, dst: str, proto: int, sport: int, dport: int, length: int,
              tclass: int = 0, tcp_flags: int = 0, ident: int = 0) -> bytes:
    """An IPv6 packet of total length ``length`` (fixed 40-byte header, next header TCP,
    UDP or ICMPv6 echo request, zero payload; hop limit 64; flow label 0; upper-layer
    checksums over the RFC 8200 pseudo-header)."""
    from ngsim import inet6

    s6, d6 = inet6.pton(src), inet6.pton(dst)
    plen = length - 40
    if proto == 6:
        l4 = bytearray(struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, tcp_flags & 0xFF,
                                   65535, 0, 0))
        csum_at = 16
    elif proto == 17:
        l4 = bytearray(struct.pack("!HHHH", sport, dport, plen, 0))
        csum_at = 6
    else:
        l4 = bytearray(struct.pack("!BBHHH", 128, 0, 0, ident & 0xFFFF, 1))  # ICMPv6 echo
        csum_at = 2
    seg = bytes(l4) + b"\0" * (plen - len(l4))
    pseudo = s6 + d6 + struct.pack("!IxxxB", plen, proto)
    l4[csum_at:csum_at + 2] = struct.pack("!H", _l4_checksum(pseudo, seg))
    hdr = struct.pack("!IHBB16s16s", (6 << 28) | ((tclass & 0xFF) << 20), plen, proto, 64, s6, d6)
    return hdr + bytes(l4) + b"\0" * (plen - len(l4))


def family(addr: str) -> int:
    """4 or 6 for a literal ``--src``/``--dst``; ValueError otherwise."""
    from ngsim import inet6

    if inet6.pton(addr) is not None:
        return 6
    try:
        socket.inet_pton(socket.AF_INET, addr)
        return 4
    except (OSError, TypeError):
        raise ValueError("not an IPv4 or IPv6 address: %s" % addr)


def mac_bytes(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


def ether_frame(dst: bytes, src: bytes, ip: bytes) -> bytes:
    """An Ethernet II frame; the ethertype follows the packet's version nibble."""
    etype = ETHERTYPE_IPV6 if ip[:1] and ip[0] >> 4 == 6 else ETHERTYPE_IP
    return dst + src + struct.pack("!H", etype) + ip


# ----- ipfw rule chain ------------------------------------------------------------------------

def ipfw_chain(ctx: Ctx, direction: str, recv: Optional[str], xmit: Optional[str],
               pkt: Pkt, ip: bytes) -> Optional[Pkt]:
    """ipfw_chk() over the rules in order; returns the packet to continue with or None.

    ``ngtee N`` sends a raw-IP copy into ng_ipfw hook N (none when the hook is missing)
    and goes on; ``netgraph N`` diverts the packet there; allow/deny stop; the default
    rule 65535 denies (net.inet.ip.fw.default_to_accept=0)."""
    k = ctx.k
    node = next((n for n in k.st["nodes"].values() if n["type"] == "ipfw"), None)
    verdicts = ctx.ipfw.setdefault("verdicts", {})
    for r in ipfw_mod.rules(k.st):
        if r["num"] != 65535 and not ipfw_mod.rule_matches(r, direction, recv, xmit):
            continue
        act = r.get("action", "deny")
        if act == "count":
            continue
        if act in ("ngtee", "netgraph"):
            hook = str(r["arg"])
            if node is None or k.find_hook(node, hook) is None:
                if act == "ngtee":
                    continue
                verdicts["%05d netgraph (no hook)" % r["num"]] = verdicts.get(
                    "%05d netgraph (no hook)" % r["num"], 0) + 1
                return None
            cp = Pkt(ip, pkt.rcvif, list(pkt.mtags),
                     {"rule": r["num"], "dir": direction, "tee": act == "ngtee",
                      "token": {"returned": None}})
            tees = ctx.ipfw.setdefault(act, {})
            tees[hook] = tees.get(hook, 0) + 1
            send(ctx, node, hook, cp)
            if act == "ngtee":
                continue
            back = cp.ipfw["token"]["returned"]
            key = "%05d netgraph %s" % (r["num"], "returned" if back else "consumed")
            verdicts[key] = verdicts.get(key, 0) + 1
            if back is None:
                return None
            pkt.mtags = back.mtags
            return pkt
        key = "%05d %s" % (r["num"], "allow" if act == "allow" else "deny")
        verdicts[key] = verdicts.get(key, 0) + 1
        return pkt if act == "allow" else None
    return None


# ----- one packet on an interface ---------------------------------------------------------------

def _ipfw_on(st: dict) -> bool:
    return kld.module_loaded(st, "ipfw")


def _ip_of(data: bytes, is_frame: bool) -> bytes:
    return data[14:] if is_frame else data


def inbound(ctx: Ctx, rec: dict, pkt: Pkt) -> Optional[Pkt]:
    """A frame arriving from the wire on ``rec``; returns it if the host accepts it."""
    k = ctx.k
    node = kld.ether_node(k, rec["name"]) if rec["kind"] == "ether" else None
    is_frame = rec["kind"] == "ether"
    if node is not None:
        names = {h[0] for h in node["hooks"]}
        low = "lower" if "lower" in names else ("divert" if "divert" in names else None)
        if low is not None:
            before = len(ctx.host)
            send(ctx, node, low, pkt)
            got = [p for name, p in ctx.host[before:] if name == rec["name"]]
            if not got:
                return None
            pkt = got[0]
    if _ipfw_on(k.st):
        return ipfw_chain(ctx, "in", rec["name"], None, pkt, _ip_of(pkt.data, is_frame))
    return pkt


def outbound(ctx: Ctx, rec: dict, pkt: Pkt, recv: Optional[str]) -> Optional[Pkt]:
    """A packet the host sends (or forwards) out of ``rec``; returns it if it hits the wire."""
    k = ctx.k
    is_frame = rec["kind"] == "ether"
    if _ipfw_on(k.st):
        pkt = ipfw_chain(ctx, "out", recv, rec["name"], pkt, _ip_of(pkt.data, is_frame))
        if pkt is None:
            return None
    node = kld.ether_node(k, rec["name"]) if is_frame else None
    if node is not None and k.find_hook(node, "upper") is not None:
        before = len(ctx.wire)
        send(ctx, node, "upper", pkt)
        got = [p for name, p in ctx.wire[before:] if name == rec["name"]]
        if not got:
            return None
        pkt = got[0]
    if "eiface" in rec:
        # ng_eiface_start: an ngethN interface's wire is its eiface node's ether hook
        # (NG_SEND_DATA_ONLY: the mbuf is freed when the hook is not connected)
        enode = k.node(rec["eiface"])
        if enode is None or k.find_hook(enode, "ether") is None:
            ctx.drop("%s: eiface ether hook not connected" % rec["name"])
            return None
        send(ctx, enode, "ether", pkt)
    return pkt


def _push_flow(ctx: Ctx, st: dict, a: Any, rec: dict, fwd: Optional[dict], proto: int,
               sport: int, size: int, extra: int) -> tuple[int, int]:
    passed = forwarded = 0
    peer_mac = PEER_MAC
    build = build_ip6 if family(a.src) == 6 else build_ip
    for i in range(a.packets):
        length = size + (1 if i < extra else 0)
        ip = build(a.src, a.dst, proto, sport & 0xFFFF, a.dport, length, a.tos, a.tcp_flags,
                   ident=i + 1)
        mac = mac_bytes(rec["mac"])
        if a.direction == "in":
            data = ether_frame(mac, peer_mac, ip) if rec["kind"] == "ether" else ip
            got = inbound(ctx, rec, Pkt(data, rcvif=rec["index"]))
            if got is None:
                continue
            passed += 1
            if fwd is not None:
                fdata = ether_frame(peer_mac, mac_bytes(fwd["mac"]), ip) if fwd["kind"] == "ether" else ip
                if outbound(ctx, fwd, Pkt(fdata, rcvif=got.rcvif, mtags=got.mtags), rec["name"]):
                    forwarded += 1
        else:
            data = ether_frame(peer_mac, mac, ip) if rec["kind"] == "ether" else ip
            recv = None
            rcvif = 0
            if a.rcvif:
                r2 = iface_rec(st, a.rcvif)
                if r2 is None:
                    raise ValueError("no interface %s" % a.rcvif)
                recv, rcvif = r2["name"], r2["index"]
            if outbound(ctx, rec, Pkt(data, rcvif=rcvif), recv) is not None:
                passed += 1
    return passed, forwarded


def run_traffic(st: dict, a: Any) -> dict:
    """``ngsim traffic``: push ``a.packets`` packets through interface ``a.iface``."""
    k = Kernel(st)
    rec = iface_rec(st, a.iface)
    if rec is None:
        raise ValueError("no interface %s" % a.iface)
    fwd = None
    if a.forward:
        if a.direction != "in":
            raise ValueError("--forward needs --direction in")
        fwd = iface_rec(st, a.forward)
        if fwd is None:
            raise ValueError("no interface %s" % a.forward)
    fam = family(a.src)
    if family(a.dst) != fam:
        raise ValueError("--src %s and --dst %s are not of the same family" % (a.src, a.dst))
    proto = (PROTOS6 if fam == 6 else PROTOS)[a.proto]
    hmin = (40 if fam == 6 else 20) + L4_MIN[proto]
    if a.packets < 1 or (getattr(a, "flows", 1) or 1) < 1:
        raise ValueError("--packets and --flows must be >= 1")
    total = a.bytes if a.bytes is not None else a.packets * max(hmin, 100)
    size, extra = divmod(total, a.packets)
    if size < hmin or size + (1 if extra else 0) > 65535 + (40 if fam == 6 else 0):
        raise ValueError("--bytes %d for %d packets: each packet must be %d..%d bytes"
                         % (total, a.packets, hmin, 65535 + (40 if fam == 6 else 0)))
    ctx = Ctx(k)
    # the destination's route (fle_o_ifx): no routing table, so the interface the packet
    # leaves through when the command says so, else --oif, else 0
    oif = 0
    if a.oif is not None:
        o = iface_rec(st, a.oif) if not str(a.oif).isdigit() else None
        oif = int(a.oif) if o is None else o["index"]
    elif a.direction == "out":
        oif = rec["index"]
    elif fwd is not None:
        oif = fwd["index"]
    ctx.oif = oif
    passed = forwarded = 0
    flows = getattr(a, "flows", 1) or 1
    for f in range(flows):
        p, fw = _push_flow(ctx, st, a, rec, fwd, proto, a.sport + f, size, extra)
        passed += p
        forwarded += fw
    out = summary(ctx)
    out.update({"iface": rec["name"], "ifindex": rec["index"], "direction": a.direction,
                "flows": flows, "packets": a.packets * flows, "bytes": total * flows,
                "passed": passed, "pass": passed == a.packets * flows, "uptime": uptime(st)})
    if fwd is not None:
        out["forward"] = {"iface": fwd["name"], "ifindex": fwd["index"], "passed": forwarded}
    return out


def summary(ctx: Ctx) -> dict:
    acc = [v for v in ctx.nodes.values() if v["type"] == "netflow"]
    out: dict[str, Any] = {
        "accounted_by": sorted({v["node"] for v in acc if v.get("accounted")}),
        "netflow": acc,
        "datagrams": ctx.datagrams,
    }
    if ctx.ipfw:
        out["ipfw"] = ctx.ipfw
    if ctx.dropped:
        out["dropped"] = ctx.dropped
    other = [v for v in ctx.nodes.values() if v["type"] != "netflow"]
    if other:
        out["nodes"] = other
    return out


def run_tick(st: dict, seconds: int) -> dict:
    """``ngsim tick``: advance uptime; the callout of every netflow node with an export
    hook runs once per second (skipping seconds in which nothing can expire)."""
    k = Kernel(st)
    c = clock(st)
    ctx = Ctx(k)
    target = c["uptime"] + seconds
    before = {n["id"]: n["priv"]["counters"]["Inactive expiries"]
              for n in st["nodes"].values() if n["type"] == "netflow"}
    runs = 0
    while c["uptime"] < target:
        nodes = [n for n in sorted(st["nodes"].values(), key=lambda n: n["id"])
                 if n["type"] == "netflow" and callout_running(k, n)]
        nxt = [t for t in (next_expiry(n) for n in nodes) if t is not None]
        step = min(nxt) if nxt else target
        c["uptime"] = min(target, max(c["uptime"] + 1, step))
        if nxt and c["uptime"] >= min(nxt):
            for n in nodes:
                if k.node(n["id"]) is n:
                    netflow_expire(ctx, n)
            runs += 1
    out = summary(ctx)
    out["uptime"] = c["uptime"]
    out["expiry_runs"] = runs
    out["expired"] = {ctx.key(n): n["priv"]["counters"]["Inactive expiries"] - before[n["id"]]
                      for n in st["nodes"].values() if n["id"] in before}
    out["pending"] = pending(k)
    return out
