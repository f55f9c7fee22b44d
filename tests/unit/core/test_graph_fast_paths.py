"""The graph read's shortcuts (``ng_snapshot``): the memo of the last graph text and the cut
of a snapshot's stdout found by one search: each gives exactly what the line-by-line way
gives, on the captures, on ngsim's output of a real exporter and on generated text.
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
