"""Issue 12, tasks 11-13: hostile names, wrong types and read-only messages, checked on the
pure core (ng_words, nf_paths) and on the Salt glue with recording stand-ins for Salt's
``cmd.run_all``/``config.get`` (so every check also proves: zero spawns).

tests/functional/states/test_bad_input_keys_paths.py runs the same classes of input through
Salt's loader against ngsim.
"""
from __future__ import annotations

import logging
import pathlib

from netgraph_core import nf_paths
from netgraph_core import ng_ascii
from netgraph_core import ng_words
import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

from ngsim.testing import load_file

from tests.support.bad_input import netgraph_calls

REPO = pathlib.Path(__file__).resolve().parents[3]

# Around a valid name: trailing and leading newlines, the other blanks, NUL, non-breaking
# and zero-width spaces, NEL and the Unicode line separator.
BLANKS = ["{}\n", "\n{}", " {}", "{} ", "{}\t", "\t{}", "{}\r\n", "{}\r", "{}\x0b", "{}\x0c", "{}\x00",
          "{}\u00a0", "{}\u2028", "{}\u200b", "{}\x85", "{}\u3000"]


def blanked(word):
    return [b.format(word) for b in BLANKS]


# ----------------------------------------------------------------------------- ng_words
@pytest.mark.parametrize("check,word", [
    (ng_words.check_node_name, "netflow"),
    (ng_words.check_hook_name, "export9"),
    (ng_words.check_type_name, "ksocket"),
    (ng_words.check_cmd_name, "getpeername"),
    (ng_words.check_path, "lan_nf:export9"),
    (ng_words.check_path, "[2a]:"),
])
def test_names_with_blanks_around_them_are_refused(check, word):
    assert check(word) == word
    for bad in blanked(word):
        with pytest.raises(ValueError):
            check(bad)


@pytest.mark.parametrize("bad", blanked("lan_nf") + ["lan_nf\n:", "lan_nf:\nexport9", "lan_nf:export9.\n"])
def test_batch_words_with_blanks_are_refused(bad):
    with pytest.raises(ValueError):
        ng_words.batch_line(["shutdown", bad if ":" in bad else bad + ":"], 0)
    with pytest.raises(ValueError):
        ng_words.batch_line(["name", "em0:lower", bad], 0)


def test_patterns_are_fullmatched():
    """`$` matches before a trailing newline: every pattern must be used with fullmatch."""
    for pattern in (ng_words.MODULE_NAME_RE, ng_words.RULE_NUMBER_RE):
        assert not pattern.fullmatch("ng_ether\n" if pattern is ng_words.MODULE_NAME_RE else "100\n")
    for text in ("netflow\n", "[1f]\n"):
        with pytest.raises(ValueError):
            ng_words.check_node_name(text)
    assert ng_words.batch_failure("ngctl: line 2: error in file\n") == (2, "ngctl: line 2: error in file")
    source = (REPO / "_utils" / "netgraph_core" / "ng_words.py").read_text()
    assert ".match(" not in source and '"^' not in source


def test_non_ascii_names_are_refused():
    for bad in ("netfl\u03bfw", "em0\u200b", "caf\u00e9"):
        with pytest.raises(ValueError, match="non-ASCII"):
            ng_words.check_node_name(bad)


def test_shown_cuts_long_and_unprintable_values():
    assert ng_words.shown("lan") == "'lan'"
    long = ng_words.shown("x" * 2000)
    assert len(long) < 100 and "2002 characters" in long
    assert "\n" not in ng_words.shown("a\nb")

    class Hostile:
        def __repr__(self):
            raise RuntimeError("no")

    assert ng_words.shown(Hostile()) == "<Hostile>"


# ----------------------------------------------------------------------------- nf_paths
HOSTILE_PATHS = [
    "relative/netflow.lock", "netflow.lock", "./x", "/usr/local/etc/../../tmp/x", "/..", "/a/../b",
    "/tmp/$(touch /tmp/pwned)", "/tmp/`id`", "/tmp/a b", "/tmp/a\nb", "/tmp/x\n", "\n/tmp/x", "/tmp/a;reboot",
    "/tmp/a'b", '/tmp/a"b', "/tmp/a|b", "/tmp/a&b", "/tmp/a>b", "/tmp/\u00e9", "/tmp/a\x00b", "/" + "x" * 2000,
    "", None, 5, ["/tmp/x"], {"path": "/tmp/x"}, b"/tmp/x",
]


@pytest.mark.parametrize("bad", HOSTILE_PATHS)
def test_hostile_config_paths_are_refused_naming_the_key(bad):
    with pytest.raises(ValueError) as exc:
        nf_paths.check_path("netflow:boot_dir", bad)
    message = str(exc.value)
    assert message.startswith("netflow:boot_dir: ") and "\n" not in message and len(message) < 400


def test_safe_paths_are_accepted():
    for good in ("/usr/local/etc/netflow", "/var/run/netflow.lock", "/tmp/pytest-of-root/x_1/host/bin/ngctl"):
        assert nf_paths.check_path("k", good) == good


# ----------------------------------------------------------------------------- netgraph glue
class FakeRunAll:
    def __init__(self):
        self.calls = []
        self.replies = []

    def __call__(self, argv, **kwargs):
        self.calls.append((argv, kwargs))
        return self.replies.pop(0) if self.replies else {"stdout": "", "stderr": "", "retcode": 0}


@pytest.fixture
def ng():
    module = load_file(REPO / "_modules" / "netgraph.py", "netgraph_hardening_under_test")
    module.run = FakeRunAll()
    module.config = {"netgraph.ngctl": "/x/ngctl", "netgraph.kldload": "/x/kldload",
                     "netgraph.kldstat": "/x/kldstat", "netgraph.ipfw": "/x/ipfw"}
    module.__salt__ = {"cmd.run_all": module.run,
                       "config.get": lambda key, default=None: module.config.get(key, default)}
    return module


@pytest.mark.parametrize("bad", blanked("lan_nf"), ids=[repr(b) for b in BLANKS])
def test_netgraph_functions_refuse_blanked_names_with_zero_spawns(ng, bad):
    for what, call in netgraph_calls(ng, bad).items():
        with pytest.raises(SaltInvocationError):
            call()
        assert ng.run.calls == [], what


@pytest.mark.parametrize("rule", ["100\n", " 100", "100 ", 100.9, 100.0, "1e2", "0x64", [100], None, True, "65535", 0])
def test_ipfw_rule_numbers_are_strict(ng, rule):
    with pytest.raises(SaltInvocationError):
        ng.ipfw_delete(rule)
    assert ng.run.calls == []


def test_ipfw_rule_number_as_text_is_accepted(ng):
    ng.ipfw_delete("100")
    assert ng.run.calls[0][0] == ["/x/ipfw", "delete", "100"]


def test_message_arguments_never_carry_a_line_break(ng):
    """A str value that looks like a bare word but ends in a newline ('1500\\n'), or a field
    name with one, never puts a line break into an ngctl argument or a `ngctl -f` line: it
    is refused, or sent as an escaped ng_parse string (ng_ascii's word patterns are
    fullmatched, so '1500\\n' is no bare word)."""
    assert ng_ascii.format_ascii({"mtu": "1500\n"}) == '{ mtu="1500\\n" }'
    for args in ({"mtu": "1500\n"}, {"mtu\n": 1500}, ["1\n"], "1\nshutdown em0:", {"a": ["x\r"]}):
        for call in (lambda: ng.query([["lan_nf:", "getstats", args]]), lambda: ng.msg("lan_nf:", "setmtu", args)):
            try:
                call()
            except SaltInvocationError:
                pass
    for argv, kwargs in ng.run.calls:
        assert not any("\n" in word or "\r" in word for word in argv), argv
        assert kwargs.get("stdin", "\n").count("\n") == 1 and "\r" not in kwargs.get("stdin", ""), kwargs
    refused = ({"mtu\n": 1500}, "1\nshutdown em0:")
    for args in refused:
        with pytest.raises(SaltInvocationError):
            ng.query([["lan_nf:", "getstats", args]])


# -- task 13: the read-only table, as verified against FreeBSD's sources
VERIFIED_READONLY = {
    "nodeinfo", "listhooks", "listnames", "listnodes", "listtypes",  # ng_base.c generic
    "info", "ifinfo", "v9info",  # netflow/ng_netflow.c
    "getname", "getpeername", "getopt",  # ng_ksocket.c
    "getconfig", "getstats",  # ng_one2many.c
    "getifname", "getifindex", "getenaddr", "getpromisc", "getautosrc",  # ng_ether.c
}


def test_readonly_table_is_the_verified_one():
    assert set(ng_words.READONLY_MESSAGES) == VERIFIED_READONLY
    source = (REPO / "_utils" / "netgraph_core" / "ng_words.py").read_text()
    for name in ("ng_base.c", "ng_ether.c", "ng_netflow.c", "ng_ksocket.c", "ng_one2many.c", "ng_message.h"):
        assert name in source, f"the table names its source {name}"


@pytest.mark.parametrize("cmd,args", [
    ("getclrstats", "0"),  # ng_one2many NGM_ONE2MANY_GETCLR_STATS: replies, then bzero()s the link stats
    ("clrstats", "0"),  # NGM_ONE2MANY_CLR_STATS
    ("setconfig", "{ iface=0 conf=11 }"),  # ng_netflow NGM_NETFLOW_SETCONFIG / ng_one2many SET_CONFIG
    ("settimeouts", "{ inactive=15 active=1800 }"),
    ("connect", "inet/192.0.2.1:2055"),  # ng_ksocket (shadows the generic connect)
    ("setpromisc", "1"), ("setautosrc", "0"), ("setenaddr", "00:11:22:33:44:55"), ("detach", None),
    ("show", None),  # NGM_NETFLOW_SHOW has no cmdlist entry: ENOSYS, and no business here
    ("textstatus", None),  # flagged read-only, but handed to the node type's own rcvmsg
    ("shutdown", None), ("rmhook", None), ("getconfigx", None), ("getclr", None),
])
def test_query_refuses_messages_that_change_state_with_zero_spawns(ng, cmd, args):
    request = ["lan_v9:", cmd] + ([args] if args else [])
    with pytest.raises(SaltInvocationError, match="read-only"):
        ng.query([["lan_nf:", "info"], request])
    assert ng.run.calls == []


READONLY_REPLY = 'Rec\'d response "getstats" (2) from "[1a]:":\nArgs:\t{ recvOctets=10 recvPackets=1 }\n'


@pytest.mark.parametrize("cmd,args", [("getstats", "0"), ("getconfig", None), ("info", None), ("getpeername", None)])
def test_query_accepts_readonly_messages_in_one_spawn(ng, cmd, args):
    ng.run.replies.append({"stdout": READONLY_REPLY.replace("getstats", cmd), "stderr": "", "retcode": 0})
    out = ng.query([["lan_v9:", cmd] + ([args] if args else [])])
    assert len(ng.run.calls) == 1
    argv, kwargs = ng.run.calls[0]
    assert argv == ["/x/ngctl", "-f", "-"] and kwargs["stdin"] == f"msg lan_v9: {cmd}{' ' + args if args else ''}\n"
    assert out[0]["ok"] is True and out[0]["reply"]["cmd"] == cmd


@pytest.mark.parametrize("key", ["netgraph.ngctl", "netgraph.kldstat", "netgraph.ipfw"])
@pytest.mark.parametrize("bad", ["bin/ngctl", "/x/../ngctl", "/x/ngctl; reboot", "/x/$(touch /tmp/p)", "/x/a b",
                                 "/x/ngctl\n", None, ["/x/ngctl"]])
def test_hostile_binary_paths_are_refused_naming_the_key(ng, key, bad):
    ng.config[key] = bad
    call = {"netgraph.ngctl": ng.list_, "netgraph.kldstat": ng.modules, "netgraph.ipfw": ng.ipfw_rules}[key]
    with pytest.raises(SaltInvocationError, match="^" + key.replace(".", r"\.") + ": "):
        call()
    assert ng.run.calls == []


# ----------------------------------------------------------------------------- netflow glue
@pytest.fixture
def nf(tmp_path):
    module = load_file(REPO / "_modules" / "netflow.py", "netflow_hardening_under_test")
    module.calls = []
    module.config = {"netflow:lock_file": str(tmp_path / "netflow.lock"), "netflow:boot_dir": str(tmp_path / "boot")}

    def recorder(fn):
        def call(*args, **kwargs):
            module.calls.append((fn, args, kwargs))
            return {"nodes": {}, "types": ["ether"]} if fn == "netgraph.graph" else []
        return call

    salt = {fn: recorder(fn) for fn in ("netgraph.graph", "netgraph.query", "netgraph.batch", "netgraph.modules",
                                       "netgraph.load_modules", "netgraph.ipfw_rules", "netgraph.ipfw_add",
                                       "netgraph.ipfw_delete")}
    salt["config.get"] = lambda key, default=None: module.config.get(key, default)
    module.__salt__ = salt
    return module


GOOD = {"interfaces": ["em0"], "collectors": [{"host": "192.0.2.10", "port": 2055}]}


@pytest.mark.parametrize("flags,key", [
    ({"declared": "yes"}, "declared"), ({"declared": None}, "declared"), ({"declared": 1}, "declared"),
    ({"declared": True, "test": "no"}, "test"), ({"declared": True, "test": 0}, "test"),
    ({"declared": True, "persist": "false"}, "persist"), ({"declared": False, "persist": [True]}, "persist"),
])
def test_converge_flags_must_be_booleans(nf, flags, key):
    with pytest.raises(SaltInvocationError, match=f"^{key}: "):
        nf.converge("lan", **{**GOOD, **flags})
    assert nf.calls == []


def test_converge_absent_refuses_parameters(nf):
    with pytest.raises(SaltInvocationError, match="unknown parameter"):
        nf.converge("lan", declared=False, interfaces=["em0"])
    assert nf.calls == []


@pytest.mark.parametrize("key", ["netgraph.ngctl", "netgraph.kldload", "netgraph.kldstat", "netgraph.ipfw",
                                 "netflow:lock_file", "netflow:boot_dir"])
@pytest.mark.parametrize("bad", ["relative", "/a/../b", "/a/$(touch /tmp/p)", "/a/b c", "/a/b\n", "/a;b", "/a'b",
                                 '/a"b', "/" + "x" * 2000, 5])
def test_converge_checks_every_path_first(nf, tmp_path, key, bad):
    nf.config[key] = bad
    for declared in (True, False):
        with pytest.raises(SaltInvocationError, match=f"^{key}: "):
            nf.converge("lan", declared=declared, test=False, persist=True, **(GOOD if declared else {}))
    assert nf.calls == [] and list(tmp_path.iterdir()) == [], "nothing run, nothing written (not even the lock)"


def test_plan_and_dot_arguments(nf):
    with pytest.raises(SaltInvocationError, match="^load_modules: "):
        nf.plan("lan", load_modules="no", **GOOD)
    for names in (5, {"lan": 1}, ["lan\n"], [None]):
        with pytest.raises(SaltInvocationError):
            nf.dot(names)
    for bad in ("lan\n", "\nlan", "lan ", None, ["lan"]):
        if bad is not None:  # status and flows without a name show every exporter (test_operate)
            with pytest.raises(SaltInvocationError, match="^name: "):
                nf.status(bad)
            with pytest.raises(SaltInvocationError, match="^name: "):
                nf.flows(bad)
        with pytest.raises(SaltInvocationError, match="^name: "):
            nf.absent_plan(bad)
    assert nf.calls == []


# ----------------------------------------------------------------------------- the state
@pytest.fixture
def state():
    module = load_file(REPO / "_states" / "netflow.py", "netflow_state_hardening_under_test")
    module.__opts__ = {"test": False}
    return module


def _converging(exc=None, result=None):
    def converge(name, **kwargs):
        if exc is not None:
            raise exc
        return result
    return {"netflow.converge": converge}


@pytest.mark.parametrize("exc,kind", [
    (RuntimeError("boom\nsecond line"), "RuntimeError"), (KeyError("lock"), "KeyError"),
    (TypeError("unhashable type: 'list'"), "TypeError"), (FileExistsError(17, "File exists"), "FileExistsError"),
    (ValueError("x" * 5000), "ValueError"),
])
def test_state_turns_any_unexpected_exception_into_result_false(state, caplog, exc, kind):
    state.__salt__ = _converging(exc)
    for run in (lambda: state.exporter_present("lan", **GOOD), lambda: state.exporter_absent("lan")):
        with caplog.at_level(logging.DEBUG):
            ret = run()
        assert ret["result"] is False and ret["changes"] == {} and ret["name"] == "lan"
        assert ret["comment"].startswith(f"Exporter lan: internal error: {kind}: ")
        assert "\n" not in ret["comment"] and "Traceback" not in ret["comment"] and len(ret["comment"]) < 300
        assert any(r.exc_info for r in caplog.records), "the traceback goes to the debug log"


def test_state_reports_refusals_and_failures_as_they_are(state):
    state.__salt__ = _converging(SaltInvocationError("interfaces.em0.direction: ['both'] is not one of ..."))
    ret = state.exporter_present("lan", **GOOD)
    assert ret["result"] is False and ret["comment"] == "Exporter lan: interfaces.em0.direction: ['both'] is not one of ..."
    state.__salt__ = _converging(CommandExecutionError("ngctl failed at line 2"))
    assert state.exporter_absent("lan")["comment"] == "Exporter lan: ngctl failed at line 2"


def test_state_survives_a_malformed_converge_return(state):
    state.__salt__ = _converging(result={"result": True})  # no changes, no comment
    ret = state.exporter_present("lan", **GOOD)
    assert ret["result"] is False and "internal error: KeyError" in ret["comment"]


@pytest.mark.parametrize("key", ["colour\n", "a: b", "$(touch /tmp/x)", "x" * 2000, "interfaces "])
def test_state_refuses_unknown_parameter_keys_without_echoing_them(state, key):
    state.__salt__ = _converging(AssertionError("converge must not be called"))
    for run in (lambda: state.exporter_present("lan", **GOOD, **{key: 1}), lambda: state.exporter_absent("lan", **{key: 1})):
        ret = run()
        assert ret["result"] is False and "unknown parameter" in ret["comment"]
        assert "\n" not in ret["comment"] and len(ret["comment"]) < 300


def test_state_names_a_hostile_exporter_name_by_its_repr(state):
    state.__salt__ = _converging(SaltInvocationError("name: 'lan\\nx' is not a valid exporter name"))
    ret = state.exporter_present("lan\nx", **GOOD)
    assert ret["comment"].startswith("Exporter 'lan\\nx': name: ") and "\n" not in ret["comment"]
    ret = state.exporter_present("y" * 2000, **GOOD)
    assert len(ret["comment"]) < 300
