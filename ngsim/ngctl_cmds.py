"""ngctl(8)'s shared declarations (usr.sbin/ngctl/ngctl.h) and its command table (the
``cmds[]`` of main.c with each command's usage, summary, aliases and help, as each
``struct ngcmd`` holds them), with the small helpers the command files share: exit codes,
field widths, output formats, getopt over a command's words, C's atoi and strerror.
"""
from __future__ import annotations

import errno as _errno

from ngsim.errors import strerror
from ngsim.options import GetOpt

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only; keeps per-spawn startup fast
    from typing import Optional


CMDRTN_OK, CMDRTN_USAGE, CMDRTN_ERROR, CMDRTN_QUIT = 0, 1, 2, 3
CMDRTN_KILLED = -1  # emulator only: ``ngsim die`` ended the process between two lines
KILLED = -9  # "exit status" of a process killed by SIGKILL, as subprocess reports it
EXIT = {CMDRTN_OK: 0, CMDRTN_QUIT: 0, CMDRTN_USAGE: 64, CMDRTN_ERROR: 71, CMDRTN_KILLED: KILLED}
EX_NOINPUT = 66
NG_NAMELEN = 31
LINE_MAX = 2048
MAX_ARGS = 512
UNNAMED = "<unnamed>"
WHITESPACE = " \t\r\n\v\f"
USAGE = "usage: ngctl [-j jail] [-d] [-f filename] [-n nodename] [command [argument ...]]\n"
READONLY_MSGS = {"info", "ifinfo", "v9info", "getifname", "getifindex", "getenaddr",
                 "getpromisc", "getautosrc", "getpeername", "getname", "getconfig",
                 "getstats", "getopt", "gettable", "getdecap", "getencap", "getencapproto",
                 "pppoe_getmode",
                 "show"}  # ng_netflow's: binary only, so ngctl gets ENOSYS, changing nothing
LIST_FMT = "  Name: %-15s Type: %-15s ID: %08x   Num hooks: %d\n"
HOOK_FMT = "  %-15s %-15s %-12s %-15s %-15s\n"

# (usage string, summary, aliases, help text) in ngctl's command-table order
COMMANDS: list[tuple[str, str, tuple[str, ...], str]] = [
    ("config <path> [arguments]", "get or set configuration of node at <path>", (),
     "The config command sends the node at <path> a text configuration message and"
     " prints the response. With no arguments it prints the current configuration."),
    ("connect [path] <relpath> <hook> <peerhook>",
     "Connects hook <peerhook> of the node at <relpath> to <hook>", ("join",),
     "Connects hook <peerhook> of the node at <relpath> to <hook> of the node at <path>."
     " If <path> is omitted then the current node is assumed. <relpath> is resolved"
     " relative to the node at <path>."),
    ("debug [level]", "Get/set debugging verbosity level", (),
     "Without any argument, this command displays the current debugging verbosity"
     " level. If the argument is ``+'' or ``-'' the debug level is incremented or"
     " decremented; otherwise it must be an absolute numerical level."),
    ("dot [outputfile]", "Produce a GraphViz (.dot) of the entire netgraph.",
     ("graphviz", "confdot"),
     "Output a graph of the entire netgraph in GraphViz's dot format to the file"
     " given, or to standard output."),
    ("help [command]", "Show command summary or get more help on a specific command",
     ("?",), "Show command summary or get more help on a specific command."),
    ("list [-ln]", "Show information about all nodes", ("ls",),
     "The list command shows information about every node that currently exists in"
     " the netgraph system. The optional -n argument limits this list to only those"
     " nodes with a global name assignment. The optional -l argument provides"
     " verbose output that includes hook information as well."),
    ("mkpeer [path] <type> <hook> <peerhook>",
     "Create and connect a new node to the node at \"path\"", (),
     "The mkpeer command atomically creates a new node of type \"type\" and connects"
     " it to the node at \"path\". The hooks used for the connection are \"hook\" on"
     " the original node and \"peerhook\" on the new node. If \"path\" is omitted then"
     " \".\" is assumed."),
    ("msg path command [args ... ]",
     "Send a netgraph control message to the node at \"path\"", ("cmd",),
     "The msg command constructs a netgraph control message from the command name"
     " and ASCII arguments (if any) and sends that message to the node. It does this"
     " by first asking the node to convert the ASCII message into binary format, and"
     " re-sending the result."),
    ("name <path> <name>", "Assign name <name> to the node at <path>", (),
     "Assign name <name> to the node at <path>."),
    ("read <filename>", "Read and execute commands from a file", ("source", "."),
     "Read and execute commands from a file."),
    ("rmhook [path] <hook>", "Disconnect hook \"hook\" of the node at \"path\"",
     ("disconnect",),
     "The rmhook command forces the node at \"path\" to break the link formed by its"
     " hook \"hook\", if connected. If \"path\" is omitted then \".\" is assumed."),
    ("show [-n] <path>", "Show information about the node at <path>",
     ("inquire", "info"),
     "The show command displays information about the node at <path>. If the -n"
     " flag is given, hooks are not listed."),
    ("shutdown <path>", "Shutdown the node at <path>", ("kill", "rmnode"),
     "The shutdown command causes the node at <path> to be shut down and removed."),
    ("status <path>", "Get human readable status information from the node at <path>", (),
     "The status command causes the node at <path> to respond with a human readable"
     " description of its status, if any."),
    ("types", "Show information about all installed node types", (),
     "The types command shows information about all installed node types."),
    ("write hook < -f file | byte ... >", "Send a data packet down the hook named by \"hook\".",
     ("w",),
     "The data may be contained in a file, or may be described directly on the command"
     " line by supplying a sequence of bytes."),
    ("quit", "Exit program", ("exit",), "Exits program."),
]
MUTATING = {"connect", "mkpeer", "name", "rmhook", "shutdown"}


def cmd_name(usage: str) -> str:
    return usage.split(" ", 1)[0]


_FOUND: dict[str, tuple[Optional[tuple], Optional[str]]] = {}


def find_command(word: str) -> tuple[Optional[tuple], Optional[str]]:
    """ngctl FindCommand: case-insensitive prefix of a name or alias; (command, error).
    Kept per word for the process: the table is fixed, and a batch repeats its words."""
    got = _FOUND.get(word)
    if got is None:
        got = _FOUND[word] = _find_command(word)
    return got


def _find_command(word: str) -> tuple[Optional[tuple], Optional[str]]:
    found = None
    low = word.lower()
    for c in COMMANDS:
        name = cmd_name(c[0])
        hit = len(word) <= len(name) and name.lower().startswith(low)
        if not hit:
            hit = any(len(a) >= len(word) and a.lower().startswith(low) for a in c[2])
        if hit:
            if found is not None:
                return None, '"%s": ambiguous command' % word
            found = c
    if found is None:
        return None, '"%s": unknown command' % word
    return found, None






def trunc(s: str, n: int = NG_NAMELEN) -> str:
    """snprintf into a 32-byte field: silently keep the first 31 bytes."""
    b = s.encode("utf-8", "surrogateescape")
    return b[:n].decode("utf-8", "ignore") if len(b) > n else s


def wrap(text: str, width: int = 64) -> list[str]:
    words, lines, cur = text.split(), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = w if not cur else cur + " " + w
    if cur:
        lines.append(cur)
    return lines


def path_and_three(av: list[str]):
    """``[path] a b c`` (mkpeer, connect): (path, a, b, c), the path "." when left out;
    None for any other count (usage)."""
    if len(av) == 4:
        return (".",) + tuple(av[1:4])
    if len(av) == 5:
        return tuple(av[1:5])
    return None


def getopt_flags(args: list[str], optstring: str) -> tuple[set[str], list[str], bool]:
    """getopt(3) over a command's words, flag-only options, no complaint printed:
    (flags, operands, bad)."""
    opts = GetOpt(args, optstring)
    flags = {c for c, _ in opts}
    return flags - {"?"}, opts.operands, "?" in flags




def atoi(s: str) -> int:
    """C atoi(): leading blanks, optional sign, digits; 0 when none."""
    s = s.lstrip(WHITESPACE)
    sign, i = 1, 0
    if s[:1] in "+-" and s[:1]:
        sign, i = (-1 if s[0] == "-" else 1), 1
    j = i
    while j < len(s) and s[j].isdigit():
        j += 1
    return sign * int(s[i:j]) if j > i else 0


def oserr(e: OSError) -> str:
    """strerror(errno) of a failed open/read, as ngctl's warn() prints it."""
    name = _errno.errorcode.get(e.errno or 0, "")
    try:
        return strerror(name)
    except KeyError:
        return e.strerror or str(e)
