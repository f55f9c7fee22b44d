"""ng_socket (``socket``): ngctl's own node; mkpeer cannot create one (EINVAL)."""
from ngsim.nodetype import NodeType, netgraph_init


class SocketType(NodeType):
    name = "socket"
    module = "ng_socket"
    constructible = False


TYPE = netgraph_init(SocketType())  # NETGRAPH_INIT
