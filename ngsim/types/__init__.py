"""Netgraph node types: the registry. Each type module (``ngsim/types/<type>.py``) holds
one ``NodeType`` subclass (``ngsim.nodetype``) whose private state is a JSON dict: its
hooks, its control messages and its data path (``rcvdata``: what it does with a packet).

Registry: ``TYPES[name]`` is the singleton for the type; ``MODULE_TYPES[module]`` lists
the types a kernel module registers when it loads.
"""
from __future__ import annotations

from ngsim.nodetype import NGM_HASREPLY, NGM_READONLY, RO_REPLY, Cmd, NodeType, SelfDestructType
from ngsim.types import bridge, eiface, ether, hub, ipfw, ksocket, netflow, one2many, pppoe, \
    socket, tee, vlan

__all__ = ["TYPES", "MODULE_TYPES", "Cmd", "NodeType", "SelfDestructType", "NGM_READONLY",
           "NGM_HASREPLY", "RO_REPLY"]


def build() -> tuple[dict[str, NodeType], dict[str, list[str]]]:
    types: dict[str, NodeType] = {}
    for mod in (ether, netflow, ksocket, ipfw, one2many, hub, tee, socket, bridge, eiface, vlan,
                pppoe):
        t = mod.TYPE
        types[t.name] = t
    modules: dict[str, list[str]] = {}
    for t in types.values():
        modules.setdefault(t.module, []).append(t.name)
    return types, modules


TYPES, MODULE_TYPES = build()
