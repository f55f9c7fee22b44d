"""The seed's walkthrough, one ngctl per step, with the link state of em0 after each step."""
from __future__ import annotations

from ngsim.testing import Host

STEPS = [
    (["mkpeer", "em0:", "netflow", "lower", "iface0"], "blackhole"),
    (["name", "em0:lower", "netflow"], "blackhole"),
    (["connect", "em0:", "netflow:", "upper", "out0"], "pass"),
    (["mkpeer", "netflow:", "ksocket", "export9", "inet/dgram/udp"], "pass"),
    (["name", "netflow:export9", "nfsock"], "pass"),
    (["msg", "nfsock:", "connect", "inet/192.0.2.1:4444"], "pass"),
]


def test_walkthrough_step_by_step(tmp_path):
    host = Host.create(str(tmp_path / "h"), ifaces=("em0", "em1"), loaded=())
    assert host.links() == {"em0": "pass", "em1": "pass"}
    r = host.kldload("netgraph", "ng_ether", "ng_netflow", "ng_ksocket")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert host.links() == {"em0": "pass", "em1": "pass"}
    for argv, em0 in STEPS:
        r = host.ngctl(*argv)
        assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), argv
        assert host.links() == {"em0": em0, "em1": "pass"}, argv
    r = host.ngctl("show", "netflow:")
    assert r.stdout == (
        "  Name: netflow         Type: netflow         ID: 00000004   Num hooks: 3\n"
        "  Local hook      Peer name       Peer type    Peer ID         Peer hook      \n"
        "  ----------      ---------       ---------    -------         ---------      \n"
        "  export9         nfsock          ksocket      00000008        inet/dgram/udp \n"
        "  out0            em0             ether        00000001        upper          \n"
        "  iface0          em0             ether        00000001        lower          \n")
    r = host.ngctl("msg", "nfsock:", "getpeername")
    assert r.stdout == 'Rec\'d response "getpeername" (6) from "[8]:":\nArgs:\tinet/192.0.2.1:4444\n'
    # shutting the netflow node down kills the ksocket and restores em0
    assert host.ngctl("shutdown", "netflow:").returncode == 0
    assert host.links() == {"em0": "pass", "em1": "pass"}
    out = host.ngctl("list").stdout
    assert "netflow" not in out and "nfsock" not in out
    assert "  Name: em0             Type: ether           ID: 00000001   Num hooks: 0\n" in out
    log = host.log()
    assert [e["argv"][0] for e in log] == ["kldload"] + ["ngctl"] * 10
    assert [e["mutating"] for e in log] == [True] * 7 + [False, False, True, False]


def test_upper_only_blackholes_outbound(tmp_path):
    host = Host.create(str(tmp_path / "h"), ifaces=("em0",), loaded=("ng_ether",))
    assert host.ngctl("mkpeer", "em0:", "netflow", "upper", "out0").returncode == 0
    assert host.links() == {"em0": "blackhole"}
    assert host.ngctl("connect", "em0:", "[3]:", "lower", "iface0").returncode == 0
    assert host.links() == {"em0": "pass"}
    assert host.ngctl("rmhook", "em0:", "upper").returncode == 0
    assert host.links() == {"em0": "blackhole"}


def test_tee_and_hub_forward(tmp_path):
    host = Host.create(str(tmp_path / "h"), ifaces=("em0", "tun0"), loaded=("ng_ether",))
    b = "mkpeer em0: tee lower left\nname em0:lower t\nconnect em0: t: upper right\n"
    assert host.ngctl("-f", "-", stdin=b).returncode == 0
    assert host.links() == {"em0": "pass", "tun0": "pass"}
    # a netflow on the copy hook does not change passing
    assert host.ngctl("mkpeer", "t:", "netflow", "left2right", "iface0").returncode == 0
    assert host.links()["em0"] == "pass"
    # shutting the tee down splices em0 lower<->upper directly: still passing
    assert host.ngctl("shutdown", "t:").returncode == 0
    out = host.ngctl("show", "em0:").stdout
    assert "  upper           em0             ether        00000001        lower          \n" in out
    assert host.links()["em0"] == "pass"


def test_non_ethernet_always_pass(tmp_path):
    host = Host.create(str(tmp_path / "h"), ifaces=("tun0", "ng0", "ngeth0", "lo0"),
                       loaded=("ng_ether",))
    assert host.links() == {"tun0": "pass", "ng0": "pass", "ngeth0": "pass", "lo0": "pass"}
    names = host.ngctl("list").stdout
    assert "ngeth0" in names and "tun0" not in names and "lo0" not in names
