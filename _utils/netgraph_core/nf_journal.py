"""The journal of a batch (pure; no Salt): what proves an unnamed node is a leftover of ours.

A run writes it before its ngctl batch and removes it once the batch is done or rolled
back: the IDs of every node before the batch and the attach points (``node:hook``) the
batch may connect. A batch killed between ``mkpeer`` and ``name`` leaves an unnamed node
whose ID is new and that sits at one of those points: the same run's rollback or the next
apply recognises it (``leftovers``) and removes it. Netgraph never reuses an ID within a
boot, so a journal of another boot proves nothing.
"""
from __future__ import annotations

import json
import os
import time

from .nf_graph import owned_nodes

JOURNAL_FORMAT = 1
JOURNAL_BOOT_SLACK = 5.0  # seconds; a reboot moves the boot time by far more


def journal_path(lock_file: str, name: str) -> str:
    """The journal of exporter ``name``: next to the lock (``/var/run`` by default)."""
    return os.path.join(os.path.dirname(lock_file) or "/", f"netflow.{name}.journal")


def journal(graph: dict, name: str, attach, previous: dict | None = None, boot: float | None = None) -> dict:
    """The journal a run writes before its ngctl batch (and removes once the batch is done
    or rolled back): the IDs of every node that exists before the batch, and the attach
    points (``node:hook``) the batch may connect. Leftovers of a ``previous`` journal that
    are still there keep their proof: their IDs stay out and its attach points stay in."""
    old = set(leftovers(graph, name, previous)) if previous else set()
    ids = sorted(n["id"] for k, n in graph.get("nodes", {}).items() if k not in old and isinstance(n.get("id"), int))
    points = set(attach) | set((previous or {}).get("attach", []))
    after = previous["after"] if old else max(ids, default=0)
    return {"format": JOURNAL_FORMAT, "exporter": name, "boot": boot, "after": after, "ids": ids,
            "attach": sorted(points)}


def journal_text(entry: dict) -> str:
    return json.dumps(entry, sort_keys=True) + "\n"


def journal_load(text: str, name: str, boot: float | None) -> dict | None:
    """A journal file's content, or None when it proves nothing: unreadable, of another
    exporter or format, or written in another boot (node IDs start again at a reboot)."""
    try:
        entry = json.loads(text)
    except ValueError:
        return None
    ok = (isinstance(entry, dict) and entry.get("format") == JOURNAL_FORMAT and entry.get("exporter") == name
          and isinstance(entry.get("after"), int) and isinstance(entry.get("ids"), list)
          and all(isinstance(i, int) and not isinstance(i, bool) for i in entry["ids"])
          and isinstance(entry.get("attach"), list) and all(isinstance(a, str) for a in entry["attach"]))
    if not ok:
        return None
    then = entry.get("boot")
    if boot is not None and (not isinstance(then, (int, float)) or abs(then - boot) > JOURNAL_BOOT_SLACK):
        return None
    return entry


def leftovers(graph: dict, name: str, journal: dict | None, named: bool = True, new=None) -> list[str]:
    """Nodes a journaled batch of exporter ``name`` made that are still in ``graph``, in
    creation order (by ID). A node is new when its ID is not in the journal and above all
    of the journal's ``after`` (netgraph never reuses IDs within a boot). New nodes of ours (owned_nodes) are
    included when ``named``; a new UNNAMED netflow/ksocket/one2many node is included when
    it is connected to an attach point the journal lists (e.g. ``em0:lower``: killed
    between ``mkpeer`` and ``name``), to a node of ours, or to another such leftover."""
    if not journal:
        return []
    nodes = graph.get("nodes", {})
    ids = set(journal.get("ids", []))
    after = journal.get("after", max(ids, default=-1))
    if new is None:
        def new(key, node):
            return isinstance(node.get("id"), int) and node["id"] not in ids and node["id"] > after
    ours = owned_nodes(graph, name)
    points = set(journal.get("attach", []))
    found = {k for k in ours if named and new(k, nodes[k])}
    grown = True
    while grown:
        grown = False
        for key, node in nodes.items():
            if key in found or node.get("name") or not key.startswith("[") or not new(key, node):
                continue
            if node.get("type") not in ("netflow", "ksocket", "one2many"):
                continue
            if any(f"{p['peer']}:{p['peer_hook']}" in points or p["peer"] in ours or p["peer"] in found
                   for p in node.get("hooks", {}).values()):
                found.add(key)
                grown = True
    return sorted(found, key=lambda k: (nodes[k].get("id", 0), k))


def boot_time() -> float:
    """When this host booted, as the clocks say (wall clock minus uptime): a journal of
    another boot proves nothing, node IDs start again at a reboot."""
    return round(time.time() - time.monotonic(), 3)


def read(path: str, name: str) -> tuple:
    """(the journal at ``path`` if it proves something, whether a journal file exists at all)."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        return None, False
    except (OSError, UnicodeDecodeError):
        return None, True
    return journal_load(text, name, boot_time()), True
