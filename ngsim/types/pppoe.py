"""ng_pppoe (``pppoe``): PPPoE over the ``ethernet`` hook, one session per other hook.

Read for it: sys/netgraph/ng_pppoe.[ch] (FreeBSD main, fel1x-developer/freebsd-src @
2d614aa2fe3e037bd11d351b0b5cfda776e65814). ``ng_pppoe_newhook``: ``ethernet``, ``debug``,
any other name is a session hook. ``ng_pppoe_connect``: on ``ethernet`` it asks the peer
for its MAC (NGM_ETHER_GET_ENADDR: an ng_ether peer answers, so the node's source address
is the interface's). ``ng_pppoe_cmds``: the ASCII names are ``pppoe_connect``,
``pppoe_listen``, ``pppoe_offer``, ``pppoe_service`` (``{ hook="..." data="..." }``: ENOENT
for a missing hook, EINVAL for ``ethernet``/``debug``, EMSGSIZE for data over 64 bytes,
EISCONN for a session not in its initial state (``pppoe_service``: not offered), EEXIST
for a service already listened for), ``pppoe_setmode``/``pppoe_getmode`` (``standard``,
``3Com``, ``D-Link``), ``setenaddr``, ``setmaxp``; NGM_PPPOE_GET_STATUS has no ASCII form.
``ng_pppoe_disconnect``: losing ``ethernet`` shuts the node down, so does losing the last
hook. This is mpd5's graph: ``mkpeer em0: pppoe orphans ethernet``.

Data (``ng_pppoe_rcvdata_ether``): only PPPoE frames are taken (discovery 0x8863/0x3c12,
session 0x8864/0x3c13); every other ethertype is dropped (EPFNOSUPPORT), which is why a
PPPoE node belongs on ng_ether's ``orphans`` (frames the stack does not take) and never
touches the ``lower``/``upper`` path. A PADI goes whole to the hook listening for its
service; a session frame whose session ID and peer MAC match a connected session goes up
its hook without the PPPoE header. The discovery exchange itself (PADO/PADR/PADS, the
timers, the events sent back to the session's creator) is not emulated: ``pppoe_connect``
only moves the session to its first state; a session hook passes data only once
connected, which nothing here makes it.
"""
from __future__ import annotations

from ngsim.datapath import send
from ngsim.errors import NgError
from ngsim.ngparse import ENADDR, HOOKBUF, STRING, UINT16, StructType
from ngsim.nodetype import CmdList, NodeType, netgraph_init

CMDS = CmdList()  # ng_pppoe_cmds[]

ETHERNET, DEBUG = "ethernet", "debug"
SERVICE_NAME_SIZE = 64
DISC, SESS, DISC_3COM, SESS_3COM = 0x8863, 0x8864, 0x3C12, 0x3C13
PADI = 0x09
PTT_SRV_NAME = 0x0101
COMPAT_3COM, COMPAT_DLINK = 0x1, 0x2
# session states (enum state)
SNONE, LISTENING, SINIT, PRIMED, SOFFER, SREQ, NEWCONNECTED, CONNECTED = range(8)

INIT_DATA = StructType([("hook", HOOKBUF), ("data", STRING)])  # data: sizedstring


def _session(k, node, arg, cmd: str) -> dict:
    """The checks shared by connect/listen/offer/service (ng_pppoe_rcvmsg)."""
    priv = node["priv"]
    data = arg["data"].encode("utf-8", "surrogateescape")
    if len(data) > SERVICE_NAME_SIZE:
        raise NgError("EMSGSIZE")
    if k.find_hook(node, arg["hook"]) is None:
        raise NgError("ENOENT")
    sp = priv["sessions"].get(arg["hook"])
    if sp is None:  # ethernet or debug: no session behind it
        raise NgError("EINVAL")
    if cmd == "listen" and any(s["state"] == LISTENING and s["service"] == arg["data"]
                               for s in priv["sessions"].values()):
        raise NgError("EEXIST")
    if cmd == "service":
        if sp["state"] != PRIMED:
            raise NgError("EISCONN")
    elif sp["state"] != SNONE:
        raise NgError("EISCONN")
    return sp


@CMDS.msg("pppoe_connect", 2, INIT_DATA, None)
def _connect(k, node, arg):
    sp = _session(k, node, arg, "connect")
    data = arg["data"]
    # "[AC-Name\\][Host-Uniq|]Service-Name"
    acname, sep, rest = data.partition("\\")
    if not sep:
        acname, rest = "", data
    huniq, sep, service = rest.partition("|")
    if not sep:
        huniq, service = "", rest
    if len(huniq) > 2 and huniq.startswith("0x") and len(huniq) % 2 == 0 and \
            any(c not in "0123456789abcdef" for c in huniq[2:]):
        raise NgError("EINVAL")
    sp.update(state=SINIT, service=service, acname=acname)  # pppoe_start: PADI sent


@CMDS.msg("pppoe_listen", 3, INIT_DATA, None)
def _listen(k, node, arg):
    sp = _session(k, node, arg, "listen")
    node["priv"]["listens"] += 1  # LIST_INSERT_HEAD order of the listeners
    sp.update(state=LISTENING, service=arg["data"], listened=node["priv"]["listens"])


@CMDS.msg("pppoe_offer", 4, INIT_DATA, None)
def _offer(k, node, arg):
    sp = _session(k, node, arg, "offer")
    sp.update(state=PRIMED, acname=arg["data"])


@CMDS.msg("pppoe_service", 8, INIT_DATA, None)
def _service(k, node, arg):
    _session(k, node, arg, "service")["service"] = arg["data"]


@CMDS.msg("pppoe_setmode", 12, STRING, None)
def _setmode(k, node, mode):
    priv = node["priv"]
    if mode == "standard":
        priv["flags"] = 0
        priv["ether_type"] = DISC
    elif mode == "3Com":
        priv["flags"] |= COMPAT_3COM
        priv["ether_type"] = DISC_3COM
    elif mode == "D-Link":
        priv["flags"] |= COMPAT_DLINK
    else:
        raise NgError("EINVAL")


@CMDS.msg("pppoe_getmode", 13, None, STRING)
def _getmode(k, node, arg):
    flags = node["priv"]["flags"]
    if flags == 0:
        return "standard"
    return "|".join(m for bit, m in ((COMPAT_3COM, "3Com"), (COMPAT_DLINK, "D-Link"))
                    if flags & bit)


@CMDS.msg("setenaddr", 14, ENADDR, None)
def _setenaddr(k, node, mac):
    node["priv"]["enaddr"] = mac


@CMDS.msg("setmaxp", 15, UINT16, None)
def _setmaxp(k, node, value):
    node["priv"]["max_payload"] = value


class PppoeType(NodeType):
    name = "pppoe"
    module = "ng_pppoe"
    cmds = CMDS

    def init_priv(self, k, node):
        return {"flags": 0, "ether_type": DISC, "enaddr": "00:00:00:00:00:00",
                "max_payload": 0, "packets_in": 0, "packets_out": 0, "sessions": {}, "listens": 0}

    def newhook(self, k, node, hook):
        if hook not in (ETHERNET, DEBUG):
            node["priv"]["sessions"][hook] = {"state": SNONE, "sid": 0, "peer": None,
                                              "service": "", "acname": ""}

    def connected(self, k, node, hook):
        """ng_pppoe_connect: NGM_ETHER_GET_ENADDR to the peer of ``ethernet``."""
        if hook != ETHERNET:
            return
        peer = k.peer_of(node, hook)
        if peer is not None and peer[0]["type"] == "ether":
            for rec in k.st["ifaces"]:
                if rec["name"] == peer[0]["priv"]["ifname"]:
                    node["priv"]["enaddr"] = rec["mac"]

    def disconnect(self, k, node, hook):
        node["priv"]["sessions"].pop(hook, None)
        if (hook == ETHERNET or not node["hooks"]) and k.is_valid(node):
            k.rmnode(node)

    def forward(self, k, node, hook):
        # no IP frame crosses: only PPPoE ethertypes are taken from ``ethernet``
        return [ETHERNET] if hook == DEBUG else []

    def rcvdata(self, ctx, node, hook, pkt):
        import struct  # the data path only: ngctl's startup stays light

        priv = node["priv"]
        where = "%s:%s" % (ctx.key(node), hook)
        names = {h[0] for h in node["hooks"]}
        if hook == DEBUG:  # ng_pppoe_rcvdata_debug: straight to ethernet
            priv["packets_out"] += 1
            if ETHERNET in names:
                send(ctx, node, ETHERNET, pkt)
            else:
                ctx.drop("%s: ethernet not connected" % where)
            return
        if hook != ETHERNET:  # ng_pppoe_rcvdata: only a connected session sends
            sp = priv["sessions"][hook]
            if sp["state"] not in (NEWCONNECTED, CONNECTED):
                ctx.drop("%s: session not connected (ENETUNREACH)" % where)
                return
            etype = SESS_3COM if priv["ether_type"] == DISC_3COM else SESS
            mac = bytes(int(x, 16) for x in priv["enaddr"].split(":"))
            peer = bytes(int(x, 16) for x in sp["peer"].split(":"))
            pkt.data = peer + mac + struct.pack("!HBBHH", etype, 0x11, 0, sp["sid"],
                                                len(pkt.data)) + pkt.data
            priv["packets_out"] += 1
            send(ctx, node, ETHERNET, pkt)
            return
        priv["packets_in"] += 1  # ng_pppoe_rcvdata_ether
        data = pkt.data
        if len(data) < 20:
            ctx.drop("%s: short frame (ENOBUFS)" % where)
            return
        etype, code, sid, length = struct.unpack("!HxBHH", data[12:20])
        if etype in (DISC, DISC_3COM):
            if code != PADI:
                ctx.drop("%s: discovery code 0x%02x not emulated" % (where, code))
                return
            service = _tag(data[20:20 + length], PTT_SRV_NAME)
            out = _match_service(priv, service or b"")
            if out is None:
                ctx.drop("%s: no listener for the service (ENETUNREACH)" % where)
                return
            send(ctx, node, out, pkt)
            return
        if etype in (SESS, SESS_3COM):
            src = ":".join("%02x" % b for b in data[6:12])
            for name, sp in priv["sessions"].items():
                if sp["sid"] == sid and sp["peer"] == src and sp["state"] in (
                        NEWCONNECTED, CONNECTED):
                    pkt.data = data[20:20 + length]
                    send(ctx, node, name, pkt)
                    return
            ctx.drop("%s: no such session (ENETUNREACH)" % where)
            return
        ctx.drop("%s: not a PPPoE frame (EPFNOSUPPORT)" % where)


def _tag(tags: bytes, want: int):
    """get_tag: the value of the first tag ``want``, None if absent or cut."""
    import struct

    i = 0
    while i + 4 <= len(tags):
        ttype, tlen = struct.unpack("!HH", tags[i:i + 4])
        if i + 4 + tlen > len(tags):
            return None
        if ttype == want:
            return tags[i + 4:i + 4 + tlen]
        i += 4 + tlen
    return None


def _match_service(priv: dict, service: bytes):
    """pppoe_match_svc: the newest listener whose service is empty, ``*`` or equal."""
    listeners = sorted(((n, s) for n, s in priv["sessions"].items()
                        if s["state"] == LISTENING), key=lambda ns: -ns[1]["listened"])
    for name, sp in listeners:  # LIST_INSERT_HEAD: the newest listener first
        svc = sp["service"].encode("utf-8", "surrogateescape")
        if not svc or svc == b"*" or svc == service:
            return name
    return None


TYPE = netgraph_init(PppoeType())  # NETGRAPH_INIT
