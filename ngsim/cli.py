"""The ``ngsim`` command: make and inspect emulated FreeBSD hosts (docs/CONTRACTS.md §1)."""
from __future__ import annotations

import argparse
import json
import os
import re
import stat
import sys
from pathlib import Path

from ngsim import state
from ngsim.errors import ERRNO

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only; keeps per-spawn startup fast
    from typing import Optional

NON_ETHER = re.compile(r"^(tun|ng\d|ppp|pppoe|lo|gif|gre|wg|ovpn|enc|pflog|pfsync|stf)")
REPO_DIR = str(Path(__file__).resolve().parent.parent)

SCRIPT = """#!{python} -S
# ngsim emulated {binary} bound to {root}
import sys
sys.path.insert(0, {repo!r})
from ngsim.tool import main
sys.exit(main({binary!r}, {root!r}, sys.argv[1:]))
"""


def iface_kind(spec: str) -> tuple[str, str]:
    """``NAME``, ``NAME=ether`` or ``NAME=other`` -> (name, kind)."""
    if "=" in spec:
        name, kind = spec.split("=", 1)
        if kind not in ("ether", "other"):
            raise SystemExit("ngsim: interface kind must be ether or other: %s" % spec)
        return name, kind
    return spec, "other" if NON_ETHER.match(spec) else "ether"


def write_binaries(root: str) -> None:
    bindir = os.path.join(root, "bin")
    os.makedirs(bindir, exist_ok=True)
    from ngsim.tool import BINARIES

    for binary in BINARIES:
        path = os.path.join(bindir, binary)
        with open(path, "w", encoding="utf-8") as f:
            f.write(SCRIPT.format(python=sys.executable, binary=binary, root=root, repo=REPO_DIR))
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def boot(st: dict, modules: list[str]) -> None:
    """Fresh boot of an existing state, then load the preloaded modules."""
    from ngsim import kld
    from ngsim.base import Kernel

    kld.boot(st)
    k = Kernel(st)
    for mod in modules:
        kld.ensure(k, kld.file_name(mod))


def cmd_init(a: argparse.Namespace) -> int:
    root = os.path.abspath(a.root)
    os.makedirs(root, exist_ok=True)
    ifaces = [iface_kind(s) for s in a.iface or []]
    names = [n for n, _ in ifaces]
    if len(set(names)) != len(names):
        raise SystemExit("ngsim: duplicate interface")
    with state.locked(root):
        st = state.fresh_state(ifaces)
        try:
            boot(st, a.loaded or [])
        except Exception as e:  # NgError for an unknown module
            raise SystemExit("ngsim: can't preload %s: %s" % (a.loaded, e))
        state.save(root, st)
        open(state.log_path(root), "w").close()
    write_binaries(root)
    return 0


def _mutate(root: str, fn) -> int:
    root = os.path.abspath(root)
    with state.locked(root):
        st = state.load(root)
        rc = fn(st)
        state.save(root, st)
    return rc


def cmd_reboot(a: argparse.Namespace) -> int:
    def fn(st: dict) -> int:
        fresh = state.fresh_state()
        # ng_eiface's ngethN interfaces die with the kernel that made them
        keep = {"ifaces": [r for r in st["ifaces"] if "eiface" not in r],
                "next_ifindex": st["next_ifindex"]}
        for rec in keep["ifaces"]:
            rec.pop("ng_detached", None)
        st.clear()
        st.update(fresh)
        st.update(keep)
        boot(st, [])
        return 0

    return _mutate(a.root, fn)


def cmd_ifcreate(a: argparse.Namespace) -> int:
    from ngsim import kld
    from ngsim.base import Kernel

    def fn(st: dict) -> int:
        name, kind = iface_kind(a.name)
        if any(r["name"] == name for r in st["ifaces"]):
            sys.stderr.write("ngsim: interface %s already exists\n" % name)
            return 1
        rec = state.add_iface(st, name, kind)
        k = Kernel(st)
        if kind == "ether" and "ether" in st["types"]:
            kld.attach_ether(k, rec)
        return 0

    return _mutate(a.root, fn)


def cmd_ifdestroy(a: argparse.Namespace) -> int:
    from ngsim import kld
    from ngsim.base import Kernel

    def fn(st: dict) -> int:
        recs = [r for r in st["ifaces"] if r["name"] == a.name]
        if not recs:
            sys.stderr.write("ngsim: no interface %s\n" % a.name)
            return 1
        k = Kernel(st)
        node = kld.ether_node(k, a.name)
        if node is not None:
            k.rmnode(node, really=True)
        st["ifaces"].remove(recs[0])
        return 0

    return _mutate(a.root, fn)


def cmd_links(a: argparse.Namespace) -> int:
    from ngsim.links import links

    return _print_json(a.root, links)


def cmd_log(a: argparse.Namespace) -> int:
    root = os.path.abspath(a.root)
    with state.locked(root):
        path = state.log_path(root)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                sys.stdout.write(f.read())
        if a.clear:
            open(path, "w").close()
    return 0


def cmd_fail(a: argparse.Namespace) -> int:
    if a.errno not in ERRNO:
        raise SystemExit("ngsim: unknown errno %s" % a.errno)
    if a.at < 1:
        raise SystemExit("ngsim: --at must be >= 1")

    def fn(st: dict) -> int:
        st["fail"] = {"remaining": a.at, "errno": a.errno}
        return 0

    return _mutate(a.root, fn)


def cmd_die(a: argparse.Namespace) -> int:
    if a.after < 0:
        raise SystemExit("ngsim: --after must be >= 0")

    def fn(st: dict) -> int:
        st["die"] = {"after": a.after}
        return 0

    return _mutate(a.root, fn)


def cmd_hang(a: argparse.Namespace) -> int:
    from ngsim.tool import BINARIES

    if a.binary not in BINARIES:
        raise SystemExit("ngsim: BINARY must be one of %s, not %s" % (", ".join(BINARIES), a.binary))

    def fn(st: dict) -> int:
        names = [b for b in st.get("hang") or [] if b != a.binary]
        st["hang"] = sorted(names if a.off else names + [a.binary])
        return 0

    return _mutate(a.root, fn)


def cmd_lose(a: argparse.Namespace) -> int:
    """A test knob, not a kernel behaviour: the next N datagrams this host's ksockets send
    are lost on the way (as UDP on a congested path is): sosend succeeds, nothing is
    counted as failed, nothing reaches the peer (ngsim/README.md, "Traffic")."""
    if a.next < 0:
        raise SystemExit("ngsim: --next must be >= 0")

    def fn(st: dict) -> int:
        st["wire_loss"] = a.next
        return 0

    return _mutate(a.root, fn)


def cmd_state(a: argparse.Namespace) -> int:
    return _print_json(a.root, lambda st: st, indent=1)


def _print_json(root: str, view, indent=None) -> int:
    """Print ``view(state)`` as JSON, the state read under the lock."""
    root = os.path.abspath(root)
    with state.locked(root):
        st = state.load(root)
    print(json.dumps(view(st), indent=indent))
    return 0


def cmd_traffic(a: argparse.Namespace) -> int:
    from ngsim.traffic import run_traffic

    out: dict = {}

    def fn(st: dict) -> int:
        try:
            out.update(run_traffic(st, a))
        except ValueError as e:
            sys.stderr.write("ngsim: %s\n" % e)
            return 1
        return 0

    rc = _mutate(a.root, fn)
    if rc == 0:
        print(json.dumps(out))
    return rc


def cmd_tick(a: argparse.Namespace) -> int:
    from ngsim.traffic import run_tick

    if a.seconds < 0:
        raise SystemExit("ngsim: SECONDS must be >= 0")
    out: dict = {}

    def fn(st: dict) -> int:
        out.update(run_tick(st, a.seconds))
        return 0

    rc = _mutate(a.root, fn)
    print(json.dumps(out))
    return rc


def _int0(text: str) -> int:
    return int(text, 0)


def _traffic_parser(sub) -> None:
    """``ngsim traffic``: its many knobs, one per field of the packets it builds."""
    s = sub.add_parser("traffic", help="push IPv4 or IPv6 packets through an interface (JSON summary)")
    s.add_argument("root")
    s.add_argument("iface")
    s.add_argument("--src", required=True)
    s.add_argument("--dst", required=True)
    s.add_argument("--proto", choices=("tcp", "udp", "icmp"), default="udp")
    s.add_argument("--sport", type=int, default=0)
    s.add_argument("--dport", type=int, default=0)
    s.add_argument("--packets", type=int, default=1, help="packets per flow")
    s.add_argument("--flows", type=int, default=1,
                   help="N flows, source ports SPORT..SPORT+N-1, each with --packets/--bytes")
    s.add_argument("--bytes", type=int, default=None,
                   help="total IP bytes of a flow's packets (default 100 per packet)")
    s.add_argument("--direction", choices=("in", "out"), default="in")
    s.add_argument("--tcp-flags", type=_int0, default=0, dest="tcp_flags")
    s.add_argument("--tos", type=_int0, default=0)
    s.add_argument("--forward", metavar="IFACE",
                   help="after an inbound packet reaches the host, route it out of IFACE")
    s.add_argument("--rcvif", metavar="IFACE",
                   help="outbound: the interface a forwarded packet came in on (default: "
                        "locally generated, no rcvif)")
    s.add_argument("--oif", metavar="IFACE|N",
                   help="output interface of the destination's route (fle_o_ifx)")
    s.set_defaults(fn=cmd_traffic)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ngsim", description="Emulated FreeBSD netgraph hosts.")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("init", help="make an emulated host in ROOT")
    s.add_argument("root")
    s.add_argument("--iface", action="append", metavar="NAME[=ether|other]")
    s.add_argument("--loaded", action="append", metavar="MODULE")
    s.set_defaults(fn=cmd_init)
    for name, fn, helptext in (("reboot", cmd_reboot, "graph, modules and ipfw rules gone"),
                               ("links", cmd_links, "JSON map interface -> pass|blackhole"),
                               ("state", cmd_state, "dump the emulated state as JSON")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("root")
        s.set_defaults(fn=fn)
    for name, fn in (("ifcreate", cmd_ifcreate), ("ifdestroy", cmd_ifdestroy)):
        s = sub.add_parser(name, help="an interface appears" if name == "ifcreate"
                           else "an interface detaches")
        s.add_argument("root")
        s.add_argument("name")
        s.set_defaults(fn=fn)
    s = sub.add_parser("log", help="one JSON object per emulated invocation")
    s.add_argument("root")
    s.add_argument("--clear", action="store_true")
    s.set_defaults(fn=cmd_log)
    s = sub.add_parser("fail", help="make the Nth mutating ngctl command from now fail")
    s.add_argument("root")
    s.add_argument("--at", type=int, required=True)
    s.add_argument("--errno", default="ENOBUFS")
    s.set_defaults(fn=cmd_fail)
    s = sub.add_parser("die", help="the next ngctl -f batch runs N command lines, then "
                                   "ngctl dies as if SIGKILLed (exit -9)")
    s.add_argument("root")
    s.add_argument("--after", type=int, required=True, metavar="N")
    s.set_defaults(fn=cmd_die)
    s = sub.add_parser("hang", help="from now on BINARY hangs (sleeps without the host lock, "
                                    "then fails) until --off; state.json key \"hang\"")
    s.add_argument("root")
    s.add_argument("binary", metavar="BINARY")
    s.add_argument("--off", action="store_true")
    s.set_defaults(fn=cmd_hang)
    s = sub.add_parser("lose", help="the next N datagrams sent by ksockets are lost on the way "
                                    "(a test knob; state.json key \"wire_loss\")")
    s.add_argument("root")
    s.add_argument("--next", type=int, required=True, metavar="N")
    s.set_defaults(fn=cmd_lose)
    _traffic_parser(sub)
    s = sub.add_parser("tick", help="advance the emulated clock; flows expire and export")
    s.add_argument("root")
    s.add_argument("seconds", type=int)
    s.set_defaults(fn=cmd_tick)
    return p


def main(argv: Optional[list[str]] = None) -> int:
    a = parser().parse_args(argv)
    try:
        return a.fn(a)
    except FileNotFoundError as e:
        sys.stderr.write("%s\n" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
