"""ngctl(8): usr.sbin/ngctl's main.c: the process, command parsing and dispatch, ReadFile,
and the help, read, debug and quit commands. The other commands are in ``ngctl_show``
(list.c, show.c, types.c, dot.c, status.c, config.c) and ``ngctl_edit`` (mkpeer.c,
connect.c, name.c, rmhook.c, shutdown.c, msg.c, write.c); the command table, exit codes
and output formats in ``ngctl_cmds`` (ngctl.h).

One ``Ngctl`` object is one ngctl process: it creates its socket node ``ngctl<pid>``
(an ID), runs one command or one file, and removes the socket node when it exits.

``-f FILE`` and ``-f -`` go through the same ReadFile: the bytes are read as they are
(no newline translation), split like repeated ``fgets(line, LINE_MAX)``; a line whose
first character is ``#`` is skipped but counted; the first failing line stops the file.
"""
from __future__ import annotations

import io
import sys

from ngsim import kld
from ngsim.base import Kernel
from ngsim.errors import NgError
from ngsim.ngctl_cmds import (CMDRTN_ERROR, CMDRTN_KILLED, CMDRTN_OK, CMDRTN_QUIT, CMDRTN_USAGE,
                              COMMANDS, EX_NOINPUT, EXIT, LINE_MAX, MAX_ARGS, USAGE, atoi,
                              cmd_name, find_command, oserr, trunc, wrap)
from ngsim.ngctl_cmds import KILLED, LIST_FMT  # noqa: F401  (named here too: tool.py, tests)
from ngsim.ngctl_edit import EditCommands
from ngsim.ngctl_show import ShowCommands
from ngsim.options import GetOpt

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only; keeps per-spawn startup fast
    from typing import Callable, Optional

_TO_SPACE = str.maketrans("\t\r\n\v\f", "     ")


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


class Ngctl(ShowCommands, EditCommands):
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
                        self.warnx("%s: %s" % (arg, oserr(e)))
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

    # ----- commands (main.c's own; the others in ngctl_show and ngctl_edit) ---
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
            self.warnx("%s: %s" % (av[1], oserr(e)))
            return CMDRTN_ERROR
        return self.read_file(text)

    def cmd_debug(self, av: list[str]) -> int:
        if len(av) == 1:
            self.out.write("Current debug level is %d\n" % self.debug)
        elif len(av) == 2:
            self.debug = atoi(av[1])
        else:
            return CMDRTN_USAGE
        return CMDRTN_OK

    def cmd_quit(self, av: list[str]) -> int:
        if len(av) != 1:
            return CMDRTN_USAGE
        return CMDRTN_QUIT


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
