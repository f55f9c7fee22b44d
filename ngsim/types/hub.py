"""ng_hub (``hub``): any hook name; frames are copied to every other hook."""
from ngsim.nodetype import SelfDestructType, netgraph_init


class HubType(SelfDestructType):
    name = "hub"
    module = "ng_hub"

    def forward(self, k, node, hook):
        return [h[0] for h in node["hooks"] if h[0] != hook]


TYPE = netgraph_init(HubType())  # NETGRAPH_INIT
