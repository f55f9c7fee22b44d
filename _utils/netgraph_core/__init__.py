"""salt-netgraph's pure core: ngctl's text formats, the exporter model, the planner, the
engine, the boot files. Plain data in and out, no Salt dunders.

One package, imported by the same name on both install routes: ``saltutil.sync_all``
copies ``_utils/netgraph_core/`` into the minion's ``extmods/utils/`` (Salt keeps
sub-folders, ``salt.utils.extmods.sync``), and Salt puts its utils directories on
``sys.path`` while custom modules load; the wheel installs it under
``saltext_netgraph/_utils/``, which ``saltext_netgraph.loader`` puts on ``sys.path``.
Modules inside import each other relatively.
"""
