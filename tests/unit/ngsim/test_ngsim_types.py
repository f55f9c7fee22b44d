"""Node-type behaviour through ngctl: ether messages, netflow messages and defaults,
ksocket sockets, one2many config, hub/tee hooks."""
from __future__ import annotations

import pytest

from ngsim.testing import Host


@pytest.fixture
def host(tmp_path) -> Host:
    h = Host.create(str(tmp_path / "h"), ifaces=("em0", "em1"), loaded=("ng_ether",))
    assert h.ngctl("-f", "-", stdin="mkpeer em0: netflow lower iface0\nname em0:lower nf\n"
                   "connect em0: nf: upper out0\n").returncode == 0
    return h


def reply(host: Host, *argv: str) -> str:
    r = host.ngctl("msg", *argv)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("Rec'd response ")
    return lines[1]


def test_ether_messages(host):
    assert reply(host, "em1:", "getifname") == 'Args:\t"em1"'
    assert reply(host, "em1:", "getifindex") == "Args:\t2"
    mac = reply(host, "em1:", "getenaddr")
    assert mac.startswith("Args:\t00:1b:21:")
    assert reply(host, "em1:", "getpromisc") == "Args:\t0"
    assert reply(host, "em1:", "getautosrc") == "Args:\t1"
    assert host.ngctl("msg", "em1:", "setpromisc", "1").returncode == 0
    assert reply(host, "em1:", "getpromisc") == "Args:\t1"
    assert host.ngctl("msg", "em1:", "setenaddr", "02:00:00:00:00:01").returncode == 0
    assert reply(host, "em1:", "getenaddr") == "Args:\t02:00:00:00:00:01"
    assert host.ngctl("msg", "em1:", "addmulti", "01:00:5e:00:00:01").returncode == 0
    r = host.ngctl("msg", "em1:", "addmulti", "01:00:5e:00:00:01")
    assert r.stderr == "ngctl: send msg: Address already in use\n"
    r = host.ngctl("msg", "em1:", "getifname")
    assert r.stdout.startswith('Rec\'d response "getifname" (1) from "[2]:":\n')
    # shutdown of an ether node resets promisc and keeps the node
    assert host.ngctl("shutdown", "em1:").returncode == 0
    assert reply(host, "em1:", "getpromisc") == "Args:\t0"
    assert host.ngctl("msg", "em1:", "detach").returncode == 0
    assert "em1" not in host.ngctl("list").stdout


def test_netflow_defaults_and_settings(host):
    assert reply(host, "nf:", "info") == "Args:\t{ Inactive timeout=15 Active timeout=1800 }"
    assert reply(host, "nf:", "v9info") == (
        "Args:\t{ v9 template packets=500 v9 template time=600 v9 MTU=1500 }")
    assert reply(host, "nf:", "ifinfo", "0") == "Args:\t{ data link type=1 conf=1 }"
    assert host.ngctl("msg", "nf:", "settimeouts", "{", "active=60", "}").returncode == 0
    assert reply(host, "nf:", "info") == "Args:\t{ Active timeout=60 }"  # whole struct replaced
    assert host.ngctl("msg", "nf:", "setconfig", "{iface=0", "conf=0}").returncode == 0
    assert host.ngctl("msg", "nf:", "setifindex", "{", "iface=0", "index=7", "}").returncode == 0
    assert reply(host, "nf:", "ifinfo", "0") == "Args:\t{ data link type=1 index=7 }"
    assert host.ngctl("msg", "nf:", "setconfig", "{", "iface=9", "conf=3", "}").returncode == 0
    assert host.ngctl("msg", "nf:", "settemplate", "{", "time=30", "}").returncode == 0
    assert host.ngctl("msg", "nf:", "setmtu", "{", "mtu=24", "}").returncode == 0
    assert reply(host, "nf:", "v9info") == "Args:\t{ v9 template time=30 v9 MTU=24 }"
    r = host.ngctl("msg", "nf:", "info", "ignored", "args")
    assert r.returncode == 0
    r = host.ngctl("msg", "nf:", "info")
    assert r.stdout.startswith('Rec\'d response "info" (805306369) from "[4]:":\n')
    r = host.ngctl("msg", "nf:", "v9info")
    assert r.stdout.startswith('Rec\'d response "v9info" (805306378) from "[4]:":\n')


def test_netflow_setconfig_on_unconnected_iface_is_allowed_but_setdlt_is_not(host):
    assert host.ngctl("msg", "nf:", "setconfig", "{", "iface=5", "conf=11", "}").returncode == 0
    r = host.ngctl("msg", "nf:", "setdlt", "{", "iface=5", "dlt=1", "}")
    assert r.stderr == "ngctl: send msg: Invalid argument\n"


def test_ksocket(host):
    assert host.ngctl("mkpeer", "nf:", "ksocket", "export", "inet/dgram/udp").returncode == 0
    assert reply(host, "nf:export", "getname") == "Args:\tinet/0.0.0.0"
    assert host.ngctl("msg", "nf:export", "bind", "inet/0.0.0.0:9999").returncode == 0
    assert reply(host, "nf:export", "getname") == "Args:\tinet/0.0.0.0:9999"
    assert host.ngctl("msg", "nf:export", "connect", "inet/10.0.0.1:4444").returncode == 0
    # soconnectat() disconnects the connected UDP socket first, then in_pcbconnect_setup()
    # refuses port 0 (EADDRNOTAVAIL): the socket is left unconnected
    r = host.ngctl("msg", "nf:export", "connect", "inet/10.0.0.2")
    assert r.stderr == "ngctl: send msg: Can't assign requested address\n"
    r = host.ngctl("msg", "nf:export", "getpeername")
    assert r.stderr == "ngctl: send msg: Socket is not connected\n"
    assert host.ngctl("msg", "nf:export", "connect", "inet/10.0.0.2:2055").returncode == 0
    assert reply(host, "nf:export", "getpeername") == "Args:\tinet/10.0.0.2:2055"
    assert reply(host, "nf:export", "getname") == "Args:\tinet/0.0.0.0:9999"  # port kept
    r = host.ngctl("mkpeer", "nf:", "ksocket", "export9", "inet/stream/udp")
    assert r.stderr == "ngctl: send msg: Protocol not supported\n"
    assert host.ngctl("mkpeer", "nf:", "ksocket", "export9", "inet6/dgram/17").returncode == 0
    assert host.ngctl("rmhook", "nf:", "export9").returncode == 0
    assert host.ngctl("list").stdout.count("Type: ksocket") == 1


def test_one2many(host):
    b = ("mkpeer nf: one2many export9 one\nname nf:export9 fan\n"
         "mkpeer fan: ksocket many0 inet/dgram/udp\nmkpeer fan: ksocket many2 inet/dgram/udp\n")
    assert host.ngctl("-f", "-", stdin=b).returncode == 0
    assert reply(host, "fan:", "getconfig") == (
        "Args:\t{ xmitAlg=1 failAlg=1 enabledLinks=[ 1 2=1 ] }")
    assert host.ngctl("msg", "fan:", "setconfig",
                      "{ xmitAlg=2 failAlg=1 enabledLinks=[ 1 ] }").returncode == 0
    assert reply(host, "fan:", "getconfig") == "Args:\t{ xmitAlg=2 failAlg=1 enabledLinks=[ 1 ] }"
    r = host.ngctl("msg", "fan:", "setconfig", "{ enabledLinks=[ 1 1 ] }")
    assert r.stderr == "ngctl: send msg: Invalid argument\n"  # xmitAlg=0 is refused
    assert reply(host, "fan:", "getstats", "0") == "Args:\t{}"
    r = host.ngctl("mkpeer", "fan:", "hub", "many00", "x")
    assert r.stderr == "ngctl: send msg: Invalid argument\n"
    r = host.ngctl("mkpeer", "fan:", "hub", "one", "x")
    assert r.stderr == "ngctl: send msg: File exists\n"


def test_hub_and_tee_hooks(host):
    assert host.ngctl("mkpeer", "em1:", "hub", "lower", "any.name-ok").returncode == 0
    r = host.ngctl("mkpeer", "em1:", "tee", "upper", "middle")
    assert r.stderr == "ngctl: send msg: Invalid argument\n"
