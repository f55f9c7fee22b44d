"""What every netgraph node type is made of: control messages (``Cmd``), the ``NodeType``
base class with ng_base's defaults (the default data path included), and the registry of
types, which each type fills itself as NETGRAPH_INIT does (``netgraph_init``).

The type modules (``ngsim/types/*.py``) declare their messages in a ``CmdList``
(``ng_<type>_cmds[]``), subclass ``NodeType`` and end with ``TYPE =
netgraph_init(XType())``; importing the ``ngsim.types`` package (the kernel linker,
``ngsim.kld``, does) loads every one. ng_base (``ngsim.base``) reads ``TYPES`` and knows
no type. This module imports only ``ngsim.datapath`` (shared, imports nothing of ngsim)
and, when a binary message is refused, the leaf ``ngsim.errors``, so no type module can
form an import circle through it (tests/unit/core/test_import_graph.py).
"""
from __future__ import annotations

from ngsim.datapath import send

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only; keeps per-spawn startup fast
    from typing import Any, Callable, Optional

    from ngsim.base import Kernel
    from ngsim.datapath import Ctx, Pkt
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


class CmdList(dict):
    """A type's ng_cmdlist (``ng_<type>_cmds[]``): its control messages by ASCII name, each
    declared where its handler is (``@CMDS.msg(name, num, argtype, replytype)``), or with
    ``add`` for a handler made by a factory or shared by two messages."""

    def add(self, name: str, num: int, argtype: Optional[ParseType],
            replytype: Optional[ParseType], handler: Callable[[Kernel, dict, Any], Any]) -> None:
        if name in self:
            raise ValueError("control message %r declared twice" % name)
        self[name] = Cmd(name, num, argtype, replytype, handler)

    def msg(self, name: str, num: int, argtype: Optional[ParseType] = None,
            replytype: Optional[ParseType] = None) -> Callable:
        """Decorator: the function below handles message ``name``."""
        def declare(handler: Callable[[Kernel, dict, Any], Any]) -> Callable:
            self.add(name, num, argtype, replytype, handler)
            return handler
        return declare


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
        """Hooks a frame arriving on ``hook`` leaves through (reachability model)."""
        return []

    def rcvmsg(self, k: "Kernel", node: dict, cookie: int, cmd: int,
               data: bytes) -> Optional[bytes]:
        """A binary control message (one that no ASCII name reaches: ngctl cannot send it,
        only a libnetgraph program such as flowctl(8)). Returns the reply's argument bytes,
        or raises NgError. Default: EINVAL, what ng_ether, ng_ksocket, ng_tee, ng_one2many
        answer for a cookie that is not theirs."""
        from ngsim.errors import NgError

        raise NgError("EINVAL")

    def rcvdata(self, ctx: "Ctx", node: dict, hook: str, pkt: "Pkt") -> None:
        """A packet arrives on ``hook`` (the type's rcvdata). Default (hub, tee, socket, ...):
        out of every hook ``forward`` names, the first gets the original, the others
        copies; with none the packet is consumed."""
        outs = self.forward(ctx.k, node, hook)
        if not outs:
            ctx.drop("%s: consumed by %s" % (ctx.key(node), node["type"]))
        for i, out in enumerate(outs):
            send(ctx, node, out, pkt if i == 0 else pkt.dup())


class SelfDestructType(NodeType):
    """Types that shut themselves down when their last hook goes."""

    def disconnect(self, k: "Kernel", node: dict, hook: str) -> None:
        if not node["hooks"] and k.is_valid(node):
            k.rmnode(node)


TYPES: dict[str, NodeType] = {}  # type name -> its singleton (the code ng_findtype finds)
MODULE_TYPES: dict[str, list[str]] = {}  # kernel module -> the types its load registers


def netgraph_init(t: NodeType) -> NodeType:
    """NETGRAPH_INIT(name, &typestruct): declare that loading ``t.module`` registers
    ``t``. A second, different type of the same name is refused, as ng_newtype's EEXIST."""
    if TYPES.get(t.name, t) is not t:
        raise ValueError("netgraph type %r registered twice" % t.name)
    TYPES[t.name] = t
    names = MODULE_TYPES.setdefault(t.module, [])
    if t.name not in names:
        names.append(t.name)
    return t
