"""salt-netgraph's pure core: ngctl's text formats, the exporter model, the planner, the
engine, the boot files. Plain data in and out, no Salt dunders.

One package, imported by the same name on both install routes: ``saltutil.sync_all``
copies ``_utils/netgraph_core/`` into the minion's ``extmods/utils/`` (Salt keeps
sub-folders, ``salt.utils.extmods.sync``), and Salt puts its utils directories on
``sys.path`` while custom modules load; the wheel installs it under
``saltext_netgraph/_utils/``, which ``saltext_netgraph.loader`` puts on ``sys.path``.
Modules inside import each other relatively.
"""

import contextlib
import gc
import importlib


class lazy:  # lower case: it stands for a module, ``nf_boot = lazy("nf_boot")``
    """Core module ``name``, imported at its first attribute access, for the modules a
    caller needs only on some paths. Salt imports every execution module's imports at each
    ``salt-call``, and a no-change apply never renders a boot file, rolls back, draws DOT or
    reads the mine: importing them anyway was a third of the core's import time. Every
    access asks ``importlib`` (the import lock: imported once, also across threads), so a
    test that patches the real module is seen."""

    __slots__ = ("_module",)

    def __init__(self, name: str) -> None:
        self._module = f"{__name__}.{name}"

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(self._module), attr)

    def __repr__(self) -> str:
        return f"<lazy {self._module}>"


@contextlib.contextmanager
def no_cycle_collection():
    """Python's cycle collector paused for the block, then as it was (left off by its owner:
    not turned on behind its back). A beacon interval or an apply at 1,000 interfaces makes
    ~100,000 short-lived containers that reference counting frees, and keeps the graph it
    read alive across them: with the collector on, that promotes them and triggers a full
    collection of the whole Salt process's heap, more CPU than the work itself. A cycle
    made meanwhile is collected after, as any other."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
