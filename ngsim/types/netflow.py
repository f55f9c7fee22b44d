"""ng_netflow (``netflow``), the node as ``sys/netgraph/netflow/ng_netflow.c`` has it:
hooks ifaceN/outN/export/export9, the control messages of ng_netflow.h, and
``ng_netflow_rcvdata`` (what the node does with a packet before the flow cache sees it).
The flow cache, its expiry and v5 export are ``ngsim.netflow_cache`` (netflow.c), the v9
export ``ngsim.netflow_v9`` (netflow_v9.c), what the three share ``ngsim.flow``
(ng_netflow.h).

Per-iface settings live in ``priv["ifaces"][str(N)]`` only once touched; untouched
ifaces have the constructor's defaults (conf INGRESS, dlt 0, index 0).

Kernel sources followed (FreeBSD 14): ``ng_netflow_newhook`` (the hook names; connecting
export or export9 arms the expiry callout), ``ng_netflow_rcvmsg`` (the messages; the
binary NGM_NETFLOW_SHOW goes to the cache's ``ng_netflow_flow_show``), ``ng_netflow_close``
(the cache is flushed), ``ng_netflow_rcvdata``: INGRESS/EGRESS bypass, ONCE/THISONCE
mtags, dlt parsing (DLT_EN10MB with IPv4, IPv6 and VLAN-tagged IPv4/IPv6; DLT_RAW by the
version nibble), the IPv6 extension header walk, IPv6 bypassed (counted as skipped) while
``export9`` is not connected, skipped counters per family, the input index (configured
index, else rcvif; always rcvif on ``out``), per-fib export state created on the first
packet accounted.

ngctl imports this module (and the cache and v9 modules) at every spawn, so the data path
imports ``struct``, ``socket`` and the datagram formats (``ngsim.export``) only when a
packet or a flow is handled.
"""
from __future__ import annotations

from ngsim.datapath import Ctx, Pkt, send
from ngsim.errors import NgError
from ngsim.flow import CONF_EGRESS, CONF_INGRESS, CONF_ONCE, CONF_THISONCE
from ngsim.netflow_cache import fib_init, flow_add, flow_show, netflow_flush
from ngsim.ngparse import StructType, UINT8, UINT16, UINT32, UINT64
from ngsim.nodetype import CmdList, RO_REPLY, SelfDestructType, netgraph_init

CMDS = CmdList()  # ng_netflow_cmds[]

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only
    from ngsim.base import Kernel

MAXIFACES = 65535
DLT_EN10MB = 1
DLT_RAW = 12
ETHERTYPE_IP, ETHERTYPE_IPV6, ETHERTYPE_VLAN = 0x0800, 0x86DD, 0x8100
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


@CMDS.msg("info", 1 | RO_REPLY, None, INFO)
def _info(k, node, arg):
    p = node["priv"]
    v = dict(p["counters"])
    v["Inactive timeout"] = p["inactive"]
    v["Active timeout"] = p["active"]
    return v


@CMDS.msg("ifinfo", 2 | RO_REPLY, UINT16, IFINFO)
def _ifinfo(k, node, n):
    if n >= MAXIFACES or not _connected(k, node, "iface%d" % n):
        raise NgError("EINVAL")
    return dict(_iface(node, n))


@CMDS.msg("setdlt", 4, SETDLT, None)
def _setdlt(k, node, a):
    if a["iface"] >= MAXIFACES or not _connected(k, node, "iface%d" % a["iface"]):
        raise NgError("EINVAL")
    if a["dlt"] not in (DLT_EN10MB, DLT_RAW):
        raise NgError("EINVAL")
    _iface(node, a["iface"])["data link type"] = a["dlt"]


@CMDS.msg("setifindex", 5, SETIFINDEX, None)
def _setifindex(k, node, a):
    if a["iface"] >= MAXIFACES or not _connected(k, node, "iface%d" % a["iface"]):
        raise NgError("EINVAL")
    _iface(node, a["iface"])["index"] = a["index"]


def _store(**fields: str):
    """A setter that keeps fields of the message in the node (``priv key=message field``)."""
    def fn(k, node, a):
        for mine, theirs in fields.items():
            node["priv"][mine] = a[theirs]
    return fn


CMDS.add("settimeouts", 6, SETTIMEOUTS, None, _store(inactive="inactive", active="active"))
CMDS.add("settemplate", 8, SETTEMPLATE, None, _store(templ_time="time", templ_packets="packets"))


@CMDS.msg("setconfig", 7, SETCONFIG, None)
def _setconfig(k, node, a):
    if a["iface"] >= MAXIFACES:
        raise NgError("EINVAL")
    _iface(node, a["iface"])["conf"] = a["conf"]


@CMDS.msg("setmtu", 9, SETMTU, None)
def _setmtu(k, node, a):
    if a["mtu"] < MIN_MTU or a["mtu"] > MAX_MTU:
        raise NgError("EINVAL")
    node["priv"]["mtu"] = a["mtu"]


@CMDS.msg("v9info", 10 | RO_REPLY, None, V9INFO)
def _v9info(k, node, arg):
    p = node["priv"]
    return {"v9 template packets": p["templ_packets"], "v9 template time": p["templ_time"],
            "v9 MTU": p["mtu"]}


class NetflowType(SelfDestructType):
    name = "netflow"
    module = "ng_netflow"
    cmds = CMDS

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


def callout_running(k: Kernel, node: dict) -> bool:
    """The expiry callout is scheduled while export or export9 is connected."""
    return k.find_hook(node, "export") is not None or k.find_hook(node, "export9") is not None



# ----- data path (ng_netflow_rcvdata) -----------------------------------------------

IPPROTO_HOPOPTS, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ROUTING = 0, 6, 17, 43
IPPROTO_FRAGMENT, IPPROTO_AH, IPPROTO_DSTOPTS, IPPROTO_SCTP = 44, 51, 60, 132
L4_CHECK = {IPPROTO_TCP: 20, IPPROTO_UDP: 8, IPPROTO_SCTP: 12}  # the M_CHECKs of rcvdata


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
        fe = fib_init(node)
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
    found = _l3(data, dlt)
    if found is None:
        return None
    v, l3, pullup = found
    if v == 6:
        return _parse6(data, l3, pullup, export9)
    return _parse4(data, l3, pullup)


def _l3(data: bytes, dlt: int):
    """The dlt switch and its M_CHECKs: (IP version, offset of the IP header, pullup_len),
    or None (another ethertype, a VLAN tag, a short frame, another dlt: bypass)."""
    import struct

    n = len(data)
    if dlt == DLT_EN10MB:
        pullup = 14
        if n < pullup:
            return None
        etype = struct.unpack_from("!H", data, 12)[0]
        l3 = 14
        if etype == ETHERTYPE_VLAN:
            pullup += 4
            if n < pullup:
                return None
            etype = struct.unpack_from("!H", data, 16)[0]
            l3 = 18
        if etype not in (ETHERTYPE_IP, ETHERTYPE_IPV6):
            return None  # other types (and VLAN-tagged ones) bypass
        v = 4 if etype == ETHERTYPE_IP else 6
        pullup += 20 if v == 4 else 40
        return (v, l3, pullup) if n >= pullup else None
    if dlt == DLT_RAW:
        pullup = 20
        if n < pullup:
            return None
        if data[0] >> 4 != 6:
            return 4, 0, pullup
        pullup += 20  # sizeof(struct ip6_hdr) - sizeof(struct ip)
        return (6, 0, pullup) if n >= pullup else None
    return None


def _parse4(data: bytes, l3: int, pullup: int):
    """The ``ip != NULL`` branch of ng_netflow_rcvdata and ng_netflow_flow_add's fields."""
    import struct

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
        # M_CHECK(hlen - sizeof(struct ip)), then M_CHECK of the transport header
        if len(data) < pullup + hlen - 20 or len(data) < pullup + hlen - 20 + L4_CHECK.get(proto, 0):
            return ("bad", 4)
        # ng_netflow_flow_add: ports and flags for TCP and UDP only (not SCTP)
        if proto in (IPPROTO_TCP, IPPROTO_UDP):
            rec["sport"], rec["dport"] = struct.unpack_from("!HH", data, l3 + hlen)
        if proto == IPPROTO_TCP:
            rec["flags"] = data[l3 + hlen + 13]
    return rec


def _byte_reader(data: bytes):
    """data[i], or 0 past the end (the walk's reads may lag past the checked length)."""
    n = len(data)
    return lambda i: data[i] if i < n else 0


def _walk6(data: bytes, cur: int, pullup: int):
    """The IPv6 extension header walk from next header ``cur`` at offset ``pullup``:
    (upper-layer protocol, its offset, fragmented?), or None when an M_CHECK fails."""
    n = len(data)
    byte = _byte_reader(data)
    upper, off = cur, pullup
    while True:
        if cur in L4_CHECK:
            return (upper, off, False) if n >= pullup + L4_CHECK[cur] else None
        if cur in (IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS, IPPROTO_AH):
            pullup += 2
            if n < pullup:
                return None
            upper = byte(off)
            if cur == IPPROTO_AH:
                hdr_off = (byte(off + 1) + 2) << 2
            else:
                hdr_off = (byte(off + 1) + 1) << 3
        elif cur == IPPROTO_FRAGMENT:
            pullup += 8
            if n < pullup:
                return None
            return byte(off), off + 8, True
        else:
            return upper, off, False
        off += hdr_off
        cur = upper


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

    if not export9:
        return ("bad", 6)
    if data[l3] & 0xF0 != 0x60:
        return ("bad", 6)
    walked = _walk6(data, data[l3 + 6], pullup)
    if walked is None:
        return ("bad", 6)
    upper, off, frag = walked
    byte = _byte_reader(data)
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
