"""ipfw rules (pure; no Salt): which ``ngtee``/``netgraph`` rules are an exporter's, the
rule changes that make the firewall feed the declared ipfw hooks, and their undo.

* ``ipfw_diff``: one exporter's (or a host plan's) rule changes, refusing every rule that
  is not ours at a declared number or feeding a declared hook;
* ``ipfw_plan``: the host's changes and each exporter's share (``exporters``);
* ``ipfw_changes``: a plan's ipfw part as the readable ``changes.ipfw``;
* ``ipfw_restore``: after a failed apply, the commands that put every touched number back.
"""
from __future__ import annotations

import re

from .nf_graph import other_exporter, owned_nodes
from .nf_model import ConflictError

_COOKIE_RE = re.compile(r"(?:ngtee|netgraph) (\d+) ")


def ipfw_hook_taken(current: dict, name: str, hook: str, iface: str) -> str:
    """Why exporter ``name`` may not use ipfw hook ``hook`` (for ``iface``): it is connected
    to a node that is not ours, named here with its real owner."""
    peer = current.get("nodes", {}).get("ipfw", {}).get("hooks", {}).get(hook) or {}
    occupant = peer.get("peer", "?")
    other = other_exporter(current, name, occupant)
    if other:
        owner = f"exporter {other}'s netflow node {occupant} (its hook {peer.get('peer_hook')})"
    else:
        otype = current.get("nodes", {}).get(occupant, {}).get("type", "?")
        owner = f"node {occupant} ({otype}) hook {peer.get('peer_hook')}, which is not exporter {name}'s"
    return (f"ipfw hook {hook} (ipfw:{hook}), which exporter {name} declares for interface {iface}, is "
            f"connected to {owner}: one ipfw hook feeds one netflow node, so exporter {name} never takes it "
            f"or the rules that tee into it, takeover or not; give interface {iface} another ipfw_hook")


# A rule that ends the search for every packet (ipfw(8): allow/accept/pass/permit,
# deny/drop, reject, unreach, reset are terminal): an ngtee after it sees nothing.
_CATCH_ALL_RE = re.compile(r"(?:allow|accept|pass|permit|deny|drop|reject|reset|unreach \S+) (?:ip|all) from any to any")


def ipfw_diff(current_rules: list[dict], current: dict, want: dict | None, name: str, takeover: bool = False) -> dict:
    """ipfw rule changes: delete stale rules first, add missing ones after the ngctl batch.

    A rule is exporter ``name``'s only when it is ``ngtee N``/``netgraph N`` and either the
    ipfw hook N is connected to its netflow node (read from the graph), or the rule sits at
    a number it declares, N is a hook it declares, and no other node holds hook N. A
    declared hook held by any other node (another exporter's or a foreign one), or fed by
    a rule that is not ours, is a ConflictError naming that owner or rule. Only our rules are ever deleted or replaced,
    ``takeover`` or not (accepted, no effect here): any other rule at a declared number is
    a ConflictError naming the number and its text, and so is a number where ours shares
    ``ipfw delete N`` with another rule, and a declared rule placed after a rule that
    accepts or denies every packet (the tee would copy nothing).
    Returns ``{"delete": [N], "add": [[N, words...]]}``; ``ipfw_texts`` gives the deleted
    rules' texts. ``name`` may be a list: the exporters of a host plan, ``want["ipfw"]``
    then holding all their rules.
    """
    wanted = (want or {}).get("ipfw", {})
    names = [name] if isinstance(name, str) else list(name)
    ours = set().union(*(owned_nodes(current, n) for n in names))
    name = " or ".join(names)
    ipfw_hooks = current.get("nodes", {}).get("ipfw", {}).get("hooks", {})
    hooked = {h for h, p in ipfw_hooks.items() if p["peer"] in ours}
    taken = {h for h in ipfw_hooks if h not in hooked}
    declared = {text.split()[1] for text in wanted.values()}
    for num, text in sorted(wanted.items()):
        if text.split()[1] in taken:
            raise ConflictError(ipfw_hook_taken(current, name, text.split()[1], text.split()[-1]))
    by_num: dict[int, list[str]] = {}
    for r in current_rules:
        if r["rule"] < 65535:  # the default rule is the kernel's
            by_num.setdefault(r["rule"], []).append(r["text"])

    def mine(num: int, text: str) -> bool:
        m = _COOKIE_RE.match(text)
        return bool(m) and (m.group(1) in hooked or (num in wanted and m.group(1) in declared))

    _refuse_foreign_feeders(by_num, declared - hooked, mine, name)
    delete = []
    for num, texts in sorted(by_num.items()):
        foreign = [t for t in texts if not mine(num, t)]
        if num in wanted and foreign:
            raise ConflictError(
                f"ipfw rule {num} is already used by '{foreign[0]}', which is not a rule of exporter {name} "
                f"(only ngtee/netgraph rules into its own hooks are), so it is never deleted or replaced, "
                f"takeover or not; pick another ipfw_rule"
            )
        if foreign and len(foreign) < len(texts):
            raise ConflictError(
                f"ipfw rule number {num} holds exporter {name}'s stale rule '{next(t for t in texts if mine(num, t))}' "
                f"and '{foreign[0]}', which is not its own; 'ipfw delete {num}' would delete both: "
                "renumber the other rule first"
            )
        if not foreign and texts != ([wanted[num]] if num in wanted else None):
            delete.append(num)
    _refuse_shadowed(by_num, wanted)
    add = [[str(num)] + text.split() for num, text in sorted(wanted.items())
           if num in delete or by_num.get(num) != [text]]
    return {"delete": delete, "add": add}


def _refuse_foreign_feeders(by_num: dict, unhooked: set, mine, name: str) -> None:
    """A declared hook not on our node yet that a rule which is not ours tees into:
    connecting the hook would feed that rule's packets to us, and make it "ours"."""
    for num, texts in sorted(by_num.items()):
        for t in texts:
            m = _COOKIE_RE.match(t)
            if m and m.group(1) in unhooked and not mine(num, t):
                raise ConflictError(
                    f"ipfw hook {m.group(1)}, which exporter {name} declares, is fed by ipfw rule {num} '{t}', "
                    f"which is not exporter {name}'s (not at a number it declares, and the hook is not on its "
                    f"netflow node): it is never taken or deleted; give the interface another ipfw_hook, or "
                    f"delete rule {num} if it is a leftover"
                )


def _refuse_shadowed(by_num: dict, wanted: dict) -> None:
    """A declared rule placed after one that accepts or denies every packet."""
    for num, text in sorted(wanted.items()):
        shadow = next(((n, t) for n, ts in sorted(by_num.items()) if n < num for t in ts if _CATCH_ALL_RE.fullmatch(t)), None)
        if shadow:
            raise ConflictError(
                f"interfaces.{text.split()[-1]}.ipfw_rule: rule {num} would come after ipfw rule {shadow[0]} "
                f"'{shadow[1]}', which already accepts or denies every packet, so its ngtee would copy nothing; "
                f"pick an ipfw_rule below {shadow[0]}"
            )


def ipfw_texts(rules: list[dict], numbers) -> list[str]:
    """``"N text"`` of every rule at the given numbers (what ``ipfw delete N`` removes)."""
    wanted = set(numbers)
    return [f"{r['rule']} {r['text']}" for r in rules if r["rule"] in wanted]


def ipfw_restore(before_rules: list[dict], now_rules: list[dict], touched) -> dict:
    """After a failed apply: the ipfw commands that put every rule number this run
    ``touched`` (deleted or added) back to what ``before_rules`` had, exact texts in their
    order. ``{"delete": [N], "add": [[N, words...]]}``, deletions first."""
    def texts(rules, num):
        return [r["text"] for r in rules if r["rule"] == num]

    delete, add = [], []
    for num in sorted(set(touched)):
        before, now = texts(before_rules, num), texts(now_rules, num)
        if before == now:
            continue
        if now:
            delete.append(num)
        add += [[str(num)] + t.split() for t in before]
    return {"delete": delete, "add": add}


def ipfw_plan(rules: list[dict], current: dict, wants: dict, names) -> dict:
    """The ipfw rule changes of the whole host (``ipfw_diff`` over every exporter's
    rules at once, so a rule moved with its interface is neither lost nor doubled), and
    under ``exporters`` each exporter's share: name -> ``{"delete", "add"}``."""
    merged = {num: text for want in wants.values() for num, text in want["ipfw"].items()}
    out = ipfw_diff(rules, current, {"ipfw": merged}, list(names))
    hooks = current.get("nodes", {}).get("ipfw", {}).get("hooks", {})
    texts = {r["rule"]: r["text"] for r in rules}
    share = {}
    for name in names:
        ours = owned_nodes(current, name)
        mine = {h for h, p in hooks.items() if p["peer"] in ours}
        mine |= {text.split()[1] for text in wants.get(name, {}).get("ipfw", {}).values()}
        share[name] = {"delete": [n for n in out["delete"] if (texts.get(n, "").split() + ["", ""])[1] in mine],
                       "add": [a for a in out["add"] if int(a[0]) in wants.get(name, {}).get("ipfw", {})]}
    return {**out, "exporters": share}


def ipfw_changes(plan: dict, rules: list[dict]) -> None:
    """A plan's ipfw part as ``changes.ipfw`` (in place): every rule it deletes (numbers
    and texts) and every rule it adds."""
    plan["ipfw_rules"] = rules
    delete, add = plan["ipfw"]["delete"], plan["ipfw"]["add"]
    ipfw = {"delete": delete, "delete_rules": ipfw_texts(rules, delete), "add": [" ".join(a) for a in add]}
    if delete or add:
        plan["changes"]["ipfw"] = {k: v for k, v in ipfw.items() if v}

