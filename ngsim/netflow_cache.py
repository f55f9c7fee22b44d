"""ng_netflow's flow cache as ``sys/netgraph/netflow/netflow.c`` has it (FreeBSD 14):
``ip_hash``/``ip6_hash``, ``ng_netflow_fib_init``, ``ng_netflow_flow_add``/
``ng_netflow_flow6_add`` with ``hash_insert``/``hash6_insert`` (the reverse walk of the
hash slot that expires stale entries, FIN/RST/aged active expiry), ``expire_flow`` (v5
only for IPv4 flows; the v9 half is ``ngsim.netflow_v9``, netflow_v9.c), ``export_send``
(v5), ``ng_netflow_expire`` (the 1 s callout over priv->hash then priv->hash6; the node,
``ngsim.types.netflow``, arms it), ``ng_netflow_cache_flush`` (on shutdown) and
``ng_netflow_flow_show`` (the binary NGM_NETFLOW_SHOW reply flowctl(8) reads).

The IPv4 cache is ``priv["cache"]``, the IPv6 cache ``priv["cache6"]`` (slot -> entries,
``ngsim.flow`` layout, IPv6 addresses in ``ngsim.inet6.ntop`` spelling).

Imported at every ngctl spawn (through the node type): ``struct``, ``socket`` and the
datagram formats (``ngsim.export``) only when a packet or a flow is handled.
"""
from __future__ import annotations

from ngsim import flow
from ngsim.datapath import Ctx, send_datagram, unix_time, uptime
from ngsim.errors import NgError
from ngsim.flow import (CONF_NODSTLOOKUP, FLOW6_ENTRY_SIZE, FLOW_ENTRY_SIZE, NGRESP_SIZE,
                        NREC6_AT_ONCE, NREC_AT_ONCE, SHOW_HEADER_SIZE)
from ngsim.netflow_v9 import export9_add, export9_send

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only
    from typing import Optional

    from ngsim.base import Kernel
    from ngsim.datapath import Pkt

TH_FIN, TH_RST = 0x01, 0x04
NBUCKETS = 65536
CNTR_MAX = 0xFFFFFFFF
IF_MAXMTU = 65535
FLOW_V4_L4 = 1  # NETFLOW_V9_FLOW_V4_L4 (netflow_v9.h): r.flow_type of every IPv4 entry
CACHES = (("cache", 4), ("cache6", 6))  # priv keys of priv->hash and priv->hash6


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


def fib_init(node: dict) -> dict:
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
    if k.find_hook(node, "export") is not None and not nfx.is6(fle):
        item = fe["item"] or []
        item.append(list(fle))
        if len(item) == nfx.V5_MAX_RECORDS:
            fe["item"] = None
            export_send(ctx, node, fe, item)
        else:
            fe["item"] = item
    if k.find_hook(node, "export9") is not None:
        export9_add(ctx, node, fe, fle)


def export_send(ctx: Ctx, node: dict, fe: dict, recs: list) -> None:
    """export_send(): fill the v5 header; flow_seq = fetchadd(flow_seq, count)."""
    from ngsim import export as nfx

    st = ctx.k.st
    seq = fe["flow_seq"]
    fe["flow_seq"] = (seq + len(recs)) & 0xFFFFFFFF
    data = nfx.v5_datagram(recs, uptime(st), unix_time(st), 0, seq, fe["domain_id"])
    send_datagram(ctx, node, "export", data, {"version": 5, "records": len(recs), "seq": seq})


def netflow_expire(ctx: Ctx, node: dict) -> None:
    """ng_netflow_expire(): one run of the 1 s callout over the IPv4 hash, then the IPv6
    hash (each with its own ``used`` count of its zone)."""
    p = node["priv"]
    if not p.get("cache") and not p.get("cache6"):
        return
    now = uptime(ctx.k.st)
    fe = fib_init(node)
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
