"""ROOT/bin/ifconfig: ``ifconfig -l [-d] [-u] [address_family]`` as FreeBSD 14's
sbin/ifconfig prints it (ifconfig.c args_parse/usage, ifconfig_netlink.c
list_interfaces_nl/match_iface, match_ether: IFT_ETHER, IFT_L2VLAN, IFT_BRIDGE with a
6-byte address; a lagg's IFT_IEEE8023ADLAG counts as IFT_ETHER)."""
from __future__ import annotations

import pytest

from ngsim.testing import Host, ngsim

USAGE = (
    "usage: ifconfig [-j jail] [-f type:format] [-g groupname] [-C] [-L] interface address_family\n"
    "                [address [dest_address]] [parameters]\n"
    "       ifconfig [-j jail] interface create\n"
    "       ifconfig [-j jail] -a [-g groupname] [-C] [-L] [-d] [-m] [-u] [-v] [address_family]\n"
    "       ifconfig [-j jail] -l [-d] [-u] [address_family]\n"
    "       ifconfig [-j jail] [-g groupname] [-C] [-L] [-d] [-m] [-u] [-v]\n"
)
IFACES = ("em0", "lo0", "igb1", "vtnet0", "vlan0.100", "tun0", "lagg0", "gif0", "bridge0",
          "ppp0", "ng0", "ngeth0", "wg0")
ETHER = "em0 igb1 vtnet0 vlan0.100 lagg0 bridge0 ngeth0\n"


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    return Host.create(str(tmp_path_factory.mktemp("ifc") / "h"), ifaces=IFACES)


def ok(r, out):
    assert (r.returncode, r.stdout, r.stderr) == (0, out, "")


def test_list_all_in_creation_order(host):
    ok(host.ifconfig("-l"), " ".join(IFACES) + "\n")


@pytest.mark.parametrize("args", [("-l", "ether"), ("-l", "link"), ("-l", "lladdr"),
                                  ("-lu", "ether"), ("-l", "-u", "-v", "ether"),
                                  ("-l", "--", "ether")])
def test_list_ethernet(host, args):
    ok(host.ifconfig(*args), ETHER)


@pytest.mark.parametrize("args", [("-l", "inet"), ("-l", "inet6"), ("-l", "-d"),
                                  ("-ld", "ether")])
def test_empty_lists_are_a_newline(host, args):
    ok(host.ifconfig(*args), "\n")


@pytest.mark.parametrize("args, complaint", [
    (("-l", "foo"), "ifconfig: Address family 'foo' unknown.\n"),
    (("-l", "ether", "inet"), ""),
    (("-l", "-a"), ""),
    (("-l", "-m"), ""),
    (("-l", "-u", "-d"), ""),
    (("-x",), "ifconfig: illegal option -- x\n"),
    (("-lx",), "ifconfig: illegal option -- x\n"),
    (("-l", "-f"), "ifconfig: option requires an argument -- f\n"),
    (("-G", "lo", "-a"), ""),
])
def test_usage(host, args, complaint):
    r = host.ifconfig(*args)
    assert (r.returncode, r.stdout, r.stderr) == (1, "", complaint + USAGE)


def test_missing_interface(host):
    r = host.ifconfig("em7")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "ifconfig: interface em7 does not exist\n")
    r = host.ifconfig("em7", "up")
    assert r.stderr == "ifconfig: interface em7 does not exist\n"


@pytest.mark.parametrize("args", [(), ("-a",), ("em0",), ("em0", "up"), ("-g", "vlan"), ("-C",),
                                  ("-j", "jail1", "-l"), ("vlan1", "create")])
def test_not_emulated_says_so(host, args):
    r = host.ifconfig(*args)
    assert r.returncode == 70 and r.stdout == ""
    assert r.stderr.startswith("ngsim: ifconfig: ") and "not emulated" in r.stderr


def test_list_follows_ifcreate_ifdestroy_and_reboot(tmp_path):
    h = Host.create(str(tmp_path / "h"), ifaces=("em0", "tun0"), loaded=("ng_ether",))
    ok(h.ifconfig("-l"), "em0 tun0\n")
    ngsim("ifcreate", h.root, "vlan0.5")
    ngsim("ifcreate", h.root, "gre0")
    ok(h.ifconfig("-l"), "em0 tun0 vlan0.5 gre0\n")
    ok(h.ifconfig("-l", "ether"), "em0 vlan0.5\n")
    ngsim("ifdestroy", h.root, "em0")
    ngsim("ifcreate", h.root, "em0")  # comes back at the end, as a re-attached NIC does
    ok(h.ifconfig("-l"), "tun0 vlan0.5 gre0 em0\n")
    ngsim("reboot", h.root)
    ok(h.ifconfig("-l", "ether"), "vlan0.5 em0\n")
    ngsim("ifcreate", h.root, "odd0=other")
    ok(h.ifconfig("-l", "ether"), "vlan0.5 em0\n")


def test_log_lines(tmp_path):
    h = Host.create(str(tmp_path / "h"), ifaces=("em0",))
    h.ifconfig("-l", "ether")
    h.ifconfig("-l", "bogus")
    log = h.log()
    assert [(e["binary"], e["argv"], e["rc"], e["mutating"], e["script"]) for e in log] == [
        ("ifconfig", ["ifconfig", "-l", "ether"], 0, False, None),
        ("ifconfig", ["ifconfig", "-l", "bogus"], 1, False, None),
    ]
