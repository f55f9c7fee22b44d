"""Parsers on the reference's derived examples, messy pastes, and look-alikes that must raise."""
import pathlib

from netgraph_core import ng_ascii
from netgraph_core import ng_text
from netgraph_core import ng_systext
from netgraph_core import ng_words
import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]

# ---- derived examples, netgraph-reference.md §2 (scenario of §6.1) -----------------

LIST = """There are 5 total nodes:
  Name: em0             Type: ether           ID: 00000001   Num hooks: 2
  Name: em1             Type: ether           ID: 00000002   Num hooks: 0
  Name: netflow_em0     Type: netflow         ID: 00000005   Num hooks: 3
  Name: ksocket_netflow_em0 Type: ksocket         ID: 0000000b   Num hooks: 1
  Name: ngctl12345      Type: socket          ID: 0000000e   Num hooks: 0
"""

SHOW_NETFLOW = (
    "  Name: netflow_em0     Type: netflow         ID: 00000005   Num hooks: 3\n"
    "  Local hook      Peer name       Peer type    Peer ID         Peer hook      \n"
    "  ----------      ---------       ---------    -------         ---------      \n"
    "  export9         ksocket_netflow_em0 ksocket      0000000b        inet/dgram/udp \n"
    "  out1            em0             ether        00000001        upper          \n"
    "  iface1          em0             ether        00000001        lower          \n"
)

LIST_LONG = (
    "There are 5 total nodes:\n"
    "  Name: em0             Type: ether           ID: 00000001   Num hooks: 2\n"
    "  Local hook      Peer name       Peer type    Peer ID         Peer hook      \n"
    "  ----------      ---------       ---------    -------         ---------      \n"
    "  upper           netflow_em0     netflow      00000005        out1           \n"
    "  lower           netflow_em0     netflow      00000005        iface1         \n"
    "\n"
    "  Name: em1             Type: ether           ID: 00000002   Num hooks: 0\n"
    "\n" + SHOW_NETFLOW + "\n"
    "  Name: ksocket_netflow_em0 Type: ksocket         ID: 0000000b   Num hooks: 1\n"
    "  Local hook      Peer name       Peer type    Peer ID         Peer hook      \n"
    "  ----------      ---------       ---------    -------         ---------      \n"
    "  inet/dgram/udp  netflow_em0     netflow      00000005        export9        \n"
    "\n"
    "  Name: ngctl12345      Type: socket          ID: 0000000e   Num hooks: 0\n"
)

TYPES = """There are 4 total types:
      Type name   Number of living nodes
      ---------   ----------------------
        ksocket       1
        netflow       1
         socket       1
          ether       2
"""

DOT = """graph netgraph {
	edge [ weight = 1.0 ];
	node [ shape = record, fontsize = 12 ] {
		"1" [ label = "{em0:|{ether|[1]:}}" ];
		"2" [ label = "{em1:|{ether|[2]:}}" ];
		"5" [ label = "{netflow_em0:|{netflow|[5]:}}" ];
		"b" [ label = "{ksocket_netflow_em0:|{ksocket|[b]:}}" ];
		"e" [ label = "{ngctl12345:|{socket|[e]:}}" ];
	};
	subgraph cluster_disconnected {
		bgcolor = pink;
		"2";
		"e";
	};
	node [ shape = octagon, fontsize = 10 ] {
		"1.upper" [ label = "upper" ];
		"1.lower" [ label = "lower" ];
	};
	{
		edge [ weight = 2.0, style = bold ];
		"1" -- "1.upper";
		"1" -- "1.lower";
	};
	node [ shape = octagon, fontsize = 10 ] {
		"5.export9" [ label = "export9" ];
		"5.out1" [ label = "out1" ];
		"5.iface1" [ label = "iface1" ];
	};
	{
		edge [ weight = 2.0, style = bold ];
		"5" -- "5.export9";
		"5" -- "5.out1";
		"5" -- "5.iface1";
	};
	"5.out1" -- "1.upper";
	"5.iface1" -- "1.lower";
	node [ shape = octagon, fontsize = 10 ] {
		"b.inet/dgram/udp" [ label = "inet/dgram/udp" ];
	};
	{
		edge [ weight = 2.0, style = bold ];
		"b" -- "b.inet/dgram/udp";
	};
	"b.inet/dgram/udp" -- "5.export9";
}
"""


def test_derived_list():
    nodes = ng_text.parse_list(LIST)
    assert nodes[3] == {"name": "ksocket_netflow_em0", "type": "ksocket", "id": 0xB, "num_hooks": 1}
    assert [n["id"] for n in nodes] == [1, 2, 5, 0xB, 0xE]


def test_list_named_header_and_single_node():
    text = "There are 1 total named nodes:\n  Name: em0             Type: ether           ID: 00000001   Num hooks: 0\n"
    assert ng_text.parse_list(text) == [{"name": "em0", "type": "ether", "id": 1, "num_hooks": 0}]


def test_list_whitespace_collapsed_by_a_web_page():
    text = "There are 1 total nodes:\n Name: netflow_em0 Type: netflow ID: 00000005 Num hooks: 3\n"
    assert ng_text.parse_list(text)[0]["num_hooks"] == 3


def test_derived_show_netflow():
    node = ng_text.parse_show(SHOW_NETFLOW)
    assert node["hooks"][0] == {"hook": "export9", "peer_name": "ksocket_netflow_em0", "peer_type": "ksocket",
                                "peer_id": 0xB, "peer_hook": "inet/dgram/udp"}
    assert [h["hook"] for h in node["hooks"]] == ["export9", "out1", "iface1"]


def test_show_without_hooks_and_show_n():
    node = ng_text.parse_show("  Name: em1             Type: ether           ID: 00000002   Num hooks: 0")
    assert node == {"name": "em1", "type": "ether", "id": 2, "num_hooks": 0, "hooks": []}
    # show -n: no table even though the node has hooks
    assert ng_text.parse_show(SHOW_NETFLOW.splitlines()[0])["hooks"] == []


def test_show_with_tabs_expanded_and_extra_indent():
    text = "\n".join("    " + line for line in SHOW_NETFLOW.splitlines())
    assert len(ng_text.parse_show(text)["hooks"]) == 3


def test_show_unnamed_peer():
    text = (
        "  Name: vtnet0          Type: ether           ID: 00000001   Num hooks: 1\n"
        "  Local hook      Peer name       Peer type    Peer ID         Peer hook\n"
        "  ----------      ---------       ---------    -------         ---------\n"
        "  lower           <unnamed>       netflow      0000002a        iface0\n"
    )
    assert ng_text.parse_show(text)["hooks"][0]["peer_name"] is None


def test_derived_list_long():
    nodes = ng_text.parse_list_long(LIST_LONG)
    assert [n["name"] for n in nodes] == ["em0", "em1", "netflow_em0", "ksocket_netflow_em0", "ngctl12345"]
    assert nodes[0]["hooks"][1] == {"hook": "lower", "peer_name": "netflow_em0", "peer_type": "netflow",
                                    "peer_id": 5, "peer_hook": "iface1"}
    assert nodes[1]["hooks"] == [] and nodes[4]["hooks"] == []


def test_list_long_old_layout_without_blank_lines():
    old = "\n".join(line for line in LIST_LONG.splitlines() if line.strip())
    assert ng_text.parse_list_long(old) == ng_text.parse_list_long(LIST_LONG)


def test_list_long_rejects_plain_list():
    with pytest.raises(ValueError, match="not `list -l`"):
        ng_text.parse_list_long(LIST)


def test_derived_types():
    assert ng_text.parse_types(TYPES) == [
        {"type": "ksocket", "nodes": 1}, {"type": "netflow", "nodes": 1},
        {"type": "socket", "nodes": 1}, {"type": "ether", "nodes": 2},
    ]
    assert ng_text.parse_types("There are 0 total types:\n") == []


def test_derived_dot():
    graph = ng_text.parse_dot(DOT)
    assert graph["nodes"][0xB] == {"name": "ksocket_netflow_em0", "type": "ksocket"}
    assert graph["edges"] == [
        [[5, "out1"], [1, "upper"]],
        [[5, "iface1"], [1, "lower"]],
        [[0xB, "inet/dgram/udp"], [5, "export9"]],
    ]


def test_dot_unnamed_node():
    text = 'graph netgraph {\n\tnode [ shape = record, fontsize = 12 ] {\n\t\t"6" [ label = "{\\<unnamed\\>:|{socket|[6]:}}" ];\n\t};\n}\n'
    assert ng_text.parse_dot(text)["nodes"] == {6: {"name": None, "type": "socket"}}


# ---- msg replies and ng_parse ASCII -----------------------------------------------


def test_reply_netflow_info_keys_with_spaces():
    text = ('Rec\'d response "info" (805306369) from "[5]:":\n'
            "Args:\t{ IPv4 bytes=123456789 IPv4 packets=234567 Active expiries=12 Inactive expiries=3456"
            " IPv4 records used=78 Inactive timeout=15 Active timeout=1800 }\n")
    reply = ng_text.parse_reply(text)
    assert reply["cmd_num"] == 805306369 and reply["from"] == 5
    assert reply["args"] == {"IPv4 bytes": 123456789, "IPv4 packets": 234567, "Active expiries": 12,
                             "Inactive expiries": 3456, "IPv4 records used": 78, "Inactive timeout": 15,
                             "Active timeout": 1800}


def test_reply_ifinfo_and_no_arguments():
    reply = ng_text.parse_reply('Rec\'d response "ifinfo" (805306370) from "[5]:":\nArgs:\t{ data link type=1 conf=11 }')
    assert reply["args"] == {"data link type": 1, "conf": 11}
    reply = ng_text.parse_reply('Rec\'d response "getstatus" (3) from "[000002aa]:":\nNo arguments\n')
    assert reply == {"cmd": "getstatus", "cmd_num": 3, "from": 0x2AA, "args": None}


def test_reply_empty_struct_and_unsolicited_command():
    reply = ng_text.parse_reply('Rec\'d command "hello" (-5) from "[1f]:":\nArgs:\t{}')
    assert reply == {"cmd": "hello", "cmd_num": -5, "from": 0x1F, "args": {}}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("{ iface=0 dlt=12 }", {"iface": 0, "dlt": 12}),
        ("{iface=0 conf=11}", {"iface": 0, "conf": 11}),
        ("{ iface = 0 dlt = 12 }", {"iface": 0, "dlt": 12}),
        ("[ 1 1 ]", [1, 1]),
        ("[]", []),
        ("[ 0x2a 3=0x2d ]", [42, 0, 0, 45]),
        ("[ { a=1 } 2={ a=2 } ]", [{"a": 1}, {}, {"a": 2}]),
        ("0x1F", 31),
        ("010", 8),
        ("-5", -5),
        ("0", 0),
        ("08:00:27:92:eb:aa", "08:00:27:92:eb:aa"),
        ("inet/127.0.0.1:2055", "inet/127.0.0.1:2055"),
        ("inet/0.0.0.0", "inet/0.0.0.0"),
        ('local/"/tmp/sock"', 'local/"/tmp/sock"'),
        ('"ngeth3"', "ngeth3"),
        ('"a\\tb\\"c\\\\d\\101\\x42"', 'a\tb"c\\dAB'),
        ('"with space"', "with space"),
        ("{ xmitAlg=2 failAlg=1 enabledLinks=[ 1 1 1 ] }", {"xmitAlg": 2, "failAlg": 1, "enabledLinks": [1, 1, 1]}),
        ("{ downstream={ FwdOctets=416 FwdFrames=6 } upstream={ FwdOctets=416 } }",
         {"downstream": {"FwdOctets": 416, "FwdFrames": 6}, "upstream": {"FwdOctets": 416}}),
    ],
)
def test_parse_ascii(text, expected):
    assert ng_ascii.parse_ascii(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "{ a=1", "{ a=1 } junk", "{ a=1 a=2 }", "{ =1 }", "[ 1 2", '"open', "}", "{ a }",
     "[ 3=1 1=2 ]", '"bad\\q"'],
)
def test_parse_ascii_rejects(text):
    with pytest.raises(ValueError):
        ng_ascii.parse_ascii(text)


@pytest.mark.parametrize(
    "value, text",
    [
        ({"iface": 0, "dlt": 12}, "{ iface=0 dlt=12 }"),
        ({"inactive": 15, "active": 1800}, "{ inactive=15 active=1800 }"),
        ({"xmitAlg": 2, "failAlg": 1, "enabledLinks": [1, 1]}, "{ xmitAlg=2 failAlg=1 enabledLinks=[ 1 1 ] }"),
        ({}, "{}"),
        ([], "[]"),
        (True, "1"),
        (7, "7"),
        ("inet/10.0.0.1:4444", "inet/10.0.0.1:4444"),
        ("08:00:27:92:eb:aa", "08:00:27:92:eb:aa"),
        ('"in_foo"', '"in_foo"'),
        ({"thisHook": '"in"', "ifNotMatch": '"out"'}, '{ thisHook="in" ifNotMatch="out" }'),
        ("two words", '"two\\040words"'),
        ("tab\there", '"tab\\there"'),
        ('q"uote', '"q\\"uote"'),
        ("a{b", '"a{b"'),
        ("", '""'),
    ],
)
def test_format_ascii(value, text):
    assert ng_ascii.format_ascii(value) == text


def test_format_ascii_round_trip_and_no_blanks_inside_tokens():
    value = {"a": [1, 2, {"b": "x y", "c": "inet/1.2.3.4:5"}], "d": "line\nbreak", "e": {}}
    text = ng_ascii.format_ascii(value)
    assert "\n" not in text and "x y" not in text
    assert ng_ascii.parse_ascii(text) == value


@pytest.mark.parametrize("value", [1.5, None, {"a b": 1}, {"": 1}, {"a=": 1}, {1: 2}, object()])
def test_format_ascii_rejects(value):
    with pytest.raises(ValueError):
        ng_ascii.format_ascii(value)


# ---- kldstat / ipfw -----------------------------------------------------------------


def test_derived_kldstat_and_m():
    text = """Id Refs Address                Size Name
 1   25 0xffffffff80200000  1f3c6c0 kernel
 7    1 0xffffffff82a1e000     3220 ng_ether.ko
 8    3 0xffffffff82a22000     acb8 netgraph.ko
10    1 0xffffffff82a31000     b7a0 ng_netflow.ko
"""
    parsed = ng_systext.parse_kldstat(text)
    assert [f["name"] for f in parsed["files"]] == ["kernel", "ng_ether.ko", "netgraph.ko", "ng_netflow.ko"]
    assert parsed["files"][2]["refs"] == 3
    assert ng_systext.module_names(parsed) == ["kernel", "netgraph", "ng_ether", "ng_netflow"]
    assert ng_systext.parse_kldstat("Id  Refs Name\n487    1 ng_ether\n")["modules"] == [{"id": 487, "name": "ng_ether"}]


def test_modern_kldstat_verbose():
    text = (
        "Id Refs Address                Size Name\n"
        " 7    1 0xffffffff82a1e000     3220 ng_ether.ko (/boot/kernel/ng_ether.ko)\n"
        "\tContains modules:\n"
        "\t\t Id Name\n"
        "\t\t487 ng_ether\n"
    )
    parsed = ng_systext.parse_kldstat(text)
    assert parsed["files"][0]["path"] == "/boot/kernel/ng_ether.ko"
    assert parsed["files"][0]["modules"] == [{"id": 487, "name": "ng_ether"}]


def test_ipfw_list():
    text = "00100 ngtee 10 ip from any to any via tun0\n65535 allow ip from any to any\n"
    assert ng_systext.parse_ipfw_list(text) == [
        {"rule": 100, "text": "ngtee 10 ip from any to any via tun0"},
        {"rule": 65535, "text": "allow ip from any to any"},
    ]
    assert ng_systext.parse_ipfw_list("root@fw:~ # ipfw list\n65535 deny ip from any to any\n")[0]["rule"] == 65535


# ---- prompts and messy pastes ---------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    ["root@fw:~ # ngctl list", "$ ngctl list", "> ngctl list", "# /usr/sbin/ngctl list", "% sudo ngctl list",
     "[2.7.2-RELEASE][admin@pfSense.home.arpa]/root: ngctl list"],
)
def test_prompt_line_before_output(prompt):
    assert ng_text.parse_list(prompt + "\n" + LIST) == ng_text.parse_list(LIST)


def test_crlf_and_blank_lines_around():
    assert ng_text.parse_list("\r\n\r\n" + LIST.replace("\n", "\r\n") + "\r\n\r\n") == ng_text.parse_list(LIST)


# ---- look-alikes that are not FreeBSD's format ---------------------------------------

LINUX_IP_LINK = """1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
"""


@pytest.mark.parametrize(
    "text",
    [
        "",
        LINUX_IP_LINK,
        LIST.replace("00000005", "00000O05"),  # letter O in the ID
        LIST.replace("0000000b", "0000000B"),  # ngctl prints lowercase hex
        LIST.replace("0000000e", "e"),  # short ID (the [..] form is not used in list)
        "Name: em0 Type: ether ID: 00000001",  # no Num hooks
        LIST + "ngctl: recv msg: No buffer space available\n",
        LIST_LONG,  # list -l is not list
        "There are 5 total nodes:\n  Name: em0\n",
    ],
)
def test_parse_list_rejects(text):
    with pytest.raises(ValueError):
        ng_text.parse_list(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        LIST,
        SHOW_NETFLOW.replace("  Local hook", "  Local  hook").replace("Peer name", "PeerName"),
        SHOW_NETFLOW.replace("0000000b        inet", "b        inet"),  # peer ID not 8 digits
        SHOW_NETFLOW.replace("inet/dgram/udp ", "inet/dgram/udp extra"),  # 6 columns
        "\n".join(SHOW_NETFLOW.splitlines()[:2]),  # header without dashes
        # vtysh/brctl-style tables are not ngctl's
        "bridge name\tbridge id\t\tSTP enabled\tinterfaces\nbr0\t\t8000.000000000000\tno\n",
    ],
)
def test_parse_show_rejects(text):
    with pytest.raises(ValueError):
        ng_text.parse_show(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        # 6WIND's Linux netgraph port prints the path, FreeBSD prints the ID.
        'Rec\'d response "getstats" (1) from "Tee:":\nArgs:   { right={ inOctets=468 } }',
        # Args wrapped over two lines (a README's hand formatting, not ngctl)
        'Rec\'d response "getstats" (4) from "[40]:":\nArgs:   { a=1 b=2\n          c=3 }',
        'Rec\'d response 4 from "[40]:":\n0000:  01 02 03',  # hex-dump fallback
        'Rec\'d response "getstats" (4) from "[40]:":',  # no args line
        'Rec\'d response "getstats" (4) from "[40]:":\nArgs:\t{ a=1',
        "ngctl: send msg: No such file or directory",
        'Received response "info" (1) from "[5]:":\nArgs:\t{}',
    ],
)
def test_parse_reply_rejects(text):
    with pytest.raises(ValueError):
        ng_text.parse_reply(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        DOT.rsplit("}", 1)[0],  # truncated
        "digraph G {\n a -> b;\n}\n",
        DOT.replace('"5.out1" -- "1.upper";', '"5.out1" -> "1.upper";'),
        DOT.replace('"b" [ label = "{ksocket_netflow_em0:|{ksocket|[b]:}}" ];', ""),  # edge to undeclared node
    ],
)
def test_parse_dot_rejects(text):
    with pytest.raises(ValueError):
        ng_text.parse_dot(text)


@pytest.mark.parametrize(
    "text",
    ["", "Module                  Size  Used by\niscsi_tcp              18333  0\n",
     "There are 4 total types:\n"],
)
def test_parse_kldstat_rejects(text):
    with pytest.raises(ValueError):
        ng_systext.parse_kldstat(text)


@pytest.mark.parametrize("text", ["Chain INPUT (policy ACCEPT)\ntarget prot opt source destination\n",
                                  "99999 allow ip from any to any\n"])
def test_parse_ipfw_list_rejects(text):
    with pytest.raises(ValueError):
        ng_systext.parse_ipfw_list(text)


def test_parse_types_rejects():
    for text in ["", LIST, "There are 2 total types:\n  ether two\n"]:
        with pytest.raises(ValueError):
            ng_text.parse_types(text)


# ---- validators ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["netflow_em0", "em0_100", "a", "x" * 31, "mpd17989-wan_link0-lt", "[1f", "ng/x"])
def test_check_node_name_accepts(name):
    assert ng_words.check_node_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "x; reboot", "a:b", "a.b", "x" * 32, "x" * 40, "em0\nshutdown em0:", "[1f]", "[0]", "tab\there", "nul\x00",
     None, 5],
)
def test_check_node_name_rejects(name):
    with pytest.raises(ValueError):
        ng_words.check_node_name(name)


def test_too_long_name_is_refused_not_truncated():
    with pytest.raises(ValueError, match="40 characters"):
        ng_words.check_node_name("n" * 40)


# kind -> (checker, accepted, refused)
WORD_RULES = {
    "hook": (ng_words.check_hook_name, ["iface0", "export9", "inet/dgram/udp", "many63", "10", "h" * 31],
             ["", "a.b", "a:b", "x y", "h" * 32, "lower\n"]),
    "type": (ng_words.check_type_name, ["netflow", "ksocket", "one2many", "ether", "ng-x_1"],
             ["", "../../tmp/x", "ng/bridge", "a b", "t" * 32, "net.flow"]),
}


@pytest.mark.parametrize("kind, value, accepted", [(kind, value, ok) for kind, (_, good, bad) in WORD_RULES.items()
                                                   for ok, values in ((True, good), (False, bad)) for value in values])
def test_hook_and_type_names(kind, value, accepted):
    check = WORD_RULES[kind][0]
    if accepted:
        assert check(value) == value
    else:
        with pytest.raises(ValueError):
            check(value)


@pytest.mark.parametrize(
    "path",
    ["em0:", "netflow:export9", "em0:lower", "[2a]:", "[000002aa]:", ".:", ".:hook", "bridge1:link2",
     "ng0:inet.right2left", "netflow_em0:export9"],
)
def test_check_path_accepts(path):
    assert ng_words.check_path(path) == path


@pytest.mark.parametrize(
    "path",
    ["", "em0", ":", "a:b:c", "a.b:", "x..y:", "em0:a..b", "em0:a.", "em0: ", "em0:\nshutdown em0:",
     "x; reboot", "p" * 32 + ":", "em0:" + "h" * 32, "a" * 600 + ":"],
)
def test_check_path_rejects(path):
    with pytest.raises(ValueError):
        ng_words.check_path(path)


def test_check_path_relative_for_connect():
    assert ng_words.check_path("lower", absolute=False) == "lower"
    assert ng_words.check_path(".", absolute=False) == "."
    assert ng_words.check_path("netflow:", absolute=False) == "netflow:"
    with pytest.raises(ValueError):
        ng_words.check_path("a..b", absolute=False)
