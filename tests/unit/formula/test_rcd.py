"""The formula's rc.d script (formula/netflow/files/default/netflow.rc), run by `sh` on Linux.

The script stays a real FreeBSD rc.d script; the only thing replaced for the test is the
path of `/etc/rc.subr`, which points to FAKE_RC_SUBR below: a small stand-in that keeps
the parts of FreeBSD's rc.subr the script relies on (load_rc_config reading rc.conf.d,
checkyesno, warn, the rcvar gate with its "one" prefix, *_cmd dispatch). FreeBSD's
`sha256` (prints the hex digest of stdin) and `lockf` (`lockf -k -t SECONDS FILE CMD...`,
an flock(2)-style lock) are stand-ins over sha256sum and util-linux flock(1). The kernel
side is an ngsim host (`ROOT/bin/ngctl`, `kldload`, `kldstat`, `ipfw`), so the boot files
are replayed by the emulator's ngctl exactly as `ngctl -f` would replay them.

`rc_command()`, `write_standins()`, the boot scripts and `RcHost` live in tests/support/rcd.py,
shared with tests/functional/formula/test_formula.py and test_rcd_faults.py.
"""
from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
import sys
import time

import pytest

from netgraph_core import nf_boot

from tests.support.rcd import (
    LAN, RC_SCRIPT, TUN, RcHost, all_pass, executable, prepared_script,
    rc_command, rc_env,
)


@pytest.fixture
def host(tmp_path):
    h = RcHost(tmp_path)
    h.write("lan", LAN)
    h.write("tun", TUN)
    return h


def _argvs(entries: list[dict]) -> list[str]:
    return [" ".join([pathlib.Path(e["argv"][0]).name, *e["argv"][1:]]) for e in entries]


def _replayed(entries: list[dict], name: str) -> bool:
    return any(e["argv"][1:2] == ["-f"] and e["argv"][-1].endswith("/" + name) for e in entries)


# --------------------------------------------------------------------------------------
# Static checks
# --------------------------------------------------------------------------------------
def test_sh_n():
    proc = subprocess.run(["sh", "-n", str(RC_SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed (apt-get install shellcheck)")
def test_shellcheck():
    proc = subprocess.run(["shellcheck", "--shell=sh", str(RC_SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_rc_subr_header():
    text = RC_SCRIPT.read_text()
    lines = text.splitlines()
    assert lines[0] == "#!/bin/sh"
    assert "# PROVIDE: netflow" in lines
    require = next(line for line in lines if line.startswith("# REQUIRE:")).split()[2:]
    assert "FILESYSTEMS" in require and "netif" in require and "ipfw" in require
    assert "# BEFORE: NETWORKING" in lines
    assert "# KEYWORD: shutdown" in lines
    for needed in (". /etc/rc.subr", "name=netflow", "rcvar=netflow_enable", "load_rc_config $name", 'run_rc_command "$1"'):
        assert needed in lines, needed
    # rcorder reads the header up to the first non-comment line
    first_code = next(i for i, line in enumerate(lines) if line and not line.startswith("#"))
    assert lines.index("# PROVIDE: netflow") < first_code


def _unquoted_expansions(line: str) -> list[str]:
    """`$name` / `${name...}` expansions of netflow_* variables outside double quotes."""
    out, i, quoted = [], 0, False
    while i < len(line):
        c = line[i]
        if c == "\\":
            i += 2
            continue
        if c == "'" and not quoted:
            j = line.find("'", i + 1)
            i = len(line) if j < 0 else j + 1
            continue
        if c == '"':
            quoted = not quoted
        elif c == "$" and not quoted:
            m = re.match(r"\$\{?(netflow_\w+)", line[i:])
            if m:
                out.append(m[1])
        elif c == "#" and not quoted and (i == 0 or line[i - 1] in " \t"):
            break
        i += 1
    return out


def test_rc_conf_variables_always_quoted_nothing_evaluated():
    """Every rc.conf.d variable is used inside double quotes; no eval; `set -f` around
    the one deliberate word split (the ipfw argv of a #@ipfw line)."""
    text = RC_SCRIPT.read_text()
    code = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    bad = [(line, _unquoted_expansions(line)) for line in code if _unquoted_expansions(line)]
    assert not bad, bad
    assert not [line for line in code if re.search(r"(^|[\s;|&(])eval\b", line)]
    assert not [line for line in code if re.search(r"(^|[\s;|&(])\.\s+\"?\$", line)]  # no sourcing of data
    split = [i for i, line in enumerate(code) if "${_line}" in line and '"${netflow_ipfw}" -q ${_line}' in line]
    assert len(split) == 1
    assert code[split[0] - 1].strip() == "set -f" and code[split[0] + 1].strip() == "set +f"


def test_defaults_without_rc_conf(tmp_path):
    """Without rc.conf.d the service is disabled, and paths are FreeBSD's."""
    proc = rc_command("start", tmp_path / "missing", tmp_path / "rc")
    assert "Cannot 'start' netflow. Set netflow_enable to YES" in proc.stdout
    text = RC_SCRIPT.read_text()
    for default in (
        ': "${netflow_enable:=NO}"',
        ': "${netflow_boot_dir:=/usr/local/etc/netflow}"',
        ': "${netflow_ngctl:=/usr/sbin/ngctl}"',
        ': "${netflow_kldload:=/sbin/kldload}"',
        ': "${netflow_kldstat:=/sbin/kldstat}"',
        ': "${netflow_ipfw:=/sbin/ipfw}"',
        ': "${netflow_sha256:=/sbin/sha256}"',
        ': "${netflow_lockf:=/usr/bin/lockf}"',
        ': "${netflow_lock:=/var/run/netflow.lock}"',
        ': "${netflow_lock_timeout:=60}"',
        ': "${netflow_script:=/usr/local/etc/rc.d/netflow}"',
        ': "${netflow_timeout:=/usr/bin/timeout}"',
        ': "${netflow_spawn_timeout:=30}"',
    ):
        assert default in text


# --------------------------------------------------------------------------------------
# start
# --------------------------------------------------------------------------------------
def test_start_loads_modules_replays_files_and_adds_rules(host):
    assert all_pass(host)
    proc = host.rc("start")
    assert proc.returncode == 0, proc.stderr
    assert "Started netflow exporter lan." in proc.stdout and "Started netflow exporter tun." in proc.stdout
    log = host.log()
    calls = _argvs(log)
    # modules of each file in one kldload, before its replay; the ipfw rule after it
    lan_kld = calls.index("kldload -n netgraph ng_socket ng_ether ng_netflow ng_ksocket ng_one2many")
    lan_f = next(i for i, e in enumerate(log) if _replayed([e], "lan"))
    tun_f = next(i for i, e in enumerate(log) if _replayed([e], "tun"))
    assert lan_kld < lan_f
    assert "kldstat -q -m ipfw" in calls  # ng_ipfw only when the firewall is loaded
    add = calls.index("ipfw -q add 2100 ngtee 2000 ip from any to any via tun0")
    assert tun_f < add
    assert host.named() == {"em0": "ether", "em1": "ether", "em2": "ether", "em3": "ether", "vlan0_100": "ether",
                            "ipfw": "ipfw",
                            "lan_nf": "netflow", "lan_v9": "one2many", "lan_v9_0": "ksocket",
                            "lan_v9_1": "ksocket", "tun_nf": "netflow", "tun_v5": "ksocket"}
    assert any(r.startswith("02100 ngtee 2000") for r in host.ipfw_rules())
    assert all_pass(host)
    status = host.rc("status")
    assert status.returncode == 0 and status.stdout.splitlines() == [
        "netflow exporter lan is running (node lan_nf).", "netflow exporter tun is running (node tun_nf)."]


def test_start_never_loads_ipfw_on_a_host_without_firewall(tmp_path):
    """ipfw.ko denies all traffic by default: loading it at boot would cut the host off."""
    host = RcHost(tmp_path, firewall=False)
    host.write("lan", LAN)
    host.write("tun", TUN)
    proc = host.rc("start")
    calls = _argvs(host.log())
    assert not [c for c in calls if c.startswith("kldload") and ("ipfw" in c.split()[2:])]
    assert not [c for c in calls if c.startswith("kldload") and "ng_ipfw" in c.split()]
    assert "the ipfw firewall is not loaded" in proc.stderr
    # the ipfw-attached exporter fails to replay and is removed; the other one starts
    assert proc.returncode == 1
    assert "Started netflow exporter lan." in proc.stdout
    assert not [c for c in calls if c.startswith("ipfw -q add")]
    assert {n for n, t, _ in host.ours()} == {"lan_nf", "lan_v9", "lan_v9_0", "lan_v9_1"}
    assert all_pass(host)


def test_start_twice_does_not_rebuild(host):
    assert host.rc("start").returncode == 0
    host.clear_log()
    proc = host.rc("start")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("already running") == 2
    assert [e["argv"][0] for e in host.mutating()] == ["kldload", "kldload"]  # kldload -n: a no-op
    assert not [c for c in _argvs(host.log()) if " -f " in f" {c} " or c.startswith("ipfw -q add")]


def _cut(text: str, at: int) -> str:
    return text[:at]


REFUSED = {
    # file content -> the reason the script gives
    "truncated-mid-line": (lambda t: _cut(t, t.index("inet/192.0.2.10") + 9), "does not end with a newline"),
    "truncated-at-line": (lambda t: _cut(t, t.index("mkpeer lan_v9: ksocket many1")), "last line is not"),
    "marker-only-cut": (lambda t: _cut(t, len(t) - 10), "does not end with a newline"),
    "no-marker": (lambda t: t[: t.index("#@end")], "last line is not"),
    "count-wrong": (lambda t: t.replace("#@end 29 ", "#@end 28 "), "counts 28 lines but 29"),
    "count-octal": (lambda t: t.replace("#@end 29 ", "#@end 029 "), "bad line count"),
    "sum-wrong": (lambda t: t.replace("192.0.2.11:2055", "192.0.2.12:2055"), "checksum mismatch"),
    "line-added-before-end": (lambda t: t.replace("#@end", "shutdown em0:\n#@end"), "counts 29 lines but 30"),
    "trailing-space-in-marker": (lambda t: t[:-1] + " \n", "malformed"),
    "crlf": (lambda t: t.replace("\n", "\r\n"), "bad checksum field"),
    "other-exporter-header": (lambda t: t.replace("exporter lan:", "exporter wan:"), "checksum mismatch"),
    "empty": (lambda t: "", "empty"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_incomplete_or_edited_file_is_refused_before_any_line_runs(host, case):
    edit, why = REFUSED[case]
    path = host.boot_dir / "lan.ngctl"
    path.write_bytes(edit(path.read_text()).encode())
    proc = host.rc("start")
    assert proc.returncode != 0
    assert f"exporter lan not started: {path} is refused" in proc.stderr and why in proc.stderr, proc.stderr
    assert "Started netflow exporter tun." in proc.stdout  # the others start
    log = host.log()
    assert not _replayed(log, "lan")
    assert not [c for c in _argvs(log) if "ng_one2many" in c]  # not even its modules
    assert not [n for n, _, _ in host.ours() if n.startswith("lan")]
    assert all_pass(host)


def test_header_must_name_the_exporter_of_the_file(host):
    """A complete boot file of exporter lan renamed to wan.ngctl is not replayed as wan."""
    (host.boot_dir / "lan.ngctl").rename(host.boot_dir / "wan.ngctl")
    proc = host.rc("start")
    assert proc.returncode != 0 and "not the boot file header of exporter wan" in proc.stderr
    assert not _replayed(host.log(), "wan")


def test_old_three_file_format_is_not_read(host):
    (host.boot_dir / "lan.ngctl").write_text("".join(line + "\n" for line in LAN["ngctl"]))
    (host.boot_dir / "lan.modules").write_text("ng_hub\n")
    (host.boot_dir / "lan.ipfw").write_text("add 500 ngtee 500 ip from any to any via tun0\n")
    proc = host.rc("start")
    assert proc.returncode != 0 and "lan.ngctl is refused" in proc.stderr
    calls = _argvs(host.log())
    assert not [c for c in calls if "ng_hub" in c or "500" in c]
    assert not _replayed(host.log(), "lan")


def test_invalid_file_names_are_ignored(host):
    bad = host.boot_dir / "$(touch x).ngctl"
    bad.write_text(nf_boot.render("lan", LAN))
    proc = host.rc("start")
    assert proc.returncode != 0 and "is not an exporter name" in proc.stderr
    assert not (host.workdir / "x").exists() and not pathlib.Path("x").exists()
    assert "Started netflow exporter lan." in proc.stdout


def _forge(lines: list[str]) -> str:
    """A boot file with a valid marker that render() would never write."""
    body = "".join(line + "\n" for line in lines)
    import hashlib

    return body + f"#@end {len(lines)} {hashlib.sha256(body.encode()).hexdigest()}\n"


def test_nothing_read_from_a_boot_file_is_evaluated(host, tmp_path):
    """Even a file with a valid marker never has a word evaluated, globbed or run."""
    pwned = tmp_path / "PWNED"
    header = nf_boot.HEADER.format(name="lan")
    (tmp_path / "glob-me").write_text("")
    text = _forge([
        header,
        *[f"#@module {m}" for m in LAN["modules"]],
        f"#@module $(touch {pwned})",
        f"#@module `touch {pwned}`;ng_hub",
        f"#@ipfw add 2100 ngtee 2000 ip from any to any via tun0 $(touch {pwned})",
        "#@ipfw add 2101 ngtee 2000 ip from any to any via *",
        f"#@attach em0;touch {pwned}",
        *LAN["ngctl"],
    ])
    (host.boot_dir / "lan.ngctl").write_text(text)
    (host.boot_dir / "tun.ngctl").unlink()
    proc = subprocess.run(["sh", str(prepared_script(host.workdir)), "start"], capture_output=True, text=True,
                          env=rc_env(host.rc_conf, None), cwd=tmp_path, timeout=120)
    assert not pwned.exists()
    assert "ignoring module line" in proc.stderr and "malformed ipfw line" in proc.stderr
    calls = _argvs(host.log())
    assert not [c for c in calls if "ng_hub" in c or "glob-me" in c or c.startswith("ipfw -q add")]
    # the malformed ipfw line fails the start, and the replay is cleaned up
    assert proc.returncode != 0 and not host.ours() and all_pass(host)


# --------------------------------------------------------------------------------------
# a failing replay
# --------------------------------------------------------------------------------------
def _foreign(host: RcHost) -> set:
    """Nodes that are not ours and exist before our replay, so its cleanup must leave
    them: an exporter built by hand on em1 (netflow named foreign_nf, unnamed ksocket)."""
    script = "mkpeer em1: netflow lower iface0\nname em1:lower foreign_nf\nconnect em1: foreign_nf: upper out0\n" \
             "mkpeer foreign_nf: ksocket export9 inet/dgram/udp\n"
    proc = subprocess.run([str(host.root / "bin" / "ngctl"), "-f", "-"], input=script, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return {n for n in host.ours()}


def test_failed_replay_removes_exactly_what_it_created(tmp_path):
    host = RcHost(tmp_path)
    host.run_bin("kldload", "ng_ether", "ng_netflow", "ng_ksocket")
    lan = dict(LAN, ngctl=[line for line in LAN["ngctl"] if "em1" not in line], attach=["em0", "vlan0_100"])
    host.write("lan", lan)
    before = _foreign(host)
    host.clear_log()
    host.fail_at(2)  # `name em0:lower lan_nf`: an UNNAMED netflow node holds em0:lower
    proc = host.rc("start")
    assert proc.returncode != 0 and "ngctl -f" in proc.stderr and "removing what it created" in proc.stderr
    assert set(host.ours()) == before  # the foreign exporter and its unnamed ksocket survive
    assert all_pass(host)
    shut = [c for c in _argvs(host.log()) if c.startswith("ngctl shutdown")]
    assert len(shut) == 1 and shut[0].startswith("ngctl shutdown [")
    assert host.rc("start").returncode == 0 and {"lan_nf", "lan_v9_1"} <= set(host.named())


def test_failing_ipfw_add_removes_the_replay(host, tmp_path):
    real = host.root / "bin" / "ipfw"
    fails = '[ "$2" = add ] && { echo "ipfw: setsockopt(IP_FW_XADD): Invalid argument" >&2; exit 64; }'
    wrapper = executable(tmp_path / "ipfw-add-fails", f'#!/bin/sh\n{fails}\nexec "{real}" "$@"\n')
    host.configure(netflow_ipfw=str(wrapper))
    proc = host.rc("start")
    assert proc.returncode != 0 and "ipfw add 2100 ngtee 2000 ip from any to any via tun0 failed" in proc.stderr
    assert {n for n, _, _ in host.ours()} == {"lan_nf", "lan_v9", "lan_v9_0", "lan_v9_1"}
    assert not any("ngtee 2000" in r for r in host.ipfw_rules())
    assert all_pass(host)


# What "another program" (mpd5, a tunnel) builds while our replay runs: an unnamed netflow
# node on em3 (which no boot file attaches), an unnamed one2many and ksocket under it, and
# a named ksocket. All of a netflow-ish type, all new: none of them is ours.
ANOTHER_PROGRAM = """mkpeer em3: netflow lower iface0
connect em3: em3:lower upper out0
mkpeer em3:lower one2many export9 one
mkpeer em3:lower.export9 ksocket many0 inet/dgram/udp
mkpeer em3:lower ksocket export inet/dgram/udp
name em3:lower.export mpd99-ks
"""


def test_failed_replay_leaves_nodes_another_program_made_meanwhile(tmp_path):
    """Issue 19, class 4: the cleanup of a failed replay removes only what its own file
    creates (its names, or unnamed nodes at the places its mkpeer lines make), never a
    node merely because it is new and of type netflow/ksocket/one2many."""
    host = RcHost(tmp_path)
    host.write("lan", LAN)
    real = host.root / "bin" / "ngctl"
    wrapper = executable(tmp_path / "ngctl-with-neighbour", (
        '#!/bin/sh\n'
        f'"{real}" "$@"\nrc=$?\n'
        # between our failing batch and its cleanup, another program builds its graph
        f'[ "$1" = -f ] && printf \'%s\' \'{ANOTHER_PROGRAM}\' | "{real}" -f - >/dev/null\n'
        'exit $rc\n'))
    host.configure(netflow_ngctl=str(wrapper))
    host.fail_at(2)  # `name em0:lower lan_nf`: an UNNAMED netflow node of ours holds em0:lower
    proc = host.rc("start")
    assert proc.returncode != 0 and "removing what it created" in proc.stderr
    assert any(e["argv"][1:3] == ["-f", "-"] and "mpd99-ks" in (e.get("script") or "") for e in host.log())
    left = sorted((n, t) for n, t, _ in host.ours())
    assert left == [("<unnamed>", "ksocket"), ("<unnamed>", "netflow"), ("<unnamed>", "one2many"),
                    ("mpd99-ks", "ksocket")], left  # all of the other program's, none of ours
    assert all_pass(host)
    em0 = host.ngctl("show", "em0:").stdout
    assert "netflow" not in em0  # our unnamed node at em0:lower went


def test_an_ipfw_rule_number_held_by_a_foreign_rule_is_not_replaced(host):
    host.run_bin("ipfw", "-q", "add", "2100", "count", "ip", "from", "any", "to", "any")
    proc = host.rc("start")
    assert proc.returncode != 0 and "ipfw rule 2100 is not (only) an ngtee/netgraph rule" in proc.stderr
    assert "ipfw rule 2100 already exists and is not ours" in proc.stderr
    assert any(r.startswith("02100 count") for r in host.ipfw_rules())
    assert not [n for n, _, _ in host.ours() if n.startswith("tun")] and all_pass(host)


# --------------------------------------------------------------------------------------
# stop
# --------------------------------------------------------------------------------------
def test_stop_removes_only_nodes_ours_by_name_and_type(host):
    assert host.rc("start").returncode == 0
    host.clear_log()
    proc = host.rc("stop")
    assert proc.returncode == 0, proc.stderr
    assert "Stopped netflow exporter lan." in proc.stdout
    calls = _argvs(host.log())
    assert "ipfw -q delete 2100" in calls
    shut = [c for c in calls if c.startswith("ngctl shutdown")]
    assert all(re.fullmatch(r"ngctl shutdown \[[0-9a-f]+\]:", c) for c in shut)
    assert not host.ours() and all_pass(host)
    assert not any("ngtee" in r for r in host.ipfw_rules())
    # stopping again: every node is missing, which is not an error
    proc = host.rc("stop")
    assert proc.returncode == 0 and not [c for c in _argvs(host.log()) if "shutdown" in c or "delete" in c][len(shut) + 1:]


def test_stop_leaves_a_node_with_our_name_but_another_type(host):
    """A tee named lan_v9 (not a ksocket or one2many) and a count rule numbered 2100 are
    not ours, whatever the boot file says."""
    host.run_bin("kldload", "ng_ether", "ng_tee")
    host.ngctl("mkpeer", "em1:", "tee", "lower", "left")
    host.ngctl("name", "em1:lower", "lan_v9")
    host.ngctl("connect", "em1:", "lan_v9:", "upper", "right")
    host.run_bin("ipfw", "-q", "add", "2100", "count", "ip", "from", "any", "to", "any")
    host.clear_log()
    proc = host.rc("stop")
    assert proc.returncode == 0
    assert "node lan_v9 has type tee, not ksocket one2many: left alone" in proc.stderr
    assert "ipfw rule 2100 is not (only) an ngtee/netgraph rule into 2000: left in place" in proc.stderr
    assert host.named()["lan_v9"] == "tee" and any(r.startswith("02100 count") for r in host.ipfw_rules())
    assert not [e for e in host.mutating()]


def test_stop_removes_an_unnamed_netflow_node_a_killed_replay_left(host):
    """A replay killed between `mkpeer em0: netflow lower iface0` and `name` leaves em0
    blackholed by an unnamed netflow node; stop removes it (the file attaches em0), but
    not an unnamed netflow node on an interface the file does not attach."""
    host.run_bin("kldload", "ng_ether", "ng_netflow")
    host.ngctl("mkpeer", "em0:", "netflow", "lower", "iface0")  # what the killed replay did
    host.ngctl("mkpeer", "em3:", "netflow", "upper", "out0")  # someone else's: no boot file attaches em3
    assert host.links()["em0"] == "blackhole"
    proc = host.rc("stop")
    assert proc.returncode == 0
    assert "an unnamed netflow node" in proc.stderr and "holds em0:lower" in proc.stderr
    assert host.links()["em0"] == "pass"
    assert [t for n, t, _ in host.nodes() if n == "<unnamed>"] == ["netflow"]  # em3's stays
    assert host.links()["em3"] == "blackhole"


def _splice_tee(host: RcHost, iface: str, ether_hook: str, our_hook: str, tee_name: str) -> None:
    """Splice a tee (a tap another program added) between IFACE:ETHER_HOOK and our node:
    IFACE:ETHER_HOOK -> tee:right, tee:left -> lan_nf:OUR_HOOK."""
    host.ngctl("rmhook", f"{iface}:", ether_hook)
    host.ngctl("mkpeer", f"{iface}:", "tee", ether_hook, "right")
    host.ngctl("name", f"{iface}:{ether_hook}", tee_name)
    host.ngctl("connect", f"{tee_name}:", "lan_nf:", "left", our_hook)


def test_stop_rejoins_a_foreign_node_spliced_between_ether_and_ours(host):
    """Issue 19, class 2: with a tap spliced between ng_ether and our netflow node (on
    em0's lower side, and on em1's upper side), stop re-joins the foreign chain around the
    removed node: every interface passes and the taps stay."""
    assert host.rc("start").returncode == 0
    host.run_bin("kldload", "ng_tee")
    _splice_tee(host, "em0", "lower", "iface0", "tap0")
    _splice_tee(host, "em1", "upper", "out1", "tap1")
    assert all_pass(host)  # the spliced graph passes before stop
    proc = host.rc("stop")
    assert proc.returncode == 0, proc.stderr
    assert not host.ours()  # stop did run
    assert host.links()["em0"] == "pass" and host.links()["em1"] == "pass", host.links()
    assert all_pass(host)
    assert host.named()["tap0"] == "tee" and host.named()["tap1"] == "tee"
    show = host.ngctl("show", "tap0:").stdout
    assert re.search(r"left\s+em0\s+ether\s+\S+\s+upper", show) and re.search(r"right\s+em0\s+ether\s+\S+\s+lower", show)
    assert "re-joined" in proc.stderr and "tap0" in proc.stderr


def test_stop_of_an_incomplete_file_still_removes_nodes_ours_by_name_and_type(host):
    assert host.rc("start").returncode == 0
    path = host.boot_dir / "lan.ngctl"
    text = path.read_text()
    path.write_text(text[: text.index("name lan_v9:many1")])  # cut: lan_v9_1 is not named any more
    proc = host.rc("stop")
    assert "is not complete" in proc.stderr
    assert {n for n, _, _ in host.ours()} <= {"lan_v9_1"}  # gone with its one2many, or left
    assert all_pass(host)


def test_start_cleans_what_a_killed_replay_left_then_builds(host):
    host.run_bin("kldload", "ng_ether", "ng_netflow")
    host.ngctl("mkpeer", "em0:", "netflow", "lower", "iface0")
    assert host.links()["em0"] == "blackhole"
    proc = host.rc("start")
    assert proc.returncode == 0, proc.stderr
    assert host.named()["lan_nf"] == "netflow" and all_pass(host)
    assert [t for n, t, _ in host.nodes() if n == "<unnamed>"] == []


def test_disabled_refuses_start_but_stop_and_status_still_work(host):
    """OPNsense 10652: after disabling the service, stop must still remove the nodes."""
    assert host.rc("start").returncode == 0
    host.configure(enable="NO")
    host.clear_log()
    proc = host.rc("start")
    assert "Cannot 'start' netflow" in proc.stdout
    assert not host.mutating()
    status = host.rc("status")
    assert "netflow exporter lan is running (node lan_nf)." in status.stdout and status.returncode == 0
    proc = host.rc("stop")
    assert "Cannot" not in proc.stdout and proc.returncode == 0
    assert not host.ours()
    assert host.rc("onestart").returncode == 0 and "lan_nf" in host.named()
    assert host.rc("faststop").returncode == 0 and not host.ours()


def test_status(host):
    proc = host.rc("status")
    assert proc.returncode == 1
    assert "netflow exporter lan is not running." in proc.stdout
    host.rc("start")
    proc = host.rc("status")
    assert proc.returncode == 0
    assert proc.stdout.splitlines() == [
        "netflow exporter lan is running (node lan_nf).",
        "netflow exporter tun is running (node tun_nf).",
    ]
    path = host.boot_dir / "tun.ngctl"
    path.write_text(path.read_text()[:-2])
    proc = host.rc("status")
    assert proc.returncode == 1 and "its boot file" in proc.stdout and "is refused" in proc.stdout


def test_no_boot_files(host):
    for f in host.boot_dir.iterdir():
        f.unlink()
    host.clear_log()
    assert host.rc("start").returncode == 0
    assert host.log() == []
    proc = host.rc("status")
    assert proc.returncode == 1 and "no exporters" in proc.stdout


# --------------------------------------------------------------------------------------
# the lock shared with Salt
# --------------------------------------------------------------------------------------
HOLDER = r"""
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.readline()  # hold until told
"""


class Holder:
    """Another process (as Salt's apply does with fcntl.flock) holding the lock."""

    def __init__(self, path: pathlib.Path):
        self.proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "locked"

    def release(self) -> None:
        self.proc.stdin.write("\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def test_start_waits_for_the_lock_then_runs(host):
    holder = Holder(host.lock)
    try:
        rc = host.rc_background("start")
        time.sleep(2.0)
        assert rc.poll() is None, "start did not wait for the lock"
        assert host.mutating() == [] and not host.ours()
    finally:
        holder.release()
    out, err = rc.communicate(timeout=120)
    assert rc.returncode == 0, err
    assert "Started netflow exporter lan." in out
    assert {"lan_nf", "tun_nf"} <= set(host.named())


def test_a_lock_held_past_the_timeout_fails_start_without_replaying(host):
    host.configure(netflow_lock_timeout="1")
    holder = Holder(host.lock)
    try:
        t0 = time.monotonic()
        proc = host.rc("start")
        waited = time.monotonic() - t0
    finally:
        holder.release()
    assert proc.returncode != 0
    assert "is held by another run" in proc.stderr and str(host.lock) in proc.stderr
    assert waited >= 1.0
    assert host.mutating() == [] and not host.ours()


def test_stop_takes_the_lock_too(host):
    assert host.rc("start").returncode == 0
    host.configure(netflow_lock_timeout="1")
    holder = Holder(host.lock)
    try:
        host.clear_log()
        proc = host.rc("stop")
    finally:
        holder.release()
    assert proc.returncode != 0 and "is held by another run" in proc.stderr
    assert host.mutating() == [] and "lan_nf" in host.named()
    assert host.rc("stop").returncode == 0 and not host.ours()


def test_internal_command_needs_the_lock_guard(host):
    proc = subprocess.run(["sh", str(prepared_script(host.workdir)), "_locked_start"], capture_output=True,
                          text=True, env=rc_env(host.rc_conf, None), timeout=60)
    assert proc.returncode == 64 and "internal" in proc.stderr
    assert host.log() == []


def test_sourced_by_etc_rc_re_runs_the_installed_script_under_the_lock(host):
    """/etc/rc's run_rc_script sources the script in a subshell ($0 is /etc/rc): the
    locked re-run then uses ${netflow_script}."""
    script = prepared_script(host.workdir)
    host.configure(netflow_script=str(script))
    wrapper = f'set -- start; . "{script}"'
    proc = subprocess.run(["sh", "-c", wrapper, "/etc/rc"], capture_output=True, text=True,
                          env=rc_env(host.rc_conf, None), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert {"lan_nf", "tun_nf"} <= set(host.named())


# --------------------------------------------------------------------------------------
# time bounds: a hung ngctl, kldload or ipfw cannot hang the boot
# --------------------------------------------------------------------------------------
HANGS = {
    # binary -> a stand-in that hangs where the real one would be stuck in the kernel
    "ngctl": (  # the replay runs its first line (our unnamed netflow node on em0:lower), then hangs
        '[ "$1" = -f ] && {{ grep -v "^#" "$2" | head -n 1 | "{real}" -f - >/dev/null; exec sleep 40; }}\n'
        'exec "{real}" "$@"\n'),
    "ipfw": '[ "$2" = add ] && exec sleep 40\nexec "{real}" "$@"\n',  # `ipfw -q add ...` after the replay
    "kldload": 'exec sleep 40\n',
}


@pytest.mark.parametrize("binary", sorted(HANGS))
def test_a_hung_binary_is_killed_and_the_start_cleaned_up(host, tmp_path, binary):
    """Every spawn runs under timeout(1) with netflow_spawn_timeout: a hung ngctl -f or
    ipfw add fails that exporter's start, which is cleaned up as a failed one is, and the
    warning names the binary that hung; a hung kldload only costs its bound."""
    (host.boot_dir / "lan.ngctl").unlink()  # tun alone: one exporter, attached to em2 and ipfw
    real = host.root / "bin" / binary
    (tmp_path / "hang").mkdir()
    stand_in = executable(tmp_path / "hang" / binary, "#!/bin/sh\n" + HANGS[binary].format(real=real))
    host.configure(**{f"netflow_{binary}": str(stand_in), "netflow_spawn_timeout": "2"})
    t0 = time.monotonic()
    proc = host.rc("start", timeout=30)
    took = time.monotonic() - t0
    assert f"{binary} " in proc.stderr and "did not finish within 2 s: killed" in proc.stderr, proc.stderr
    assert took < 25
    if binary == "kldload":  # the modules are not loaded: ng_netflow is missing, the replay fails
        assert "cannot load every kernel module" in proc.stderr
    if binary == "ngctl":
        assert any(e["argv"][1:3] == ["-f", "-"] and "mkpeer em2:" in (e.get("script") or "") for e in host.log())
    assert proc.returncode != 0 and "removing what" in proc.stderr
    assert not host.ours() and all_pass(host)
    assert not [r for r in host.ipfw_rules() if "ngtee" in r]
    host.configure()
    assert host.rc("start").returncode == 0 and "tun_nf" in host.named()


def test_a_hung_shutdown_fails_stop_naming_it(host, tmp_path):
    """A hung `ngctl shutdown` is killed after the bound (its warning is not swallowed
    with the binary's stderr), and stop does not claim the exporter stopped."""
    (host.boot_dir / "lan.ngctl").unlink()
    assert host.rc("start").returncode == 0
    real = host.root / "bin" / "ngctl"
    stand_in = executable(tmp_path / "ngctl", f'#!/bin/sh\n[ "$1" = shutdown ] && exec sleep 40\nexec "{real}" "$@"\n')
    host.configure(netflow_ngctl=str(stand_in), netflow_spawn_timeout="1")
    proc = host.rc("stop", timeout=30)
    assert re.search(r"ngctl shutdown \[[0-9a-f]+\]: did not finish within 1 s: killed", proc.stderr), proc.stderr
    assert proc.returncode != 0 and "exporter tun not completely stopped: ngctl hung" in proc.stderr
    assert "Stopped netflow exporter tun." not in proc.stdout
    host.configure()
    assert host.rc("stop").returncode == 0 and not host.ours() and all_pass(host)


@pytest.mark.parametrize("value", ["30s", "0", "-1", "1e3", "", "99999", "3 0"])
def test_spawn_timeout_must_be_a_number_of_seconds(host, value):
    host.configure(netflow_spawn_timeout=value)
    proc = host.rc("start")
    if value == "":  # unset: the default
        assert "netflow_spawn_timeout" not in proc.stderr
    else:
        assert f"netflow_spawn_timeout '{value}' is not a number of seconds (1-9999); using 30" in proc.stderr
    assert proc.returncode == 0 and {"lan_nf", "tun_nf"} <= set(host.named())


def test_without_timeout_nothing_runs(host, tmp_path):
    host.configure(netflow_timeout=str(tmp_path / "no-timeout"))
    proc = host.rc("start")
    assert proc.returncode != 0 and "(timeout(1)) is missing" in proc.stderr
    assert host.log() == []
