"""ng_tee (``tee``): left/right/left2right/right2left; splices left and right on shutdown."""
from ngsim.errors import NgError
from ngsim.nodetype import SelfDestructType, netgraph_init

HOOKS = ("left", "right", "left2right", "right2left")


class TeeType(SelfDestructType):
    name = "tee"
    module = "ng_tee"

    def newhook(self, k, node, hook):
        if hook not in HOOKS:
            raise NgError("EINVAL")

    def close(self, k, node):
        names = {h[0] for h in node["hooks"]}
        if "left" in names and "right" in names:
            k.bypass(node, "left", "right")

    def forward(self, k, node, hook):
        return {
            "left": ["right", "left2right"],
            "right": ["left", "right2left"],
            "left2right": ["right"],
            "right2left": ["left"],
        }.get(hook, [])


TYPE = netgraph_init(TeeType())  # NETGRAPH_INIT
