"""ngctl(8): command parsing, output formats and exit codes of usr.sbin/ngctl.

One ``Ngctl`` object is one ngctl process: it creates its socket node ``ngctl<pid>``
(an ID), runs one command or one file, and removes the socket node when it exits.

``-f FILE`` and ``-f -`` go through the same ReadFile: the bytes are read as they are
(no newline translation), split like repeated ``fgets(line, LINE_MAX)``; a line whose
first character is ``#`` is skipped but counted; the first failing line stops the file.
"""
from __future__ import annotations

import io
import sys
TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only; keeps per-spawn startup fast
    from typing import Callable, Optional

from ngsim import kld
from ngsim.base import Kernel
from ngsim.errors import NgError, strerror
from ngsim.options import GetOpt

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
_TO_SPACE = str.maketrans("\t\r\n\v\f", "     ")
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


def find_command(word: str) -> tuple[Optional[tuple], Optional[str]]:
    """ngctl FindCommand: case-insensitive prefix of a name or alias; (command, error)."""
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


def tokenize(line: str) -> list[str]:
    """strtok(line, WHITESPACE): no quoting, no escaping, at most MAX_ARGS-1 words; a NUL
    byte ends the C string."""
    line = line.split("\0", 1)[0]
    return [t for t in line.translate(_TO_SPACE).split(" ") if t][: MAX_ARGS - 1]


def read_text(path: str) -> str:
    """fopen(path, "r") + fgets as ngctl reads a file: the bytes as they are (no newline
    translation; undecodable bytes kept as surrogates). A directory opens but read(2)
    fails with EISDIR, which fgets reports as end of file: an empty batch."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except IsADirectoryError:
        return ""
    return data.decode("utf-8", "surrogateescape")


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


class Ngctl:
    """One ngctl process bound to a host's kernel state."""

    def __init__(self, k: Kernel, out: io.StringIO, err: io.StringIO, pid: int,
                 read_stdin: Callable[[], str], isatty: bool = False):
        self.k = k
        self.out = out
        self.err = err
        self.pid = pid
        self.read_stdin = read_stdin
        self.isatty = isatty
        self.sock: Optional[dict] = None
        self.mutating = False
        self.debug = 0
        self.script: Optional[str] = None  # text of the -f batch, once it runs
        self.killed = False  # ``ngsim die`` fired: the process dies as by SIGKILL
        self.handlers = {
            "config": self.cmd_config, "connect": self.cmd_connect, "debug": self.cmd_debug,
            "dot": self.cmd_dot, "help": self.cmd_help, "list": self.cmd_list,
            "mkpeer": self.cmd_mkpeer, "msg": self.cmd_msg, "name": self.cmd_name,
            "read": self.cmd_read, "rmhook": self.cmd_rmhook, "show": self.cmd_show,
            "shutdown": self.cmd_shutdown, "status": self.cmd_status, "types": self.cmd_types,
            "write": self.cmd_write, "quit": self.cmd_quit,
        }

    def warnx(self, msg: str) -> None:
        self.err.write("ngctl: %s\n" % msg)

    # ----- process --------------------------------------------------------
    def main(self, argv: list[str]) -> int:
        """Run ``ngctl argv...``; returns the exit status."""
        sockname: Optional[str] = None
        fp_text: Optional[str] = None
        opts = GetOpt(argv, "df:j:n:")
        for c, arg in opts:
            if c == "?":
                self.warnx(arg)
                self.err.write(USAGE)
                return 64
            if c == "d":
                self.debug += 1
            elif c == "f":
                if arg == "-":
                    fp_text = self.read_stdin()
                else:
                    try:
                        fp_text = read_text(arg)
                    except OSError as e:
                        self.warnx("%s: %s" % (arg, _oserr(e)))
                        return EX_NOINPUT
            elif c == "n":
                sockname = arg
        args = opts.operands
        try:
            kld.ensure(self.k, "ng_socket")
            sock = self.k.make_node_common("socket")
            try:
                self.k.name_node(sock, trunc(sockname if sockname is not None
                                             else "ngctl%d" % self.pid))
            except NgError:
                self.k.rmnode(sock)
                raise
            self.sock = sock
        except NgError as e:
            self.warnx("can't create node: %s" % e.text)
            return 71
        try:
            if args:
                rtn = self.do_command(args)
            elif fp_text is not None:
                self.script = fp_text
                die = self.k.st.get("die")
                if die:  # ngsim die: one-shot, spent by this batch whatever happens
                    self.k.st["die"] = None
                rtn = self.read_file(fp_text, die["after"] if die else None)
            elif self.isatty:
                rtn = self.interactive()
            else:
                self.warnx("no command specified")
                self.err.write(USAGE)
                return 64
        finally:
            if self.sock is not None and self.k.node(self.sock["id"]) is self.sock:
                self.k.rmnode(self.sock)
        return EXIT[rtn]

    def read_file(self, text: str, die_after: Optional[int] = None) -> int:
        """ReadFile: fgets lines, '#' in column 1 skipped, stop at the first failing line.

        ``die_after`` (``ngsim die``, top-level batch only): once that many command lines
        (not comments, not blank) have succeeded, stop and mark the process killed."""
        num = 0
        done = 0
        if die_after is not None and die_after <= 0:
            self.killed = True
            return CMDRTN_KILLED
        for line in _fgets(text):
            num += 1
            if line.startswith("#"):
                continue
            rtn = self.parse_command(line)
            if rtn != CMDRTN_OK:
                self.warnx("line %d: error in file" % num)
                return rtn
            if die_after is not None and tokenize(line):
                done += 1
                if done >= die_after:
                    self.killed = True
                    return CMDRTN_KILLED
        return CMDRTN_OK

    def interactive(self) -> int:  # pragma: no cover - needs a tty
        self.cmd_help(["help"])
        while True:
            sys.stdout.write(self.out.getvalue())
            self.out.seek(0)
            self.out.truncate()
            sys.stdout.write("+ ")
            sys.stdout.flush()
            line = sys.stdin.readline()
            if not line:
                self.out.write("\n")
                return CMDRTN_OK
            if self.parse_command(line) == CMDRTN_QUIT:
                return CMDRTN_OK
            sys.stderr.write(self.err.getvalue())
            self.err.seek(0)
            self.err.truncate()

    def parse_command(self, line: str) -> int:
        av = tokenize(line)  # strtok: the line ends at a NUL byte
        if not av:
            return CMDRTN_OK
        return self.do_command(av)

    def do_command(self, av: list[str]) -> int:
        cmd, error = find_command(av[0])
        if cmd is None:
            self.warnx(error)
            return CMDRTN_ERROR
        rtn = self.handlers[cmd_name(cmd[0])](av)
        if rtn == CMDRTN_USAGE:
            self.warnx("usage: %s" % cmd[0])
        return rtn

    # ----- kernel access --------------------------------------------------
    def kernel(self, fn: Callable[[], None], prefix: str = "send msg",
               mutating: bool = False) -> int:
        """Run one kernel request; print ``ngctl: <prefix>: <strerror>`` on error."""
        try:
            if mutating:
                self.mutating = True
                fail = self.k.st.get("fail")
                if fail:
                    fail["remaining"] -= 1
                    if fail["remaining"] <= 0:
                        self.k.st["fail"] = None
                        raise NgError(fail["errno"])
            fn()
        except NgError as e:
            self.warnx("%s: %s" % (prefix, e.text))
            return CMDRTN_ERROR
        return CMDRTN_OK

    def resolve(self, path: str) -> dict:
        return self.k.resolve(self.sock, path)[0]

    # ----- commands -------------------------------------------------------
    def cmd_mkpeer(self, av: list[str]) -> int:
        args = _path_and_three(av)
        if args is None:
            return CMDRTN_USAGE
        path, typ, hook, peerhook = args
        typ, hook, peerhook = trunc(typ), trunc(hook), trunc(peerhook)

        def op() -> None:
            if not self.k.type_registered(typ):
                kld.load(self.k, "ng_" + typ)
                if not self.k.type_registered(typ):
                    raise NgError("ENXIO")
            self.k.mkpeer(self.resolve(path), hook, typ, peerhook)

        return self.kernel(op, mutating=True)

    def cmd_connect(self, av: list[str]) -> int:
        args = _path_and_three(av)
        if args is None:
            return CMDRTN_USAGE
        path, relpath, hook, peerhook = args
        hook, peerhook = trunc(hook), trunc(peerhook)

        def op() -> None:
            here = self.resolve(path)
            there = self.k.resolve(here, relpath)[0]
            self.k.connect(here, hook, there, peerhook)

        return self.kernel(op, mutating=True)

    def cmd_name(self, av: list[str]) -> int:
        if len(av) != 3:
            return CMDRTN_USAGE
        name = trunc(av[2])
        return self.kernel(lambda: self.k.name_node(self.resolve(av[1]), name), mutating=True)

    def cmd_rmhook(self, av: list[str]) -> int:
        if len(av) == 2:
            path, hook = ".", av[1]
        elif len(av) == 3:
            path, hook = av[1], av[2]
        else:
            return CMDRTN_USAGE
        hook = trunc(hook)
        return self.kernel(lambda: self.k.rmhook(self.resolve(path), hook), mutating=True)

    def cmd_shutdown(self, av: list[str]) -> int:
        if len(av) != 2:
            return CMDRTN_USAGE
        return self.kernel(lambda: self.k.rmnode(self.resolve(av[1])), prefix="shutdown",
                           mutating=True)

    def cmd_msg(self, av: list[str]) -> int:
        if len(av) < 3:
            return CMDRTN_USAGE
        path = av[1]
        buf = " ".join(av[2:])
        i = 0
        while i < NG_NAMELEN and i < len(buf) and buf[i] not in WHITESPACE:
            i += 1
        cmdstr = buf[:i]
        rest = buf[i:].lstrip(WHITESPACE)
        reply: list = []

        def op() -> None:
            node = self.resolve(path)
            cmd = self.k.ntype(node).cmds.get(cmdstr)
            if cmd is None:
                raise NgError("ENOSYS")
            arg = None
            if cmd.argtype is not None:
                arg, _ = cmd.argtype.parse(rest, 0)
            node = self.resolve(path)
            result = cmd.handler(self.k, node, arg)
            if cmd.replytype is not None:
                reply.append((cmd, node["id"], cmd.replytype.unparse(result)))

        rtn = self.kernel(op, mutating=cmdstr not in READONLY_MSGS)
        for cmd, nid, text in reply:
            self.out.write('Rec\'d response "%s" (%d) from "[%x]:":\n' % (cmd.name, cmd.num, nid))
            self.out.write("Args:\t%s\n" % text if text else "No arguments\n")
        return rtn

    def show_node(self, node: dict, hooks: bool = True) -> None:
        self.out.write(LIST_FMT % (node["name"] or UNNAMED, node["type"], node["id"],
                                   len(node["hooks"])))
        if not hooks or not node["hooks"]:
            return
        self.out.write(HOOK_FMT % ("Local hook", "Peer name", "Peer type", "Peer ID", "Peer hook"))
        self.out.write(HOOK_FMT % ("----------", "---------", "---------", "-------", "---------"))
        for hook, pid, phook in node["hooks"]:
            peer = self.k.node(pid)
            self.out.write(HOOK_FMT % (hook, peer["name"] or UNNAMED, peer["type"],
                                       "%08x" % pid, phook))

    def cmd_show(self, av: list[str]) -> int:
        opts, rest, bad = _getopt(av[1:], "n")
        if bad or len(rest) != 1:
            return CMDRTN_USAGE
        found: list = []
        rtn = self.kernel(lambda: found.append(self.resolve(rest[0])))
        if rtn == CMDRTN_OK:
            self.show_node(found[0], hooks="n" not in opts)
        return rtn

    def cmd_list(self, av: list[str]) -> int:
        opts, rest, bad = _getopt(av[1:], "ln")
        if bad or rest:
            return CMDRTN_USAGE
        named = "n" in opts
        nodes = self.k.named_order() if named else self.k.list_order()
        self.out.write("There are %d total %snodes:\n" % (len(nodes), "named " if named else ""))
        for i, node in enumerate(nodes):
            if "l" in opts:
                self.show_node(node)
                if i < len(nodes) - 1:
                    self.out.write("\n")
            else:
                self.out.write(LIST_FMT % (node["name"] or UNNAMED, node["type"], node["id"],
                                           len(node["hooks"])))
        return CMDRTN_OK

    def cmd_types(self, av: list[str]) -> int:
        if len(av) != 1:
            return CMDRTN_USAGE
        types = self.k.st["types"]
        counts = self.k.type_counts()
        self.out.write("There are %d total types:\n" % len(types))
        if types:
            self.out.write("%15s   Number of living nodes\n" % "Type name")
            self.out.write("%15s   ----------------------\n" % "---------")
        for t in types:
            self.out.write("%15s   %5d\n" % (t, counts.get(t, 0)))
        return CMDRTN_OK

    def _text_msg(self, av: list[str], what: str) -> int:
        found: list = []
        rtn = self.kernel(lambda: found.append(self.resolve(av[1])))
        if rtn == CMDRTN_OK:
            self.out.write('No %s available for "%s"\n' % (what, av[1]))
        return rtn

    def cmd_status(self, av: list[str]) -> int:
        if len(av) != 2:
            return CMDRTN_USAGE
        return self._text_msg(av, "status")

    def cmd_config(self, av: list[str]) -> int:
        if len(av) < 2:
            return CMDRTN_USAGE
        return self._text_msg(av, "config")

    def cmd_dot(self, av: list[str]) -> int:
        if len(av) > 2:
            return CMDRTN_USAGE
        text = self.dot_text()
        if len(av) == 2:
            try:
                with open(av[1], "w", encoding="utf-8") as f:
                    f.write(text)
            except OSError as e:
                self.warnx("Could not open %s for writing: %s" % (av[1], _oserr(e)))
                return CMDRTN_ERROR
        else:
            self.out.write(text)
        return CMDRTN_OK

    def dot_text(self) -> str:
        nodes = self.k.list_order()
        o = ["graph netgraph {\n", "\tedge [ weight = 1.0 ];\n",
             "\tnode [ shape = record, fontsize = 12 ] {\n"]
        for n in nodes:
            name = n["name"] if n["name"] else "\\<unnamed\\>"
            o.append('\t\t"%x" [ label = "{%s:|{%s|[%x]:}}" ];\n' % (n["id"], name, n["type"], n["id"]))
        o.append("\t};\n")
        o.append("\tsubgraph cluster_disconnected {\n\t\tbgcolor = pink;\n")
        for n in nodes:
            if not n["hooks"]:
                o.append('\t\t"%x";\n' % n["id"])
        o.append("\t};\n")
        for n in nodes:
            if not n["hooks"]:
                continue
            nid = n["id"]
            o.append("\tnode [ shape = octagon, fontsize = 10 ] {\n")
            for h in n["hooks"]:
                o.append('\t\t"%x.%s" [ label = "%s" ];\n' % (nid, h[0], h[0]))
            o.append("\t};\n\t{\n\t\tedge [ weight = 2.0, style = bold ];\n")
            for h in n["hooks"]:
                o.append('\t\t"%x" -- "%x.%s";\n' % (nid, nid, h[0]))
            o.append("\t};\n")
            for h in n["hooks"]:
                if h[1] <= nid:
                    o.append('\t"%x.%s" -- "%x.%s";\n' % (nid, h[0], h[1], h[2]))
        o.append("}\n")
        return "".join(o)

    def cmd_help(self, av: list[str]) -> int:
        if len(av) == 1:
            self.out.write("Available commands:\n")
            for c in COMMANDS:
                self.out.write("  %-10s %s\n" % (cmd_name(c[0]), c[1]))
            return CMDRTN_OK
        if len(av) != 2:
            return CMDRTN_USAGE
        cmd, error = find_command(av[1])
        if cmd is None:
            self.warnx(error)
            return CMDRTN_ERROR
        self.out.write("usage:    %s\n" % cmd[0])
        if cmd[2]:
            self.out.write("Aliases:  %s\n" % ", ".join(cmd[2]))
        self.out.write("Summary:  %s\n" % cmd[1])
        if cmd[3]:
            self.out.write("Description:\n")
            for line in wrap(cmd[3]):
                self.out.write("  %s\n" % line)
        return CMDRTN_OK

    def cmd_read(self, av: list[str]) -> int:
        if len(av) != 2:
            return CMDRTN_USAGE
        try:
            text = read_text(av[1])
        except OSError as e:
            self.warnx("%s: %s" % (av[1], _oserr(e)))
            return CMDRTN_ERROR
        return self.read_file(text)

    def cmd_debug(self, av: list[str]) -> int:
        if len(av) == 1:
            self.out.write("Current debug level is %d\n" % self.debug)
        elif len(av) == 2:
            self.debug = _atoi(av[1])
        else:
            return CMDRTN_USAGE
        return CMDRTN_OK

    def cmd_write(self, av: list[str]) -> int:
        if len(av) < 3:
            return CMDRTN_USAGE
        hook = av[1]
        if self.k.find_hook(self.sock, hook) is None:
            self.warnx('writing to hook "%s": %s' % (hook, strerror("ENOTCONN")))
            return CMDRTN_ERROR
        return CMDRTN_OK

    def cmd_quit(self, av: list[str]) -> int:
        if len(av) != 1:
            return CMDRTN_USAGE
        return CMDRTN_QUIT


def _path_and_three(av: list[str]):
    """``[path] a b c`` (mkpeer, connect): (path, a, b, c), the path "." when left out;
    None for any other count (usage)."""
    if len(av) == 4:
        return (".",) + tuple(av[1:4])
    if len(av) == 5:
        return tuple(av[1:5])
    return None


def _getopt(args: list[str], optstring: str) -> tuple[set[str], list[str], bool]:
    """getopt(3) over a command's words, flag-only options, no complaint printed:
    (flags, operands, bad)."""
    opts = GetOpt(args, optstring)
    flags = {c for c, _ in opts}
    return flags - {"?"}, opts.operands, "?" in flags


def _fgets(text: str) -> list[str]:
    """Split like repeated fgets(line, LINE_MAX): keep newlines, cut over-long lines
    (LINE_MAX counts bytes), a last line without newline is still a line."""
    data = text.encode("utf-8", "surrogateescape")
    parts = data.split(b"\n")
    raw = [p + b"\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    lines = []
    for line in raw:
        while len(line) > LINE_MAX - 1:
            lines.append(line[: LINE_MAX - 1])
            line = line[LINE_MAX - 1:]
        if line:
            lines.append(line)
    return [b.decode("utf-8", "surrogateescape") for b in lines]


def _atoi(s: str) -> int:
    """C atoi(): leading blanks, optional sign, digits; 0 when none."""
    s = s.lstrip(WHITESPACE)
    sign, i = 1, 0
    if s[:1] in "+-" and s[:1]:
        sign, i = (-1 if s[0] == "-" else 1), 1
    j = i
    while j < len(s) and s[j].isdigit():
        j += 1
    return sign * int(s[i:j]) if j > i else 0


def _oserr(e: OSError) -> str:
    import errno as _errno

    name = _errno.errorcode.get(e.errno or 0, "")
    try:
        return strerror(name)
    except KeyError:
        return e.strerror or str(e)
