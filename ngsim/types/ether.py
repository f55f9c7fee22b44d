"""ng_ether (``ether``): one persistent node per Ethernet interface (sys/netgraph/ng_ether.c).

Data path: a frame written into ``upper`` reaches the host stack as received on the
interface (ng_ether_rcv_upper); one written into ``lower``, ``divert`` or ``orphans`` is
transmitted on the wire (ng_ether_rcv_lower). Frames from the wire and from the host
enter the graph in ``ngsim.traffic`` (the interface side of the node).
"""
from __future__ import annotations

from ngsim.datapath import iface_rec
from ngsim.errors import NgError
from ngsim.ngparse import ENADDR, INT32, STRING
from ngsim.nodetype import CmdList, NodeType, netgraph_init

CMDS = CmdList()  # ng_ether_cmds[]

HOOKS = ("lower", "upper", "orphans", "divert")


def sanitize(ifname: str) -> str:
    """ng_ether_sanitize_ifname: '.' and ':' become '_'."""
    return ifname.replace(".", "_").replace(":", "_")


def attach(k, rec: dict) -> dict:
    """ng_ether_attach: make the node (an ID), name it after the interface if the name is
    free (an ng_eiface node already holds ``ngethN``, so that one stays unnamed)."""
    node = k.make_node_common("ether")
    node["priv"]["ifname"] = rec["name"]
    rec["ng_detached"] = False
    try:
        k.name_node(node, sanitize(rec["name"]))
    except NgError:
        pass
    return node


def _iface(k, node) -> dict:
    for rec in k.st["ifaces"]:
        if rec["name"] == node["priv"]["ifname"]:
            return rec
    raise NgError("ENXIO")


@CMDS.msg("getifname", 1, None, STRING)
def _getifname(k, node, arg):
    return node["priv"]["ifname"]


@CMDS.msg("getifindex", 2, None, INT32)
def _getifindex(k, node, arg):
    return _iface(k, node)["index"]


@CMDS.msg("getenaddr", 3, None, ENADDR)
def _getenaddr(k, node, arg):
    return _iface(k, node)["mac"]


@CMDS.msg("setenaddr", 4, ENADDR, None)
def _setenaddr(k, node, arg):
    _iface(k, node)["mac"] = arg


def _flag_getter(key: str):
    return lambda k, node, arg: node["priv"][key]


def _flag_setter(key: str):
    def fn(k, node, arg):
        node["priv"][key] = 1 if arg else 0
    return fn


# getpromisc 5/setpromisc 6, getautosrc 7/setautosrc 8: flags kept in the node, 0 or 1
for _num, _key in ((5, "promisc"), (7, "autosrc")):
    CMDS.add("get" + _key, _num, None, INT32, _flag_getter(_key))
    CMDS.add("set" + _key, _num + 1, INT32, None, _flag_setter(_key))


@CMDS.msg("addmulti", 9, ENADDR, None)
def _addmulti(k, node, arg):
    if arg in node["priv"]["multi"]:
        raise NgError("EADDRINUSE")
    node["priv"]["multi"].append(arg)


@CMDS.msg("delmulti", 10, ENADDR, None)
def _delmulti(k, node, arg):
    if arg not in node["priv"]["multi"]:
        raise NgError("EADDRNOTAVAIL")
    node["priv"]["multi"].remove(arg)


@CMDS.msg("detach", 11, None, None)
def _detach(k, node, arg):
    _iface(k, node)["ng_detached"] = True
    k.rmnode(node, really=True)


class EtherType(NodeType):
    name = "ether"
    module = "ng_ether"
    constructible = False
    persistent = True
    cmds = CMDS

    def init_priv(self, k, node):
        return {"ifname": "", "promisc": 0, "autosrc": 1, "multi": []}

    def newhook(self, k, node, hook):
        if hook not in HOOKS:
            raise NgError("EINVAL")
        names = {h[0] for h in node["hooks"]}
        if hook == "divert" and "lower" in names or hook == "lower" and "divert" in names:
            raise NgError("EISCONN")

    def disconnect(self, k, node, hook):
        if not node["hooks"] and k.is_valid(node):
            k.rmnode(node)

    def shutdown(self, k, node, really=False):
        if really:
            return False
        node["priv"]["promisc"] = 0
        node["priv"]["autosrc"] = 1
        return True

    def forward(self, k, node, hook):
        # A frame written into lower leaves on the wire; into upper reaches the host.
        return []

    def rcvdata(self, ctx, node, hook, pkt):
        ifname = node["priv"]["ifname"]
        if hook == "upper":
            # ng_ether_rcv_upper: delivered to the stack as received on this interface
            rec = iface_rec(ctx.k.st, ifname)
            pkt.rcvif = rec["index"] if rec else 0
            ctx.host.append((ifname, pkt))
        else:  # lower, divert, orphans: ng_ether_rcv_lower transmits it
            ctx.wire.append((ifname, pkt))


TYPE = netgraph_init(EtherType())  # NETGRAPH_INIT
