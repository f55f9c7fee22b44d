"""Frames through the emulated graph: ng_ether, ng_netflow accounting and export, ng_ipfw,
one2many/hub/tee, and ksocket delivery (real UDP to loopback only).

Everything here is loaded only by ``ngsim traffic``/``ngsim tick`` and when a netflow node
with flows or a pending export datagram shuts down; ngctl's startup never imports it.

Kernel sources followed (FreeBSD 14):
* ng_netflow.c ``ng_netflow_rcvdata``: INGRESS/EGRESS bypass, ONCE/THISONCE mtags, dlt
  parsing (DLT_EN10MB / DLT_RAW), skipped counters, the input index (configured index,
  else rcvif; always rcvif on ``out``), per-fib export state created on first packet.
* netflow.c ``ng_netflow_flow_add`` (the reverse walk of the hash slot that expires stale
  entries, FIN/RST/aged active expiry), ``hash_insert``, ``ng_netflow_expire`` (the 1 s
  callout, running while export or export9 is connected), ``expire_flow``,
  ``ng_netflow_cache_flush`` (on shutdown), the FULL_HASH/ADDR_HASH slot functions.
* ng_one2many.c (xmitAlg ROUNDROBIN/ALL/FAILOVER over the active links), ng_hub, ng_tee,
  ng_ipfw.c (``ngtee`` copies and ``netgraph`` diversion, raw IP).
"""
from __future__ import annotations

import base64
import socket
import struct
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

from ngsim import export as nfx
from ngsim.base import Kernel

PROTOS = {"icmp": 1, "tcp": 6, "udp": 17}
L4_MIN = {1: 8, 6: 20, 17: 8}
TH_FIN, TH_RST = 0x01, 0x04
CONF_INGRESS, CONF_EGRESS, CONF_ONCE, CONF_THISONCE = 1, 2, 4, 8
CONF_NOSRCLOOKUP, CONF_NODSTLOOKUP = 16, 32
DLT_EN10MB, DLT_RAW = 1, 12
ETHERTYPE_IP, ETHERTYPE_IPV6, ETHERTYPE_VLAN = 0x0800, 0x86DD, 0x8100
NBUCKETS = 65536
CNTR_MAX = 0xFFFFFFFF
IF_MAXMTU = 65535
PEER_MAC = bytes.fromhex("020000000001")
KSOCKET_KEEP = 4  # datagrams kept per ksocket in state
MAX_HOPS = 64  # a frame crossing more hooks than this is a graph loop


# ----- the emulated clock -------------------------------------------------------------

def clock(st: dict) -> dict:
    """Monotonic uptime (time_uptime starts at 1 at boot, kern_tc.c) and the boot wall time.

    Created lazily; ``ngsim reboot`` drops it with the rest of the kernel state."""
    c = st.get("clock")
    if c is None:
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


def mac_bytes(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


def ether_frame(dst: bytes, src: bytes, ip: bytes) -> bytes:
    return dst + src + struct.pack("!H", ETHERTYPE_IP) + ip


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
    t = node["type"]
    if t == "netflow":
        netflow_rcvdata(ctx, node, hook, pkt)
    elif t == "ether":
        ifname = node["priv"]["ifname"]
        if hook == "upper":
            # ng_ether_rcv_upper: delivered to the stack as received on this interface
            rec = _iface_rec(ctx.k.st, ifname)
            pkt.rcvif = rec["index"] if rec else 0
            ctx.host.append((ifname, pkt))
        else:  # lower, divert, orphans: ng_ether_rcv_lower transmits it
            ctx.wire.append((ifname, pkt))
    elif t == "ksocket":
        ksocket_rcvdata(ctx, node, hook, pkt)
    elif t == "one2many":
        one2many_rcvdata(ctx, node, hook, pkt)
    elif t == "ipfw":
        ipfw_node_rcvdata(ctx, node, hook, pkt)
    else:  # hub, tee, socket, ...: the type's forwarding rule; first hook gets the original
        outs = ctx.k.ntype(node).forward(ctx.k, node, hook)
        if not outs:
            ctx.drop("%s: consumed by %s" % (ctx.key(node), t))
        for i, out in enumerate(outs):
            send(ctx, node, out, pkt if i == 0 else pkt.dup())


def _iface_rec(st: dict, name: str) -> Optional[dict]:
    for rec in st["ifaces"]:
        if rec["name"] == name:
            return rec
    return None


# ----- ng_netflow ------------------------------------------------------------------------

def _nf_iface(node: dict, n: int) -> dict:
    from ngsim.types.netflow import _iface

    return _iface(node, n)


def _bswap16(v: int) -> int:
    v &= 0xFFFF
    return ((v << 8) | (v >> 8)) & 0xFFFF


def flow_hash(src: str, dst: str, proto: int, sport: int, dport: int) -> int:
    """ip_hash(): FULL_HASH for TCP/UDP, ADDR_HASH otherwise, on a little-endian host
    (addresses and ports are read from network-order memory as host integers)."""
    a1 = int.from_bytes(socket.inet_aton(src), "little")
    a2 = int.from_bytes(socket.inet_aton(dst), "little")
    h = a1 ^ (a1 >> 16) ^ _bswap16(a2 ^ (a2 >> 16))
    if proto in (6, 17):
        h ^= _bswap16(sport) ^ dport  # port1 = r_sport as stored; htons(port2) = dport
    return h & (NBUCKETS - 1)


def _fe(node: dict) -> dict:
    """ng_netflow_fib_init() for fib 0 (domain_id = fib = 0)."""
    p = node["priv"]
    fe = p.get("fe")
    if fe is None:
        fe = p["fe"] = {"flow_seq": 0, "flow9_seq": 0, "domain_id": 0, "templ_last_ts": 0,
                        "templ_last_pkt": 0, "sent_packets": 0, "item": None, "item9": None}
        p["counters"]["fibs allocated"] += 1
    return fe


def _used(node: dict) -> None:
    p = node["priv"]
    p["counters"]["IPv4 records used"] = sum(len(v) for v in p.get("cache", {}).values())


def netflow_rcvdata(ctx: Ctx, node: dict, hook: str, pkt: Pkt) -> None:
    """ng_netflow_rcvdata()."""
    k = ctx.k
    if hook in ("export", "export9"):
        ctx.drop("ng_netflow: incoming data on export hook!")
        return
    if hook.startswith("iface"):
        n = int(hook[5:])
        iface = _nf_iface(node, n)
        bypass = not iface["conf"] & CONF_INGRESS
        out = "out%d" % n
    else:
        n = int(hook[3:])
        iface = _nf_iface(node, n)
        bypass = not iface["conf"] & CONF_EGRESS
        out = "iface%d" % n
    out_connected = k.find_hook(node, out) is not None
    conf = iface["conf"]
    if not bypass and conf & (CONF_ONCE | CONF_THISONCE):
        for tag in pkt.mtags:
            if conf & CONF_ONCE or tag == node["id"]:
                bypass = True
                break
    if bypass:
        ctx.count(node, hook, "bypassed")
        if not out_connected:
            ctx.drop("%s:%s bypass without %s (ENOTCONN)" % (ctx.key(node), hook, out))
            return
        send(ctx, node, out, pkt)
        return
    if conf & (CONF_ONCE | CONF_THISONCE):
        pkt.mtags.insert(0, node["id"])  # m_tag_prepend
    iface["packets"] = (iface["packets"] + 1) & 0xFFFFFFFF
    ip = _parse(pkt.data, iface["data link type"])
    acct = False
    if isinstance(ip, dict):
        # "Determine packet input interface. Prefer configured." (rcvif on out hooks)
        if hook.startswith("out") or iface["index"] == 0:
            src_if = pkt.rcvif
        else:
            src_if = iface["index"]
        fe = _fe(node)
        flow_add(ctx, node, fe, ip, conf, src_if, pkt)
        acct = True
        ctx.count(node, hook, "accounted")
        ctx.count(node, hook, "bytes", ip["plen"])
    if not acct:
        if out_connected and ip is not None:
            c = node["priv"]["counters"]
            c["IPv4 skipped packets"] += 1
            c["IPv4 skipped bytes"] += len(pkt.data)
        ctx.count(node, hook, "skipped")
    if out_connected:
        send(ctx, node, out, pkt)
    else:
        ctx.drop("%s:%s accounted, %s not connected" % (ctx.key(node), hook, out))


def _parse(data: bytes, dlt: int):
    """The dlt switch and M_CHECKs of ng_netflow_rcvdata.

    Returns None (not IP: no skipped counters), "bad" (IP seen but unusable: counted as
    skipped), or the flow fields of an IPv4 packet to account."""
    if dlt == DLT_EN10MB:
        if len(data) < 14:
            return None
        etype = struct.unpack_from("!H", data, 12)[0]
        off = 14
        if etype == ETHERTYPE_VLAN:
            if len(data) < 18:
                return None
            etype = struct.unpack_from("!H", data, 16)[0]
            off = 18
        if etype != ETHERTYPE_IP:
            return None  # IPv6 is not generated by the emulator; other types bypass
        if len(data) < off + 20:
            return None
    elif dlt == DLT_RAW:
        off = 0
        if len(data) < 20:
            return None
        if data[0] >> 4 == 6:
            return None
    else:
        return None
    vhl = data[off]
    frag = struct.unpack_from("!H", data, off + 6)[0] & 0x1FFF
    if vhl >> 4 != 4 or (vhl & 0xF) * 4 < 20:
        return "bad"
    hlen = (vhl & 0xF) * 4
    proto = data[off + 9]
    rec = {"src": socket.inet_ntoa(data[off + 12:off + 16]),
           "dst": socket.inet_ntoa(data[off + 16:off + 20]),
           "proto": proto, "tos": data[off + 1],
           "plen": struct.unpack_from("!H", data, off + 2)[0],
           "sport": 0, "dport": 0, "flags": 0}
    if frag == 0:
        need = off + hlen + {6: 20, 17: 8, 132: 12}.get(proto, 0)
        if len(data) < need:
            return "bad"
        if proto == 6:
            rec["sport"], rec["dport"] = struct.unpack_from("!HH", data, off + hlen)
            rec["flags"] = data[off + hlen + 13]
        elif proto in (17, 132):
            rec["sport"], rec["dport"] = struct.unpack_from("!HH", data, off + hlen)
    return rec


def _inactive(now: int, fle: list, inact: int) -> bool:
    return now - fle[nfx.LAST] > inact


def _aged(now: int, fle: list, act: int) -> bool:
    return now - fle[nfx.FIRST] > act


def _small(fle: list) -> bool:
    return fle[nfx.PACKETS] <= 4


def flow_add(ctx: Ctx, node: dict, fe: dict, rec: dict, conf: int, src_if: int, pkt: Pkt) -> None:
    """ng_netflow_flow_add() + hash_insert()."""
    p = node["priv"]
    now = uptime(ctx.k.st)
    c = p["counters"]
    c["IPv4 packets"] += 1
    c["IPv4 bytes"] += rec["plen"]
    proto = rec["proto"]
    ports = (rec["sport"], rec["dport"]) if proto in (6, 17, 132) else (0, 0)
    key = [rec["src"], rec["dst"], ports[0], ports[1], proto, rec["tos"], src_if & 0xFFFF]
    cache = p.setdefault("cache", {})
    b = str(flow_hash(rec["src"], rec["dst"], proto, ports[0], ports[1]))
    lst = cache.setdefault(b, [])
    match = None
    for fle in reversed(list(lst)):  # TAILQ_FOREACH_REVERSE_SAFE
        if fle[:7] == key:
            match = fle
            break
        if (_inactive(now, fle, p["inactive"]) and _small(fle)) or _aged(now, fle, p["active"]):
            lst.remove(fle)
            expire_flow(ctx, node, fe, fle)
            c["Active expiries"] += 1
    flags = rec["flags"] if proto == 6 else 0
    if match is not None:
        match[nfx.BYTES] += rec["plen"]
        match[nfx.PACKETS] += 1
        match[nfx.FLAGS] |= flags
        match[nfx.LAST] = now
        if flags & (TH_FIN | TH_RST) or _aged(now, match, p["active"]) or \
                match[nfx.BYTES] >= CNTR_MAX - IF_MAXMTU:
            lst.remove(match)
            expire_flow(ctx, node, fe, match)
            c["Active expiries"] += 1
        elif lst[-1] is not match:
            lst.remove(match)
            lst.append(match)
    else:
        oif = 0 if conf & CONF_NODSTLOOKUP else ctx.oif
        lst.append(key + [oif, 1, rec["plen"], now, now, flags])
    if not lst:
        del cache[b]
    _used(node)


def expire_flow(ctx: Ctx, node: dict, fe: dict, fle: list) -> None:
    """expire_flow(): add to the v5 and/or v9 datagram; send the datagram when full."""
    k = ctx.k
    p = node["priv"]
    if k.find_hook(node, "export") is not None:
        item = fe["item"] or []
        item.append(list(fle))
        if len(item) == nfx.V5_MAX_RECORDS:
            fe["item"] = None
            export_send(ctx, node, fe, item)
        else:
            fe["item"] = item
    if k.find_hook(node, "export9") is not None:
        it9 = fe["item9"]
        if it9 is None:
            now = uptime(k.st)
            it9 = {"mtu": p["mtu"], "templ": False, "recs": []}
            if now >= p["templ_time"] + fe["templ_last_ts"] or \
                    fe["sent_packets"] >= p["templ_packets"] + fe["templ_last_pkt"]:
                fe["templ_last_ts"] = now
                fe["templ_last_pkt"] = fe["sent_packets"]
                it9["templ"] = True
        it9["recs"].append(list(fle))
        if nfx.v9_full(it9["templ"], len(it9["recs"]), it9["mtu"]):
            fe["item9"] = None
            export9_send(ctx, node, fe, it9)
        else:
            fe["item9"] = it9


def _deliver_dgram(ctx: Ctx, node: dict, hook: str, data: bytes, info: dict) -> None:
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


def export_send(ctx: Ctx, node: dict, fe: dict, recs: list) -> None:
    """export_send(): fill the v5 header; flow_seq = fetchadd(flow_seq, count)."""
    st = ctx.k.st
    seq = fe["flow_seq"]
    fe["flow_seq"] = (seq + len(recs)) & 0xFFFFFFFF
    data = nfx.v5_datagram(recs, uptime(st), unix_time(st), 0, seq, fe["domain_id"])
    _deliver_dgram(ctx, node, "export", data, {"version": 5, "records": len(recs), "seq": seq})


def export9_send(ctx: Ctx, node: dict, fe: dict, it9: dict) -> None:
    """export9_send(): seq_num = fetchadd(flow9_seq, 1); source_id = domain_id."""
    st = ctx.k.st
    seq = fe["flow9_seq"]
    fe["flow9_seq"] = (seq + 1) & 0xFFFFFFFF
    data = nfx.v9_datagram(it9["recs"], it9["templ"], uptime(st), unix_time(st), seq,
                           fe["domain_id"])
    _deliver_dgram(ctx, node, "export9", data,
                   {"version": 9, "records": len(it9["recs"]), "templates": it9["templ"],
                    "seq": seq})


def netflow_expire(ctx: Ctx, node: dict) -> None:
    """ng_netflow_expire(): one run of the 1 s callout over the IPv4 hash."""
    p = node["priv"]
    cache = p.get("cache")
    if not cache:
        return
    now = uptime(ctx.k.st)
    fe = _fe(node)
    used = sum(len(v) for v in cache.values())
    for b in sorted(cache, key=int):
        lst = cache[b]
        for fle in list(lst):
            if used <= NBUCKETS * 2 and not _inactive(now, fle, p["inactive"]):
                break
            if (_inactive(now, fle, p["inactive"]) and (_small(fle) or used > NBUCKETS * 2)) \
                    or _aged(now, fle, p["active"]):
                lst.remove(fle)
                expire_flow(ctx, node, fe, fle)
                used -= 1
                p["counters"]["Inactive expiries"] += 1
        if not lst:
            del cache[b]
    _used(node)


def next_expiry(node: dict) -> Optional[int]:
    """The first callout second at which netflow_expire would expire something (no traffic
    in between). With the slot lists ordered by ``last``, an entry goes at the first t with
    t - last > inactive and (SMALL or t - first > active)."""
    p = node["priv"]
    best = None
    for lst in p.get("cache", {}).values():
        for fle in lst:
            t = fle[nfx.LAST] + p["inactive"] + 1
            if not _small(fle):
                t = max(t, fle[nfx.FIRST] + p["active"] + 1)
            best = t if best is None else min(best, t)
    return best


def callout_running(k: Kernel, node: dict) -> bool:
    """The expiry callout is scheduled while export or export9 is connected."""
    return k.find_hook(node, "export") is not None or k.find_hook(node, "export9") is not None


def netflow_flush(k: Kernel, node: dict, ctx: Optional[Ctx] = None) -> Ctx:
    """ng_netflow_close() -> ng_netflow_cache_flush(): expire every flow (no expiry
    counters), then send the pending v5 and v9 datagrams."""
    ctx = ctx or Ctx(k)
    p = node["priv"]
    fe = p.get("fe")
    cache = p.pop("cache", {})
    if fe is None:
        return ctx
    for b in sorted(cache, key=int):
        for fle in cache[b]:
            expire_flow(ctx, node, fe, fle)
    if fe["item"]:
        item, fe["item"] = fe["item"], None
        export_send(ctx, node, fe, item)
    if fe["item9"]:
        it9, fe["item9"] = fe["item9"], None
        export9_send(ctx, node, fe, it9)
    _used(node)
    return ctx


# ----- ksocket, one2many, ipfw node ---------------------------------------------------------

def is_loopback(addr: str) -> bool:
    return addr.split(".")[0] == "127"


def ksocket_rcvdata(ctx: Ctx, node: dict, hook: str, pkt: Pkt) -> None:
    """ng_ksocket_rcvdata(): sosend() on the node's socket.

    Only a connected inet dgram socket whose peer is in 127.0.0.0/8 sends a real UDP
    datagram (Python's socket module). Any other destination is recorded in the node's
    state and never touches the network."""
    from ngsim.types.ksocket import PF_INET, SOCK_DGRAM

    so = node["priv"].get("socket")
    entry: dict[str, Any] = {"ksocket": ctx.key(node), "length": len(pkt.data)}
    if ctx.cur is not None:
        ctx.cur["sent"].append(entry)
    if so is None:
        entry["error"] = "ENXIO"
        return
    peer = so.get("peer")
    if so["type"] != SOCK_DGRAM or so["family"] != PF_INET or peer is None or not so["connected"]:
        entry["error"] = "ENOTCONN" if so["type"] == SOCK_DGRAM else "EDESTADDRREQ"
        so["unsent"] = so.get("unsent", 0) + 1
        return
    to = "inet/%s:%d" % (peer["addr"], peer["port"])
    entry["to"] = to
    real = is_loopback(peer["addr"]) and peer["port"] != 0
    if real:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            local = so.get("local")
            if local and local.get("family") == "inet" and is_loopback(local["addr"]):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind((local["addr"], local.get("port", 0)))
                except OSError:
                    pass
            s.sendto(pkt.data, (peer["addr"], peer["port"]))
        except OSError as e:
            entry["error"] = e.strerror or str(e)
            real = False
        finally:
            s.close()
    entry["real"] = real
    so["sent"] = so.get("sent", 0) + 1
    last = so.setdefault("last", [])
    last.append({"to": to, "real": real, "data": base64.b64encode(pkt.data).decode()})
    del last[:-KSOCKET_KEEP]


def one2many_rcvdata(ctx: Ctx, node: dict, hook: str, pkt: Pkt) -> None:
    """ng_one2many_rcvdata(): from ``one`` by xmitAlg over the active (connected and
    enabled) many links in link order; from ``manyN`` out of ``one``."""
    from ngsim.types.one2many import XMIT_ALL, XMIT_FAILOVER, link_num

    if hook != "one":
        send(ctx, node, "one", pkt)
        return
    conf = node["priv"]["conf"]
    active = sorted(link_num(h[0]) for h in node["hooks"]
                    if h[0] != "one" and conf["enabledLinks"][link_num(h[0])])
    if not active:
        ctx.drop("%s: no active many link" % ctx.key(node))
        return
    if conf["xmitAlg"] == XMIT_ALL:
        for i, n in enumerate(active):
            send(ctx, node, "many%d" % n, pkt if i == 0 else pkt.dup())
    elif conf["xmitAlg"] == XMIT_FAILOVER:
        send(ctx, node, "many%d" % active[0], pkt)
    else:  # ROUNDROBIN: priv->nextLink over activeLinks[]
        nxt = node["priv"].get("next_link", 0)
        if nxt >= len(active):
            nxt = 0
        node["priv"]["next_link"] = (nxt + 1) % len(active)
        send(ctx, node, "many%d" % active[nxt], pkt)


def ipfw_node_rcvdata(ctx: Ctx, node: dict, hook: str, pkt: Pkt) -> None:
    """ng_ipfw_rcvdata(): packets without an ipfw tag are dropped; a diverted packet
    coming back is re-injected (net.inet.ip.fw.one_pass=1: accepted)."""
    tag = pkt.ipfw
    if tag is None:
        ctx.drop("ipfw:%s: no ipfw tag (EINVAL)" % hook)
        return
    if tag.get("tee"):
        ctx.ipfw["reinjected copies"] = ctx.ipfw.get("reinjected copies", 0) + 1
        return
    tag["token"]["returned"] = pkt


# ----- ipfw rule chain ------------------------------------------------------------------------

def _rule_matches(r: dict, direction: str, recv: Optional[str], xmit: Optional[str]) -> bool:
    if r.get("dir") and r["dir"] != direction:
        return False
    if "via" in r and r["via"] != (recv if direction == "in" else xmit):
        return False
    if "recv" in r and r["recv"] != recv:
        return False
    if "xmit" in r and (direction != "out" or r["xmit"] != xmit):
        return False
    return True


def ipfw_chain(ctx: Ctx, direction: str, recv: Optional[str], xmit: Optional[str],
               pkt: Pkt, ip: bytes) -> Optional[Pkt]:
    """ipfw_chk() over the rules in order; returns the packet to continue with or None.

    ``ngtee N`` sends a raw-IP copy into ng_ipfw hook N (none when the hook is missing)
    and goes on; ``netgraph N`` diverts the packet there; allow/deny stop; the default
    rule 65535 denies (net.inet.ip.fw.default_to_accept=0)."""
    from ngsim import ipfw as ipfw_mod

    k = ctx.k
    node = next((n for n in k.st["nodes"].values() if n["type"] == "ipfw"), None)
    verdicts = ctx.ipfw.setdefault("verdicts", {})
    for r in ipfw_mod.rules(k.st):
        if r["num"] != 65535 and not _rule_matches(r, direction, recv, xmit):
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
    from ngsim import kld

    return kld.module_loaded(st, "ipfw")


def _ip_of(data: bytes, is_frame: bool) -> bytes:
    return data[14:] if is_frame else data


def inbound(ctx: Ctx, rec: dict, pkt: Pkt) -> Optional[Pkt]:
    """A frame arriving from the wire on ``rec``; returns it if the host accepts it."""
    from ngsim.kld import ether_node

    k = ctx.k
    node = ether_node(k, rec["name"]) if rec["kind"] == "ether" else None
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
    from ngsim.kld import ether_node

    k = ctx.k
    is_frame = rec["kind"] == "ether"
    if _ipfw_on(k.st):
        pkt = ipfw_chain(ctx, "out", recv, rec["name"], pkt, _ip_of(pkt.data, is_frame))
        if pkt is None:
            return None
    node = ether_node(k, rec["name"]) if is_frame else None
    if node is not None and k.find_hook(node, "upper") is not None:
        before = len(ctx.wire)
        send(ctx, node, "upper", pkt)
        got = [p for name, p in ctx.wire[before:] if name == rec["name"]]
        return got[0] if got else None
    return pkt


def _push_flow(ctx: Ctx, st: dict, a: Any, rec: dict, fwd: Optional[dict], proto: int,
               sport: int, size: int, extra: int) -> tuple[int, int]:
    passed = forwarded = 0
    peer_mac = PEER_MAC
    for i in range(a.packets):
        length = size + (1 if i < extra else 0)
        ip = build_ip(a.src, a.dst, proto, sport & 0xFFFF, a.dport, length, a.tos, a.tcp_flags, ident=i + 1)
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
                r2 = _iface_rec(st, a.rcvif)
                if r2 is None:
                    raise ValueError("no interface %s" % a.rcvif)
                recv, rcvif = r2["name"], r2["index"]
            if outbound(ctx, rec, Pkt(data, rcvif=rcvif), recv) is not None:
                passed += 1
    return passed, forwarded


def run_traffic(st: dict, a: Any) -> dict:
    """``ngsim traffic``: push ``a.packets`` packets through interface ``a.iface``."""
    k = Kernel(st)
    rec = _iface_rec(st, a.iface)
    if rec is None:
        raise ValueError("no interface %s" % a.iface)
    fwd = None
    if a.forward:
        if a.direction != "in":
            raise ValueError("--forward needs --direction in")
        fwd = _iface_rec(st, a.forward)
        if fwd is None:
            raise ValueError("no interface %s" % a.forward)
    proto = PROTOS[a.proto]
    hmin = 20 + L4_MIN[proto]
    if a.packets < 1 or (getattr(a, "flows", 1) or 1) < 1:
        raise ValueError("--packets and --flows must be >= 1")
    total = a.bytes if a.bytes is not None else a.packets * max(hmin, 100)
    size, extra = divmod(total, a.packets)
    if size < hmin or size + (1 if extra else 0) > 65535:
        raise ValueError("--bytes %d for %d packets: each packet must be %d..65535 bytes"
                         % (total, a.packets, hmin))
    ctx = Ctx(k)
    # the destination's route (fle_o_ifx): no routing table, so the interface the packet
    # leaves through when the command says so, else --oif, else 0
    oif = 0
    if a.oif is not None:
        o = _iface_rec(st, a.oif) if not str(a.oif).isdigit() else None
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


def pending(k: Kernel) -> dict:
    """Flows in each netflow cache and records waiting in unsent export datagrams."""
    out = {}
    for n in sorted(k.st["nodes"].values(), key=lambda n: n["id"]):
        if n["type"] != "netflow":
            continue
        fe = n["priv"].get("fe") or {}
        out[n["name"] or "[%x]" % n["id"]] = {
            "flows": sum(len(v) for v in n["priv"].get("cache", {}).values()),
            "v5 records": len(fe.get("item") or []),
            "v9 records": len((fe.get("item9") or {}).get("recs", [])),
        }
    return out
