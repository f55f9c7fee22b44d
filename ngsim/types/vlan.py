"""ng_vlan (``vlan``): 802.1Q tagging between ``downstream`` (the trunk) and per-VLAN hooks.

Read for it: sys/netgraph/ng_vlan.[ch] (FreeBSD main, fel1x-developer/freebsd-src @
2d614aa2fe3e037bd11d351b0b5cfda776e65814). ``ng_vlan_newhook``: ``downstream``,
``nomatch`` and any other name (a filter hook once ``addfilter`` names it).
``ng_vlan_rcvmsg``: ``addfilter { hook=... vid=... pcp=... cfi=... }`` (the old field
``vlan`` too: EINVAL when both are set and differ; vid > 4095, pcp > 7, cfi > 1 EINVAL;
ENOENT for a missing hook; EINVAL for ``downstream``/``nomatch``; EEXIST for a hook or a
VID already in a filter), ``delfilter "hook"`` (ENOENT unless the hook has a filter),
``delvidflt VID``, ``gettable`` (filters by VID), ``get/setdecap``, ``get/setencap``,
``get/setencapproto`` (hex). ``ng_vlan_rcvdata``: from ``downstream`` a frame tagged with
the encap ethertype (0x8100) and a filtered VID goes untagged to its hook; anything else to
``nomatch`` (ENETDOWN when it is not connected; a tagged frame keeps its tag unless
``setdecap 1``); from a filter hook the frame gets the filter's tag (pcp, cfi, vid) and
goes out of ``downstream``; from ``nomatch`` it goes out unchanged. A hook with no filter
sends nothing (EOPNOTSUPP). The node goes with its last hook.

Tags are in the frame's bytes: the out-of-band M_VLANTAG of hardware tagging is not
modelled (so ``setencap`` changes only what ``getencap`` says).
"""
from __future__ import annotations

from ngsim.datapath import send
from ngsim.errors import NgError
from ngsim.ngparse import HINT16, HINT32, HOOKBUF, UINT8, UINT16, UINT32, StructType, \
    VarArrayType
from ngsim.nodetype import CmdList, SelfDestructType, netgraph_init

CMDS = CmdList()  # ng_vlan_cmds[]

DOWNSTREAM, NOMATCH = "downstream", "nomatch"
ETHERTYPE_VLAN = 0x8100
ENCAP_FROM_FILTER = 0x1

FILTER = StructType([("hook", HOOKBUF), ("vlan", UINT16), ("vid", UINT16), ("pcp", UINT8),
                     ("cfi", UINT8)])
TABLE = StructType([("n", UINT32), ("filter", VarArrayType(FILTER))])


@CMDS.msg("addfilter", 1, FILTER, None)
def _addfilter(k, node, vf):
    priv = node["priv"]
    vid = vf["vid"]
    if vid == 0 and vf["vlan"] != 0:
        vid = vf["vlan"]
    elif vid != 0 and vf["vlan"] != 0 and vid != vf["vlan"]:
        raise NgError("EINVAL")
    if vid & ~0xFFF or vf["pcp"] & ~7 or vf["cfi"] & ~1:
        raise NgError("EINVAL")
    name = vf["hook"]
    if k.find_hook(node, name) is None:
        raise NgError("ENOENT")
    if name in (DOWNSTREAM, NOMATCH):
        raise NgError("EINVAL")
    if name in priv["filters"].values() or str(vid) in priv["filters"]:
        raise NgError("EEXIST")
    priv["filters"][str(vid)] = name
    priv["tags"][name] = (vf["pcp"] << 13) | (vf["cfi"] << 12) | vid  # EVL_MAKETAG


def _forget(priv: dict, name: str) -> None:
    tag = priv["tags"].pop(name)
    del priv["filters"][str(tag & 0xFFF)]


@CMDS.msg("delfilter", 2, HOOKBUF, None)
def _delfilter(k, node, name):
    priv = node["priv"]
    if k.find_hook(node, name) is None or name not in priv["tags"]:
        raise NgError("ENOENT")
    _forget(priv, name)


@CMDS.msg("delvidflt", 4, UINT16, None)
def _delvidflt(k, node, vid):
    priv = node["priv"]
    if vid & ~0xFFF:
        raise NgError("EINVAL")
    name = priv["filters"].get(str(vid))
    if name is None:
        raise NgError("ENOENT")
    _forget(priv, name)


@CMDS.msg("gettable", 3, None, TABLE)
def _gettable(k, node, arg):
    priv = node["priv"]
    rows = []
    for vid in sorted(int(v) for v in priv["filters"]):
        name = priv["filters"][str(vid)]
        tag = priv["tags"][name]
        rows.append({"hook": name, "vlan": vid, "vid": vid, "pcp": tag >> 13,
                     "cfi": (tag >> 12) & 1})
    return {"n": len(rows), "filter": rows}


def _getter(key):
    return lambda k, node, arg: node["priv"][key]


def _setter(key):
    def fn(k, node, arg):
        node["priv"][key] = arg & (0xFFFF if key == "encap_proto" else 0xFFFFFFFF)
    return fn


# get/set pairs: getdecap 5/setdecap 6, getencap 7/setencap 8, getencapproto 9/setencapproto 10
for _num, _key, _ptype in ((5, "decap", HINT32), (7, "encap", HINT32), (9, "encap_proto", HINT16)):
    CMDS.add("get" + _key.replace("_", ""), _num, None, _ptype, _getter(_key))
    CMDS.add("set" + _key.replace("_", ""), _num + 1, _ptype, None, _setter(_key))


class VlanType(SelfDestructType):
    name = "vlan"
    module = "ng_vlan"
    cmds = CMDS

    def init_priv(self, k, node):
        # filters: VID (as text, JSON keys) -> hook; tags: hook -> its 16-bit tag
        return {"decap": 0, "encap": ENCAP_FROM_FILTER, "encap_proto": ETHERTYPE_VLAN,
                "filters": {}, "tags": {}}

    def disconnect(self, k, node, hook):
        if hook in node["priv"]["tags"]:
            _forget(node["priv"], hook)
        super().disconnect(k, node, hook)

    def _names(self, node) -> set:
        return {h[0] for h in node["hooks"]}

    def forward(self, k, node, hook):
        """Reachability of an untagged frame: downstream -> nomatch; nomatch and a
        filter hook -> downstream."""
        names = self._names(node)
        if hook == DOWNSTREAM:
            return [NOMATCH] if NOMATCH in names else []
        if hook == NOMATCH or hook in node["priv"]["tags"]:
            return [DOWNSTREAM] if DOWNSTREAM in names else []
        return []

    def rcvdata(self, ctx, node, hook, pkt):
        """ng_vlan_rcvdata."""
        import struct  # the data path only: ngctl's startup stays light

        priv = node["priv"]
        names = self._names(node)
        where = "%s:%s" % (ctx.key(node), hook)
        data = pkt.data
        if len(data) < 14:
            ctx.drop("%s: runt" % where)
            return
        if hook == DOWNSTREAM:
            etype = struct.unpack("!H", data[12:14])[0]
            if etype != priv["encap_proto"]:
                out = NOMATCH
            else:
                if len(data) < 18:
                    ctx.drop("%s: runt" % where)
                    return
                vid = struct.unpack("!H", data[14:16])[0] & 0xFFF
                out = priv["filters"].get(str(vid), NOMATCH)
                if out != NOMATCH or priv["decap"]:
                    # filter: always decapsulate; nomatch with decap: the tag goes
                    # out of band, which is not modelled, so it is lost here
                    pkt.data = data[:12] + data[16:]
            if out not in names:
                ctx.drop("%s: %s not connected (ENETDOWN)" % (where, out))
                return
            send(ctx, node, out, pkt)
            return
        if DOWNSTREAM not in names:
            ctx.drop("%s: downstream not connected (ENETDOWN)" % where)
            return
        if hook != NOMATCH:
            tag = priv["tags"].get(hook)
            if tag is None:
                ctx.drop("%s: no filter for this hook (EOPNOTSUPP)" % where)
                return
            pkt.data = data[:12] + struct.pack("!HH", priv["encap_proto"], tag) + data[12:]
        send(ctx, node, DOWNSTREAM, pkt)


TYPE = netgraph_init(VlanType())  # NETGRAPH_INIT
