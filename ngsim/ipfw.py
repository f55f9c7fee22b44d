"""ipfw(8), a small subset: add/delete/list/show/flush of rules on the emulated host.

Accepted grammar: ``add [N] ACTION [ip|all] from any to any [in|out] [via|recv|xmit IF]``
with ACTION one of allow/accept/pass/permit, deny/drop, count, ngtee N, netgraph N.
Rules with ngtee/netgraph feed ng_ipfw hook N. Requires the ``ipfw`` module.
"""
from __future__ import annotations

import io

from ngsim import kld
from ngsim.base import Kernel

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only; keeps per-spawn startup fast
    from typing import Any, Optional

EX_USAGE, EX_DATAERR, EX_UNAVAILABLE, EX_OSERR = 64, 65, 69, 71
ENOPROTOOPT = "Protocol not available"
ACTIONS = {"allow": "allow", "accept": "allow", "pass": "allow", "permit": "allow",
           "deny": "deny", "drop": "deny", "count": "count", "ngtee": "ngtee",
           "netgraph": "netgraph"}
AUTOINC_STEP = 100
DEFAULT_RULE = {"num": 65535, "text": "deny ip from any to any"}


def rules(st: dict[str, Any]) -> list[dict[str, Any]]:
    """Rules in evaluation order, the default rule last."""
    return sorted(st["ipfw_rules"], key=lambda r: r["num"]) + [DEFAULT_RULE]


def rule_matches(r: dict[str, Any], direction: str, recv: Optional[str],
                 xmit: Optional[str]) -> bool:
    """Does rule ``r``'s body (``in``/``out``, ``via``/``recv``/``xmit IF``) match a packet
    going ``direction`` ("in" or "out") received on ``recv`` / sent out of ``xmit``?"""
    if r.get("dir") and r["dir"] != direction:
        return False
    if "via" in r and r["via"] != (recv if direction == "in" else xmit):
        return False
    if "recv" in r and r["recv"] != recv:
        return False
    if "xmit" in r and (direction != "out" or r["xmit"] != xmit):
        return False
    return True


def hooked_rules(st: dict[str, Any], cookie: int) -> list[dict[str, Any]]:
    """Rules whose action sends packets (or copies) to ng_ipfw hook ``cookie``."""
    return [r for r in st["ipfw_rules"] if r.get("action") in ("ngtee", "netgraph")
            and r.get("arg") == cookie]


class _Refused(Exception):
    """A rule ipfw refuses: what it prints and its exit status."""

    def __init__(self, rc: int, text: str):
        super().__init__(text)
        self.rc, self.text = rc, text


def _compile(av: list[str], err: io.StringIO) -> tuple[Optional[dict], int]:
    """Parse ``ACTION body``; returns (rule, 0) or (None, exit status)."""
    try:
        rule, text = _action(av)
        _protocol_and_addresses(av)
        text.append("ip from any to any")
        _options(av, rule, text)
    except _Refused as refused:
        err.write(refused.text)
        return None, refused.rc
    rule["text"] = " ".join(text)
    return rule, 0


def _action(av: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The action word and, for ngtee/netgraph, its cookie 1..65534."""
    if not av:
        raise _Refused(EX_USAGE, "ipfw: missing action\n")
    word = av.pop(0)
    action = ACTIONS.get(word)
    if action is None:
        raise _Refused(EX_DATAERR, "ipfw: invalid action %s\n" % word)
    rule: dict[str, Any] = {"action": action}
    text = [action]
    if action in ("ngtee", "netgraph"):
        if not av:
            raise _Refused(EX_USAGE, "ipfw: %s: missing argument\n" % action)
        arg = av.pop(0)
        if not arg[:1].isdigit() or not arg.isdigit():
            raise _Refused(EX_DATAERR, "ipfw: %s: invalid argument: %s\n" % (action, arg))
        if not 1 <= int(arg) <= 65534:
            raise _Refused(EX_DATAERR, "ipfw: %s: argument is out of range (1..65534): %s\n"
                           % (action, arg))
        rule["arg"] = int(arg)
        text.append(str(int(arg)))
    return rule, text


def _protocol_and_addresses(av: list[str]) -> None:
    """``ip|all from any to any``, the only body ngsim knows; consumed from ``av``."""
    if av and av[0] in ("ip", "all"):
        av.pop(0)
    elif not av:
        raise _Refused(EX_USAGE, "ipfw: missing protocol\n")
    else:
        raise _Refused(EX_DATAERR, "ipfw: invalid protocol ``%s''\n" % av[0])
    if av[:1] != ["from"]:
        raise _Refused(EX_USAGE, "ipfw: missing ``from''\n")
    if av[1:2] != ["any"]:
        raise _Refused(EX_USAGE, "ipfw: unrecognised option [-1] %s\n\n" % " ".join(av[1:2]))
    if av[2:3] != ["to"]:
        raise _Refused(EX_USAGE, "ipfw: missing ``to''\n")
    if av[3:4] != ["any"]:
        raise _Refused(EX_USAGE, "ipfw: unrecognised option [-1] %s\n\n" % " ".join(av[3:4]))
    del av[:4]


def _options(av: list[str], rule: dict[str, Any], text: list[str]) -> None:
    """``in``/``out`` and ``via``/``recv``/``xmit IFACE`` after the addresses."""
    while av:
        w = av.pop(0)
        if w in ("in", "out"):
            rule["dir"] = w
            text.append(w)
        elif w in ("via", "recv", "xmit"):
            if not av:
                raise _Refused(EX_USAGE, "ipfw: missing argument for %s\n" % w)
            rule[w] = av.pop(0)
            text.append("%s %s" % (w, rule[w]))
        else:
            raise _Refused(EX_USAGE, "ipfw: unrecognised option [-1] %s\n\n" % w)


def ipfw_main(k: Kernel, argv: list[str], out: io.StringIO, err: io.StringIO) -> tuple[int, bool]:
    """Run ``ipfw argv``; returns (exit status, mutating)."""
    st = k.st
    quiet = force = False
    av = list(argv)
    while av and av[0].startswith("-") and len(av[0]) > 1:
        for c in av.pop(0)[1:]:
            if c == "q":
                quiet = True
            elif c == "f":
                force = True
            else:
                err.write("ipfw: illegal option -- %s\n" % c)
                return EX_USAGE, False
    if not av:
        err.write("usage: ipfw [options]\n"
                  "do \"ipfw -h\" or \"man ipfw\" for details\n")
        return EX_USAGE, False
    loaded = kld.module_loaded(st, "ipfw")
    cmd = av.pop(0)
    run = {"add": _add, "delete": _delete, "del": _delete, "flush": _flush,
           "list": _list, "show": _list, "l": _list, "sh": _list}.get(cmd)
    if run is not None:
        return run(_Run(st, cmd, av, loaded, quiet, force, out, err))
    err.write("ipfw: bad command `%s'\n" % cmd)
    return EX_USAGE, False


class _Run:
    """One ipfw command's context: the kernel state, the words after the command, whether
    the ipfw module is loaded, the -q/-f flags, and the output streams."""

    def __init__(self, st: dict, cmd: str, av: list[str], loaded: bool, quiet: bool,
                 force: bool, out: io.StringIO, err: io.StringIO):
        self.st, self.cmd, self.av, self.loaded = st, cmd, av, loaded
        self.quiet, self.force, self.out, self.err = quiet, force, out, err


def _add(r: _Run) -> tuple[int, bool]:
    """ipfw add [NUM] RULE (ipfw2.c ipfw_add): NUM 0 or none is the last rule + 100."""
    st, av, err = r.st, r.av, r.err
    num = 0
    if av and av[0].isdigit():
        num = int(av.pop(0))
    rule, rc = _compile(av, err)
    if rule is None:
        return rc, False
    if not r.loaded:
        err.write("ipfw: getsockopt(IP_FW_XADD): %s\n" % ENOPROTOOPT)
        return EX_UNAVAILABLE, True
    if num >= 65535:
        err.write("ipfw: getsockopt(IP_FW_XADD): Invalid argument\n")
        return EX_UNAVAILABLE, True
    if num == 0:
        user = [x["num"] for x in st["ipfw_rules"]]
        num = (max(user) + AUTOINC_STEP) if user else AUTOINC_STEP
        if num >= 65535:
            num = 65534
    rule["num"] = num
    st["ipfw_rules"].append(rule)
    if not r.quiet:
        r.out.write("%05u %s\n" % (num, rule["text"]))
    return 0, True


def _delete(r: _Run) -> tuple[int, bool]:
    """ipfw delete NUM... (ipfw2.c ipfw_delete): every number, an error for each missing."""
    st, err = r.st, r.err
    rc = 0
    if not r.av:
        err.write("ipfw: missing rule specification\n")
        return EX_USAGE, False
    for w in r.av:
        if not w.isdigit():
            break
        n = int(w)
        if not r.loaded:
            rc = EX_UNAVAILABLE
            if not r.quiet:
                err.write("ipfw: rule %u: setsockopt(IP_FW_XDEL): %s\n" % (n, ENOPROTOOPT))
            continue
        before = len(st["ipfw_rules"])
        st["ipfw_rules"] = [x for x in st["ipfw_rules"] if x["num"] != n]
        if len(st["ipfw_rules"]) == before:
            rc = EX_UNAVAILABLE
            if not r.quiet:
                err.write("ipfw: rule %u not found\n" % n)
    return (0 if r.force else rc), True


def _flush(r: _Run) -> tuple[int, bool]:
    """ipfw flush: only with -f or -q when not interactive."""
    if not r.loaded:
        r.err.write("ipfw: setsockopt(IP_FW_XDEL): %s\n" % ENOPROTOOPT)
        return EX_UNAVAILABLE, True
    if not (r.force or r.quiet):
        r.err.write("ipfw: flush needs -f or -q when not interactive\n")
        return EX_USAGE, False
    r.st["ipfw_rules"] = []
    if not r.quiet:
        r.out.write("Flushed all rules.\n")
    return 0, True


def _list(r: _Run) -> tuple[int, bool]:
    """ipfw list / show (show adds the packet and byte counters, always 0 here)."""
    if not r.loaded:
        r.err.write("ipfw: retrieving config failed: %s\n" % ENOPROTOOPT)
        return EX_OSERR, False
    counters = r.cmd.startswith("s")
    for x in rules(r.st):
        if counters:
            r.out.write("%05u 0 0 %s\n" % (x["num"], x["text"]))
        else:
            r.out.write("%05u %s\n" % (x["num"], x["text"]))
    return 0, False
