"""_utils/nf_sockaddr.py against the layouts in FreeBSD's sources (tests/data/captures/SOURCES.md):
struct sockaddr_in6 / sockaddr_in laid out by hand from sys/netinet6/in6.h, sys/netinet/in.h and
sys/sys/socket.h, their generic ng_ksocket text as ng_parse prints it (sys/netgraph/ng_ksocket.c,
sys/netgraph/ng_parse.c), and ngsim's printed examples and parser as an independent oracle."""
from __future__ import annotations

import ipaddress

from netgraph_core import nf_sockaddr as sa
from netgraph_core import ng_ascii
from netgraph_core import ng_text
import pytest

from ngsim import ksocket_parse as ngsim_ksocket  # ng_ksocket.c's parse side

# struct sockaddr_in6 (sys/netinet6/in6.h): sin6_len u8, sin6_family u8 (AF_INET6 = 28,
# sys/sys/socket.h), sin6_port u16 network order, sin6_flowinfo u32, sin6_addr 16 bytes,
# sin6_scope_id u32 in host order (amd64/arm64: little-endian). [2001:db8::53]:2055:
SIN6_2001_DB8_53 = bytes([
    28, 28,                                  # sin6_len, sin6_family
    0x08, 0x07,                              # sin6_port 2055 = 0x0807, network order
    0, 0, 0, 0,                              # sin6_flowinfo
    0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0,      # sin6_addr 2001:0db8:0000:0000:
    0, 0, 0, 0, 0, 0, 0x00, 0x53,            #           0000:0000:0000:0053
    0, 0, 0, 0,                              # sin6_scope_id
])
# struct sockaddr_in (sys/netinet/in.h): sin_len, sin_family (AF_INET = 2), sin_port, sin_addr,
# sin_zero[8]. 192.0.2.10:2055:
SIN_192_0_2_10 = bytes([16, 2, 0x08, 0x07, 192, 0, 2, 10, 0, 0, 0, 0, 0, 0, 0, 0])


def test_sockaddr_in6_is_the_in6_h_layout():
    assert sa.sockaddr_in6("2001:db8::53", 2055) == SIN6_2001_DB8_53
    assert len(SIN6_2001_DB8_53) == sa.SIN6_LEN == 28
    raw = sa.sockaddr_in6("fd00::1", 1, scope=3, flowinfo=0x12345)
    assert raw[4:8] == bytes([0, 1, 0x23, 0x45]), "flowinfo: network order"
    assert raw[24:28] == bytes([3, 0, 0, 0]), "scope id: host order (little-endian)"


def test_sockaddr_in_is_the_in_h_layout():
    assert sa.sockaddr_in("192.0.2.10", 2055) == SIN_192_0_2_10
    assert len(SIN_192_0_2_10) == sa.SIN_LEN == 16 and sa.AF_INET == 2 and sa.AF_INET6 == 28


@pytest.mark.parametrize("address,port,text", [
    # ngsim/README.md "ng_ksocket and IPv6 collectors", as ngsim prints them
    ("::1", 2055, "{ len=28 family=28 data=[ 0x8 0x7 21=0x1 ] }"),
    ("2001:db8::53", 2055, "{ len=28 family=28 data=[ 0x8 0x7 6=0x20 0x1 0xd 0xb8 21=0x53 ] }"),
    ("::", 0, "{ len=28 family=28 }"),                      # an unbound inet6 socket's getname
    ("2001:db8::1", 0, "{ len=28 family=28 data=[ 6=0x20 0x1 0xd 0xb8 21=0x1 ] }"),  # bind, port 0
    ("::1", 10000, "{ len=28 family=28 data=[ 0x27 0x10 21=0x1 ] }"),
])
def test_generic_text_is_what_ng_ksocket_prints(address, port, text):
    assert sa.inet6_text(address, port) == text == sa.text(address, port)


def test_generic_text_of_the_hand_laid_bytes():
    assert sa.generic_text(SIN6_2001_DB8_53) == "{ len=28 family=28 data=[ 0x8 0x7 6=0x20 0x1 0xd 0xb8 21=0x53 ] }"
    # ng_unparse_composite: every field at its default left out, no blank inside empty braces
    assert sa.generic_text(b"") == "{}" and sa.generic_text(bytes([0, 28])) == "{ family=28 }"


def test_inet_text_leaves_out_port_0():
    assert sa.inet_text("192.0.2.1") == "inet/192.0.2.1" == sa.text("192.0.2.1", 0)
    assert sa.text("127.0.0.1", 2055) == "inet/127.0.0.1:2055"


ADDRESSES = ["::1", "2001:db8::53", "2001:db8:0:1:2:3:4:5", "fd00::", "1::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
             "2001:db8::1:0:0:1", "::2", "fe80::1"]


@pytest.mark.parametrize("address", ADDRESSES)
@pytest.mark.parametrize("port", [0, 1, 255, 256, 2055, 65535])
def test_text_equals_ngsims_and_parses_back_to_the_same_bytes(address, port):
    text = sa.inet6_text(address, port)
    assert text == ngsim_ksocket.generic_inet6(address, port)
    raw, _ = ngsim_ksocket._parse_generic(text, 0)  # ngsim's ng_parse_composite
    assert raw == sa.sockaddr_in6(address, port) == sa.generic_bytes(text)
    found = sa.decode(text)
    assert (found["family"], ipaddress.ip_address(found["address"]), found["port"]) == \
        ("inet6", ipaddress.ip_address(address), port)


def test_a_reply_parsed_by_ng_text_comes_back_as_its_exact_text():
    text = "{ len=28 family=28 data=[ 0x8 0x7 6=0x20 0x1 0xd 0xb8 21=0x53 ] }"
    reply = ng_text.parse_reply(f'Rec\'d response "getpeername" (6) from "[2b]:":\nArgs:\t{text}\n')
    assert isinstance(reply["args"], dict)
    assert sa.canonical(reply["args"]) == text
    assert sa.canonical(ng_ascii.parse_ascii("{ len=28 family=28 }")) == "{ len=28 family=28 }"
    assert sa.canonical("inet/127.0.0.1:2055") == "inet/127.0.0.1:2055"
    assert sa.label(reply["args"]) == "[2001:db8::53]:2055" and sa.label("inet/127.0.0.2:10000") == "127.0.0.2:10000"


def test_decode_inet_and_what_is_no_address():
    assert sa.decode("inet/192.0.2.1") == {"family": "inet", "address": "192.0.2.1", "port": 0, "scope": 0,
                                           "flowinfo": 0}
    assert sa.decode(sa.generic_text(SIN_192_0_2_10))["address"] == "192.0.2.10"
    for bad in ('local/"/tmp/x"', "inet/300.1.1.1:1", "inet/1.2.3.4:70000", "{ len=2 family=1 }", "garbage",
                None, 5, {"len": 28, "family": 28, "data": [1] * 27}, "{ len=28 family=28 color=1 }"):
        assert sa.decode(bad) is None, bad
    scoped = sa.decode(sa.generic_text(sa.sockaddr_in6("fe80::1", 2055, scope=2)))
    assert scoped["scope"] == 2 and scoped["address"] == "fe80::1"


def test_generic_bytes_refuses_what_ng_parse_would():
    with pytest.raises(ValueError, match="data bytes"):
        sa.generic_bytes({"len": 4, "family": 28, "data": [1, 2, 3]})  # E2BIG in ng_bytearray_parse
    for bad in ({"len": 28, "family": 28, "port": 1}, {"len": 300}, {"len": 28, "data": [256]}, [1, 2], "inet/1.2.3.4"):
        with pytest.raises(ValueError):
            sa.generic_bytes(bad)


@pytest.mark.parametrize("value,result", [
    ("192.0.2.10", ("inet", "192.0.2.10")), ("2001:DB8::53", ("inet6", "2001:db8::53")),
    ("2001:db8:0:0::53", ("inet6", "2001:db8::53")), ("::1", ("inet6", "::1")), ("127.0.0.2", ("inet", "127.0.0.2")),
    ("collector.example.net", None), ("localhost", None),
])
def test_literal_gives_the_one_spelling(value, result):
    assert sa.literal(value) == result


@pytest.mark.parametrize("value,why", [
    ("fe80::1", "link-local"), ("fe80::1%em0", "link-local"), ("FE80::1%2", "link-local"),
    ("2001:db8::1%em0", "zone"), ("::", "unicast"), ("ff05::2", "unicast"), ("0.0.0.0", "unicast"),
    ("224.0.0.5", "unicast"), ("255.255.255.255", "unicast"), ("::ffff:192.0.2.1", "IPv4-mapped"),
    ("192.0.2.010", "IPv4"), ("1.2.3", "IPv4"), ("2001:db8::1::2", "IPv6"), ("[::1]:2055", "IPv6"),
])
def test_literal_refuses_with_the_reason(value, why):
    with pytest.raises(ValueError, match=why):
        sa.literal(value)


@pytest.mark.parametrize("value,ok", [
    ("collector", True), ("collector.example.net", True), ("collector.example.net.", True), ("a-b.c9", True),
    ("-a.net", False), ("a-.net", False), ("a_b.net", False), ("a..b", False), ("", False), ("a.123", False),
    ("x" * 63 + ".net", True), ("x" * 64 + ".net", False), (".".join(["a" * 63] * 4), False),
    ("exämple.net", False), ("a b", False), ("a\n", False),
])
def test_host_name_is_rfc_1123(value, ok):
    assert sa.host_name(value) is ok
