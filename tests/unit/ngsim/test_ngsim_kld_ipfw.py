"""kldload/kldstat (§6) and the ipfw binary, through real subprocesses."""
from __future__ import annotations

import re

import pytest

from ngsim.testing import Host

ROW = re.compile(r"^( \d|\d\d) {1,4}\d+ 0x[0-9a-f]{16} +[0-9a-f]+ \S+$")


@pytest.fixture
def host(tmp_path) -> Host:
    return Host.create(str(tmp_path / "h"), ifaces=("em0", "em1", "tun0"))


def test_kldload_deps_ids_and_kldstat_format(host):
    r = host.kldload("-v", "ng_ether")
    assert (r.returncode, r.stdout, r.stderr) == (0, "Loaded ng_ether, id=2\n", "")
    out = host.kldstat().stdout.splitlines()
    assert out[0] == "Id Refs Address                Size Name"
    assert all(ROW.match(line) for line in out[1:])
    assert [line.split()[-1] for line in out[1:]] == ["kernel", "ng_ether.ko", "netgraph.ko"]
    assert out[2] == " 2    1 0xffffffff82a1e000     3220 ng_ether.ko"
    # loading made the ether nodes (IDs 1 and 2) and registered the type
    assert "There are 2 total nodes" not in host.ngctl("list").stdout  # + socket node
    assert host.ngctl("show", "-n", "em1:").stdout.startswith(
        "  Name: em1             Type: ether           ID: 00000002")


def test_kldload_errors(host):
    r = host.kldload("ng_ether", "ng_ether")
    assert (r.returncode, r.stderr) == (
        1, "kldload: can't load ng_ether: module already loaded or in kernel\n")
    r = host.kldload("-n", "-v", "ng_ether.ko", "netgraph")
    assert (r.returncode, r.stdout, r.stderr) == (
        0, "ng_ether.ko is already loaded\nnetgraph is already loaded\n", "")
    r = host.kldload("nosuch")
    assert (r.returncode, r.stderr) == (1, "kldload: can't load nosuch: No such file or directory\n")
    r = host.kldload("-q", "nosuch")
    assert (r.returncode, r.stderr) == (1, "")
    r = host.kldload()
    assert (r.returncode, r.stderr) == (1, "usage: kldload [-nqv] file ...\n")
    r = host.kldload("/boot/kernel/ng_tee.ko")
    assert r.returncode == 0 and host.kldstat("-q", "-m", "ng_tee").returncode == 0


def test_kldstat_variants(host):
    assert host.kldload("ng_netflow").returncode == 0
    r = host.kldstat("-m", "ng_netflow")
    assert r.stdout.splitlines()[0] == "Id  Refs Name"
    assert re.match(r"^ {0,2}\d+    1 ng_netflow$", r.stdout.splitlines()[1])
    r = host.kldstat("-q", "-m", "ng_ether")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "")
    r = host.kldstat("-m", "ng_ether")
    assert (r.returncode, r.stderr) == (
        1, "kldstat: can't find module ng_ether: No such file or directory\n")
    r = host.kldstat("-v")
    assert "ng_netflow.ko (/boot/kernel/ng_netflow.ko)\n\tContains modules:\n\t\t Id Name\n" in r.stdout
    r = host.kldstat("-x")
    assert r.returncode == 1 and r.stderr.endswith(
        "usage: kldstat [-hv] [-i id] [-n filename]\n       kldstat [-q] [-m modname]\n")
    r = host.kldstat("-n", "ng_netflow.ko")
    assert r.stdout.splitlines()[1].endswith(" ng_netflow.ko")


def test_ngctl_loads_ng_socket(host):
    assert host.kldstat("-q", "-m", "ng_socket").returncode == 1
    assert host.ngctl("list").returncode == 0
    assert host.kldstat("-q", "-m", "ng_socket").returncode == 0
    assert host.kldstat("-q", "-m", "netgraph").returncode == 0


def test_ng_ipfw_needs_ipfw_and_makes_node(host):
    assert host.kldload("ng_ipfw").returncode == 0
    assert host.kldstat("-q", "-m", "ipfw").returncode == 0
    out = host.ngctl("list").stdout
    assert "  Name: ipfw            Type: ipfw " in out
    r = host.ngctl("shutdown", "ipfw:")
    assert r.returncode == 0 and "Name: ipfw" in host.ngctl("list").stdout  # persistent
    assert host.ngctl("mkpeer", "ipfw:", "netflow", "10", "iface0").returncode == 0
    assert host.ngctl("msg", "ipfw:10", "setdlt", "{", "iface=0", "dlt=12", "}").returncode == 0
    r = host.ngctl("msg", "ipfw:10", "ifinfo", "0")
    assert r.stdout.endswith("Args:\t{ data link type=12 conf=1 }\n")


def test_ipfw_not_loaded(host):
    r = host.ipfw("list")
    assert (r.returncode, r.stderr) == (71, "ipfw: retrieving config failed: Protocol not available\n")
    r = host.ipfw("add", "100", "allow", "ip", "from", "any", "to", "any")
    assert (r.returncode, r.stderr) == (69, "ipfw: getsockopt(IP_FW_XADD): Protocol not available\n")


def test_ipfw_rules(host):
    assert host.kldload("ipfw").returncode == 0
    r = host.ipfw("add", "100", "ngtee", "10", "ip", "from", "any", "to", "any", "via", "tun0")
    assert (r.returncode, r.stdout) == (0, "00100 ngtee 10 ip from any to any via tun0\n")
    r = host.ipfw("-q", "add", "netgraph", "20", "all", "from", "any", "to", "any", "out", "xmit", "em0")
    assert (r.returncode, r.stdout) == (0, "")
    assert host.ipfw("list").stdout == (
        "00100 ngtee 10 ip from any to any via tun0\n"
        "00200 netgraph 20 ip from any to any out xmit em0\n"
        "65535 deny ip from any to any\n")
    assert host.ipfw("show").stdout.splitlines()[0] == "00100 0 0 ngtee 10 ip from any to any via tun0"
    r = host.ipfw("delete", "100")
    assert r.returncode == 0
    r = host.ipfw("delete", "100")
    assert (r.returncode, r.stderr) == (69, "ipfw: rule 100 not found\n")
    r = host.ipfw("add", "bogus", "ip", "from", "any", "to", "any")
    assert (r.returncode, r.stderr) == (65, "ipfw: invalid action bogus\n")
    r = host.ipfw("add", "ngtee", "0", "ip", "from", "any", "to", "any")
    assert r.stderr == "ipfw: ngtee: argument is out of range (1..65534): 0\n"
    r = host.ipfw("add", "allow", "tcp", "from", "any", "to", "any")
    assert r.returncode != 0
    log = host.log()
    assert [e["mutating"] for e in log if e["binary"] == "ipfw"][:3] == [True, True, False]
