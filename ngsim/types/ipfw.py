"""ng_ipfw (``ipfw``): the single persistent node; hooks are decimal ipfw cookies."""
from __future__ import annotations

from ngsim.errors import NgError
from ngsim.types import NodeType


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


TYPE = IpfwType()
