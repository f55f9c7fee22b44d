"""Dual stack through Salt's loader on an emulated host (issue 16): IPv4 and IPv6 flows
exported to an IPv4 v9 collector with ``source:`` (its host a name), a v5 collector and an
IPv6 v9 collector on ::1, decoded by real nfcapd/nfdump; the collector changes in place
(IPv4 -> IPv6, a new source, a dropped source) keep the netflow node and its flow cache; a
host name that does not resolve changes nothing.

Nothing leaves the loopback interface: ngsim's ksocket sends real datagrams only to
127.0.0.0/8 and ::1, from the socket's bound loopback source (127.0.0.2 here).
"""
from __future__ import annotations

import json
import pathlib
import shutil
import socket
import subprocess
import time

import pytest


REPO = pathlib.Path(__file__).resolve().parents[3]
from tests.support import nghost as _conf  # noqa: E402 - after REPO, as before
from tests.support.nfcapd import Nfcapd46  # noqa: E402
ngsim = _conf.run_ngsim
HAVE_NFDUMP = bool(shutil.which("nfcapd") and shutil.which("nfdump"))

FLOW6 = ("2001:db8::10", "2001:db8::20", "tcp", 40000, 443, 4, 2400)
FLOW4 = ("10.0.0.1", "192.0.2.7", "udp", 5000, 53, 2, 300)


@pytest.fixture
def host(tmp_path):
    return _conf.NgHost(tmp_path / "fw1").init(ifaces=("em0", "em1"))


@pytest.fixture
def loaders(host, tmp_path):
    return _conf.ng_loaders_for(host.root, tmp_path / "salt", netflow=True)


def present(loaders, collectors, **params):
    return loaders.states.netflow.exporter_present(name="lan", interfaces=["em0", "em1"], collectors=collectors,
                                                   **params)


def push(root, flow, iface="em0"):
    src, dst, proto, sport, dport, packets, nbytes = flow
    r = json.loads(ngsim("traffic", str(root), iface, "--src", src, "--dst", dst, "--proto", proto, "--sport",
                         str(sport), "--dport", str(dport), "--packets", str(packets), "--bytes", str(nbytes),
                         "--direction", "in"))
    assert r["pass"] and r["accounted_by"] == ["lan_nf"], r


def node_id(host, node="lan_nf:"):
    return host.ngctl("show", "-n", node).stdout.split("ID: ")[1].split()[0]


def args(host, node, msg):
    return host.ngctl("msg", node, msg).stdout.splitlines()[-1].split("\t", 1)[1]


def free_port(family, address):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((address, 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ------------------------------------------------------------------------ e2e, real collectors
@pytest.mark.skipif(not HAVE_NFDUMP, reason="nfcapd/nfdump not installed (Debian package nfdump)")
def test_ipv6_and_ipv4_flows_reach_ipv4_v5_and_ipv6_collectors(host, loaders, tmp_path):
    v9a = Nfcapd46(tmp_path / "v9a", "127.0.0.1", free_port(socket.AF_INET, "127.0.0.1"))
    v5 = Nfcapd46(tmp_path / "v5", "127.0.0.1", free_port(socket.AF_INET, "127.0.0.1"))
    v9b = Nfcapd46(tmp_path / "v9b", "::1", free_port(socket.AF_INET6, "::1"))
    port = {c: int(c.proc.args[c.proc.args.index("-p") + 1]) for c in (v9a, v5, v9b)}
    try:
        ret = present(loaders, [{"host": "localhost", "port": port[v9a], "source": "127.0.0.2"},
                                {"host": "127.0.0.1", "port": port[v5], "version": 5},
                                {"host": "::1", "port": port[v9b]}])
        assert ret.result is True, ret.comment
        ngctl = ret.changes["ngctl"]
        assert "mkpeer lan_v9: ksocket many0 inet6/dgram/17" in ngctl or "mkpeer lan_v9: ksocket many1 inet6/dgram/17" in ngctl
        sock4 = next(line.split()[1][:-1] for line in ngctl if line.endswith(f"connect inet/127.0.0.1:{port[v9a]}"))
        bind = ngctl.index(f"msg {sock4}: bind inet/127.0.0.2")
        assert ngctl[bind + 1] == f"msg {sock4}: connect inet/127.0.0.1:{port[v9a]}", "bind right before connect"
        assert "localhost" in json.dumps({k: v for k, v in ret.changes.items() if k != "ngctl"}), ret.changes
        # changes name the collector's host name, and their ngctl lines the address it resolved to (above)
        assert present(loaders, [{"host": "localhost", "port": port[v9a], "source": "127.0.0.2"},
                                 {"host": "127.0.0.1", "port": port[v5], "version": 5},
                                 {"host": "::1", "port": port[v9b]}]).changes == {}

        # the source as the kernel reports it: getname, with the ephemeral port bind took
        local = args(host, f"{sock4}:", "getname")
        assert local.startswith("inet/127.0.0.2:") and int(local.rsplit(":", 1)[1]) >= 10000
        status = loaders.modules.netflow.status("lan")
        by_port = {c["port"]: c for c in status["collectors"]}
        assert (by_port[port[v9a]]["source"], by_port[port[v9a]]["declared_source"]) == ("127.0.0.2", "127.0.0.2")
        assert by_port[port[v9a]]["source_port"] == int(local.rsplit(":", 1)[1])
        assert by_port[port[v9b]]["family"] == "inet6" and by_port[port[v9b]]["connected"] is True
        assert by_port[port[v5]]["carries"] == ["IPv4"] and status["health"] == "ok", status["reasons"]

        ngsim("tick", str(host.root), "700")  # v9 templates only once uptime reaches templ_time
        push(host.root, FLOW6)
        push(host.root, FLOW4, "em1")
        assert loaders.states.netflow.exporter_absent(name="lan").result is True  # the shutdown flushes
        time.sleep(0.5)
    finally:
        for c in (v9a, v5, v9b):
            c.stop()

    def got(c):
        return sorted((r["sa"], r["da"], r["pr"].upper(), int(r["sp"]), int(float(r["dp"])), int(r["ipkt"]),
                       int(r["ibyt"])) for r in c.flows())

    want = [tuple(str(x).upper() if i == 2 else x for i, x in enumerate(f)) for f in (FLOW4, FLOW6)]
    proto = {"6": "TCP", "17": "UDP"}
    norm = [tuple(proto.get(x, x) if i == 2 else x for i, x in enumerate(r)) for r in got(v9a)]
    assert sorted(norm) == sorted(want), "the IPv4 v9 collector decodes the IPv6 flow too"
    assert sorted(tuple(proto.get(x, x) if i == 2 else x for i, x in enumerate(r)) for r in got(v9b)) == sorted(want)
    assert [tuple(proto.get(x, x) if i == 2 else x for i, x in enumerate(r)) for r in got(v5)] == [want[0]], \
        "v5 carries IPv4 only"
    # nfdump's router address: where the datagrams came from, the bound source and ::1
    assert {r["ra"].strip() for r in v9a.flows()} == {"127.0.0.2"}
    assert {r["ra"].strip() for r in v9b.flows()} == {"::1"}


# ------------------------------------------------------------------------ changes in place
def test_collector_changes_in_place_keep_the_flow_cache(host, loaders):
    assert present(loaders, [{"host": "127.0.0.1", "port": 2055}]).result is True
    nf = node_id(host)
    ngsim("tick", str(host.root), "1")
    push(host.root, FLOW6)
    push(host.root, FLOW4)
    info = args(host, "lan_nf:", "info")
    assert "IPv4 records used=1" in info and "IPv6 records used=1" in info
    steps = [
        ([{"host": "::1", "port": 2055}], "shutdown lan_v9:"),                              # IPv4 -> IPv6
        ([{"host": "::1", "port": 2056}], None),                                            # re-point: connect
        ([{"host": "2001:db8::53", "port": 2055, "source": "2001:db8::1"}], "shutdown lan_v9:"),  # a source
        ([{"host": "2001:db8::54", "port": 2055, "source": "2001:db8::1"}], "shutdown lan_v9:"),  # host, bound
        ([{"host": "2001:db8::54", "port": 2055}], "shutdown lan_v9:"),                     # source dropped
        ([{"host": "192.0.2.10", "port": 2055, "source": "192.0.2.1"},                      # fan-out, both
          {"host": "2001:db8::54", "port": 2055}], "shutdown lan_v9:"),
    ]
    for collectors, first in steps:
        host.clear_log()
        ret = present(loaders, collectors)
        assert ret.result is True, ret.comment
        ngctl = ret.changes["ngctl"]
        assert (ngctl[0] == first) if first else ngctl[0].startswith("msg lan_v9: connect {"), (collectors, ngctl)
        assert len([e for e in host.log() if e["mutating"]]) == 1, "one batch"
        assert node_id(host) == nf, f"netflow node replaced at {collectors}"
        assert present(loaders, collectors).changes == {}, collectors
        info = args(host, "lan_nf:", "info")
        assert "IPv4 records used=1" in info and "IPv6 records used=1" in info, "the flow cache is kept"
    peers = {n: args(host, f"{n}:", "getpeername") for n in ("lan_v9_0", "lan_v9_1")}
    assert sorted(peers.values()) == ["inet/192.0.2.10:2055",
                                      "{ len=28 family=28 data=[ 0x8 0x7 6=0x20 0x1 0xd 0xb8 21=0x54 ] }"]
    bound = next(n for n, p in peers.items() if p.startswith("inet/"))
    assert args(host, f"{bound}:", "getname").startswith("inet/192.0.2.1:")


def test_a_name_that_does_not_resolve_changes_nothing(host, loaders):
    assert present(loaders, [{"host": "127.0.0.1", "port": 2055}]).result is True
    host.clear_log()
    for test in (False, True):
        ret = present(loaders, [{"host": "collector.invalid", "port": 2055}], test=test)
        assert ret.result is False
        assert "collectors[0].host: 'collector.invalid' does not resolve on this minion" in ret.comment
    assert [e for e in host.log() if e["mutating"]] == []
    assert args(host, "lan_v9:", "getpeername") == "inet/127.0.0.1:2055"


def test_every_bad_collector_is_named_in_one_comment(host, loaders):
    ret = present(loaders, [{"host": "fe80::1", "port": 2055}, {"host": "2001:db8::53", "port": 0, "source": "192.0.2.1"},
                            {"host": "192.0.2.10", "port": 2055, "version": 5, "source": "::1"}])
    assert ret.result is False
    for key in ("collectors[0].host", "collectors[1].port", "collectors[1].source", "collectors[2].source"):
        assert key in ret.comment, ret.comment
    assert "\n" not in ret.comment and [e for e in host.log() if e["mutating"]] == []


def test_boot_file_rebuilds_the_bound_ipv6_exporter(host, loaders, tmp_path):
    cols = [{"host": "2001:db8::53", "port": 2055, "source": "2001:db8::1"}, {"host": "127.0.0.1", "port": 9995, "version": 5}]
    assert present(loaders, cols, persist=True).result is True
    boot = tmp_path / "salt" / "boot" / "lan.ngctl"
    before = {n: (args(host, f"{n}:", "getpeername"), args(host, f"{n}:", "getname")) for n in ("lan_v9", "lan_v5")}
    ngsim("reboot", str(host.root))
    subprocess.run([str(host.bin("kldload")), "-n", "ng_ether"], check=True)
    subprocess.run([str(host.bin("ngctl")), "-f", str(boot)], check=True)
    assert args(host, "lan_v9:", "getpeername") == before["lan_v9"][0]
    assert args(host, "lan_v9:", "getname").startswith("{ len=28 family=28 data=[ ")  # bound to 2001:db8::1 again
    assert "6=0x20 0x1 0xd 0xb8 21=0x1 ]" in args(host, "lan_v9:", "getname")
    assert present(loaders, cols, persist=True).changes == {}
