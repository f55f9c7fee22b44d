"""IPv6 in ngsim: frames, ng_netflow's IPv6 cache, NetFlow v9 IPv6 records, flowctl's IPv6
walk and ng_ksocket's inet6 sockets, against layouts written by hand from FreeBSD's
structs and the code paths read for them.

Sources (FreeBSD main, fel1x-developer/freebsd-src @ 2d614aa2fe3e037bd11d351b0b5cfda776e65814;
see ngsim/README.md and tests/data/captures/SOURCES.md): sys/netgraph/netflow/netflow.c
(ng_netflow_flow6_add, hash6_insert, ip6_hash, expire_flow, ng_netflow_expire,
ng_netflow_flow_show), ng_netflow.c (ng_netflow_rcvdata), ng_netflow.h (struct flow6_rec,
flow6_entry_data, ng_netflow_info), netflow_v9.h (struct netflow_v9_record_ipv6_tcp),
netflow_v9.c (_netflow_v9_record_ipv6_tcp[], export9_add, close_flowset),
sys/netgraph/ng_ksocket.c, sys/netgraph/ng_parse.c, sys/netinet6/udp6_usrreq.c,
sys/netinet6/in6_pcb.c, lib/libc/inet/inet_ntop.c, usr.sbin/flowctl/flowctl.c.
"""
from __future__ import annotations

import argparse
import io
import json
import pathlib
import shutil
import socket
import struct
import subprocess
import sys
import time

import pytest

from ngsim import cli, export as nfx, flow, inet6, netflow_cache as nfc, state, traffic

from tests.support.nfcapd import Nfcapd46, free_port
from ngsim.base import Kernel
from ngsim.errors import NgError
from ngsim.flowctl import flowctl_main
from ngsim.ngctl import Ngctl
from ngsim.types import netflow as nfm
from ngsim.testing import hex_bytes
from ngsim.types.ksocket import SOCKADDR, generic_inet6, generic_text, sa_bytes

REPO = pathlib.Path(__file__).resolve().parents[3]


h = hex_bytes  # hex words as in the sources' dumps, comments after them


# ----- inet_ntop6 (lib/libc/inet/inet_ntop.c) ---------------------------------------------

@pytest.mark.parametrize("words,text", [
    ([0] * 8, "::"),
    ([0] * 7 + [1], "::1"),
    ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10], "2001:db8::10"),
    # "best.len == 7 && words[7] != 0x0001" is tested at i == 6, inside that run: never true
    ([0] * 7 + [2], "::2"),
    ([0] * 5 + [0xffff, 0x102, 0x304], "::ffff:1.2.3.4"),
    ([0] * 6 + [0x102, 0x304], "::1.2.3.4"),
    ([1, 0, 0, 1, 0, 0, 0, 1], "1:0:0:1::1"),  # the longest run
    ([1, 0, 0, 1, 0, 0, 1, 1], "1::1:0:0:1:1"),  # a tie: the first run
    ([1, 0, 1, 1, 1, 1, 1, 1], "1:0:1:1:1:1:1:1"),  # one zero word is not compressed
    ([0xfe80, 0, 0, 0, 0, 0, 0, 1], "fe80::1"),
    ([1, 0, 0, 0, 0, 0, 0, 0], "1::"),
])
def test_ntop_is_freebsd_inet_ntop6(words, text):
    b = struct.pack("!8H", *words)
    assert inet6.ntop(b) == text
    assert inet6.pton(text) == b


# ----- NetFlow v9 IPv6 records (netflow_v9.h, netflow_v9.c) -----------------------------------

# src, dst, sport, dport, proto, tos, i_ifx, o_ifx, packets, bytes, first, last, tcp_flags
FLOW4 = ["10.0.0.1", "192.0.2.200", 1234, 80, 6, 0x10, 1, 2, 3, 300, 5, 9, 0x1B]
FLOW6 = ["2001:db8::10", "2001:db8::20", 1234, 443, 6, 0, 1, 2, 3, 600, 5, 9, 0x1B]


def test_v9_record_is_struct_netflow_v9_record_ipv6_tcp():
    # struct netflow_v9_record_ipv6_tcp (packed, 93 bytes with 32-bit CNTR), export9_add()
    # case NETFLOW_V9_FLOW_V6_L4
    expected = h("""
        20010db8000000000000000000000010   src_addr (IPV6_SRC_ADDR)
        20010db8000000000000000000000020   dst_addr
        00000000000000000000000000000000   next_hop = fed6->n.next_hop6 (no route: ::)
        0001 0002                          i_ifx, o_ifx
        00000003 00000258                  i_packets, i_octets
        00000000 00000000                  o_packets, o_octets = htonl(0)
        00001388 00002328                  first, last = MILLIUPTIME(5), MILLIUPTIME(9)
        04d2 01bb                          s_port, d_port
        1b 06 00                           flags, prot, tos
        00000000 00000000                  src_as, dst_as (not supported)
        00 00                              src_mask, dst_mask
    """)
    assert len(expected) == 93 == nfx.V9_RECORD_GENERAL
    assert nfx.v9_record(FLOW6) == expected
    assert nfx.v9_record6(FLOW6) == expected


def test_v9_template_259_is_netflow_v9_record_ipv6_tcp_fields():
    # _netflow_v9_record_ipv6_tcp[] in the template flowset: id 255 + 4, 20 fields
    fs = nfx.TEMPLATE_FLOWSET
    off = 4 + 4 + 20 * 4  # flowset header, then template 256 (header + 20 fields)
    assert struct.unpack_from("!HH", fs, off) == (259, 20)
    fields = [struct.unpack_from("!HH", fs, off + 4 + 4 * i) for i in range(20)]
    assert fields == [(27, 16), (28, 16), (62, 16), (10, 2), (14, 2), (2, 4), (1, 4), (24, 4),
                      (23, 4), (22, 4), (21, 4), (7, 2), (11, 2), (6, 1), (4, 1), (5, 1),
                      (16, 4), (17, 4), (9, 1), (13, 1)]
    assert sum(ln for _, ln in fields) == 93


def test_mixed_records_alternate_flowsets_each_padded():
    # export9_add(): a record of another flow_type closes the open flowset (close_flowset
    # pads it to 4) and opens a new one with id 255 + flow_type
    d = nfx.v9_datagram([FLOW4, FLOW6, FLOW6, FLOW4], templ=False, uptime=1, unix_secs=2, seq=3)
    assert d[:20] == h("0009 0004 000003e8 00000002 00000003 00000000")
    assert d[20:24] == h("0100 0040")  # 4 + 57 = 61 -> 64
    assert d[24:81] == nfx.v9_record(FLOW4) and d[81:84] == b"\0\0\0"
    assert d[84:88] == h("0103 00c0")  # 4 + 2 * 93 = 190 -> 192
    assert d[88:181] == nfx.v9_record(FLOW6) and d[181:274] == nfx.v9_record(FLOW6)
    assert d[274:276] == b"\0\0"
    assert d[276:280] == h("0100 0040")
    assert len(d) == 340
    dec = nfx.decode_v9(d)
    assert dec["flowsets"] == [(256, 64), (259, 192), (256, 64)]
    assert [r["src"] for r in dec["records"]] == ["10.0.0.1", "2001:db8::10", "2001:db8::10",
                                                  "10.0.0.1"]
    # m_pktlen while filling: the pad of a closed flowset counts, the open one is unpadded
    assert nfx.v9_length(False, [FLOW4, FLOW6]) == 20 + 64 + 4 + 93


def test_v9_full_with_ipv6_records():
    # full when m_pktlen + 93 + 4 >= mtu - 64 (1436 at MTU 1500)
    def per_datagram(templ, entry):
        n = 1
        while not nfx.v9_full(templ, [entry] * n, 1500):
            n += 1
        return n

    assert per_datagram(False, FLOW6) == 15  # 24 + 15 * 93 = 1419; + 97 >= 1436
    assert per_datagram(True, FLOW6) == 13  # 196 + 13 * 93 = 1405
    assert per_datagram(True, FLOW4) == 21  # unchanged for IPv4
    assert nfx.v9_full(True, 21, 1500)  # a count still means IPv4 records


def test_v5_never_carries_ipv6():
    with pytest.raises(ValueError):
        nfx.v5_record(FLOW6)


# ----- frames: ng_netflow_rcvdata's IPv6 parsing ---------------------------------------------

ETH6 = h("0200000000aa 020000000001 86dd")


def ip6hdr(nxt: int, plen: int, src="2001:db8::10", dst="2001:db8::20", tclass=0) -> bytes:
    return struct.pack("!IHBB16s16s", (6 << 28) | (tclass << 20), plen, nxt, 64,
                       inet6.pton(src), inet6.pton(dst))


TCP = struct.pack("!HHIIBBHHH", 1234, 443, 1, 0, 0x50, 0x12, 65535, 0, 0)


def test_parse_ipv6_tcp_fields():
    rec = nfm._parse(ETH6 + ip6hdr(6, 20 + 10, tclass=0xb8) + TCP + b"\0" * 10, nfm.DLT_EN10MB)
    assert rec == {"v": 6, "src": "2001:db8::10", "dst": "2001:db8::20", "proto": 6,
                   "tos": 0,  # r_tos is never set for IPv6 (#if 0)
                   "plen": 70, "sport": 1234, "dport": 443, "flags": 0x12}


def test_parse_ipv6_walks_extension_headers():
    hbh = bytes([60, 0]) + b"\0" * 6  # hop-by-hop, next: destination options, (0+1)*8 bytes
    dst = bytes([6, 1]) + b"\0" * 14  # destination options, next: TCP, (1+1)*8 bytes
    pkt = ip6hdr(0, 8 + 16 + 20) + hbh + dst + TCP
    rec = nfm._parse(ETH6 + pkt, nfm.DLT_EN10MB)
    assert (rec["proto"], rec["sport"], rec["dport"], rec["flags"]) == (6, 1234, 443, 0x12)
    ah = bytes([17, 1]) + b"\0" * 10  # AH: (1 + 2) * 4 = 12 bytes, next: UDP
    udp = struct.pack("!HHHH", 5000, 53, 8, 0)
    rec = nfm._parse(ip6hdr(51, 20) + ah + udp, nfm.DLT_RAW)
    assert (rec["proto"], rec["sport"], rec["dport"]) == (17, 5000, 53)


def test_parse_ipv6_fragment_has_no_ports_and_icmpv6_none():
    frag = bytes([17, 0, 0, 1]) + b"\0\0\0\1"  # fragment header, offset 0, M flag, next UDP
    udp = struct.pack("!HHHH", 5000, 53, 8, 0)
    rec = nfm._parse(ETH6 + ip6hdr(44, 16) + frag + udp, nfm.DLT_EN10MB)
    assert (rec["proto"], rec["sport"], rec["dport"]) == (17, 0, 0)  # NG_NETFLOW_IS_FRAG
    icmp = bytes([128, 0, 0, 0, 0, 1, 0, 1])
    rec = nfm._parse(ETH6 + ip6hdr(58, 8) + icmp, nfm.DLT_EN10MB)
    assert (rec["proto"], rec["sport"], rec["dport"]) == (58, 0, 0)


def test_parse_ipv6_vlan_and_raw():
    vlan = h("0200000000aa 020000000001 8100 0064 86dd")
    pkt = ip6hdr(6, 20) + TCP
    assert nfm._parse(vlan + pkt, nfm.DLT_EN10MB)["sport"] == 1234
    assert nfm._parse(pkt, nfm.DLT_RAW)["dport"] == 443


def test_parse_ipv6_bad_and_short():
    pkt = ip6hdr(6, 20) + TCP
    # export9 not connected: bypassed before anything else, counted as skipped IPv6
    assert nfm._parse(ETH6 + pkt, nfm.DLT_EN10MB, export9=False) == ("bad", 6)
    # TCP header cut: M_CHECK fails with ip6 set -> skipped IPv6
    assert nfm._parse(ETH6 + pkt[:50], nfm.DLT_EN10MB) == ("bad", 6)
    # version nibble not 6 behind ethertype 0x86dd
    assert nfm._parse(ETH6 + b"\x40" + pkt[1:], nfm.DLT_EN10MB) == ("bad", 6)
    # shorter than the IPv6 header: ip6 never set -> not counted
    assert nfm._parse(ETH6 + pkt[:39], nfm.DLT_EN10MB) is None
    assert nfm._parse(pkt[:30], nfm.DLT_RAW) is None


def test_ipv4_sctp_ports_are_not_kept():
    # ng_netflow_flow_add takes ports for TCP and UDP only (the M_CHECK covers SCTP)
    ip = traffic.build_ip("10.0.0.1", "10.0.0.2", 17, 7, 9, 40)
    sctp = ip[:9] + bytes([132]) + ip[10:]
    rec = nfm._parse(sctp, nfm.DLT_RAW)
    assert (rec["proto"], rec["sport"], rec["dport"]) == (132, 0, 0)


def test_flow6_hash_uses_the_low_32_bits():
    # FULL_HASH(addr32[3] of src, addr32[3] of dst, r_sport, r_dport) on little-endian:
    # a1 = 0x10000000, a2 = 0x20000000; a1 ^ a1>>16 = 0x10001000; htons(a2 ^ a2>>16) =
    # htons(0x2000) = 0x0020; port1 = r_sport as memory = 0xd204, htons(r_dport) = 443
    assert nfc.flow6_hash("2001:db8::10", "2001:db8::20", 6, 1234, 443) == \
        (0x1020 ^ 0xd204 ^ 0x01bb) == 50079
    assert nfc.flow6_hash("2001:db8::10", "2001:db8::20", 58, 0, 0) == 0x1020  # ADDR_HASH
    assert nfc.flow6_hash("2001:db8:1::10", "fd00::20", 6, 1234, 443) == 50079  # low bits


def test_build_ip6_is_a_valid_ipv6_packet():
    p = traffic.build_ip6("2001:db8::10", "2001:db8::20", 17, 5000, 53, 100, tclass=0x20)
    assert p[:8] == h("62000000 003c 11 40")  # version 6, traffic class 0x20, plen 60, UDP, hlim
    assert p[8:40] == inet6.pton("2001:db8::10") + inet6.pton("2001:db8::20")
    assert struct.unpack_from("!HHH", p, 40) == (5000, 53, 60)
    pseudo = p[8:40] + struct.pack("!IxxxB", 60, 17)
    seg = p[40:]
    s = sum(struct.unpack("!%dH" % ((len(pseudo) + len(seg)) // 2), pseudo + seg))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    assert s == 0xFFFF  # checksum verifies
    frame = traffic.ether_frame(b"\1" * 6, b"\2" * 6, p)
    assert frame[12:14] == b"\x86\xdd"


# ----- the host: accounting, counters, export ------------------------------------------------

def host(*ifaces: str) -> dict:
    st = state.fresh_state([cli.iface_kind(i) for i in ifaces])
    cli.boot(st, ["ng_ether"])
    return st


def ng(st: dict, script: str, rc: int = 0) -> str:
    out, err = io.StringIO(), io.StringIO()
    got = Ngctl(Kernel(st), out, err, 4242, lambda: script).main(["-f", "-"])
    assert got == rc, err.getvalue()
    return out.getvalue() + err.getvalue()


def info(st: dict) -> str:
    return ng(st, "msg nf: info\n").splitlines()[-1]


def push(st: dict, **kw) -> dict:
    a = argparse.Namespace(iface="em0", src="2001:db8::10", dst="2001:db8::20", proto="udp",
                           sport=5000, dport=53, packets=1, bytes=None, direction="in",
                           tcp_flags=0, tos=0, forward=None, rcvif=None, oif=None, flows=1)
    for key, val in kw.items():
        setattr(a, key, val)
    return traffic.run_traffic(st, a)


BASE = """mkpeer em0: netflow lower iface0
name em0:lower nf
connect em0: nf: upper out0
"""
V9 = "mkpeer nf: ksocket export9 inet6/dgram/17\nname nf:export9 ks9\n" \
     "msg ks9: connect %s\n" % generic_inet6("2001:db8::53", 2055)
V5 = "mkpeer nf: ksocket export inet/dgram/udp\nname nf:export ks5\n" \
     "msg ks5: connect inet/192.0.2.5:2055\n"


def cache6(st: dict) -> list:
    node = Kernel(st).find_name("nf")
    return [fle for lst in node["priv"].get("cache6", {}).values() for fle in lst]


def test_ipv6_flow_is_accounted_in_the_ipv6_cache():
    st = host("em0")
    ng(st, BASE + V9)
    r = push(st, proto="tcp", sport=1234, dport=443, packets=3, bytes=600, tcp_flags=0x02, tos=0x10)
    assert r["pass"] and r["accounted_by"] == ["nf"]
    (fle,) = cache6(st)
    assert fle == ["2001:db8::10", "2001:db8::20", 1234, 443, 6, 0, 1, 0, 3, 600, 1, 1, 0x02]
    node = Kernel(st).find_name("nf")
    assert list(node["priv"]["cache6"]) == [str(nfc.flow6_hash("2001:db8::10", "2001:db8::20",
                                                               6, 1234, 443))]
    assert not node["priv"].get("cache")
    assert info(st) == ("Args:\t{ IPv6 bytes=600 IPv6 packets=3 IPv6 records used=1 "
                        "fibs allocated=1 Inactive timeout=15 Active timeout=1800 }")


def test_v5_only_node_skips_ipv6_as_the_kernel_does():
    # ng_netflow_rcvdata: "if (priv->export9 == NULL) goto bypass" -> the packet is passed
    # on, counted in nfinfo_spackets6/sbytes6 (the whole mbuf: Ethernet header included),
    # no flow, no fib set up
    st = host("em0")
    ng(st, BASE + V5)
    r = push(st, packets=2, bytes=200)
    assert r["pass"] and r["accounted_by"] == []
    assert r["netflow"][0]["IPv6 skipped (export9 not connected)"] == 2
    assert info(st) == ("Args:\t{ IPv6 skipped bytes=228 IPv6 skipped packets=2 "
                        "Inactive timeout=15 Active timeout=1800 }")
    assert cache6(st) == []
    t = traffic.run_tick(st, 3600)
    assert t["datagrams"] == [] and t["pending"]["nf"] == {"flows": 0, "v5 records": 0,
                                                          "v9 records": 0}


def test_ipv6_flow_goes_to_v9_only_and_ipv4_to_both():
    st = host("em0")
    ng(st, BASE + V9 + V5)
    push(st, packets=2, bytes=200)
    push(st, src="10.0.0.1", dst="10.0.0.2", packets=2, bytes=200)
    t = traffic.run_tick(st, 20)
    assert t["pending"]["nf"] == {"flows": 0, "v5 records": 1, "v9 records": 2}
    assert t["expired"] == {"nf": 2}
    node = Kernel(st).find_name("nf")
    fe = node["priv"]["fe"]
    assert [nfx.is6(e) for e in fe["item9"]["recs"]] == [False, True]  # IPv4 hash first
    assert [e[nfx.SRC] for e in fe["item"]] == ["10.0.0.1"]
    sd = ng(st, "shutdown nf:\n")
    assert sd == ""


def test_ipv6_flow_with_only_v5_left_is_expired_into_nothing():
    # expire_flow(): v5 only for version == IPVERSION; an IPv6 entry accounted while
    # export9 was connected, expired after it went, is freed without any export
    st = host("em0")
    ng(st, BASE + V9 + V5)
    push(st, packets=2, bytes=200)
    ng(st, "rmhook nf: export9\n")
    t = traffic.run_tick(st, 20)
    assert t["expired"] == {"nf": 1} and t["datagrams"] == []
    assert t["pending"]["nf"] == {"flows": 0, "v5 records": 0, "v9 records": 0}
    assert info(st) == ("Args:\t{ IPv6 bytes=200 IPv6 packets=2 Inactive expiries=1 "
                        "fibs allocated=1 Inactive timeout=15 Active timeout=1800 }")


def test_shutdown_flushes_ipv6_flows_to_v9():
    st = host("em0")
    ng(st, BASE + V9)
    traffic.clock(st)["uptime"] = 700  # templates go out from uptime 600 on
    push(st, packets=5, bytes=500)
    push(st, src="10.0.0.1", dst="10.0.0.2", packets=5, bytes=500)
    k = Kernel(st)
    ctx = nfc.netflow_flush(k, k.find_name("nf"))
    (d,) = ctx.datagrams
    assert (d["version"], d["records"], d["ipv6 records"], d["templates"]) == (9, 2, 1, True)
    data = nfx.decode_v9(__import__("base64").b64decode(
        k.find_name("ks9")["priv"]["socket"]["last"][-1]["data"]))
    assert data["flowsets"] == [(0, 172), (256, 64), (259, 100)]
    assert k.find_name("ks9")["priv"]["socket"]["last"][-1]["to"] == "inet6/[2001:db8::53]:2055"
    assert k.find_name("ks9")["priv"]["socket"]["last"][-1]["real"] is False


def test_ipv6_tcp_fin_expires_actively():
    st = host("em0")
    ng(st, BASE + V9)
    push(st, proto="tcp", sport=1, dport=2, packets=1, tcp_flags=0x02)
    push(st, proto="tcp", sport=1, dport=2, packets=1, tcp_flags=0x11)
    assert cache6(st) == []
    assert "Active expiries=1" in info(st)


# ----- NGM_NETFLOW_SHOW version 6 and flowctl ---------------------------------------------------

def test_show_v6_reply_is_flow6_entry_data():
    st = host("em0")
    ng(st, BASE + V9)
    push(st, proto="tcp", sport=1234, dport=443, packets=3, bytes=600, tcp_flags=0x1A)  # no FIN
    node = Kernel(st).find_name("nf")
    data = nfc.flow_show(node, struct.pack("<B3xIII", 6, 0, 0, 0))
    assert len(data) == flow.NGRESP_SIZE
    assert data[:16] == struct.pack("<B3xIII", 6, 0, 0, 1)
    # struct flow6_entry_data (ng_netflow.h), LP64 little-endian
    expected = h("""
        0600 0000                          version 6 (IP6VERSION), pad
        0400 0000                          r.flow_type NETFLOW_V9_FLOW_V6_L4, r.fib 0
        20010db8000000000000000000000010   r.src.r_src6
        20010db8000000000000000000000020   r.dst.r_dst6
        04d2 01bb                          r.ports (network order)
        06 00 0100                         r.prot, r.tos, r.i_ifx (host order)
        00000000000000000000000000000000   n.next_hop6
        0000 00 00                         fle_o_ifx, dst_mask, src_mask
        00000000                           pad (u_long alignment)
        0300000000000000                   packets
        5802000000000000                   bytes
        0100000000000000                   first (uptime)
        0100000000000000                   last
        1a 00000000000000                  tcp_flags, pad
    """)
    assert len(expected) == 112 == flow.FLOW6_ENTRY_SIZE
    assert data[16:128] == expected
    assert data[128:] == bytes(len(data) - 128)
    assert nfc.flow_show(node, struct.pack("<B3xIII", 4, 0, 0, 0))[:16] == \
        struct.pack("<B3xIII", 4, 0, 0, 0)


def test_show_v6_walk_stops_at_nrec6_at_once():
    st = host("em0")
    ng(st, BASE + V9)
    push(st, sport=1, flows=700)
    node = Kernel(st).find_name("nf")
    first = nfc.flow_show(node, struct.pack("<B3xIII", 6, 0, 0, 0))
    _, hid, lid, n = struct.unpack_from("<B3xIII", first)
    assert n == flow.NREC6_AT_ONCE == 642 and hid != 0


def test_show_v6_matches_the_product_parser():
    # cross-check with _utils/netgraph_core/nf_flows (written from the same struct by another hand)
    sys.path.insert(0, str(REPO / "_utils"))
    from netgraph_core import nf_flows

    st = host("em0")
    ng(st, BASE + V9)
    push(st, proto="tcp", sport=1234, dport=443, packets=3, bytes=600, tcp_flags=0x1A)  # no FIN
    node = Kernel(st).find_name("nf")
    r = nf_flows.parse_show_reply(nfc.flow_show(node, nf_flows.show_request(6)))
    (f,) = r["flows"]
    assert (f["version"], f["src"], f["dst"], f["sport"], f["dport"], f["proto"],
            f["packets"], f["bytes"], f["tcp_flags"]) == (
        6, "2001:db8::10", "2001:db8::20", 1234, 443, 6, 3, 600, 0x1A)


def flowctl(st: dict, *argv: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    assert flowctl_main(Kernel(st), list(argv), out, err, 77) == 0, err.getvalue()
    return out.getvalue()


def test_flowctl_prints_ipv6_flows_with_flowctl_c_formats():
    st = host("em0")
    ng(st, BASE + V9)
    push(st, proto="tcp", sport=1234, dport=443, packets=3, bytes=600, tcp_flags=0x1A)  # no FIN
    assert flowctl(st, "nf:", "show", "ipv6") == (
        "SrcIf         SrcIPaddress                   DstIf         DstIPaddress"
        "                   Pr SrcP DstP  Pkts\n"
        "em0           2001:db8::10                   (null)        2001:db8::20"
        "                    6 04d2 01bb      3\n")
    assert flowctl(st, "nf:", "show", "ipv6", "human").splitlines()[1] == (
        "em0           %-36s %-13s %-36s %5u %8d %8d %8u"
        % ("2001:db8::10", "(null)", "2001:db8::20", 6, 1234, 443, 3))
    verbose = flowctl(st, "nf:", "show", "verbose").splitlines()
    assert verbose[4:7] == [
        "em0            %-30s %-14s %-30s %2u %3x %4x %6u"
        % ("2001:db8::10", "(null)", "2001:db8::20", 6, 0, 0x1A, 3),
        "04d2 /0  0                     01bb /0  0     %-30s %9u %8u" % ("::", 200, 0), ""]


# ----- ng_ksocket: the generic sockaddr (ng_ksocket.c, ng_parse.c) --------------------------------

SIN6_LOOP = h("""
    1c 1c                              sin6_len 28, sin6_family AF_INET6 (28)
    0807                               sin6_port 2055, network order
    00000000                           sin6_flowinfo
    00000000000000000000000000000001   sin6_addr ::1
    00000000                           sin6_scope_id
""")


def parse(text: str) -> bytes:
    return sa_bytes(SOCKADDR.parse(text, 0)[0])


def test_generic_sockaddr_parses_to_struct_sockaddr_in6():
    assert len(SIN6_LOOP) == 28
    assert parse("{ len=28 family=28 data=[ 0x8 0x7 21=0x1 ] }") == SIN6_LOOP
    # fields in any order: the struct is built in declared order, data sized by len
    assert parse("{ data=[ 8 7 21=1 ] family=28 len=28 }") == SIN6_LOOP
    assert parse('{ len=28 family=28 data="\\x08\\x07" }') == SIN6_LOOP[:4] + bytes(24)
    # scope id: host order (little-endian) in the last 4 bytes
    assert parse("{ len=28 family=28 data=[ 22=5 ] }")[24:] == h("05000000")
    # a short len gives a short data array; len < 2 none
    assert parse("{ len=3 family=28 data=[ 0x8 ] }") == h("03 1c 08")
    assert parse("{ family=28 }") == h("00 1c")


@pytest.mark.parametrize("text,errno", [
    ("inet6/::1", "EINVAL"),  # case PF_INET6 is #if 0
    ("inet6/[::1]:2055", "EINVAL"),
    ("28/::1", "EINVAL"),  # the family by number: still PF_INET6
    ("{ len=28 family=28 data=[ 26=1 ] }", "E2BIG"),  # index past len - 2
    ('{ len=4 data="abc" }', "E2BIG"),  # string longer than the array
    ("{ len=28 len=28 }", "EALREADY"),
    ("{ length=28 }", "ENOENT"),
    ("{ len=300 }", "EINVAL"),  # uint8
    ("{ len=28 family=28 data=[ 0x8 0x7 ]", "EINVAL"),  # no closing brace
    ("{ len=28 family=28 data=[ 2 =0x1 ] }", "EINVAL"),  # "*off += len + len2": the '='
    ("{ len=28 family=28 data=[ 0x8 0x1ff ] }", "EINVAL"),  # int8: -128..255
])
def test_generic_sockaddr_errors(text, errno):
    with pytest.raises(NgError) as e:
        SOCKADDR.parse(text, 0)
    assert e.value.errno == errno


def test_sockaddr_unparse_generic_and_inet():
    # ng_unparse_composite: defaults left out, bytes as 0x%x, N= after skipped zeros
    assert generic_text(SIN6_LOOP) == "{ len=28 family=28 data=[ 0x8 0x7 21=0x1 ] }"
    assert generic_text(h("1c1c") + bytes(26)) == "{ len=28 family=28 }"
    assert generic_inet6("2001:db8::53", 2055) == (
        "{ len=28 family=28 data=[ 0x8 0x7 6=0x20 0x1 0xd 0xb8 21=0x53 ] }")
    assert generic_inet6("fe80::1", 2055, scope=2) == (
        "{ len=28 family=28 data=[ 0x8 0x7 6=0xfe 0x80 21=0x1 0x2 ] }")
    # the generic form of an AF_INET sockaddr is parsed as is and printed as inet/
    v, _ = SOCKADDR.parse("{ len=16 family=2 data=[ 0x8 0x7 127 0 0 1 ] }", 0)
    assert SOCKADDR.unparse(v) == "inet/127.0.0.1:2055"
    assert SOCKADDR.unparse(SOCKADDR.parse("inet/ 10.0.0.1:+80", 0)[0]) == "inet/10.0.0.1:80"


# ----- ng_ksocket: inet6 sockets ---------------------------------------------------------------

def msg(st: dict, line: str) -> str:
    """One ngctl line: its error line, or the last line it printed ("" for none)."""
    o, e = io.StringIO(), io.StringIO()
    rc = Ngctl(Kernel(st), o, e, 4242, lambda: line + "\n").main(["-f", "-"])
    text = o.getvalue()
    if rc:
        return e.getvalue().splitlines()[0]
    return text.splitlines()[-1] if text else ""


def test_inet6_hook_needs_a_number_for_udp():
    st = host("em0")
    ng(st, BASE)
    # ng_ksocket_protos[] registers "udp" for PF_INET only
    assert msg(st, "mkpeer nf: ksocket export9 inet6/dgram/udp") == \
        "ngctl: send msg: Invalid argument"
    assert msg(st, "mkpeer nf: ksocket export9 inet6/dgram/17") == ""
    assert msg(st, "rmhook nf: export9") == ""
    assert msg(st, "mkpeer nf: ksocket export9 28/2/0") == ""


def test_inet6_connect_bind_getname_getpeername():
    st = host("em0", "em1")
    ng(st, BASE + "mkpeer nf: ksocket export9 inet6/dgram/17\nname nf:export9 ks\n")
    assert msg(st, "msg ks: getname") == "Args:\t{ len=28 family=28 }"
    assert msg(st, "msg ks: getpeername") == "ngctl: send msg: Socket is not connected"
    assert msg(st, "msg ks: connect inet6/::1") == "ngctl: send msg: Invalid argument"
    assert msg(st, "msg ks: connect inet/127.0.0.1:2055") == \
        "ngctl: send msg: Address family not supported by protocol family"
    assert msg(st, "msg ks: connect { len=16 family=28 }") == "ngctl: send msg: Invalid argument"
    assert msg(st, "msg ks: connect { len=28 family=28 }") == \
        "ngctl: send msg: Can't assign requested address"  # port 0
    # bind: the source address; port 0 takes an ephemeral port (10000 on, sequential)
    assert msg(st, "msg ks: bind %s" % generic_inet6("2001:db8::1")) == ""
    assert msg(st, "msg ks: getname") == \
        "Args:\t" + generic_inet6("2001:db8::1", 10000)
    assert msg(st, "msg ks: bind %s" % generic_inet6("2001:db8::2")) == \
        "ngctl: send msg: Invalid argument"  # already bound
    assert msg(st, "msg ks: connect %s" % generic_inet6("2001:db8::53", 2055)) == ""
    assert msg(st, "msg ks: getpeername") == "Args:\t" + generic_inet6("2001:db8::53", 2055)
    assert msg(st, "msg ks: getname") == "Args:\t" + generic_inet6("2001:db8::1", 10000)
    # re-connect: soconnectat() disconnects first; in6_pcbdisconnect clears the local
    # address (main), the port stays
    assert msg(st, "msg ks: connect %s" % generic_inet6("2001:db8::54", 2055)) == ""
    assert msg(st, "msg ks: getname") == "Args:\t" + generic_inet6("::", 10000)
    # link-local peers: a scope id must name an interface (sa6_embedscope: ENXIO)
    assert msg(st, "msg ks: connect %s" % generic_inet6("fe80::1", 2055, scope=9)) == \
        "ngctl: send msg: Device not configured"
    assert msg(st, "msg ks: connect %s" % generic_inet6("fe80::1", 2055, scope=2)) == ""
    assert msg(st, "msg ks: getpeername") == "Args:\t" + generic_inet6("fe80::1", 2055, scope=2)
    # v4-mapped peers on a V6ONLY socket
    assert msg(st, "msg ks: connect %s" % generic_inet6("::ffff:127.0.0.1", 2055)) == \
        "ngctl: send msg: Invalid argument"
    # the unspecified peer is ::1 (in6_pcbladdr)
    assert msg(st, "msg ks: connect %s" % generic_inet6("::", 2055)) == ""
    assert msg(st, "msg ks: getpeername") == "Args:\t" + generic_inet6("::1", 2055)
    assert msg(st, "msg ks: getname") == "Args:\t" + generic_inet6("::1", 10000)


def test_inet_bind_then_connect_reports_the_source():
    st = host("em0")
    ng(st, BASE + "mkpeer nf: ksocket export inet/dgram/udp\nname nf:export ks\n")
    assert msg(st, "msg ks: bind inet/192.0.2.1") == ""
    assert msg(st, "msg ks: getname") == "Args:\tinet/192.0.2.1:10000"
    assert msg(st, "msg ks: connect inet/198.51.100.7:2055") == ""
    assert msg(st, "msg ks: getname") == "Args:\tinet/192.0.2.1:10000"
    assert msg(st, "msg ks: getpeername") == "Args:\tinet/198.51.100.7:2055"
    assert msg(st, "msg ks: bind inet/192.0.2.2") == "ngctl: send msg: Invalid argument"
    # re-connect: in_pcbdisconnect() sets inp_laddr = INADDR_ANY; the bound source is gone
    assert msg(st, "msg ks: connect inet/198.51.100.8:2055") == ""
    assert msg(st, "msg ks: getname") == "Args:\tinet/0.0.0.0:10000"
    # an unbound socket connected to 127/8 gets 127.0.0.1 and the next ephemeral port
    ng(st, "mkpeer nf: ksocket export9 inet/dgram/udp\nname nf:export9 ks9\n"
           "msg ks9: connect inet/127.0.0.1:9\n")
    assert msg(st, "msg ks9: getname") == "Args:\tinet/127.0.0.1:10001"
    # a port another socket has on the same (or the wildcard) address
    ng(st, "shutdown ks9:\nmkpeer nf: ksocket export9 inet/dgram/udp\nname nf:export9 ks9\n")
    assert msg(st, "msg ks9: bind inet/0.0.0.0:10000") == \
        "ngctl: send msg: Address already in use"


# ----- end to end: ngsim only, real UDP on ::1 and 127.0.0.1 -----------------------------------

def _run(*args: str, stdin: str = None) -> str:
    p = subprocess.run(list(args), cwd=REPO, capture_output=True, text=True, input=stdin)
    assert p.returncode == 0, (args, p.stdout, p.stderr)
    return p.stdout


def _decode_v9(data: bytes) -> list[dict]:
    """A decoder of its own (RFC 3954 with the templates the datagram carries)."""
    version, count = struct.unpack_from("!HH", data)
    assert version == 9
    templates, recs, off = {}, [], 20
    while off + 4 <= len(data):
        fid, length = struct.unpack_from("!HH", data, off)
        body = data[off + 4:off + length]
        if fid == 0:
            p = 0
            while p + 4 <= len(body):
                tid, n = struct.unpack_from("!HH", body, p)
                templates[tid] = [struct.unpack_from("!HH", body, p + 4 + 4 * i) for i in range(n)]
                p += 4 + 4 * n
        elif fid in templates:
            size = sum(ln for _, ln in templates[fid])
            for i in range(len(body) // size):
                rec, q = {}, i * size
                for ftype, flen in templates[fid]:
                    rec[ftype] = body[q:q + flen]
                    q += flen
                recs.append({
                    "src": socket.inet_ntop(socket.AF_INET6 if 27 in rec else socket.AF_INET,
                                            rec.get(27, rec.get(8))),
                    "dst": socket.inet_ntop(socket.AF_INET6 if 28 in rec else socket.AF_INET,
                                            rec.get(28, rec.get(12))),
                    "sport": int.from_bytes(rec[7], "big"), "dport": int.from_bytes(rec[11], "big"),
                    "proto": rec[4][0], "packets": int.from_bytes(rec[2], "big"),
                    "bytes": int.from_bytes(rec[1], "big"), "template": fid})
        off += length
    return recs


def _decode_v5(data: bytes) -> list[dict]:
    version, count = struct.unpack_from("!HH", data)
    assert version == 5
    out = []
    for i in range(count):
        r = data[24 + 48 * i:72 + 48 * i]
        out.append({"src": socket.inet_ntoa(r[0:4]), "dst": socket.inet_ntoa(r[4:8]),
                    "sport": int.from_bytes(r[32:34], "big"),
                    "dport": int.from_bytes(r[34:36], "big"),
                    "proto": r[38], "packets": int.from_bytes(r[16:20], "big"),
                    "bytes": int.from_bytes(r[20:24], "big")})
    return out


def _exporter(root: pathlib.Path, port9: int, port5: int) -> None:
    ngctl = str(root / "bin" / "ngctl")
    script = (BASE + "mkpeer nf: ksocket export9 inet6/dgram/17\nname nf:export9 v9\n"
              "msg v9: connect %s\n" % generic_inet6("::1", port9)
              + "mkpeer nf: ksocket export inet/dgram/udp\nname nf:export v5\n"
              "msg v5: connect inet/127.0.0.1:%d\n" % port5)
    _run(ngctl, "-f", "-", stdin=script)


def _push_and_flush(root: pathlib.Path) -> dict:
    ng = [sys.executable, "-m", "ngsim"]
    _run(*ng, "tick", str(root), "700")  # templates only once uptime reaches templ_time
    _run(*ng, "traffic", str(root), "em0", "--src", "2001:db8::10", "--dst", "2001:db8::20",
         "--proto", "tcp", "--sport", "40000", "--dport", "443", "--packets", "4",
         "--bytes", "2400")
    _run(*ng, "traffic", str(root), "em0", "--src", "10.0.0.1", "--dst", "192.0.2.7",
         "--proto", "udp", "--sport", "5000", "--dport", "53", "--packets", "2", "--bytes", "300")
    t = json.loads(_run(*ng, "tick", str(root), "20"))
    assert t["pending"]["nf"] == {"flows": 0, "v5 records": 1, "v9 records": 2}
    _run(str(root / "bin" / "ngctl"), "shutdown", "nf:")  # ng_netflow_cache_flush sends both
    return t


IPV6_FLOW = {"src": "2001:db8::10", "dst": "2001:db8::20", "sport": 40000, "dport": 443,
             "proto": 6, "packets": 4, "bytes": 2400}
IPV4_FLOW = {"src": "10.0.0.1", "dst": "192.0.2.7", "sport": 5000, "dport": 53, "proto": 17,
             "packets": 2, "bytes": 300}


def test_e2e_ipv6_and_ipv4_flows_over_real_udp(tmp_path):
    root = tmp_path / "fw"
    _run(sys.executable, "-m", "ngsim", "init", str(root), "--iface", "em0", "--loaded", "ng_ether")
    c9 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    c5 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        c9.bind(("::1", 0))
        c5.bind(("127.0.0.1", 0))
        c9.settimeout(5)
        c5.settimeout(5)
        _exporter(root, c9.getsockname()[1], c5.getsockname()[1])
        ngctl = str(root / "bin" / "ngctl")
        assert _run(ngctl, "msg", "v9:", "getpeername").splitlines()[-1] == \
            "Args:\t" + generic_inet6("::1", c9.getsockname()[1])
        assert _run(ngctl, "msg", "v9:", "getname").splitlines()[-1] == \
            "Args:\t" + generic_inet6("::1", 10000)
        _push_and_flush(root)
        d9, src9 = c9.recvfrom(65535)
        d5, src5 = c5.recvfrom(65535)
    finally:
        c9.close()
        c5.close()
    assert src9[0] == "::1" and src5[0] == "127.0.0.1"
    recs9 = _decode_v9(d9)
    assert [r["template"] for r in recs9] == [256, 259]
    got9 = {k: v for k, v in recs9[1].items() if k != "template"}
    assert got9 == IPV6_FLOW
    assert {k: v for k, v in recs9[0].items() if k != "template"} == IPV4_FLOW
    assert _decode_v5(d5) == [IPV4_FLOW]  # the v5 collector gets only the IPv4 flow


@pytest.mark.skipif(not (shutil.which("nfcapd") and shutil.which("nfdump")),
                    reason="nfcapd/nfdump not installed (Debian package nfdump)")
def test_e2e_nfdump_decodes_the_ipv6_flow(tmp_path):
    root = tmp_path / "fw"
    _run(sys.executable, "-m", "ngsim", "init", str(root), "--iface", "em0", "--loaded", "ng_ether")
    v9 = Nfcapd46(tmp_path / "v9", "::1", free_port(socket.AF_INET6, "::1"))
    try:
        v5 = Nfcapd46(tmp_path / "v5", "127.0.0.1", free_port(socket.AF_INET, "127.0.0.1"))
    except BaseException:
        v9.stop()
        raise
    try:
        _exporter(root, int(v9.proc.args[v9.proc.args.index("-p") + 1]),
                  int(v5.proc.args[v5.proc.args.index("-p") + 1]))
        _push_and_flush(root)
        time.sleep(0.5)
    finally:
        v9.stop()
        v5.stop()

    def key(r):
        return (r["sa"], r["da"], int(r["sp"]), int(float(r["dp"])), int(r["pr"])
                if r["pr"].isdigit() else r["pr"], int(r["ipkt"]), int(r["ibyt"]))

    got9 = sorted(key(r) for r in v9.flows())
    got5 = sorted(key(r) for r in v5.flows())
    proto = {6: "TCP", 17: "UDP"}

    def want(f):
        return (f["src"], f["dst"], f["sport"], f["dport"], proto[f["proto"]], f["packets"],
                f["bytes"])

    def norm(rows):
        return sorted((a, b, c, d, proto.get(e, e), g, h_) for a, b, c, d, e, g, h_ in rows)

    assert norm(got9) == sorted([want(IPV6_FLOW), want(IPV4_FLOW)])
    assert norm(got5) == [want(IPV4_FLOW)]
