"""Netgraph node types. Each type is a NodeType subclass whose private state is a JSON dict.

Registry: ``TYPES[name]`` is the singleton for the type; ``MODULE_TYPES[module]`` lists
the types a kernel module registers when it loads.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only; keeps per-spawn startup fast
    from typing import Any, Callable, Optional

    from ngsim.base import Kernel
    from ngsim.ngparse import ParseType

NGM_READONLY = 0x10000000
NGM_HASREPLY = 0x20000000
RO_REPLY = NGM_READONLY | NGM_HASREPLY


class Cmd:
    """One control message: ASCII name, cmd number (with flag bits), arg/reply types."""

    __slots__ = ("name", "num", "argtype", "replytype", "handler")

    def __init__(self, name: str, num: int, argtype: Optional[ParseType],
                 replytype: Optional[ParseType],
                 handler: Callable[[Kernel, dict, Any], Any]):
        self.name = name
        self.num = num
        self.argtype = argtype
        self.replytype = replytype
        self.handler = handler


class NodeType:
    """Default behaviour of a netgraph node type (ng_base's defaults)."""

    name = ""
    module = ""
    constructible = True  # False: the constructor refuses (EINVAL) after the ID is taken
    persistent = False  # True: shutdown only cuts hooks, the node stays
    cmds: dict[str, Cmd] = {}

    def init_priv(self, k: "Kernel", node: dict) -> dict:
        return {}

    def newhook(self, k: "Kernel", node: dict, hook: str) -> None:
        """Accept or refuse a new hook name (raise NgError)."""

    def disconnect(self, k: "Kernel", node: dict, hook: str) -> None:
        """A hook went away. Default: nothing (node stays)."""

    def close(self, k: "Kernel", node: dict) -> None:
        """Called by ng_rmnode before the hooks are cut."""

    def shutdown(self, k: "Kernel", node: dict, really: bool = False) -> bool:
        """Return True to stay alive (persistent node)."""
        return False

    def forward(self, k: "Kernel", node: dict, hook: str) -> list[str]:
        """Hooks a frame arriving on ``hook`` leaves through (traffic model)."""
        return []


class SelfDestructType(NodeType):
    """Types that shut themselves down when their last hook goes."""

    def disconnect(self, k: "Kernel", node: dict, hook: str) -> None:
        if not node["hooks"] and k.is_valid(node):
            k.rmnode(node)


def _build() -> tuple[dict[str, NodeType], dict[str, list[str]]]:
    from ngsim.types import ether, hub, ipfw, ksocket, netflow, one2many, socket, tee

    types: dict[str, NodeType] = {}
    for mod in (ether, netflow, ksocket, ipfw, one2many, hub, tee, socket):
        t = mod.TYPE
        types[t.name] = t
    modules: dict[str, list[str]] = {}
    for t in types.values():
        modules.setdefault(t.module, []).append(t.name)
    return types, modules


TYPES, MODULE_TYPES = _build()
