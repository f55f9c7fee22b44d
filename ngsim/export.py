"""NetFlow v5 and v9 export datagrams exactly as FreeBSD's ng_netflow builds them.

Sources (FreeBSD 14, sys/netgraph/netflow/):
* netflow.h: ``struct netflow_v5_header`` (24 bytes), ``struct netflow_v5_record`` (48),
  ``struct netflow_v9_header`` (20), the RFC 3954 field numbers.
* netflow.c: ``export_add`` (record fields), ``export_send`` (header: sys_uptime =
  MILLIUPTIME(time_uptime), unix_secs/nsecs from getnanotime, engine_type 0, engine_id =
  fib domain_id, pad 0, flow_seq = fetchadd(flow_seq, count)), NETFLOW_V5_MAX_RECORDS 30.
* netflow_v9.h: ``struct netflow_v9_record_ipv4_tcp`` (packed, 57 bytes with 32-bit CNTR:
  COUNTERS_64 is off, ng_netflow.h), ``struct netflow_v9_record_ipv6_tcp`` (packed, 93
  bytes: three 16-byte addresses, then the same fields as the IPv4 record),
  ``_NETFLOW_V9_MAX_SIZE(mtu) = mtu - 40 - 8 - 16``,
  ``sizeof(struct netflow_v9_record_general)`` = the IPv6 record, 93 bytes.
* netflow_v9.c: ``generate_v9_templates`` (one template flowset, id 0, length 172, two
  templates: 0xFF + NETFLOW_V9_FLOW_V4_L4 = 256 and 0xFF + NETFLOW_V9_FLOW_V6_L4 = 259,
  20 fields each; it counts as 2 records; the comments in the sources say 257 and 260,
  the code says 255 + 1 and 255 + 4), ``export9_add`` (the record of the flow's
  ``flow_type``: IPv4 -> data flowset 256, IPv6 -> 259; a record of another type than the
  open flowset closes it (``close_flowset``: pad to 4 bytes) and opens a new flowset
  header, so IPv4 and IPv6 flows expired in turns give alternating flowsets; "datagram
  full" test on the real length), ``export9_send`` (seq_num =
  fetchadd(flow9_seq, 1) per datagram, source_id = domain_id), ``get_export9_dgram``
  (templates when ``time_uptime >= templ_time + templ_last_ts`` or
  ``sent_packets >= templ_packets + templ_last_pkt``).

Pure functions on plain data; no graph, no state.
"""
from __future__ import annotations

import socket
import struct

# the flow entry layout (ngsim.flow), re-exported: export.SRC ... export.FLAGS
from ngsim.flow import (BYTES, DPORT, DST, FIRST, FLAGS, IIFX, LAST, OIFX,
                        PACKETS, PROTO, SPORT, SRC, TOSI)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Sequence

NETFLOW_V5 = 5
NETFLOW_V9 = 9
V5_HEADER = struct.Struct("!HHIIIIBBH")  # struct netflow_v5_header
V5_RECORD = struct.Struct("!4s4s4sHHIIIIHHBBBBHHBBH")  # struct netflow_v5_record
V5_MAX_RECORDS = 30  # NETFLOW_V5_MAX_RECORDS
V9_HEADER = struct.Struct("!HHIIII")  # struct netflow_v9_header
V9_REC_V4 = struct.Struct("!4s4s4sHHIIIIIIHHBBBIIBB")  # struct netflow_v9_record_ipv4_tcp
V9_REC_V6 = struct.Struct("!16s16s16sHHIIIIIIHHBBBIIBB")  # struct netflow_v9_record_ipv6_tcp
V9_FLOWSET_HEADER = struct.Struct("!HH")  # struct netflow_v9_flowset_header
V9_RECORD_GENERAL = 93  # sizeof(struct netflow_v9_record_general) == ipv6_tcp record
MAX_RESERVED_FLOWSET = 0xFF
FLOW_V4_L4 = 1
FLOW_V6_L4 = 4
TEMPLATE_V4 = MAX_RESERVED_FLOWSET + FLOW_V4_L4  # 256
TEMPLATE_V6 = MAX_RESERVED_FLOWSET + FLOW_V6_L4  # 259
TEMPLATE_RECORDS = 2  # priv->flowset_records[0]

# RFC 3954 field numbers (netflow.h NETFLOW_V9_FIELD_*)
IN_BYTES, IN_PKTS, PROTOCOL, TOS, TCP_FLAGS, L4_SRC_PORT, IPV4_SRC_ADDR = 1, 2, 4, 5, 6, 7, 8
SRC_MASK, INPUT_SNMP, L4_DST_PORT, IPV4_DST_ADDR, DST_MASK, OUTPUT_SNMP = 9, 10, 11, 12, 13, 14
IPV4_NEXT_HOP, SRC_AS, DST_AS, LAST_SWITCHED, FIRST_SWITCHED = 15, 16, 17, 21, 22
OUT_BYTES, OUT_PKTS, IPV6_SRC_ADDR, IPV6_DST_ADDR, IPV6_NEXT_HOP = 23, 24, 27, 28, 62

_COMMON = [(INPUT_SNMP, 2), (OUTPUT_SNMP, 2), (IN_PKTS, 4), (IN_BYTES, 4), (OUT_PKTS, 4),
           (OUT_BYTES, 4), (FIRST_SWITCHED, 4), (LAST_SWITCHED, 4), (L4_SRC_PORT, 2),
           (L4_DST_PORT, 2), (TCP_FLAGS, 1), (PROTOCOL, 1), (TOS, 1), (SRC_AS, 4),
           (DST_AS, 4), (SRC_MASK, 1), (DST_MASK, 1)]
# _netflow_v9_record_ipv4_tcp[] / _netflow_v9_record_ipv6_tcp[] in netflow_v9.c
TEMPLATE_FIELDS_V4 = [(IPV4_SRC_ADDR, 4), (IPV4_DST_ADDR, 4), (IPV4_NEXT_HOP, 4)] + _COMMON
TEMPLATE_FIELDS_V6 = [(IPV6_SRC_ADDR, 16), (IPV6_DST_ADDR, 16), (IPV6_NEXT_HOP, 16)] + _COMMON



def milliuptime(t: int) -> int:
    """MILLIUPTIME(t): t * 1000, overflowing like the kernel's 32-bit field."""
    return (t * 1000) & 0xFFFFFFFF


def v9_max_size(mtu: int) -> int:
    """_NETFLOW_V9_MAX_SIZE(mtu): mtu - sizeof(ip6_hdr) - sizeof(udphdr) - 16."""
    return mtu - 40 - 8 - 16


def template_flowset() -> bytes:
    """priv->v9_flowsets[0] as generate_v9_templates() builds it (172 bytes)."""
    size = V9_FLOWSET_HEADER.size + (len(TEMPLATE_FIELDS_V4) + 1) * 4 + (len(TEMPLATE_FIELDS_V6) + 1) * 4
    if size % 4:
        size += 4 - size % 4
    out = bytearray(V9_FLOWSET_HEADER.pack(0, size))
    for tid, fields in ((TEMPLATE_V4, TEMPLATE_FIELDS_V4), (TEMPLATE_V6, TEMPLATE_FIELDS_V6)):
        out += struct.pack("!HH", tid, len(fields))
        for fid, flen in fields:
            out += struct.pack("!HH", fid, flen)
    return bytes(out)


TEMPLATE_FLOWSET = template_flowset()


def _a(addr: str) -> bytes:
    return socket.inet_aton(addr)


def is6(e: Sequence) -> bool:
    """An entry of the IPv6 cache (``flow6_entry``): its addresses are IPv6 text."""
    return ":" in e[SRC]


def _a6(addr: str) -> bytes:
    from ngsim import inet6

    b = inet6.pton(addr)
    if b is None:
        raise ValueError("not an IPv6 address: %r" % addr)
    return b


def v5_record(e: Sequence) -> bytes:
    """export_add(): one struct netflow_v5_record from a flow entry (IPv4 only: expire_flow
    never hands an IPv6 flow to the v5 datagram)."""
    if is6(e):
        raise ValueError("v5 carries IPv4 flows only")
    return V5_RECORD.pack(
        _a(e[SRC]), _a(e[DST]), b"\0\0\0\0",  # next_hop: no route table in the emulator
        e[IIFX] & 0xFFFF, e[OIFX] & 0xFFFF,
        e[PACKETS] & 0xFFFFFFFF, e[BYTES] & 0xFFFFFFFF,
        milliuptime(e[FIRST]), milliuptime(e[LAST]),
        e[SPORT], e[DPORT], 0, e[FLAGS] & 0xFF, e[PROTO], e[TOSI],
        0, 0,  # src_as, dst_as: "Not supported fields"
        0, 0,  # src_mask, dst_mask: no route lookup result
        0)


def v5_datagram(records: Sequence[Sequence], uptime: int, unix_secs: int, unix_nsecs: int,
                flow_seq: int, engine_id: int = 0) -> bytes:
    """export_send(): header + records. ``flow_seq`` is the value before fetchadd."""
    head = V5_HEADER.pack(NETFLOW_V5, len(records), milliuptime(uptime), unix_secs & 0xFFFFFFFF,
                          unix_nsecs, flow_seq & 0xFFFFFFFF, 0, engine_id & 0xFF, 0)
    return head + b"".join(v5_record(e) for e in records)


def v9_record(e: Sequence) -> bytes:
    """export9_add(): case NETFLOW_V9_FLOW_V4_L4 (every IPv4 flow) or, for an IPv6 entry,
    NETFLOW_V9_FLOW_V6_L4 (every IPv6 flow)."""
    if is6(e):
        return v9_record6(e)
    return V9_REC_V4.pack(
        _a(e[SRC]), _a(e[DST]), b"\0\0\0\0",
        e[IIFX] & 0xFFFF, e[OIFX] & 0xFFFF,
        e[PACKETS] & 0xFFFFFFFF, e[BYTES] & 0xFFFFFFFF, 0, 0,  # o_packets/o_octets: htonl(0)
        milliuptime(e[FIRST]), milliuptime(e[LAST]),
        e[SPORT], e[DPORT], e[FLAGS] & 0xFF, e[PROTO], e[TOSI],
        0, 0, 0, 0)


def v9_record6(e: Sequence) -> bytes:
    """export9_add(), case NETFLOW_V9_FLOW_V6_L4: struct netflow_v9_record_ipv6_tcp. The
    next hop is fed6->n.next_hop6 (no routing table: ::), tos is r_tos, which
    ng_netflow_flow6_add never sets (``#if 0``): always 0."""
    return V9_REC_V6.pack(
        _a6(e[SRC]), _a6(e[DST]), b"\0" * 16,
        e[IIFX] & 0xFFFF, e[OIFX] & 0xFFFF,
        e[PACKETS] & 0xFFFFFFFF, e[BYTES] & 0xFFFFFFFF, 0, 0,
        milliuptime(e[FIRST]), milliuptime(e[LAST]),
        e[SPORT], e[DPORT], e[FLAGS] & 0xFF, e[PROTO], e[TOSI],
        0, 0, 0, 0)


def flow_type(e: Sequence) -> int:
    """fed->r.flow_type: NETFLOW_V9_FLOW_V4_L4 or NETFLOW_V9_FLOW_V6_L4."""
    return FLOW_V6_L4 if is6(e) else FLOW_V4_L4


def _types(recs) -> list:
    if isinstance(recs, int):
        return [FLOW_V4_L4] * recs
    return [flow_type(e) for e in recs]


def v9_length(templ: bool, recs) -> int:
    """m_pktlen() of a v9 datagram being filled, after export9_add() appended ``recs`` (a
    list of flow entries, or a number of IPv4 ones): a record of another flow type pads
    the open flowset (close_flowset) and appends a new flowset header; the last flowset
    is not padded yet."""
    n = V9_HEADER.size + (len(TEMPLATE_FLOWSET) if templ else 0)
    cur, header = 0, n
    for t in _types(recs):
        if t != cur:
            if cur:
                n += (4 - (n - header) % 4) % 4
            cur, header = t, n
            n += V9_FLOWSET_HEADER.size
        n += V9_REC_V6.size if t == FLOW_V6_L4 else V9_REC_V4.size
    return n


def v9_full(templ: bool, recs, mtu: int) -> bool:
    """export9_add()'s end-of-datagram test after adding the last of ``recs``."""
    return v9_length(templ, recs) + V9_RECORD_GENERAL + V9_FLOWSET_HEADER.size >= v9_max_size(mtu)


def v9_datagram(records: Sequence[Sequence], templ: bool, uptime: int, unix_secs: int,
                seq: int, source_id: int = 0) -> bytes:
    """export9_send(): header (count includes the 2 template records), flowsets."""
    count = (TEMPLATE_RECORDS if templ else 0) + len(records)
    out = bytearray(V9_HEADER.pack(NETFLOW_V9, count, milliuptime(uptime), unix_secs & 0xFFFFFFFF,
                                   seq & 0xFFFFFFFF, source_id))
    if templ:
        out += TEMPLATE_FLOWSET
    runs: list = []  # [flow_type, [records]]: one data flowset each
    for e in records:
        t = flow_type(e)
        if not runs or runs[-1][0] != t:
            runs.append([t, []])
        runs[-1][1].append(e)
    for t, recs in runs:
        body = b"".join(v9_record(e) for e in recs)
        length = V9_FLOWSET_HEADER.size + len(body)
        pad = (4 - length % 4) % 4  # close_flowset: RFC 3954 clause 5.3
        out += V9_FLOWSET_HEADER.pack(MAX_RESERVED_FLOWSET + t, length + pad) + body + b"\0" * pad
    return bytes(out)


# ----- decoders (tests and the summary use them) ---------------------------------------

def decode_v5(data: bytes) -> dict:
    h = V5_HEADER.unpack_from(data)
    keys = ("version", "count", "sys_uptime", "unix_secs", "unix_nsecs", "flow_seq",
            "engine_type", "engine_id", "sampling")
    out = dict(zip(keys, h))
    recs = []
    for i in range(out["count"]):
        r = V5_RECORD.unpack_from(data, V5_HEADER.size + i * V5_RECORD.size)
        recs.append({"src": socket.inet_ntoa(r[0]), "dst": socket.inet_ntoa(r[1]),
                     "nexthop": socket.inet_ntoa(r[2]), "input": r[3], "output": r[4],
                     "packets": r[5], "bytes": r[6], "first": r[7], "last": r[8],
                     "sport": r[9], "dport": r[10], "tcp_flags": r[12], "proto": r[13],
                     "tos": r[14]})
    out["records"] = recs
    return out


def _v9_records(body: bytes, rec: struct.Struct, ntop) -> list[dict]:
    """The data records of one v9 data flowset (template 256 or 257)."""
    records = []
    for i in range(len(body) // rec.size):
        r = rec.unpack_from(body, i * rec.size)
        records.append({
            "src": ntop(r[0]), "dst": ntop(r[1]),
            "nexthop": ntop(r[2]), "input": r[3], "output": r[4],
            "packets": r[5], "bytes": r[6], "first": r[9], "last": r[10],
            "sport": r[11], "dport": r[12], "tcp_flags": r[13], "proto": r[14],
            "tos": r[15]})
    return records


def decode_v9(data: bytes) -> dict:
    h = V9_HEADER.unpack_from(data)
    out = dict(zip(("version", "count", "sys_uptime", "unix_secs", "seq", "source_id"), h))
    off = V9_HEADER.size
    out["templates"] = {}
    out["records"] = []
    out["flowsets"] = []
    while off + 4 <= len(data):
        fid, length = V9_FLOWSET_HEADER.unpack_from(data, off)
        out["flowsets"].append((fid, length))
        body = data[off + 4: off + length]
        if fid == 0:
            p = 0
            while p + 4 <= len(body):
                tid, n = struct.unpack_from("!HH", body, p)
                p += 4
                fields = [struct.unpack_from("!HH", body, p + 4 * i) for i in range(n)]
                p += 4 * n
                out["templates"][tid] = fields
        elif fid == TEMPLATE_V4:
            out["records"].extend(_v9_records(body, V9_REC_V4, socket.inet_ntoa))
        elif fid == TEMPLATE_V6:
            from ngsim import inet6

            out["records"].extend(_v9_records(body, V9_REC_V6, inet6.ntop))
        if length < 4:
            break
        off += length
    return out
