"""
Execution module for FreeBSD netgraph(4), driven through ngctl(8).

Every read returns plain data parsed from the text that FreeBSD's ``ngctl``,
``kldstat`` and ``ipfw`` print; every write runs one argv list (never a shell
string) after the arguments were validated.

The binaries are configurable (minion config or pillar, read with ``config.get``)::

    netgraph.ngctl: /usr/sbin/ngctl
    netgraph.kldload: /sbin/kldload
    netgraph.kldstat: /sbin/kldstat
    netgraph.ipfw: /sbin/ipfw

The module loads where the ``kernel`` grain is ``FreeBSD`` or where the
configured ``netgraph.ngctl`` exists (for instance the ngsim emulator).

The parsers (``parse_*``, ``format_ascii``) and the validators (``check_*``)
are plain module-level functions that need no running Salt: they raise
``ValueError`` on text that is not FreeBSD's format rather than guess.
"""

import logging
import os
import re

try:  # Salt is optional for the pure parsers (unit tests import this file directly).
    from salt.exceptions import CommandExecutionError, SaltInvocationError
except ImportError:  # pragma: no cover - exercised only without Salt installed

    class CommandExecutionError(Exception):
        def __init__(self, message="", info=None):
            super().__init__(message)
            self.message = self.strerror = message
            self.info = info

    class SaltInvocationError(Exception):
        pass


log = logging.getLogger(__name__)

__virtualname__ = "netgraph"
# The Salt functions (netgraph.*); the parsers and validators stay module-level for tests.
__load__ = [
    "list_", "show", "types", "dot", "msg", "graph", "query", "batch", "mkpeer", "connect",
    "name", "rmhook", "shutdown", "modules", "load_modules", "ipfw_rules", "ipfw_add", "ipfw_delete",
]
__func_alias__ = {"list_": "list"}

DEFAULT_BINARIES = {
    "ngctl": "/usr/sbin/ngctl",
    "kldload": "/sbin/kldload",
    "kldstat": "/sbin/kldstat",
    "ipfw": "/sbin/ipfw",
}

MAX_NAME = 31  # NG_NODESIZ/NG_HOOKSIZ/NG_TYPESIZ/NG_CMDSTRSIZ - 1
MAX_PATH = 511  # NG_PATHSIZ - 1


# ---------------------------------------------------------------------------
# Text clean-up shared by the parsers
# ---------------------------------------------------------------------------

# A line that is a shell prompt plus the command that produced the output,
# e.g. "root@fw:~ # ngctl list", "$ ngctl show em0:", "> ngctl msg x: getifname",
# "[2.5.2-RELEASE][admin@fw]/root: kldstat -v | grep ng_etf".
_PROMPT_TOOL_RE = re.compile(
    r"(?:^|[\s#$%>:\]])(?:sudo\s+)?(?:\S*/)?(?P<tool>ngctl|kldstat|kldload|ipfw)(?:\s|$)"
)


def _lines(text, tools=("ngctl",)):
    """Split pasted output into lines: drop one leading prompt line, strip right
    whitespace (pasted output loses or keeps trailing spaces at random), and
    drop leading/trailing blank lines."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        raise ValueError(f"expected text, got {type(text).__name__}")
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if lines:
        match = _PROMPT_TOOL_RE.search(lines[0])
        if match and match.group("tool") in tools and not _looks_like_output(lines[0]):
            lines.pop(0)
            while lines and not lines[0].strip():
                lines.pop(0)
    return lines


_OUTPUT_START_RE = re.compile(
    r"^\s*(There are \d+ total|Name: |Rec'd |Args:|No arguments|graph netgraph|Id\s+Refs|\d{5} )"
)


def _looks_like_output(line):
    return bool(_OUTPUT_START_RE.match(line))


def _excerpt(line, width=80):
    line = line.strip()
    return line if len(line) <= width else line[: width - 3] + "..."


# ---------------------------------------------------------------------------
# list / show / list -l / types
# ---------------------------------------------------------------------------

_LIST_HEADER_RE = re.compile(r"^\s*There are (?P<count>\d+) total (?P<named>named )?nodes:$")
# "  Name: %-15s Type: %-15s ID: %08x   Num hooks: %d"; split on the markers, not on
# columns: names and types longer than 15 push the rest of the line to the right.
_NODE_LINE_RE = re.compile(
    r"^\s*Name: (?P<name>\S.*?)\s+Type: (?P<type>\S.*?)\s+ID: (?P<id>[0-9a-f]{8})"
    r"\s+Num hooks: (?P<hooks>\d+)$"
)
_TABLE_HEAD_RE = re.compile(r"^\s*Local hook\s+Peer name\s+Peer type\s+Peer ID\s+Peer hook$")
_TABLE_DASH_RE = re.compile(r"^\s*-{10}\s+-{9}\s+-{9}\s+-{7}\s+-{9}$")
_HEX8_RE = re.compile(r"^[0-9a-f]{8}$")
UNNAMED = "<unnamed>"


def _node_line(line):
    match = _NODE_LINE_RE.match(line)
    if not match:
        return None
    name = match.group("name")
    return {
        "name": None if name == UNNAMED else name,
        "type": match.group("type"),
        "id": int(match.group("id"), 16),
        "num_hooks": int(match.group("hooks")),
    }


def parse_list(text):
    """Parse ``ngctl list`` (or ``list -n``) output.

    Returns a list of ``{"name": str|None, "type": str, "id": int, "num_hooks": int}``
    in printed order (``<unnamed>`` becomes None). The header line is optional, so
    ``ngctl list | grep ...`` output parses too. Raises ValueError on anything else.
    """
    lines = _lines(text)
    if not lines:
        raise ValueError("empty ngctl list output")
    nodes = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if _LIST_HEADER_RE.match(line):
            if number != 1:
                raise ValueError(f"line {number}: list header in the middle of the output")
            continue
        node = _node_line(line)
        if node is not None:
            nodes.append(node)
            continue
        if _TABLE_HEAD_RE.match(line) or _TABLE_DASH_RE.match(line):
            raise ValueError(
                f"line {number}: hook table in list output (this is `list -l` or `show`"
                " output; use parse_list_long or parse_show)"
            )
        raise ValueError(f"line {number}: not an ngctl list line: {_excerpt(line)!r}")
    return nodes


def _parse_hook_row(line, number):
    fields = line.split()
    if len(fields) != 5:
        raise ValueError(
            f"line {number}: hook row needs 5 columns (local hook, peer name, peer type,"
            f" peer ID, peer hook), got {len(fields)}: {_excerpt(line)!r}"
        )
    hook, peer_name, peer_type, peer_id, peer_hook = fields
    if not _HEX8_RE.match(peer_id):
        raise ValueError(f"line {number}: peer ID {peer_id!r} is not 8 lowercase hex digits")
    return {
        "hook": hook,
        "peer_name": None if peer_name == UNNAMED else peer_name,
        "peer_type": peer_type,
        "peer_id": int(peer_id, 16),
        "peer_hook": peer_hook,
    }


def _parse_show_lines(lines, first_number=1):
    if not lines:
        raise ValueError("empty ngctl show output")
    node = _node_line(lines[0])
    if node is None:
        raise ValueError(
            f"line {first_number}: expected the node line of ngctl show"
            f" ('  Name: ... Type: ... ID: ... Num hooks: ...'), got {_excerpt(lines[0])!r}"
        )
    node["hooks"] = []
    rest = lines[1:]
    if rest:
        if not _TABLE_HEAD_RE.match(rest[0]):
            raise ValueError(
                f"line {first_number + 1}: expected the hook table header"
                f" ('Local hook  Peer name ...'), got {_excerpt(rest[0])!r}"
            )
        if len(rest) < 2 or not _TABLE_DASH_RE.match(rest[1]):
            raise ValueError(f"line {first_number + 2}: expected the dashed line under the header")
        for offset, line in enumerate(rest[2:], first_number + 3):
            if not line.strip():
                raise ValueError(f"line {offset}: blank line inside the hook table")
            node["hooks"].append(_parse_hook_row(line, offset))
    return node


def parse_show(text):
    """Parse ``ngctl show <path>`` output.

    Returns ``{"name", "type", "id", "num_hooks", "hooks": [{"hook", "peer_name",
    "peer_type", "peer_id", "peer_hook"}]}`` with hooks in printed order
    (newest first, as the kernel lists them). ``show -n`` output (no table)
    gives ``hooks == []``.
    """
    lines = _lines(text)
    if not lines:
        raise ValueError("empty ngctl show output")
    if _LIST_HEADER_RE.match(lines[0]):
        raise ValueError("line 1: this is ngctl list output, not show output")
    return _parse_show_lines(lines)


def parse_list_long(text):
    """Parse ``ngctl list -l`` output: a list of :func:`parse_show` dicts, one per
    node, in printed order. Modern ngctl separates node blocks with a blank line;
    older ones do not; both parse."""
    lines = _lines(text)
    if not lines:
        raise ValueError("empty ngctl list -l output")
    start = 0
    if _LIST_HEADER_RE.match(lines[0]):
        start = 1
    blocks, current, current_start = [], [], None
    for number, line in enumerate(lines[start:], start + 1):
        if not line.strip():
            continue
        if _NODE_LINE_RE.match(line):
            if current:
                blocks.append((current_start, current))
            current, current_start = [line], number
        elif current:
            current.append(line)
        else:
            raise ValueError(f"line {number}: not an ngctl list -l line: {_excerpt(line)!r}")
    if current:
        blocks.append((current_start, current))
    parsed = []
    for first, block in blocks:
        node = _parse_show_lines(block, first)
        if node["num_hooks"] and not node["hooks"]:
            raise ValueError(
                f"line {first}: node with {node['num_hooks']} hooks but no hook table"
                " (this is `ngctl list` output, not `list -l`)"
            )
        parsed.append(node)
    return parsed


_TYPES_HEADER_RE = re.compile(r"^\s*There are (?P<count>\d+) total types:$")
_TYPES_COLS_RE = re.compile(r"^\s*Type name\s+Number of living nodes$")
_TYPES_DASH_RE = re.compile(r"^\s*-{9}\s+-{22}$")
_TYPES_ROW_RE = re.compile(r"^\s*(?P<type>\S+)\s+(?P<count>\d+)$")


def parse_types(text):
    """Parse ``ngctl types`` output: a list of ``{"type": str, "nodes": int}`` in
    printed order (newest registered type first)."""
    lines = _lines(text)
    if not lines:
        raise ValueError("empty ngctl types output")
    if not _TYPES_HEADER_RE.match(lines[0]):
        raise ValueError(f"line 1: expected 'There are N total types:', got {_excerpt(lines[0])!r}")
    rows = []
    for number, line in enumerate(lines[1:], 2):
        if not line.strip() or _TYPES_COLS_RE.match(line) or _TYPES_DASH_RE.match(line):
            continue
        match = _TYPES_ROW_RE.match(line)
        if not match:
            raise ValueError(f"line {number}: not an ngctl types row: {_excerpt(line)!r}")
        rows.append({"type": match.group("type"), "nodes": int(match.group("count"))})
    return rows


# ---------------------------------------------------------------------------
# dot
# ---------------------------------------------------------------------------

_DOT_NODE_RE = re.compile(
    r'^\s*"(?P<id>[0-9a-f]+)" \[ label = "\{(?P<name>.*?):\|\{(?P<type>[^|{}]*)\|\[(?P<id2>[0-9a-f]+)\]:\}\}" \];$'
)
_DOT_HOOK_LABEL_RE = re.compile(r'^\s*"(?P<id>[0-9a-f]+)\.(?P<hook>[^"]+)" \[ label = "(?P<label>[^"]*)" \];$')
_DOT_BOLD_EDGE_RE = re.compile(r'^\s*"(?P<id>[0-9a-f]+)" -- "(?P<id2>[0-9a-f]+)\.(?P<hook>[^"]+)";$')
_DOT_PEER_EDGE_RE = re.compile(
    r'^\s*"(?P<a>[0-9a-f]+)\.(?P<ah>[^"]+)" -- "(?P<b>[0-9a-f]+)\.(?P<bh>[^"]+)";$'
)
_DOT_CLUSTER_MEMBER_RE = re.compile(r'^\s*"(?P<id>[0-9a-f]+)";$')
_DOT_FIXED = {
    "edge [ weight = 1.0 ];",
    "node [ shape = record, fontsize = 12 ] {",
    "node [ shape = octagon, fontsize = 10 ] {",
    "edge [ weight = 2.0, style = bold ];",
    "subgraph cluster_disconnected {",
    "bgcolor = pink;",
    "{",
    "};",
}


def parse_dot(text):
    """Parse ``ngctl dot`` output.

    Returns ``{"nodes": {id: {"name": str|None, "type": str}}, "edges":
    [[[id, hook], [id, hook]], ...]}`` with integer IDs; each link appears once,
    in printed order.
    """
    lines = _lines(text)
    if not lines or lines[0].strip() != "graph netgraph {":
        raise ValueError("ngctl dot output must start with 'graph netgraph {'")
    if lines[-1].strip() != "}":
        raise ValueError("ngctl dot output must end with '}' (truncated?)")
    nodes, edges = {}, []
    for number, line in enumerate(lines[1:-1], 2):
        stripped = line.strip()
        if not stripped or stripped in _DOT_FIXED:
            continue
        match = _DOT_NODE_RE.match(line)
        if match:
            if match.group("id") != match.group("id2"):
                raise ValueError(f"line {number}: node label ID differs from the node ID")
            name = match.group("name")
            node_id = int(match.group("id"), 16)
            nodes[node_id] = {
                "name": None if name in ("\\<unnamed\\>", UNNAMED) else name,
                "type": match.group("type"),
            }
            continue
        if _DOT_HOOK_LABEL_RE.match(line) or _DOT_BOLD_EDGE_RE.match(line):
            continue
        match = _DOT_PEER_EDGE_RE.match(line)
        if match:
            edges.append(
                [
                    [int(match.group("a"), 16), match.group("ah")],
                    [int(match.group("b"), 16), match.group("bh")],
                ]
            )
            continue
        if _DOT_CLUSTER_MEMBER_RE.match(line):
            continue
        raise ValueError(f"line {number}: not an ngctl dot line: {_excerpt(line)!r}")
    for (a, _), (b, _) in edges:
        for node_id in (a, b):
            if node_id not in nodes:
                raise ValueError(f"edge refers to node [{node_id:x}] that the graph does not declare")
    return {"nodes": nodes, "edges": edges}


# ---------------------------------------------------------------------------
# msg replies and the ng_parse ASCII language
# ---------------------------------------------------------------------------

_REPLY_HEAD_RE = re.compile(
    r"^\s*Rec'd (?P<kind>response|command) \"(?P<cmd>[^\"]*)\" \((?P<num>-?\d+)\) from \"(?P<from>[^\"]*)\":$"
)
_REPLY_HEX_RE = re.compile(r"^\s*Rec'd (?:response|command) (-?\d+) from ")
_REPLY_FROM_RE = re.compile(r"^\[(?P<id>[0-9a-fA-F]+)\]:$")
_ARGS_RE = re.compile(r"^\s*Args:(?:\s+(?P<args>.*))?$")
_NOARGS_RE = re.compile(r"^\s*No arguments$")


def parse_reply(text):
    """Parse the reply ``ngctl msg`` prints.

    Returns ``{"cmd": str, "cmd_num": int, "from": int, "args": value|None}`` where
    ``value`` is :func:`parse_ascii` of the ``Args:`` text, ``None`` for
    ``No arguments``. ``from`` is the replying node's ID (FreeBSD always prints it
    as ``"[id]:"``; a name there means the text is not FreeBSD's ngctl).
    """
    lines = [line for line in _lines(text) if line.strip()]
    if not lines:
        raise ValueError("empty ngctl msg reply")
    match = _REPLY_HEAD_RE.match(lines[0])
    if not match:
        if _REPLY_HEX_RE.match(lines[0]):
            raise ValueError("reply was printed as a hex dump (no ASCII form); cannot parse")
        raise ValueError(f"line 1: not an ngctl reply header: {_excerpt(lines[0])!r}")
    sender = _REPLY_FROM_RE.match(match.group("from"))
    if not sender:
        raise ValueError(
            f"reply sender {match.group('from')!r} is not of the form \"[hexid]:\""
            " (FreeBSD's ngctl always prints the replying node's ID)"
        )
    if len(lines) < 2:
        raise ValueError("reply header without an 'Args:' or 'No arguments' line")
    if len(lines) > 2:
        raise ValueError(
            f"line 3: unexpected text after the reply's argument line: {_excerpt(lines[2])!r}"
        )
    if _NOARGS_RE.match(lines[1]):
        args = None
    else:
        amatch = _ARGS_RE.match(lines[1])
        if not amatch or not (amatch.group("args") or "").strip():
            raise ValueError(f"line 2: expected 'Args: ...' or 'No arguments', got {_excerpt(lines[1])!r}")
        args = parse_ascii(amatch.group("args"))
    return {
        "cmd": match.group("cmd"),
        "cmd_num": int(match.group("num")),
        "from": int(sender.group("id"), 16),
        "args": args,
    }


_PUNCT = "{}[]="
_SIMPLE_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "v": "\v", "f": "\f", "a": "\a", "b": "\b",
                   '"': '"', "\\": "\\", "'": "'", "?": "?"}
_INT_RE = re.compile(r"^[+-]?(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$")


def _read_quoted(text, pos):
    """Read a C-escaped double-quoted string starting at text[pos] == '"'.
    Returns (value, raw, new_pos)."""
    assert text[pos] == '"'
    out, i = [], pos + 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return "".join(out), text[pos : i + 1], i + 1
        if ch == "\\":
            i += 1
            if i >= len(text):
                break
            esc = text[i]
            if esc in _SIMPLE_ESCAPES:
                out.append(_SIMPLE_ESCAPES[esc])
                i += 1
            elif esc in "01234567":
                digits = re.match(r"[0-7]{1,3}", text[i:]).group(0)
                out.append(chr(int(digits, 8)))
                i += len(digits)
            elif esc == "x":
                digits = re.match(r"[0-9a-fA-F]{0,2}", text[i + 1 :]).group(0)
                if not digits:
                    raise ValueError(f"bad \\x escape at offset {i}")
                out.append(chr(int(digits, 16)))
                i += 1 + len(digits)
            else:
                raise ValueError(f"unknown escape \\{esc} at offset {i}")
            continue
        out.append(ch)
        i += 1
    raise ValueError("unterminated quoted string")


def _tokenize(text):
    """ng_parse tokens: ('punct', ch) | ('str', value) | ('word', text)."""
    tokens, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in _PUNCT:
            tokens.append(("punct", ch))
            i += 1
        elif ch == '"':
            value, _, i = _read_quoted(text, i)
            tokens.append(("str", value))
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in _PUNCT:
                if text[i] == '"':  # e.g. ksocket's local/"/path": keep the word whole
                    _, _, i = _read_quoted(text, i)
                    continue
                i += 1
            tokens.append(("word", text[start:i]))
    return tokens


def _word_value(word):
    if _INT_RE.match(word):
        return int(word, 8) if re.match(r"^[+-]?0[0-7]+$", word) else int(word, 0)
    return word


def _default_like(value):
    if isinstance(value, dict):
        return {}
    if isinstance(value, list):
        return []
    if isinstance(value, str):
        return ""
    return 0


class _AsciiParser:
    def __init__(self, text):
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self):
        token = self.peek()
        if token is None:
            raise ValueError("unexpected end of ASCII argument text")
        self.pos += 1
        return token

    def value(self):
        kind, val = self.take()
        if kind == "punct":
            if val == "{":
                return self.struct()
            if val == "[":
                return self.array()
            raise ValueError(f"unexpected {val!r} where a value was expected")
        if kind == "str":
            return val
        return _word_value(val)

    def struct(self):
        result = {}
        while True:
            token = self.peek()
            if token is None:
                raise ValueError("missing '}' at the end of a struct")
            if token == ("punct", "}"):
                self.pos += 1
                return result
            # A field name is every word up to the next '=' ("IPv4 bytes=...").
            words = []
            while True:
                kind, val = self.take()
                if kind == "word":
                    words.append(val)
                elif (kind, val) == ("punct", "="):
                    break
                else:
                    raise ValueError(f"unexpected {val!r} in a struct field name")
            if not words:
                raise ValueError("struct field without a name before '='")
            key = " ".join(words)
            if key in result:
                raise ValueError(f"struct field {key!r} given twice")
            result[key] = self.value()

    def array(self):
        result = []
        while True:
            token = self.peek()
            if token is None:
                raise ValueError("missing ']' at the end of an array")
            if token == ("punct", "]"):
                self.pos += 1
                return result
            following = self.tokens[self.pos + 1] if self.pos + 1 < len(self.tokens) else None
            if token[0] == "word" and following == ("punct", "=") and re.match(r"^\d+$", token[1]):
                index = int(token[1])
                self.pos += 2
                item = self.value()
                if index < len(result):
                    raise ValueError(f"array index label {index}= goes backwards")
                while len(result) < index:
                    result.append(_default_like(item))
                result.append(item)
            else:
                result.append(self.value())


def parse_ascii(text):
    """Convert ng_parse's ASCII form (what ngctl prints after ``Args:``) to Python.

    struct ``{ a=1 b=2 }`` -> dict (field names may contain spaces, e.g.
    ``IPv4 bytes``); array ``[ 1 2 5=7 ]`` -> list (``N=`` index labels fill the
    skipped elements with their default); integers (base 0, ``0x`` hex, leading
    ``0`` octal) -> int; quoted strings (C escapes) -> str; any other word
    (``inet/127.0.0.1:2055``, a MAC address) -> str.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty ASCII argument text")
    parser = _AsciiParser(text)
    value = parser.value()
    if parser.peek() is not None:
        raise ValueError(f"unexpected text after the value: {parser.peek()[1]!r}")
    return value


_BARE_WORD_RE = re.compile(r"^[^\s{}\[\]=\"\\\x00-\x1f\x7f]+$")
_FIELD_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _quote(value):
    out = ['"']
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch in "\t\n\r\v\f":
            out.append({"\t": "\\t", "\n": "\\n", "\r": "\\r", "\v": "\\v", "\f": "\\f"}[ch])
        elif ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F:
            # No whitespace inside a token: `ngctl -f` splits its lines on blanks.
            code = ord(ch)
            if code > 0o377:
                raise ValueError(f"character {ch!r} cannot be written in an ng_parse string")
            out.append(f"\\{code:03o}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def format_ascii(value):
    """Build ng_parse ASCII text from Python data, for message arguments.

    dict -> ``{ a=1 b=2 }``; list -> ``[ 1 1 ]``; bool/int -> decimal; a str that is
    a safe bare word (``inet/10.0.0.1:2055``, a MAC) stays bare, any other str is
    quoted with C escapes. A str already written as a quoted string (``'"em0"'``)
    is kept as is, which is how to pass a string-typed field such as a hook name.
    The result never contains whitespace inside a token, so it is safe in an
    ``ngctl -f`` line.
    """
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            try:
                parsed, raw, end = _read_quoted(value, 0)
            except ValueError:
                parsed = None
            else:
                if end == len(value):
                    return _quote(parsed)
        if _BARE_WORD_RE.match(value):
            return value
        return _quote(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        parts = []
        for key, item in value.items():
            if not isinstance(key, str) or not _FIELD_NAME_RE.match(key):
                raise ValueError(f"struct field name {key!r} is not a plain identifier")
            parts.append(f"{key}={format_ascii(item)}")
        return "{ " + " ".join(parts) + " }"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        return "[ " + " ".join(format_ascii(item) for item in value) + " ]"
    raise ValueError(f"cannot express {type(value).__name__} {value!r} in ng_parse ASCII")


# ---------------------------------------------------------------------------
# kldstat / ipfw
# ---------------------------------------------------------------------------

_KLD_HEADER_RE = re.compile(r"^\s*Id\s+Refs\s+Address\s+Size\s+Name$")
_KLD_ROW_RE = re.compile(
    r"^\s*(?P<id>\d+)\s+(?P<refs>\d+)\s+(?P<addr>0x[0-9a-fA-F]+)\s+(?P<size>[0-9a-fA-F]+|\d+(?:\.\d+)?[BKMGTPE]?)"
    r"\s+(?P<name>\S+)(?:\s+\((?P<path>[^)]*)\))?$"
)
_KLD_CONTAINS_RE = re.compile(r"^\s*Contains modules:$")
_KLD_MODHEAD_RE = re.compile(r"^\s*Id\s+Name$")
_KLD_M_HEADER_RE = re.compile(r"^\s*Id\s+Refs\s+Name$")
_KLD_M_ROW_RE = re.compile(r"^\s*(?P<id>\d+)\s+(?P<refs>\d+)\s+(?P<name>\S+)$")
_KLD_MOD_ROW_RE = re.compile(r"^\s*(?P<id>\d+)\s+(?P<name>\S+)$")


def _parse_size(size):
    try:
        return int(size, 16)
    except ValueError:
        return size  # -h humanized size, kept as printed


def parse_kldstat(text):
    """Parse ``kldstat``, ``kldstat -v`` or ``kldstat -m NAME`` output.

    Returns ``{"files": [{"id", "refs", "address", "size", "name", "path",
    "modules": [{"id", "name"}]}], "modules": [{"id", "name"}]}``. ``modules`` lists
    every module seen (``-v`` sections, ``-m`` rows and bare module lines from
    ``kldstat -v | grep``). ``size`` is an int (hex in the output) unless ``-h``
    printed a humanized size.
    """
    lines = _lines(text, tools=("kldstat",))
    if not lines:
        raise ValueError("empty kldstat output")
    files, modules = [], []
    mode = None  # None | "files" | "modules" (inside a -v section) | "m"
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or re.match(r"^\.{3,}$", stripped):  # blank, or an elision "....."
            continue
        if _KLD_HEADER_RE.match(line):
            mode = "files"
            continue
        if _KLD_M_HEADER_RE.match(line):
            mode = "m"
            continue
        if _KLD_CONTAINS_RE.match(line):
            if not files:
                raise ValueError(f"line {number}: 'Contains modules:' before any file row")
            mode = "modules"
            continue
        if _KLD_MODHEAD_RE.match(line):
            continue
        match = _KLD_ROW_RE.match(line)
        if match and mode in (None, "files", "modules"):
            files.append(
                {
                    "id": int(match.group("id")),
                    "refs": int(match.group("refs")),
                    "address": match.group("addr"),
                    "size": _parse_size(match.group("size")),
                    "name": match.group("name"),
                    "path": match.group("path"),
                    "modules": [],
                }
            )
            mode = "files"
            continue
        match = _KLD_M_ROW_RE.match(line)
        if match and mode == "m":
            modules.append({"id": int(match.group("id")), "name": match.group("name")})
            continue
        match = _KLD_MOD_ROW_RE.match(line)
        if match and mode in (None, "modules"):
            module = {"id": int(match.group("id")), "name": match.group("name")}
            modules.append(module)
            if files and mode == "modules":
                files[-1]["modules"].append(module)
            continue
        raise ValueError(f"line {number}: not a kldstat line: {_excerpt(line)!r}")
    return {"files": files, "modules": modules}


_IPFW_ROW_RE = re.compile(r"^\s*(?P<rule>\d{1,5})\s+(?P<text>\S.*)$")


def parse_ipfw_list(text):
    """Parse ``ipfw list`` output: ``[{"rule": int, "text": str}, ...]`` in printed
    order, the default rule 65535 included."""
    lines = _lines(text, tools=("ipfw",))
    rules = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        match = _IPFW_ROW_RE.match(line)
        if not match or not 0 < int(match.group("rule")) <= 65535:
            raise ValueError(f"line {number}: not an ipfw list line: {_excerpt(line)!r}")
        rules.append({"rule": int(match.group("rule")), "text": " ".join(match.group("text").split())})
    return rules


# ---------------------------------------------------------------------------
# Validation (reference §3): ValueError, which the Salt functions turn into
# SaltInvocationError naming the argument.
# ---------------------------------------------------------------------------

_BAD_CHARS_RE = re.compile(r"[\s\x00-\x1f\x7f]")
_CTRL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")  # control characters but TAB
_HEX_ID_NAME_RE = re.compile(r"^\[[0-9a-fA-F]+\]$")
_TYPE_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_CMD_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_MODULE_NAME_RE = re.compile(r"^[A-Za-z0-9_]+(?:\.ko)?$")


def _check_word(value, what, limit=MAX_NAME):
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {type(value).__name__}")
    if value == "":
        raise ValueError(f"{what} is empty")
    if _BAD_CHARS_RE.search(value):
        raise ValueError(f"{what} {value!r} contains whitespace or control characters")
    if len(value) > limit:
        raise ValueError(
            f"{what} {value!r} is {len(value)} characters long; netgraph allows at most {limit}"
            " (ngctl would silently truncate it)"
        )
    return value


def check_node_name(name):
    """Validate a node name: 1..31 characters, no '.', ':', whitespace or control
    characters, and not of the form ``[hex]`` (that is an ID). Returns it."""
    _check_word(name, "node name")
    if "." in name or ":" in name:
        raise ValueError(f"node name {name!r} may not contain '.' or ':'")
    if _HEX_ID_NAME_RE.match(name):
        raise ValueError(f"node name {name!r} has the form [hex], which is reserved for node IDs")
    return name


def check_hook_name(hook):
    """Validate a hook name: 1..31 characters, no '.', ':', whitespace or control
    characters. Returns it."""
    _check_word(hook, "hook name")
    if "." in hook or ":" in hook:
        raise ValueError(f"hook name {hook!r} may not contain '.' or ':' (it could not be addressed)")
    return hook


def check_type_name(type_name):
    """Validate a node type name (``netflow``, ``ksocket``, ...): 1..31 of
    ``[A-Za-z0-9_-]``. Returns it."""
    _check_word(type_name, "type name")
    if not _TYPE_NAME_RE.match(type_name):
        raise ValueError(f"type name {type_name!r} may only contain letters, digits, '_' and '-'")
    return type_name


def check_path(path, absolute=True):
    """Validate a netgraph address ``NODE:[hook[.hook...]]``, ``[id]:...`` or
    ``.:...``. With ``absolute=False`` a relative ``hook[.hook]`` or ``.`` is
    accepted too (``connect``'s relpath). Returns it."""
    _check_word(path, "path", limit=MAX_PATH)
    if ":" in path:
        node, _, hooks = path.partition(":")
        if ":" in hooks:
            raise ValueError(f"path {path!r} has more than one ':'")
        if node != ".":
            if node == "":
                raise ValueError(f"path {path!r} has an empty node part")
            if not _HEX_ID_NAME_RE.match(node):
                try:
                    check_node_name(node)
                except ValueError as exc:
                    raise ValueError(f"path {path!r}: {exc}") from None
    else:
        if absolute:
            raise ValueError(
                f"path {path!r} has no ':'; ngctl would resolve it as a hook of its own"
                f" socket node (write {path}: for the node named {path})"
            )
        if path == ".":
            return path
        hooks = path
    if hooks:
        for segment in hooks.split("."):
            if segment == "":
                raise ValueError(f"path {path!r} has an empty hook segment")
            try:
                check_hook_name(segment)
            except ValueError as exc:
                raise ValueError(f"path {path!r}: {exc}") from None
    return path


def check_cmd_name(cmd):
    """Validate a control message name (``getpeername``, ``settimeouts``)."""
    _check_word(cmd, "message name")
    if not _CMD_NAME_RE.match(cmd):
        raise ValueError(f"message name {cmd!r} must be letters, digits and '_'")
    return cmd


# ---------------------------------------------------------------------------
# Salt glue
# ---------------------------------------------------------------------------


def __virtual__():
    grains = globals().get("__grains__") or {}
    if grains.get("kernel") == "FreeBSD":
        return __virtualname__
    opts = globals().get("__opts__") or {}
    pillar = globals().get("__pillar__") or {}
    ngctl = opts.get("netgraph.ngctl") or pillar.get("netgraph.ngctl")
    if ngctl and os.path.isfile(ngctl) and os.access(ngctl, os.X_OK):
        return __virtualname__
    if not ngctl and os.access(DEFAULT_BINARIES["ngctl"], os.X_OK):
        return __virtualname__
    return (
        False,
        "netgraph: the kernel grain is {!r}, not FreeBSD, and no executable ngctl was found"
        " at {} (set netgraph.ngctl in the minion config)".format(
            grains.get("kernel"), ngctl or DEFAULT_BINARIES["ngctl"]
        ),
    )


def _binary(name):
    return __salt__["config.get"]("netgraph." + name, DEFAULT_BINARIES[name])


def _spawn(tool, args, stdin=None):
    argv = [_binary(tool)] + [str(arg) for arg in args]
    kwargs = {"python_shell": False, "ignore_retcode": True}
    if stdin is not None:
        kwargs["stdin"] = stdin
    return __salt__["cmd.run_all"](argv, **kwargs)


def _error_text(result):
    text = (result.get("stderr") or "").strip() or (result.get("stdout") or "").strip()
    return text or "exit status {}".format(result.get("retcode"))


def _run(tool, args, stdin=None):
    result = _spawn(tool, args, stdin=stdin)
    if result.get("retcode"):
        raise CommandExecutionError(
            "{} {} failed: {}".format(tool, " ".join(str(a) for a in args), _error_text(result)),
            info={"retcode": result.get("retcode"), "stderr": result.get("stderr", "")},
        )
    return result.get("stdout") or ""


def _invalid(argname, check, value, *extra):
    try:
        return check(value, *extra)
    except ValueError as exc:
        raise SaltInvocationError(f"{argname}: {exc}") from None


def _parsed(parser, text, what):
    try:
        return parser(text)
    except ValueError as exc:
        raise CommandExecutionError(f"cannot parse the output of {what}: {exc}") from None


def list_():
    """
    List every netgraph node, as ``ngctl list`` prints them (ngctl's own socket
    node included).

    Returns a list of ``{"name", "type", "id", "num_hooks"}``; unnamed nodes
    have ``name: None``.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.list
    """
    return _parsed(parse_list, _run("ngctl", ["list"]), "ngctl list")


def show(path):
    """
    Show one node and its hooks (``ngctl show PATH``).

    path
        A netgraph address with a colon: ``em0:``, ``[2a]:``, ``netflow:export9``.

    Returns ``{"name", "type", "id", "num_hooks", "hooks": [{"hook", "peer_name",
    "peer_type", "peer_id", "peer_hook"}]}``.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.show em0:
    """
    _invalid("path", check_path, path)
    return _parsed(parse_show, _run("ngctl", ["show", path]), "ngctl show")


def types():
    """
    List the netgraph node types the kernel knows (``ngctl types``), each as
    ``{"type": name, "nodes": number of living nodes}``.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.types
    """
    return _parsed(parse_types, _run("ngctl", ["types"]), "ngctl types")


def dot():
    """
    Return the whole graph as GraphViz text (``ngctl dot``).

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.dot
    """
    return _run("ngctl", ["dot"])


def _unmangle_cli_args(args):
    """Undo what Salt's CLI argument YAML-parsing does to ng_parse text:
    ``{ a=1 b=2 }`` arrives as ``{"a=1 b=2": None}`` and ``[ 1 1 ]`` as ``["1 1"]``."""
    if isinstance(args, dict) and len(args) == 1:
        (key, value), = args.items()
        if value is None and isinstance(key, str) and "=" in key:
            return "{ " + key.strip() + " }"
    if isinstance(args, list) and len(args) == 1 and isinstance(args[0], str):
        words = args[0].split()
        if len(words) > 1 and all(_BARE_WORD_RE.match(word) for word in words):
            return "[ " + " ".join(words) + " ]"
    return args


def _args_text(args, argname="args"):
    args = _unmangle_cli_args(args)
    if args is None:
        return None
    if isinstance(args, str):
        if _CTRL_RE.search(args):
            raise SaltInvocationError(f"{argname}: message arguments may not contain newlines or control characters")
        return args.strip() or None
    try:
        return format_ascii(args)
    except ValueError as exc:
        raise SaltInvocationError(f"{argname}: {exc}") from None


def msg(path, cmd, args=None):
    """
    Send a control message (``ngctl msg PATH CMD [ARGS]``) and return the parsed
    reply, or None when the message has no reply.

    path
        The node to send to, e.g. ``netflow_em0:`` or ``netflow_em0:export9``.
    cmd
        The message name, e.g. ``info``, ``getpeername``, ``settimeouts``.
    args
        Optional arguments: ng_parse text (``{ inactive=15 active=1800 }``), or
        data (a dict or list) formatted with ``format_ascii``: a str value that is
        a bare word (``inet/10.0.0.1:2055``, a MAC) is sent bare, any other str is
        quoted; to send a string-typed field give it already quoted
        (``{"hook": '"in"'}``). On the salt command line, where arguments are
        parsed as YAML, prefer the YAML form (``'{inactive: 15, active: 1800}'``).

    The reply is ``{"cmd", "cmd_num", "from", "args"}`` with ``args`` parsed
    into Python data.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.msg ksocket_netflow_em0: getpeername
        salt '*' netgraph.msg netflow_em0: settimeouts '{inactive: 15, active: 1800}'
    """
    _invalid("path", check_path, path)
    _invalid("cmd", check_cmd_name, cmd)
    text = _args_text(args)
    argv = ["msg", path, cmd] + ([text] if text else [])
    out = _run("ngctl", argv)
    if not out.strip():
        return None
    return _parsed(parse_reply, out, "ngctl msg")


def _is_own_socket(node):
    return (
        node["type"] == "socket"
        and node["num_hooks"] == 0
        and bool(re.match(r"^ngctl\d+$", node["name"] or ""))
    )


def _key(name, node_id):
    return name if name is not None else "[%x]" % node_id


def graph():
    """
    Read the whole graph in ONE ngctl spawn (``ngctl -f -`` fed ``list -l`` and
    ``types``), whatever the number of nodes.

    Returns ``{"nodes": {KEY: {"name", "type", "id", "num_hooks", "hooks": {HOOK:
    {"peer", "peer_name", "peer_type", "peer_id", "peer_hook"}}}}, "types": [...]}``
    where KEY is the node name, or ``[id]`` (hex) for unnamed nodes. ngctl's own
    ``ngctl<pid>`` socket nodes are left out.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.graph
    """
    out = _run("ngctl", ["-f", "-"], stdin="list -l\ntypes\n")
    lines = out.split("\n")
    split_at = next((i for i, line in enumerate(lines) if _TYPES_HEADER_RE.match(line.rstrip())), None)
    if split_at is None:
        raise CommandExecutionError("ngctl list -l/types output has no 'There are N total types:' line")
    shown = _parsed(parse_list_long, "\n".join(lines[:split_at]), "ngctl list -l")
    type_rows = _parsed(parse_types, "\n".join(lines[split_at:]), "ngctl types")
    nodes = {}
    for node in shown:
        if _is_own_socket(node):
            continue
        hooks = {}
        for hook in node["hooks"]:
            hooks[hook["hook"]] = {
                "peer": _key(hook["peer_name"], hook["peer_id"]),
                "peer_name": hook["peer_name"],
                "peer_type": hook["peer_type"],
                "peer_id": hook["peer_id"],
                "peer_hook": hook["peer_hook"],
            }
        nodes[_key(node["name"], node["id"])] = {
            "name": node["name"],
            "type": node["type"],
            "id": node["id"],
            "num_hooks": node["num_hooks"],
            "hooks": hooks,
        }
    return {"nodes": nodes, "types": sorted({row["type"] for row in type_rows})}


_FILE_ERROR_RE = re.compile(r"^ngctl: line (?P<line>\d+): error in file$")

_READONLY_MESSAGES = {"info", "ifinfo", "v9info", "nodeinfo", "listhooks", "listnodes", "listnames", "listtypes"}


def _split_replies(text):
    chunks, current = [], []
    for line in text.split("\n"):
        if _REPLY_HEAD_RE.match(line.rstrip()) or _REPLY_HEX_RE.match(line):
            if current:
                chunks.append("\n".join(current))
            current = [line]
        elif current:
            current.append(line)
        elif line.strip():
            raise CommandExecutionError(f"unexpected ngctl output before a reply: {_excerpt(line)!r}")
    if current:
        chunks.append("\n".join(current))
    return [_parsed(parse_reply, chunk, "ngctl msg") for chunk in chunks]


def _batch_failure(result):
    """(failing line number or None, error text) from a failed ngctl -f run."""
    stderr_lines = [line.rstrip() for line in (result.get("stderr") or "").split("\n") if line.strip()]
    for index, line in enumerate(stderr_lines):
        match = _FILE_ERROR_RE.match(line.strip())
        if match:
            error = "\n".join(stderr_lines[:index]).strip() or line.strip()
            return int(match.group("line")), error
    return None, _error_text(result)


def query(requests):
    """
    Send read-only control messages that reply (``info``, ``ifinfo``,
    ``getpeername``, ``get*``...) and collect the replies, using one
    ``ngctl -f -`` spawn when every message succeeds.

    requests
        A list of ``[path, cmd]`` or ``[path, cmd, args_text]``.

    Returns a list of the same length: ``{"ok": True, "reply": <parsed reply>}``
    or ``{"ok": False, "error": "<ngctl message>"}``. When line k fails, ngctl
    stops; its error is recorded and a new spawn continues from line k+1.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.query '[["netflow_em0:", "info"], ["netflow_em0:", "ifinfo", "1"]]'
    """
    if not isinstance(requests, (list, tuple)):
        raise SaltInvocationError("requests: must be a list of [path, cmd] or [path, cmd, args]")
    lines = []
    for index, request in enumerate(requests):
        where = f"requests[{index}]"
        if not isinstance(request, (list, tuple)) or len(request) not in (2, 3):
            raise SaltInvocationError(f"{where}: must be [path, cmd] or [path, cmd, args]")
        path, cmd = request[0], request[1]
        _invalid(f"{where} path", check_path, path)
        _invalid(f"{where} cmd", check_cmd_name, cmd)
        if not (cmd.startswith("get") or cmd in _READONLY_MESSAGES):
            raise SaltInvocationError(
                f"{where}: {cmd!r} is not a read-only message (query sends only get*/info-style"
                " messages; use msg or batch for the others)"
            )
        text = _args_text(request[2], f"{where} args") if len(request) == 3 else None
        lines.append(" ".join(["msg", path, cmd] + ([text] if text else [])))
    results = [None] * len(lines)
    start = 0
    while start < len(lines):
        chunk = lines[start:]
        result = _spawn("ngctl", ["-f", "-"], stdin="\n".join(chunk) + "\n")
        replies = _split_replies(result.get("stdout") or "")
        if result.get("retcode"):
            failed, error = _batch_failure(result)
            if failed is None:
                raise CommandExecutionError(f"ngctl -f failed before running any line: {error}")
            succeeded = failed - 1
        else:
            failed, error, succeeded = None, None, len(chunk)
        # Attribute replies in order; a message that printed no reply gets None.
        for offset in range(succeeded):
            request_cmd = chunk[offset].split()[2]
            if replies and replies[0]["cmd"] == request_cmd:
                results[start + offset] = {"ok": True, "reply": replies.pop(0)}
            else:
                results[start + offset] = {"ok": True, "reply": None}
        if failed is None:
            break
        results[start + failed - 1] = {"ok": False, "error": error}
        start += failed
    return results


_NGCTL_COMMANDS = {
    "config", "connect", "join", "debug", "dot", "graphviz", "confdot", "help", "list", "ls",
    "mkpeer", "msg", "cmd", "name", "rmhook", "disconnect", "show", "inquire", "info",
    "shutdown", "kill", "rmnode", "status", "types",
}


def _check_batch_words(words, where):
    """Validate one batch line's words; raises SaltInvocationError."""
    command = words[0]
    if command not in _NGCTL_COMMANDS:
        raise SaltInvocationError(f"{where}: unknown or unsupported ngctl command {command!r}")
    args = words[1:]

    def need(*counts):
        if len(args) not in counts:
            raise SaltInvocationError(
                f"{where}: {command} takes {' or '.join(str(c) for c in counts)} arguments, got {len(args)}"
            )

    if command == "mkpeer":
        need(3, 4)
        if len(args) == 4:
            _invalid(f"{where} path", check_path, args[0])
        type_name, hook, peerhook = args[-3:]
        _invalid(f"{where} type", check_type_name, type_name)
        _invalid(f"{where} hook", check_hook_name, hook)
        _invalid(f"{where} peerhook", check_hook_name, peerhook)
    elif command in ("connect", "join"):
        need(3, 4)
        if len(args) == 4:
            _invalid(f"{where} path", check_path, args[0], False)
        _invalid(f"{where} relpath", check_path, args[-3], False)
        _invalid(f"{where} hook", check_hook_name, args[-2])
        _invalid(f"{where} peerhook", check_hook_name, args[-1])
    elif command == "name":
        need(2)
        _invalid(f"{where} path", check_path, args[0], False)
        _invalid(f"{where} name", check_node_name, args[1])
    elif command in ("rmhook", "disconnect"):
        need(1, 2)
        if len(args) == 2:
            _invalid(f"{where} path", check_path, args[0], False)
        _invalid(f"{where} hook", check_hook_name, args[-1])
    elif command in ("shutdown", "kill", "rmnode", "status"):
        need(1)
        _invalid(f"{where} path", check_path, args[0], False)
    elif command in ("msg", "cmd"):
        if len(args) < 2:
            raise SaltInvocationError(f"{where}: msg takes a path, a message name and optional arguments")
        _invalid(f"{where} path", check_path, args[0], False)
        _invalid(f"{where} cmd", check_cmd_name, args[1])
    elif command in ("show", "inquire", "info"):
        need(1, 2)
        _invalid(f"{where} path", check_path, args[-1], False)
    elif command == "config":
        if not args:
            raise SaltInvocationError(f"{where}: config takes a path")
        _invalid(f"{where} path", check_path, args[0], False)
    elif command in ("list", "ls"):
        if any(arg not in ("-l", "-n", "-ln", "-nl") for arg in args):
            raise SaltInvocationError(f"{where}: list takes only -l/-n")
    elif command in ("types",):
        need(0)
    elif command in ("dot", "graphviz", "confdot", "help", "debug"):
        raise SaltInvocationError(f"{where}: {command} is not allowed in a batch")


def _batch_line(command, index):
    where = f"commands[{index}]"
    if isinstance(command, str):
        if _CTRL_RE.search(command):
            raise SaltInvocationError(f"{where}: a command line may not contain newlines or control characters")
        words = command.split()
    elif isinstance(command, (list, tuple)):
        words = []
        for position, word in enumerate(command):
            if isinstance(word, bool) or not isinstance(word, (str, int)):
                raise SaltInvocationError(f"{where}[{position}]: words must be strings")
            word = str(word)
            if word == "":
                raise SaltInvocationError(f"{where}[{position}]: empty word")
            if _BAD_CHARS_RE.search(word):
                raise SaltInvocationError(
                    f"{where}[{position}]: word {word!r} contains whitespace or control characters"
                    " (ngctl -f splits lines on blanks)"
                )
            words.append(word)
    else:
        raise SaltInvocationError(f"{where}: must be a string or a list of words")
    if not words:
        raise SaltInvocationError(f"{where}: empty command")
    _check_batch_words(words, where)
    return " ".join(words)


def batch(commands):
    """
    Apply a list of ngctl command lines in ONE ``ngctl -f -`` spawn.

    commands
        A list whose items are command lines (``"mkpeer em0: netflow lower iface0"``)
        or lists of words (``["name", "em0:lower", "netflow"]``). Words may not be
        empty or contain whitespace. Every line is validated before anything runs.

    Returns ``{"applied": N, "stdout": "..."}``. ngctl stops at the first failing
    line and does not roll back: the error raised (CommandExecutionError) carries
    ``info={"line": k, "command": "...", "error": "<ngctl message>",
    "applied": [lines 1..k-1]}``.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.batch '["mkpeer em0: netflow lower iface0", "name em0:lower netflow", "connect em0: netflow: upper out0"]'
    """
    if not isinstance(commands, (list, tuple)):
        raise SaltInvocationError("commands: must be a list of command lines")
    lines = [_batch_line(command, index) for index, command in enumerate(commands)]
    if not lines:
        return {"applied": 0, "stdout": ""}
    result = _spawn("ngctl", ["-f", "-"], stdin="\n".join(lines) + "\n")
    if not result.get("retcode"):
        return {"applied": len(lines), "stdout": result.get("stdout") or ""}
    failed, error = _batch_failure(result)
    if failed is None or not 1 <= failed <= len(lines):
        info = {"line": None, "command": None, "error": error, "applied": []}
        raise CommandExecutionError(f"ngctl -f failed before running any line: {error}", info=info)
    info = {"line": failed, "command": lines[failed - 1], "error": error, "applied": lines[: failed - 1]}
    raise CommandExecutionError(
        "ngctl batch failed at line {} ({}): {}; {} earlier line(s) took effect and were not"
        " rolled back".format(failed, lines[failed - 1], error, failed - 1),
        info=info,
    )


def mkpeer(path, type, hook, peerhook):  # pylint: disable=redefined-builtin
    """
    Create a node of ``type`` and connect ``path``'s ``hook`` to its ``peerhook``
    (``ngctl mkpeer``).

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.mkpeer em0: netflow lower iface0
    """
    _invalid("path", check_path, path)
    _invalid("type", check_type_name, type)
    _invalid("hook", check_hook_name, hook)
    _invalid("peerhook", check_hook_name, peerhook)
    _run("ngctl", ["mkpeer", path, type, hook, peerhook])
    return True


def connect(path, relpath, hook, peerhook):
    """
    Connect ``hook`` of the node at ``path`` to ``peerhook`` of the node at
    ``relpath`` (``ngctl connect``).

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.connect em0: netflow: upper out0
    """
    _invalid("path", check_path, path)
    _invalid("relpath", check_path, relpath, False)
    _invalid("hook", check_hook_name, hook)
    _invalid("peerhook", check_hook_name, peerhook)
    _run("ngctl", ["connect", path, relpath, hook, peerhook])
    return True


def name(path, name):  # pylint: disable=redefined-outer-name
    """
    Give the node at ``path`` the global name ``name`` (``ngctl name``). Names are
    at most 31 characters; longer ones are refused, not truncated.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.name em0:lower netflow
    """
    _invalid("path", check_path, path)
    _invalid("name", check_node_name, name)
    _run("ngctl", ["name", path, name])
    return True


def rmhook(path, hook):
    """
    Disconnect ``hook`` of the node at ``path`` (``ngctl rmhook``). A hook that
    does not exist is not an error.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.rmhook netflow: export9
    """
    _invalid("path", check_path, path)
    _invalid("hook", check_hook_name, hook)
    _run("ngctl", ["rmhook", path, hook])
    return True


def shutdown(path):
    """
    Shut down the node at ``path`` (``ngctl shutdown``). ng_ether nodes only lose
    their hooks.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.shutdown netflow_em0:
    """
    _invalid("path", check_path, path)
    _run("ngctl", ["shutdown", path])
    return True


def _module_names(parsed):
    names = {module["name"] for module in parsed["modules"]}
    for kld in parsed["files"]:
        names.add(kld["name"][:-3] if kld["name"].endswith(".ko") else kld["name"])
        names.update(module["name"] for module in kld["modules"])
    return sorted(names)


def modules():
    """
    List the loaded kernel modules (``kldstat -v``): module names such as
    ``netgraph``, ``ng_ether``, ``ng_netflow``, plus the file names without ``.ko``.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.modules
    """
    result = _spawn("kldstat", ["-v"])
    if result.get("retcode"):
        out = _run("kldstat", [])
    else:
        out = result.get("stdout") or ""
    return _module_names(_parsed(parse_kldstat, out, "kldstat"))


def load_modules(names):
    """
    Load the kernel modules that are not loaded yet (``kldload -n``), in one
    spawn. Idempotent.

    names
        A list of module names (``["ng_ether", "ng_netflow"]``) or one name.

    Returns ``{"loaded": [...], "already": [...]}``.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.load_modules '["ng_ether", "ng_netflow", "ng_ksocket"]'
    """
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, (list, tuple)):
        raise SaltInvocationError("names: must be a list of module names")
    wanted = []
    for index, module in enumerate(names):
        _invalid(f"names[{index}]", _check_word, module, "module name")
        if not _MODULE_NAME_RE.match(module):
            raise SaltInvocationError(f"names[{index}]: module name {module!r} must be letters, digits and '_'")
        module = module[:-3] if module.endswith(".ko") else module
        if module not in wanted:
            wanted.append(module)
    loaded_now = set(modules())
    already = [module for module in wanted if module in loaded_now]
    missing = [module for module in wanted if module not in loaded_now]
    if missing:
        _run("kldload", ["-n"] + missing)
    return {"loaded": missing, "already": already}


def ipfw_rules():
    """
    List the ipfw rules (``ipfw list``) as ``[{"rule": int, "text": str}]``,
    the default rule included.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.ipfw_rules
    """
    return _parsed(parse_ipfw_list, _run("ipfw", ["list"]), "ipfw list")


def _check_rule(rule):
    if isinstance(rule, bool):
        raise SaltInvocationError("rule: must be an integer 1..65534")
    try:
        number = int(rule)
    except (TypeError, ValueError):
        raise SaltInvocationError(f"rule: {rule!r} is not an integer") from None
    if not 1 <= number <= 65534:
        raise SaltInvocationError(f"rule: {number} is outside 1..65534")
    return number


def ipfw_add(rule, words):
    """
    Add an ipfw rule (``ipfw add RULE WORDS...``).

    words
        The rule body as a list of words (``["ngtee", "10", "ip", "from", "any",
        "to", "any"]``) or one string split on blanks.

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.ipfw_add 100 'ngtee 10 ip from any to any via tun0'
    """
    number = _check_rule(rule)
    if isinstance(words, str):
        if _CTRL_RE.search(words):
            raise SaltInvocationError("words: may not contain newlines or control characters")
        words = words.split()
    if not isinstance(words, (list, tuple)) or not words:
        raise SaltInvocationError("words: must be a non-empty list of words")
    checked = []
    for index, word in enumerate(words):
        word = str(word) if isinstance(word, int) and not isinstance(word, bool) else word
        _invalid(f"words[{index}]", _check_word, word, "rule word", 255)
        checked.append(word)
    _run("ipfw", ["add", str(number)] + checked)
    return True


def ipfw_delete(rule):
    """
    Delete an ipfw rule (``ipfw delete RULE``).

    CLI Example:

    .. code-block:: bash

        salt '*' netgraph.ipfw_delete 100
    """
    number = _check_rule(rule)
    _run("ipfw", ["delete", str(number)])
    return True
