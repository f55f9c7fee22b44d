"""The formula's rc.d script (formula/netflow/files/netflow.rc), run by `sh` on Linux.

The script stays a real FreeBSD rc.d script; the only thing replaced for the test is the
path of `/etc/rc.subr`, which points to FAKE_RC_SUBR below: a small stand-in that keeps
the parts of FreeBSD's rc.subr the script relies on (load_rc_config reading rc.conf.d,
checkyesno, the rcvar gate with its "one" prefix, *_precmd/*_cmd dispatch). The binaries
are stubs that log their argv, so these tests run without ngsim; the functional formula
tests run the same script against an ngsim host.

`rc_command()` is also used by tests/functional/test_formula.py.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import stat
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
RC_SCRIPT = REPO / "formula" / "netflow" / "files" / "netflow.rc"

# Modelled on FreeBSD's /etc/rc.subr (run_rc_command, checkyesno, load_rc_config); only
# what rc.d/netflow uses. RC_CONF names the file load_rc_config reads (rc.conf.d/<name>).
FAKE_RC_SUBR = r'''
warn() { echo "${0##*/}: WARNING: $*" >&2; }
err() { _e=$1; shift; echo "${0##*/}: ERROR: $*" >&2; exit "$_e"; }
checkyesno()
{
	eval _value=\$${1}
	case $_value in
	[Yy][Ee][Ss]|[Tt][Rr][Uu][Ee]|[Oo][Nn]|1) return 0 ;;
	[Nn][Oo]|[Ff][Aa][Ll][Ss][Ee]|[Oo][Ff][Ff]|0) return 1 ;;
	*) warn "\$${1} is not set properly - see rc.conf(5)."; return 1 ;;
	esac
}
load_rc_config()
{
	if [ -n "${RC_CONF}" ] && [ -r "${RC_CONF}" ]; then
		. "${RC_CONF}"
	fi
}
run_rc_command()
{
	rc_arg=$1
	_rc_prefix=
	case "$rc_arg" in
	fast*) _rc_prefix=fast; rc_arg=${rc_arg#fast} ;;
	force*) _rc_prefix=force; rc_arg=${rc_arg#force} ;;
	one*) _rc_prefix=one; rc_arg=${rc_arg#one} ;;
	quiet*) _rc_prefix=quiet; rc_arg=${rc_arg#quiet} ;;
	esac
	# rc.subr: every command but "rcvar" (and "stop" of a daemon with a pid; this
	# script runs no daemon, so it has none) needs ${rcvar} YES unless prefixed "one".
	if [ -n "$rcvar" ] && [ "$rc_arg" != rcvar ] && [ "$_rc_prefix" != one ] && [ "$_rc_prefix" != force ]; then
		if ! checkyesno "$rcvar"; then
			echo "Cannot '${rc_arg}' $name. Set ${rcvar} to YES in /etc/rc.conf or use 'one${rc_arg}' instead of '${rc_arg}'."
			return 0
		fi
	fi
	case "$rc_arg" in
	restart)
		run_rc_command "${_rc_prefix}stop"
		run_rc_command "${_rc_prefix}start"
		return $?
		;;
	esac
	eval _cmd=\$${rc_arg}_cmd
	eval _precmd=\$${rc_arg}_precmd
	if [ -z "$_cmd" ]; then
		echo "Usage: $0 [fast|force|one|quiet](start|stop|restart|rcvar|status)" >&2
		return 1
	fi
	if [ -n "$_precmd" ]; then
		$_precmd || { warn "failed precmd routine for ${name}"; return 1; }
	fi
	$_cmd
}
'''


def rc_command(arg: str, rc_conf: pathlib.Path, workdir: pathlib.Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `rc.d/netflow ARG` under the fake rc.subr, reading rc.conf.d from RC_CONF."""
    workdir.mkdir(parents=True, exist_ok=True)
    subr = workdir / "rc.subr"
    subr.write_text(FAKE_RC_SUBR)
    text = RC_SCRIPT.read_text()
    assert text.count("\n. /etc/rc.subr\n") == 1
    script = workdir / "netflow"
    script.write_text(text.replace("\n. /etc/rc.subr\n", f"\n. {subr}\n"))
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "RC_CONF": str(rc_conf)}
    full_env.update(env or {})
    return subprocess.run(["sh", str(script), arg], capture_output=True, text=True, env=full_env, timeout=60)


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


# --------------------------------------------------------------------------------------
# Behaviour with stub binaries
# --------------------------------------------------------------------------------------
STUB_NGCTL = r'''#!/bin/sh
# stub ngctl: nodes named by `name` lines of -f files live in $NODES, one a line
echo "ngctl $*" >> "$STUB_LOG"
case "$1" in
-f)
	while read -r c p n r; do
		[ "$c" = name ] && echo "$n" >> "$NODES"
		[ "$c" = fail ] && { echo "ngctl: line 1: error in file" >&2; exit 71; }
		case "$c $p" in
		"mkpeer ipfw:"|"connect ipfw:")
			[ -f "$IPFW_LOADED" ] || { echo "ngctl: send msg: No such file or directory" >&2; exit 71; } ;;
		esac
	done < "$2"
	exit 0 ;;
show)
	grep -qx "${2%:}" "$NODES" 2>/dev/null && { echo "  Name: ${2%:}"; exit 0; }
	echo "ngctl: send msg: No such file or directory" >&2; exit 71 ;;
shutdown)
	if grep -qx "${2%:}" "$NODES" 2>/dev/null; then
		grep -vx "${2%:}" "$NODES" > "$NODES.new"; mv "$NODES.new" "$NODES"; exit 0
	fi
	echo "ngctl: shutdown: No such file or directory" >&2; exit 71 ;;
esac
exit 64
'''
STUB_LOGGER = '#!/bin/sh\necho "%s $*" >> "$STUB_LOG"\n'
# stub kldstat: `-q -m ipfw` answers from the $IPFW_LOADED marker file
STUB_KLDSTAT = '#!/bin/sh\necho "kldstat $*" >> "$STUB_LOG"\n[ -f "$IPFW_LOADED" ]\n'

LAN_NGCTL = """# netflow exporter lan
mkpeer em0: netflow lower iface0
name em0:lower lan_nf
connect em0: lan_nf: upper out0
mkpeer lan_nf: ksocket export9 inet/dgram/udp
name lan_nf:export9 lan_v9
msg lan_v9: connect inet/192.0.2.10:2055
"""
TUN_NGCTL = """mkpeer ipfw: netflow 1000 iface0
name ipfw:1000 tun_nf
mkpeer tun_nf: ksocket export inet/dgram/udp
name tun_nf:export tun_v5
"""


@pytest.fixture
def box(tmp_path):
    """A fake FreeBSD: stub binaries, a boot dir with two exporters, rc.conf.d/netflow."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "ngctl").write_text(STUB_NGCTL)
    for name in ("kldload", "ipfw"):
        (bindir / name).write_text(STUB_LOGGER % name)
    (bindir / "kldstat").write_text(STUB_KLDSTAT)
    ipfw_loaded = tmp_path / "ipfw_loaded"
    ipfw_loaded.write_text("")  # the firewall is set up (rc.d/ipfw ran before us)
    for f in bindir.iterdir():
        f.chmod(f.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    boot = tmp_path / "boot dir"  # a space, to prove the quoting
    boot.mkdir()
    (boot / "lan.ngctl").write_text(LAN_NGCTL)
    (boot / "lan.modules").write_text("netgraph\nng_socket\nng_ether\nng_netflow\nng_ksocket\n")
    (boot / "lan.ipfw").write_text("")
    (boot / "tun.ngctl").write_text(TUN_NGCTL)
    (boot / "tun.modules").write_text("netgraph\nng_socket\nng_netflow\nng_ksocket\nipfw\nng_ipfw\n")
    (boot / "tun.ipfw").write_text("add 1000 ngtee 1000 ip from any to any via tun0\n")
    conf = tmp_path / "rc.conf.d" / "netflow"
    conf.parent.mkdir()

    class Box:
        root = tmp_path
        log = tmp_path / "stub.log"
        nodes = tmp_path / "nodes"
        boot_dir = boot
        rc_conf = conf
        ipfw_marker = ipfw_loaded

        def configure(self, enable: str = "YES") -> None:
            conf.write_text(
                f'netflow_enable="{enable}"\nnetflow_boot_dir="{boot}"\n'
                f'netflow_ngctl="{bindir}/ngctl"\nnetflow_kldload="{bindir}/kldload"\n'
                f'netflow_kldstat="{bindir}/kldstat"\nnetflow_ipfw="{bindir}/ipfw"\n'
            )

        def run(self, arg: str) -> subprocess.CompletedProcess:
            env = {"STUB_LOG": str(self.log), "NODES": str(self.nodes), "IPFW_LOADED": str(ipfw_loaded)}
            return rc_command(arg, conf, tmp_path / "rc", env=env)

        def calls(self, clear: bool = True) -> list[str]:
            out = self.log.read_text().splitlines() if self.log.exists() else []
            if clear and self.log.exists():
                self.log.unlink()
            return out

        def live(self) -> list[str]:
            return self.nodes.read_text().split() if self.nodes.exists() else []

    b = Box()
    b.configure()
    return b


def test_start_loads_modules_replays_files_and_adds_rules(box):
    proc = box.run("start")
    assert proc.returncode == 0, proc.stderr
    calls = box.calls()
    b = box.boot_dir
    kld = [c for c in calls if c.startswith("kldload")]
    assert "kldstat -q -m ipfw" in calls  # ipfw only loaded when the firewall already is
    assert kld[:5] == [f"kldload -n {m}" for m in ("netgraph", "ng_socket", "ng_ether", "ng_netflow", "ng_ksocket")]
    assert "kldload -n ng_ipfw" in kld and len(kld) == 11  # every line of every .modules file
    # modules before any graph building; each exporter's file replayed once
    assert calls.index(f"ngctl -f {b}/lan.ngctl") > max(calls.index(k) for k in kld)
    assert f"ngctl -f {b}/tun.ngctl" in calls
    # the ipfw rule after its exporter's graph, deleted first so a restart never doubles it
    assert calls.index("ipfw delete 1000") < calls.index("ipfw add 1000 ngtee 1000 ip from any to any via tun0")
    assert calls.index(f"ngctl -f {b}/tun.ngctl") < calls.index("ipfw delete 1000")
    assert sorted(box.live()) == ["lan_nf", "lan_v9", "tun_nf", "tun_v5"]
    assert "Started netflow exporter lan." in proc.stdout


def test_start_never_loads_ipfw_on_a_host_without_firewall(box):
    """ipfw.ko denies all traffic by default: loading it at boot would cut the host off."""
    box.ipfw_marker.unlink()
    proc = box.run("start")
    calls = box.calls()
    assert not [c for c in calls if c in ("kldload -n ipfw", "kldload -n ng_ipfw")]
    assert "the ipfw firewall is not loaded" in proc.stderr
    # the ipfw-attached exporter fails to replay and is removed; the other one starts
    assert proc.returncode == 1
    assert "ngctl shutdown tun_nf:" in calls and not [c for c in calls if c.startswith("ipfw add")]
    assert sorted(box.live()) == ["lan_nf", "lan_v9"]


def test_start_twice_does_not_rebuild(box):
    box.run("start")
    box.calls()
    proc = box.run("start")
    assert proc.returncode == 0
    assert "already running" in proc.stdout
    assert not [c for c in box.calls() if c.startswith("ngctl -f") or c.startswith("ipfw add")]


def test_failed_replay_removes_that_exporters_nodes(box):
    (box.boot_dir / "lan.ngctl").write_text(LAN_NGCTL.replace("mkpeer lan_nf: ksocket", "fail\nmkpeer lan_nf: ksocket"))
    proc = box.run("start")
    assert proc.returncode != 0
    assert "lan" in proc.stderr and "failed" in proc.stderr
    assert "ngctl shutdown lan_nf:" in box.calls()
    assert sorted(box.live()) == ["tun_nf", "tun_v5"]  # the other exporter still started


def test_stop_shuts_down_only_named_nodes_and_deletes_rules(box):
    box.run("start")
    box.nodes.write_text(box.nodes.read_text() + "foreign_nf\n")
    box.calls()
    proc = box.run("stop")
    assert proc.returncode == 0, proc.stderr
    calls = box.calls()
    assert "ipfw delete 1000" in calls
    shut = [c for c in calls if c.startswith("ngctl shutdown")]
    assert shut == [f"ngctl shutdown {n}:" for n in ("lan_nf", "lan_v9", "tun_nf", "tun_v5")]
    assert box.live() == ["foreign_nf"]
    # stopping again: every node is missing, which is not an error
    assert box.run("stop").returncode == 0


def test_disabled_refuses_start_but_stop_and_status_still_work(box):
    """OPNsense 10652: after disabling the service, stop must still remove the nodes."""
    box.run("start")
    box.configure(enable="NO")
    box.calls()
    proc = box.run("start")
    assert "Cannot 'start' netflow" in proc.stdout
    assert not [c for c in box.calls() if c.startswith("ngctl -f")]
    status = box.run("status")
    assert "netflow exporter lan is running (node lan_nf)." in status.stdout and status.returncode == 0
    proc = box.run("stop")
    assert "Cannot" not in proc.stdout and proc.returncode == 0
    assert box.live() == []
    assert box.run("onestart").returncode == 0 and "lan_nf" in box.live()
    assert box.run("faststop").returncode == 0 and box.live() == []


def test_status(box):
    proc = box.run("status")
    assert proc.returncode == 1
    assert "netflow exporter lan is not running." in proc.stdout
    box.run("start")
    proc = box.run("status")
    assert proc.returncode == 0
    assert proc.stdout.splitlines() == [
        "netflow exporter lan is running (node lan_nf).",
        "netflow exporter tun is running (node tun_nf).",
    ]


def test_no_boot_files(box):
    for f in box.boot_dir.iterdir():
        f.unlink()
    assert box.run("start").returncode == 0
    assert box.calls() == []
    proc = box.run("status")
    assert proc.returncode == 1 and "no exporters" in proc.stdout


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
    ):
        assert default in text
