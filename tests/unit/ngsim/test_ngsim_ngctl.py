"""ngctl through real subprocesses: every error row of reference §1.7, usage strings,
command-word matching, -f semantics and exit codes 0/64/66/71."""
from __future__ import annotations

import pathlib
import subprocess

import pytest

from ngsim.testing import Host

SETUP = """mkpeer em0: netflow lower iface0
name em0:lower netflow
connect em0: netflow: upper out0
mkpeer netflow: ksocket export9 inet/dgram/udp
name netflow:export9 nfsock
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> str:
    host = Host.create(str(tmp_path_factory.mktemp("t") / "h"), ifaces=("em0", "em1"),
                       loaded=("ng_ether", "ng_ipfw"))
    r = host.ngctl("-f", "-", stdin=SETUP)
    assert r.returncode == 0, r.stderr
    return host.saved()


@pytest.fixture
def host(template, tmp_path) -> Host:
    return Host.restored(str(tmp_path / "h"), template, ifaces=("em0", "em1"))


E = "ngctl: send msg: "
ERROR_ROWS = [
    # unknown node name / ID in path
    (["show", "nosuch:"], E + "No such file or directory\n"),
    (["msg", "nosuch:", "info"], E + "No such file or directory\n"),
    (["mkpeer", "nosuch:", "netflow", "a", "b"], E + "No such file or directory\n"),
    (["show", "[ff]:"], E + "No such file or directory\n"),
    (["shutdown", "nosuch:"], "ngctl: shutdown: No such file or directory\n"),
    # hook in relative path not connected
    (["msg", "netflow:export", "connect", "inet/10.0.0.1:4444"], E + "No such file or directory\n"),
    # path without colon: a hook of ngctl's own node
    (["show", "netflow"], E + "No such file or directory\n"),
    # malformed paths
    (["show", ":"], E + "Invalid argument\n"),
    (["show", "a.b:"], E + "Invalid argument\n"),
    (["show", "a:b:c"], E + "Invalid argument\n"),
    (["show", "x..y"], E + "Invalid argument\n"),
    # hook already exists on the local node (mkpeer, connect) / remote node (connect)
    (["mkpeer", "netflow:", "ksocket", "export9", "inet/dgram/udp"], E + "File exists\n"),
    (["connect", "netflow:", "em1:", "out0", "lower"], E + "File exists\n"),
    (["connect", "em1:", "netflow:", "lower", "out0"], E + "File exists\n"),
    # names
    (["name", "em0:", "em1"], E + "Address already in use\n"),
    (["name", "em0:", "em0"], E + "Address already in use\n"),
    (["name", "em0:", "a.b"], E + "Invalid argument\n"),
    (["name", "em0:", "a:b"], E + "Invalid argument\n"),
    (["name", "em0:", "[1f]"], E + "Invalid argument\n"),
    # types
    (["mkpeer", "em1:", "nosuchtype", "lower", "x"], E + "No such file or directory\n"),
    (["mkpeer", "em1:", "ng_bridge", "lower", "x"], E + "No such file or directory\n"),
    (["mkpeer", "em1:", "ether", "lower", "x"], E + "Invalid argument\n"),
    (["mkpeer", "em1:", "ipfw", "lower", "x"], E + "Invalid argument\n"),
    (["mkpeer", "em1:", "socket", "lower", "x"], E + "Invalid argument\n"),
    # hook names the type refuses
    (["mkpeer", "em1:", "netflow", "lower", "foo"], E + "Invalid argument\n"),
    (["mkpeer", "em1:", "netflow", "bogus", "iface0"], E + "Invalid argument\n"),
    (["mkpeer", "ipfw:", "netflow", "abc", "iface0"], E + "Invalid argument\n"),
    (["mkpeer", "ipfw:", "netflow", "010", "iface0"], E + "Invalid argument\n"),
    (["mkpeer", "em1:", "ksocket", "lower", "inet/foo/udp"], E + "Invalid argument\n"),
    (["mkpeer", "em1:", "ksocket", "lower", "inet6/dgram/udp"], E + "Invalid argument\n"),
    (["mkpeer", "em1:", "one2many", "lower", "many64"], E + "Invalid argument\n"),
    (["mkpeer", "em1:", "netflow", "lower", "iface01"], E + "Invalid argument\n"),
    (["mkpeer", "em1:", "netflow", "lower", "iface65535"], E + "Invalid argument\n"),
    # ether divert vs lower, second ksocket hook
    (["mkpeer", "em0:", "hub", "divert", "x"], E + "Socket is already connected\n"),
    (["mkpeer", "nfsock:", "hub", "x", "y"], E + "Socket is already connected\n"),
    # messages
    (["msg", "netflow:", "bogus"], E + "Function not implemented\n"),
    (["msg", "netflow:", "show"], E + "Function not implemented\n"),
    (["msg", "netflow:", "settimeouts", "{", "foo=1", "}"], E + "No such file or directory\n"),
    (["msg", "netflow:", "settimeouts", "{", "active=1", "active=2", "}"],
     E + "Operation already in progress\n"),
    (["msg", "netflow:", "settimeouts", "inactive=1"], E + "Invalid argument\n"),
    (["msg", "netflow:", "settimeouts", "{", "inactive", "1", "}"], E + "Invalid argument\n"),
    (["msg", "netflow:", "settimeouts", "{", "inactive=1"], E + "Invalid argument\n"),
    (["msg", "netflow:", "settimeouts"], E + "Invalid argument\n"),
    (["msg", "netflow:", "setconfig", "{", "iface=65536", "}"], E + "Invalid argument\n"),
    (["msg", "netflow:", "setconfig", "{", "iface=65535", "}"], E + "Invalid argument\n"),
    (["msg", "netflow:", "setdlt", "{", "iface=3", "dlt=12", "}"], E + "Invalid argument\n"),
    (["msg", "netflow:", "setdlt", "{", "iface=0", "dlt=7", "}"], E + "Invalid argument\n"),
    (["msg", "netflow:", "setifindex", "{", "iface=3", "index=5", "}"], E + "Invalid argument\n"),
    (["msg", "netflow:", "ifinfo", "3"], E + "Invalid argument\n"),
    (["msg", "netflow:", "ifinfo"], E + "Invalid argument\n"),
    (["msg", "netflow:", "setmtu", "{", "mtu=23", "}"], E + "Invalid argument\n"),
    (["msg", "netflow:", "setmtu", "{", "mtu=16385", "}"], E + "Invalid argument\n"),
    (["msg", "nfsock:", "getpeername"], E + "Socket is not connected\n"),
    (["msg", "nfsock:", "connect", "inet/1.2.3"], E + "Invalid argument\n"),
    (["msg", "nfsock:", "connect", "inet/1.2.3.256:1"], E + "Invalid argument\n"),
    (["msg", "nfsock:", "connect", "somehost:2055"], E + "Invalid argument\n"),
    # command words
    (["s", "em0:"], 'ngctl: "s": ambiguous command\n'),
    (["sh", "em0:"], 'ngctl: "sh": ambiguous command\n'),
    (["c"], 'ngctl: "c": ambiguous command\n'),
    (["con"], 'ngctl: "con": ambiguous command\n'),
    (["d"], 'ngctl: "d": ambiguous command\n'),
    (["m"], 'ngctl: "m": ambiguous command\n'),
    (["r"], 'ngctl: "r": ambiguous command\n'),
    (["bogus"], 'ngctl: "bogus": unknown command\n'),
    (["#"], 'ngctl: "#": unknown command\n'),
]


@pytest.mark.parametrize("argv,stderr", ERROR_ROWS, ids=[" ".join(a) for a, _ in ERROR_ROWS])
def test_error_rows(host, argv, stderr):
    before = _graph(host)
    r = host.ngctl(*argv)
    assert (r.returncode, r.stdout, r.stderr) == (71, "", stderr)
    assert _graph(host) == before  # nothing changed


def _graph(host: Host) -> dict:
    st = host.state()
    return {n["id"]: (n["name"], n["hooks"], n["priv"]) for n in st["nodes"].values()
            if n["type"] != "socket"}


def test_ksocket_tcp_connect_in_progress(host):
    assert host.ngctl("mkpeer", "em1:", "ksocket", "lower", "inet/stream/tcp").returncode == 0
    r = host.ngctl("msg", "em1:lower", "connect", "inet/10.0.0.1:80")
    assert (r.returncode, r.stderr) == (71, E + "Operation now in progress\n")


def test_failed_mkpeer_uses_an_id(host):
    before = host.state()["next_id"]
    assert host.ngctl("mkpeer", "em1:", "netflow", "lower", "foo").returncode == 71
    # one ID for ngctl's socket node, one for the netflow node created and destroyed
    assert host.state()["next_id"] == before + 2
    assert host.ngctl("mkpeer", "nosuch:", "netflow", "lower", "iface0").returncode == 71
    assert host.state()["next_id"] == before + 3  # path failed before node creation


def test_mkpeer_autoloads_even_when_path_fails(tmp_path):
    h = Host.create(str(tmp_path / "x"), ifaces=("em0",), loaded=("ng_ether",))
    assert h.kldstat("-q", "-m", "ng_one2many").returncode == 1
    assert h.ngctl("mkpeer", "nosuch:", "one2many", "a", "one").returncode == 71
    assert h.kldstat("-q", "-m", "ng_one2many").returncode == 0


@pytest.mark.parametrize("argv,usage", [
    (["mkpeer"], "mkpeer [path] <type> <hook> <peerhook>"),
    (["mkpeer", "a", "b"], "mkpeer [path] <type> <hook> <peerhook>"),
    (["connect", "a"], "connect [path] <relpath> <hook> <peerhook>"),
    (["name", "a:"], "name <path> <name>"),
    (["rmhook"], "rmhook [path] <hook>"),
    (["shutdown"], "shutdown <path>"),
    (["show"], "show [-n] <path>"),
    (["show", "-x", "a:"], "show [-n] <path>"),
    (["list", "x"], "list [-ln]"),
    (["list", "-z"], "list [-ln]"),
    (["msg", "a:"], "msg path command [args ... ]"),
    (["types", "x"], "types"),
    (["status"], "status <path>"),
    (["config"], "config <path> [arguments]"),
    (["dot", "a", "b"], "dot [outputfile]"),
    (["help", "a", "b"], "help [command]"),
    (["read"], "read <filename>"),
    (["quit", "x"], "quit"),
])
def test_usage_errors(host, argv, usage):
    r = host.ngctl(*argv)
    assert (r.returncode, r.stdout, r.stderr) == (64, "", "ngctl: usage: %s\n" % usage)


@pytest.mark.parametrize("word", ["ls", "LIST", "l", "Li"])
def test_prefix_and_alias_matching(host, word):
    r = host.ngctl(word)
    assert r.returncode == 0 and r.stdout.startswith("There are ")


@pytest.mark.parametrize("word", ["info", "inquire", "i", "SHOW", "sho"])
def test_show_aliases(host, word):
    r = host.ngctl(word, "-n", "em1:")
    assert r.stdout == "  Name: em1             Type: ether           ID: 00000002   Num hooks: 0\n"


def test_show_via_hook_path_and_id(host):
    a = host.ngctl("show", "em0:lower").stdout
    b = host.ngctl("show", "[5]:").stdout
    c = host.ngctl("show", "[00000005]:").stdout
    d = host.ngctl("show", "netflow:export9.inet/dgram/udp").stdout
    assert a == b == c == d and a.startswith("  Name: netflow ")
    assert host.ngctl("show", "em0:lower.").stdout == a


def test_rmhook_missing_hook_is_success(host):
    r = host.ngctl("rmhook", "em1:", "nohook")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_status_and_config(host):
    r = host.ngctl("status", "netflow:")
    assert (r.returncode, r.stdout) == (0, 'No status available for "netflow:"\n')
    r = host.ngctl("config", "em0:", "x")
    assert (r.returncode, r.stdout) == (0, 'No config available for "em0:"\n')
    r = host.ngctl("status", "nosuch:")
    assert (r.returncode, r.stderr) == (71, E + "No such file or directory\n")


def test_no_command_and_bad_options(host):
    usage = "usage: ngctl [-j jail] [-d] [-f filename] [-n nodename] [command [argument ...]]\n"
    r = host.ngctl()
    assert (r.returncode, r.stderr) == (64, "ngctl: no command specified\n" + usage)
    r = host.ngctl("-x", "list")
    assert (r.returncode, r.stderr) == (64, "ngctl: illegal option -- x\n" + usage)
    r = host.ngctl("-f")
    assert (r.returncode, r.stderr) == (64, "ngctl: option requires an argument -- f\n" + usage)


def test_f_missing_file_exit_66(host):
    before = host.state()["next_id"]
    r = host.ngctl("-f", "/nonexistent/x")
    assert (r.returncode, r.stderr) == (66, "ngctl: /nonexistent/x: No such file or directory\n")
    assert host.state()["next_id"] == before  # fails before the socket node exists


def test_n_names_socket_node_and_collisions(host):
    r = host.ngctl("-n", "mysock", "show", ".")
    assert r.stdout == "  Name: mysock          Type: socket          ID: %08x   Num hooks: 0\n" % (
        host.state()["next_id"] - 1)
    r = host.ngctl("-n", "em0", "list")
    assert (r.returncode, r.stderr) == (71, "ngctl: can't create node: Address already in use\n")
    r = host.ngctl("-n", "a.b", "list")
    assert (r.returncode, r.stderr) == (71, "ngctl: can't create node: Invalid argument\n")


def test_command_line_wins_over_f(host, tmp_path):
    f = tmp_path / "cmds"
    f.write_text("shutdown netflow:\n")
    r = host.ngctl("-f", str(f), "show", "-n", "netflow:")
    assert r.returncode == 0 and "netflow" in r.stdout
    assert "netflow" in host.ngctl("list").stdout


def test_f_file_stops_at_first_error(host, tmp_path):
    f = tmp_path / "cmds"
    f.write_text("# comment\n\n   \nname em1: first\nmsg nosuch: info\nname first: second\n")
    r = host.ngctl("-f", str(f))
    assert (r.returncode, r.stdout) == (71, "")
    assert r.stderr == E + "No such file or directory\nngctl: line 5: error in file\n"
    names = host.ngctl("list", "-n").stdout
    assert "first" in names and "second" not in names  # no rollback, no later lines


def test_f_indented_comment_is_a_command(host):
    r = host.ngctl("-f", "-", stdin="list\n  # not a comment\n")
    assert r.returncode == 71
    assert r.stderr == 'ngctl: "#": unknown command\nngctl: line 2: error in file\n'


def test_f_usage_error_exit_64(host):
    r = host.ngctl("-f", "-", stdin="name em1:\n")
    assert (r.returncode, r.stderr) == (
        64, "ngctl: usage: name <path> <name>\nngctl: line 1: error in file\n")


def test_f_quotes_are_literal(host):
    r = host.ngctl("-f", "-", stdin="msg netflow: settimeouts '{ inactive=1 }'\n")
    assert r.stderr == E + "Invalid argument\nngctl: line 1: error in file\n"
    r = host.ngctl("msg", "netflow:", "settimeouts { inactive=1 active=2 }")  # argv: no split
    assert r.returncode == 0


def test_f_quit_reports_error_in_file_exit_0(host):
    r = host.ngctl("-f", "-", stdin="quit\nshutdown netflow:\n")
    assert (r.returncode, r.stderr) == (0, "ngctl: line 1: error in file\n")
    assert "netflow" in host.ngctl("list").stdout


def test_read_command(host, tmp_path):
    f = tmp_path / "inner"
    f.write_text("show -n em1:\nbogus\n")
    r = host.ngctl("-f", "-", stdin="read %s\nlist\n" % f)
    assert r.stdout.startswith("  Name: em1 ")
    assert r.stderr == ('ngctl: "bogus": unknown command\nngctl: line 2: error in file\n'
                        "ngctl: line 1: error in file\n")
    r = host.ngctl("source", "/nonexistent")
    assert (r.returncode, r.stderr) == (71, "ngctl: /nonexistent: No such file or directory\n")


def test_truncation_to_31_chars(host):
    long = "n" * 40
    assert host.ngctl("name", "em1:", long).returncode == 0
    assert ("  Name: %s Type: ether " % ("n" * 31)) in host.ngctl("list").stdout
    assert host.ngctl("show", "-n", "%s:" % ("n" * 31)).returncode == 0


def test_rename_releases_old_name(host):
    assert host.ngctl("name", "em1:", "wan").returncode == 0
    assert host.ngctl("show", "em1:").returncode == 71
    assert host.ngctl("name", "em0:", "em1").returncode == 0


def test_mkpeer_on_own_socket_node_is_cut_at_exit(host):
    r = host.ngctl("-f", "-", stdin="mkpeer . hub h x\nshow .\nlist\n")
    assert r.returncode == 0
    assert "  h               <unnamed>       hub          " in r.stdout
    assert "Type: hub" not in host.ngctl("list").stdout  # hub self-destructed at exit


def test_help_command(host):
    r = host.ngctl("help", "mkpeer")
    assert r.stdout.startswith("usage:    mkpeer [path] <type> <hook> <peerhook>\n"
                               "Summary:  Create and connect a new node to the node at \"path\"\n"
                               "Description:\n  ")
    r = host.ngctl("help", "ls")
    assert "Aliases:  ls\n" in r.stdout
    r = host.ngctl("?", "zz")
    assert (r.returncode, r.stderr) == (71, 'ngctl: "zz": unknown command\n')


def test_debug_and_write(host):
    assert host.ngctl("debug").stdout == "Current debug level is 0\n"
    r = host.ngctl("write", "nohook", "1", "2")
    assert (r.returncode, r.stderr) == (71, 'ngctl: writing to hook "nohook": Socket is not connected\n')


def test_dot_unwritable_file(host):
    r = host.ngctl("dot", "/nonexistent/dir/x.dot")
    assert r.returncode == 71
    assert r.stderr == "ngctl: Could not open /nonexistent/dir/x.dot for writing: No such file or directory\n"


# ----- ReadFile (reference §1.3): -f FILE and -f - are the same reader ------------------------

LONG = b"name em1: first" + b" " * (2047 - 15)  # exactly LINE_MAX - 1 bytes: one fgets
READFILE_CASES = {
    # name: (bytes of the batch, exit status, stderr, names that must exist, must not)
    "comments and blank lines are counted": (
        b"#@ salt-netgraph boot file\n# comment\n\n   \nname em1: first\n#@ lines: 3\n"
        b"msg nosuch: info\nname first: second\n",
        71, E + "No such file or directory\nngctl: line 7: error in file\n",
        {"first"}, {"second"}),
    "#@ lines are plain comments": (
        b"#@ salt-netgraph boot file v1\n#@ mkpeer em1: hub lower x\n#@\n#\n#name em1: x\n",
        0, "", {"em1"}, {"x"}),
    "indented #@ is an unknown command": (
        b"name em1: first\n  #@ header\nname first: second\n",
        71, 'ngctl: "#@": unknown command\nngctl: line 2: error in file\n',
        {"first"}, {"second"}),
    "stop at the first failing line, no rollback": (
        b"name em1: first\nname first: second\nshutdown nosuch:\nname second: third\n",
        71, "ngctl: shutdown: No such file or directory\nngctl: line 3: error in file\n",
        {"second"}, {"first", "third"}),
    "usage error is exit 64": (
        b"name em1: first\nname first:\n", 64,
        "ngctl: usage: name <path> <name>\nngctl: line 2: error in file\n", {"first"}, set()),
    "CRLF lines: CR is whitespace": (
        b"name em1: first\r\nname first: second\r\n", 0, "", {"second"}, {"first"}),
    "a lone CR is not a line end (fgets)": (
        b"name em1: first\rname first: second\n", 64,
        "ngctl: usage: name <path> <name>\nngctl: line 1: error in file\n", {"em1"}, {"first"}),
    "last line without newline runs": (
        b"name em1: first\nname first: second", 0, "", {"second"}, {"first"}),
    "LINE_MAX: an over-long line is two fgets lines": (
        LONG + b"#name first: x\nbogus\n", 71,
        'ngctl: "bogus": unknown command\nngctl: line 3: error in file\n', {"first"}, {"x"}),
    "NUL ends the line for strtok": (
        b"name em1: first\0 trailing junk\nname first: second\n", 0, "", {"second"}, {"first"}),
}


def _batch(host: Host, source: str, data: bytes, tmp_path) -> subprocess.CompletedProcess:
    if source == "file":
        path = tmp_path / "batch.ngctl"
        path.write_bytes(data)
        argv, stdin = ["-f", str(path)], b""
    else:
        argv, stdin = ["-f", "-"], data
    return subprocess.run([str(pathlib.Path(host.root) / "bin" / "ngctl"), *argv], input=stdin,
                          capture_output=True)


@pytest.mark.parametrize("source", ["file", "stdin"])
@pytest.mark.parametrize("case", sorted(READFILE_CASES))
def test_readfile_semantics(host, tmp_path, case, source):
    data, rc, stderr, present, absent = READFILE_CASES[case]
    r = _batch(host, source, data, tmp_path)
    assert (r.returncode, r.stdout, r.stderr.decode()) == (rc, b"", stderr)
    names = {n["name"] for n in host.state()["nodes"].values()}
    assert present <= names and not absent & names
    assert host.log()[-1]["script"] == data.decode()  # exactly what was read


def test_f_directory_is_an_empty_file(host, tmp_path):
    """fopen(dir, "r") succeeds; read(2) fails with EISDIR, which fgets reports as EOF."""
    r = host.ngctl("-f", str(tmp_path))
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
