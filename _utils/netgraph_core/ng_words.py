"""What may go into an ngctl command line (pure; no Salt): names, hooks, paths, message
names, batch lines, and which messages are read-only.

Limits and rules are netgraph's (``sys/netgraph/ng_message.h``: NG_NODESIZ, NG_HOOKSIZ,
NG_PATHSIZ; ``ng_base.c``: names may not contain ``.`` or ``:``; ngctl's ``-f`` mode splits
lines on blanks). Every check raises ``ValueError`` naming what is wrong; the Salt glue
turns that into ``SaltInvocationError`` with the argument's name in front.
"""
from __future__ import annotations

import re

MAX_NAME = 31  # NG_NODESIZ/NG_HOOKSIZ/NG_TYPESIZ/NG_CMDSTRSIZ - 1
MAX_PATH = 511  # NG_PATHSIZ - 1
# ---------------------------------------------------------------------------

# Every pattern below is used with fullmatch (never match/search with ``^...$``: ``$`` also
# matches before a trailing newline, so ``"lan\n"`` would pass).
BAD_CHARS_RE = re.compile(r"[\s\x00-\x1f\x7f]")
NON_ASCII_RE = re.compile(r"[^\x00-\x7f]")
CTRL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")  # control characters but TAB
_HEX_ID_NAME_RE = re.compile(r"\[[0-9a-fA-F]+\]")
_TYPE_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")
_CMD_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
MODULE_NAME_RE = re.compile(r"[A-Za-z0-9_]+(?:\.ko)?")
RULE_NUMBER_RE = re.compile(r"[1-9][0-9]{0,4}")  # an ipfw rule number written as text


def ether_node_name(ifname: str) -> str:
    """The name ng_ether gives the node of interface ``ifname``: '.' and ':' become '_'
    (``ng_ether_sanitize_ifname()``, sys/netgraph/ng_ether.c): vlan0.100 is vlan0_100."""
    return ifname.replace(".", "_").replace(":", "_")


def shown(value, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages: a hostile value of
    2000 characters is named, not echoed."""
    try:
        text = repr(value)
    except Exception:  # an int past sys.get_int_max_str_digits(), a hostile __repr__
        text = f"<{type(value).__name__}>"
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def check_word(value, what, limit=MAX_NAME):
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {type(value).__name__}")
    if value == "":
        raise ValueError(f"{what} is empty")
    if BAD_CHARS_RE.search(value):
        raise ValueError(f"{what} {shown(value)} contains whitespace or control characters")
    if NON_ASCII_RE.search(value):
        # netgraph counts bytes (NG_NODESIZ, NG_HOOKSIZ), and a name that only looks like
        # another (zero-width space, homoglyphs) has no place on a firewall
        raise ValueError(f"{what} {shown(value)} contains non-ASCII characters")
    if len(value) > limit:
        raise ValueError(
            f"{what} {shown(value)} is {len(value)} characters long; netgraph allows at most {limit}"
            " (ngctl would silently truncate it)"
        )
    return value


def check_node_name(name):
    """Validate a node name: 1..31 characters, no '.', ':', whitespace or control
    characters, and not of the form ``[hex]`` (that is an ID). Returns it."""
    check_word(name, "node name")
    if "." in name or ":" in name:
        raise ValueError(f"node name {shown(name)} may not contain '.' or ':'")
    if _HEX_ID_NAME_RE.fullmatch(name):
        raise ValueError(f"node name {shown(name)} has the form [hex], which is reserved for node IDs")
    return name


def check_hook_name(hook):
    """Validate a hook name: 1..31 characters, no '.', ':', whitespace or control
    characters. Returns it."""
    check_word(hook, "hook name")
    if "." in hook or ":" in hook:
        raise ValueError(f"hook name {shown(hook)} may not contain '.' or ':' (it could not be addressed)")
    return hook


def check_type_name(type_name):
    """Validate a node type name (``netflow``, ``ksocket``, ...): 1..31 of
    ``[A-Za-z0-9_-]``. Returns it."""
    check_word(type_name, "type name")
    if not _TYPE_NAME_RE.fullmatch(type_name):
        raise ValueError(f"type name {shown(type_name)} may only contain letters, digits, '_' and '-'")
    return type_name


def check_path(path, absolute=True):
    """Validate a netgraph address ``NODE:[hook[.hook...]]``, ``[id]:...`` or
    ``.:...``. With ``absolute=False`` a relative ``hook[.hook]`` or ``.`` is
    accepted too (``connect``'s relpath). Returns it."""
    check_word(path, "path", limit=MAX_PATH)
    if ":" in path:
        node, _, hooks = path.partition(":")
        if ":" in hooks:
            raise ValueError(f"path {shown(path)} has more than one ':'")
        if node != ".":
            if node == "":
                raise ValueError(f"path {shown(path)} has an empty node part")
            if not _HEX_ID_NAME_RE.fullmatch(node):
                try:
                    check_node_name(node)
                except ValueError as exc:
                    raise ValueError(f"path {shown(path)}: {exc}") from None
    else:
        if absolute:
            raise ValueError(
                f"path {shown(path)} has no ':'; ngctl would resolve it as a hook of its own"
                f" socket node (write {path}: for the node named {path})"
            )
        if path == ".":
            return path
        hooks = path
    if hooks:
        for segment in hooks.split("."):
            if segment == "":
                raise ValueError(f"path {shown(path)} has an empty hook segment")
            try:
                check_hook_name(segment)
            except ValueError as exc:
                raise ValueError(f"path {shown(path)}: {exc}") from None
    return path


def check_cmd_name(cmd):
    """Validate a control message name (``getpeername``, ``settimeouts``)."""
    check_word(cmd, "message name")
    if not _CMD_NAME_RE.fullmatch(cmd):
        raise ValueError(f"message name {shown(cmd)} must be letters, digits and '_'")
    return cmd


def checked(where: str, check, value, *extra):
    """``check(value, *extra)`` with ``where`` in front of its error message."""
    try:
        return check(value, *extra)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


# ---------------------------------------------------------------------------
# Read-only messages, one by one from FreeBSD's sources, sys/netgraph/: ng_message.h,
# ng_base.c, ng_ether.h, ng_ether.c, netflow/ng_netflow.h, netflow/ng_netflow.c,
# netflow/netflow.c, netflow/netflow_v9.c, ng_ksocket.h, ng_ksocket.c, ng_one2many.h,
# ng_one2many.c. For each name: the NGM_* constant, its ng_cmdlist entry (the ASCII name
# ngctl sends) and a handler that only copies state into the reply. A ``get*`` name is not enough: ng_one2many's
# ``getclrstats`` (NGM_ONE2MANY_GETCLR_STATS) replies AND zeroes the link's counters.
#
# How ngctl resolves a name (ng_base.c, NGM_ASCII2BINARY): first in the target node's own
# type cmdlist, then in the generic one (ENOSYS if neither has it). So a name here is
# read-only for the five types below and the generic messages; these are the only types
# netflow.* queries. A node of another type may give one of these names another meaning.
#
# Left out on purpose: NGM_NETFLOW_SHOW (3|NGM_READONLY) has no cmdlist entry, so
# ``msg X: show`` is ENOSYS; NGM_TEXT_STATUS/"textstatus" is flagged read-only but is
# handed to the node type's own rcvmsg; ascii2binary/binary2ascii are never needed.
# ---------------------------------------------------------------------------
READONLY_MESSAGES = frozenset({
    # ng_message.h / ng_base.c ng_generic_cmds, all (N|NGM_READONLY|NGM_HASREPLY):
    # NGM_NODEINFO 6 "nodeinfo", NGM_LISTHOOKS 7 "listhooks", NGM_LISTNAMES 8 "listnames",
    # NGM_LISTNODES 9 "listnodes", NGM_LISTTYPES 10 "listtypes"
    "nodeinfo", "listhooks", "listnames", "listnodes", "listtypes",
    # netflow/ng_netflow.h, ng_netflow_cmds (N|NGM_READONLY|NGM_HASREPLY): NGM_NETFLOW_INFO 1
    # "info" (ng_netflow_copyinfo: counter snapshot), NGM_NETFLOW_IFINFO 2 "ifinfo" (memcpy of
    # the iface info), NGM_NETFLOW_V9INFO 10 "v9info" (ng_netflow_copyv9info). Not: setdlt 4,
    # setifindex 5, settimeouts 6, setconfig 7, settemplate 8, setmtu 9.
    "info", "ifinfo", "v9info",
    # ng_ksocket.h, ng_ksocket_cmds: NGM_KSOCKET_GETNAME 5 "getname" (pru_sockaddr),
    # NGM_KSOCKET_GETPEERNAME 6 "getpeername" (pru_peeraddr), NGM_KSOCKET_GETOPT 8 "getopt"
    # (sogetopt, SOPT_GET). Not: bind 1, listen 2, accept 3, connect 4, setopt 7.
    "getname", "getpeername", "getopt",
    # ng_one2many.h, ng_one2many_cmdlist: NGM_ONE2MANY_GET_CONFIG 1 "getconfig" (bcopy of the
    # config), NGM_ONE2MANY_GET_STATS 2 "getstats" (bcopy of one link's stats). Not:
    # setconfig 0, clrstats 3, getclrstats 4 (the handler bzero()s the stats after the copy).
    "getconfig", "getstats",
    # ng_ether.h, ng_ether_cmdlist: NGM_ETHER_GET_IFNAME 1 "getifname", _GET_IFINDEX 2
    # "getifindex", _GET_ENADDR 3 "getenaddr", _GET_PROMISC 5 "getpromisc", _GET_AUTOSRC 7
    # "getautosrc" (each copies one field). Not: setenaddr 4, setpromisc 6, setautosrc 8,
    # addmulti 9, delmulti 10, detach 11.
    "getifname", "getifindex", "getenaddr", "getpromisc", "getautosrc",
})


def is_readonly_message(cmd: str) -> bool:
    """True only for messages whose handler in FreeBSD's sources changes nothing."""
    return cmd in READONLY_MESSAGES


# ---------------------------------------------------------------------------
# Batch lines (`ngctl -f`): the commands ngctl knows and their argument shapes
# ---------------------------------------------------------------------------
NGCTL_COMMANDS = frozenset({
    "config", "connect", "join", "debug", "dot", "graphviz", "confdot", "help", "list", "ls",
    "mkpeer", "msg", "cmd", "name", "rmhook", "disconnect", "show", "inquire", "info",
    "shutdown", "kill", "rmnode", "status", "types",
})
_NOT_IN_BATCH = frozenset({"dot", "graphviz", "confdot", "help", "debug"})


def _need(where: str, command: str, args: list, *counts: int) -> None:
    if len(args) not in counts:
        raise ValueError(f"{where}: {command} takes {' or '.join(str(c) for c in counts)} arguments, got {len(args)}")


def _check_link_args(where: str, command: str, args: list) -> None:
    if command == "mkpeer":
        _need(where, command, args, 3, 4)
        if len(args) == 4:
            checked(f"{where} path", check_path, args[0])
        type_name, hook, peerhook = args[-3:]
        checked(f"{where} type", check_type_name, type_name)
        checked(f"{where} hook", check_hook_name, hook)
        checked(f"{where} peerhook", check_hook_name, peerhook)
    elif command in ("connect", "join"):
        _need(where, command, args, 3, 4)
        if len(args) == 4:
            checked(f"{where} path", check_path, args[0], False)
        checked(f"{where} relpath", check_path, args[-3], False)
        checked(f"{where} hook", check_hook_name, args[-2])
        checked(f"{where} peerhook", check_hook_name, args[-1])
    elif command == "name":
        _need(where, command, args, 2)
        checked(f"{where} path", check_path, args[0], False)
        checked(f"{where} name", check_node_name, args[1])
    else:  # rmhook, disconnect
        _need(where, command, args, 1, 2)
        if len(args) == 2:
            checked(f"{where} path", check_path, args[0], False)
        checked(f"{where} hook", check_hook_name, args[-1])


def check_batch_words(words: list[str], where: str) -> None:
    """Validate one batch line's words (command and argument shapes)."""
    command, args = words[0], words[1:]
    if command not in NGCTL_COMMANDS:
        raise ValueError(f"{where}: unknown or unsupported ngctl command {shown(command)}")
    if command in _NOT_IN_BATCH:
        raise ValueError(f"{where}: {command} is not allowed in a batch")
    if command in ("mkpeer", "connect", "join", "name", "rmhook", "disconnect"):
        _check_link_args(where, command, args)
    elif command in ("shutdown", "kill", "rmnode", "status"):
        _need(where, command, args, 1)
        checked(f"{where} path", check_path, args[0], False)
    elif command in ("msg", "cmd"):
        if len(args) < 2:
            raise ValueError(f"{where}: msg takes a path, a message name and optional arguments")
        checked(f"{where} path", check_path, args[0], False)
        checked(f"{where} cmd", check_cmd_name, args[1])
    elif command in ("show", "inquire", "info"):
        _need(where, command, args, 1, 2)
        checked(f"{where} path", check_path, args[-1], False)
    elif command == "config":
        if not args:
            raise ValueError(f"{where}: config takes a path")
        checked(f"{where} path", check_path, args[0], False)
    elif command in ("list", "ls"):
        if any(arg not in ("-l", "-n", "-ln", "-nl") for arg in args):
            raise ValueError(f"{where}: list takes only -l/-n")
    else:  # types
        _need(where, command, args, 0)


def batch_line(command, index: int) -> str:
    """One batch item (a command line or a list of words) as a checked ngctl line."""
    where = f"commands[{index}]"
    if isinstance(command, str):
        if CTRL_RE.search(command):
            raise ValueError(f"{where}: a command line may not contain newlines or control characters")
        words = command.split()
    elif isinstance(command, (list, tuple)):
        words = []
        for position, word in enumerate(command):
            if isinstance(word, bool) or not isinstance(word, (str, int)):
                raise ValueError(f"{where}[{position}]: words must be strings")
            word = str(word)
            if word == "":
                raise ValueError(f"{where}[{position}]: empty word")
            if BAD_CHARS_RE.search(word):
                raise ValueError(
                    f"{where}[{position}]: word {shown(word)} contains whitespace or control characters"
                    " (ngctl -f splits lines on blanks)"
                )
            words.append(word)
    else:
        raise ValueError(f"{where}: must be a string or a list of words")
    if not words:
        raise ValueError(f"{where}: empty command")
    check_batch_words(words, where)
    return " ".join(words)


_FILE_ERROR_RE = re.compile(r"ngctl: line (?P<line>\d+): error in file")


def batch_failure(stderr: str) -> tuple[int | None, str]:
    """(failing line number or None, ngctl's error text) from a failed ``ngctl -f`` run."""
    lines = [line.rstrip() for line in (stderr or "").split("\n") if line.strip()]
    for index, line in enumerate(lines):
        match = _FILE_ERROR_RE.fullmatch(line.strip())
        if match:
            return int(match.group("line")), "\n".join(lines[:index]).strip() or line.strip()
    return None, "\n".join(lines).strip()
