"""The snapshot read's shortcuts (``ng_snapshot``, ``ng_text``): the memo of the last
graph (keyed on its text but for ngctl's own socket), the cut of a snapshot's stdout found
by one search, the bulk fast path for ``list -l`` and the bulk path for the replies. Each
gives exactly what the line-by-line way gives, on the captures, on ngsim's output of a
real exporter and on generated text; a fast path declines (None) whatever it does not
fully recognise, so the generic parser still gives every result and every error.
"""
from __future__ import annotations

import pathlib
import re

import pytest
from hypothesis import given, settings, strategies as st

from netgraph_core import nf_watch, ng_snapshot, ng_text
from tests.support import watched

DATA = pathlib.Path(__file__).resolve().parents[2] / "data"
GOLDEN_GRAPH = (DATA / "ngsim_golden" / "list-l.txt").read_text() + (DATA / "ngsim_golden" / "types.txt").read_text()
SHOW_FILES = ["captures/iocage_show_bridge0_many.txt", "captures/iocage_show_bridge0_one.txt",
              "captures/netflow2ng_52_show_netflow_igc0.txt", "captures/pfatt_readme_show_ue0.txt",
              "ngsim_golden/show-em0.txt", "ngsim_golden/show-em1.txt",
              "ngsim_golden/show-ksocket_netflow_em0.txt", "ngsim_golden/show-netflow_em0.txt"]


def generic_nodes(text):
    """The graph model's nodes of ``list -l`` text through parse_list_long: nodes or the error."""
    try:
        return ng_snapshot._nodes_of(ng_text.parse_list_long(text))
    except ValueError as exc:
        return ("error", str(exc))


def check_fast(text):
    """The fast path's nodes, held equal to the generic parser's when it was taken."""
    fast = ng_snapshot.fast_list_long_nodes(text)
    if fast is not None:
        assert fast == generic_nodes(text), text
    return fast


def old_graph_of(text):
    """parse_graph as it was: lines split, the types line found by a loop, list -l parsed generically."""
    try:
        lines = text.split("\n")
        at = next((i for i, line in enumerate(lines)
                   if " total types:" in line and ng_text.TYPES_HEADER_RE.fullmatch(line.rstrip())), None)
        if at is None:
            raise ValueError("ngctl list -l/types output has no 'There are N total types:' line")
        nodes = ng_snapshot._nodes_of(ng_text.parse_list_long("\n".join(lines[:at])))
        types = ng_text.parse_types("\n".join(lines[at:]))
        return {"nodes": nodes, "types": sorted({row["type"] for row in types})}
    except ValueError as exc:
        return ("error", str(exc))


def new_graph_of(text):
    try:
        return ng_snapshot._graph_of(text)
    except ValueError as exc:
        return ("error", str(exc))


def old_cut(stdout):
    """parse_snapshot's cut as it was: (graph text, replies text)."""
    lines = stdout.split("\n")
    cut = next((i for i, line in enumerate(lines)
                if "Rec'd " in line and re.match(r"Rec'd (?:response|command) ", line.strip())), len(lines))
    return "\n".join(lines[:cut]), "\n".join(lines[cut:])


# ---------------------------------------------------------------------------
# The memo of the last graph
# ---------------------------------------------------------------------------
def test_memo_gives_an_equal_copy_without_parsing_again(monkeypatch):
    calls = []
    real = ng_snapshot._graph_of
    monkeypatch.setattr(ng_snapshot, "_graph_of", lambda text: calls.append(text) or real(text))
    monkeypatch.setattr(ng_snapshot, "_last_graph", None)
    first = ng_snapshot.parse_graph(GOLDEN_GRAPH)
    second = ng_snapshot.parse_graph(GOLDEN_GRAPH)
    assert first == second == real(GOLDEN_GRAPH) and first is not second
    assert len(calls) == 1  # positive control: the second call was the memo's
    assert "em0" in first["nodes"] and first["nodes"]["em0"]["hooks"]["upper"]["peer"] == "netflow_em0"


def test_no_mutation_of_a_result_reaches_the_memo(monkeypatch):
    monkeypatch.setattr(ng_snapshot, "_last_graph", None)
    pristine = ng_snapshot._graph_of(GOLDEN_GRAPH)
    for _ in range(2):  # the copy of a parse, then the copy of a memo hit
        got = ng_snapshot.parse_graph(GOLDEN_GRAPH)
        got["nodes"]["em0"]["type"] = "changed"
        got["nodes"]["em0"]["hooks"]["upper"]["peer_hook"] = "changed"
        del got["nodes"]["em0"]["hooks"]["lower"]
        got["nodes"]["netflow_em0"]["hooks"]["added"] = {}
        del got["nodes"]["em1"]
        got["types"].append("changed")
        got["types"].sort()
        assert got != pristine
        assert ng_snapshot.parse_graph(GOLDEN_GRAPH) == pristine


def test_another_text_is_parsed_anew(monkeypatch):
    monkeypatch.setattr(ng_snapshot, "_last_graph", None)
    moved = GOLDEN_GRAPH.replace("netflow      00000005        out1 ", "netflow      00000005        out7 ", 1)
    assert moved != GOLDEN_GRAPH
    assert ng_snapshot.parse_graph(GOLDEN_GRAPH)["nodes"]["em0"]["hooks"]["upper"]["peer_hook"] == "out1"
    assert ng_snapshot.parse_graph(moved)["nodes"]["em0"]["hooks"]["upper"]["peer_hook"] == "out7"
    assert ng_snapshot.parse_graph(GOLDEN_GRAPH)["nodes"]["em0"]["hooks"]["upper"]["peer_hook"] == "out1"


def test_an_invalid_text_raises_every_time(monkeypatch):
    monkeypatch.setattr(ng_snapshot, "_last_graph", None)
    bad = GOLDEN_GRAPH.replace("  lower           netflow_em0", "  lower           netflow_em0 extra", 1)
    for _ in range(2):
        with pytest.raises(ValueError, match="hook row needs 5 columns"):
            ng_snapshot.parse_graph(bad)
    ng_snapshot.parse_graph(GOLDEN_GRAPH)
    with pytest.raises(ValueError, match="no 'There are N total types:' line"):
        ng_snapshot.parse_graph("")
    with pytest.raises(ValueError, match="no 'There are N total types:' line"):
        ng_snapshot.parse_graph("")


def test_two_runs_of_ngctl_on_a_quiet_host_hit_the_memo(tmp_path, monkeypatch):
    """Each run lists ngctl's own socket (``ngctl<pid>``, a new ID): the rest is the same."""
    host, _ = watched.build(tmp_path / "h")
    first, second = (host.ngctl("-f", "-", stdin=ng_snapshot.GRAPH_SCRIPT).stdout for _ in range(2))
    assert first != second and re.sub(r"ngctl\d+ +Type: socket +ID: [0-9a-f]{8}", "", first) == \
        re.sub(r"ngctl\d+ +Type: socket +ID: [0-9a-f]{8}", "", second)  # positive control: only the socket differs
    monkeypatch.setattr(ng_snapshot, "_last_graph", None)
    ng_snapshot.parse_graph(first)
    calls = []
    real = ng_snapshot._graph_of
    monkeypatch.setattr(ng_snapshot, "_graph_of", lambda text: calls.append(text) or real(text))
    assert ng_snapshot.parse_graph(second) == real(second) and calls == []
    assert ng_snapshot.parse_graph(second.replace("lan_nf", "lan_nG")) == real(second.replace("lan_nf", "lan_nG"))
    assert len(calls) == 1  # positive control: another graph is parsed


@pytest.mark.parametrize("line", [
    "  Name: ngctl5          Type: socket          ID: 00000001   Num hooks: 1",
    "  Name: ngctl5x         Type: socket          ID: 00000001   Num hooks: 0",
    "  Name: ngctl5          Type: ksocket         ID: 00000001   Num hooks: 0",
    "  Name: ngctl5          Type: socket          ID: 00000001   Num hooks: 0 x",
    "   Name: ngctl5         Type: socket          ID: 00000001   Num hooks: 0",
])
def test_the_memo_key_keeps_any_other_node_line(line):
    own = "  Name: ngctl5          Type: socket          ID: 00000001   Num hooks: 0"
    assert ng_snapshot._OWN_SOCKET_LINE_RE.sub(ng_snapshot._OWN_SOCKET_LINE, f"x\n{own}\n") != f"x\n{own}\n"
    assert ng_snapshot._OWN_SOCKET_LINE_RE.sub(ng_snapshot._OWN_SOCKET_LINE, f"x\n{line}\n") == f"x\n{line}\n"


# ---------------------------------------------------------------------------
# The cut of a snapshot's stdout, and the types line, found by one search
# ---------------------------------------------------------------------------
def cut_of(stdout):
    cut = ng_snapshot._first_reply_line(stdout)
    cut = len(stdout) + 1 if cut < 0 else cut
    return stdout[:cut - 1] if cut else "", stdout[cut:]


@pytest.mark.parametrize("stdout", [
    "", "\n", GOLDEN_GRAPH, GOLDEN_GRAPH + (DATA / "ngsim_golden" / "msg-info.txt").read_text(),
    "Rec'd response \"info\" (1) from \"[5]:\":\nNo arguments\n", " \tRec'd command x\n",
    "a\nRec'd response \n  Rec'd response  \t\nRec'd response\n\x0bRec'd command \x85x\nrest",
    "a\nRec'd responsex\nRec'd  response x\n", "a\r\nRec'd response x\r\nb", "a\n\u2028Rec'd response x\n",
    "a\nRec'd response \x85\n", "a\nxRec'd response y\nRec'd command \"z\"",
])
def test_cut_equals_the_line_loop(stdout):
    assert cut_of(stdout) == old_cut(stdout)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["Rec'd ", "response ", "command ", "response", "\n", " ", "\t", "\r", "\x0b",
                                 "\x85", "\u2028", "\xa0", "x", '"'])).map("".join))
def test_generated_cut_equals_the_line_loop(stdout):
    assert cut_of(stdout) == old_cut(stdout)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["There are ", "1", "12", "\u0663", " total types:", " total nodes:", "\n", " ",
                                 "\t", "\r", "\x0b", "\x85", "\xa0", "x"])).map("".join))
def test_generated_types_line_equals_the_line_loop(text):
    lines = text.split("\n")
    old = next((i for i, line in enumerate(lines)
                if " total types:" in line and ng_text.TYPES_HEADER_RE.fullmatch(line.rstrip())), None)
    at = ng_snapshot._types_line(text)
    assert (None if at < 0 else text[:at].count("\n")) == old
    assert at <= 0 or text[at - 1] == "\n"


def test_a_real_snapshot_cuts_and_parses_as_before(tmp_path):
    host, cfg = watched.build(tmp_path / "h", params={**watched.PARAMS, "interfaces": ["em0", "em1", "em2"]})
    reqs = nf_watch.requests({"lan": cfg}, ng_snapshot.parse_graph(
        host.ngctl("-f", "-", stdin=ng_snapshot.GRAPH_SCRIPT).stdout))
    run = host.ngctl("-f", "-", stdin=ng_snapshot.snapshot_script(reqs))
    graph_text, replies_text = old_cut(run.stdout)
    assert replies_text.startswith("Rec'd response") and cut_of(run.stdout) == (graph_text, replies_text)
    graph, replies = ng_snapshot.parse_snapshot(run.stdout, run.stderr, run.returncode, reqs)
    assert graph == old_graph_of(graph_text)
    assert all(r["ok"] and r["reply"] for r in replies)


# ---------------------------------------------------------------------------
# The bulk fast path for list -l
# ---------------------------------------------------------------------------
def as_list_long(*shows, blank="\n"):
    """``list -l`` text of ``show`` texts (prompt lines dropped), as ngctl prints it."""
    blocks = ["\n".join(ng_text.clean_lines(text)) + "\n" for text in shows]
    return f"There are {len(blocks)} total nodes:\n" + blank.join(blocks)


@pytest.mark.parametrize("name", SHOW_FILES)
def test_show_captures_as_list_long_take_the_fast_path_and_match(name):
    show = (DATA / name).read_text()
    for text in (as_list_long(show), as_list_long(show).rstrip("\n")):
        assert check_fast(text) is not None


def test_all_captures_in_one_list_long_with_and_without_blank_lines():
    shows = [(DATA / name).read_text() for name in SHOW_FILES]
    for blank in ("\n", "", "\n\n"):
        nodes = check_fast(as_list_long(*shows, blank=blank))
        assert nodes is not None and {"bridge0", "ue0", "netflow_igc0", "em0"} <= set(nodes)
    golden = (DATA / "ngsim_golden" / "list-l.txt").read_text()
    assert check_fast(golden) is not None and "ngctl12345" not in check_fast(golden)  # own socket left out


@pytest.mark.parametrize("text", [
    "", "\n", "There are 0 total nodes:", "There are 1 total nodes:\n" + "  Name: em1 Type: ether ID: 00000002   Num hooks: 0",
    "There are 2 total named nodes:\n  Name: em1 Type: ether ID: 00000002   Num hooks: 0   \n\n\n"
    "  Name: <unnamed> Type: socket ID: 000000ab   Num hooks: 0\n  Name: ngctl1 Type: socket ID: 000000ac   Num hooks: 0\n",
    "There are 1 total nodes:\n  Name: <unnamed> Type: ether ID: 0000000c   Num hooks: 1\n"
    "  Local hook      Peer name       Peer type    Peer ID         Peer hook\n"
    "  ----------      ---------       ---------    -------         ---------\n"
    "  lower           <unnamed>       netflow      0000002a        iface0\n",
])
def test_small_common_texts_take_the_fast_path(text):
    nodes = check_fast(text)
    assert nodes is not None or not text.strip()
    assert "[c]" not in (nodes or {}) or nodes["[c]"]["hooks"]["lower"]["peer"] == "[2a]"


@pytest.mark.parametrize("text", [
    (DATA / "captures" / "netflow2ng_52_show_netflow_igc0.txt").read_text(),  # a prompt line, no header
    "\n" + GOLDEN_GRAPH.split("There are 4 total types")[0],  # a leading blank line
    GOLDEN_GRAPH.split("There are 4 total types")[0].replace("\n\n", "\n  \n"),  # blanks of spaces
    GOLDEN_GRAPH.split("There are 4 total types")[0].replace("\n", "\r\n"),
    GOLDEN_GRAPH.split("There are 4 total types")[0].replace("  upper  ", "\tupper  "),
    GOLDEN_GRAPH.split("There are 4 total types")[0].replace("Num hooks: 2\n  Local hook", "Num hooks: 2\n\n  Local hook"),
    "There are 1 total nodes:\n  Name: em0 Type: ether ID: 00000001   Num hooks: 2\n",  # `list` output
    "There are 1 total nodes:\n  Name: a b Type: ether ID: 00000001   Num hooks: 0\n",  # a name with a blank
    "There are 1 total nodes:\n  Name: em0 Type: ether ID: 00000001   Num hooks: 0\n"
    "  Local hook      Peer name       Peer type    Peer ID         Peer hook\n"
    "  ----------      ---------       ---------    -------         ---------\n",  # a table with no rows
    "There are 1 total nodes:\n  Name: em0 Type: ether ID: 00000001   Num hooks: 1\n"
    "  Local hook      Peer name       Peer type    Peer ID         Peer hook\n"
    "  ----------      ---------       ---------    -------         ---------\n"
    "  upper           x               y            0000000G        z\n",  # not a hex ID
])
def test_other_texts_go_to_the_generic_parser(text):
    assert ng_snapshot.fast_list_long_nodes(text) is None


def test_fast_path_errors_are_the_generic_parsers(monkeypatch):
    """A text the fast path declines raises what parse_list_long raises, through parse_graph too."""
    listed = GOLDEN_GRAPH.split("There are 4 total types")[0]
    bad = listed.replace("  lower           netflow_em0", "  lower  x  netflow_em0", 1)
    with pytest.raises(ValueError) as generic:
        ng_text.parse_list_long(bad)
    assert "hook row needs 5 columns" in str(generic.value)
    monkeypatch.setattr(ng_snapshot, "_last_graph", None)
    with pytest.raises(ValueError) as through_graph:
        ng_snapshot.parse_graph(GOLDEN_GRAPH.replace(listed, bad))
    assert str(through_graph.value) == str(generic.value)


def test_an_emulated_exporter_takes_the_fast_path(tmp_path, monkeypatch):
    ifaces = [f"em{i}" for i in range(300)]
    host, _ = watched.build(tmp_path / "h", params={**watched.PARAMS, "interfaces": ifaces}, ifaces=ifaces)
    text = host.ngctl("-f", "-", stdin=ng_snapshot.GRAPH_SCRIPT).stdout
    listed = text[:text.index("There are ") + 1 + text[1:].index("There are ")]
    nodes = check_fast(listed)
    assert nodes is not None and len(nodes["lan_nf"]["hooks"]) >= 600  # positive control: the big block
    taken = []
    real = ng_snapshot.fast_list_long_nodes
    monkeypatch.setattr(ng_snapshot, "fast_list_long_nodes", lambda t: taken.append(real(t) is not None) or real(t))
    assert ng_snapshot._graph_of(text) == old_graph_of(text) and taken == [True]
    old_style = "\n".join(line for line in text.split("\n") if line.strip())  # older ngctl: no blank lines
    assert ng_snapshot._graph_of(old_style) == old_graph_of(old_style) and taken == [True, True]


WORD = st.text(alphabet="aem0_-.:/<>", min_size=1, max_size=18)


def list_long_nodes(odd: bool):
    """Nodes to :func:`render`: ngctl's shape only, or with odd cells, names, IDs and counts too."""
    def maybe(common, *others):
        return st.one_of(common, st.sampled_from(others)) if odd else common
    cell = maybe(st.one_of(WORD, st.just("<unnamed>")), "a b", "", "\t", "x\xa0y", "Name:")
    hook = st.tuples(cell, cell, cell, maybe(st.integers(0, 2**32 - 1).map("%08x".__mod__), "0000000G", "1234567", "ABCDEF01"),
                     cell)
    node = st.tuples(maybe(st.one_of(WORD, st.sampled_from(["<unnamed>", "ngctl42", "em0"])), "a b", "a\tb"),
                     maybe(st.one_of(WORD, st.just("socket")), "a\tb"),
                     st.integers(0, 2**32 - 1), maybe(st.none(), 0, 1, 3),  # None: as many as the rows
                     maybe(st.one_of(st.lists(hook, min_size=1, max_size=4), st.none()), ()))  # (): a table, no rows
    return st.lists(node, max_size=5)


def render(nodes, blank, pad, header):
    """``list -l`` text as show.c prints it: columns padded, names longer than them pushing on."""
    out = [header] if header else []
    for name, type_, node_id, num, hooks in nodes:
        num = len(hooks or ()) if num is None else num
        out.append("  Name: %-15s Type: %-15s ID: %08x   Num hooks: %d" % (name, type_, node_id, num))
        if hooks is not None:
            out.append("  Local hook      Peer name       Peer type    Peer ID         Peer hook" + pad)
            out.append("  ----------      ---------       ---------    -------         ---------" + pad)
            out.extend("  %-15s %-15s %-12s %-15s %-15s" % hook if pad else "  %s %s %s %s %s" % hook for hook in hooks)
        out.append(blank)
    return "\n".join(out)


def list_long(odd: bool):
    """``list -l`` texts: ngctl's shape (old and new separators, padded or not), or odd ones too."""
    def maybe(common, *others):
        return st.one_of(common, st.sampled_from(others)) if odd else common
    return st.builds(render, list_long_nodes(odd), maybe(st.sampled_from(["", "\n"]), " ", "\t"), st.sampled_from(["", "   "]),
                     maybe(st.sampled_from(["There are 3 total nodes:", "There are 1 total named nodes:"]),
                           "", "  There are 2 total nodes:", "There are 2 total types:"))


LIST_LONG = st.one_of(list_long(odd=False), list_long(odd=True))


@settings(max_examples=600, deadline=None)
@given(LIST_LONG)
def test_generated_list_long_fast_path_equals_generic(text):
    check_fast(text)


@settings(max_examples=400, deadline=None)
@given(LIST_LONG, st.lists(st.tuples(st.integers(0, 10**4), st.sampled_from(["", " ", "\n", "\n\n", "x", "\t", "0", "<"])),
                           max_size=3))
def test_mutated_list_long_fast_path_equals_generic(text, edits):
    for at, piece in edits:  # replace one character (or none) at a spot
        at %= len(text) + 1
        text = text[:at] + piece + text[at + 1:]
    check_fast(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(WORD, WORD, st.integers(0, 2**32 - 1), st.lists(st.tuples(WORD, WORD, WORD, WORD), max_size=3)),
                max_size=5), st.sampled_from(["", "\n"]))
def test_generated_well_formed_list_long_takes_the_fast_path(nodes, blank):
    """Positive control for the generated texts: ngctl's shape (``%08x`` IDs, words) is always taken."""
    shaped = [(name, type_, node_id, None, [(h, p, t, "%08x" % node_id, ph) for h, p, t, ph in hooks] or None)
              for name, type_, node_id, hooks in nodes]
    text = render(shaped, blank, "   ", f"There are {len(nodes)} total nodes:")
    assert check_fast(text) is not None


@settings(max_examples=300, deadline=None)
@given(LIST_LONG, st.sampled_from(["", "\n"]))
def test_generated_graph_texts_parse_as_before(text, gap):
    full = text + gap + (DATA / "ngsim_golden" / "types.txt").read_text()
    assert new_graph_of(full) == old_graph_of(full)


# ---------------------------------------------------------------------------
# The replies in bulk
# ---------------------------------------------------------------------------
REPLY_FILES = sorted((DATA / "captures").glob("*.txt")) + [DATA / "ngsim_golden" / "msg-info.txt"]


def outcome(split, text):
    try:
        return split(text)
    except ValueError as exc:
        return ("error", str(exc))


def check_replies(text):
    """The bulk path's replies, held equal to the line-by-line way's (values or error) when taken."""
    try:
        fast = ng_text._fast_replies(text)
    except ValueError as exc:
        fast = ("error", str(exc))
    if fast is not None:
        assert fast == outcome(ng_text._split_replies_generic, text), text
    assert outcome(ng_text.split_replies, text) == outcome(ng_text._split_replies_generic, text)
    return fast


def reply_captures():
    cleaned = ["\n".join(ng_text.clean_lines(p.read_text())) + "\n" for p in REPLY_FILES]  # prompt lines dropped
    return [text for text in cleaned if text.lstrip().startswith("Rec'd")]


def test_reply_captures_take_the_bulk_path_and_match():
    texts = reply_captures()
    taken = [text for text in texts if check_replies(text) is not None]
    assert len(taken) >= 4 and any("getstats" in text for text in taken)  # positive control
    for joined in ("".join(texts), "\n".join(texts), "".join(texts).replace("\n", "\r\n"), "".join(texts).rstrip("\n")):
        check_replies(joined)
    assert check_replies("".join(texts)) is not None


def test_an_emulated_exporters_replies_take_the_bulk_path(tmp_path):
    ifaces = [f"em{i}" for i in range(50)]
    host, cfg = watched.build(tmp_path / "h", params={**watched.PARAMS, "interfaces": ifaces}, ifaces=ifaces)
    graph = ng_snapshot.parse_graph(host.ngctl("-f", "-", stdin=ng_snapshot.GRAPH_SCRIPT).stdout)
    reqs = nf_watch.requests({"lan": cfg}, graph)
    stdout = host.ngctl("-f", "-", stdin=ng_snapshot.snapshot_script(reqs)).stdout
    replies = check_replies(cut_of(stdout)[1])
    assert replies is not None and sum(r["cmd"] == "ifinfo" for r in replies) == 50  # positive control


def test_equal_args_are_parsed_once_yet_each_reply_has_its_own(monkeypatch):
    calls = []
    real = ng_text.parse_ascii
    monkeypatch.setattr(ng_text, "parse_ascii", lambda text: calls.append(text) or real(text))
    head = 'Rec\'d response "ifinfo" (805306370) from "[7d2]:":\n'
    text = (head + "Args:\t{ data link type=1 conf=11 }\n") * 3 + head + "Args:\t{ a=[ 1 ] }\n" * 1 \
        + head + "Args:\t{ a=[ 1 ] }\n"
    replies = ng_text.split_replies(text)
    assert calls == ["{ data link type=1 conf=11 }", "{ a=[ 1 ] }", "{ a=[ 1 ] }"]  # nested: not kept, parsed again
    replies[0]["args"]["conf"] = 0
    replies[3]["args"]["a"].append(2)
    assert replies[1]["args"] == replies[2]["args"] == {"data link type": 1, "conf": 11}
    assert replies[4]["args"] == {"a": [1]}


@pytest.mark.parametrize("text", [
    "", "\n\n", 'Rec\'d response "x" (1) from "[5]:":\nNo arguments', ' Rec\'d command "x" (-1) from "[aB]:":  \n  Args: \t 7 \n\n',
])
def test_small_reply_texts_take_the_bulk_path(text):
    assert check_replies(text) is not None


@pytest.mark.parametrize("text", [
    'junk\nRec\'d response "x" (1) from "[5]:":\nNo arguments\n',
    'Rec\'d response "x" (1) from "lan_nf:":\nNo arguments\n',  # a name for a sender
    'Rec\'d response "a"b" (1) from "[5]:":\nNo arguments\n',  # a quote in the message's name
    'Rec\'d response 1 from "[5]:":\n0000: 01 02\n',  # a hex dump
    'Rec\'d response "x" (1) from "[5]:":\n',  # no argument line
    'Rec\'d response "x" (1) from "[5]:":\nArgs:\t\n',  # nothing after Args:
    'Rec\'d response "x" (1) from "[5]:":\nArgs:\t1\nmore\n',
    'Rec\'d response "x" (1) from "[5]:":\n  \nArgs:\t1\n',
    'Rec\'d response "x" (1) from "[5]:":\r\nArgs:\t1\r\n',
    'Rec\'d response "x" (1) from "[5]:":\nArgs:\t1\r2\n', 'Rec\'d response "x" (1) from "[5]:":\nArgs:7\n',
])
def test_other_reply_texts_go_the_generic_way(text):
    assert ng_text._fast_replies(text) is None
    check_replies(text)


ARGS = st.one_of(st.sampled_from(["{ data link type=1 conf=11 }", "{ a=1", "{ a=[ 1 2 ] }", '"x"', "inet/1.2.3.4:5", "7",
                                  "{}", "", " ", "{ a=\t1 }", "\xa0{ a=1 }\x85", "{ a=1 }  \t"]),
                 st.text(alphabet="{}[]= \tab1\"", max_size=12))


GOOD_ARGS = st.sampled_from(["{ data link type=1 conf=11 }", "{ a=[ 1 2 ] }", '"x"', "inet/1.2.3.4:5", "7", "{}",
                             "{ Inactive timeout=15 Active timeout=1800 }"])


def reply(odd: bool):
    """One reply's text as ngctl prints it, or with odd indents, senders, lines and gaps too."""
    def maybe(common, *others):
        return st.one_of(common, st.sampled_from(others)) if odd else common
    return st.builds(
        lambda indent, kind, cmd, num, sender, arg_line, gap: (
            f"{indent}Rec'd {kind} \"{cmd}\" ({num}) from \"{sender}\":{indent}\n{indent}{arg_line}\n{gap}"),
        maybe(st.just(""), " ", "\t"), maybe(st.sampled_from(["response", "command"]), "reply"),
        st.text(alphabet="ifno \"\r\n" if odd else "ifno", max_size=6), st.integers(-5, 2**31),
        maybe(st.sampled_from(["[7d2]:", "[AB]:"]), "lan_nf:", "[]:", "[7g]:"),
        st.one_of((ARGS if odd else GOOD_ARGS).map("Args:\t{}".format), (ARGS if odd else GOOD_ARGS).map("Args: {}".format),
                  maybe(st.just("No arguments"), "Args:", "x")),
        maybe(st.sampled_from(["", "\n"]), " \n", "junk\n"))


REPLIES = st.one_of(st.lists(reply(odd=False), max_size=5),  # ngctl's shape, or odd replies among them
                    st.lists(st.one_of(reply(odd=False), reply(odd=True)), min_size=1, max_size=5)).map("".join)


@settings(max_examples=500, deadline=None)
@given(REPLIES, st.one_of(st.just(""), st.sampled_from(["\n", " \n", "junk\n"])))
def test_generated_replies_bulk_path_equals_generic(text, before):
    check_replies(before + text)


@settings(max_examples=300, deadline=None)
@given(REPLIES,
       st.lists(st.tuples(st.integers(0, 10**4), st.sampled_from(["", " ", "\n", "\t", "x", '"', "{", "\r"])), max_size=3))
def test_mutated_replies_bulk_path_equals_generic(text, edits):
    for at, piece in edits:
        at %= len(text) + 1
        text = text[:at] + piece + text[at + 1:]
    check_replies(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(reply(odd=False), max_size=5).map("".join))
def test_generated_well_formed_replies_take_the_bulk_path(text):
    """Positive control for the generated texts: ngctl's shape is always taken."""
    assert check_replies(text) is not None


@settings(max_examples=300, deadline=None)
@given(st.one_of(list_long_nodes(odd=False), list_long_nodes(odd=True)), st.integers(0, 5),
       st.tuples(st.integers(0, 10**6), st.integers(0, 2**32 - 1)), st.sampled_from([None, [("h", "p", "t", "00000001", "ph")]]),
       st.sampled_from(["", "\n"]), st.sampled_from(["", "   "]))
def test_texts_that_differ_in_ngctls_own_socket_only_give_one_model(nodes, at, other, own_hooks, blank, pad):
    """The memo's key is sound: two texts with the same key have the same model (or neither parses)."""
    types = "\n" + (DATA / "ngsim_golden" / "types.txt").read_text()
    texts = [render(nodes[:at] + [(f"ngctl{pid}", "socket", node_id, 0, own_hooks)] + nodes[at:], blank, pad,
                    "There are 3 total nodes:") + types for pid, node_id in ((4494, 0x7d5), other)]
    keys = [ng_snapshot._OWN_SOCKET_LINE_RE.sub(ng_snapshot._OWN_SOCKET_LINE, text) for text in texts]
    assert keys[0] == keys[1]
    first, second = new_graph_of(texts[0]), new_graph_of(texts[1])
    assert first == second or (first[0] == "error" and second[0] == "error")
    ng_snapshot._last_graph = None
    assert outcome(ng_snapshot.parse_graph, texts[0]) == first and outcome(ng_snapshot.parse_graph, texts[1]) == second
