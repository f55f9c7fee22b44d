"""flowctl(8) (usr.sbin/flowctl/flowctl.c, FreeBSD 14 / main): ``flowctl [-d level] PATH
show [ipv4|ipv6] [verbose|human]`` reads ng_netflow's flow cache with the binary-only
NGM_NETFLOW_SHOW message and prints it the Cisco "show ip cache flow" way.

What the program does, followed here line by line:

* ``getopt(argc, argv, "d:")``; the switch has no default, so an unknown option (or ``-d``
  without its argument) only makes getopt print its complaint and is otherwise ignored.
  ``-d`` sets libnetgraph's debug level (its stderr tracing is not emulated).
* No PATH, or one longer than NG_PATHSIZ (512): usage on stderr, **exit 0** (``help()``).
* ``NgMkSockNode("flowctl<pid>")`` (a socket node: one node ID, ng_socket loaded if
  needed; ``err(1, "NgMkSockNode")`` if that fails).
* No command: usage, exit 0. The command is matched with ``strncmp(argv[0], "show",
  strlen(argv[0]))`` (a prefix, the empty word too); else ``flowctl: bad command: X``,
  exit 1.
* ``show``: both walks run on a kernel with INET and INET6 (``feature_present``); a first
  word starting with ``ipv4`` keeps only IPv4, then one starting with ``ipv6`` keeps only
  IPv6 (``show ipv4 ipv6`` shows nothing); the next word, if a prefix of ``verbose``,
  selects verbose, and the same word, if a prefix of ``human``, selects human.
* Each walk (``do_show``) sends ``{version, hash_id = 0, list_id = 0}`` and prints every
  reply, continuing with the reply's hash_id/list_id while the reply's hash_id is not 0.
  NgSendMsg failing (no such node, a node that is not netflow: EINVAL) is
  ``flowctl: NgSendMsg(NGM_NETFLOW_SHOW): <strerror>``, exit 1.
* Printing (``flow_cache_print*``): the plain and human headers are printed once per reply
  **that has entries**, the verbose header once per reply even when empty (so ``show
  verbose`` always prints the IPv6 header too). Interfaces are ``if_indextoname()``:
  an index no interface has (0, or a destroyed one) gives NULL, which FreeBSD's printf
  prints as ``(null)``.
"""
from __future__ import annotations


from ngsim.options import GetOpt

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only
    import io

    from ngsim.base import Kernel

NG_PATHSIZ = 512
NG_NODESIZ = 32
USAGE = "usage: flowctl [-d level] nodename command\n"

SH_FLOW_HEADER = ("SrcIf         SrcIPaddress    "
                  "DstIf         DstIPaddress    Pr SrcP DstP  Pkts\n")
SH_FLOW = "%-13s %-15s %-13s %-15s %2u %4.4x %4.4x %6u\n"
SH_FLOW_HHEADER = ("SrcIf         SrcIPaddress    "
                   "DstIf         DstIPaddress    Proto  SrcPort  DstPort     Pkts\n")
SH_FLOW_H = "%-13s %-15s %-13s %-15s %5u %8d %8d %8u\n"
SH_FLOW6_HEADER = ("SrcIf         SrcIPaddress                   "
                   "DstIf         DstIPaddress                   Pr SrcP DstP  Pkts\n")
SH_FLOW6 = "%-13s %-30s %-13s %-30s %2u %4.4x %4.4x %6u\n"
SH_FLOW6_HHEADER = ("SrcIf         SrcIPaddress                         "
                    "DstIf         DstIPaddress                         "
                    "Proto  SrcPort  DstPort     Pkts\n")
SH_FLOW6_H = "%-13s %-36s %-13s %-36s %5u %8d %8d %8u\n"
SH_VERB_FLOW_HEADER = ("SrcIf          SrcIPaddress    "
                       "DstIf          DstIPaddress    Pr TOS Flgs  Pkts\n"
                       "Port Msk AS                    Port Msk AS    NextHop              "
                       "B/Pk  Active\n")
SH_VERB_FLOW = ("%-14s %-15s %-14s %-15s %2u %3x %4x %6u\n"
                "%4.4x /%-2u %-5u                 %4.4x /%-2u %-5u %-15s %9u %8u\n\n")
SH_VERB_FLOW6_HEADER = ("SrcIf          SrcIPaddress                   "
                        "DstIf          DstIPaddress                   Pr TOS Flgs  Pkts\n"
                        "Port Msk AS                    Port Msk AS    NextHop"
                        "                             B/Pk  Active\n")
SH_VERB_FLOW6 = ("%-14s %-30s %-14s %-30s %2u %3x %4x %6u\n"
                 "%4.4x /%-2u %-5u                 %4.4x /%-2u %-5u %-30s %9u %8u\n\n")


def _getopt(argv: list[str], err) -> tuple[list[str], int]:
    """getopt(argc, argv, "d:"): (operands, debug level). Complaints go to stderr and
    are otherwise ignored, as flowctl's switch has no default case."""
    opts, debug = GetOpt(argv, "d:"), 0
    for c, arg in opts:
        if c == "?":
            err.write("flowctl: %s\n" % arg)
        else:
            debug = _atoi(arg)
    return opts.operands, debug


def _atoi(s: str) -> int:
    s = s.lstrip(" \t\n\v\f\r")
    sign = -1 if s[:1] == "-" else 1
    if s[:1] in "+-" and s:
        s = s[1:]
    n = ""
    for ch in s:
        if not ch.isdigit():
            break
        n += ch
    return sign * int(n) if n else 0


def _ifname(k: Kernel, index: int) -> str:
    """if_indextoname(): the name, or NULL -> printf's "(null)"."""
    for rec in k.st["ifaces"]:
        if rec["index"] == index and index != 0:
            return rec["name"]
    return "(null)"


def _print4(k: Kernel, out, reply: bytes, verbose: bool, human: bool) -> None:
    import socket

    from ngsim.flow import FLOW_ENTRY_SIZE

    _print(k, out, reply, verbose, human, 4, "flow_cache_print", FLOW_ENTRY_SIZE,
           "<4x4x4s4s2s2sBBH4sHBBQQqqB", socket.inet_ntoa,
           (SH_VERB_FLOW_HEADER, SH_FLOW_HHEADER, SH_FLOW_HEADER, SH_VERB_FLOW, SH_FLOW_H,
            SH_FLOW))


def _print6(k: Kernel, out, reply: bytes, verbose: bool, human: bool) -> None:
    """flow_cache_print6 / flow_cache_print6_verbose: struct flow6_entry_data entries,
    addresses by FreeBSD's inet_ntop (``ngsim.inet6.ntop``), next hop included."""
    from ngsim import inet6
    from ngsim.flow import FLOW6_ENTRY_SIZE

    _print(k, out, reply, verbose, human, 6, "flow_cache_print6", FLOW6_ENTRY_SIZE,
           "<4x4x16s16s2s2sBBH16sHBB4xQQqqB", inet6.ntop,
           (SH_VERB_FLOW6_HEADER, SH_FLOW6_HHEADER, SH_FLOW6_HEADER, SH_VERB_FLOW6,
            SH_FLOW6_H, SH_FLOW6))


def _print(k: Kernel, out, reply: bytes, verbose: bool, human: bool, want: int, fn: str,
           entry_size: int, entry_fmt: str, ntop, formats: tuple) -> None:
    """The body both flow_cache_print* share: the header, then one line (or two, verbose)
    per entry; ``formats`` is (verbose header, human header, header, verbose line, human
    line, line)."""
    import struct

    from ngsim.flow import SHOW_HEADER_SIZE

    verb_header, hheader, header, verb_line, hline, line = formats
    version, _, _, n = struct.unpack_from("<B3xIII", reply)
    if version != want:  # errx(EX_SOFTWARE, ...); the emulated kernel never does this
        raise RuntimeError("%s: version mismatch: %u" % (fn, version))
    if verbose:
        out.write(verb_header)
    elif n > 0:
        out.write(hheader if human else header)
    for i in range(n):
        (src, dst, sport, dport, proto, tos, iifx, nexthop, oifx, dmask, smask, packets,
         nbytes, _first, _last, flags) = struct.unpack_from(
            entry_fmt, reply, SHOW_HEADER_SIZE + i * entry_size)
        sport = int.from_bytes(sport, "big")
        dport = int.from_bytes(dport, "big")
        a, b = ntop(src), ntop(dst)
        if verbose:
            out.write(verb_line % (_ifname(k, iifx), a, _ifname(k, oifx), b, proto, tos,
                                   flags, packets, sport, smask, 0, dport, dmask, 0,
                                   ntop(nexthop), (nbytes // packets) & 0xFFFFFFFF, 0))
        else:
            out.write((hline if human else line) % (
                _ifname(k, iifx), a, _ifname(k, oifx), b, proto, sport, dport, packets))


def do_show(k: Kernel, sock: dict, path: str, version: int, out, verbose: bool,
            human: bool) -> None:
    import struct

    from ngsim.errors import NgError

    hash_id = list_id = 0
    while True:
        req = struct.pack("<B3xIII", version, hash_id, list_id, 0)
        try:
            node = k.resolve(sock, path)[0]
            from ngsim.types.netflow import NGM_NETFLOW_COOKIE, NGM_NETFLOW_SHOW

            reply = k.ntype(node).rcvmsg(k, node, NGM_NETFLOW_COOKIE, NGM_NETFLOW_SHOW, req)
        except NgError as e:
            raise _Fail("NgSendMsg(NGM_NETFLOW_SHOW): %s" % e.text)
        (_print4 if version == 4 else _print6)(k, out, reply, verbose, human)
        _, rhash, rlist, _ = struct.unpack_from("<B3xIII", reply)
        if rhash == 0:
            break
        hash_id, list_id = rhash, rlist


class _Fail(Exception):
    """err(1, ...): ``flowctl: <text>`` and exit 1."""


def flowctl_main(k: Kernel, argv: list[str], out: io.StringIO, err: io.StringIO,
                 pid: int) -> int:
    """Run ``flowctl argv...`` against the emulated kernel; returns the exit status."""
    from ngsim import kld
    from ngsim.errors import NgError

    args, _debug = _getopt(list(argv), err)
    if not args or len(args[0].encode("utf-8", "surrogateescape")) > NG_PATHSIZ:
        err.write(USAGE)
        return 0
    path, rest = args[0], args[1:]
    try:
        kld.ensure(k, "ng_socket")
        sock = k.make_node_common("socket")
        name = ("flowctl%d" % pid)[: NG_NODESIZ - 1]
        try:
            k.name_node(sock, name)
        except NgError:
            k.rmnode(sock)
            raise
    except NgError as e:
        err.write("flowctl: NgMkSockNode: %s\n" % e.text)
        return 1
    try:
        if not rest:
            err.write(USAGE)
            return 0
        if not "show".startswith(rest[0]):
            err.write("flowctl: bad command: %s\n" % rest[0])
            return 1
        words = rest[1:]
        ipv4 = ipv6 = True
        if words and words[0].startswith("ipv4"):
            ipv6 = False
            words = words[1:]
        if words and words[0].startswith("ipv6"):
            ipv4 = False
            words = words[1:]
        verbose = bool(words) and "verbose".startswith(words[0])
        human = bool(words) and "human".startswith(words[0])
        try:
            if ipv4:
                do_show(k, sock, path, 4, out, verbose, human)
            if ipv6:
                do_show(k, sock, path, 6, out, verbose, human)
        except _Fail as e:
            err.write("flowctl: %s\n" % e)
            return 1
        return 0
    finally:
        if k.node(sock["id"]) is sock:
            k.rmnode(sock)
