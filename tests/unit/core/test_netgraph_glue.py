"""The Salt functions of _modules/netgraph.py with a recording stand-in for cmd.run_all.

These check argv shapes, spawn counts and argument validation without any emulator;
tests/functional/ runs the same functions through Salt's loader against ngsim.
"""
import pathlib

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from ngsim.testing import load_file

REPO = pathlib.Path(__file__).resolve().parents[3]

from test_netgraph_parsers import LIST_LONG, TYPES  # noqa: E402  (same directory)


class FakeRunAll:
    def __init__(self):
        self.calls = []
        self.replies = []

    def queue(self, stdout="", stderr="", retcode=0):
        self.replies.append({"stdout": stdout, "stderr": stderr, "retcode": retcode, "pid": 1})

    def __call__(self, argv, **kwargs):
        assert isinstance(argv, list), "argv lists only"
        assert kwargs.get("python_shell") is False
        assert kwargs.get("ignore_retcode") is True
        if argv[1:2] == ["-f"] and argv[2] != "-":  # a batch file: record what it held when run
            with open(argv[2], encoding="utf-8") as fh:
                kwargs = {**kwargs, "file": fh.read()}
        self.calls.append((argv, kwargs))
        return self.replies.pop(0) if self.replies else {"stdout": "", "stderr": "", "retcode": 0, "pid": 1}


@pytest.fixture
def ng():
    module = load_file(REPO / "_modules" / "netgraph.py", "netgraph_glue_under_test")
    run = FakeRunAll()
    binaries = {"netgraph.ngctl": "/x/ngctl", "netgraph.kldload": "/x/kldload",
                "netgraph.kldstat": "/x/kldstat", "netgraph.ipfw": "/x/ipfw"}
    module.__salt__ = {"cmd.run_all": run, "config.get": lambda key, default=None: binaries.get(key, default)}
    module.run = run
    return module


def test_func_alias_and_virtualname(ng):
    assert ng.__func_alias__ == {"list_": "list"}
    assert ng.__virtualname__ == "netgraph"


def test_virtual(ng, tmp_path):
    ng.__grains__ = {"kernel": "FreeBSD"}
    assert ng.__virtual__() == "netgraph"
    ng.__grains__ = {"kernel": "Linux"}
    ng.__opts__ = {"netgraph.ngctl": str(tmp_path / "missing")}
    ng.__pillar__ = {}
    loaded, why = ng.__virtual__()
    assert loaded is False and "missing" in why and "FreeBSD" in why
    tool = tmp_path / "ngctl"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    ng.__opts__ = {"netgraph.ngctl": str(tool)}
    assert ng.__virtual__() == "netgraph"


def test_graph_is_one_spawn_without_own_socket(ng):
    ng.run.queue(stdout=LIST_LONG + TYPES)
    graph = ng.graph()
    assert len(ng.run.calls) == 1
    argv, kwargs = ng.run.calls[0]
    assert argv == ["/x/ngctl", "-f", "-"] and kwargs["stdin"] == "list -l\ntypes\n"
    assert sorted(graph["nodes"]) == ["em0", "em1", "ksocket_netflow_em0", "netflow_em0"]
    assert graph["types"] == ["ether", "ksocket", "netflow", "socket"]
    assert graph["nodes"]["netflow_em0"] == {
        "name": "netflow_em0", "type": "netflow", "id": 5, "num_hooks": 3,
        "hooks": {
            "export9": {"peer": "ksocket_netflow_em0", "peer_name": "ksocket_netflow_em0", "peer_type": "ksocket",
                        "peer_id": 0xB, "peer_hook": "inet/dgram/udp"},
            "out1": {"peer": "em0", "peer_name": "em0", "peer_type": "ether", "peer_id": 1, "peer_hook": "upper"},
            "iface1": {"peer": "em0", "peer_name": "em0", "peer_type": "ether", "peer_id": 1, "peer_hook": "lower"},
        },
    }


def test_graph_keys_unnamed_nodes_by_id(ng):
    text = LIST_LONG.replace("ksocket_netflow_em0", "<unnamed>")
    ng.run.queue(stdout=text + TYPES)
    graph = ng.graph()
    assert "[b]" in graph["nodes"] and graph["nodes"]["[b]"]["name"] is None
    assert graph["nodes"]["netflow_em0"]["hooks"]["export9"]["peer"] == "[b]"


HOSTILE = ["x; reboot", "a:b", "n" * 40, "", "em0\nshutdown em0:", "em0: ; reboot", "tab\tx", None]


@pytest.mark.parametrize("bad", HOSTILE)
def test_hostile_inputs_spawn_nothing(ng, bad):
    calls = [
        lambda: ng.name("em0:lower", bad),
        lambda: ng.mkpeer("em0:", bad, "lower", "iface0"),
        lambda: ng.mkpeer("em0:", "netflow", bad, "iface0"),
        lambda: ng.mkpeer("em0:", "netflow", "lower", bad),
        lambda: ng.rmhook("em0:", bad),
        lambda: ng.msg("netflow:", bad),
        lambda: ng.batch([["name", "em0:lower", bad]]),
        lambda: ng.batch(["mkpeer em0: netflow lower iface0", ["rmhook", "em0:", bad]]),
        lambda: ng.load_modules([bad]),
    ]
    if bad != "a:b":  # a valid path (node a, hook b): only hostile as a name
        calls += [
            lambda: ng.mkpeer(bad, "netflow", "lower", "iface0"),
            lambda: ng.connect("em0:", bad, "upper", "out0"),
            lambda: ng.shutdown(bad),
            lambda: ng.show(bad),
            lambda: ng.msg(bad, "info"),
            lambda: ng.batch([["shutdown", bad]]),
        ]
    for call in calls:
        with pytest.raises(SaltInvocationError):
            call()
    assert ng.run.calls == []


def test_error_names_the_argument(ng):
    with pytest.raises(SaltInvocationError, match=r"^name: .*40 characters"):
        ng.name("em0:lower", "n" * 40)
    with pytest.raises(SaltInvocationError, match=r"^peerhook: "):
        ng.mkpeer("em0:", "netflow", "lower", "if.0")
    with pytest.raises(SaltInvocationError, match=r"commands\[1\]"):
        ng.batch(["name em0:lower nf", "name em0:lower a:b"])


def test_batch_string_with_newline_is_refused(ng):
    with pytest.raises(SaltInvocationError):
        ng.batch(["name em0:lower nf\nshutdown em0:"])
    with pytest.raises(SaltInvocationError):
        ng.batch([["msg", "nf:", "settimeouts", "{ inactive=1 }"]])  # blanks inside a word
    with pytest.raises(SaltInvocationError):
        ng.batch(["reboot now"])  # not an ngctl command
    with pytest.raises(SaltInvocationError):
        ng.batch(["mkpeer em0: netflow"])  # wrong argument count
    assert ng.run.calls == []


def test_write_functions_argv(ng):
    assert ng.mkpeer("em0:", "netflow", "lower", "iface0") is True
    ng.connect("em0:", "netflow:", "upper", "out0")
    ng.name("em0:lower", "netflow")
    ng.rmhook("netflow:", "export9")
    ng.shutdown("netflow:")
    assert [c[0] for c in ng.run.calls] == [
        ["/x/ngctl", "mkpeer", "em0:", "netflow", "lower", "iface0"],
        ["/x/ngctl", "connect", "em0:", "netflow:", "upper", "out0"],
        ["/x/ngctl", "name", "em0:lower", "netflow"],
        ["/x/ngctl", "rmhook", "netflow:", "export9"],
        ["/x/ngctl", "shutdown", "netflow:"],
    ]


def test_write_failure_carries_stderr(ng):
    ng.run.queue(stderr="ngctl: send msg: Address already in use\n", retcode=71)
    with pytest.raises(CommandExecutionError, match="Address already in use"):
        ng.name("em0:lower", "em1")


def test_batch_one_spawn(ng):
    out = ng.batch(["mkpeer em0: netflow lower iface0", ["name", "em0:lower", "nf"],
                    ["msg", "nf:", "settimeouts", "{", "inactive=15", "active=1800", "}"]])
    assert out == {"applied": 3, "stdout": ""}
    assert len(ng.run.calls) == 1
    argv, kwargs = ng.run.calls[0]
    # ngctl -f FILE on a complete file, never a pipe a dying Salt could truncate
    assert argv[:2] == ["/x/ngctl", "-f"] and argv[2] != "-" and "stdin" not in kwargs
    assert kwargs["file"] == ("mkpeer em0: netflow lower iface0\nname em0:lower nf\n"
                              "msg nf: settimeouts { inactive=15 active=1800 }\n")
    assert not pathlib.Path(argv[2]).exists(), "the batch file is removed after the run"


def test_batch_failure_info(ng):
    ng.run.queue(stderr="ngctl: send msg: File exists\nngctl: line 2: error in file\n", retcode=71)
    with pytest.raises(CommandExecutionError) as excinfo:
        ng.batch(["mkpeer em0: netflow lower iface0", "connect em0: netflow: upper out0", "name em0:lower nf"])
    assert excinfo.value.info == {
        "line": 2,
        "command": "connect em0: netflow: upper out0",
        "error": "ngctl: send msg: File exists",
        "applied": ["mkpeer em0: netflow lower iface0"],
    }
    assert "line 2" in str(excinfo.value) and "not rolled back" in str(excinfo.value)


def test_msg_formats_dict_args_and_parses_reply(ng):
    ng.run.queue(stdout='Rec\'d response "getpeername" (6) from "[b]:":\nArgs:\tinet/127.0.0.1:2055\n')
    assert ng.msg("ksocket_netflow_em0:", "getpeername")["args"] == "inet/127.0.0.1:2055"
    assert ng.msg("netflow_em0:", "settimeouts", {"inactive": 15, "active": 1800}) is None
    assert ng.msg("netflow_em0:", "setdlt", "{ iface=0 dlt=12 }") is None
    assert [c[0] for c in ng.run.calls] == [
        ["/x/ngctl", "msg", "ksocket_netflow_em0:", "getpeername"],
        ["/x/ngctl", "msg", "netflow_em0:", "settimeouts", "{ inactive=15 active=1800 }"],
        ["/x/ngctl", "msg", "netflow_em0:", "setdlt", "{ iface=0 dlt=12 }"],
    ]
    with pytest.raises(SaltInvocationError):
        ng.msg("netflow_em0:", "setdlt", "{ iface=0 }\nshutdown em0:")


REPLY_INFO = 'Rec\'d response "info" (805306369) from "[5]:":\nArgs:\t{ Inactive timeout=15 Active timeout=1800 }\n'
REPLY_PEER = 'Rec\'d response "getpeername" (6) from "[b]:":\nArgs:\tinet/127.0.0.1:2055\n'


def test_query_one_spawn_when_all_succeed(ng):
    ng.run.queue(stdout=REPLY_INFO + REPLY_PEER)
    out = ng.query([["netflow_em0:", "info"], ["netflow_em0:export9", "getpeername"]])
    assert len(ng.run.calls) == 1
    assert ng.run.calls[0][1]["stdin"] == "msg netflow_em0: info\nmsg netflow_em0:export9 getpeername\n"
    assert out[0] == {"ok": True, "reply": {"cmd": "info", "cmd_num": 805306369, "from": 5,
                                            "args": {"Inactive timeout": 15, "Active timeout": 1800}}}
    assert out[1]["reply"]["args"] == "inet/127.0.0.1:2055"


def test_query_continues_after_failing_line(ng):
    ng.run.queue(stdout=REPLY_INFO, stderr="ngctl: send msg: Socket is not connected\nngctl: line 2: error in file\n",
                 retcode=71)
    ng.run.queue(stdout=REPLY_INFO)
    out = ng.query([["a:", "info"], ["k:", "getpeername"], ["b:", "info"]])
    assert len(ng.run.calls) == 2
    assert ng.run.calls[1][1]["stdin"] == "msg b: info\n"
    assert out[0]["ok"] is True
    assert out[1] == {"ok": False, "error": "ngctl: send msg: Socket is not connected"}
    assert out[2]["ok"] is True


def test_query_refuses_writing_messages(ng):
    with pytest.raises(SaltInvocationError, match="read-only"):
        ng.query([["netflow:", "settimeouts", "{ inactive=1 }"]])
    assert ng.run.calls == []


def test_load_modules_only_missing_with_kldload_n(ng):
    ng.run.queue(stdout="Id Refs Address                Size Name\n"
                        " 7    1 0xffffffff82a1e000     3220 ng_ether.ko (/boot/kernel/ng_ether.ko)\n"
                        "\tContains modules:\n\t\t Id Name\n\t\t487 ng_ether\n")
    out = ng.load_modules(["ng_ether", "ng_netflow", "ng_ksocket", "ng_netflow"])
    assert out == {"loaded": ["ng_netflow", "ng_ksocket"], "already": ["ng_ether"]}
    assert [c[0] for c in ng.run.calls] == [["/x/kldstat", "-v"], ["/x/kldload", "-n", "ng_netflow", "ng_ksocket"]]


def test_ipfw_functions(ng):
    ng.run.queue(stdout="00100 ngtee 10 ip from any to any\n65535 allow ip from any to any\n")
    assert ng.ipfw_rules()[0] == {"rule": 100, "text": "ngtee 10 ip from any to any"}
    ng.ipfw_add(100, ["ngtee", "10", "ip", "from", "any", "to", "any"])
    ng.ipfw_delete(100)
    assert [c[0] for c in ng.run.calls] == [
        ["/x/ipfw", "list"],
        ["/x/ipfw", "add", "100", "ngtee", "10", "ip", "from", "any", "to", "any"],
        ["/x/ipfw", "delete", "100"],
    ]
    for bad in (0, 65535, "x", True):
        with pytest.raises(SaltInvocationError):
            ng.ipfw_delete(bad)
    with pytest.raises(SaltInvocationError):
        ng.ipfw_add(100, ["ngtee", "10;reboot\n"])


def test_docstrings_have_cli_examples(ng):
    public = ["list_", "show", "types", "dot", "msg", "graph", "query", "batch", "mkpeer", "connect", "name",
              "rmhook", "shutdown", "modules", "load_modules", "ipfw_rules", "ipfw_add", "ipfw_delete"]
    for fn in public:
        doc = getattr(ng, fn).__doc__
        assert "CLI Example:" in doc and ".. code-block:: bash" in doc, fn


def test_msg_args_mangled_by_salt_cli_yaml(ng):
    import salt.utils.args

    for text, sent in [
        ("{ inactive=15 active=1800 }", "{ inactive=15 active=1800 }"),
        ("{iface=1 conf=11}", "{ iface=1 conf=11 }"),
        ("[ 1 1 ]", "[ 1 1 ]"),
        ("{ xmitAlg=2 failAlg=1 enabledLinks=[ 1 1 ] }", "{ xmitAlg=2 failAlg=1 enabledLinks=[ 1 1 ] }"),
        ("{inactive: 15, active: 1800}", "{ inactive=15 active=1800 }"),
        ("inet/10.0.0.1:2055", "inet/10.0.0.1:2055"),
        ("1", "1"),
    ]:
        ng.msg("nf:", "setx", salt.utils.args.yamlify_arg(text))
        assert ng.run.calls[-1][0][-1] == sent, text
