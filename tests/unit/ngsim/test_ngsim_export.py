"""NetFlow v5/v9 encoders against byte layouts written out by hand from FreeBSD's structs
(sys/netgraph/netflow/netflow.h, netflow_v9.h, netflow_v9.c of FreeBSD 14)."""
from __future__ import annotations

from ngsim import export as nfx
from ngsim.testing import hex_bytes

# One flow entry: src, dst, sport, dport, proto, tos, i_ifx, o_ifx, packets, bytes,
# first, last (uptime seconds), tcp_flags
FLOW = ["10.0.0.1", "192.0.2.200", 1234, 80, 6, 0x10, 1, 2, 3, 300, 5, 9, 0x1B]


h = hex_bytes  # hex words as in the sources' dumps, comments after them


def test_v5_record_is_struct_netflow_v5_record():
    # struct netflow_v5_record (48 bytes, packed), netflow.c export_add():
    expected = h("""
        0a000001        c00002c8        00000000   src_addr, dst_addr, next_hop
        0001 0002                                  i_ifx, o_ifx
        00000003        0000012c                   packets, octets
        00001388        00002328                   first, last = MILLIUPTIME(5), MILLIUPTIME(9)
        04d2 0050                                  s_port, d_port
        00 1b 06 10                                pad1, flags, prot, tos
        0000 0000                                  src_as, dst_as (not supported: 0)
        00 00 0000                                 src_mask, dst_mask, pad2
    """)
    assert len(expected) == 48
    assert nfx.v5_record(FLOW) == expected


def test_v5_header_is_struct_netflow_v5_header():
    # struct netflow_v5_header (24 bytes); export_send(): sys_uptime = MILLIUPTIME(time_uptime),
    # flow_seq = value before fetchadd, engine_type 0, engine_id = domain_id, pad 0
    d = nfx.v5_datagram([FLOW, FLOW], uptime=700, unix_secs=0x5F5E1000, unix_nsecs=0,
                        flow_seq=30, engine_id=0)
    expected_head = h("""
        0005 0002                 version 5, count 2
        000aae60                  sys_uptime 700000 ms
        5f5e1000 00000000         unix_secs, unix_nsecs
        0000001e                  flow_seq 30
        00 00 0000                engine_type, engine_id, pad ("sampling")
    """)
    assert d[:24] == expected_head
    assert len(d) == 24 + 2 * 48
    assert d[24:72] == nfx.v5_record(FLOW)


def test_milliuptime_overflows_like_the_kernel_macro():
    assert nfx.milliuptime(1) == 1000
    assert nfx.milliuptime(4294968) == (4294968000) & 0xFFFFFFFF == 704


def test_v9_template_flowset_is_generate_v9_templates():
    t = nfx.TEMPLATE_FLOWSET
    # flowset_size = 4 + 21*4 + 21*4 (the {0,0} terminators make room for the template headers)
    assert len(t) == 172
    assert t[:4] == h("0000 00ac")  # flowset id 0, length 172
    # IPv4 L4 template: id 0xFF + NETFLOW_V9_FLOW_V4_L4 = 256, 20 fields
    assert t[4:8] == h("0100 0014")
    v4 = h("""
        0008 0004  000c 0004  000f 0004      IPV4_SRC_ADDR, IPV4_DST_ADDR, IPV4_NEXT_HOP
        000a 0002  000e 0002                 INPUT_SNMP, OUTPUT_SNMP
        0002 0004  0001 0004  0018 0004  0017 0004   IN_PKTS, IN_BYTES, OUT_PKTS, OUT_BYTES
        0016 0004  0015 0004                 FIRST_SWITCHED, LAST_SWITCHED
        0007 0002  000b 0002                 L4_SRC_PORT, L4_DST_PORT
        0006 0001  0004 0001  0005 0001      TCP_FLAGS, PROTOCOL, TOS
        0010 0004  0011 0004                 SRC_AS, DST_AS
        0009 0001  000d 0001                 SRC_MASK, DST_MASK
    """)
    assert t[8:88] == v4
    # IPv6 L4 template: 0xFF + NETFLOW_V9_FLOW_V6_L4 = 259
    assert t[88:92] == h("0103 0014")
    assert t[92:104] == h("001b 0010 001c 0010 003e 0010")
    assert t[104:172] == v4[12:]


def test_v9_record_is_struct_netflow_v9_record_ipv4_tcp():
    # packed, CNTR = uint32_t (COUNTERS_64 off): 57 bytes; export9_add(): o_packets/o_octets 0
    expected = h("""
        0a000001 c00002c8 00000000          src_addr, dst_addr, next_hop
        0001 0002                           i_ifx, o_ifx
        00000003 0000012c 00000000 00000000 i_packets, i_octets, o_packets, o_octets
        00001388 00002328                   first, last
        04d2 0050                           s_port, d_port
        1b 06 10                            flags, prot, tos
        00000000 00000000                   src_as, dst_as
        00 00                               src_mask, dst_mask
    """)
    assert len(expected) == 57
    assert nfx.v9_record(FLOW) == expected


def test_v9_datagram_with_templates_and_padding():
    d = nfx.v9_datagram([FLOW], templ=True, uptime=700, unix_secs=0x5F5E1000, seq=7)
    # struct netflow_v9_header: count counts the 2 template records + 1 data record
    assert d[:20] == h("0009 0003 000aae60 5f5e1000 00000007 00000000")
    assert d[20:192] == nfx.TEMPLATE_FLOWSET
    # data flowset 256: 4 + 57 = 61, close_flowset pads to 64
    assert d[192:196] == h("0100 0040")
    assert d[196:253] == nfx.v9_record(FLOW)
    assert d[253:] == b"\0\0\0"
    assert len(d) == 256


def test_v9_datagram_without_templates():
    d = nfx.v9_datagram([FLOW, FLOW], templ=False, uptime=1, unix_secs=1, seq=0)
    assert d[:4] == h("0009 0002")
    assert d[20:24] == h("0100 0078")  # 4 + 114 = 118 -> 120
    assert len(d) == 20 + 120


def test_v9_datagram_full_by_mtu():
    # export9_add(): full when m_pktlen + 93 + 4 >= mtu - 64
    def records_per_datagram(templ, mtu):
        n = 1
        while not nfx.v9_full(templ, n, mtu):
            n += 1
        return n

    assert records_per_datagram(True, 1500) == 21  # 196 + 21*57 = 1393 >= 1339
    assert records_per_datagram(False, 1500) == 24  # 24 + 24*57 = 1392 >= 1339
    assert records_per_datagram(False, 9000) == 155
    # a tiny MTU still carries one record per datagram
    assert records_per_datagram(True, 24) == 1


def test_decoders_round_trip():
    d5 = nfx.decode_v5(nfx.v5_datagram([FLOW], 10, 20, 0, 3))
    assert d5["count"] == 1 and d5["flow_seq"] == 3
    assert d5["records"][0]["src"] == "10.0.0.1" and d5["records"][0]["bytes"] == 300
    d9 = nfx.decode_v9(nfx.v9_datagram([FLOW], True, 10, 20, 3))
    assert sorted(d9["templates"]) == [256, 259]
    assert d9["records"][0]["dport"] == 80 and d9["records"][0]["tcp_flags"] == 0x1B
