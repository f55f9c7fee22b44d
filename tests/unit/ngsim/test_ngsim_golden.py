"""Byte-for-byte reproduction of the reference's derived examples (§2.1-2.3, 2.5, 5.2, 6.1).

The §6.1 OPNsense-style scenario is replayed with one ngctl process per step, so the IDs
come out as the reference derives them (netflow 5, ksocket 0xb, the listing process 0xe).
"""
from __future__ import annotations

import pathlib

import pytest

from ngsim.testing import Host, script_lines

GOLDEN = pathlib.Path(__file__).resolve().parents[2] / "data" / "ngsim_golden"


def golden(name: str) -> str:
    return (GOLDEN / name).read_text(encoding="utf-8")


OPNSENSE_STEPS = [line.split() for line in script_lines(GOLDEN.parent / "opnsense_rc_netflow.ngctl")]


@pytest.fixture(scope="module")
def opnsense_state(tmp_path_factory) -> str:
    host = Host.create(str(tmp_path_factory.mktemp("opn") / "h"), ifaces=("em0", "em1"),
                       loaded=("ng_ether",))
    rcs = [host.ngctl(*step).returncode for step in OPNSENSE_STEPS]
    assert rcs == [71] + [0] * 8
    return host.saved()


@pytest.fixture
def opnsense(opnsense_state, tmp_path) -> Host:
    """A host in the state right after the §6.1 script (next node ID is 0xe)."""
    return Host.restored(str(tmp_path / "h"), opnsense_state, ifaces=("em0", "em1"))


def batch(host: Host, *lines: str) -> str:
    """Run lines in ONE ngctl process (socket node ID 0xe, name ngctl12345)."""
    r = host.ngctl("-f", "-", stdin="".join(line + "\n" for line in lines), pid=12345)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    return r.stdout


def test_list(opnsense):
    assert batch(opnsense, "list") == golden("list.txt")


def test_list_long(opnsense):
    assert batch(opnsense, "list -l") == golden("list-l.txt")


@pytest.mark.parametrize("node,gold", [
    ("netflow_em0:", "show-netflow_em0.txt"),
    ("em0:", "show-em0.txt"),
    ("ksocket_netflow_em0:", "show-ksocket_netflow_em0.txt"),
    ("em1:", "show-em1.txt"),
])
def test_show(opnsense, node, gold):
    assert batch(opnsense, "show " + node) == golden(gold)


def test_show_trailing_spaces_kept(opnsense):
    text = batch(opnsense, "show em0:")
    assert "  Local hook      Peer name       Peer type    Peer ID         Peer hook      \n" in text


def test_types(opnsense):
    assert batch(opnsense, "types") == golden("types.txt")


def test_dot(opnsense):
    assert batch(opnsense, "dot") == golden("dot.txt")


def test_dot_to_file(opnsense, tmp_path):
    out = tmp_path / "g.dot"
    assert batch(opnsense, "dot %s" % out) == ""
    assert out.read_text() == golden("dot.txt")


def test_help(opnsense):
    assert batch(opnsense, "help") == golden("help.txt")


def test_msg_info_fresh_defaults(opnsense):
    assert batch(opnsense, "msg netflow_em0: info") == golden("msg-info.txt")


def test_msg_ifinfo_after_setup(opnsense):
    assert batch(opnsense, "msg netflow_em0: ifinfo 1") == (
        'Rec\'d response "ifinfo" (805306370) from "[5]:":\n'
        "Args:\t{ data link type=1 conf=11 }\n")


def test_msg_getpeername(opnsense):
    assert batch(opnsense, "msg ksocket_netflow_em0: getpeername") == (
        'Rec\'d response "getpeername" (6) from "[b]:":\n'
        "Args:\tinet/127.0.0.1:2055\n")


def test_ksocket_id_gap_is_six(opnsense):
    st = opnsense.state()
    ids = {n["name"]: n["id"] for n in st["nodes"].values()}
    assert ids["ksocket_netflow_em0"] == ids["netflow_em0"] + 6


def test_opnsense_stop_idiom(opnsense):
    """`ngctl list | grep "Type: netflow" | awk '{print $2}'` finds the node to stop."""
    out = opnsense.ngctl("list").stdout
    names = [line.split()[1] for line in out.splitlines() if "Type: netflow" in line]
    assert names == ["netflow_em0"]
