"""nf_flows: NGM_NETFLOW_SHOW requests/replies and flowctl(8)'s text.

The bytes below are laid out by hand from the struct definitions in FreeBSD 14's
sys/netgraph/netflow/ng_netflow.h (sobomax/freebsd14_vendor @ 0f7ff3427c99afe8b7a0ccf8638dc10aed02c3f8;
main, fel1x-developer/freebsd-src @ 2d614aa2fe3e037bd11d351b0b5cfda776e65814, has the same):
``struct ngnf_show_header`` and ``struct flow_entry_data`` / ``flow6_entry_data`` on an LP64
little-endian host (amd64), the walk follows ng_netflow_flow_show() in netflow.c, and the text
follows the printf formats of usr.sbin/flowctl/flowctl.c (same revisions) and a published
capture (tests/data/captures/elatov_flowctl_show_human.txt, see SOURCES.md).
"""
from __future__ import annotations

import pathlib

from netgraph_core import nf_flows
import pytest

CAPTURES = pathlib.Path(__file__).resolve().parents[2] / "data" / "captures"

# One struct flow_entry_data, byte by byte (offsets in the first column):
ENTRY_HEX = (
    "0400" "0000"          # 0  uint16 version = IPVERSION; 2 padding (flow_rec is 4-aligned)
    "0100" "0000"          # 4  r.flow_type = NETFLOW_V9_FLOW_V4_L4 (1); 6 r.fib = 0
    "0a000001"             # 8  r.r_src 10.0.0.1 (network order)
    "c0000207"             # 12 r.r_dst 192.0.2.7
    "9c40" "01bb"          # 16 r.r_sport 40000, 18 r.r_dport 443 (network order)
    "06" "10" "0100"       # 20 r.r_ip_p 6, 21 r.r_tos 0x10, 22 r.r_i_ifx 1 (host order)
    "c00002fe"             # 24 next_hop 192.0.2.254
    "0300" "18" "10"       # 28 fle_o_ifx 3, 30 dst_mask 24, 31 src_mask 16
    "0500000000000000"     # 32 u_long packets 5
    "dc05000000000000"     # 40 u_long bytes 1500
    "0c00000000000000"     # 48 long first 12 (time_uptime, seconds)
    "0e00000000000000"     # 56 long last 14
    "12" "00000000000000"  # 64 u_char tcp_flags 0x12 (SYN|ACK); 65..71 padding
)
ENTRY = bytes.fromhex(ENTRY_HEX)
ENTRY_FLOW = {
    "version": 4, "flow_type": 1, "fib": 0, "src": "10.0.0.1", "dst": "192.0.2.7",
    "sport": 40000, "dport": 443, "proto": 6, "tos": 16, "iface_in": 1, "iface_out": 3,
    "nexthop": "192.0.2.254", "src_mask": 16, "dst_mask": 24, "packets": 5, "bytes": 1500,
    "first": 12, "last": 14, "tcp_flags": 0x12,
}

# One struct flow6_entry_data (112 bytes).
ENTRY6_HEX = (
    "0600" "0000"                              # 0 version = IP6VERSION; padding
    "0400" "0000"                              # 4 r.flow_type = NETFLOW_V9_FLOW_V6_L4 (4); fib 0
    "20010db8000000000000000000000001"         # 8 r.src.r_src6 2001:db8::1
    "20010db8000000000000000000000002"         # 24 r.dst.r_dst6 2001:db8::2
    "c350" "0035"                              # 40 sport 50000, 42 dport 53
    "11" "00" "0200"                           # 44 prot 17, 45 tos 0, 46 i_ifx 2
    "fe800000000000000000000000000001"         # 48 n.next_hop6 fe80::1
    "0100" "40" "30"                           # 64 fle_o_ifx 1, 66 dst_mask 64, 67 src_mask 48
    "00000000"                                 # 68 padding (u_long is 8-aligned)
    "0200000000000000"                         # 72 packets 2
    "a000000000000000"                         # 80 bytes 160
    "6400000000000000"                         # 88 first 100
    "6500000000000000"                         # 96 last 101
    "00" "00000000000000"                      # 104 tcp_flags 0; padding to 112
)
ENTRY6 = bytes.fromhex(ENTRY6_HEX)


def header(version, hash_id, list_id, nentries):
    """struct ngnf_show_header: u_char version, 3 bytes padding, three uint32 (host order)."""
    return (bytes([version, 0, 0, 0]) + hash_id.to_bytes(4, "little")
            + list_id.to_bytes(4, "little") + nentries.to_bytes(4, "little"))


def entry4(src, dst, proto=17, sport=0, dport=0, packets=1, nbytes=100, iin=1):
    """A flow_entry_data assembled field by field at the offsets above."""
    e = ((4).to_bytes(2, "little") + b"\0\0" + (1).to_bytes(2, "little") + b"\0\0"
         + bytes(int(x) for x in src.split(".")) + bytes(int(x) for x in dst.split("."))
         + sport.to_bytes(2, "big") + dport.to_bytes(2, "big")
         + bytes([proto, 0]) + iin.to_bytes(2, "little")
         + b"\0\0\0\0" + b"\0\0" + b"\0" + b"\0"
         + packets.to_bytes(8, "little") + nbytes.to_bytes(8, "little")
         + (1).to_bytes(8, "little") + (1).to_bytes(8, "little") + b"\0" * 8)
    assert len(e) == 72
    return e


def reply(version, hash_id, list_id, entries, pad=True):
    body = header(version, hash_id, list_id, len(entries)) + b"".join(entries)
    return body + b"\0" * (72016 - len(body)) if pad else body


# --- the request -----------------------------------------------------------------------

def test_constants_follow_the_header():
    assert nf_flows.NGM_NETFLOW_SHOW == 805306371  # 3 | NGM_READONLY | NGM_HASREPLY
    assert nf_flows.NGM_NETFLOW_COOKIE == 1365756954
    assert nf_flows.NREC6_AT_ONCE == 642  # 1000 * 72 / 112
    assert nf_flows.NGRESP_SIZE == 16 + 1000 * 72


def test_show_request_is_what_flowctl_sends():
    assert nf_flows.show_request() == bytes.fromhex("04000000" "00000000" "00000000" "00000000")
    assert nf_flows.show_request(6, 0x1234, 2) == bytes.fromhex(
        "06000000" "34120000" "02000000" "00000000")


@pytest.mark.parametrize("args", [(5,), (4, 65536), (4, -1), (4, 0, 2**32), (4, True), (4, 0, "1")])
def test_show_request_refuses_what_the_kernel_refuses(args):
    with pytest.raises(ValueError):
        nf_flows.show_request(*args)


# --- one reply -------------------------------------------------------------------------

def test_entry_laid_out_by_hand():
    r = nf_flows.parse_show_reply(reply(4, 0, 0, [ENTRY]))
    assert r == {"version": 4, "hash_id": 0, "list_id": 0, "more": False, "next": None,
                 "flows": [ENTRY_FLOW]}


def test_reply_without_the_zero_tail_and_empty_reply():
    assert nf_flows.parse_show_reply(reply(4, 0, 0, [ENTRY], pad=False))["flows"] == [ENTRY_FLOW]
    assert nf_flows.parse_show_reply(header(4, 0, 0, 0))["flows"] == []
    assert nf_flows.parse_show_reply(bytearray(header(6, 0, 0, 0)))["version"] == 6


def test_ipv6_entry_laid_out_by_hand():
    r = nf_flows.parse_show_reply(reply(6, 0, 0, [ENTRY6]))
    assert r["flows"] == [{
        "version": 6, "flow_type": 4, "fib": 0, "src": "2001:db8::1", "dst": "2001:db8::2",
        "sport": 50000, "dport": 53, "proto": 17, "tos": 0, "iface_in": 2, "iface_out": 1,
        "nexthop": "fe80::1", "src_mask": 48, "dst_mask": 64, "packets": 2, "bytes": 160,
        "first": 100, "last": 101, "tcp_flags": 0}]


def test_full_reply_says_where_to_go_on():
    entries = [entry4("10.0.%d.%d" % (i // 250, i % 250 + 1), "192.0.2.1") for i in range(1000)]
    r = nf_flows.parse_show_reply(reply(4, 4242, 2, entries))
    assert len(r["flows"]) == 1000 and r["more"]
    assert r["next"] == {"version": 4, "hash_id": 4242, "list_id": 2}


def test_full_reply_ending_in_bucket_zero_is_not_the_end():
    # flowctl stops on hash_id == 0 alone; the kernel's end marker is hash_id == list_id == 0.
    entries = [entry4("10.0.0.1", "10.0.0.2")] * 1000
    r = nf_flows.parse_show_reply(reply(4, 0, 1001, entries))
    assert r["more"] and r["next"] == {"version": 4, "hash_id": 0, "list_id": 1001}


@pytest.mark.parametrize("data, what", [
    (b"", "shorter than its 16-byte header"),
    (header(4, 0, 0, 0)[:15], "shorter"),
    (header(5, 0, 0, 0), "neither 4 nor 6"),
    (header(0, 0, 0, 0), "neither 4 nor 6"),
    (header(4, 65536, 0, 0), "past the last bucket"),
    (header(4, 0, 0, 1001), "at most 1000"),
    (header(6, 0, 0, 643), "at most 642"),
    (header(4, 0, 0, 2) + ENTRY, "too short for 2 entries"),
    (header(6, 0, 0, 1) + ENTRY, "too short for 1 entries"),
    (header(4, 0, 0, 1) + b"\x06" + ENTRY[1:], "version field 6"),
    (header(6, 0, 0, 1) + ENTRY6[:0] + b"\x04" + ENTRY6[1:], "version field 4"),
])
def test_malformed_replies(data, what):
    with pytest.raises(ValueError, match=what):
        nf_flows.parse_show_reply(data)


def test_reply_must_be_bytes():
    with pytest.raises(ValueError):
        nf_flows.parse_show_reply("04000000")


# --- buckets and the multi-reply walk --------------------------------------------------

def test_flow_bucket_by_hand():
    # ADDR_HASH for ICMP, addresses read little-endian: a1 = 0x0100000a, a2 = 0x0200000a;
    # a1 ^ a1>>16 = 0x0100010a; htons((a2 ^ a2>>16) & 0xffff = 0x020a) = 0x0a02;
    # 0x0100010a ^ 0x0a02 = 0x01000b08 -> & 0xffff = 0x0b08.
    assert nf_flows.flow_bucket({"src": "10.0.0.1", "dst": "10.0.0.2", "proto": 1}) == 0x0B08
    # FULL_HASH for UDP: also ^ port1 (stored r_sport, i.e. htons(53) = 0x3500) ^ port 9.
    assert nf_flows.flow_bucket({"src": "10.0.0.1", "dst": "10.0.0.2", "proto": 17,
                                 "sport": 53, "dport": 9}) == 0x0B08 ^ 0x3500 ^ 9


def _flow(src, dst):
    return {"src": src, "dst": dst, "proto": 1}


def test_walk_follows_replies_and_repairs_the_list_id_carry_over():
    """A cache of 1003 single-flow buckets: the first reply fills up in bucket B with its
    only flow (hash_id=B, list_id=2); the kernel answers (B, 2) by skipping the first flow of
    every later bucket (here: empty, end). walk() asks (B + 1, 0) instead."""
    flows = [("10.%d.%d.1" % (i // 200, i % 200), "10.0.0.2") for i in range(1003)]
    buckets = sorted({nf_flows.flow_bucket(_flow(*f)): f for f in flows}.items())
    assert len(buckets) == 1003  # one flow per bucket
    first = [entry4(s, d, proto=1) for _, (s, d) in buckets[:1000]]
    rest = [entry4(s, d, proto=1) for _, (s, d) in buckets[1000:]]
    b_last = buckets[999][0]
    script = {
        nf_flows.show_request(4, 0, 0): reply(4, b_last, 2, first),
        nf_flows.show_request(4, b_last, 2): reply(4, 0, 0, []),  # the carry-over loss
        nf_flows.show_request(4, b_last + 1, 0): reply(4, 0, 0, rest),
    }
    sent = []

    def send(req):
        sent.append(req)
        return script[req]

    got = nf_flows.walk(send)
    assert [(f["src"], f["dst"]) for f in got] == [f for _, f in buckets]
    assert sent == list(script)


def test_walk_drops_a_reply_whose_first_flow_is_from_a_later_bucket():
    a, b, c = ("10.0.0.1", "10.0.0.2"), ("10.0.0.3", "10.0.0.4"), ("10.0.0.5", "10.0.0.6")
    ba, bb, bc = (nf_flows.flow_bucket(_flow(*x)) for x in (a, b, c))
    assert bc != ba
    script = {
        nf_flows.show_request(4, 0, 0): reply(4, ba, 2, [entry4(*a, proto=1)] * 1000),
        # bucket ba had one flow: the kernel went on skipping and returned c, the second
        # flow of a later bucket; b (that bucket's first) was skipped.
        nf_flows.show_request(4, ba, 2): reply(4, 0, 0, [entry4(*c, proto=1)]),
        nf_flows.show_request(4, ba + 1, 0): reply(4, 0, 0, [entry4(*b, proto=1),
                                                             entry4(*c, proto=1)]),
    }
    got = nf_flows.walk(script.__getitem__)
    assert [(f["src"], f["dst"]) for f in got][-2:] == [b, c]
    assert len(got) == 1002


def test_walk_continues_after_a_full_reply_in_bucket_zero():
    # ICMP 1.1.0.0 -> 1.1.0.0: a1 = a2 = 0x00000101, x = a1 ^ a1>>16 = 0x0101 and
    # x ^ htons(x) = 0: bucket 0.
    zero = entry4("1.1.0.0", "1.1.0.0", proto=1)
    assert nf_flows.flow_bucket({"src": "1.1.0.0", "dst": "1.1.0.0", "proto": 1}) == 0
    script = {
        nf_flows.show_request(4, 0, 0): reply(4, 0, 1001, [zero] * 1000),
        nf_flows.show_request(4, 0, 1001): reply(4, 0, 0, [zero]),
    }
    assert len(nf_flows.walk(script.__getitem__)) == 1001


def test_walk_refuses_a_reply_of_the_other_version_and_endless_walks():
    with pytest.raises(ValueError, match="IPv6 reply"):
        nf_flows.walk(lambda req: header(6, 0, 0, 0))
    with pytest.raises(ValueError, match="no end"):
        nf_flows.walk(lambda req: header(4, 7, 0, 0), max_requests=5)


# --- flowctl's text ----------------------------------------------------------------------
# Lines written out from flowctl.c's formats (CISCO_SH_FLOW "%-13s %-15s %-13s %-15s %2u
# %4.4x %4.4x %6lu\n", CISCO_SH_FLOW_H "... %5u %8d %8d %8lu\n", CISCO_SH_VERB_FLOW ...).

PLAIN = (
    "SrcIf         SrcIPaddress    DstIf         DstIPaddress    Pr SrcP DstP  Pkts\n"
    "em0           10.0.0.1        igb1          192.0.2.7        6 9c40 01bb      5\n"
    "em0           10.0.0.9        (null)        8.8.8.8         17 cf08 0035      1\n"
    # a second reply (more than 1000 flows) prints the header again
    "SrcIf         SrcIPaddress    DstIf         DstIPaddress    Pr SrcP DstP  Pkts\n"
    "vlan0.100     10.0.0.9        (null)        8.8.8.8          1 0000 0800 123456789\n"
)
HUMAN6 = (
    "SrcIf         SrcIPaddress                         DstIf         DstIPaddress"
    "                         Proto  SrcPort  DstPort     Pkts\n"
    "em0           2001:db8::1                          igb1          2001:db8::2"
    "                             17    50000       53        2\n"
)
VERBOSE = (
    "SrcIf          SrcIPaddress    DstIf          DstIPaddress    Pr TOS Flgs  Pkts\n"
    "Port Msk AS                    Port Msk AS    NextHop              B/Pk  Active\n"
    "em0            10.0.0.1        igb1           192.0.2.7        6  10   12      5\n"
    "9c40 /16 0                     01bb /24 0     192.0.2.254           300        0\n"
    "\n"
    "SrcIf          SrcIPaddress                   DstIf          DstIPaddress"
    "                   Pr TOS Flgs  Pkts\n"
    "Port Msk AS                    Port Msk AS    NextHop                             B/Pk  Active\n"
)


def test_flowctl_plain():
    r = nf_flows.parse_flowctl(PLAIN)
    assert r["style"] == "plain"
    assert r["flows"] == [
        {"version": 4, "ifname_in": "em0", "src": "10.0.0.1", "ifname_out": "igb1",
         "dst": "192.0.2.7", "proto": 6, "sport": 40000, "dport": 443, "packets": 5},
        {"version": 4, "ifname_in": "em0", "src": "10.0.0.9", "ifname_out": None,
         "dst": "8.8.8.8", "proto": 17, "sport": 53000, "dport": 53, "packets": 1},
        {"version": 4, "ifname_in": "vlan0.100", "src": "10.0.0.9", "ifname_out": None,
         "dst": "8.8.8.8", "proto": 1, "sport": 0, "dport": 0x800, "packets": 123456789},
    ]


def test_flowctl_human_ipv6():
    r = nf_flows.parse_flowctl(HUMAN6)
    assert r == {"style": "human", "flows": [
        {"version": 6, "ifname_in": "em0", "src": "2001:db8::1", "ifname_out": "igb1",
         "dst": "2001:db8::2", "proto": 17, "sport": 50000, "dport": 53, "packets": 2}]}


def test_flowctl_verbose_with_the_empty_ipv6_section():
    r = nf_flows.parse_flowctl(VERBOSE)
    assert r == {"style": "verbose", "flows": [
        {"version": 4, "ifname_in": "em0", "src": "10.0.0.1", "ifname_out": "igb1",
         "dst": "192.0.2.7", "proto": 6, "tos": 0x10, "tcp_flags": 0x12, "packets": 5,
         "sport": 40000, "src_mask": 16, "dport": 443, "dst_mask": 24,
         "nexthop": "192.0.2.254", "bytes_per_packet": 300}]}


def test_flowctl_nothing_printed():
    assert nf_flows.parse_flowctl("") == {"style": None, "flows": []}


def test_flowctl_published_capture_human():
    text = (CAPTURES / "elatov_flowctl_show_human.txt").read_text()
    # The author redacted one address as xx.xx.xx.112; put a documentation address there.
    r = nf_flows.parse_flowctl(text.replace("xx.xx.xx.112", "203.0.113.112"))
    assert r["style"] == "human" and len(r["flows"]) == 9
    assert r["flows"][0] == {"version": 4, "ifname_in": "re2", "src": "203.0.113.112",
                             "ifname_out": "re0", "dst": "173.194.193.129", "proto": 6,
                             "sport": 53628, "dport": 443, "packets": 16}
    assert r["flows"][4] == {"version": 4, "ifname_in": "re0", "src": "45.179.243.16",
                             "ifname_out": "lo0", "dst": "161.97.231.112", "proto": 6,
                             "sport": 53220, "dport": 443, "packets": 1}
    assert r["flows"][6]["dst"] == "203.0.113.112" and r["flows"][6]["packets"] == 21
    assert [f["proto"] for f in r["flows"]] == [6, 6, 17, 17, 6, 6, 17, 17, 6]
    # unredacted, the capture is not flowctl output of real addresses: refused
    with pytest.raises(ValueError, match="not an address"):
        nf_flows.parse_flowctl(text)


@pytest.mark.parametrize("text, what", [
    ("hello\n", "not a flowctl header"),
    ("em0 10.0.0.1 igb1 192.0.2.7 6 9c40 01bb 5\n", "not a flowctl header"),
    (PLAIN.splitlines()[0] + "\nem0 10.0.0.1 igb1 192.0.2.7 6 9c40 01bb\n", "8 columns"),
    (PLAIN.splitlines()[0] + "\nem0 10.0.0.1 igb1 192.0.2.7 6 9c4g 01bb 5\n", "hexadecimal"),
    (PLAIN.splitlines()[0] + "\nem0 10.0.0.1 igb1 192.0.2.7 6 10000 01bb 5\n", "out of range"),
    (PLAIN.splitlines()[0] + "\nem0 10.0.0.1 igb1 192.0.2.7 256 9c40 01bb 5\n", "out of range"),
    (PLAIN.splitlines()[0] + "\nem0 10.0.0.1 igb1 192.0.2.7 6 9c40 01bb -5\n", "decimal"),
    (PLAIN.splitlines()[0] + "\nem0 2001:db8::1 igb1 192.0.2.7 6 9c40 01bb 5\n", "not IPv4"),
    (HUMAN6.splitlines()[0] + "\nem0 10.0.0.1 igb1 192.0.2.7 6 80 443 5\n", "not IPv6"),
    (PLAIN + HUMAN6, "one style"),
    (VERBOSE.splitlines()[0] + "\n", "cut after its first line"),
    (VERBOSE.splitlines()[0] + "\nem0\n", "second verbose header"),
    ("\n".join(VERBOSE.splitlines()[:3]) + "\n", "without its second line"),
    ("\n".join(VERBOSE.splitlines()[:3]) + "\n9c40 16 0 01bb /24 0 1.2.3.4 300 0\n",
     "does not start with '/'"),
    ("\n".join(VERBOSE.splitlines()[:3]) + "\n9c40 /16 0 01bb /24 0 1.2.3.4 300\n", "9 columns"),
])
def test_flowctl_malformed(text, what):
    with pytest.raises(ValueError, match=what):
        nf_flows.parse_flowctl(text)


def test_flowctl_argv():
    assert nf_flows.flowctl_argv("netflow:") == ["flowctl", "netflow:", "show"]
    assert nf_flows.flowctl_argv("nf_em0:", 4, "verbose") == [
        "flowctl", "nf_em0:", "show", "ipv4", "verbose"]
    assert nf_flows.flowctl_argv("[2a]:", 6, "human")[3:] == ["ipv6", "human"]
    for bad in ("", "netflow", "net flow:", None, "x" * 600 + ":"):
        with pytest.raises(ValueError):
            nf_flows.flowctl_argv(bad)
    with pytest.raises(ValueError):
        nf_flows.flowctl_argv("nf:", 5)
    with pytest.raises(ValueError):
        nf_flows.flowctl_argv("nf:", None, "loud")
