"""ipfw(8), a small subset: add/delete/list/show/flush of rules on the emulated host.

Accepted grammar: ``add [N] ACTION [ip|all] from any to any [in|out] [via|recv|xmit IF]``
with ACTION one of allow/accept/pass/permit, deny/drop, count, ngtee N, netgraph N.
Rules with ngtee/netgraph feed ng_ipfw hook N. Requires the ``ipfw`` module.
"""
from __future__ import annotations

import io
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only; keeps per-spawn startup fast
    from typing import Any, Optional

from ngsim import kld
from ngsim.base import Kernel

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


def _compile(av: list[str], err: io.StringIO) -> tuple[Optional[dict], int]:
    """Parse ``ACTION body``; returns (rule, 0) or (None, exit status)."""
    if not av:
        err.write("ipfw: missing action\n")
        return None, EX_USAGE
    word = av.pop(0)
    action = ACTIONS.get(word)
    if action is None:
        err.write("ipfw: invalid action %s\n" % word)
        return None, EX_DATAERR
    rule: dict[str, Any] = {"action": action}
    text = [action]
    if action in ("ngtee", "netgraph"):
        if not av:
            err.write("ipfw: %s: missing argument\n" % action)
            return None, EX_USAGE
        arg = av.pop(0)
        if not arg[:1].isdigit() or not arg.isdigit():
            err.write("ipfw: %s: invalid argument: %s\n" % (action, arg))
            return None, EX_DATAERR
        if not 1 <= int(arg) <= 65534:
            err.write("ipfw: %s: argument is out of range (1..65534): %s\n" % (action, arg))
            return None, EX_DATAERR
        rule["arg"] = int(arg)
        text.append(str(int(arg)))
    if av and av[0] in ("ip", "all"):
        av.pop(0)
    elif not av:
        err.write("ipfw: missing protocol\n")
        return None, EX_USAGE
    else:
        err.write("ipfw: invalid protocol ``%s''\n" % av[0])
        return None, EX_DATAERR
    if av[:1] != ["from"]:
        err.write("ipfw: missing ``from''\n")
        return None, EX_USAGE
    if av[1:2] != ["any"]:
        err.write("ipfw: unrecognised option [-1] %s\n\n" % " ".join(av[1:2]))
        return None, EX_USAGE
    if av[2:3] != ["to"]:
        err.write("ipfw: missing ``to''\n")
        return None, EX_USAGE
    if av[3:4] != ["any"]:
        err.write("ipfw: unrecognised option [-1] %s\n\n" % " ".join(av[3:4]))
        return None, EX_USAGE
    del av[:4]
    text.append("ip from any to any")
    while av:
        w = av.pop(0)
        if w in ("in", "out"):
            rule["dir"] = w
            text.append(w)
        elif w in ("via", "recv", "xmit"):
            if not av:
                err.write("ipfw: missing argument for %s\n" % w)
                return None, EX_USAGE
            rule[w] = av.pop(0)
            text.append("%s %s" % (w, rule[w]))
        else:
            err.write("ipfw: unrecognised option [-1] %s\n\n" % w)
            return None, EX_USAGE
    rule["text"] = " ".join(text)
    return rule, 0


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
    if cmd == "add":
        num = 0
        if av and av[0].isdigit():
            num = int(av.pop(0))
        rule, rc = _compile(av, err)
        if rule is None:
            return rc, False
        if not loaded:
            err.write("ipfw: getsockopt(IP_FW_XADD): %s\n" % ENOPROTOOPT)
            return EX_UNAVAILABLE, True
        if num >= 65535:
            err.write("ipfw: getsockopt(IP_FW_XADD): Invalid argument\n")
            return EX_UNAVAILABLE, True
        if num == 0:
            user = [r["num"] for r in st["ipfw_rules"]]
            num = (max(user) + AUTOINC_STEP) if user else AUTOINC_STEP
            if num >= 65535:
                num = 65534
        rule["num"] = num
        st["ipfw_rules"].append(rule)
        if not quiet:
            out.write("%05u %s\n" % (num, rule["text"]))
        return 0, True
    if cmd in ("delete", "del"):
        rc = 0
        if not av:
            err.write("ipfw: missing rule specification\n")
            return EX_USAGE, False
        for w in av:
            if not w.isdigit():
                break
            n = int(w)
            if not loaded:
                rc = EX_UNAVAILABLE
                if not quiet:
                    err.write("ipfw: rule %u: setsockopt(IP_FW_XDEL): %s\n" % (n, ENOPROTOOPT))
                continue
            before = len(st["ipfw_rules"])
            st["ipfw_rules"] = [r for r in st["ipfw_rules"] if r["num"] != n]
            if len(st["ipfw_rules"]) == before:
                rc = EX_UNAVAILABLE
                if not quiet:
                    err.write("ipfw: rule %u not found\n" % n)
        return (0 if force else rc), True
    if cmd == "flush":
        if not loaded:
            err.write("ipfw: setsockopt(IP_FW_XDEL): %s\n" % ENOPROTOOPT)
            return EX_UNAVAILABLE, True
        if not (force or quiet):
            err.write("ipfw: flush needs -f or -q when not interactive\n")
            return EX_USAGE, False
        st["ipfw_rules"] = []
        if not quiet:
            out.write("Flushed all rules.\n")
        return 0, True
    if cmd in ("list", "show", "l", "sh"):
        if not loaded:
            err.write("ipfw: retrieving config failed: %s\n" % ENOPROTOOPT)
            return EX_OSERR, False
        counters = cmd.startswith("s")
        for r in rules(st):
            if counters:
                out.write("%05u 0 0 %s\n" % (r["num"], r["text"]))
            else:
                out.write("%05u %s\n" % (r["num"], r["text"]))
        return 0, False
    err.write("ipfw: bad command `%s'\n" % cmd)
    return EX_USAGE, False
