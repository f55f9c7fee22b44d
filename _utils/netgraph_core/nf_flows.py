"""ng_netflow's flow cache as FreeBSD hands it out: the NGM_NETFLOW_SHOW message and the
text flowctl(8) prints from it (pure; no Salt, no ngsim).

What FreeBSD offers, read in the sources (FreeBSD 14: sobomax/freebsd14_vendor @
0f7ff3427c99afe8b7a0ccf8638dc10aed02c3f8; main: fel1x-developer/freebsd-src @
2d614aa2fe3e037bd11d351b0b5cfda776e65814; identical in what is used here):

* ``sys/netgraph/netflow/ng_netflow.h``: ``NGM_NETFLOW_SHOW = 3|NGM_READONLY|NGM_HASREPLY``
  (805306371), cookie ``NGM_NETFLOW_COOKIE`` 1365756954; ``struct ngnf_show_header``
  (request and reply header), ``struct flow_entry_data`` / ``flow6_entry_data`` (the
  entries after the reply header, distinguished by the header's ``version``: 4 or 6),
  ``NREC_AT_ONCE`` 1000 (IPv6: ``NREC6_AT_ONCE`` = 1000 * 72 / 112 = 642),
  ``NGRESP_SIZE``.
* ``sys/netgraph/netflow/ng_netflow.c``: ``ng_netflow_cmds[]`` has **no** ``show`` entry,
  so the message has no ASCII form at all: ``ngctl msg NODE: show ...`` fails in
  NGM_ASCII2BINARY (``sys/netgraph/ng_base.c``: a name neither the type nor ng_base knows
  is ENOSYS) with ``ngctl: send msg: Function not implemented`` before the node sees
  anything; there is no ngctl reply (ASCII or hex dump) to parse. The rcvmsg case: arglen
  must be exactly ``sizeof(struct ngnf_show_header)`` (else EINVAL); the reply is
  ``NG_MKRESPONSE(resp, msg, NGRESP_SIZE)`` (zero-filled, always 72016 bytes).
* ``sys/netgraph/netflow/netflow.c`` ``ng_netflow_flow_show()``: hash_id above 65535 or a
  version other than 4/6 is EINVAL; from bucket ``hash_id`` on, entries are copied in list
  order, positions counted from 1 per bucket, positions below the request's ``list_id``
  skipped (and ``list_id`` is reset only once an entry is copied); after the per-reply
  maximum the reply carries ``hash_id`` = that bucket and ``list_id`` = position + 1; at
  the end both are 0. ``hash_insert()``: ``version`` = 4 (IPVERSION), ``first`` = ``last``
  = ``time_uptime`` (**seconds since boot**, the kernel's own unit here; only the v5/v9
  export turns them into milliseconds), ``fle_o_ifx``/``next_hop``/``dst_mask`` from the
  route of the destination, ``src_mask`` from the source's (unless NODSTLOOKUP /
  NOSRCLOOKUP). ``ip_hash()``: the bucket of a flow (FULL_HASH for TCP/UDP, else
  ADDR_HASH; IPv6 uses the last 32 bits of the addresses).
* ``usr.sbin/flowctl/flowctl.c``: ``flowctl PATH show [ipv4|ipv6] [verbose|human]`` sends
  ``{version, 0, 0}``, prints each reply, continues with the reply's hash_id/list_id while
  the reply's hash_id is not 0; its printf formats (``CISCO_SH_FLOW*``) are what
  :func:`parse_flowctl` reads; interfaces are ``if_indextoname()`` names, ``(null)`` for
  an index no interface has (0 included).

Two kernel/flowctl walk defects the sources show, and what this module does about them:

1. The ``list_id`` carry-over: when a full reply ends on the **last** entry of bucket B
   (position P), the next request (B, P+1) finds nothing in B, keeps ``list_id`` = P+1
   and skips the first P entries of every following bucket until one has P+1 entries. With
   a sparse hash (one flow per bucket) nearly everything after the first 1000 flows is
   lost. flowctl prints the truncated list; :func:`walk` notices (the first entry of a
   (B, L>0) reply does not hash to B, or the reply is empty) and asks again from (B+1, 0).
2. flowctl stops when a reply's hash_id is 0, also when a full reply ended in bucket 0
   (hash_id 0, list_id > 0); :func:`parse_show_reply` reports ``more`` unless both are 0.

Layouts (LP64 little-endian: amd64, arm64; ``u_long``/``long`` are 8 bytes; addresses and
ports in network order, everything else host order):

``struct ngnf_show_header`` (16 bytes): 0 u_char version, 1-3 pad, 4 uint32 hash_id,
8 uint32 list_id, 12 uint32 nentries.

``struct flow_entry_data`` (72 bytes): 0 uint16 version, 2 pad, 4 uint16 r.flow_type,
6 uint16 r.fib, 8 r_src, 12 r_dst, 16 r_sport, 18 r_dport, 20 u_char r_ip_p, 21 u_char
r_tos, 22 uint16 r_i_ifx, 24 next_hop, 28 uint16 fle_o_ifx, 30 uint8 dst_mask, 31 uint8
src_mask, 32 u_long packets, 40 u_long bytes, 48 long first, 56 long last, 64 u_char
tcp_flags, 65-71 pad.

``struct flow6_entry_data`` (112 bytes): 0 version, 4 flow_type, 6 fib, 8 src6 (16),
24 dst6 (16), 40 sport, 42 dport, 44 prot, 45 tos, 46 i_ifx, 48 next_hop6 (16),
64 fle_o_ifx, 66 dst_mask, 67 src_mask, 72 packets, 80 bytes, 88 first, 96 last,
104 tcp_flags, 105-111 pad.

A flow parsed from the binary reply (:func:`parse_show_reply`)::

    {"version": 4, "flow_type": 1, "fib": 0, "src": "10.0.0.1", "dst": "192.0.2.7",
     "sport": 40000, "dport": 443, "proto": 6, "tos": 0, "iface_in": 1, "iface_out": 3,
     "nexthop": "0.0.0.0", "src_mask": 0, "dst_mask": 0, "packets": 5, "bytes": 1500,
     "first": 12, "last": 14, "tcp_flags": 18}

(``iface_in``/``iface_out`` are interface indexes; ``first``/``last`` seconds since boot.)

A flow parsed from flowctl's text (:func:`parse_flowctl`) has what flowctl prints:
``version``, ``ifname_in``/``ifname_out`` (names, ``None`` for ``(null)``), ``src``,
``dst``, ``proto``, ``sport``, ``dport``, ``packets``; ``verbose`` adds ``tos``,
``tcp_flags``, ``src_mask``, ``dst_mask``, ``nexthop`` and ``bytes_per_packet``
(``bytes / packets`` truncated; flowctl prints no byte total, no times, and constant 0
for the AS and Active columns, which are left out).
"""
from __future__ import annotations

import ipaddress
import struct

NGM_READONLY = 0x10000000
NGM_HASREPLY = 0x20000000
NGM_NETFLOW_COOKIE = 1365756954
NGM_NETFLOW_SHOW = 3 | NGM_READONLY | NGM_HASREPLY  # 805306371
NBUCKETS = 65536
SHOW_HEADER_SIZE = 16
FLOW_ENTRY_SIZE = 72
FLOW6_ENTRY_SIZE = 112
NREC_AT_ONCE = 1000
NREC6_AT_ONCE = NREC_AT_ONCE * FLOW_ENTRY_SIZE // FLOW6_ENTRY_SIZE  # 642
NGRESP_SIZE = SHOW_HEADER_SIZE + NREC_AT_ONCE * FLOW_ENTRY_SIZE  # 72016

_HEADER = struct.Struct("<B3xIII")
_ENTRY4 = struct.Struct("<H2xHH4s4s2s2sBBH4sHBBQQqqB7x")
_ENTRY6 = struct.Struct("<H2xHH16s16s2s2sBBH16sHBB4xQQqqB7x")
_ENTRY_SIZE = {4: FLOW_ENTRY_SIZE, 6: FLOW6_ENTRY_SIZE}
_MAX_ENTRIES = {4: NREC_AT_ONCE, 6: NREC6_AT_ONCE}


# ---------------------------------------------------------------------------
# The binary message
# ---------------------------------------------------------------------------

def show_request(version=4, hash_id=0, list_id=0):
    """The NGM_NETFLOW_SHOW argument (struct ngnf_show_header, 16 bytes) asking for the
    entries of IP ``version`` from bucket ``hash_id``, list position ``list_id``;
    ``nentries`` is sent as 0. flowctl's first request is ``show_request(4)``."""
    if version not in (4, 6):
        raise ValueError(f"version must be 4 or 6, not {version!r}")
    for name, value in (("hash_id", hash_id), ("list_id", list_id)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"{name} must be an unsigned 32-bit integer, not {value!r}")
    if hash_id > NBUCKETS - 1:
        raise ValueError(f"hash_id {hash_id} is past the last bucket ({NBUCKETS - 1}): EINVAL")
    return _HEADER.pack(version, hash_id, list_id, 0)


def parse_show_reply(data):
    """Parse a reply's argument bytes (what NgRecvMsg puts after the ng_mesg header).

    Returns ``{"version": 4|6, "hash_id": int, "list_id": int, "more": bool,
    "next": {"version", "hash_id", "list_id"} | None, "flows": [flow, ...]}``; ``next``
    is what to pass to :func:`show_request` for the following reply (None at the end).
    Trailing bytes after the entries are ignored (the kernel always sends NGRESP_SIZE).
    Raises ValueError on anything that cannot be such a reply."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < SHOW_HEADER_SIZE:
        raise ValueError(f"reply of {len(data)} bytes is shorter than its 16-byte header")
    version, hash_id, list_id, nentries = _HEADER.unpack_from(data)
    if version not in (4, 6):
        raise ValueError(f"reply version {version} is neither 4 nor 6")
    if hash_id > NBUCKETS - 1:
        raise ValueError(f"reply hash_id {hash_id} is past the last bucket")
    if nentries > _MAX_ENTRIES[version]:
        raise ValueError(f"{nentries} entries; an IPv{version} reply holds at most "
                         f"{_MAX_ENTRIES[version]}")
    size = _ENTRY_SIZE[version]
    need = SHOW_HEADER_SIZE + nentries * size
    if len(data) < need:
        raise ValueError(f"reply of {len(data)} bytes is too short for {nentries} entries "
                         f"({need} bytes)")
    flows = [_entry(data, SHOW_HEADER_SIZE + i * size, version, i) for i in range(nentries)]
    more = not (hash_id == 0 and list_id == 0)
    return {
        "version": version,
        "hash_id": hash_id,
        "list_id": list_id,
        "more": more,
        "next": {"version": version, "hash_id": hash_id, "list_id": list_id} if more else None,
        "flows": flows,
    }


def _entry(data, off, version, index):
    if version == 4:
        fields = _ENTRY4.unpack_from(data, off)
        family = ipaddress.IPv4Address
    else:
        fields = _ENTRY6.unpack_from(data, off)
        family = ipaddress.IPv6Address
    (ever, flow_type, fib, src, dst, sport, dport, proto, tos, iifx, nexthop, oifx, dmask,
     smask, packets, nbytes, first, last, flags) = fields
    if ever != version:
        raise ValueError(f"entry {index}: version field {ever}, the reply is IPv{version}")
    return {
        "version": version,
        "flow_type": flow_type,
        "fib": fib,
        "src": str(family(src)),
        "dst": str(family(dst)),
        "sport": int.from_bytes(sport, "big"),
        "dport": int.from_bytes(dport, "big"),
        "proto": proto,
        "tos": tos,
        "iface_in": iifx,
        "iface_out": oifx,
        "nexthop": str(family(nexthop)),
        "src_mask": smask,
        "dst_mask": dmask,
        "packets": packets,
        "bytes": nbytes,
        "first": first,
        "last": last,
        "tcp_flags": flags,
    }


def _bswap16(v):
    v &= 0xFFFF
    return ((v << 8) | (v >> 8)) & 0xFFFF


def flow_bucket(flow):
    """The hash bucket the kernel keeps ``flow`` in (``ip_hash``/``ip6_hash`` of
    netflow.c, as computed on a little-endian host): FULL_HASH for TCP and UDP, else
    ADDR_HASH. ``flow`` is a dict as :func:`parse_show_reply` returns."""
    packed = (ipaddress.ip_address(flow["src"]).packed, ipaddress.ip_address(flow["dst"]).packed)
    a1, a2 = (int.from_bytes(p[-4:], "little") for p in packed)
    h = a1 ^ (a1 >> 16) ^ _bswap16(a2 ^ (a2 >> 16))
    if flow["proto"] in (6, 17):
        # port1 is r_sport as stored (network order read as a host integer);
        # htons(port2) turns the stored r_dport back into the port number.
        h ^= _bswap16(flow["sport"]) ^ flow["dport"]
    return h & (NBUCKETS - 1)


def walk(send, version=4, max_requests=1_000_000):
    """Read the whole IPv``version`` cache: ``send(request_bytes)`` must deliver one
    NGM_NETFLOW_SHOW to the node and return the reply's argument bytes (e.g. through
    libnetgraph's NgSendMsg/NgRecvMsg). Returns the flows in kernel order.

    Like flowctl, but it does not lose flows to the kernel's ``list_id`` carry-over (see
    the module docstring): a reply to (B, L > 0) whose first entry is not in bucket B, or
    that is empty, is dropped and (B + 1, 0) asked instead. Flows that expire or arrive
    between two replies can be missed or seen twice, as with flowctl."""
    flows = []
    hash_id = list_id = 0
    for _ in range(max_requests):
        reply = parse_show_reply(send(show_request(version, hash_id, list_id)))
        if reply["version"] != version:
            raise ValueError(f"asked for IPv{version}, got an IPv{reply['version']} reply")
        if list_id > 0 and (not reply["flows"] or flow_bucket(reply["flows"][0]) != hash_id):
            if hash_id == NBUCKETS - 1:
                return flows
            hash_id, list_id = hash_id + 1, 0
            continue
        flows.extend(reply["flows"])
        if not reply["more"]:
            return flows
        hash_id, list_id = reply["hash_id"], reply["list_id"]
    raise ValueError(f"no end of the flow cache after {max_requests} requests")


# ---------------------------------------------------------------------------
# flowctl(8)
# ---------------------------------------------------------------------------

def flowctl_argv(path, version=None, style="plain"):
    """``flowctl PATH show [ipv4|ipv6] [verbose|human]`` as an argv (without the program
    path). ``version`` None shows both families (flowctl's default on a kernel with INET
    and INET6); ``style`` is ``plain``, ``verbose`` or ``human``."""
    if not isinstance(path, str) or not path or ":" not in path or any(c.isspace() for c in path):
        raise ValueError(f"not a netgraph node path: {path!r} (e.g. 'netflow:')")
    if len(path.encode()) > 511:
        raise ValueError("netgraph paths are at most 511 bytes")
    argv = ["flowctl", path, "show"]
    if version == 4:
        argv.append("ipv4")
    elif version == 6:
        argv.append("ipv6")
    elif version is not None:
        raise ValueError(f"version must be 4, 6 or None, not {version!r}")
    if style in ("verbose", "human"):
        argv.append(style)
    elif style != "plain":
        raise ValueError(f"style must be plain, verbose or human, not {style!r}")
    return argv


# Headers: (style, version) -> the header line(s) of flowctl.c, trailing blanks removed.
_HEADERS = {
    ("plain", 4): ("SrcIf         SrcIPaddress    DstIf         DstIPaddress    "
                   "Pr SrcP DstP  Pkts",),
    ("human", 4): ("SrcIf         SrcIPaddress    DstIf         DstIPaddress    "
                   "Proto  SrcPort  DstPort     Pkts",),
    ("plain", 6): ("SrcIf         SrcIPaddress                   DstIf         "
                   "DstIPaddress                   Pr SrcP DstP  Pkts",),
    ("human", 6): ("SrcIf         SrcIPaddress                         DstIf         "
                   "DstIPaddress                         Proto  SrcPort  DstPort     Pkts",),
    ("verbose", 4): ("SrcIf          SrcIPaddress    DstIf          DstIPaddress    "
                     "Pr TOS Flgs  Pkts",
                     "Port Msk AS                    Port Msk AS    NextHop              "
                     "B/Pk  Active"),
    ("verbose", 6): ("SrcIf          SrcIPaddress                   DstIf          "
                     "DstIPaddress                   Pr TOS Flgs  Pkts",
                     "Port Msk AS                    Port Msk AS    NextHop"
                     "                             B/Pk  Active"),
}
# The IPv4 and IPv6 headers differ only in their column widths: compared exactly (after
# stripping the line's leading and trailing blanks, which pastes add or lose).
_FIRST_HEADER = {lines[0]: key for key, lines in _HEADERS.items()}


def _int(token, base, what, lineno, limit):
    try:
        if not token or token[0] in "+-" or token != token.strip():
            raise ValueError
        value = int(token, base)
    except ValueError:
        raise ValueError(f"line {lineno}: {what} {token!r} is not a "
                         f"{'hexadecimal' if base == 16 else 'decimal'} number") from None
    if value > limit:
        raise ValueError(f"line {lineno}: {what} {value} is out of range")
    return value


def _addr(token, version, what, lineno):
    try:
        addr = ipaddress.ip_address(token)
    except ValueError:
        raise ValueError(f"line {lineno}: {what} {token!r} is not an address") from None
    if addr.version != version:
        raise ValueError(f"line {lineno}: {what} {token!r} is not IPv{version}")
    return str(addr)


def _ifname(token):
    return None if token == "(null)" else token


def _columns(tokens, version, lineno, fields):
    """The eight columns every flowctl row has: in/out interface and address, protocol,
    then ``fields`` (three (key, base, what, limit)), then the packet count."""
    if len(tokens) != 8:
        raise ValueError(f"line {lineno}: expected 8 columns, got {len(tokens)}")
    row = {
        "version": version,
        "ifname_in": _ifname(tokens[0]),
        "src": _addr(tokens[1], version, "source", lineno),
        "ifname_out": _ifname(tokens[2]),
        "dst": _addr(tokens[3], version, "destination", lineno),
        "proto": _int(tokens[4], 10, "protocol", lineno, 255),
    }
    for token, (key, base, what, limit) in zip(tokens[5:7], fields):
        row[key] = _int(token, base, what, lineno, limit)
    row["packets"] = _int(tokens[7], 10, "packet count", lineno, 2**64 - 1)
    return row


def _row(tokens, version, style, lineno):
    base = 10 if style == "human" else 16
    return _columns(tokens, version, lineno, (("sport", base, "source port", 65535),
                                              ("dport", base, "destination port", 65535)))


def _verbose_first(tokens, version, lineno):
    return _columns(tokens, version, lineno, (("tos", 16, "TOS", 255), ("tcp_flags", 16, "TCP flags", 255)))


def _verbose_second(flow, tokens, lineno):
    if len(tokens) != 9:
        raise ValueError(f"line {lineno}: expected 9 columns in a verbose flow's second "
                         f"line, got {len(tokens)}")
    masks = []
    for tok in (tokens[1], tokens[4]):
        if not tok.startswith("/"):
            raise ValueError(f"line {lineno}: mask {tok!r} does not start with '/'")
        masks.append(_int(tok[1:], 10, "mask", lineno, 128))
    flow["sport"] = _int(tokens[0], 16, "source port", lineno, 65535)
    flow["src_mask"] = masks[0]
    flow["dport"] = _int(tokens[3], 16, "destination port", lineno, 65535)
    flow["dst_mask"] = masks[1]
    flow["nexthop"] = _addr(tokens[6], flow["version"], "next hop", lineno)
    flow["bytes_per_packet"] = _int(tokens[7], 10, "bytes per packet", lineno, 2**32 - 1)
    for tok, what in ((tokens[2], "source AS"), (tokens[5], "destination AS"),
                      (tokens[8], "Active")):
        _int(tok, 10, what, lineno, 2**32 - 1)
    return flow


def parse_flowctl(text):
    """Parse what ``flowctl PATH show [ipv4|ipv6] [verbose|human]`` prints.

    Returns ``{"style": "plain"|"human"|"verbose"|None, "flows": [flow, ...]}`` (``None``
    when there is no header: flowctl printed no flow). A pasted capture's leading prompt
    line (one that names flowctl) and trailing blanks are tolerated; anything else that is
    not a flowctl header or row raises ValueError."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        raise ValueError(f"expected text, got {type(text).__name__}")
    lines = text.replace("\r\n", "\n").split("\n")
    numbered = [(i + 1, line.rstrip()) for i, line in enumerate(lines)]
    while numbered and not numbered[0][1].strip():
        numbered.pop(0)
    if numbered and "flowctl" in numbered[0][1] and numbered[0][1].strip() not in _FIRST_HEADER:
        numbered.pop(0)
    style = None
    section = None  # (style, version) of the last header
    pending = None  # a verbose flow waiting for its second line
    flows = []
    expect_second_header = None
    for lineno, line in numbered:
        if not line.strip():
            if expect_second_header:
                raise ValueError(f"line {lineno}: verbose header cut after its first line")
            continue
        norm = line.strip()
        if expect_second_header is not None:
            if norm != expect_second_header:
                raise ValueError(f"line {lineno}: expected the second verbose header line")
            expect_second_header = None
            continue
        key = _FIRST_HEADER.get(norm)
        if key is not None:
            if pending is not None:
                raise ValueError(f"line {lineno}: header inside a verbose flow")
            if style is not None and key[0] != style:
                raise ValueError(f"line {lineno}: a {key[0]} header after {style} output "
                                 "(one flowctl run prints one style)")
            style, section = key[0], key
            if key[0] == "verbose":
                expect_second_header = _HEADERS[key][1]
            continue
        if section is None:
            raise ValueError(f"line {lineno}: not a flowctl header: {line.strip()[:60]!r}")
        tokens = line.split()
        if section[0] != "verbose":
            flows.append(_row(tokens, section[1], section[0], lineno))
        elif pending is None:
            pending = _verbose_first(tokens, section[1], lineno)
        else:
            flows.append(_verbose_second(pending, tokens, lineno))
            pending = None
    if expect_second_header is not None:
        raise ValueError("verbose header cut after its first line")
    if pending is not None:
        raise ValueError("verbose flow without its second line")
    return {"style": style, "flows": flows}
