"""ng_socket (``socket``): ngctl's own node; mkpeer cannot create one (EINVAL)."""
from ngsim.nodetype import NodeType


class SocketType(NodeType):
    name = "socket"
    module = "ng_socket"
    constructible = False


TYPE = SocketType()
