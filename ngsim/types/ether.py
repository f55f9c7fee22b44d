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
from ngsim.nodetype import Cmd, NodeType, netgraph_init

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


def _getifname(k, node, arg):
    return node["priv"]["ifname"]


def _getifindex(k, node, arg):
    return _iface(k, node)["index"]


def _getenaddr(k, node, arg):
    return _iface(k, node)["mac"]


def _setenaddr(k, node, arg):
    _iface(k, node)["mac"] = arg


def _getpromisc(k, node, arg):
    return node["priv"]["promisc"]


def _setpromisc(k, node, arg):
    node["priv"]["promisc"] = 1 if arg else 0


def _getautosrc(k, node, arg):
    return node["priv"]["autosrc"]


def _setautosrc(k, node, arg):
    node["priv"]["autosrc"] = 1 if arg else 0


def _addmulti(k, node, arg):
    if arg in node["priv"]["multi"]:
        raise NgError("EADDRINUSE")
    node["priv"]["multi"].append(arg)


def _delmulti(k, node, arg):
    if arg not in node["priv"]["multi"]:
        raise NgError("EADDRNOTAVAIL")
    node["priv"]["multi"].remove(arg)


def _detach(k, node, arg):
    _iface(k, node)["ng_detached"] = True
    k.rmnode(node, really=True)


class EtherType(NodeType):
    name = "ether"
    module = "ng_ether"
    constructible = False
    persistent = True
    cmds = {
        c.name: c
        for c in (
            Cmd("getifname", 1, None, STRING, _getifname),
            Cmd("getifindex", 2, None, INT32, _getifindex),
            Cmd("getenaddr", 3, None, ENADDR, _getenaddr),
            Cmd("setenaddr", 4, ENADDR, None, _setenaddr),
            Cmd("getpromisc", 5, None, INT32, _getpromisc),
            Cmd("setpromisc", 6, INT32, None, _setpromisc),
            Cmd("getautosrc", 7, None, INT32, _getautosrc),
            Cmd("setautosrc", 8, INT32, None, _setautosrc),
            Cmd("addmulti", 9, ENADDR, None, _addmulti),
            Cmd("delmulti", 10, ENADDR, None, _delmulti),
            Cmd("detach", 11, None, None, _detach),
        )
    }

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
