"""Kernel linker: loadable files (.ko), their modules and dependencies; kldload and kldstat.

Loading a file allocates its id first, then loads missing dependencies (so ng_ether.ko
gets id N and netgraph.ko N+1). Netgraph type modules register their types (newest
first; the Python type modules, ``ngsim.types``, are imported here, and each declares
with ``netgraph_init`` which module registers it) and have side effects: ng_ether makes ether nodes, ng_ipfw makes the ipfw node.
"""
from __future__ import annotations

import io

from ngsim.base import Kernel
from ngsim.errors import NgError
from ngsim.nodetype import MODULE_TYPES
from ngsim.options import GetOpt
import ngsim.types  # noqa: F401  (the type modules: each registers its type on import)

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only; keeps per-spawn startup fast
    from typing import Any, Optional

KERNEL_ADDR = 0xFFFFFFFF80200000
KERNEL_SIZE = 0x1F3C6C0
FIRST_KLD_ADDR = 0xFFFFFFFF82A1E000

# file (without .ko) -> (dependencies, size, modules it contains)
CATALOG: dict[str, tuple[list[str], int, list[str]]] = {
    "netgraph": ([], 0xACB8, ["netgraph"]),
    "ng_socket": (["netgraph"], 0x3F10, ["ng_socket"]),
    "ng_ether": (["netgraph"], 0x3220, ["ng_ether"]),
    "ng_netflow": (["netgraph"], 0xB7A0, ["ng_netflow"]),
    "ng_ksocket": (["netgraph"], 0x4D28, ["ng_ksocket"]),
    "ng_one2many": (["netgraph"], 0x27C0, ["ng_one2many"]),
    "ng_tee": (["netgraph"], 0x2338, ["ng_tee"]),
    "ng_hub": (["netgraph"], 0x1B60, ["ng_hub"]),
    "ng_bridge": (["netgraph"], 0x4A30, ["ng_bridge"]),
    "ng_eiface": (["netgraph"], 0x3B58, ["ng_eiface"]),
    "ng_vlan": (["netgraph"], 0x3C40, ["ng_vlan"]),
    "ng_pppoe": (["netgraph"], 0x7D20, ["ng_pppoe"]),
    "ipfw": ([], 0x2C8E0, ["ipfw"]),
    "ng_ipfw": (["netgraph", "ipfw"], 0x2A38, ["ng_ipfw"]),
}
KERNEL_MODULES = ["kernel"]


def boot(st: dict[str, Any]) -> None:
    """Fresh boot: only the kernel file, with its own modules."""
    st["klds"] = [{"name": "kernel", "id": 1, "addr": KERNEL_ADDR, "size": KERNEL_SIZE,
                   "deps": [], "mods": [[1, "kernel"]]}]
    st["next_kld_id"] = 2
    st["next_mod_id"] = 2
    st["next_kld_addr"] = FIRST_KLD_ADDR


def loaded_files(st: dict[str, Any]) -> list[str]:
    return [f["name"] for f in st["klds"]]


def module_loaded(st: dict[str, Any], mod: str) -> bool:
    return any(m[1] == mod for f in st["klds"] for m in f["mods"])


def file_name(arg: str) -> str:
    """kldload argument -> catalog key: ``ng_ether``, ``ng_ether.ko``, ``/boot/kernel/ng_ether.ko``."""
    base = arg.rsplit("/", 1)[-1]
    if base.endswith(".ko"):
        base = base[:-3]
    return base


def load(k: Kernel, arg: str) -> int:
    """kldload(2): returns the file id; raises NgError (EEXIST, ENOENT)."""
    st = k.st
    name = file_name(arg)
    if name == "kernel" or name in loaded_files(st):
        raise NgError("EEXIST")
    if name not in CATALOG or ("/" in arg and not arg.startswith("/boot/kernel/")):
        raise NgError("ENOENT")
    deps, size, mods = CATALOG[name]
    if any(module_loaded(st, m) for m in mods):
        raise NgError("EEXIST")
    fid = st["next_kld_id"]
    st["next_kld_id"] = fid + 1
    addr = st["next_kld_addr"]
    st["next_kld_addr"] = (addr + size + 0xFFF) & ~0xFFF
    rec = {"name": name, "id": fid, "addr": addr, "size": size, "deps": deps, "mods": []}
    st["klds"].append(rec)
    for dep in deps:
        if dep not in loaded_files(st):
            load(k, dep)
    for m in mods:
        rec["mods"].append([st["next_mod_id"], m])
        st["next_mod_id"] += 1
        _module_event(k, m)
    return fid


def ensure(k: Kernel, name: str) -> None:
    """Load a file unless already loaded (ngctl's ng_socket, mkpeer's ng_<type>)."""
    if name not in loaded_files(k.st):
        load(k, name)


def _module_event(k: Kernel, mod: str) -> None:
    for t in MODULE_TYPES.get(mod, []):
        if t not in k.st["types"]:
            k.st["types"].insert(0, t)
    if mod == "ng_ether":
        for rec in k.st["ifaces"]:
            if rec["kind"] == "ether":
                attach_ether(k, rec)
    elif mod == "ng_ipfw":
        node = k.make_node_common("ipfw")
        k.name_node(node, "ipfw")


def attach_ether(k: Kernel, rec: dict) -> Optional[dict]:
    """ng_ether_attach (``ngsim.types.ether.attach``)."""
    from ngsim.types.ether import attach

    return attach(k, rec)


def ether_node(k: Kernel, ifname: str) -> Optional[dict]:
    for n in k.st["nodes"].values():
        if n["type"] == "ether" and n["priv"].get("ifname") == ifname:
            return n
    return None


def refs(st: dict[str, Any], rec: dict) -> int:
    if rec["name"] == "kernel":
        return len(st["klds"])
    return 1 + sum(1 for f in st["klds"] if rec["name"] in f["deps"])


# ----- the binaries ---------------------------------------------------------

def kldload_main(k: Kernel, argv: list[str], out: io.StringIO, err: io.StringIO) -> int:
    """kldload [-nqv] file ..."""
    opts = GetOpt(argv, "nqv")
    given = opts.given("kldload", err)
    if given is None:
        err.write("usage: kldload [-nqv] file ...\n")
        return 1
    check, quiet, verbose = "n" in given, "q" in given, "v" in given
    args = opts.operands
    if not args:
        err.write("usage: kldload [-nqv] file ...\n")
        return 1
    errors = 0
    for arg in args:
        try:
            fid = load(k, arg)
        except NgError as e:
            if check and e.errno == "EEXIST":
                if verbose:
                    out.write("%s is already loaded\n" % arg)
                continue
            errors += 1
            if quiet:
                continue
            if e.errno == "EEXIST":
                err.write("kldload: can't load %s: module already loaded or in kernel\n" % arg)
            elif e.errno == "ENOEXEC":
                err.write("kldload: an error occurred while loading module %s. "
                          "Please check dmesg(8) for more details.\n" % arg)
            else:
                err.write("kldload: can't load %s: %s\n" % (arg, e.text))
            continue
        if verbose:
            out.write("Loaded %s, id=%d\n" % (arg, fid))
    return 1 if errors else 0


def _path(rec: dict) -> str:
    return "/boot/kernel/" + (rec["name"] if rec["name"] == "kernel" else rec["name"] + ".ko")


def _fname(rec: dict) -> str:
    return rec["name"] if rec["name"] == "kernel" else rec["name"] + ".ko"


def _humanize(n: int) -> str:
    for unit in ("", "K", "M", "G"):
        if n < 1000 or unit == "G":
            return "%d%s" % (n, unit) if unit == "" else "%d%s" % (round(n), unit)
        n = n / 1024
    return str(n)  # pragma: no cover


KLDSTAT_USAGE = ("usage: kldstat [-hv] [-i id] [-n filename]\n"
                 "       kldstat [-q] [-m modname]\n")


def kldstat_main(k: Kernel, argv: list[str], out: io.StringIO, err: io.StringIO) -> int:
    """kldstat [-hqv] [-i id] [-n filename] [-m modname]"""
    st = k.st
    opts = GetOpt(argv, "hi:m:n:qv")
    given = opts.given("kldstat", err)
    if given is None:
        err.write(KLDSTAT_USAGE)
        return 1
    human, quiet, verbose = "h" in given, "q" in given, "v" in given
    fid: Optional[str] = given.get("i")
    fname: Optional[str] = given.get("n")
    modname: Optional[str] = given.get("m")
    if opts.operands:
        err.write(KLDSTAT_USAGE)
        return 1
    if modname is not None:
        for rec in st["klds"]:
            for mid, m in rec["mods"]:
                if m == modname:
                    if not quiet:
                        out.write("Id  Refs Name\n")
                        out.write("%3d %4d %s\n" % (mid, 1, m))
                    return 0
        if not quiet:
            err.write("kldstat: can't find module %s: No such file or directory\n" % modname)
        return 1
    recs = st["klds"]
    if fname is not None:
        recs = [r for r in recs if _fname(r) == fname or r["name"] == fname]
        if not recs:
            err.write("kldstat: can't find file %s: No such file or directory\n" % fname)
            return 1
    if fid is not None:
        try:
            want = int(fid)
        except ValueError:
            want = -1
        recs = [r for r in recs if r["id"] == want]
        if not recs:
            err.write("kldstat: can't stat file id %s: No such file or directory\n" % fid)
            return 1
    if human:
        out.write("Id Refs Address                Size Name\n")
    else:
        out.write("Id Refs Address%s %8s Name\n" % (" " * 11, "Size"))
    for rec in recs:
        size = ("%5s" % _humanize(rec["size"])) if human else "%8x" % rec["size"]
        line = "%2d %4d 0x%016x %s %s" % (rec["id"], refs(st, rec), rec["addr"], size, _fname(rec))
        if verbose:
            out.write(line + " (%s)\n" % _path(rec))
            out.write("\tContains modules:\n")
            out.write("\t\t Id Name\n")
            for mid, m in rec["mods"]:
                out.write("\t\t%3d %s\n" % (mid, m))
        else:
            out.write(line + "\n")
    return 0
