"""The rollback after a failed batch (pure; no Salt): the ngctl lines that leave every
interface passing traffic, on its old exporter when that one still exists, and the texts
that say what failed and what was undone.

* ``created_before``: the nodes a batch that failed at a known line really made and named;
* ``rollback``: a host plan's undo on the re-read graph (journal-proven leftovers, moved
  interfaces put back); ``rollback_plan``: one exporter's;
* ``undo_commands``: the lines both end with (shutdowns, re-links, detaches);
* ``failure_text``/``rollback_text``: the comment of a failed apply.
"""
from __future__ import annotations

from . import nf_links
from .nf_graph import PlanGraph, owned_nodes
from .nf_journal import leftovers

def created_before(planned: dict, failed_line: int | None) -> list[str]:
    """The nodes a batch that failed at ``failed_line`` really created and named.

    ``ngctl -f`` ran lines 1..failed_line-1 only. A node whose ``name`` line did not run
    is not ours by name (another process may own that name): rollback finds it unnamed.
    """
    if failed_line is None:
        return []
    named_at = planned.get("named_at", {})
    return [n for n in planned.get("created", []) if named_at.get(n, failed_line) < failed_line]


def rollback_plan(graph: dict, name: str, created: list[str], before: list[str] | None = None,
                  journal: dict | None = None, restore: dict | None = None) -> list[list[str]]:
    """Commands that leave every interface passing traffic after a failed batch.

    ``graph`` is the graph re-read after the failure. Nodes the failed batch created are
    shut down (the safe state: a netflow node that is gone restores ng_ether's
    passthrough): ``created`` (named ones), and with ``journal`` (the run's own, see
    ``journal``) every node of ours and every unnamed leftover it proves the batch made
    (``leftovers``), which covers a batch killed at an unknown line. Without a journal,
    ``before`` (node keys read before the batch) marks unnamed netflow/ksocket/one2many
    nodes not in it that are connected to an interface or to our nodes as made by the
    batch. Then an interface still half-attached is detached: from our node, or, when the
    journal lists the interface as one the batch attaches (so takeover allowed freeing it),
    from whatever is left on its other hook.

    With ``restore`` (the plan's, ``nf_links.restore_info``) every link the batch removed
    whose two ends remain is connected again first (a takeover's ``rmhook``s: the foreign
    exporter is back on its interfaces, as before the batch), then every foreign re-join
    it had not made yet; an interface still cut off after all this is detached.
    """
    undo = list(created)
    if journal is not None:
        undo += leftovers(graph, name, journal)
    elif before is not None:
        known = set(before)
        fake = {"ids": [], "attach": [f"{k}:{h}" for k, n in graph.get("nodes", {}).items()
                                      if n.get("type") in ("ether", "ipfw") for h in n.get("hooks", {})]}
        undo += [k for k in leftovers(graph, name, fake, named=False, new=lambda k, n: k not in known)]
    ours = owned_nodes(graph, name) | set(undo)
    attached = {p.split(":")[0] for p in (journal or {}).get("attach", [])}
    return undo_commands(graph, undo, ours, attached, restore)


def undo_commands(graph: dict, undo: list[str], ours: set, attached: set, restore: dict | None,
                  reattach=None, kept=frozenset()) -> list[list[str]]:
    """The rollback's lines on the re-read ``graph``: shut down ``undo`` (what the failed
    batch made), ``reattach(sim)`` when given (a host plan puts moved interfaces back), then
    connect every link of ``restore`` (``nf_links.restore_info``) whose two ends remain and
    every re-join not made yet, and detach any interface still cut off from a node of
    ``ours`` (or any interface of ``attached``, which the batch was allowed to free), never
    a link of ``kept`` (``(ether, hook, peer, peer_hook)`` a foreign node held before the
    batch: not the batch's to remove)."""
    attached = set(attached)
    sim = PlanGraph(graph, {})
    for node in dict.fromkeys(undo):
        if sim.exists(node):
            sim.shutdown(node)
    if reattach is not None:
        reattach(sim)
    for links in ((restore or {}).get("unlinked"), (restore or {}).get("rejoin")):
        nf_links.relink(sim, links)
        attached |= {end for link in links or () for end in link[::2]}
    for ether in sorted(n for n, d in sim.nodes.items() if d["type"] == "ether"):
        if nf_links.passes(sim, ether):
            continue
        for hook in ("lower", "upper"):
            peer = sim.peer(ether, hook)
            if peer and (peer[0] in ours or ether in attached) and (ether, hook, *peer) not in kept:
                sim.rmhook(ether, hook)
    return sim.commands


def failure_text(step: str, info: dict, error: str, count: int, batch_done: bool) -> str:
    """What failed in an apply: the ngctl line (``info`` from netgraph.batch), a batch that
    named no line, or an ipfw step (after a batch that stays applied)."""
    if step == "ngctl" and isinstance(info.get("line"), int):
        return f"ngctl failed at line {info['line']} ({info.get('command')}): {info.get('error')}"
    if step == "ngctl":
        return (f"the ngctl batch of {count} line(s) did not finish ({info.get('error') or error}) and named no "
                "failing line (killed?), so which of its lines ran is unknown")
    after = f" (after the ngctl batch of {count} line(s) had succeeded: it stays applied)" if batch_done else ""
    return f"{step} failed: {error}{after}"


def rollback_text(undo: list, restored: list, undo_error: str | None, ipfw_error: str | None) -> str:
    """``; rolled back: ...`` and any rollback step that failed."""
    what = ([f"ngctl: {'; '.join(' '.join(c) for c in undo)}"] if undo else []) + (
        [f"ipfw: {'; '.join(restored)}"] if restored else [])
    msg = f"; rolled back: {', '.join(what) if what else 'nothing needed undoing'}"
    for label, err in (("ngctl", undo_error), ("ipfw", ipfw_error)):
        if err:
            msg += f"; ROLLBACK FAILED ({label}): {err}"
    return msg


def rollback(graph: dict, names, created: list[str], journals: dict, before: dict | None,
             restore: dict | None = None) -> list[list[str]]:
    """After a failed host batch, re-read as ``graph``: shut down what it made (``created``,
    named, and every leftover a journal of ``journals`` proves: ``nf_journal.leftovers``),
    put back every interface attachment it moved (an ng_ether/ng_ipfw hook that fed, in
    ``before``, a netflow node of ours that is still there), then detach any interface
    still half-attached to our nodes or to a hook the batch freed. Every interface ends
    passing traffic, on its old exporter when that one still exists. With ``restore``
    (the plan's, ``nf_links.restore_info``) every link the batch removed whose two ends
    remain is connected again (a takeover's ``rmhook``s: the foreign exporter is back on its
    interfaces), then every foreign re-join it had not made yet. An interface link a foreign
    node held before the batch is never removed (an ng_vlan trunk on em0 stays)."""
    undo = list(created)
    for name in names:
        undo += leftovers(graph, name, journals.get(name))
    ours = set(undo).union(*(owned_nodes(graph, n) for n in names))
    attached = {p.split(":")[0] for j in journals.values() if j for p in j.get("attach", [])}
    mine_before = set().union(*(owned_nodes(before, n) for n in names)) if before is not None else set()
    kept = {(e, h, p["peer"], p["peer_hook"]) for e, node in (before or {}).get("nodes", {}).items()
            if node.get("type") == "ether" for h, p in node.get("hooks", {}).items()
            if p["peer"] not in mine_before and p["peer"] not in ours}
    return undo_commands(graph, undo, ours, attached, restore, kept=kept,
                         reattach=(lambda sim: _reattach(sim, before, mine_before)) if before is not None else None)


def _reattach(sim: PlanGraph, before: dict, ours_before: set) -> None:
    """Connect every ng_ether/ng_ipfw hook back to the netflow node of ours it fed in
    ``before``, when that node still exists and the hook now goes elsewhere or nowhere:
    all the hooks freed first, then each interface's two hooks on adjacent lines."""
    todo = []
    for fnode, node in sorted(before.get("nodes", {}).items()):
        if node.get("type") not in ("ether", "ipfw") or not sim.exists(fnode):
            continue
        for hook, p in sorted(node.get("hooks", {}).items()):
            peer = (p["peer"], p["peer_hook"])
            if peer[0] in ours_before and sim.nodes.get(peer[0], {}).get("type") == "netflow" and sim.peer(fnode, hook) != peer:
                todo.append((fnode, hook, peer))
    for fnode, hook, (pnode, phook) in todo:
        if sim.peer(fnode, hook) is not None:
            sim.rmhook(fnode, hook)
        if sim.exists(pnode) and sim.peer(pnode, phook) is not None:
            sim.rmhook(pnode, phook)
    for fnode, hook, (pnode, phook) in todo:
        if sim.exists(fnode) and sim.exists(pnode) and sim.peer(fnode, hook) is None and sim.peer(pnode, phook) is None:
            sim.connect(fnode, hook, pnode, phook)

