"""ng_eiface (``eiface``): a node that is an Ethernet interface, ``ngethN``.

Read for it: sys/netgraph/ng_eiface.[ch] (FreeBSD main, fel1x-developer/freebsd-src @
2d614aa2fe3e037bd11d351b0b5cfda776e65814). ``ng_eiface_constructor``: the lowest free unit
(``alloc_unr``), an IFT_ETHER interface ``ngeth<unit>``, the node named after it (if the
name is free), then ``ether_ifattach`` — so with ng_ether loaded the interface also gets
an ng_ether node, which cannot take the name ``ngethN`` (the eiface node holds it) and
stays ``<unnamed>``. ``ng_eiface_newhook``: only ``ether`` (EPFNOSUPPORT), one at a time
(EISCONN). The node outlives its hook (``ng_eiface_disconnect`` only marks the link down);
``shutdown`` detaches and frees the interface (its ng_ether node goes too).
``ng_eiface_cmdlist``: ``getifname`` and ``set`` (the MAC); ``getifaddrs`` has no ASCII
form. ``ng_eiface_rcvdata``: a frame on ``ether`` is input on the interface (rcvif).

The MAC is ``58:9c:fc`` (OUI_FREEBSD, ``ether_gen_addr``) and three bytes of a hash of
the name: illustrative (FreeBSD hashes the host UUID, name and jail name with SHA-1).
"""
from __future__ import annotations

from ngsim import state
from ngsim.datapath import iface_rec
from ngsim.errors import NgError
from ngsim.ngparse import ENADDR, STRING
from ngsim.nodetype import CmdList, NodeType, netgraph_init
from ngsim.types import ether

CMDS = CmdList()  # ng_eiface_cmds[]

HOOK = "ether"
BASENAME = "ngeth"


@CMDS.msg("getifname", 1, None, STRING)
def _getifname(k, node, arg):
    return node["priv"]["ifname"]


@CMDS.msg("set", 3, ENADDR, None)
def _set(k, node, arg):
    rec = iface_rec(k.st, node["priv"]["ifname"])
    if rec is not None:
        rec["mac"] = arg


class EifaceType(NodeType):
    name = "eiface"
    module = "ng_eiface"
    cmds = CMDS

    def init_priv(self, k, node):
        used = {n["priv"].get("unit") for n in k.st["nodes"].values()
                if n["type"] == "eiface" and n is not node}
        unit = 0
        while unit in used:
            unit += 1
        ifname = "%s%d" % (BASENAME, unit)
        node["priv"] = priv = {"unit": unit, "ifname": ifname, "ether": None}
        try:
            k.name_node(node, ifname)
        except NgError:
            pass  # log(LOG_WARNING, "can't acquire netgraph name")
        rec = state.add_iface(k.st, ifname, "ether")
        rec["eiface"] = node["id"]
        h = 5381
        for c in ifname.encode():
            h = (h * 33 + c) & 0xFFFFFFFF
        rec["mac"] = "58:9c:fc:%02x:%02x:%02x" % ((h >> 16) & 0xFF, (h >> 8) & 0xFF, h & 0xFF)
        if "ether" in k.st["types"]:
            ether.attach(k, rec)
        return priv

    def newhook(self, k, node, hook):
        if hook != HOOK:
            raise NgError("EPFNOSUPPORT")
        if node["priv"]["ether"] is not None:
            raise NgError("EISCONN")
        node["priv"]["ether"] = hook

    def disconnect(self, k, node, hook):
        node["priv"]["ether"] = None  # link down; the node and its interface stay

    def shutdown(self, k, node, really=False):
        """ng_eiface_rmnode: ether_ifdetach (ng_ether's node goes), if_free."""
        ifname = node["priv"]["ifname"]
        for n in list(k.st["nodes"].values()):
            if n["type"] == "ether" and n["priv"].get("ifname") == ifname:
                k.rmnode(n, really=True)
        k.st["ifaces"][:] = [r for r in k.st["ifaces"]
                             if not (r["name"] == ifname and r.get("eiface") == node["id"])]
        return False

    def rcvdata(self, ctx, node, hook, pkt):
        """ng_eiface_rcvdata: input on ``ngethN`` (m_pkthdr.rcvif = the interface)."""
        if len(pkt.data) < 14:
            ctx.drop("%s:%s: runt" % (ctx.key(node), hook))
            return
        ifname = node["priv"]["ifname"]
        rec = iface_rec(ctx.k.st, ifname)
        pkt.rcvif = rec["index"] if rec else 0
        ctx.host.append((ifname, pkt))


TYPE = netgraph_init(EifaceType())  # NETGRAPH_INIT
