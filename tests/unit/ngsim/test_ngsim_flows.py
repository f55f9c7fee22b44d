"""Reading ng_netflow's flow cache on an emulated host: ``ngctl msg X: show`` (ENOSYS, as
on FreeBSD: ng_netflow_cmds[] has no "show"), the binary NGM_NETFLOW_SHOW (ng_netflow.c /
netflow.c ng_netflow_flow_show, FreeBSD 14) and ROOT/bin/flowctl (usr.sbin/flowctl/flowctl.c).

Known traffic goes in with ``ngsim traffic``; what comes out is parsed with the product's
parser (_utils/nf_flows.py) and compared with what was sent. The test imports both; ngsim
never imports the product.
"""
from __future__ import annotations

import struct

from netgraph_core import nf_flows
import pytest

from ngsim import netflow_cache as nfc, state
from ngsim.base import Kernel
from ngsim.errors import NgError
from ngsim.testing import Host, ngsim
from ngsim.types import netflow as nfm
from ngsim.netflow_cache import flow_hash

GRAPH = "mkpeer em0: netflow lower iface0\nname em0:lower nf\nconnect em0: nf: upper out0\n"


@pytest.fixture
def host(tmp_path):
    h = Host.create(str(tmp_path / "h"), ifaces=("em0", "igb1", "lo0"), loaded=("ng_ether",))
    r = h.ngctl("-f", "-", stdin=GRAPH)
    assert r.returncode == 0, r.stderr
    return h


def send_traffic(h):
    """Three TCP flows in on em0 (5 packets, 1500 bytes each, routed out of igb1), one UDP
    and one ICMP flow without a route (output index 0)."""
    h.traffic("em0", "--src", "10.0.0.1", "--dst", "192.0.2.7", "--proto", "tcp",
              "--sport", "40000", "--dport", "443", "--packets", "5", "--bytes", "1500",
              "--flows", "3", "--tcp-flags", "0x12", "--oif", "igb1")
    ngsim("tick", h.root, "2")
    h.traffic("em0", "--src", "10.0.0.9", "--dst", "8.8.8.8", "--proto", "udp",
              "--sport", "53000", "--dport", "53", "--tos", "0x10")
    h.traffic("em0", "--src", "10.0.0.9", "--dst", "8.8.8.8", "--proto", "icmp")


SENT = {  # (src, dst, proto, sport, dport) -> packets, bytes, tos, flags, in, out, first
    ("10.0.0.1", "192.0.2.7", 6, 40000, 443): (5, 1500, 0, 0x12, 1, 2, 1),
    ("10.0.0.1", "192.0.2.7", 6, 40001, 443): (5, 1500, 0, 0x12, 1, 2, 1),
    ("10.0.0.1", "192.0.2.7", 6, 40002, 443): (5, 1500, 0, 0x12, 1, 2, 1),
    ("10.0.0.9", "8.8.8.8", 17, 53000, 53): (1, 100, 0x10, 0, 1, 0, 3),
    ("10.0.0.9", "8.8.8.8", 1, 0, 0): (1, 100, 0, 0, 1, 0, 3),
}


def node_of(h, name="nf"):
    k = Kernel(state.load(h.root))
    return k, k.find_name(name)


# --- ngctl cannot send it ------------------------------------------------------------------

@pytest.mark.parametrize("args", [(), ("{", "version=4", "}"),
                                  ("{ version=4 hash_id=0 list_id=0 }",)])
def test_ngctl_msg_show_is_enosys(host, args):
    host.log(clear=True)
    r = host.ngctl("msg", "nf:", "show", *args)
    assert (r.returncode, r.stdout, r.stderr) == (
        71, "", "ngctl: send msg: Function not implemented\n")
    assert host.log()[-1]["mutating"] is False


# --- the binary message -----------------------------------------------------------------------

def test_binary_reply_round_trips_through_nf_flows(host):
    send_traffic(host)
    _, node = node_of(host)
    data = nfc.flow_show(node, nf_flows.show_request())
    assert len(data) == nf_flows.NGRESP_SIZE
    r = nf_flows.parse_show_reply(data)
    assert r["more"] is False and r["next"] is None
    got = {(f["src"], f["dst"], f["proto"], f["sport"], f["dport"]):
           (f["packets"], f["bytes"], f["tos"], f["tcp_flags"], f["iface_in"], f["iface_out"],
            f["first"]) for f in r["flows"]}
    assert got == SENT
    for f in r["flows"]:
        assert f["version"] == 4 and f["flow_type"] == 1 and f["fib"] == 0
        assert f["last"] == f["first"] and f["nexthop"] == "0.0.0.0"
    # kernel order: bucket by bucket, and nf_flows computes the same buckets as ngsim
    buckets = [nf_flows.flow_bucket(f) for f in r["flows"]]
    assert buckets == sorted(buckets)
    assert buckets == [flow_hash(f["src"], f["dst"], f["proto"], f["sport"], f["dport"])
                       for f in r["flows"]]
    assert nf_flows.walk(lambda req: nfc.flow_show(node, req)) == r["flows"]
    # no IPv6 traffic was sent: an empty version-6 walk (test_ngsim_ipv6.py has IPv6 flows)
    r6 = nf_flows.parse_show_reply(nfc.flow_show(node, nf_flows.show_request(6)))
    assert (r6["version"], r6["flows"], r6["more"]) == (6, [], False)


@pytest.mark.parametrize("req", [
    b"",
    nf_flows.show_request()[:15],
    nf_flows.show_request() + b"\0",
    struct.pack("<B3xIII", 5, 0, 0, 0),
    struct.pack("<B3xIII", 4, 65536, 0, 0),
])
def test_binary_request_errors(host, req):
    _, node = node_of(host)
    with pytest.raises(NgError) as e:
        nfc.flow_show(node, req)
    assert e.value.errno == "EINVAL"


def test_binary_message_to_other_types_is_einval(host):
    k, _ = node_of(host)
    ether = k.find_name("em0")
    with pytest.raises(NgError):
        k.ntype(ether).rcvmsg(k, ether, nfm.NGM_NETFLOW_COOKIE, nfm.NGM_NETFLOW_SHOW,
                              nf_flows.show_request())


def test_more_than_1000_flows_kernel_walk_and_list_id_carry_over(host):
    host.traffic("em0", "--src", "10.1.0.1", "--dst", "198.51.100.1", "--proto", "udp",
                 "--sport", "1000", "--dport", "9", "--flows", "1500")
    _, node = node_of(host)
    cache = node["priv"]["cache"]
    assert sum(len(v) for v in cache.values()) == 1500
    first = nf_flows.parse_show_reply(nfc.flow_show(node, nf_flows.show_request()))
    assert len(first["flows"]) == 1000 and first["more"]
    b = sorted(int(x) for x in cache)[999]
    assert first["next"] == {"version": 4, "hash_id": b, "list_id": len(cache[str(b)]) + 1}
    # the kernel's answer to (B, P+1) when bucket B had P flows: positions below P+1 are
    # skipped in every following bucket too
    second = nf_flows.parse_show_reply(nfc.flow_show(node, nf_flows.show_request(
        4, first["next"]["hash_id"], first["next"]["list_id"])))
    want, predicted = first["next"]["list_id"], []
    for x in sorted((x for x in cache if int(x) >= b), key=int):  # netflow.c's loop, read
        for pos, fle in enumerate(cache[x], 1):
            if want > 0:
                if pos < want:
                    continue
                want = 0
            predicted.append(fle[2])  # the source port
    assert [f["sport"] for f in second["flows"]] == predicted
    assert len(first["flows"]) + len(second["flows"]) < 1500  # flows lost
    # walk() repairs it and gets all 1500; flowctl prints what the kernel walk gives
    got = nf_flows.walk(lambda req: nfc.flow_show(node, req))
    assert sorted(f["sport"] for f in got) == list(range(1000, 2500))
    shown = nf_flows.parse_flowctl(host.flowctl("nf:", "show", "ipv4").stdout)["flows"]
    assert [f["sport"] for f in shown] == [f["sport"] for f in first["flows"] + second["flows"]]
    assert len(shown) < 1500


# --- flowctl ---------------------------------------------------------------------------------

def flows_of(text):
    return {(f["src"], f["dst"], f["proto"], f["sport"], f["dport"]): f
            for f in nf_flows.parse_flowctl(text)["flows"]}


@pytest.mark.parametrize("style", ["plain", "human", "verbose"])
def test_flowctl_output_round_trips_through_nf_flows(host, style):
    send_traffic(host)
    r = host.flowctl(*nf_flows.flowctl_argv("nf:", None, style)[1:], pid=4242)
    assert r.returncode == 0 and r.stderr == ""
    parsed = nf_flows.parse_flowctl(r.stdout)
    assert parsed["style"] == style
    got = flows_of(r.stdout)
    assert set(got) == set(SENT)
    names = {0: None, 1: "em0", 2: "igb1", 3: "lo0"}
    for key, f in got.items():
        packets, nbytes, tos, flags, iin, iout, _ = SENT[key]
        assert (f["packets"], f["ifname_in"], f["ifname_out"]) == (packets, names[iin], names[iout])
        if style == "verbose":
            assert (f["tos"], f["tcp_flags"], f["bytes_per_packet"]) == (tos, flags, nbytes // packets)
            assert (f["nexthop"], f["src_mask"], f["dst_mask"]) == ("0.0.0.0", 0, 0)
    # same order as the kernel's reply
    _, node = node_of(host)
    kernel = nf_flows.parse_show_reply(nfc.flow_show(node, nf_flows.show_request()))["flows"]
    assert [f["sport"] for f in parsed["flows"]] == [f["sport"] for f in kernel]


def test_flowctl_exact_output(host):
    send_traffic(host)
    out = host.flowctl("nf:", "show").stdout
    lines = out.splitlines()
    assert lines[0] == ("SrcIf         SrcIPaddress    DstIf         DstIPaddress    "
                        "Pr SrcP DstP  Pkts")
    assert "em0           10.0.0.1        igb1          192.0.2.7        6 9c40 01bb      5" in lines
    assert "em0           10.0.0.9        (null)        8.8.8.8         17 cf08 0035      1" in lines
    assert len(lines) == 6  # one header (one reply with entries; IPv6 prints nothing)
    human = host.flowctl("nf:", "show", "h").stdout.splitlines()
    assert ("em0           10.0.0.9        (null)        8.8.8.8            17    53000"
            "       53        1") in human
    verbose = host.flowctl("nf:", "show", "verb").stdout
    assert ("em0            10.0.0.1        igb1           192.0.2.7        6   0   12      5\n"
            "9c40 /0  0                     01bb /0  0     0.0.0.0               300        0\n"
            "\n") in verbose
    assert verbose.endswith(
        "SrcIf          SrcIPaddress                   DstIf          DstIPaddress"
        "                   Pr TOS Flgs  Pkts\n"
        "Port Msk AS                    Port Msk AS    NextHop"
        "                             B/Pk  Active\n")


def test_flowctl_destroyed_interface_is_null(host):
    send_traffic(host)
    ngsim("ifdestroy", host.root, "igb1")
    got = flows_of(host.flowctl("nf:", "show").stdout)
    assert got[("10.0.0.1", "192.0.2.7", 6, 40000, 443)]["ifname_out"] is None


def test_flowctl_families_and_words(host):
    send_traffic(host)
    assert host.flowctl("nf:", "show", "ipv6").stdout == ""
    assert host.flowctl("nf:", "show", "ipv4", "ipv6").stdout == ""  # ipv4 then ipv6: neither
    assert len(host.flowctl("nf:", "show", "ipv4x").stdout.splitlines()) == 6
    assert host.flowctl("nf:", "sh").stdout == host.flowctl("nf:", "show").stdout
    r = host.flowctl("-x", "-d", "3", "nf:", "show")
    assert r.returncode == 0 and r.stderr == "flowctl: illegal option -- x\n"
    assert len(r.stdout.splitlines()) == 6


@pytest.mark.parametrize("argv, rc, err", [
    ((), 0, "usage: flowctl [-d level] nodename command\n"),
    (("nf:",), 0, "usage: flowctl [-d level] nodename command\n"),
    (("nf:", "list"), 1, "flowctl: bad command: list\n"),
    (("nope:", "show"), 1, "flowctl: NgSendMsg(NGM_NETFLOW_SHOW): No such file or directory\n"),
    (("nf", "show"), 1, "flowctl: NgSendMsg(NGM_NETFLOW_SHOW): No such file or directory\n"),
    (("em0:", "show"), 1, "flowctl: NgSendMsg(NGM_NETFLOW_SHOW): Invalid argument\n"),
    (("x" * 513, "show"), 0, "usage: flowctl [-d level] nodename command\n"),
])
def test_flowctl_errors(host, argv, rc, err):
    r = host.flowctl(*argv)
    assert (r.returncode, r.stdout, r.stderr) == (rc, "", err)


def test_flowctl_socket_node_and_log(host):
    host.log(clear=True)
    before = node_of(host)[0].st["next_id"]
    assert host.flowctl("nf:", "show", pid=777).returncode == 0
    k, _ = node_of(host)
    assert k.st["next_id"] == before + 1  # its socket node took an ID, and is gone
    assert all(n["type"] != "socket" for n in k.st["nodes"].values())
    entry = host.log()[-1]
    assert entry["binary"] == "flowctl" and entry["argv"] == ["flowctl", "nf:", "show"]
    assert entry["mutating"] is False and entry["rc"] == 0 and entry["script"] is None
