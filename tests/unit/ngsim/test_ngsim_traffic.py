"""Traffic through the emulated graph: ng_netflow's accounting rules (ng_netflow_rcvdata),
expiry (netflow.c ng_netflow_expire / ng_netflow_flow_add), v9 template refresh
(netflow_v9.c get_export9_dgram), fan-out and ksocket delivery.

Runs in-process on a state dict (ngctl lines through ngsim.ngctl.Ngctl) for speed; the CLI
itself is covered at the end and by tests/functional/states/test_flows_e2e.py.
"""
from __future__ import annotations

import argparse
import base64
import io
import json

import pytest

from ngsim import cli, export as nfx, state, traffic
from ngsim.base import Kernel
from ngsim.links import links
from ngsim.ngctl import Ngctl
from ngsim.testing import loopback_udp_sockets, ngsim


def host(*ifaces: str, loaded=("ng_ether",)) -> dict:
    st = state.fresh_state([cli.iface_kind(i) for i in ifaces])
    cli.boot(st, list(loaded))
    return st


def ng(st: dict, script: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    rc = Ngctl(Kernel(st), out, err, 4242, lambda: script).main(["-f", "-"])
    assert rc == 0, err.getvalue()
    return out.getvalue()


def ipfw(st: dict, *argv: str) -> None:
    from ngsim.ipfw import ipfw_main

    rc, _ = ipfw_main(Kernel(st), list(argv), io.StringIO(), io.StringIO())
    assert rc == 0


def info(st: dict, node: str, msg: str = "info") -> str:
    return ng(st, "msg %s: %s\n" % (node, msg)).splitlines()[-1]


def push(st: dict, iface: str = "em0", **kw) -> dict:
    a = argparse.Namespace(iface=iface, src="10.0.0.1", dst="10.0.0.2", proto="udp", sport=5000,
                           dport=53, packets=1, bytes=None, direction="in", tcp_flags=0, tos=0,
                           forward=None, rcvif=None, oif=None, flows=1)
    for key, val in kw.items():
        setattr(a, key, val)
    return traffic.run_traffic(st, a)


def tick(st: dict, seconds: int) -> dict:
    return traffic.run_tick(st, seconds)


def cache(st: dict, name: str) -> list:
    node = Kernel(st).find_name(name)
    return [fle for lst in node["priv"].get("cache", {}).values() for fle in lst]


def pending(st: dict, name: str) -> dict:
    return traffic.pending(Kernel(st))[name]


def sent(st: dict, name: str) -> dict:
    return Kernel(st).find_name(name)["priv"]["socket"]


EXPORTER = """mkpeer em0: netflow lower iface0
name em0:lower nf
connect em0: nf: upper out0
"""


def exporter(st, conf=None, v9="192.0.2.9:2055", v5=None):
    script = EXPORTER
    if conf is not None:
        script += "msg nf: setconfig { iface=0 conf=%d }\n" % conf
    if v9:
        script += "mkpeer nf: ksocket export9 inet/dgram/udp\nname nf:export9 ks9\n"
        script += "msg ks9: connect inet/%s\n" % v9
    if v5:
        script += "mkpeer nf: ksocket export inet/dgram/udp\nname nf:export ks5\n"
        script += "msg ks5: connect inet/%s\n" % v5
    ng(st, script)


# ----- interfaces and indexes ----------------------------------------------------------------

def test_ifindex_in_creation_order_and_getifindex_agrees():
    st = host("em0", "em1", "vlan0.100", "tun0")
    assert [r["index"] for r in st["ifaces"]] == [1, 2, 3, 4]
    assert ng(st, "msg em1: getifindex\n").splitlines()[-1] == "Args:\t2"
    assert ng(st, "msg vlan0_100: getifindex\n").splitlines()[-1] == "Args:\t3"


def test_input_index_is_rcvif_unless_configured():
    st = host("em0", "em1")
    exporter(st)
    push(st, "em0")
    assert cache(st, "nf")[0][nfx.IIFX] == 1
    ng(st, "msg nf: setifindex { iface=0 index=77 }\n")
    push(st, "em0", sport=5001)
    assert sorted(f[nfx.IIFX] for f in cache(st, "nf")) == [1, 77]


# ----- conf: ingress / egress / bypass -----------------------------------------------------

def test_ingress_only_default_conf():
    st = host("em0")
    exporter(st)
    r = push(st, "em0", proto="tcp", sport=1234, dport=80, packets=3, bytes=300, tcp_flags=0x02)
    assert r["pass"] and r["accounted_by"] == ["nf"]
    fle = cache(st, "nf")[0]
    assert fle[:7] == ["10.0.0.1", "10.0.0.2", 1234, 80, 6, 0, 1]
    assert fle[nfx.PACKETS:nfx.BYTES + 1] == [3, 300] and fle[nfx.FLAGS] == 0x02
    assert info(st, "nf") == ("Args:\t{ IPv4 bytes=300 IPv4 packets=3 IPv4 records used=1 "
                              "fibs allocated=1 Inactive timeout=15 Active timeout=1800 }")
    assert info(st, "nf", "ifinfo 0") == "Args:\t{ packets=3 data link type=1 conf=1 }"
    # outbound frames come in on out0: conf lacks EGRESS, so they bypass (and still pass)
    r = push(st, "em0", direction="out")
    assert r["pass"] and r["accounted_by"] == []
    assert r["netflow"][0]["bypassed"] == 1
    assert len(cache(st, "nf")) == 1


def test_egress_accounts_outbound_with_rcvif_as_input_index():
    st = host("em0", "em1")
    exporter(st, conf=2)
    assert push(st, "em0")["accounted_by"] == []  # ingress bypassed
    push(st, "em0", direction="out", src="10.0.0.2", dst="198.51.100.1")  # locally generated
    push(st, "em0", direction="out", src="10.1.0.2", dst="198.51.100.1", rcvif="em1")  # forwarded
    got = sorted((f[nfx.SRC], f[nfx.IIFX], f[nfx.OIFX]) for f in cache(st, "nf"))
    assert got == [("10.0.0.2", 0, 1), ("10.1.0.2", 2, 1)]
    # setifindex does not apply on out hooks ("hook == iface->out" uses rcvif)
    ng(st, "msg nf: setifindex { iface=0 index=9 }\n")
    push(st, "em0", direction="out", src="10.2.0.2", dst="198.51.100.1", rcvif="em1")
    assert ("10.2.0.2", 2) in [(f[nfx.SRC], f[nfx.IIFX]) for f in cache(st, "nf")]


def test_bypass_without_out_hook_drops_and_links_agree():
    st = host("em0", "em1")
    ng(st, "mkpeer em0: netflow lower iface0\nname em0:lower nf\n")
    assert links(st)["em0"] == "blackhole"
    r = push(st, "em0")
    assert r["accounted_by"] == ["nf"] and not r["pass"] and r["passed"] == 0
    ng(st, "msg nf: setconfig { iface=0 conf=0 }\n")  # no INGRESS: bypass, out0 missing
    r = push(st, "em0")
    assert r["netflow"][0]["bypassed"] == 1 and not r["pass"]
    assert any("ENOTCONN" in why for why in r["dropped"])
    ng(st, "connect em0: nf: upper out0\n")
    assert links(st)["em0"] == "pass"
    assert push(st, "em0")["pass"] and push(st, "em0", direction="out")["pass"]


@pytest.mark.parametrize("script", [
    "",
    "mkpeer em0: netflow lower iface0\n",
    "mkpeer em0: netflow lower iface0\nname em0:lower nf\nconnect em0: nf: upper out0\n",
    "mkpeer em0: tee lower left\nname em0:lower t\nconnect em0: t: upper right\n",
    "mkpeer em0: tee lower left\nname em0:lower t\nconnect em0: t: upper left2right\n",
    "mkpeer em0: hub upper a\nname em0:upper hb\nconnect em0: hb: lower b\n",
    "mkpeer em0: netflow upper out0\n",
])
def test_traffic_agrees_with_links(script):
    st = host("em0")
    if script:
        ng(st, script)
    state_ = links(st)["em0"]
    both = push(st, "em0")["pass"] and push(st, "em0", direction="out")["pass"]
    assert (state_ == "pass") == both


# ----- once / thisonce -----------------------------------------------------------------------

ROUTER = """mkpeer em0: netflow lower iface0
name em0:lower nf
connect em0: nf: upper out0
connect em1: nf: lower iface1
connect em1: nf: upper out1
msg nf: setconfig { iface=0 conf=%d }
msg nf: setconfig { iface=1 conf=%d }
"""


@pytest.mark.parametrize("conf,packets", [(3, 2), (11, 1)])
def test_thisonce_accounts_a_forwarded_packet_once_in_this_node(conf, packets):
    st = host("em0", "em1")
    ng(st, ROUTER % (conf, conf))
    r = push(st, "em0", forward="em1")
    assert r["pass"] and r["forward"]["passed"] == 1
    # ingress on iface0 and egress on out1 share the flow key (input index = rcvif em0):
    # without THISONCE the one packet is counted twice in one entry
    assert [f[nfx.PACKETS] for f in cache(st, "nf")] == [packets]
    hooks = {(v["hook"], "accounted" in v) for v in r["netflow"]}
    assert ("iface0", True) in hooks
    assert ("out1", conf == 3) in hooks


SERIES = """mkpeer em0: netflow lower iface0
name em0:lower nf1
mkpeer nf1: netflow out0 iface0
name nf1:out0 nf2
connect em0: nf2: upper out0
msg nf1: setconfig { iface=0 conf=%d }
msg nf2: setconfig { iface=0 conf=%d }
"""


@pytest.mark.parametrize("c1,c2,accounted", [
    (1, 1, ["nf1", "nf2"]),       # no tags: both account
    (5, 5, ["nf1"]),              # ONCE: nf2 sees nf1's tag and bypasses
    (1 | 8, 1 | 4, ["nf1"]),      # nf1 tags (THISONCE), nf2's ONCE honours any tag
    (5, 1 | 8, ["nf1", "nf2"]),   # THISONCE only honours this node's own tag
])
def test_once_across_nodes(c1, c2, accounted):
    st = host("em0")
    ng(st, SERIES % (c1, c2))
    r = push(st, "em0")
    assert r["pass"] and r["accounted_by"] == accounted


# ----- ipfw ---------------------------------------------------------------------------------

IPFW_NF = """mkpeer ipfw: netflow 10 iface0
name ipfw:10 nf
msg nf: setdlt { iface=0 dlt=%d }
"""


@pytest.mark.parametrize("dlt", [12, 1])
def test_ipfw_ngtee_copies_raw_ip_into_netflow(dlt):
    st = host("em0", "tun0", loaded=("ng_ether", "ng_ipfw"))
    ng(st, IPFW_NF % dlt)
    ipfw(st, "add", "100", "ngtee", "10", "ip", "from", "any", "to", "any", "via", "tun0")
    r = push(st, "tun0", src="10.9.0.1")
    assert r["ipfw"]["ngtee"] == {"10": 1}
    assert not r["pass"]  # default rule 65535 deny (net.inet.ip.fw.default_to_accept=0)
    assert r["ipfw"]["verdicts"] == {"65535 deny": 1}
    if dlt == 12:
        assert r["accounted_by"] == ["nf"]
        assert cache(st, "nf")[0][nfx.IIFX] == 2  # tun0's ifindex: rcvif
    else:  # the IP header read as Ethernet: ether_type 0x0a09 is not IP
        assert r["accounted_by"] == [] and cache(st, "nf") == []
    ipfw(st, "add", "65000", "allow", "ip", "from", "any", "to", "any")
    r = push(st, "tun0", direction="out", src="10.9.0.2")
    assert r["pass"] and r["ipfw"]["verdicts"] == {"65000 allow": 1}
    # em0 does not match "via tun0": no copy
    r = push(st, "em0")
    assert r["pass"] and "ngtee" not in r["ipfw"]


def test_ipfw_netgraph_diverts_and_returns():
    st = host("tun0", loaded=("ng_ipfw",))
    ng(st, IPFW_NF % 12 + "connect nf: ipfw: out0 11\n")
    ipfw(st, "add", "100", "netgraph", "10", "ip", "from", "any", "to", "any", "in")
    r = push(st, "tun0")
    assert r["pass"] and r["accounted_by"] == ["nf"]
    assert r["ipfw"]["verdicts"] == {"00100 netgraph returned": 1}
    ng(st, "rmhook nf: out0\n")
    r = push(st, "tun0")
    assert not r["pass"] and r["ipfw"]["verdicts"] == {"00100 netgraph consumed": 1}


# ----- expiry --------------------------------------------------------------------------------

def test_inactive_expiry_strictly_after_the_timeout():
    st = host("em0")
    exporter(st, v5="192.0.2.5:9995")
    push(st, "em0", packets=2)  # uptime 1
    t = tick(st, 15)  # uptime 16: 16 - 1 = 15, not > 15
    assert t["uptime"] == 16 and len(cache(st, "nf")) == 1
    t = tick(st, 1)
    assert t["expired"] == {"nf": 1} and cache(st, "nf") == []
    assert "Inactive expiries=1" in info(st, "nf")
    # held in the partially filled datagrams (sent when full or on shutdown)
    assert pending(st, "nf") == {"flows": 0, "v5 records": 1, "v9 records": 1}
    assert "sent" not in sent(st, "ks5")


def test_big_flows_wait_for_the_active_timeout():
    # ng_netflow_expire: INACTIVE && (SMALL || cache crowded) || AGED -- a quiet flow with
    # more than 4 packets stays until first is older than the active timeout
    st = host("em0")
    exporter(st)
    ng(st, "msg nf: settimeouts { inactive=15 active=300 }\n")
    push(st, "em0", packets=5)
    push(st, "em0", packets=2, sport=6000)
    tick(st, 100)
    assert [f[nfx.PACKETS] for f in cache(st, "nf")] == [5]
    t = tick(st, 200)  # uptime 301: 301 - 1 = 300, not > 300
    assert len(cache(st, "nf")) == 1
    t = tick(st, 1)
    assert t["expired"] == {"nf": 1} and cache(st, "nf") == []


def test_fin_expires_on_the_packet_path():
    st = host("em0")
    exporter(st)
    r = push(st, "em0", proto="tcp", sport=1, dport=2, packets=3, tcp_flags=0x11)
    # packet 1 creates the entry, packet 2 (FIN) expires it, packet 3 starts a new one
    assert "Active expiries=1" in info(st, "nf")
    assert [f[nfx.PACKETS] for f in cache(st, "nf")] == [1]
    assert r["datagrams"] == []  # not full yet
    assert pending(st, "nf")["v9 records"] == 1


def test_no_callout_without_export_hooks():
    st = host("em0")
    ng(st, EXPORTER)
    push(st, "em0")
    tick(st, 100)
    assert len(cache(st, "nf")) == 1


# ----- datagrams: fill, sequence, templates ---------------------------------------------------

def test_v5_datagram_sent_when_30_records_then_sequence():
    st = host("em0")
    exporter(st, v9=None, v5="192.0.2.5:9995")
    r = push(st, "em0", sport=1000, flows=31)
    assert r["flows"] == 31 and r["packets"] == 31
    t = tick(st, 16)
    assert [(d["version"], d["records"], d["seq"]) for d in t["datagrams"]] == [(5, 30, 0)]
    assert pending(st, "nf")["v5 records"] == 1
    so = sent(st, "ks5")
    assert so["sent"] == 1 and so["last"][0]["real"] is False
    assert so["last"][0]["to"] == "inet/192.0.2.5:9995"
    d = nfx.decode_v5(base64.b64decode(so["last"][0]["data"]))
    assert d["count"] == 30 and d["flow_seq"] == 0 and d["engine_type"] == d["engine_id"] == 0
    assert d["sys_uptime"] == 17000
    held = Kernel(st).find_name("nf")["priv"]["fe"]["item"][0][nfx.SPORT]
    assert {r["sport"] for r in d["records"]} | {held} == set(range(1000, 1031))
    for i in range(29):
        push(st, "em0", sport=2000 + i)
    tick(st, 16)
    d = nfx.decode_v5(base64.b64decode(sent(st, "ks5")["last"][-1]["data"]))
    assert d["flow_seq"] == 30 and d["count"] == 30


def test_v9_no_templates_before_uptime_600_on_a_fresh_boot():
    # get_export9_dgram: time_uptime >= templ_time + templ_last_ts (0), and sent_packets is
    # never incremented, so the packet rule never fires
    st = host("em0")
    exporter(st)
    for i in range(24):
        push(st, "em0", sport=1000 + i)
    t = tick(st, 16)  # uptime 17
    assert [(d["records"], d["templates"]) for d in t["datagrams"]] == [(24, False)]
    traffic.clock(st)["uptime"] = 600
    for i in range(21):
        push(st, "em0", sport=3000 + i)
    t = tick(st, 16)
    assert [(d["records"], d["templates"]) for d in t["datagrams"]] == [(21, True)]
    d = nfx.decode_v9(base64.b64decode(sent(st, "ks9")["last"][-1]["data"]))
    assert d["count"] == 2 + 21 and sorted(d["templates"]) == [256, 259]
    assert d["seq"] == 1


def _burst(st, flows: int, sport: int) -> list:
    """``flows`` flows on em0, then the clock to their inactive expiry: (records, templates)
    of each datagram sent."""
    for i in range(flows):
        push(st, "em0", sport=sport + i)
    return [(d["records"], d["templates"]) for d in tick(st, 16)["datagrams"]]


def test_v9_time_1_at_boot_puts_templates_in_the_first_datagram_and_a_later_time_counts_from_it():
    # what the boot file does (nf_model.boot_template): 17 >= 1 + 0 at the first expiry;
    # settemplate touches neither templ_last_* (ng_netflow.c), so the restored 600 counts
    # from the datagram that carried them (templ_last_ts = 17)
    st = host("em0")
    exporter(st)
    ng(st, "msg nf: settemplate { time=1 packets=500 }\n")
    assert _burst(st, 21, 1000) == [(21, True)]  # uptime 17
    ng(st, "msg nf: settemplate { time=600 packets=500 }\n")
    traffic.clock(st)["uptime"] = 600
    assert _burst(st, 24, 2000) == [(24, False)]  # uptime 616 < 600 + 17
    assert _burst(st, 21, 3000) == [(21, True)]  # uptime 632


def _datagrams_with_templates(st, rounds, step):
    """One flow per round; MTU 160 makes every record fill its datagram, so a datagram is
    created (and the template rule evaluated) at each expiry."""
    ng(st, "msg nf: setmtu { mtu=160 }\n")
    out = []
    for r in range(rounds):
        push(st, "em0", sport=10000 + r)
        t = tick(st, step)
        out += [d["templates"] for d in t["datagrams"]]
    return out


def test_v9_template_refresh_by_time():
    st = host("em0")
    exporter(st)
    ng(st, "msg nf: settemplate { time=60 packets=500 }\n")
    traffic.clock(st)["uptime"] = 100
    got = _datagrams_with_templates(st, 8, 20)  # expiries at 116, 136, ... 256
    assert got == [True, False, False, True, False, False, True, False]


def test_v9_template_refresh_by_packets():
    st = host("em0")
    exporter(st)
    ng(st, "msg nf: settemplate { time=60000 packets=0 }\n")  # 0 >= 0: every datagram
    assert all(_datagrams_with_templates(st, 3, 20))
    st = host("em0")
    exporter(st)
    ng(st, "msg nf: settemplate { time=60000 packets=1 }\n")  # sent_packets stays 0
    assert not any(_datagrams_with_templates(st, 3, 20))


def test_v9_mtu_limits_records_per_datagram():
    st = host("em0")
    exporter(st)
    ng(st, "msg nf: setmtu { mtu=400 }\n")
    for i in range(12):
        push(st, "em0", sport=1000 + i)
    t = tick(st, 16)
    # 400 - 64 = 336: 24 + 57n + 97 >= 336 -> n = 4
    assert [d["records"] for d in t["datagrams"]] == [4, 4, 4]
    assert all(d["length"] <= 400 - 64 for d in t["datagrams"])


def test_shutdown_flushes_cache_and_pending_datagrams():
    st = host("em0")
    exporter(st, v9="192.0.2.9:2055")
    ng(st, "mkpeer nf: ksocket export inet/dgram/udp\nname nf:export ks5\n"
           "msg ks5: connect inet/127.0.0.1:9\n")
    push(st, "em0")
    tick(st, 20)
    push(st, "em0", sport=7)
    k = Kernel(st)
    ctx = traffic.netflow_flush(k, k.find_name("nf"))
    assert [(d["version"], d["records"]) for d in ctx.datagrams] == [(5, 2), (9, 2)]


# ----- fan-out to real loopback sockets --------------------------------------------------------

@pytest.fixture
def two_collectors():
    with loopback_udp_sockets(2, timeout=5) as socks:
        yield socks


FANOUT = EXPORTER + """mkpeer nf: one2many export9 one
name nf:export9 fan
msg fan: setconfig { xmitAlg=%d failAlg=1 enabledLinks=[ 1 1 ] }
mkpeer fan: ksocket many0 inet/dgram/udp
msg fan:many0 connect inet/127.0.0.1:%d
mkpeer fan: ksocket many1 inet/dgram/udp
msg fan:many1 connect inet/127.0.0.1:%d
"""


def test_fanout_all_sends_every_datagram_to_both(two_collectors):
    a, b = two_collectors
    st = host("em0")
    ng(st, FANOUT % (2, a.getsockname()[1], b.getsockname()[1]))
    traffic.clock(st)["uptime"] = 700
    for i in range(21):
        push(st, "em0", proto="tcp", sport=40000 + i, dport=443, packets=2, bytes=3000)
    t = tick(st, 16)
    assert [(d["records"], len(d["sent"])) for d in t["datagrams"]] == [(21, 2)]
    got = [s.recvfrom(65535) for s in (a, b)]
    assert got[0][0] == got[1][0]
    assert got[0][1][0] == "127.0.0.1"
    d = nfx.decode_v9(got[0][0])
    assert d["version"] == 9 and d["count"] == 23 and d["seq"] == 0 and d["source_id"] == 0
    assert d["sys_uptime"] == 716000
    assert {(r["sport"], r["dport"], r["proto"], r["packets"], r["bytes"], r["input"])
            for r in d["records"]} == {(40000 + i, 443, 6, 2, 3000, 1) for i in range(21)}


def test_fanout_round_robin_alternates(two_collectors):
    a, b = two_collectors
    st = host("em0")
    ng(st, FANOUT % (1, a.getsockname()[1], b.getsockname()[1]))
    for r in range(3):
        for i in range(24):
            push(st, "em0", sport=1000 * (r + 1) + i)
        tick(st, 16)
    seqs_a = [nfx.decode_v9(a.recvfrom(65535)[0])["seq"] for _ in range(2)]
    seqs_b = [nfx.decode_v9(b.recvfrom(65535)[0])["seq"]]
    assert seqs_a == [0, 2] and seqs_b == [1]


# ----- the command line ----------------------------------------------------------------------

def test_cli_traffic_and_tick(tmp_path):
    root = str(tmp_path / "h")
    ngsim("init", root, "--iface", "em0", "--loaded", "ng_ether")
    from ngsim.testing import Host

    hst = Host(root)
    assert hst.ngctl("-f", "-", stdin=EXPORTER).returncode == 0
    p = ngsim("traffic", root, "em0", "--src", "10.0.0.1", "--dst", "10.0.0.2", "--proto", "tcp",
              "--sport", "1", "--dport", "2", "--packets", "4", "--bytes", "4000",
              "--tcp-flags", "0x18", "--tos", "0x10")
    r = json.loads(p.stdout)
    assert r["pass"] and r["accounted_by"] == ["nf"] and r["bytes"] == 4000
    t = json.loads(ngsim("tick", root, "30").stdout)
    assert t["uptime"] == 31 and t["pending"]["nf"]["flows"] == 1  # no export hook: no callout
    bad = ngsim("traffic", root, "em9", "--src", "1.1.1.1", "--dst", "2.2.2.2", check=False)
    assert bad.returncode == 1 and "no interface em9" in bad.stderr
    bad = ngsim("traffic", root, "em0", "--src", "1.1.1.1", "--dst", "2.2.2.2", "--proto", "tcp",
                "--packets", "2", "--bytes", "50", check=False)
    assert bad.returncode == 1 and "40..65535" in bad.stderr
    assert hst.links() == {"em0": "pass"}


# ----- ngsim lose: a test knob for datagrams lost on the way ---------------------------------------

def test_lose_knob_loses_the_next_datagrams_on_the_way_and_nothing_else(tmp_path):
    """``ngsim lose ROOT --next 1``: the next datagram is sent by the kernel (sequence number
    spent, no failed export counted) and never reaches the collector; the one after it does.
    Control: without the knob the first datagram arrives (the socket really receives)."""
    root = str(tmp_path / "h")
    ngsim("init", root, "--iface", "em0", "--loaded", "ng_ether")
    with loopback_udp_sockets(1, timeout=0.5) as (sock,):
        port = sock.getsockname()[1]
        with state.locked(root):
            st = state.load(root)
            exporter(st, v9="127.0.0.1:%d" % port)
            state.save(root, st)
        ngsim("tick", root, "700")  # past the template interval

        def one_datagram(flows: int = 24) -> dict:
            """One full datagram: 21 records beside the templates, else 24 (MTU 1500)."""
            with state.locked(root):
                st = state.load(root)
                push(st, "em0", sport=7000, flows=flows)
                t = tick(st, 16)
                state.save(root, st)
            assert len(t["datagrams"]) == 1, t
            return t["datagrams"][0]

        first = one_datagram(21)
        assert first["sent"][0]["real"] is True and "lost" not in first["sent"][0]
        assert nfx.decode_v9(sock.recv(65535))["seq"] == 0  # control: the path delivers
        assert ngsim("lose", root, "--next", "1").returncode == 0
        lost = one_datagram()
        assert lost["sent"][0] == {**lost["sent"][0], "lost": True, "real": False}
        later = one_datagram()
        assert later["sent"][0]["real"] is True
        assert nfx.decode_v9(sock.recv(65535))["seq"] == 2  # seq 1 went nowhere: a gap
        with state.locked(root):
            st = state.load(root)
        assert sent(st, "ks9")["lost"] == 1 and st["wire_loss"] == 0
        assert "failed" not in info(st, "nf")
