"""The node types real FreeBSD hosts run beside our exporters: ng_bridge, ng_eiface,
ng_vlan, ng_pppoe (ngsim/types/{bridge,eiface,vlan,pppoe}.py). Each behaviour names the
source it follows (FreeBSD main, sys/netgraph/ng_<type>.[ch]). Most tests drive ngctl,
the data path and ``links`` in-process on a state dict, as test_ngsim_traffic.py does;
the list/show/kldstat/ifconfig outputs go through the real binaries (ngsim.testing.Host).
"""
from __future__ import annotations

import argparse
import io
import struct


from ngsim import cli, datapath, state, traffic
from ngsim.base import Kernel
from ngsim.links import links
from ngsim.ngctl import Ngctl
from ngsim.testing import Host, ngsim

PEER = bytes.fromhex("020000000001")  # ngsim traffic's far end (traffic.PEER_MAC)
HOOKS_HDR = ("  Local hook      Peer name       Peer type    Peer ID         Peer hook      \n"
             "  ----------      ---------       ---------    -------         ---------      \n")


def host(*ifaces: str, loaded=("ng_ether",)) -> dict:
    st = state.fresh_state([cli.iface_kind(i) for i in ifaces or ("em0", "em1")])
    cli.boot(st, list(loaded))
    return st


def run(st: dict, script: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = Ngctl(Kernel(st), out, err, 4242, lambda: script).main(["-f", "-"])
    return rc, out.getvalue(), err.getvalue()


def ng(st: dict, script: str) -> str:
    rc, out, err = run(st, script)
    assert rc == 0, err
    return out


def err(st: dict, line: str) -> str:
    """The ngctl complaint for one failing line (and that the line failed)."""
    rc, _, text = run(st, line + "\n")
    assert rc != 0
    return text.splitlines()[0]


def args(st: dict, path: str, msg: str) -> str:
    return ng(st, "msg %s %s\n" % (path, msg)).splitlines()[-1]


def node(st: dict, name: str) -> dict:
    return Kernel(st).find_name(name)


def push(st: dict, iface: str = "em0", **kw) -> dict:
    a = argparse.Namespace(iface=iface, src="10.0.0.1", dst="10.0.0.2", proto="udp", sport=5000,
                           dport=53, packets=1, bytes=None, direction="in", tcp_flags=0, tos=0,
                           forward=None, rcvif=None, oif=None, flows=1)
    for key, val in kw.items():
        setattr(a, key, val)
    return traffic.run_traffic(st, a)


def inject(st: dict, name: str, hook: str, data: bytes) -> datapath.Ctx:
    """Write one frame out of ``name``'s ``hook`` (into its peer), as NG_SEND_DATA does."""
    ctx = datapath.Ctx(Kernel(st))
    datapath.send(ctx, node(st, name), hook, datapath.Pkt(data))
    return ctx


def frame(dst: bytes, src: bytes, etype: int = 0x0800, payload: bytes = b"\x45" + b"\0" * 45):
    return dst + src + struct.pack("!H", etype) + payload


def mac(text: str) -> bytes:
    return bytes(int(x, 16) for x in text.split(":"))


# ----- ng_bridge -----------------------------------------------------------------------

def test_bridge_hook_names_follow_ng_bridge_newhook():
    st = host()
    ng(st, "mkpeer em0: bridge lower link0\nname em0:lower br\n")
    for hook in ("link1", "link31", "link4294967295", "uplink1", "uplink7"):
        ng(st, "mkpeer br: hub %s x\n" % hook)
    for hook in ("link", "uplink0", "link01", "link+1", "linkx", "link1x", "foo", "Link2",
                 "uplink", "link4294967296"):
        assert err(st, "mkpeer br: hub %s x" % hook) == "ngctl: send msg: Invalid argument"
    # a link to itself: ng_con_part2 sets the peer first, then newhook says ELOOP
    assert err(st, "connect br: br: link8 link9") == (
        "ngctl: send msg: Too many levels of symbolic links")
    assert err(st, "mkpeer br: hub link0 x") == "ngctl: send msg: File exists"


def test_bridge_messages_follow_ng_bridge_rcvmsg():
    st = host()
    ng(st, "mkpeer em0: bridge lower link0\nname em0:lower br\nconnect em0: br: upper uplink2\n")
    assert args(st, "br:", "getconfig") == (
        "Args:\t{ debugLevel=1 loopTimeout=60 maxStaleness=900 minStableAge=1 }")
    ng(st, "msg br: setconfig { loopTimeout=5 }\n")  # the whole struct: unset fields are 0
    assert args(st, "br:", "getconfig") == "Args:\t{ loopTimeout=5 }"
    assert args(st, "br:", "gettable") == "Args:\t{}"
    assert args(st, "br:", "getstats 0") == "Args:\t{}"
    assert args(st, "br:", "getstats -2") == "Args:\t{}"  # negative: uplink2
    assert err(st, "msg br: getstats 1") == "ngctl: send msg: Socket is not connected"
    assert err(st, "msg br: getstats -1") == "ngctl: send msg: Socket is not connected"
    ng(st, "msg br: movehost { addr=02:00:00:00:00:09 hook=\"link0\" }\n")
    assert args(st, "br:", "gettable") == (
        'Args:\t{ numHosts=1 hosts=[ { addr=02:00:00:00:00:09 hook="link0" } ] }')
    assert err(st, 'msg br: movehost { addr=02:00:00:00:00:09 hook="link9" }') == (
        "ngctl: send msg: No such file or directory")
    assert err(st, "msg br: movehost { addr=02:00:00:00:00:09 }") == (
        "ngctl: send msg: No such file or directory")  # no lasthook from ngctl
    assert err(st, "msg br: gettable2") == "ngctl: send msg: Function not implemented"
    ng(st, "msg br: reset\n")
    assert args(st, "br:", "gettable") == "Args:\t{}"
    out = ng(st, "msg br: gettable\n")
    assert out.startswith('Rec\'d response "gettable" (7) from "[%x]:":\n' % node(st, "br")["id"])


def test_bridge_goes_with_its_last_hook_unless_persistent():
    st = host()
    ng(st, "mkpeer em0: bridge lower link0\nname em0:lower br\n")
    ng(st, "rmhook em0: lower\n")
    assert node(st, "br") is None  # ng_bridge_disconnect: ng_rmnode_self
    ng(st, "mkpeer em0: bridge lower link0\nname em0:lower br\nmsg br: setpersistent\n"
           "rmhook em0: lower\n")
    assert node(st, "br") is not None and node(st, "br")["hooks"] == []
    ng(st, "shutdown br:\n")
    assert node(st, "br") is None


def vnet_jail(st: dict) -> None:
    """What a VNET jail setup script does: em0 bridged to an eiface for the jail."""
    ng(st, "mkpeer em0: bridge lower link0\nname em0:lower br\n"
           "connect em0: br: upper link1\nmkpeer br: eiface link2 ether\n")


def test_bridge_on_lower_and_upper_passes_traffic_and_learns():
    st = host()
    vnet_jail(st)
    assert links(st) == {"em0": "pass", "em1": "pass", "ngeth0": "pass"}
    assert push(st, "em0", packets=2)["pass"] is True
    assert push(st, "em0", direction="out", src="10.0.0.2", dst="10.0.0.1")["pass"] is True
    em0 = [r["mac"] for r in st["ifaces"] if r["name"] == "em0"][0]
    # ng_bridge_rcvdata: both frames to em0's (unknown) MAC flood link1 and link2; the
    # reply to the (learned) peer goes to link0 only; the sources are learned
    # (NGM_BRIDGE_MOVE_HOST to itself) on their links
    assert args(st, "br:", "getstats 2") == "Args:\t{ xmitOctets=228 xmitPackets=2 }"
    table = args(st, "br:", "gettable")
    assert 'addr=02:00:00:00:00:01 hook="link0"' in table
    assert 'addr=%s hook="link1"' % em0 in table and "numHosts=2" in table
    # the second inbound frame was still for an unknown host: learned only from outbound
    assert args(st, "br:", "getstats 0") == (
        "Args:\t{ recvOctets=228 recvPackets=2 recvUnknown=2 xmitOctets=114 xmitPackets=1 }")


def test_bridge_without_the_upper_link_blackholes():
    # positive control for the test above: the same bridge, em0's upper not on it
    st = host()
    ng(st, "mkpeer em0: bridge lower link0\nname em0:lower br\nmkpeer br: eiface link2 ether\n")
    assert links(st)["em0"] == "blackhole"
    assert push(st, "em0")["pass"] is False


def test_bridge_loop_detection_mutes_the_link_then_time_restores_it():
    st = host()
    ng(st, "mkpeer em0: bridge lower link0\nname em0:lower br\nconnect em0: br: upper link1\n")
    src = bytes.fromhex("02aabbccddee")
    inject(st, "em0", "lower", frame(b"\xff" * 6, src))  # learned on link0
    ctx = inject(st, "em0", "upper", frame(b"\xff" * 6, src))  # jumps within minStableAge
    assert any("loop" in why for why in ctx.dropped)
    stats = args(st, "br:", "getstats 1")
    assert "loopDrops=1" in stats and "loopDetects=1" in stats
    assert links(st)["em0"] == "blackhole"  # link1 muted for loopTimeout (60 s)
    traffic.run_tick(st, 59)
    assert links(st)["em0"] == "blackhole"
    traffic.run_tick(st, 1)
    assert links(st)["em0"] == "pass"
    # a host that stays put long enough (minStableAge) moves without a loop
    inject(st, "em0", "upper", frame(b"\xff" * 6, src))
    assert 'hook="link1"' in args(st, "br:", "gettable")


def test_bridge_forgets_stale_hosts():
    st = host()
    vnet_jail(st)
    push(st, "em0")
    assert "numHosts=1" in args(st, "br:", "gettable")
    traffic.run_tick(st, 899)
    assert "staleness=899" in args(st, "br:", "gettable")
    traffic.run_tick(st, 1)  # ng_bridge_timeout: ++staleness >= maxStaleness
    assert args(st, "br:", "gettable") == "Args:\t{}"


# ----- ng_eiface -----------------------------------------------------------------------

def test_eiface_is_an_interface_ngethN():
    st = host()
    ng(st, "mkpeer em1: eiface orphans ether\n")
    eif = node(st, "ngeth0")
    assert eif["type"] == "eiface"
    assert [r["name"] for r in st["ifaces"]] == ["em0", "em1", "ngeth0"]
    # ether_ifattach: ng_ether attaches, but the name ngeth0 is taken: <unnamed>
    eth = [n for n in st["nodes"].values() if n["type"] == "ether"
           and n["priv"]["ifname"] == "ngeth0"]
    assert len(eth) == 1 and eth[0]["name"] is None and eth[0]["id"] == eif["id"] + 1
    assert args(st, "ngeth0:", "getifname") == 'Args:\t"ngeth0"'
    ng(st, "msg ngeth0: set 02:11:22:33:44:55\n")
    assert args(st, "[%x]:" % eth[0]["id"], "getenaddr") == "Args:\t02:11:22:33:44:55"
    assert err(st, "msg ngeth0: getifaddrs") == "ngctl: send msg: Function not implemented"
    # ng_eiface_newhook: only "ether"
    ng(st, "mkpeer em0: hub lower y\n")
    assert err(st, "connect ngeth0: em0:lower foo y2") == (
        "ngctl: send msg: Protocol family not supported")
    # the node outlives its hook; the lowest free unit is taken
    ng(st, "rmhook ngeth0: ether\nmkpeer em0: eiface orphans ether\n")
    assert node(st, "ngeth0") is not None and node(st, "ngeth1") is not None
    ng(st, "shutdown ngeth0:\n")  # ether_ifdetach: the interface and its ng_ether node go
    assert [r["name"] for r in st["ifaces"]] == ["em0", "em1", "ngeth1"]
    assert not [n for n in st["nodes"].values() if n["type"] == "ether"
                and n["priv"]["ifname"] == "ngeth0"]
    ng(st, "rmhook em0: orphans\nmkpeer em0: eiface orphans ether\n")
    assert node(st, "ngeth0")["priv"]["unit"] == 0


def test_eiface_delivers_frames_to_its_interface():
    st = host()
    ng(st, "mkpeer em1: eiface orphans ether\n")
    ctx = inject(st, "em1", "orphans", frame(PEER, PEER))
    assert [(name, p.rcvif) for name, p in ctx.host] == [("ngeth0", 3)]
    ctx = inject(st, "em1", "orphans", b"\0" * 13)
    assert ctx.host == [] and ctx.dropped


def test_eiface_interfaces_go_at_reboot(tmp_path):
    h = Host.create(str(tmp_path / "h"), ifaces=("em0",), loaded=("ng_ether",))
    assert h.ngctl("mkpeer", "em0:", "eiface", "orphans", "ether").returncode == 0
    assert h.ifconfig("-l").stdout == "em0 ngeth0\n"
    assert h.ifconfig("-l", "ether").stdout == "em0 ngeth0\n"
    ngsim("reboot", h.root)
    assert h.ifconfig("-l").stdout == "em0\n"


# ----- ng_vlan -------------------------------------------------------------------------

def trunk(st: dict) -> None:
    """em1 as an 802.1Q trunk: untagged frames go on to the host, VLAN 100 to an eiface."""
    ng(st, "mkpeer em1: vlan lower downstream\nname em1:lower vl\n"
           "connect em1: vl: upper nomatch\nmkpeer vl: eiface v100 ether\n"
           "msg vl: addfilter { hook=\"v100\" vid=100 pcp=3 }\n")


def test_vlan_messages_follow_ng_vlan_rcvmsg():
    st = host()
    trunk(st)
    assert args(st, "vl:", "gettable") == (
        'Args:\t{ n=1 filter=[ { hook="v100" vlan=100 vid=100 pcp=3 } ] }')
    assert args(st, "vl:", "getdecap") == "Args:\t0x0"
    assert args(st, "vl:", "getencap") == "Args:\t0x1"
    assert args(st, "vl:", "getencapproto") == "Args:\t0x8100"
    ng(st, "mkpeer vl: hub v200 x\nmkpeer vl: hub v300 x\n")
    for line, text in (
            ('msg vl: addfilter { hook="v200" vid=100 }', "File exists"),  # VID taken
            ('msg vl: addfilter { hook="v100" vid=101 }', "File exists"),  # hook in service
            ('msg vl: addfilter { hook="nomatch" vid=7 }', "Invalid argument"),
            ('msg vl: addfilter { hook="downstream" vid=7 }', "Invalid argument"),
            ('msg vl: addfilter { hook="nope" vid=7 }', "No such file or directory"),
            ('msg vl: addfilter { hook="v200" vid=4096 }', "Invalid argument"),
            ('msg vl: addfilter { hook="v200" vid=7 pcp=8 }', "Invalid argument"),
            ('msg vl: addfilter { hook="v200" vid=7 cfi=2 }', "Invalid argument"),
            ('msg vl: addfilter { hook="v200" vid=7 vlan=8 }', "Invalid argument"),
            ('msg vl: addfilter { hook="%s" vid=7 }' % ("h" * 32), "Argument list too long"),
            ('msg vl: delfilter "v200"', "No such file or directory"),  # no filter on it
            ("msg vl: delvidflt 200", "No such file or directory"),
            ("msg vl: delvidflt 4096", "Invalid argument")):
        assert err(st, line) == "ngctl: send msg: " + text, line
    ng(st, 'msg vl: addfilter { hook="v200" vlan=200 }\n'  # the old field name
           'msg vl: addfilter { hook="v300" vid=300 cfi=1 }\n')
    assert args(st, "vl:", "gettable") == (
        'Args:\t{ n=3 filter=[ { hook="v100" vlan=100 vid=100 pcp=3 } '
        '{ hook="v200" vlan=200 vid=200 } { hook="v300" vlan=300 vid=300 cfi=1 } ] }')
    ng(st, 'msg vl: delfilter "v200"\nmsg vl: delvidflt 300\nrmhook vl: v100\n')
    assert args(st, "vl:", "gettable") == "Args:\t{}"  # rmhook purged v100's filter
    ng(st, "msg vl: setencapproto 0x88a8\nmsg vl: setdecap 1\n")
    assert args(st, "vl:", "getencapproto") == "Args:\t0x88a8"
    assert args(st, "vl:", "getdecap") == "Args:\t0x1"


def test_vlan_tags_and_untags_by_filter():
    st = host()
    trunk(st)
    assert links(st)["em1"] == "pass"  # untagged: downstream <-> nomatch
    assert push(st, "em1")["pass"] is True
    assert push(st, "em1", direction="out", src="10.0.0.2", dst="10.0.0.1")["pass"] is True
    ip = b"\x45" + b"\0" * 45
    tagged = PEER + PEER + struct.pack("!HH", 0x8100, 100) + b"\x08\x00" + ip
    ctx = inject(st, "em1", "lower", tagged)  # from the wire into downstream
    assert [(name, p.data) for name, p in ctx.host] == [("ngeth0", frame(PEER, PEER))]
    other = PEER + PEER + struct.pack("!HH", 0x8100, 7) + b"\x08\x00" + ip
    ctx = inject(st, "em1", "lower", other)  # VID 7: no filter -> nomatch, tag kept
    assert [(name, p.data) for name, p in ctx.host] == [("em1", other)]
    ctx = inject(st, "ngeth0", "ether", frame(PEER, PEER))  # the VLAN side sends
    assert [(name, p.data) for name, p in ctx.wire] == [
        ("em1", PEER + PEER + struct.pack("!HH", 0x8100, (3 << 13) | 100) + b"\x08\x00" + ip)]
    ng(st, "mkpeer vl: hub v9 x\n")
    hub = Kernel(st).peer_of(node(st, "vl"), "v9")[0]
    ctx = datapath.Ctx(Kernel(st))
    datapath.send(ctx, hub, "x", datapath.Pkt(frame(PEER, PEER)))
    assert ctx.wire == [] and any("EOPNOTSUPP" in why for why in ctx.dropped)


def test_vlan_without_nomatch_blackholes_untagged_traffic():
    st = host()
    ng(st, "mkpeer em1: vlan lower downstream\nname em1:lower vl\n"
           "connect em1: vl: upper v1\n")
    assert links(st)["em1"] == "blackhole"
    assert push(st, "em1")["pass"] is False


# ----- ng_pppoe ------------------------------------------------------------------------

def test_pppoe_on_orphans_as_mpd5_leaves_lower_upper_alone():
    st = host()
    ng(st, "mkpeer em0: netflow lower iface0\nname em0:lower nf\nconnect em0: nf: upper out0\n"
           "mkpeer em0: pppoe orphans ethernet\nname em0:orphans po\n"
           "mkpeer po: hub mpd7-0 x\n"
           'msg po: pppoe_connect { hook="mpd7-0" data="\\\\myisp|svc" }\n')
    em0 = [r["mac"] for r in st["ifaces"] if r["name"] == "em0"][0]
    assert node(st, "po")["priv"]["enaddr"] == em0  # ng_pppoe_connect: GET_ENADDR
    assert links(st)["em0"] == "pass"
    out = push(st, "em0", packets=3)
    assert out["pass"] is True and out["accounted_by"] == ["nf"]
    assert node(st, "po")["priv"]["packets_in"] == 0
    # an IP frame that does reach the ethernet hook is not PPPoE: EPFNOSUPPORT
    ctx = inject(st, "em0", "orphans", frame(PEER, PEER))
    assert any("EPFNOSUPPORT" in why for why in ctx.dropped)
    # losing the ethernet hook shuts the node down (ng_pppoe_disconnect)
    ng(st, "rmhook em0: orphans\n")
    assert node(st, "po") is None and links(st)["em0"] == "pass"


def test_pppoe_on_lower_blackholes():
    # positive control: the same node on lower takes no IP frame on
    st = host()
    ng(st, "mkpeer em0: pppoe lower ethernet\n")
    assert links(st)["em0"] == "blackhole"
    assert push(st, "em0")["pass"] is False


def test_pppoe_messages_follow_ng_pppoe_rcvmsg():
    st = host()
    ng(st, "mkpeer em0: pppoe orphans ethernet\nname em0:orphans po\n"
           "mkpeer po: eiface s1 ether\nmkpeer po: hub s2 x\nmkpeer po: hub s3 x\n")
    assert args(st, "po:", "pppoe_getmode") == 'Args:\t"standard"'
    for line, text in (
            ('msg po: pppoe_connect { hook="nope" data="x" }', "No such file or directory"),
            ('msg po: pppoe_connect { hook="ethernet" data="x" }', "Invalid argument"),
            ('msg po: pppoe_listen { hook="s1" data="%s" }' % ("x" * 65), "Message too long"),
            ('msg po: pppoe_service { hook="s1" data="x" }', "Socket is already connected"),
            ('msg po: pppoe_connect { hook="s1" data="0xZZ|x" }', "Invalid argument"),
            ("msg po: pppoe_setmode \"bogus\"", "Invalid argument"),
            ("msg po: connect x", "Function not implemented")):
        assert err(st, line) == "ngctl: send msg: " + text, line
    ng(st, 'msg po: pppoe_listen { hook="s1" data="isp" }\n')
    assert err(st, 'msg po: pppoe_listen { hook="s2" data="isp" }') == (
        "ngctl: send msg: File exists")
    assert err(st, 'msg po: pppoe_connect { hook="s1" data="isp" }') == (
        "ngctl: send msg: Socket is already connected")
    ng(st, 'msg po: pppoe_offer { hook="s2" data="ac" }\n'
           'msg po: pppoe_service { hook="s2" data="isp2" }\n'
           'msg po: pppoe_setmode "D-Link"\nmsg po: pppoe_setmode "3Com"\n'
           "msg po: setenaddr 02:00:00:00:00:42\nmsg po: setmaxp 1500\n")
    assert args(st, "po:", "pppoe_getmode") == 'Args:\t"3Com|D-Link"'
    # a PADI for "isp" goes whole to the listening hook
    padi = PEER + PEER + struct.pack("!HBBHH", 0x8863, 0x11, 0x09, 0, 7) + \
        struct.pack("!HH", 0x0101, 3) + b"isp"
    ctx = inject(st, "em0", "orphans", padi)
    assert [(name, p.data) for name, p in ctx.host] == [("ngeth0", padi)]
    other = padi[:-3] + b"foo"
    ctx = inject(st, "em0", "orphans", other)
    assert ctx.host == [] and any("listener" in why for why in ctx.dropped)
    # the node goes with its last hook too
    ng(st, "rmhook po: s1\nrmhook po: s2\nrmhook po: s3\n")
    assert node(st, "po") is not None  # ethernet still there
    ng(st, "rmhook po: ethernet\n")
    assert node(st, "po") is None


# ----- modules, list and show through the binaries -------------------------------------

def test_modules_list_and_show_through_ngctl(tmp_path):
    h = Host.create(str(tmp_path / "h"), ifaces=("em0", "em1"), loaded=("ng_ether",))
    r = h.ngctl("-f", "-", stdin="mkpeer em0: bridge lower link0\nname em0:lower br0\n"
                "connect em0: br0: upper link1\nmkpeer br0: eiface link2 ether\n"
                "mkpeer em1: vlan lower downstream\nmkpeer em1: pppoe orphans ethernet\n")
    assert r.returncode == 0, r.stderr
    names = [line.split()[-1] for line in h.kldstat().stdout.splitlines()[1:]]
    assert names[-4:] == ["ng_bridge.ko", "ng_eiface.ko", "ng_vlan.ko", "ng_pppoe.ko"]
    assert h.kldload("ng_vlan").stderr == (
        "kldload: can't load ng_vlan: module already loaded or in kernel\n")
    assert h.kldstat("-m", "ng_pppoe").returncode == 0

    def shown(name, typ, nid, *hooks):
        head = "  Name: %-15s Type: %-15s ID: %08x   Num hooks: %d\n" % (
            name, typ, nid, len(hooks))
        return head + HOOKS_HDR + "".join("  %-15s %-15s %-12s %-15s %-15s\n" % h for h in hooks)

    assert h.ngctl("show", "br0:").stdout == shown(
        "br0", "bridge", 4, ("link2", "ngeth0", "eiface", "00000005", "ether"),
        ("link1", "em0", "ether", "00000001", "upper"),
        ("link0", "em0", "ether", "00000001", "lower"))
    listing = h.ngctl("list").stdout
    for line in ("  Name: ngeth0          Type: eiface          ID: 00000005   Num hooks: 1\n",
                 "  Name: <unnamed>       Type: ether           ID: 00000006   Num hooks: 0\n",
                 "  Name: <unnamed>       Type: vlan            ID: 00000007   Num hooks: 1\n",
                 "  Name: <unnamed>       Type: pppoe           ID: 00000008   Num hooks: 1\n"):
        assert line in listing
    for path, text in (
            ("ngeth0:", shown("ngeth0", "eiface", 5, ("ether", "br0", "bridge", "00000004",
                                                      "link2"))),
            ("[7]:", shown("<unnamed>", "vlan", 7, ("downstream", "em1", "ether", "00000002",
                                                    "lower"))),
            ("em1:orphans", shown("<unnamed>", "pppoe", 8, ("ethernet", "em1", "ether",
                                                            "00000002", "orphans")))):
        assert h.ngctl("show", path).stdout == text, path
    h.log(clear=True)
    assert h.ngctl("msg", "br0:", "gettable").returncode == 0
    assert h.ngctl("msg", "[7]:", "gettable").returncode == 0
    assert h.ngctl("msg", "em1:orphans", "pppoe_getmode").returncode == 0
    assert [e["mutating"] for e in h.log()] == [False, False, False]  # read-only messages
    types = h.ngctl("types").stdout.splitlines()
    for t in ("bridge", "eiface", "vlan", "pppoe"):
        assert [line.split() for line in types if line.split()[:1] == [t]] == [[t, "1"]]
    assert h.links() == {"em0": "pass", "em1": "blackhole", "ngeth0": "pass"}


def test_restrictive_bridge_passes_once_the_host_is_learned():
    # ng_bridge_newhook: the first link is an uplink, so link1 (em0's upper) gets no
    # unknown unicast: a frame for em0 is lost until em0 has sent (ARP) and is learned;
    # links() reports the steady state (broadcasts reach every link)
    st = host()
    ng(st, "mkpeer em0: bridge lower uplink1\nname em0:lower br\nconnect em0: br: upper link1\n")
    assert links(st)["em0"] == "pass"
    assert push(st, "em0")["pass"] is False
    assert push(st, "em0", direction="out", src="10.0.0.2", dst="10.0.0.1")["pass"] is True
    assert push(st, "em0")["pass"] is True
    table = args(st, "br:", "gettable")
    assert "numHosts=1" in table and 'hook="link1"' in table  # uplinks learn nothing


def test_jail_side_sends_through_the_eiface_into_the_bridge():
    # ng_eiface_start: what the host (the jail) sends on ngeth0 leaves by the ether hook;
    # the bridge learns the jail's MAC on link2 and forwards to the learned peer on link0
    st = host()
    vnet_jail(st)
    push(st, "em0")  # the peer is learned on link0
    out = push(st, "ngeth0", direction="out", src="10.0.0.9", dst="10.0.0.1")
    assert out["pass"] is True
    jail = [r["mac"] for r in st["ifaces"] if r["name"] == "ngeth0"][0]
    assert jail.startswith("58:9c:fc:")
    assert 'addr=%s hook="link2"' % jail in args(st, "br:", "gettable")
    assert args(st, "br:", "getstats 0") == (
        "Args:\t{ recvOctets=114 recvPackets=1 recvUnknown=1 xmitOctets=114 xmitPackets=1 }")
    ng(st, "rmhook ngeth0: ether\n")  # control: no hook, nothing leaves
    assert push(st, "ngeth0", direction="out", src="10.0.0.9", dst="10.0.0.1")["pass"] is False
