"""ng_netflow (``netflow``): hooks ifaceN/outN/export/export9, control messages of
ng_netflow.h, and the data path: accounting, the flow cache, expiry and export.

Per-iface settings live in ``priv["ifaces"][str(N)]`` only once touched; untouched
ifaces have the constructor's defaults (conf INGRESS, dlt 0, index 0).

Kernel sources followed for the data path (FreeBSD 14):
* ng_netflow.c ``ng_netflow_rcvdata``: INGRESS/EGRESS bypass, ONCE/THISONCE mtags, dlt
  parsing (DLT_EN10MB with IPv4, IPv6 and VLAN-tagged IPv4/IPv6; DLT_RAW by the version
  nibble), the IPv6 extension header walk, IPv6 bypassed (counted as skipped) while
  ``export9`` is not connected, skipped counters per family, the input index (configured
  index, else rcvif; always rcvif on ``out``), per-fib export state created on the first
  packet accounted.
* netflow.c ``ng_netflow_flow_add``/``ng_netflow_flow6_add`` (the reverse walk of the
  hash slot that expires stale entries, FIN/RST/aged active expiry), ``hash_insert``/
  ``hash6_insert``, ``ip_hash``/``ip6_hash``, ``ng_netflow_expire`` (the 1 s callout over
  priv->hash then priv->hash6, running while export or export9 is connected),
  ``expire_flow`` (v5 only for IPv4 flows), ``ng_netflow_cache_flush`` (on shutdown).

The IPv4 cache is ``priv["cache"]``, the IPv6 cache ``priv["cache6"]`` (slot -> entries,
``ngsim.flow`` layout, IPv6 addresses in ``ngsim.inet6.ntop`` spelling).

ngctl imports this module at every spawn, so the data path imports ``struct``,
``socket`` and the datagram formats (``ngsim.export``) only when a packet or a flow is
handled.
"""
from __future__ import annotations

from ngsim import flow
from ngsim.datapath import Ctx, Pkt, send, unix_time, uptime
from ngsim.errors import NgError
from ngsim.ngparse import StructType, UINT8, UINT16, UINT32, UINT64
from ngsim.nodetype import Cmd, RO_REPLY, SelfDestructType, netgraph_init

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only
    from typing import Optional

    from ngsim.base import Kernel

MAXIFACES = 65535
DLT_EN10MB = 1
DLT_RAW = 12
CONF_INGRESS, CONF_EGRESS, CONF_ONCE, CONF_THISONCE = 1, 2, 4, 8
CONF_NOSRCLOOKUP, CONF_NODSTLOOKUP = 16, 32
TH_FIN, TH_RST = 0x01, 0x04
ETHERTYPE_IP, ETHERTYPE_IPV6, ETHERTYPE_VLAN = 0x0800, 0x86DD, 0x8100
NBUCKETS = 65536
CNTR_MAX = 0xFFFFFFFF
IF_MAXMTU = 65535
INACTIVE_TIMEOUT = 15
ACTIVE_TIMEOUT = 1800
TEMPL_TIME = 600
TEMPL_PACKETS = 500
BASE_MTU = 1500
MIN_MTU = 24  # sizeof(struct netflow_v5_header)
MAX_MTU = 16384

INFO = StructType([(n, UINT64) for n in (
    "IPv4 bytes", "IPv4 packets", "IPv6 bytes", "IPv6 packets",
    "IPv4 skipped bytes", "IPv4 skipped packets", "IPv6 skipped bytes", "IPv6 skipped packets",
    "Active expiries", "Inactive expiries")] + [(n, UINT32) for n in (
    "IPv4 records used", "IPv6 records used", "Failed allocations", "V5 failed exports",
    "V9 failed exports", "mbuf reallocations", "fibs allocated", "Inactive timeout",
    "Active timeout")])
IFINFO = StructType([("packets", UINT32), ("data link type", UINT8), ("index", UINT16),
                     ("conf", UINT32)])
SETDLT = StructType([("iface", UINT16), ("dlt", UINT8)])
SETIFINDEX = StructType([("iface", UINT16), ("index", UINT16)])
SETTIMEOUTS = StructType([("inactive", UINT32), ("active", UINT32)])
SETCONFIG = StructType([("iface", UINT16), ("conf", UINT32)])
SETTEMPLATE = StructType([("time", UINT16), ("packets", UINT16)])
SETMTU = StructType([("mtu", UINT16)])
V9INFO = StructType([("v9 template packets", UINT16), ("v9 template time", UINT16),
                     ("v9 MTU", UINT16)])

# NGM_NETFLOW_SHOW (ng_netflow.h): binary only. ng_netflow_cmds[] (ng_netflow.c) has no
# "show" entry, so NGM_ASCII2BINARY finds no name and ngctl's ``msg X: show`` is ENOSYS
# before the node sees anything; flowctl(8) sends it with NgSendMsg() (ngsim.flowctl).
NGM_NETFLOW_COOKIE = 1365756954
NGM_NETFLOW_SHOW = 3 | RO_REPLY
SHOW_HEADER_SIZE = 16  # struct ngnf_show_header: u_char version; 3 pad; hash_id, list_id, nentries
FLOW_ENTRY_SIZE = 72  # struct flow_entry_data, LP64 (amd64/arm64)
FLOW6_ENTRY_SIZE = 112  # struct flow6_entry_data, LP64
NREC_AT_ONCE = 1000
NREC6_AT_ONCE = NREC_AT_ONCE * FLOW_ENTRY_SIZE // FLOW6_ENTRY_SIZE  # 642
NGRESP_SIZE = SHOW_HEADER_SIZE + NREC_AT_ONCE * FLOW_ENTRY_SIZE  # 72016
FLOW_V4_L4 = 1  # NETFLOW_V9_FLOW_V4_L4 (netflow_v9.h): r.flow_type of every IPv4 entry


def hook_index(hook: str, prefix: str) -> int:
    """N of ifaceN/outN: decimal, no leading zeros, below NG_NETFLOW_MAXIFACES; else EINVAL."""
    cp = hook[len(prefix):]
    if not cp or not cp[0].isdigit() or (cp[0] == "0" and len(cp) > 1):
        raise NgError("EINVAL")
    if not (cp.isdigit() and cp.isascii()):
        raise NgError("EINVAL")
    n = int(cp)
    if n >= MAXIFACES:
        raise NgError("EINVAL")
    return n


def _iface(node: dict, n: int) -> dict:
    return node["priv"]["ifaces"].setdefault(
        str(n), {"packets": 0, "data link type": 0, "index": 0, "conf": CONF_INGRESS})


def _connected(k, node, hook: str) -> bool:
    return k.find_hook(node, hook) is not None


def _info(k, node, arg):
    p = node["priv"]
    v = dict(p["counters"])
    v["Inactive timeout"] = p["inactive"]
    v["Active timeout"] = p["active"]
    return v


def _ifinfo(k, node, n):
    if n >= MAXIFACES or not _connected(k, node, "iface%d" % n):
        raise NgError("EINVAL")
    return dict(_iface(node, n))


def _setdlt(k, node, a):
    if a["iface"] >= MAXIFACES or not _connected(k, node, "iface%d" % a["iface"]):
        raise NgError("EINVAL")
    if a["dlt"] not in (DLT_EN10MB, DLT_RAW):
        raise NgError("EINVAL")
    _iface(node, a["iface"])["data link type"] = a["dlt"]


def _setifindex(k, node, a):
    if a["iface"] >= MAXIFACES or not _connected(k, node, "iface%d" % a["iface"]):
        raise NgError("EINVAL")
    _iface(node, a["iface"])["index"] = a["index"]


def _settimeouts(k, node, a):
    node["priv"]["inactive"] = a["inactive"]
    node["priv"]["active"] = a["active"]


def _setconfig(k, node, a):
    if a["iface"] >= MAXIFACES:
        raise NgError("EINVAL")
    _iface(node, a["iface"])["conf"] = a["conf"]


def _settemplate(k, node, a):
    node["priv"]["templ_time"] = a["time"]
    node["priv"]["templ_packets"] = a["packets"]


def _setmtu(k, node, a):
    if a["mtu"] < MIN_MTU or a["mtu"] > MAX_MTU:
        raise NgError("EINVAL")
    node["priv"]["mtu"] = a["mtu"]


def _v9info(k, node, arg):
    p = node["priv"]
    return {"v9 template packets": p["templ_packets"], "v9 template time": p["templ_time"],
            "v9 MTU": p["mtu"]}


class NetflowType(SelfDestructType):
    name = "netflow"
    module = "ng_netflow"
    cmds = {
        c.name: c
        for c in (
            Cmd("info", 1 | RO_REPLY, None, INFO, _info),
            Cmd("ifinfo", 2 | RO_REPLY, UINT16, IFINFO, _ifinfo),
            Cmd("setdlt", 4, SETDLT, None, _setdlt),
            Cmd("setifindex", 5, SETIFINDEX, None, _setifindex),
            Cmd("settimeouts", 6, SETTIMEOUTS, None, _settimeouts),
            Cmd("setconfig", 7, SETCONFIG, None, _setconfig),
            Cmd("settemplate", 8, SETTEMPLATE, None, _settemplate),
            Cmd("setmtu", 9, SETMTU, None, _setmtu),
            Cmd("v9info", 10 | RO_REPLY, None, V9INFO, _v9info),
        )
    }

    def init_priv(self, k, node):
        counters = {name: 0 for name, _ in INFO.fields
                    if name not in ("Inactive timeout", "Active timeout")}
        return {"inactive": INACTIVE_TIMEOUT, "active": ACTIVE_TIMEOUT,
                "templ_time": TEMPL_TIME, "templ_packets": TEMPL_PACKETS, "mtu": BASE_MTU,
                "ifaces": {}, "counters": counters}

    def newhook(self, k, node, hook):
        if hook.startswith("iface"):
            hook_index(hook, "iface")
        elif hook.startswith("out"):
            hook_index(hook, "out")
        elif hook not in ("export", "export9"):
            raise NgError("EINVAL")

    def connected(self, k, node, hook):
        if hook.startswith("iface"):
            _iface(node, hook_index(hook, "iface"))["data link type"] = DLT_EN10MB

    def close(self, k, node):
        """ng_netflow_close -> ng_netflow_cache_flush: flows and pending datagrams are
        exported before the hooks go (the export code loads only when there is any)."""
        p = node["priv"]
        fe = p.get("fe")
        if p.get("cache") or p.get("cache6") or (fe and (fe.get("item") or fe.get("item9"))):
            netflow_flush(k, node)

    def forward(self, k, node, hook):
        if hook.startswith("iface"):
            return ["out" + hook[5:]]
        if hook.startswith("out"):
            return ["iface" + hook[3:]]
        return []

    def rcvdata(self, ctx, node, hook, pkt):
        netflow_rcvdata(ctx, node, hook, pkt)

    def rcvmsg(self, k, node, cookie, cmd, data):
        """ng_netflow_rcvmsg() for the binary-only NGM_NETFLOW_SHOW; every other binary
        message of this cookie is reached through its ASCII name (``cmds``)."""
        if cookie != NGM_NETFLOW_COOKIE or cmd != NGM_NETFLOW_SHOW:
            raise NgError("EINVAL")
        return flow_show(node, data)


TYPE = netgraph_init(NetflowType())  # NETGRAPH_INIT


# ----- data path ---------------------------------------------------------------------

CACHES = (("cache", 4), ("cache6", 6))  # priv keys of priv->hash and priv->hash6
IPPROTO_HOPOPTS, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ROUTING = 0, 6, 17, 43
IPPROTO_FRAGMENT, IPPROTO_AH, IPPROTO_DSTOPTS, IPPROTO_SCTP = 44, 51, 60, 132
L4_CHECK = {IPPROTO_TCP: 20, IPPROTO_UDP: 8, IPPROTO_SCTP: 12}  # the M_CHECKs of rcvdata


def _bswap16(v: int) -> int:
    v &= 0xFFFF
    return ((v << 8) | (v >> 8)) & 0xFFFF


def _hash(a1: int, a2: int, proto: int, sport: int, dport: int) -> int:
    h = a1 ^ (a1 >> 16) ^ _bswap16(a2 ^ (a2 >> 16))
    if proto in (6, 17):
        h ^= _bswap16(sport) ^ dport  # port1 = r_sport as stored; htons(port2) = dport
    return h & (NBUCKETS - 1)


def flow_hash(src: str, dst: str, proto: int, sport: int, dport: int) -> int:
    """ip_hash(): FULL_HASH for TCP/UDP, ADDR_HASH otherwise, on a little-endian host
    (addresses and ports are read from network-order memory as host integers)."""
    import socket

    return _hash(int.from_bytes(socket.inet_aton(src), "little"),
                 int.from_bytes(socket.inet_aton(dst), "little"), proto, sport, dport)


def flow6_hash(src: str, dst: str, proto: int, sport: int, dport: int) -> int:
    """ip6_hash(): the same FULL_HASH/ADDR_HASH on the lower 4 octets of each address
    (``__u6_addr32[3]``); FULL_HASH only for TCP and UDP (SCTP flows keep their ports in
    the key but hash by address)."""
    from ngsim import inet6

    return _hash(int.from_bytes(inet6.pton(src)[12:], "little"),
                 int.from_bytes(inet6.pton(dst)[12:], "little"), proto, sport, dport)


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
    """nfinfo_used / nfinfo_used6: uma_zone_get_cur() of the IPv4 and IPv6 zones."""
    p = node["priv"]
    c = p["counters"]
    c["IPv4 records used"] = sum(len(v) for v in p.get("cache", {}).values())
    c["IPv6 records used"] = sum(len(v) for v in p.get("cache6", {}).values())


def netflow_rcvdata(ctx: Ctx, node: dict, hook: str, pkt: Pkt) -> None:
    """ng_netflow_rcvdata()."""
    k = ctx.k
    if hook in ("export", "export9"):
        ctx.drop("ng_netflow: incoming data on export hook!")
        return
    if hook.startswith("iface"):
        n = int(hook[5:])
        iface = _iface(node, n)
        bypass = not iface["conf"] & CONF_INGRESS
        out = "out%d" % n
    else:
        n = int(hook[3:])
        iface = _iface(node, n)
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
    export9 = k.find_hook(node, "export9") is not None
    ip = _parse(pkt.data, iface["data link type"], export9)
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
            c["IPv%d skipped packets" % ip[1]] += 1
            c["IPv%d skipped bytes" % ip[1]] += len(pkt.data)
        if ip is not None and ip[1] == 6 and not export9:
            ctx.count(node, hook, "IPv6 skipped (export9 not connected)")
        ctx.count(node, hook, "skipped")
    if out_connected:
        send(ctx, node, out, pkt)
    else:
        ctx.drop("%s:%s accounted, %s not connected" % (ctx.key(node), hook, out))


def _parse(data: bytes, dlt: int, export9: bool = True):
    """The dlt switch, the M_CHECKs and the IPv6 extension header walk of
    ng_netflow_rcvdata.

    Returns None (neither ``ip`` nor ``ip6`` set: no skipped counters), ("bad", 4) or
    ("bad", 6) (``ip``/``ip6`` set but the packet goes to ``bypass``: counted as skipped
    IPv4/IPv6), or the flow fields to account (``"v"``: 4 or 6). An IPv6 packet on a node
    without ``export9`` is ("bad", 6): the kernel bypasses it before looking further
    (``if (priv->export9 == NULL) goto bypass``), so v5-only nodes count IPv6 as skipped.

    ``pullup`` is the kernel's pullup_len: each M_CHECK adds its length and fails when the
    packet is shorter (MHLEN is never reached by the packets ngsim builds)."""
    import struct

    n = len(data)
    pullup = 0

    def check(length: int) -> bool:
        nonlocal pullup
        pullup += length
        return n >= pullup

    if dlt == DLT_EN10MB:
        if not check(14):
            return None
        etype = struct.unpack_from("!H", data, 12)[0]
        l3 = 14
        if etype == ETHERTYPE_VLAN:
            if not check(4):
                return None
            etype = struct.unpack_from("!H", data, 16)[0]
            l3 = 18
        if etype == ETHERTYPE_IP:
            if not check(20):
                return None
            v = 4
        elif etype == ETHERTYPE_IPV6:
            if not check(40):
                return None
            v = 6
        else:
            return None  # other types (and VLAN-tagged ones) bypass
    elif dlt == DLT_RAW:
        l3 = 0
        if not check(20):
            return None
        v = 4
        if data[0] >> 4 == 6:
            if not check(20):  # sizeof(struct ip6_hdr) - sizeof(struct ip)
                return None
            v = 6
    else:
        return None
    if v == 6:
        return _parse6(data, l3, pullup, export9)
    vhl = data[l3]
    frag = struct.unpack_from("!H", data, l3 + 6)[0] & 0x1FFF
    if vhl >> 4 != 4 or (vhl & 0xF) * 4 < 20:
        return ("bad", 4)
    hlen = (vhl & 0xF) * 4
    proto = data[l3 + 9]
    rec = {"v": 4, "src": "%d.%d.%d.%d" % tuple(data[l3 + 12:l3 + 16]),
           "dst": "%d.%d.%d.%d" % tuple(data[l3 + 16:l3 + 20]),
           "proto": proto, "tos": data[l3 + 1],
           "plen": struct.unpack_from("!H", data, l3 + 2)[0],
           "sport": 0, "dport": 0, "flags": 0}
    if frag == 0:
        if not check(hlen - 20) or not check(L4_CHECK.get(proto, 0)):
            return ("bad", 4)
        # ng_netflow_flow_add: ports and flags for TCP and UDP only (not SCTP)
        if proto in (IPPROTO_TCP, IPPROTO_UDP):
            rec["sport"], rec["dport"] = struct.unpack_from("!HH", data, l3 + hlen)
        if proto == IPPROTO_TCP:
            rec["flags"] = data[l3 + hlen + 13]
    return rec


def _parse6(data: bytes, l3: int, pullup: int, export9: bool):
    """The ``ip6 != NULL`` branch of ng_netflow_rcvdata and ng_netflow_flow6_add's fields.

    Extension headers (hop-by-hop, routing, destination options: (len + 1) * 8 bytes; AH:
    (len + 2) * 4) are skipped to the upper layer; a fragment header ends the walk with
    NG_NETFLOW_IS_FRAG (no ports, whatever the offset); TCP/UDP/SCTP need their header
    (M_CHECK); anything else (ICMPv6, no next header, tunnels) ends the walk with that
    protocol. The kernel's M_CHECK(sizeof(struct ip6_ext)) adds 2 to pullup_len while
    the walk moves by the header length, so the checks lag behind the offset read; this
    is kept (bytes past the packet read as 0). plen = ip6_plen + 40; r_tos is never set
    (``#if 0 /* XXX: set DSCP/CoS value */``)."""
    from ngsim import inet6

    n = len(data)

    def byte(i: int) -> int:
        return data[i] if i < n else 0

    if not export9:
        return ("bad", 6)
    cur = data[l3 + 6]
    upper = cur
    off = pullup
    if data[l3] & 0xF0 != 0x60:
        return ("bad", 6)
    frag = False
    while True:
        if cur in L4_CHECK:
            pullup += L4_CHECK[cur]
            if n < pullup:
                return ("bad", 6)
            break
        if cur in (IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS, IPPROTO_AH):
            pullup += 2
            if n < pullup:
                return ("bad", 6)
            upper = byte(off)
            if cur == IPPROTO_AH:
                hdr_off = (byte(off + 1) + 2) << 2
            else:
                hdr_off = (byte(off + 1) + 1) << 3
        elif cur == IPPROTO_FRAGMENT:
            pullup += 8
            if n < pullup:
                return ("bad", 6)
            upper = byte(off)
            off += 8
            frag = True
            break
        else:
            break
        off += hdr_off
        cur = upper
    rec = {"v": 6, "src": inet6.ntop(data[l3 + 8:l3 + 24]),
           "dst": inet6.ntop(data[l3 + 24:l3 + 40]), "proto": upper, "tos": 0,
           "plen": ((data[l3 + 4] << 8) | data[l3 + 5]) + 40,
           "sport": 0, "dport": 0, "flags": 0}
    if not frag and upper in L4_CHECK:
        rec["sport"] = (byte(off) << 8) | byte(off + 1)
        rec["dport"] = (byte(off + 2) << 8) | byte(off + 3)
        if upper == IPPROTO_TCP:
            rec["flags"] = byte(off + 13)
    return rec


def _inactive(now: int, fle: list, inact: int) -> bool:
    return now - fle[flow.LAST] > inact


def _aged(now: int, fle: list, act: int) -> bool:
    return now - fle[flow.FIRST] > act


def _small(fle: list) -> bool:
    return fle[flow.PACKETS] <= 4


def flow_add(ctx: Ctx, node: dict, fe: dict, rec: dict, conf: int, src_if: int, pkt: Pkt) -> None:
    """ng_netflow_flow_add() + hash_insert() for IPv4, ng_netflow_flow6_add() +
    hash6_insert() for IPv6 (``rec["v"]``): the same walk on priv->hash or priv->hash6."""
    p = node["priv"]
    now = uptime(ctx.k.st)
    c = p["counters"]
    v6 = rec.get("v") == 6
    c["IPv6 packets" if v6 else "IPv4 packets"] += 1
    c["IPv6 bytes" if v6 else "IPv4 bytes"] += rec["plen"]
    proto = rec["proto"]
    key = [rec["src"], rec["dst"], rec["sport"], rec["dport"], proto, rec["tos"], src_if & 0xFFFF]
    cache = p.setdefault("cache6" if v6 else "cache", {})
    b = str((flow6_hash if v6 else flow_hash)(rec["src"], rec["dst"], proto, rec["sport"],
                                                rec["dport"]))
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
        match[flow.BYTES] += rec["plen"]
        match[flow.PACKETS] += 1
        match[flow.FLAGS] |= flags
        match[flow.LAST] = now
        if flags & (TH_FIN | TH_RST) or _aged(now, match, p["active"]) or \
                match[flow.BYTES] >= CNTR_MAX - IF_MAXMTU:
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
    """expire_flow(): add to the v5 datagram (IPv4 flows only: ``version == IPVERSION``)
    and/or the v9 one; send a datagram when full. An IPv6 flow on a node with only
    ``export`` connected is freed here without being exported anywhere (its expiry is
    counted by the caller like any other)."""
    from ngsim import export as nfx

    k = ctx.k
    p = node["priv"]
    if k.find_hook(node, "export") is not None and not nfx.is6(fle):
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
        if nfx.v9_full(it9["templ"], it9["recs"], it9["mtu"]):
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
    from ngsim import export as nfx

    st = ctx.k.st
    seq = fe["flow_seq"]
    fe["flow_seq"] = (seq + len(recs)) & 0xFFFFFFFF
    data = nfx.v5_datagram(recs, uptime(st), unix_time(st), 0, seq, fe["domain_id"])
    _deliver_dgram(ctx, node, "export", data, {"version": 5, "records": len(recs), "seq": seq})


def export9_send(ctx: Ctx, node: dict, fe: dict, it9: dict) -> None:
    """export9_send(): seq_num = fetchadd(flow9_seq, 1); source_id = domain_id."""
    from ngsim import export as nfx

    st = ctx.k.st
    seq = fe["flow9_seq"]
    fe["flow9_seq"] = (seq + 1) & 0xFFFFFFFF
    data = nfx.v9_datagram(it9["recs"], it9["templ"], uptime(st), unix_time(st), seq,
                           fe["domain_id"])
    info = {"version": 9, "records": len(it9["recs"]), "templates": it9["templ"], "seq": seq}
    n6 = sum(1 for e in it9["recs"] if nfx.is6(e))
    if n6:
        info["ipv6 records"] = n6
    _deliver_dgram(ctx, node, "export9", data, info)


def netflow_expire(ctx: Ctx, node: dict) -> None:
    """ng_netflow_expire(): one run of the 1 s callout over the IPv4 hash, then the IPv6
    hash (each with its own ``used`` count of its zone)."""
    p = node["priv"]
    if not p.get("cache") and not p.get("cache6"):
        return
    now = uptime(ctx.k.st)
    fe = _fe(node)
    for name, _v in CACHES:
        cache = p.get(name)
        if not cache:
            continue
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
    for name, _v in CACHES:
        for lst in p.get(name, {}).values():
            for fle in lst:
                t = fle[flow.LAST] + p["inactive"] + 1
                if not _small(fle):
                    t = max(t, fle[flow.FIRST] + p["active"] + 1)
                best = t if best is None else min(best, t)
    return best


def callout_running(k: Kernel, node: dict) -> bool:
    """The expiry callout is scheduled while export or export9 is connected."""
    return k.find_hook(node, "export") is not None or k.find_hook(node, "export9") is not None


def netflow_flush(k: Kernel, node: dict, ctx: Optional[Ctx] = None) -> Ctx:
    """ng_netflow_close() -> ng_netflow_cache_flush(): expire every flow of the IPv4 hash,
    then of the IPv6 hash (no expiry counters), then send the pending v5 and v9
    datagrams."""
    ctx = ctx or Ctx(k)
    p = node["priv"]
    fe = p.get("fe")
    caches = [p.pop(name, {}) for name, _v in CACHES]
    if fe is None:
        return ctx
    for cache in caches:
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


def flow_show(node: dict, req: bytes) -> bytes:
    """The NGM_NETFLOW_SHOW case of ng_netflow_rcvmsg() and ng_netflow_flow_show()
    (netflow.c, FreeBSD 14): the reply's argument bytes, always NGRESP_SIZE long
    (NG_MKRESPONSE(resp, msg, NGRESP_SIZE) zero-fills; the entries fill the front).

    The request is a struct ngnf_show_header (arglen must be exactly 16, else EINVAL;
    hash_id above NBUCKETS - 1 or a version other than 4/6 is EINVAL). Version 4 walks
    priv->hash and copies 72-byte flow_entry_data, version 6 walks priv->hash6 and copies
    112-byte flow6_entry_data. From bucket hash_id on, entries are copied in TAILQ order,
    counting positions from 1 in each bucket; while the request's list_id is above 0,
    entries at positions below it are skipped, and it is reset only when an entry is
    copied, so a list_id left over from a bucket that had no such position goes on
    skipping in the following buckets (the kernel does this). After NREC_AT_ONCE (IPv4) /
    NREC6_AT_ONCE (IPv6) entries the reply says hash_id = that bucket, list_id = position
    + 1; at the end both are 0. No hash-lock contention here, so the trylock/contested
    early returns never happen."""
    import struct

    if len(req) != SHOW_HEADER_SIZE:
        raise NgError("EINVAL")
    version, hash_id, list_id, _ = struct.unpack("<B3xIII", req)
    if hash_id > NBUCKETS - 1:
        raise NgError("EINVAL")
    if version not in (4, 6):
        raise NgError("EINVAL")
    cache = node["priv"].get("cache" if version == 4 else "cache6", {})
    most = NREC_AT_ONCE if version == 4 else NREC6_AT_ONCE
    want = list_id
    out: list = []
    end = (0, 0)
    for b in sorted(int(x) for x in cache if int(x) >= hash_id):
        pos = 0
        for fle in cache[str(b)]:
            pos += 1
            if want > 0:
                if pos < want:
                    continue
                want = 0
            out.append(fle)
            if len(out) == most:
                end = (b, pos + 1)
                break
        if len(out) == most:
            break
    body = bytearray(NGRESP_SIZE)
    struct.pack_into("<B3xIII", body, 0, version, end[0], end[1], len(out))
    for i, fle in enumerate(out):
        if version == 4:
            pack_flow_entry(body, SHOW_HEADER_SIZE + i * FLOW_ENTRY_SIZE, fle)
        else:
            pack_flow6_entry(body, SHOW_HEADER_SIZE + i * FLOW6_ENTRY_SIZE, fle)
    return bytes(body)


FLOW_ENTRY = "<HxxHH4s4s2s2sBBH4sHBBQQqqB7x"  # struct flow_entry_data, LP64
# struct flow6_entry_data, LP64: version; 2 pad; flow6_rec (flow_type, fib, src6, dst6,
# ports, prot, tos, i_ifx) at 4..48; n.next_hop6 48..64; fle_o_ifx; dst_mask; src_mask;
# 4 pad; u_long packets at 72, bytes; long first, last; tcp_flags at 104; 7 pad -> 112
FLOW6_ENTRY = "<HxxHH16s16s2s2sBBH16sHBB4xQQqqB7x"
FLOW_V6_L4 = 4  # NETFLOW_V9_FLOW_V6_L4: r.flow_type of every IPv6 entry


def pack_flow_entry(buf: bytearray, off: int, fle: list) -> None:
    import socket
    import struct

    struct.pack_into(
        FLOW_ENTRY, buf, off,
        4, FLOW_V4_L4, 0,  # version = IPVERSION, r.flow_type, r.fib (one fib: 0)
        socket.inet_aton(fle[flow.SRC]), socket.inet_aton(fle[flow.DST]),
        fle[flow.SPORT].to_bytes(2, "big"), fle[flow.DPORT].to_bytes(2, "big"),
        fle[flow.PROTO], fle[flow.TOSI], fle[flow.IIFX],
        b"\0\0\0\0", fle[flow.OIFX], 0, 0,  # next_hop, fle_o_ifx, dst_mask, src_mask
        fle[flow.PACKETS], fle[flow.BYTES], fle[flow.FIRST], fle[flow.LAST],
        fle[flow.FLAGS])


def pack_flow6_entry(buf: bytearray, off: int, fle: list) -> None:
    """One flow6_entry_data as ``bcopy(&fle6->f, data6 + n, sizeof(fle6->f))`` copies it:
    version 6 (IP6VERSION), flow_type 4, fib 0, addresses and ports in network order,
    next hop :: (no routing table), masks 0."""
    import struct

    from ngsim import inet6

    struct.pack_into(
        FLOW6_ENTRY, buf, off,
        6, FLOW_V6_L4, 0,
        inet6.pton(fle[flow.SRC]), inet6.pton(fle[flow.DST]),
        fle[flow.SPORT].to_bytes(2, "big"), fle[flow.DPORT].to_bytes(2, "big"),
        fle[flow.PROTO], fle[flow.TOSI], fle[flow.IIFX],
        b"\0" * 16, fle[flow.OIFX], 0, 0,
        fle[flow.PACKETS], fle[flow.BYTES], fle[flow.FIRST], fle[flow.LAST],
        fle[flow.FLAGS])


def pending(k: Kernel) -> dict:
    """Flows in each netflow cache (IPv4 and IPv6) and records waiting in unsent export
    datagrams."""
    out = {}
    for n in sorted(k.st["nodes"].values(), key=lambda n: n["id"]):
        if n["type"] != "netflow":
            continue
        fe = n["priv"].get("fe") or {}
        out[n["name"] or "[%x]" % n["id"]] = {
            "flows": sum(len(v) for name, _v in CACHES for v in n["priv"].get(name, {}).values()),
            "v5 records": len(fe.get("item") or []),
            "v9 records": len((fe.get("item9") or {}).get("recs", [])),
        }
    return out
