"""ng_bridge (``bridge``): a learning Ethernet bridge over hooks ``linkN`` and ``uplinkN``.

Read for it: sys/netgraph/ng_bridge.[ch] (FreeBSD main, fel1x-developer/freebsd-src @
2d614aa2fe3e037bd11d351b0b5cfda776e65814): ``ng_bridge_newhook`` (``link%u``/``uplink%u``
whole, rebuilt from strtoul; ``uplink0`` EINVAL; a link to itself ELOOP; an uplink
learns no MACs; if the first link is an uplink, later links get no unknown unicast),
``ng_bridge_rcvmsg`` (``ng_bridge_cmdlist``), ``ng_bridge_rcvdata``, ``ng_bridge_put``,
``ng_bridge_rehash``, ``ng_bridge_timeout``, ``ng_bridge_disconnect`` (the node goes
with its last hook unless ``setpersistent``).

The once-a-second timer is computed from the emulated uptime when the table is used:
a host's ``age`` is seconds since it was put on its link, its ``staleness`` seconds since
it was last heard; it is forgotten when staleness reaches ``maxStaleness``; a link muted by
a loop detection stays muted ``loopTimeout`` seconds. The hash table (32..16384 buckets,
``HASH`` of the three 16-bit words of the address, little-endian as on amd64, new hosts
at the bucket head) is kept so that ``gettable`` lists hosts in the kernel's order.
"""
from __future__ import annotations

from ngsim.datapath import send, uptime
from ngsim.errors import NgError
from ngsim.ngparse import ENADDR, HOOKBUF, UINT8, UINT16, UINT32, UINT64, StructType, \
    VarArrayType
from ngsim.nodetype import CmdList, NodeType, netgraph_init

CMDS = CmdList()  # ng_bridge_cmds[]

MIN_BUCKETS, MAX_BUCKETS = 1 << 5, 1 << 14
BCAST = "ff:ff:ff:ff:ff:ff"

CONFIG = StructType([
    ("debugLevel", UINT8),
    ("loopTimeout", UINT32),
    ("maxStaleness", UINT32),
    ("minStableAge", UINT32),
])
# NG_BRIDGE_STATS_TYPE_INFO: the ASCII names (two are singular, unlike the struct's)
STATS_FIELDS = ("recvOctets", "recvPackets", "recvMulticast", "recvBroadcast", "recvUnknown",
                "recvRunts", "recvInvalid", "xmitOctets", "xmitPackets", "xmitMulticasts",
                "xmitBroadcasts", "loopDrops", "loopDetects", "memoryFailures")
STATS = StructType([(f, UINT64) for f in STATS_FIELDS])
HOSTENT = StructType([("addr", ENADDR), ("hook", HOOKBUF), ("age", UINT16),
                      ("staleness", UINT16)])
HOST_ARY = StructType([("numHosts", UINT32), ("hosts", VarArrayType(HOSTENT))])
MOVE_HOST = StructType([("addr", ENADDR), ("hook", HOOKBUF)])


def _now(st: dict) -> int:
    """time_uptime, without starting the emulated clock (``links`` and ngctl only read)."""
    return st["clock"]["uptime"] if "clock" in st else 1


def link_name(name: str) -> tuple[bool, int]:
    """(is uplink, number) for a hook name ng_bridge_newhook accepts; EINVAL otherwise."""
    if len(name) <= len("link"):
        raise NgError("EINVAL")
    uplink = name[0] == "u"
    prefix = "uplink" if uplink else "link"
    digits = name[len(prefix):]
    # strtoul(name + strlen(prefix), NULL, 10), then "%s%u" must give the name back
    i = 0
    while i < len(digits) and digits[i] in " \t\n\v\f\r":
        i += 1
    j = i + (1 if i < len(digits) and digits[i] in "+-" else 0)
    k = j
    while k < len(digits) and "0" <= digits[k] <= "9":
        k += 1
    num = int(digits[j:k]) if k > j else 0
    if digits[i:i + 1] == "-":
        num = -num
    num &= 0xFFFFFFFF  # u_int32_t linkNum
    if prefix + "%u" % num != name:
        raise NgError("EINVAL")
    if uplink and num == 0:
        raise NgError("EINVAL")
    return uplink, num


def _hash(addr: str, mask: int) -> int:
    b = bytes(int(x, 16) for x in addr.split(":"))
    words = [b[i] | b[i + 1] << 8 for i in (0, 2, 4)]  # u_int16_t loads, little-endian
    return (words[0] ^ words[1] ^ words[2]) & mask


def _hosts(priv: dict) -> list[dict]:
    return [h for bucket in priv["tab"] for h in bucket]


def _rehash(priv: dict) -> bool:
    """ng_bridge_rehash: grow past one host per bucket, shrink below a quarter."""
    n, nb = priv["numHosts"], len(priv["tab"])
    if n > nb and nb << 1 <= MAX_BUCKETS:
        size = nb << 1
    elif n < nb >> 2 and nb >> 2 >= MIN_BUCKETS:
        size = nb >> 2
    else:
        return False
    new: list[list[dict]] = [[] for _ in range(size)]
    for bucket in priv["tab"]:
        for h in bucket:  # SLIST_REMOVE_HEAD from the old, SLIST_INSERT_HEAD in the new
            new[_hash(h["addr"], size - 1)].insert(0, h)
    priv["tab"] = new
    return True


def _remove_hosts(priv: dict, hook) -> None:
    """ng_bridge_remove_hosts: every host on ``hook`` (None: all)."""
    for bucket in priv["tab"]:
        keep = [h for h in bucket if hook is not None and h["hook"] != hook]
        priv["numHosts"] -= len(bucket) - len(keep)
        bucket[:] = keep


def _timer(k, node: dict) -> dict:
    """The ticks of ng_bridge_timeout since the last look: stale hosts go, the table
    shrinks (at most once per tick). Returns priv."""
    priv = node["priv"]
    now = _now(k.st)
    ticks = now - priv["ticked"]
    if ticks <= 0:
        return priv
    priv["ticked"] = now
    stale = priv["conf"]["maxStaleness"]
    for bucket in priv["tab"]:
        keep = [h for h in bucket if now - h["seen"] < stale]
        priv["numHosts"] -= len(bucket) - len(keep)
        bucket[:] = keep
    while ticks > 0 and _rehash(priv):
        ticks -= 1
    return priv


def _get(priv: dict, addr: str):
    for h in priv["tab"][_hash(addr, len(priv["tab"]) - 1)]:
        if h["addr"] == addr:
            return h
    return None


def _put(k, node: dict, addr: str, hook: str) -> None:
    """ng_bridge_put: add the host, or move it; a host that jumps links again within
    ``minStableAge`` mutes the link for ``loopTimeout`` seconds (ELOOP)."""
    priv = node["priv"]
    now = _now(k.st)
    h = _get(priv, addr)
    if h is not None:
        if h["hook"] == hook:
            return
        if now - h["added"] >= priv["conf"]["minStableAge"]:
            h["hook"], h["added"] = hook, now
            return
        link = priv["links"][hook]
        link["mutedUntil"] = now + priv["conf"]["loopTimeout"]
        link["stats"]["loopDetects"] += 1
        _remove_hosts(priv, hook)
        raise NgError("ELOOP")
    priv["tab"][_hash(addr, len(priv["tab"]) - 1)].insert(0, {
        "addr": addr, "hook": hook, "added": now, "seen": now})
    priv["numHosts"] += 1
    _rehash(priv)


def _link_of(k, node: dict, arg: int) -> dict:
    num = arg - (1 << 32) if arg >= 1 << 31 else arg  # *(int32_t *)msg->data
    name = "uplink%u" % -num if num < 0 else "link%u" % num
    if k.find_hook(node, name) is None:
        raise NgError("ENOTCONN")
    return node["priv"]["links"][name]


@CMDS.msg("setconfig", 1, CONFIG, None)
def _setconfig(k, node, conf):
    node["priv"]["conf"] = conf


@CMDS.msg("getconfig", 2, None, CONFIG)
def _getconfig(k, node, arg):
    return node["priv"]["conf"]


@CMDS.msg("reset", 3, None, None)
def _reset(k, node, arg):
    priv = node["priv"]
    _remove_hosts(priv, None)
    for link in priv["links"].values():
        link["mutedUntil"] = 0
        link["stats"] = dict.fromkeys(STATS_FIELDS, 0)


@CMDS.msg("getstats", 4, UINT32, STATS)
def _getstats(k, node, arg):
    return dict(_link_of(k, node, arg)["stats"])


@CMDS.msg("clrstats", 5, UINT32, None)
def _clrstats(k, node, arg):
    _link_of(k, node, arg)["stats"] = dict.fromkeys(STATS_FIELDS, 0)


@CMDS.msg("getclrstats", 6, UINT32, STATS)
def _getclrstats(k, node, arg):
    link = _link_of(k, node, arg)
    stats, link["stats"] = link["stats"], dict.fromkeys(STATS_FIELDS, 0)
    return stats


@CMDS.msg("gettable", 7, None, HOST_ARY)
def _gettable(k, node, arg):
    priv = _timer(k, node)
    now = _now(k.st)
    hosts = [{"addr": h["addr"], "hook": h["hook"], "age": min(now - h["added"], 0xFFFF),
              "staleness": min(now - h["seen"], 0xFFFF)} for h in _hosts(priv)]
    return {"numHosts": priv["numHosts"], "hosts": hosts}


@CMDS.msg("setpersistent", 8, None, None)
def _setpersistent(k, node, arg):
    node["priv"]["persistent"] = 1


@CMDS.msg("movehost", 9, MOVE_HOST, None)
def _movehost(k, node, arg):
    # an empty hook means the hook the message came in on: ngctl's come in on none
    if not arg["hook"] or k.find_hook(node, arg["hook"]) is None:
        raise NgError("ENOENT")
    _timer(k, node)
    _put(k, node, arg["addr"], arg["hook"])


def _admit(ctx, link: dict, where: str, data: bytes):
    """The first checks of ng_bridge_rcvdata: a runt, a multicast source address or a
    frame on a link muted after a loop is counted and dropped (None); any other is counted
    in: (its kind: 0 unicast, 1 multicast, 2 broadcast; time_uptime). The clock is read
    only after the first two checks: a runt alone does not start the emulated clock."""
    st = link["stats"]
    if len(data) < 14:
        st["recvRunts"] += 1
        ctx.drop("%s: runt" % where)
        return None
    if data[6] & 1:
        st["recvInvalid"] += 1
        ctx.drop("%s: multicast source address" % where)
        return None
    now = uptime(ctx.k.st)
    if link["mutedUntil"] > now:
        st["loopDrops"] += 1
        ctx.drop("%s: link muted after a loop" % where)
        return None
    st["recvPackets"] += 1
    st["recvOctets"] += len(data)
    if not data[0] & 1:
        return 0, now
    manycast = 2 if ":".join("%02x" % b for b in data[0:6]) == BCAST else 1
    st["recvBroadcast" if manycast == 2 else "recvMulticast"] += 1
    return manycast, now


class BridgeType(NodeType):
    name = "bridge"
    module = "ng_bridge"
    cmds = CMDS

    def init_priv(self, k, node):
        return {"conf": {"debugLevel": 1, "loopTimeout": 60, "maxStaleness": 15 * 60,
                         "minStableAge": 1},
                "persistent": 0, "sendUnknown": 1, "links": {}, "numHosts": 0,
                "tab": [[] for _ in range(MIN_BUCKETS)], "ticked": _now(k.st)}

    def newhook(self, k, node, hook):
        uplink, _ = link_name(hook)
        if k.newhook_peer is node:
            raise NgError("ELOOP")
        priv = node["priv"]
        if uplink:
            if not priv["links"]:  # the first link is an uplink: restrictive mode
                priv["sendUnknown"] = 0
            link = {"learnMac": 0, "sendUnknown": 1}
        else:
            link = {"learnMac": 1, "sendUnknown": priv["sendUnknown"]}
        link.update(mutedUntil=0, stats=dict.fromkeys(STATS_FIELDS, 0))
        priv["links"][hook] = link

    def disconnect(self, k, node, hook):
        priv = node["priv"]
        _remove_hosts(priv, hook)
        priv["links"].pop(hook, None)
        if not node["hooks"] and k.is_valid(node) and not priv["persistent"]:
            k.rmnode(node)

    def forward(self, k, node, hook):
        """Reachability: every other link (broadcasts such as ARP flood them all, even
        the links a restrictive bridge sends no unknown unicast to, and the host learned
        from the answer is then known there); a muted link takes nothing in."""
        link = node["priv"]["links"].get(hook)
        if link is None or link["mutedUntil"] > _now(k.st):
            return []
        return [h[0] for h in node["hooks"] if h[0] != hook]

    def rcvdata(self, ctx, node, hook, pkt):
        """ng_bridge_rcvdata."""
        k = ctx.k
        priv = _timer(k, node)
        link = priv["links"][hook]
        st = link["stats"]
        where = "%s:%s" % (ctx.key(node), hook)
        admitted = _admit(ctx, link, where, pkt.data)
        if admitted is None:
            return
        manycast, now = admitted
        dst = ":".join("%02x" % b for b in pkt.data[0:6])
        src = ":".join("%02x" % b for b in pkt.data[6:12])
        host = _get(priv, src)
        if host is not None:
            host["seen"] = now
        # NGM_BRIDGE_MOVE_HOST to itself: queued, so it runs after this frame is sent on
        learn = (host is None and link["learnMac"]) or (host is not None and host["hook"] != hook)
        try:
            if host is not None and host["hook"] != hook \
                    and now - host["added"] < priv["conf"]["minStableAge"]:
                st["loopDrops"] += 1
                ctx.drop("%s: host moved links too fast (loop)" % where)
                return
            if not manycast:
                dhost = _get(priv, dst)
                if dhost is not None:
                    if dhost["hook"] == hook:
                        ctx.drop("%s: destination is on the incoming link" % where)
                        return
                    self._xmit(ctx, node, dhost["hook"], manycast, pkt)
                    return
                st["recvUnknown"] += 1
            outs = [h[0] for h in node["hooks"] if h[0] != hook
                    and (manycast or priv["links"][h[0]]["sendUnknown"])]
            if not outs:
                ctx.drop("%s: no other link" % where)
                return
            for out in outs[1:]:  # copies first, the original last to the first link found
                self._xmit(ctx, node, out, manycast, pkt.dup())
            self._xmit(ctx, node, outs[0], manycast, pkt)
        finally:
            if learn and k.is_valid(node) and k.find_hook(node, hook) is not None:
                try:
                    _put(k, node, src, hook)
                except NgError:
                    pass

    @staticmethod
    def _xmit(ctx, node, hook, manycast, pkt):
        """ng_bridge_send_data: count, then send."""
        st = node["priv"]["links"][hook]["stats"]
        st["xmitPackets"] += 1
        st["xmitOctets"] += len(pkt.data)
        if manycast:
            st["xmitBroadcasts" if manycast == 2 else "xmitMulticasts"] += 1
        send(ctx, node, hook, pkt)


TYPE = netgraph_init(BridgeType())  # NETGRAPH_INIT
