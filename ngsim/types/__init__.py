"""Netgraph node types: the type modules the kernel linker can load (``ngsim/types/<type>.py``,
as ``/boot/kernel/ng_<type>.ko``). Each holds one ``NodeType`` subclass
(``ngsim.nodetype``) whose private state is a JSON dict: its hooks, its control messages
and its data path (``rcvdata``: what it does with a packet), and registers it on import
with ``netgraph_init`` (NETGRAPH_INIT) into ``ngsim.nodetype.TYPES`` and ``MODULE_TYPES``.

Importing this package loads every type module, so any import of one loads them all;
``ngsim.kld`` does. ng_base imports none of them.
"""
from __future__ import annotations

from ngsim.types import bridge, eiface, ether, hub, ipfw, ksocket, netflow, one2many, pppoe, \
    socket, tee, vlan  # noqa: F401  (each registers its type)
