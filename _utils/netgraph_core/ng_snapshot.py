"""The whole graph and read-only replies from one ``ngctl -f -`` run, and node IDs and
paths as ngctl writes them (pure; no Salt): the scripts the ``netgraph`` module and the
beacon send, and what their output means, built on ``ng_text``'s parsers.
"""
from __future__ import annotations

import re

from . import ng_words
from .ng_text import UNNAMED, attribute_replies, parse_list_long, parse_types, split_replies


# ---------------------------------------------------------------------------
# IDs and paths as ngctl writes them
# ---------------------------------------------------------------------------
def id_text(node_id):
    """A node ID as ``ngctl list``/``show`` print it: 8 lowercase hex digits."""
    return "%08x" % node_id


def id_path(node_id):
    """The ngctl path of a node by ID (``[4d]:``), which works for unnamed nodes too."""
    return "[%x]:" % node_id


def as_ngctl_ids(node):
    """A :func:`parse_list`/:func:`parse_show` node with its IDs as ngctl writes them
    (``"id": "0000004d"``, ``"peer_id"`` likewise) and the ngctl ``path`` of the node
    (``[4d]:``) and of each hook's peer (``peer_path``)."""
    out = {**node, "id": id_text(node["id"]), "path": id_path(node["id"])}
    if "hooks" in node:
        out["hooks"] = [{**hook, "peer_id": id_text(hook["peer_id"]), "peer_path": id_path(hook["peer_id"])}
                        for hook in node["hooks"]]
    return out


def missing_node_error(path, error, types):
    """What to say when ``ngctl show PATH`` (or any command on PATH) found no node: ngctl's
    own ``error``, and, when PATH starts with a node name and ng_ether is not loaded (no
    ``ether`` in ``types``), that this is why (its nodes are made only when it loads)."""
    head = path.split(":", 1)[0].split(".", 1)[0]
    if head and not head.startswith("[") and "ether" not in types:
        return (f"ng_ether is not loaded: no node {head}: (ng_ether makes one node per Ethernet "
                f"interface when it is loaded: kldload ng_ether); {error}")
    return error


# ---------------------------------------------------------------------------
# The whole graph from one `ngctl -f -` run of `list -l` and `types`
# ---------------------------------------------------------------------------
GRAPH_SCRIPT = "list -l\ntypes\n"
_OWN_SOCKET_RE = re.compile(r"ngctl\d+")


def is_own_socket(node: dict) -> bool:
    """ngctl's own socket node (``ngctl<pid>``, no hooks): not part of anyone's graph."""
    return node["type"] == "socket" and node["num_hooks"] == 0 and bool(_OWN_SOCKET_RE.fullmatch(node["name"] or ""))


def node_key(name: str | None, node_id: int) -> str:
    """A node's key in the graph model: its name, or ``[id]`` (hex) when unnamed."""
    return name if name is not None else "[%x]" % node_id


_last_graph: tuple[str, dict] | None = None  # (key, model) of the last parse_graph that parsed
# ngctl's own socket node (``ngctl<pid>``, a new ID each run) is in every run's list -l, so
# no two runs print the same text; the memo's key has each line of such a node (hookless)
# made one and the same line: the model leaves that node out whatever its PID and ID.
_OWN_SOCKET_LINE_RE = re.compile(r"\n  Name: ngctl[0-9]+ +Type: socket +ID: [0-9a-f]{8} +Num hooks: 0 *(?=\n|\Z)")
_OWN_SOCKET_LINE = "\n  Name: ngctl0          Type: socket          ID: 00000000   Num hooks: 0"


def parse_graph(text: str) -> dict:
    """The graph model from the output of :data:`GRAPH_SCRIPT`:
    ``{"nodes": {KEY: {name, type, id, num_hooks, hooks: {HOOK: {peer, peer_name,
    peer_type, peer_id, peer_hook}}}}, "types": [...]}``; ngctl's own socket left out.
    A text equal to the last one parsed, but for ngctl's own socket, gives a fresh copy of
    that model, not a new parse: on a quiet host the beacon reads the same graph interval
    after interval."""
    global _last_graph
    key = _OWN_SOCKET_LINE_RE.sub(_OWN_SOCKET_LINE, text)
    last = _last_graph
    if last is not None and last[0] == key:
        return copy_graph(last[1])
    model = _graph_of(text)
    _last_graph = (key, model)  # only a text that parsed: an invalid one raises every time
    return copy_graph(model)


def copy_graph(model: dict) -> dict:
    """A copy of a :func:`parse_graph` model that shares no mutable part with it (nodes,
    hooks, each hook, types); its values are str, int or None, so one level each suffices."""
    return {"nodes": {key: {**node, "hooks": {hook: peer.copy() for hook, peer in node["hooks"].items()}}
                      for key, node in model["nodes"].items()},
            "types": list(model["types"])}


def _line_finder(line_re: str):
    """A function giving the offset of the first line of a text (lines as ``split("\\n")``
    makes them) that ``line_re`` matches from its start to its end, or -1. One search for
    "\\n" and the line: a pattern starting with ``^`` is tried at every offset, 10 times slower."""
    at_start, after_newline = re.compile(line_re + r"(?=\n|\Z)"), re.compile(r"\n" + line_re + r"(?=\n|\Z)")

    def first_line(text: str) -> int:
        if at_start.match(text):
            return 0
        found = after_newline.search(text)
        return -1 if found is None else found.start() + 1
    return first_line


# The line ``types`` starts with: as _graph_of's old loop found it, ``line.rstrip()``
# fullmatching TYPES_HEADER_RE (``\s*There are N total types:``).
_types_line = _line_finder(r"[^\S\n]*There are \d+ total types:[^\S\n]*")


def _graph_of(text: str) -> dict:
    """:func:`parse_graph` without the memo: ``list -l`` on the fast path when it has the
    common shape, else through :func:`parse_list_long`."""
    at = _types_line(text)
    if at < 0:
        raise ValueError("ngctl list -l/types output has no 'There are N total types:' line")
    listed = text[:at - 1] if at else ""  # the lines before, as "\n".join of them
    nodes = fast_list_long_nodes(listed)
    if nodes is None:
        nodes = _nodes_of(parse_list_long(listed))
    type_rows = parse_types(text[at:])  # after list -l: of two bad parts, its error is the one said
    return {"nodes": nodes, "types": sorted({row["type"] for row in type_rows})}


def _nodes_of(shown: list) -> dict:
    """The graph model's nodes of :func:`parse_list_long`'s list, ngctl's own socket left out."""
    nodes = {}
    for node in shown:
        if is_own_socket(node):
            continue
        hooks = {h["hook"]: {"peer": h["peer_name"] if h["peer_name"] is not None else "[%x]" % h["peer_id"],
                             "peer_name": h["peer_name"], "peer_type": h["peer_type"], "peer_id": h["peer_id"],
                             "peer_hook": h["peer_hook"]}
                 for h in node["hooks"]}  # node_key inline: one call less per hook
        nodes[node_key(node["name"], node["id"])] = {
            "name": node["name"],
            "type": node["type"],
            "id": node["id"],
            "num_hooks": node["num_hooks"],
            "hooks": hooks,
        }
    return nodes


# ``list -l`` as ngctl prints it (list.c, show.c): the header, then per node its line and,
# when it has hooks, the table, rows of exactly five space-separated columns; blank lines
# between blocks (modern ngctl) or none (older ones). Stricter than parse_list_long (single
# spaces of indent, no tabs, names without blanks): what it does not match goes there.
_FAST_HEAD_RE = re.compile(r"There are \d+ total (?:named )?nodes: *\n")
_FAST_BLOCK_RE = re.compile(
    r"  Name: (\S+) +Type: (\S+) +ID: ([0-9a-f]{8}) +Num hooks: (\d+) *\n"
    r"(?:  Local hook +Peer name +Peer type +Peer ID +Peer hook *\n"
    r"  -{10} +-{9} +-{9} +-{7} +-{9} *\n"
    r"((?:  \S+ +\S+ +\S+ +[0-9a-f]{8} +\S+ *\n)+))?"
    r"\n*"
)


def fast_list_long_nodes(text: str) -> dict | None:
    """The graph model's nodes of ``list -l`` text of the common shape, as
    ``_nodes_of(parse_list_long(text))`` gives them; None for any other text (including
    every text parse_list_long refuses), which must go to the generic parser."""
    if not text.endswith("\n"):
        text += "\n"  # one more empty line: nothing to a line-based parser
    head = _FAST_HEAD_RE.match(text)
    if head is None:
        return None
    pos, nodes, own = head.end(), {}, _OWN_SOCKET_RE.fullmatch
    for block in _FAST_BLOCK_RE.finditer(text, pos):
        if block.start() != pos:
            return None  # a gap: text the blocks do not cover
        pos = block.end()
        name, type_, id_hex, num, rows = block.groups()
        num_hooks = int(num)
        if rows is None:
            if num_hooks:
                return None  # hooks but no table: `ngctl list` output, parse_list_long says so
            hooks = {}
        else:  # the rows, checked by the pattern: split once, five cells a hook
            cells = iter(rows.split())
            hooks = {hook: {"peer": peer if peer != UNNAMED else "[%x]" % int(peer_id, 16),
                            "peer_name": peer if peer != UNNAMED else None, "peer_type": peer_type,
                            "peer_id": int(peer_id, 16), "peer_hook": peer_hook}
                     for hook, peer, peer_type, peer_id, peer_hook in zip(cells, cells, cells, cells, cells)}
        if name == UNNAMED:
            name = None
        elif num_hooks == 0 and type_ == "socket" and own(name):
            continue  # is_own_socket
        node_id = int(id_hex, 16)
        nodes[name if name is not None else "[%x]" % node_id] = {
            "name": name, "type": type_, "id": node_id, "num_hooks": num_hooks, "hooks": hooks}
    return nodes if pos == len(text) else None


# The first reply's line: its text, stripped, starts with "Rec'd response " or "Rec'd
# command " (so something not blank follows on the line).
_first_reply_line = _line_finder(r"[^\S\n]*Rec'd (?:response|command) [^\n]*?\S[^\n]*")


def snapshot_script(reqs: list) -> str:
    """One ``ngctl -f -`` read: :data:`GRAPH_SCRIPT`, then one ``msg`` line per
    ``[path, cmd, *args]`` request; only read-only messages (ValueError otherwise)."""
    lines = [GRAPH_SCRIPT.rstrip("\n")]
    passed: set = set()  # (path, cmd) pairs already checked: the beacon sends 2,000 ifinfo to one node
    for index, req in enumerate(reqs):
        if not isinstance(req, (list, tuple)) or len(req) < 2:
            raise ValueError(f"requests[{index}]: must be [path, cmd, *args]")
        path, cmd, args = req[0], req[1], list(req[2:])
        key = (path, cmd) if type(path) is str and type(cmd) is str else None  # exact str only: a subclass may hash otherwise
        if key is None or key not in passed:
            _check_request(index, path, cmd)
            passed.add(key)
        for word in args:
            # ASCII digits (ifinfo's N, 2,000 a beacon read) pass check_word whatever it checks
            # but the length: the rest, and every error, go through it
            if not (type(word) is str and word.isascii() and word.isdigit() and len(word) <= ng_words.MAX_NAME):
                ng_words.check_word(word, f"requests[{index}] argument")
        lines.append(" ".join(["msg", path, cmd, *args]))
    return "\n".join(lines) + "\n"


def _check_request(index: int, path, cmd) -> None:
    """ValueError naming request ``index`` unless ``path`` is a netgraph address and
    ``cmd`` a read-only message."""
    try:
        ng_words.check_path(path)
        ng_words.check_cmd_name(cmd)
    except ValueError as exc:  # say which request, as query does
        raise ValueError(f"requests[{index}]: {exc}") from None
    if not ng_words.is_readonly_message(cmd):
        raise ValueError(f"requests[{index}]: {cmd!r} is not a read-only message")


def parse_snapshot(stdout: str, stderr: str, rc: int, reqs: list) -> tuple[dict, list]:
    """(graph, replies) of a :func:`snapshot_script` run. ``replies[i]`` is ``{"ok": True,
    "reply": ...}``, ``{"ok": False, "error": ...}`` for the line that failed, or None
    for a line that did not run. ValueError when even the graph could not be read."""
    stdout = stdout or ""
    cut = _first_reply_line(stdout)
    if cut < 0:
        cut = len(stdout) + 1  # no reply: the graph's lines are all of it (they end at cut - 1, its "\n")
    head = 2  # list -l, types
    failed, error = ng_words.batch_failure(stderr or "") if rc else (None, None)
    if rc and (failed is None or failed <= head):
        raise ValueError(f"ngctl could not read the graph: {error or stderr or f'exit status {rc}'}")
    graph = parse_graph(stdout[:cut - 1] if cut else "")
    parsed = split_replies(stdout[cut:])
    ran = len(reqs) if failed is None else failed - head - 1
    replies: list = [None] * len(reqs)
    replies[:ran] = attribute_replies([reqs[i][1] for i in range(ran)], parsed)
    if failed is not None:
        replies[ran] = {"ok": False, "error": error}
    return graph, replies
