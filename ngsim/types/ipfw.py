"""ng_ipfw (``ipfw``): the single persistent node; hooks are decimal ipfw cookies.

Data path: ipfw's ``ngtee N`` / ``netgraph N`` rules (the rule chain is in
``ngsim.traffic``) send raw IP into hook N with an ipfw tag; a packet coming back from
the graph into the node carries that tag.
"""
from __future__ import annotations

from ngsim.errors import NgError
from ngsim.nodetype import NodeType, netgraph_init


class IpfwType(NodeType):
    name = "ipfw"
    module = "ng_ipfw"
    constructible = False
    persistent = True

    def newhook(self, k, node, hook):
        if not hook or not hook.isdigit() or not hook.isascii():
            raise NgError("EINVAL")
        if hook[0] == "0" and len(hook) > 1:
            raise NgError("EINVAL")

    def shutdown(self, k, node, really=False):
        return not really

    def rcvdata(self, ctx, node, hook, pkt):
        """ng_ipfw_rcvdata(): packets without an ipfw tag are dropped; a diverted packet
        coming back is re-injected (net.inet.ip.fw.one_pass=1: accepted)."""
        tag = pkt.ipfw
        if tag is None:
            ctx.drop("ipfw:%s: no ipfw tag (EINVAL)" % hook)
            return
        if tag.get("tee"):
            ctx.ipfw["reinjected copies"] = ctx.ipfw.get("reinjected copies", 0) + 1
            return
        tag["token"]["returned"] = pkt


TYPE = netgraph_init(IpfwType())  # NETGRAPH_INIT
