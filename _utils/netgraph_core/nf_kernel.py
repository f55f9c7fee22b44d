"""The kernel as the apply engine sees it (pure; no Salt): a small interface, its error,
and an adapter over a table of functions.

:class:`Kernel` is every operation nf_engine needs, named and shaped as the ``netgraph``
execution module's functions are (``_modules/netgraph.py`` documents each return): the
graph read (alone or with settings queries in one spawn), settings queries, ONE ngctl batch, ipfw list/add/delete, kernel modules,
Ethernet interfaces. A failed operation raises :class:`KernelError`. Every spawn's time
bound is the adapter's business (the netgraph module bounds each one).

:class:`CallKernel` is the adapter both sides use: ``_modules/netflow.py`` over
``__salt__["netgraph.*"]``, the tests over the netgraph module run on ngsim in the same
process (tests/support/engine.py).
"""
from __future__ import annotations

from typing import Any, Callable, Protocol


class KernelError(Exception):
    """A kernel operation that failed. ``message`` is its error, ``info`` the detail the
    operation attached (``netgraph.batch``: ``{"line", "command", "error", ...}``) or None;
    ``str()`` is ``text``, the error as the adapter's own exception read (Salt appends the
    ``info`` to it), so every message built from it reads as before."""

    def __init__(self, message: str, info: dict | None = None, text: str | None = None):
        super().__init__(message if text is None else text)
        self.message = message
        self.info = info


class Kernel(Protocol):
    """What the engine asks of the kernel (``netgraph.<the same name>``)."""

    def graph(self) -> dict:
        """The whole graph: ``{"nodes": {key: {"type", "id", "hooks": ...}}, "types": [...]}``."""

    def snapshot(self, queries: list[list[str]]) -> dict:
        """The graph and the replies to read-only ``queries`` in ONE spawn: ``{"graph",
        "replies"}``, ``replies[i]`` None for a line after one that failed."""

    def query(self, queries: list[list[str]]) -> list[dict]:
        """The replies to read-only control messages (``[path, cmd, args...]``), in order."""

    def batch(self, commands: list[list[str]]) -> Any:
        """ONE ``ngctl -f`` of these lines; KernelError with ``info["line"]`` when one fails."""

    def ipfw_rules(self) -> list[dict]:
        """``[{"rule": int, "text": str}]``, the default rule included."""

    def ipfw_add(self, rule: int, words: list[str]) -> Any:
        """``ipfw add RULE WORDS...``."""

    def ipfw_delete(self, rule: int) -> Any:
        """``ipfw delete RULE``."""

    def modules(self) -> list[str]:
        """The loaded kernel modules (``kldstat -v``)."""

    def load_modules(self, names: list[str]) -> Any:
        """Load the modules not loaded yet (``kldload -n``)."""

    def interfaces(self) -> list[dict]:
        """The Ethernet interfaces: ``[{"name": "vlan0.100", "node": "vlan0_100"}]``."""


class CallKernel:
    """A :class:`Kernel` whose operation ``op`` is ``lookup(op)``, a function taking the
    netgraph module's arguments; an exception of ``errors`` it raises becomes a
    KernelError carrying its ``error`` (or text), ``info`` and text."""

    def __init__(self, lookup: Callable[[str], Callable], errors: type | tuple = ()):
        self.lookup = lookup
        self.errors = errors

    def _call(self, op: str, *args):
        try:
            return self.lookup(op)(*args)
        except self.errors as exc:
            raise KernelError(getattr(exc, "error", str(exc)), getattr(exc, "info", None), str(exc)) from None

    def graph(self) -> dict:
        return self._call("graph")

    def snapshot(self, queries: list[list[str]]) -> dict:
        return self._call("snapshot", queries)

    def query(self, queries: list[list[str]]) -> list[dict]:
        return self._call("query", queries)

    def batch(self, commands: list[list[str]]) -> Any:
        return self._call("batch", commands)

    def ipfw_rules(self) -> list[dict]:
        return self._call("ipfw_rules")

    def ipfw_add(self, rule: int, words: list[str]) -> Any:
        return self._call("ipfw_add", rule, words)

    def ipfw_delete(self, rule: int) -> Any:
        return self._call("ipfw_delete", rule)

    def modules(self) -> list[str]:
        return self._call("modules")

    def load_modules(self, names: list[str]) -> Any:
        return self._call("load_modules", names)

    def interfaces(self) -> list[dict]:
        return self._call("interfaces")
