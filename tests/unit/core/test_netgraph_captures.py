"""The netgraph parsers on real output pasted from FreeBSD, pfSense and OPNsense hosts.

Every capture lives verbatim in tests/data/captures/ with its source in SOURCES.md.
The expected values below were read off the capture by eye, not computed by the parser.
"""
import pathlib

from netgraph_core import ng_ops
from netgraph_core import ng_text
from netgraph_core import ng_systext
from netgraph_core import ng_words
import pytest

from ngsim.testing import load_file

REPO = pathlib.Path(__file__).resolve().parents[3]
CAPTURES = REPO / "tests" / "data" / "captures"

# The Salt glue, only for its error-text helper (Salt's loader is not needed for that).
ng = load_file(REPO / "_modules" / "netgraph.py", "netgraph_under_test")


def cap(name):
    return (CAPTURES / name).read_text()


def test_every_capture_is_listed_in_sources():
    sources = cap("SOURCES.md")
    for path in CAPTURES.iterdir():
        if path.name != "SOURCES.md":
            assert f"`{path.name}`" in sources, path.name


# --- ngctl list -----------------------------------------------------------------


def test_pfatt_readme_list_with_dollar_prompt():
    nodes = ng_text.parse_list(cap("pfatt_readme_list.txt"))
    assert [n["name"] for n in nodes] == [
        "o2m", "vlan0", "ngeth0", None, "ngctl28740", "waneapfilter", "laneapfilter", "bce0", "ue0",
    ]
    assert nodes[0] == {"name": "o2m", "type": "one2many", "id": 0xA0, "num_hooks": 3}
    assert nodes[3] == {"name": None, "type": "socket", "id": 0x6, "num_hooks": 0}
    assert nodes[4]["id"] == 0xCA
    assert nodes[6] == {"name": "laneapfilter", "type": "etf", "id": 0xAE, "num_hooks": 3}
    assert nodes[8] == {"name": "ue0", "type": "ether", "id": 0x16, "num_hooks": 2}


def test_iocage_list_fixture_sixteen_rows():
    # The fixture's header says 17 but it lists 16 rows (hand-edited upstream);
    # the parser reports what is printed.
    nodes = ng_text.parse_list(cap("iocage_list_many_nodes.txt"))
    assert len(nodes) == 16
    assert nodes[0] == {"name": "bridge0", "type": "bridge", "id": 0x40, "num_hooks": 10}
    assert nodes[11] == {"name": "ngctl95542", "type": "socket", "id": 0x338, "num_hooks": 0}
    assert nodes[-1] == {"name": "vnet0_18", "type": "eiface", "id": 0xBF, "num_hooks": 1}


def test_netflow2ng_list_grep_long_names_without_header():
    nodes = ng_text.parse_list(cap("netflow2ng_52_list_grep.txt"))
    assert nodes == [
        {"name": "ksocket_netflow_igc1", "type": "ksocket", "id": 0xE4, "num_hooks": 1},
        {"name": "netflow_igc0", "type": "netflow", "id": 0xE9, "num_hooks": 3},
        {"name": "ksocket_netflow_igc0", "type": "ksocket", "id": 0xEF, "num_hooks": 1},
        {"name": "netflow_igc1", "type": "netflow", "id": 0xDE, "num_hooks": 3},
    ]


def test_elatov_opnsense_list_indented_with_root_prompt():
    nodes = ng_text.parse_list(cap("elatov_opnsense_list.txt"))
    assert len(nodes) == 6
    assert nodes[0] == {"name": "ksocket_netflow_re0", "type": "ksocket", "id": 0xA3, "num_hooks": 1}
    assert nodes[1] == {"name": "re0", "type": "ether", "id": 0x4, "num_hooks": 2}
    assert nodes[4] == {"name": "ngctl93969", "type": "socket", "id": 0xB3, "num_hooks": 0}
    assert nodes[5] == {"name": "netflow_re0", "type": "netflow", "id": 0x9D, "num_hooks": 3}


def test_opnsense_7947_list_mpd_tee_name_longer_than_15():
    nodes = ng_text.parse_list(cap("opnsense_7947_list_head.txt"))
    assert nodes[0] == {"name": "ngctl81970", "type": "socket", "id": 0x143, "num_hooks": 0}
    assert nodes[6] == {"name": "mpd17989-wan_link0-lt", "type": "tee", "id": 0x8, "num_hooks": 2}
    assert nodes[4] == {"name": "ng0", "type": "iface", "id": 0x6, "num_hooks": 2}
    assert nodes[-1] == {"name": "igc1", "type": "ether", "id": 0xB, "num_hooks": 0}


def test_opnsense_1741_list_head():
    nodes = ng_text.parse_list(cap("opnsense_1741_list_head.txt"))
    assert [n["name"] for n in nodes] == ["vtnet0", "vtnet1", "mpd12950-lso", "mpd12950-cso", "mpd12950-eso"]
    assert nodes[0] == {"name": "vtnet0", "type": "ether", "id": 1, "num_hooks": 2}
    assert nodes[2]["id"] == 6 and nodes[2]["num_hooks"] == 1


def test_pfatt_49_list_inside_markdown_backticks():
    text = cap("pfatt_49_list_backticks.txt")
    # The issue comment wrapped the paste in `...`; that backtick is not ngctl's.
    with pytest.raises(ValueError):
        ng_text.parse_list(text)
    nodes = ng_text.parse_list(text.replace("`", ""))
    assert nodes == [
        {"name": "mvneta0", "type": "ether", "id": 1, "num_hooks": 1},
        {"name": None, "type": "socket", "id": 6, "num_hooks": 0},
        {"name": "o2m", "type": "one2many", "id": 0x19, "num_hooks": 1},
        {"name": "ngctl58437", "type": "socket", "id": 0x1A, "num_hooks": 0},
    ]


# --- ngctl show -----------------------------------------------------------------


def test_pfatt_show_ue0_trailing_spaces_stripped():
    node = ng_text.parse_show(cap("pfatt_readme_show_ue0.txt"))
    assert node["name"] == "ue0" and node["type"] == "ether"
    assert node["id"] == 0x16 and node["num_hooks"] == 2
    assert node["hooks"] == [
        {"hook": "upper", "peer_name": "laneapfilter", "peer_type": "etf", "peer_id": 0xAE, "peer_hook": "nomatch"},
        {"hook": "lower", "peer_name": "laneapfilter", "peer_type": "etf", "peer_id": 0xAE, "peer_hook": "downstream"},
    ]


def test_netflow2ng_show_netflow_node_trailing_spaces_kept():
    text = cap("netflow2ng_52_show_netflow_igc0.txt")
    assert "Peer hook      \n" in text  # the capture kept ngctl's padding
    node = ng_text.parse_show(text)
    assert (node["name"], node["type"], node["id"], node["num_hooks"]) == ("netflow_igc0", "netflow", 0xE9, 3)
    assert node["hooks"] == [
        {"hook": "export9", "peer_name": "ksocket_netflow_igc0", "peer_type": "ksocket", "peer_id": 0xEF,
         "peer_hook": "inet/dgram/udp"},
        {"hook": "out1", "peer_name": "igc0", "peer_type": "ether", "peer_id": 2, "peer_hook": "upper"},
        {"hook": "iface1", "peer_name": "igc0", "peer_type": "ether", "peer_id": 2, "peer_hook": "lower"},
    ]


def test_iocage_show_bridge_one_member():
    node = ng_text.parse_show(cap("iocage_show_bridge0_one.txt"))
    assert node["id"] == 0x40 and node["num_hooks"] == 1
    assert node["hooks"] == [
        {"hook": "link0", "peer_name": "ngeth0", "peer_type": "eiface", "peer_id": 0x39, "peer_hook": "ether"}
    ]


def test_iocage_show_bridge_many_members_in_printed_order():
    node = ng_text.parse_show(cap("iocage_show_bridge0_many.txt"))
    # "Num hooks: 10" above 11 rows: the fixture was edited upstream; rows are reported as printed.
    assert node["num_hooks"] == 10
    assert [h["hook"] for h in node["hooks"]] == [
        "link5", "link10", "link9", "link8", "link7", "link6", "link4", "link3", "link2", "link1", "link0",
    ]
    assert node["hooks"][0] == {"hook": "link5", "peer_name": "vnet1_38", "peer_type": "eiface",
                                "peer_id": 0x2ED, "peer_hook": "ether"}
    assert node["hooks"][-1] == {"hook": "link0", "peer_name": "em0", "peer_type": "ether",
                                 "peer_id": 1, "peer_hook": "lower"}


# --- ngctl dot ------------------------------------------------------------------


def test_pfatt_dot():
    graph = ng_text.parse_dot(cap("pfatt_ngctl.dot"))
    assert graph["nodes"] == {
        0xA0: {"name": "o2m", "type": "one2many"},
        0xA3: {"name": "vlan0", "type": "vlan"},
        0xA6: {"name": "ngeth0", "type": "eiface"},
        0xAA: {"name": "waneapfilter", "type": "etf"},
        0xAE: {"name": "laneapfilter", "type": "etf"},
        0x6E: {"name": "bce0", "type": "ether"},
        0x16: {"name": "ue0", "type": "ether"},
    }
    assert graph["edges"] == [
        [[0xA0, "one"], [0x6E, "lower"]],
        [[0xA3, "downstream"], [0xA0, "many0"]],
        [[0xA6, "ether"], [0xA3, "vlan0"]],
        [[0xAA, "downstream"], [0xA0, "many1"]],
        [[0xAE, "eapout"], [0xAA, "eapout"]],
        [[0xAE, "nomatch"], [0x16, "upper"]],
        [[0xAE, "downstream"], [0x16, "lower"]],
    ]


def test_pfatt_dot_agrees_with_pfatt_show():
    graph = ng_text.parse_dot(cap("pfatt_ngctl.dot"))
    node = ng_text.parse_show(cap("pfatt_readme_show_ue0.txt"))
    links = {(b[0], b[1]): (a[0], a[1]) for a, b in graph["edges"]}
    for hook in node["hooks"]:
        assert links[(node["id"], hook["hook"])] == (hook["peer_id"], hook["peer_hook"])


# --- msg replies ----------------------------------------------------------------


def test_iocage_bridge_getstats_reply():
    reply = ng_text.parse_reply(cap("iocage_bridge_getstats.txt"))
    assert reply["cmd"] == "getstats" and reply["cmd_num"] == 4 and reply["from"] == 0x40
    assert reply["args"]["recvOctets"] == 23741691373
    assert reply["args"]["recvUnknown"] == 12573
    assert reply["args"]["xmitBroadcasts"] == 114523
    assert len(reply["args"]) == 9


def test_elatov_getpeername_tab_became_one_space():
    reply = ng_text.parse_reply(cap("elatov_getpeername.txt"))
    assert reply == {"cmd": "getpeername", "cmd_num": 6, "from": 0xE4, "args": "inet/127.0.0.1:2055"}


def test_jail_networking_getifname_quoted_string():
    reply = ng_text.parse_reply(cap("jailnet_getifname.txt"))
    assert reply == {"cmd": "getifname", "cmd_num": 1, "from": 0x1A9, "args": "ngeth3"}


def test_ng_macfilter_man_page_getmacs_array_of_structs():
    reply = ng_text.parse_reply(cap("ng_macfilter4_getmacs.txt"))
    assert reply["cmd"] == "getmacs" and reply["cmd_num"] == 4 and reply["from"] == 0x54
    assert reply["args"] == {
        "n": 1,
        "macs": [{"ether": "08:00:27:92:eb:aa", "hookid": 1, "packets_in": 3571, "bytes_in": 592631,
                  "packets_out": 3437, "bytes_out": 777142}],
    }


# --- ngctl -f failure text ------------------------------------------------------


def test_opnsense_1741_file_mode_error_lines():
    lines = cap("opnsense_1741_batch_stderr.txt").splitlines()
    # The rc.d script interleaves its own "setup X" lines; ngctl's stderr for one run is:
    stderr = "\n".join(lines[1:3]) + "\n"
    assert ng_words.batch_failure(stderr) == (
        1, "ngctl: send msg: No such file or directory"
    )


# --- kldstat --------------------------------------------------------------------


def test_nanxiao_kldstat_old_layout():
    parsed = ng_systext.parse_kldstat(cap("nanxiao_kldstat.txt"))
    assert [(f["id"], f["refs"], f["name"]) for f in parsed["files"]] == [
        (1, 6, "kernel"), (2, 1, "fdescfs.ko"), (3, 1, "uhid.ko"),
    ]
    assert parsed["files"][0]["address"] == "0xffffffff80200000"
    assert parsed["files"][0]["size"] == 0x17BC6A8
    assert parsed["files"][2]["size"] == 0x2BA8


def test_nanxiao_kldstat_verbose_modules():
    parsed = ng_systext.parse_kldstat(cap("nanxiao_kldstat_v.txt"))
    kernel = parsed["files"][0]
    assert kernel["name"] == "kernel" and kernel["path"] == "/boot/kernel/kernel"
    assert kernel["modules"] == [
        {"id": 386, "name": "if_lo"}, {"id": 398, "name": "newreno"}, {"id": 373, "name": "elf32"},
        {"id": 372, "name": "elf64"}, {"id": 374, "name": "shell"},
    ]


def test_pfsense_kldstat_verbose_grep_fragment():
    parsed = ng_systext.parse_kldstat(cap("pfatt_41_kldstat_v_grep.txt"))
    assert parsed == {"files": [], "modules": [{"id": 555, "name": "ng_etf"}]}
    assert ng_systext.module_names(parsed) == ["ng_etf"]


def test_kldstat_freebsd13_layout():
    parsed = ng_systext.parse_kldstat(cap("marcin_kldstat_13.txt"))
    assert len(parsed["files"]) == 13
    assert parsed["files"][0]["refs"] == 43 and parsed["files"][0]["size"] == 0x1F3C6C0
    assert parsed["files"][9] == {"id": 10, "refs": 1, "address": "0xffffffff8302c000", "size": 0xE5B0,
                                  "name": "snd_uaudio.ko", "path": None, "modules": []}
    assert "zfs" in ng_systext.module_names(parsed)


def test_pfatt_15_eiface_error_text():
    lines = ng_text.clean_lines(cap("pfatt_15_eiface_stderr.txt"))
    # The prompt+command line is recognised and dropped; what remains is ngctl's stderr.
    assert lines == ["ngctl: send msg: Protocol family not supported"]
    assert ng_ops.error_text({"retcode": 71, "stderr": "\n".join(lines) + "\n", "stdout": ""}) == (
        "ngctl: send msg: Protocol family not supported"
    )
