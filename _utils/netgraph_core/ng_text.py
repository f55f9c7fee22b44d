"""ngctl's text formats, parsed into plain data (pure; no Salt). kldstat's, ipfw's and
ifconfig's are in ``ng_systext``; the graph read in one ngctl run, and IDs and paths as
ngctl writes them, in ``ng_snapshot``.

Every parser takes the text a FreeBSD tool prints (pasted captures too: one leading
prompt line is dropped, trailing blanks ignored) and returns lists and dicts, or raises
``ValueError`` on text that is not FreeBSD's format rather than guess. The formats are
the ones ``usr.sbin/ngctl`` (list.c, show.c, types.c, dot.c, msg.c) prints; see
docs/netgraph.md and tests/data/captures/SOURCES.md.
"""
from __future__ import annotations

import re

from .ng_ascii import parse_ascii


# ---------------------------------------------------------------------------
# Text clean-up shared by the parsers
# ---------------------------------------------------------------------------

# A line that is a shell prompt plus the command that produced the output,
# e.g. "root@fw:~ # ngctl list", "$ ngctl show em0:", "> ngctl msg x: getifname",
# "[2.5.2-RELEASE][admin@fw]/root: kldstat -v | grep ng_etf".
_PROMPT_TOOL_RE = re.compile(
    r"(?:^|[\s#$%>:\]])(?:sudo\s+)?(?:\S*/)?(?P<tool>ngctl|kldstat|kldload|ipfw)(?:\s|$)"
)


def clean_lines(text, tools=("ngctl",)):
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


def excerpt(line, width=80):
    line = line.strip()
    return line if len(line) <= width else line[: width - 3] + "..."


# ---------------------------------------------------------------------------
# list / show / list -l / types
# ---------------------------------------------------------------------------

_LIST_HEADER_RE = re.compile(r"\s*There are (?P<count>\d+) total (?P<named>named )?nodes:")
# "  Name: %-15s Type: %-15s ID: %08x   Num hooks: %d"; split on the markers, not on
# columns: names and types longer than 15 push the rest of the line to the right.
_NODE_LINE_RE = re.compile(
    r"\s*Name: (?P<name>\S.*?)\s+Type: (?P<type>\S.*?)\s+ID: (?P<id>[0-9a-f]{8})"
    r"\s+Num hooks: (?P<hooks>\d+)"
)
_TABLE_HEAD_RE = re.compile(r"\s*Local hook\s+Peer name\s+Peer type\s+Peer ID\s+Peer hook")
_TABLE_DASH_RE = re.compile(r"\s*-{10}\s+-{9}\s+-{9}\s+-{7}\s+-{9}")
_HEX8_RE = re.compile(r"[0-9a-f]{8}")
UNNAMED = "<unnamed>"


def _node_line(line):
    match = _NODE_LINE_RE.fullmatch(line)
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
    lines = clean_lines(text)
    if not lines:
        raise ValueError("empty ngctl list output")
    nodes = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if _LIST_HEADER_RE.fullmatch(line):
            if number != 1:
                raise ValueError(f"line {number}: list header in the middle of the output")
            continue
        node = _node_line(line)
        if node is not None:
            nodes.append(node)
            continue
        if _TABLE_HEAD_RE.fullmatch(line) or _TABLE_DASH_RE.fullmatch(line):
            raise ValueError(
                f"line {number}: hook table in list output (this is `list -l` or `show`"
                " output; use parse_list_long or parse_show)"
            )
        raise ValueError(f"line {number}: not an ngctl list line: {excerpt(line)!r}")
    return nodes


def _parse_hook_row(line, number):
    fields = line.split()
    if len(fields) != 5:
        raise ValueError(
            f"line {number}: hook row needs 5 columns (local hook, peer name, peer type,"
            f" peer ID, peer hook), got {len(fields)}: {excerpt(line)!r}"
        )
    hook, peer_name, peer_type, peer_id, peer_hook = fields
    if not _HEX8_RE.fullmatch(peer_id):
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
            f" ('  Name: ... Type: ... ID: ... Num hooks: ...'), got {excerpt(lines[0])!r}"
        )
    node["hooks"] = []
    rest = lines[1:]
    if rest:
        if not _TABLE_HEAD_RE.fullmatch(rest[0]):
            raise ValueError(
                f"line {first_number + 1}: expected the hook table header"
                f" ('Local hook  Peer name ...'), got {excerpt(rest[0])!r}"
            )
        if len(rest) < 2 or not _TABLE_DASH_RE.fullmatch(rest[1]):
            raise ValueError(f"line {first_number + 2}: expected the dashed line under the header")
        rows = [line.split() for line in rest[2:]]
        if all(len(f) == 5 and _HEX8_RE.fullmatch(f[3]) for f in rows):  # the common case, in one pass
            node["hooks"] = [{"hook": f[0], "peer_name": None if f[1] == UNNAMED else f[1], "peer_type": f[2],
                              "peer_id": int(f[3], 16), "peer_hook": f[4]} for f in rows]
            return node
        for offset, line in enumerate(rest[2:], first_number + 3):  # row by row, to say which is wrong
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
    lines = clean_lines(text)
    if not lines:
        raise ValueError("empty ngctl show output")
    if _LIST_HEADER_RE.fullmatch(lines[0]):
        raise ValueError("line 1: this is ngctl list output, not show output")
    return _parse_show_lines(lines)


def parse_list_long(text):
    """Parse ``ngctl list -l`` output: a list of :func:`parse_show` dicts, one per
    node, in printed order. Modern ngctl separates node blocks with a blank line;
    older ones do not; both parse."""
    lines = clean_lines(text)
    if not lines:
        raise ValueError("empty ngctl list -l output")
    start = 0
    if _LIST_HEADER_RE.fullmatch(lines[0]):
        start = 1
    blocks, current, current_start = [], [], None
    for number, line in enumerate(lines[start:], start + 1):
        if not line.strip():
            continue
        if "Name: " in line and _NODE_LINE_RE.fullmatch(line):
            if current:
                blocks.append((current_start, current))
            current, current_start = [line], number
        elif current:
            current.append(line)
        else:
            raise ValueError(f"line {number}: not an ngctl list -l line: {excerpt(line)!r}")
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


TYPES_HEADER_RE = re.compile(r"\s*There are (?P<count>\d+) total types:")
_TYPES_COLS_RE = re.compile(r"\s*Type name\s+Number of living nodes")
_TYPES_DASH_RE = re.compile(r"\s*-{9}\s+-{22}")
_TYPES_ROW_RE = re.compile(r"\s*(?P<type>\S+)\s+(?P<count>\d+)")


def parse_types(text):
    """Parse ``ngctl types`` output: a list of ``{"type": str, "nodes": int}`` in
    printed order (newest registered type first)."""
    lines = clean_lines(text)
    if not lines:
        raise ValueError("empty ngctl types output")
    if not TYPES_HEADER_RE.fullmatch(lines[0]):
        raise ValueError(f"line 1: expected 'There are N total types:', got {excerpt(lines[0])!r}")
    rows = []
    for number, line in enumerate(lines[1:], 2):
        if not line.strip() or _TYPES_COLS_RE.fullmatch(line) or _TYPES_DASH_RE.fullmatch(line):
            continue
        match = _TYPES_ROW_RE.fullmatch(line)
        if not match:
            raise ValueError(f"line {number}: not an ngctl types row: {excerpt(line)!r}")
        rows.append({"type": match.group("type"), "nodes": int(match.group("count"))})
    return rows


# ---------------------------------------------------------------------------
# dot
# ---------------------------------------------------------------------------

_DOT_NODE_RE = re.compile(
    r'\s*"(?P<id>[0-9a-f]+)" \[ label = "\{(?P<name>.*?):\|\{(?P<type>[^|{}]*)\|\[(?P<id2>[0-9a-f]+)\]:\}\}" \];'
)
_DOT_HOOK_LABEL_RE = re.compile(r'\s*"(?P<id>[0-9a-f]+)\.(?P<hook>[^"]+)" \[ label = "(?P<label>[^"]*)" \];')
_DOT_BOLD_EDGE_RE = re.compile(r'\s*"(?P<id>[0-9a-f]+)" -- "(?P<id2>[0-9a-f]+)\.(?P<hook>[^"]+)";')
_DOT_PEER_EDGE_RE = re.compile(
    r'\s*"(?P<a>[0-9a-f]+)\.(?P<ah>[^"]+)" -- "(?P<b>[0-9a-f]+)\.(?P<bh>[^"]+)";'
)
_DOT_CLUSTER_MEMBER_RE = re.compile(r'\s*"(?P<id>[0-9a-f]+)";')
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
    lines = clean_lines(text)
    if not lines or lines[0].strip() != "graph netgraph {":
        raise ValueError("ngctl dot output must start with 'graph netgraph {'")
    if lines[-1].strip() != "}":
        raise ValueError("ngctl dot output must end with '}' (truncated?)")
    nodes, edges = {}, []
    for number, line in enumerate(lines[1:-1], 2):
        stripped = line.strip()
        if not stripped or stripped in _DOT_FIXED:
            continue
        match = _DOT_NODE_RE.fullmatch(line)
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
        if _DOT_HOOK_LABEL_RE.fullmatch(line) or _DOT_BOLD_EDGE_RE.fullmatch(line):
            continue
        match = _DOT_PEER_EDGE_RE.fullmatch(line)
        if match:
            edges.append(
                [
                    [int(match.group("a"), 16), match.group("ah")],
                    [int(match.group("b"), 16), match.group("bh")],
                ]
            )
            continue
        if _DOT_CLUSTER_MEMBER_RE.fullmatch(line):
            continue
        raise ValueError(f"line {number}: not an ngctl dot line: {excerpt(line)!r}")
    for (a, _), (b, _) in edges:
        for node_id in (a, b):
            if node_id not in nodes:
                raise ValueError(f"edge refers to node [{node_id:x}] that the graph does not declare")
    return {"nodes": nodes, "edges": edges}


# ---------------------------------------------------------------------------
# msg replies and the ng_parse ASCII language
# ---------------------------------------------------------------------------

_REPLY_HEAD_RE = re.compile(
    r"\s*Rec'd (?P<kind>response|command) \"(?P<cmd>[^\"]*)\" \((?P<num>-?\d+)\) from \"(?P<from>[^\"]*)\":"
)
_REPLY_HEX_RE = re.compile(r"^\s*Rec'd (?:response|command) (-?\d+) from ")
_REPLY_FROM_RE = re.compile(r"\[(?P<id>[0-9a-fA-F]+)\]:")
_ARGS_RE = re.compile(r"\s*Args:(?:\s+(?P<args>.*))?")
_NOARGS_RE = re.compile(r"\s*No arguments")


def parse_reply(text):
    """Parse the reply ``ngctl msg`` prints.

    Returns ``{"cmd": str, "cmd_num": int, "from": int, "args": value|None}`` where
    ``value`` is :func:`parse_ascii` of the ``Args:`` text, ``None`` for
    ``No arguments``. ``from`` is the replying node's ID (FreeBSD always prints it
    as ``"[id]:"``; a name there means the text is not FreeBSD's ngctl).
    """
    lines = [line for line in clean_lines(text) if line.strip()]
    if not lines:
        raise ValueError("empty ngctl msg reply")
    return _reply_of(lines)


def _reply_of(lines: list[str]) -> dict:
    """:func:`parse_reply` of its cleaned, non-blank lines."""
    match = _REPLY_HEAD_RE.fullmatch(lines[0])
    if not match:
        if _REPLY_HEX_RE.match(lines[0]):
            raise ValueError("reply was printed as a hex dump (no ASCII form); cannot parse")
        raise ValueError(f"line 1: not an ngctl reply header: {excerpt(lines[0])!r}")
    sender = _REPLY_FROM_RE.fullmatch(match.group("from"))
    if not sender:
        raise ValueError(
            f"reply sender {match.group('from')!r} is not of the form \"[hexid]:\""
            " (FreeBSD's ngctl always prints the replying node's ID)"
        )
    if len(lines) < 2:
        raise ValueError("reply header without an 'Args:' or 'No arguments' line")
    if len(lines) > 2:
        raise ValueError(
            f"line 3: unexpected text after the reply's argument line: {excerpt(lines[2])!r}"
        )
    if _NOARGS_RE.fullmatch(lines[1]):
        args = None
    else:
        amatch = _ARGS_RE.fullmatch(lines[1])
        if not amatch or not (amatch.group("args") or "").strip():
            raise ValueError(f"line 2: expected 'Args: ...' or 'No arguments', got {excerpt(lines[1])!r}")
        args = parse_ascii(amatch.group("args"))
    return {
        "cmd": match.group("cmd"),
        "cmd_num": int(match.group("num")),
        "from": int(sender.group("id"), 16),
        "args": args,
    }


# A reply as ngctl prints it (msg.c): the header line, then ``Args:<tab>...`` or ``No
# arguments``, then empty lines or none. Stricter than _REPLY_HEAD_RE and _reply_of (indent
# and gaps of spaces or tabs only, no carriage return, the sender an ID): what it does not
# match goes to them.
_FAST_REPLY_RE = re.compile(
    r" *Rec'd (?:response|command) \"([^\"\n\r]*)\" \((-?\d+)\) from \"\[([0-9a-fA-F]+)\]:\": *\n"
    r" *(?:Args:[ \t]([^\n\r]*)|No arguments *)\n+"
)


def _fast_replies(text: str) -> list[dict] | None:
    """split_replies of a text made only of replies of the common shape; None for any other
    text, which must go to the generic way (so its results and errors stay the same)."""
    if not text.endswith("\n"):
        text += "\n"  # one more empty line: nothing to a line-based parser
    pos = len(text) - len(text.lstrip("\n"))  # empty lines before the first reply
    found = []
    for match in _FAST_REPLY_RE.finditer(text, pos):
        if match.start() != pos:
            return None  # a gap: text the replies do not cover
        pos = match.end()
        found.append(match.groups())
    if pos != len(text) or any(args is not None and not args.strip() for _, _, _, args in found):
        return None  # an "Args:" with nothing after it: _reply_of says so
    # every chunk is the generic way's too, checked as far as it checks before parse_ascii:
    # parse_ascii of the same text, in the same order, gives the same values and errors
    flat: dict = {}  # args text -> its value when a dict of str/int only: a copy is all a repeat needs
    replies = []
    for cmd, num, sender, args in found:
        value = None
        if args is not None:
            args = args.strip()
            value = flat.get(args)
            if value is not None:
                value = value.copy()  # 2,000 ifinfo replies, one text: parsed once, each its own dict
            else:
                value = parse_ascii(args)
                if type(value) is dict and all(type(v) is int or type(v) is str for v in value.values()):
                    flat[args] = value
        replies.append({"cmd": cmd, "cmd_num": int(num), "from": int(sender, 16), "args": value})
    return replies


def split_replies(text: str) -> list[dict]:
    """The replies of several ``msg`` lines of one ``ngctl -f`` run, each parsed."""
    fast = _fast_replies(text)
    return fast if fast is not None else _split_replies_generic(text)


def _split_replies_generic(text: str) -> list[dict]:
    """:func:`split_replies` line by line: any text."""
    chunks, current = [], []
    for line in text.split("\n"):
        # "Rec'd " first: a plain substring test spares the regexes most lines
        if "Rec'd " in line and (_REPLY_HEAD_RE.fullmatch(line.rstrip()) or _REPLY_HEX_RE.match(line)):
            if current:
                chunks.append(current)
            current = [line]
        elif current:
            current.append(line)
        elif line.strip():
            raise ValueError(f"unexpected ngctl output before a reply: {excerpt(line)!r}")
    if current:
        chunks.append(current)
    return [_chunk_reply(chunk) for chunk in chunks]


def _chunk_reply(lines: list[str]) -> dict:
    """parse_reply of one chunk of split_replies, its lines already split: without a
    carriage return, clean_lines would only strip them (the header line is never taken
    for a prompt: it looks like output)."""
    if any("\r" in line for line in lines):
        return parse_reply("\n".join(lines))
    return _reply_of([line.rstrip() for line in lines if line.strip()])


def attribute_replies(cmds: list[str], replies: list[dict]) -> list[dict]:
    """One result per message sent (``cmds``, in order): the next reply when it answers
    that message, else None (a message that printed no reply). Consumes ``replies``."""
    out, used = [], 0
    for cmd in cmds:  # an index, then one del: pop(0) per reply is quadratic
        hit = used < len(replies) and replies[used]["cmd"] == cmd
        out.append({"ok": True, "reply": replies[used] if hit else None})
        used += hit
    del replies[:used]
    return out
