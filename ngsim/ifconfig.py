"""ifconfig(8) of the emulated host: the interface-name list, ``ifconfig -l [-d] [-u]
[address_family]`` (sbin/ifconfig/ifconfig.c ``args_parse``/``main``,
ifconfig_netlink.c ``list_interfaces_nl``/``match_iface``, ``match_ether``; FreeBSD 14 /
main, the netlink build).

* Options are parsed by getopt with ``"G:adDf:j:klmnuv"`` plus the registered ones
  (``g:`` ifgroup.c, ``C`` ifclone.c, ``L`` af_inet6.c); any getopt complaint (unknown
  option, missing argument) then ``usage()``: exit 1. ``-G`` before ``-a``, ``-l`` with
  ``-a`` or ``-m``, ``-u`` with ``-d``, more than one operand with ``-l``: usage. An operand
  that is no address family: ``ifconfig: Address family 'X' unknown.`` then usage.
* ``-l`` prints the names of the interfaces in the kernel's order (the RTM_GETLINK dump
  walks the ifnet list, where if_attach appends: creation order), separated by one blank,
  then a newline (an empty list is just the newline), exit 0.
* ``ether`` keeps interfaces whose link type (after convert_iftype: a lagg's
  IFT_IEEE8023ADLAG counts as IFT_ETHER) is IFT_ETHER, IFT_L2VLAN or IFT_BRIDGE with a
  6-byte address: in ngsim exactly the interfaces of kind ``ether`` (em, igb, vtnet, vlan,
  lagg, bridge, ngeth, ...); tun, ng_iface, lo, gif, gre, ppp, wg, ... are not.
  ``link``/``lladdr`` (AF_LINK) keep interfaces that have a link-level address: the same
  set here. ``inet``/``inet6`` keep interfaces with an address of that family: ngsim
  models no IP addresses, so none.
* ``-u``: every emulated interface counts as up (IFF_UP), so ``-u`` changes nothing and
  ``-d`` lists none.
* ``ifconfig NAME`` for a NAME that does not exist: ``ifconfig: interface NAME does not
  exist``, exit 1. Everything else (status output, ``-a``, configuring, ``create``, ``-g``,
  ``-C``, ``-j``) is not emulated: ngsim says so on stderr, exit 70.
"""
from __future__ import annotations


from ngsim.options import GetOpt

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only
    import io

    from ngsim.base import Kernel

OPTSTRING = "G:adDf:j:klmnuvg:CL"  # base options, then the opts list g:, C, L
OPT_USAGE = "[-g groupname] [-C] [-L] "  # opt_usage of that list, each followed by a blank
USAGE = (
    "usage: ifconfig [-j jail] [-f type:format] %sinterface address_family\n"
    "                [address [dest_address]] [parameters]\n"
    "       ifconfig [-j jail] interface create\n"
    "       ifconfig [-j jail] -a %s[-d] [-m] [-u] [-v] [address_family]\n"
    "       ifconfig [-j jail] -l [-d] [-u] [address_family]\n"
    "       ifconfig [-j jail] %s[-d] [-m] [-u] [-v]\n" % (OPT_USAGE, OPT_USAGE, OPT_USAGE))
# af_getbyname(): af_link.c registers link, ether, lladdr (AF_LINK); af_inet.c inet;
# af_inet6.c inet6.
FAMILIES = ("link", "ether", "lladdr", "inet", "inet6")
EX_SOFTWARE = 70


class _Usage(Exception):
    pass


def _getopt(argv: list[str], err) -> tuple[list[tuple[str, str]], list[str]]:
    """getopt(3) over OPTSTRING: ([(option, argument)], operands). A complaint is
    printed and raises _Usage (ifconfig's '?' case ends in usage())."""
    opts, found = GetOpt(argv, OPTSTRING), []
    for c, arg in opts:
        if c == "?":
            err.write("ifconfig: %s\n" % arg)
            raise _Usage()
        found.append((c, arg))
    return found, opts.operands


def _not_emulated(err, what: str) -> int:
    err.write("ngsim: ifconfig: %s is not emulated (only -l [-d] [-u] [address_family] and "
              "the error for a missing interface)\n" % what)
    return EX_SOFTWARE


def ifconfig_main(k: Kernel, argv: list[str], out: io.StringIO, err: io.StringIO) -> int:
    """Run ``ifconfig argv...``; returns the exit status."""
    try:
        return _main(k, list(argv), out, err)
    except _Usage:
        err.write(USAGE)
        return 1


def _flags(opts: list[tuple[str, str]], err):
    """The name-list flags (a, d, l, m, u, j) as a dict, or the exit status of an option
    ngsim does not emulate; raises _Usage for -G without -a."""
    flags = dict.fromkeys(("a", "d", "l", "m", "u", "j"), False)
    for c, val in opts:
        if c in ("a", "d", "l", "m", "u"):
            flags[c] = True
        elif c == "G":
            if not flags["a"]:
                raise _Usage()
            return _not_emulated(err, "-G")
        elif c == "j":
            flags["j"] = True  # jail_attach() comes after the usage checks
        elif c == "g":
            if flags["a"]:
                return _not_emulated(err, "-a -g")
            return _not_emulated(err, "-g (list a group's members)")
        elif c == "C":
            return _not_emulated(err, "-C (list cloners)")
        # D, f, k, n, v, L: flags that do not change a name list
    return flags


def _main(k: Kernel, argv: list[str], out, err) -> int:
    opts, operands = _getopt(argv, err)
    flags = _flags(opts, err)
    if isinstance(flags, int):
        return flags
    all_, downonly, namesonly, supmedia, uponly, jail = (flags[c] for c in "adlmuj")
    if namesonly and (all_ or supmedia):
        raise _Usage()
    if uponly and downonly:
        raise _Usage()
    if not namesonly and not operands:
        all_ = True
    family = None
    if all_ or namesonly:
        if len(operands) > 1:
            raise _Usage()
        if operands:
            if operands[0] not in FAMILIES:
                err.write("ifconfig: Address family '%s' unknown.\n" % operands[0])
                raise _Usage()
            family = operands[0]
    if jail:
        return _not_emulated(err, "-j")
    if not namesonly:
        if all_:
            return _not_emulated(err, "interface status (-a)")
        name = operands[0]
        if not any(rec["name"] == name for rec in k.st["ifaces"]):
            if len(operands) > 1 and operands[1] in ("create", "plumb"):
                return _not_emulated(err, "create (use ngsim ifcreate)")
            err.write("ifconfig: interface %s does not exist\n" % name)
            return 1
        return _not_emulated(err, "status or configuration of an interface")
    out.write(" ".join(_names(k, family, downonly)) + "\n")
    return 0


def _names(k: Kernel, family, downonly: bool) -> list[str]:
    """``ifconfig -l [-d] [FAMILY]``: the interfaces in the kernel's order."""
    names = []
    for rec in k.st["ifaces"]:
        if downonly:  # every emulated interface is up
            continue
        if family in ("ether", "link", "lladdr") and rec["kind"] != "ether":
            continue
        if family in ("inet", "inet6"):
            continue  # no IP addresses are modelled
        names.append(rec["name"])
    return names
