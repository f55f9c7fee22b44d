"""The parsers' fast paths for the common reply shapes (the beacon reads 2,000 ifinfo
replies and a 2,000-node ``list -l`` per interval) give exactly what the generic parsers
give, on real FreeBSD captures, on ngsim's golden output and on generated text; any other
shape goes to the generic parser, errors included.
"""
from __future__ import annotations

import pathlib

import pytest
from hypothesis import given, settings, strategies as st

from netgraph_core import ng_ascii, ng_snapshot, ng_text
from netgraph_core.nf_settings import settings_queries
from netgraph_core.nf_status import owned
from ngsim.testing import Host

DATA = pathlib.Path(__file__).resolve().parents[2] / "data"
REPLY_FILES = sorted((DATA / "captures").glob("*.txt")) + [DATA / "ngsim_golden" / "msg-info.txt"]
SHOW_FILES = ["captures/iocage_show_bridge0_many.txt", "captures/iocage_show_bridge0_one.txt",
              "captures/netflow2ng_52_show_netflow_igc0.txt", "captures/pfatt_readme_show_ue0.txt",
              "ngsim_golden/show-em0.txt", "ngsim_golden/show-ksocket_netflow_em0.txt",
              "ngsim_golden/show-netflow_em0.txt"]


def generic(text):
    """ng_parse's ASCII through the generic tokenizer/parser only: a value or the error."""
    try:
        parser = ng_ascii._AsciiParser(text)
        value = parser.value()
        if parser.peek() is not None:
            raise ValueError("trailing text")
        return value
    except (ValueError, IndexError) as exc:
        return ("error", type(exc).__name__)


def check_flat(text):
    flat = ng_ascii._flat_struct(text)
    if flat is not None:  # taken: it must be what the generic parser gives
        assert flat == generic(text), text
    return flat


def args_texts():
    for path in REPLY_FILES:
        for line in path.read_text().splitlines():
            if line.strip().startswith("Args:"):
                yield path.name, line.strip()[len("Args:"):].strip()


def test_flat_structs_of_the_captures_equal_the_generic_parser():
    taken = [name for name, text in args_texts() if check_flat(text) is not None]
    assert "iocage_bridge_getstats.txt" in taken and "msg-info.txt" in taken  # positive control: the fast path ran


@pytest.mark.parametrize("text", [
    "{ data link type=1 conf=11 }", "{ Inactive timeout=15 Active timeout=1800 }", "{}", "{ }", " {\ta=0x1f b=-07 c=010 d=08 }",
    "{ v9 template packets=500 v9 template time=600 v9 MTU=1500 }", "{ a=inet/1.2.3.4:5 }",
])
def test_common_shapes_take_the_fast_path_and_match(text):
    assert check_flat(text) is not None


@pytest.mark.parametrize("text", [
    "{ a }", "{ =1 }", "{ a=1 =2 }", "{ a= }", "{ a==1 }", "{ a=1 a=2 }", "{ a=1 b }", "{ a=1 b c }",
    "{ a={ b=1 } }", "{ a=[ 1 2 ] }", '{ a="x y" }', "{ a=1", "a=1 }", "{ a=1 } }", "{ a=1 }x", "[ 1 ]",
])
def test_other_shapes_go_to_the_generic_parser(text):
    assert ng_ascii._flat_struct(text) is None
    try:
        expected = generic(text)
    except Exception as exc:  # pragma: no cover - the generic parser never raises anything else
        pytest.fail(f"{text!r}: {exc!r}")
    got = ng_ascii.parse_ascii(text) if not isinstance(expected, tuple) else None
    assert isinstance(expected, tuple) or got == expected


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="{}[]= \t\n\u00a0ab1x0-\"", max_size=30))
def test_generated_text_fast_path_equals_generic(text):
    check_flat(text)


def old_split_replies(text):
    """split_replies as it was: each chunk joined and given to parse_reply."""
    chunks, current = [], []
    for line in text.split("\n"):
        if ng_text._REPLY_HEAD_RE.fullmatch(line.rstrip()) or ng_text._REPLY_HEX_RE.match(line):
            if current:
                chunks.append("\n".join(current))
            current = [line]
        elif current:
            current.append(line)
    if current:
        chunks.append("\n".join(current))
    return [ng_text.parse_reply(chunk) for chunk in chunks]


def test_split_replies_equals_parse_reply_per_chunk():
    cleaned = ["\n".join(ng_text.clean_lines(p.read_text())) for p in REPLY_FILES]  # prompt lines dropped
    texts = [text for text in cleaned if text.lstrip().startswith("Rec'd")]
    joined = "\n".join(texts) + "\n\n  \n"
    assert len(texts) >= 4
    assert ng_text.split_replies(joined) == old_split_replies(joined)
    crlf = joined.replace("\n", "\r\n")  # the chunks with a carriage return take parse_reply itself
    assert ng_text.split_replies(crlf) == old_split_replies(crlf)


def test_attribute_replies_consumes_what_it_used():
    replies = [{"cmd": "info"}, {"cmd": "ifinfo"}, {"cmd": "getname"}]
    out = ng_text.attribute_replies(["info", "v9info", "ifinfo"], replies)
    assert [r["reply"] for r in out] == [{"cmd": "info"}, None, {"cmd": "ifinfo"}]
    assert replies == [{"cmd": "getname"}]


@pytest.mark.parametrize("name", SHOW_FILES)
def test_hook_table_fast_path_equals_row_by_row(name):
    lines = ng_text.clean_lines((DATA / name).read_text())
    node = ng_text.parse_show((DATA / name).read_text())
    rows = [ng_text._parse_hook_row(line, i) for i, line in enumerate(lines[3:], 4)]
    assert node["hooks"] == rows and rows  # positive control: there were rows


def test_hook_table_errors_still_name_the_row():
    text = (DATA / "ngsim_golden" / "show-em0.txt").read_text().rstrip("\n") + "\n  bad row\n"
    with pytest.raises(ValueError, match=r"line \d+: hook row needs 5 columns"):
        ng_text.parse_show(text)


def test_owned_is_the_set_settings_queries_reads(tmp_path):
    host = Host.create(str(tmp_path / "h"), ["em0", "em1"])
    assert host.kldload("ng_ether", "ng_netflow", "ng_ksocket", "ng_one2many").returncode == 0
    batch = ("mkpeer em0: netflow lower iface0\nname em0:lower lan_nf\nconnect em0: lan_nf: upper out0\n"
             "mkpeer lan_nf: one2many export9 one\nname lan_nf:export9 lan_v9\n"
             "mkpeer lan_v9: ksocket many0 inet/dgram/udp\nname lan_v9:many0 lan_v9_0\n"
             "mkpeer em1: ksocket lower inet/dgram/udp\nname em1:lower lan_v9_1\n")
    assert host.ngctl("-f", "-", stdin=batch).returncode == 0
    graph = ng_snapshot.parse_graph(host.ngctl("-f", "-", stdin=ng_snapshot.GRAPH_SCRIPT).stdout)
    for name in ("lan", "wan", "la"):
        assert owned(graph, name) == {q[0][:-1] for q in settings_queries(graph, name)}
    assert owned(graph, "lan") == {"lan_nf", "lan_v9", "lan_v9_0"}  # lan_v9_1 hangs off em1: not ours


def test_snapshot_script_checks_each_path_and_message_pair_once_and_still_refuses():
    good = [["lan_nf:", "ifinfo", str(i)] for i in range(3)]
    assert ng_snapshot.snapshot_script(good).count("msg lan_nf: ifinfo") == 3, "positive control"
    for bad in (good + [["lan_nf:", "setifinfo", "0"]], good + [["lan_nf", "ifinfo", "0"]],
                good + [["lan_nf:", "ifinfo", "0 1"]], good + [[b"lan_nf:", "ifinfo", "0"]]):
        with pytest.raises(ValueError, match=r"requests\[3\]"):
            ng_snapshot.snapshot_script(bad)

    class Sly(str):  # equal to a checked pair, yet not a str: checked again, not taken from the set
        def __eq__(self, other):
            return True

        def __hash__(self):
            return hash("lan_nf:")
    with pytest.raises(ValueError, match=r"requests\[1\]"):
        ng_snapshot.snapshot_script([["lan_nf:", "info"], [Sly("lan nf:"), "info"]])


def _word_value_by_regex(word):
    """ng_ascii._word_value before its plain-decimal shortcut: the regexes alone."""
    if ng_ascii._INT_RE.fullmatch(word):
        return int(word, 8) if ng_ascii._OCTAL_RE.fullmatch(word) else int(word, 0)
    return word


@pytest.mark.parametrize("word", ["0", "00", "007", "010", "08", "1", "12345", "4294967295", "+5", "-5", "0x1f",
                                  "1_000", "\u0663", "\u00b2", "12a", "inet/1.2.3.4:5"])
def test_a_word_reads_as_the_regexes_read_it(word):
    assert ng_ascii._word_value(word) == _word_value_by_regex(word)
    assert type(ng_ascii._word_value(word)) is type(_word_value_by_regex(word))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("0123456789+-_xXaf\u0663\u00b2 "), min_size=1, max_size=12))
def test_generated_words_read_as_the_regexes_read_them(word):
    got, want = ng_ascii._word_value(word), _word_value_by_regex(word)
    assert got == want and type(got) is type(want)
